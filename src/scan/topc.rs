//! Top-C selection by (Hamming distance, global row) with a running threshold and a bounded
//! buffer: memory is `2·C` entries whatever the gallery size, and a row costs one compare
//! unless it beats the current C-th best.

/// The C best (distance, row) pairs seen so far, for rows offered in increasing row order.
#[derive(Debug, Clone)]
pub struct TopC {
    c: usize,
    threshold: u32,
    buf: Vec<(u32, u64)>,
}

impl TopC {
    /// Keeps the `c` best (at least 1).
    pub fn new(c: usize) -> Self {
        let c = c.max(1);
        Self {
            c,
            threshold: u32::MAX,
            buf: Vec::with_capacity(2 * c),
        }
    }

    /// Rows with a distance below this may enter; a later row at exactly the threshold loses
    /// the tie to the rows already kept (they have smaller row numbers).
    #[inline]
    pub fn threshold(&self) -> u32 {
        self.threshold
    }

    /// Offers a row with `distance < threshold()`; rows must come in increasing order.
    #[inline]
    pub fn push(&mut self, distance: u32, row: u64) {
        debug_assert!(distance < self.threshold);
        self.buf.push((distance, row));
        if self.buf.len() == 2 * self.c {
            self.shrink();
        }
    }

    /// Offers every row of `distances` (rows `first_row..`) that beats the threshold and that
    /// `live` accepts.
    #[inline]
    pub fn offer(&mut self, distances: &[u32], first_row: u64, live: impl Fn(usize) -> bool) {
        let mut t = self.threshold;
        // Groups of 8 are tested branch-free (vectorised); only a group holding a row below
        // the threshold is walked.
        let mut groups = distances.chunks_exact(8);
        let mut base = 0;
        for group in &mut groups {
            let g: &[u32; 8] = group.try_into().expect("8 distances");
            let mut any = false;
            for &d in g {
                any |= d < t;
            }
            if any {
                for (j, &d) in g.iter().enumerate() {
                    if d < t && live(base + j) {
                        self.push(d, first_row + (base + j) as u64);
                        t = self.threshold;
                    }
                }
            }
            base += 8;
        }
        for (j, &d) in groups.remainder().iter().enumerate() {
            if d < t && live(base + j) {
                self.push(d, first_row + (base + j) as u64);
                t = self.threshold;
            }
        }
    }

    fn shrink(&mut self) {
        if self.buf.len() > self.c {
            self.buf.select_nth_unstable(self.c - 1);
            self.buf.truncate(self.c);
        }
        if self.buf.len() == self.c {
            self.threshold = self.buf.iter().map(|e| e.0).max().unwrap_or(u32::MAX);
        }
    }

    /// The kept pairs, best first.
    pub fn into_sorted(self) -> Vec<(u32, u64)> {
        let mut v = self.into_unsorted();
        v.sort_unstable();
        v
    }

    /// The kept pairs (exactly the C best by (distance, row)), in no particular order.
    pub fn into_unsorted(mut self) -> Vec<(u32, u64)> {
        self.shrink();
        self.buf
    }
}

/// The `c` best of candidate lists from disjoint row ranges, in no particular order.
pub fn merge_best(mut parts: Vec<Vec<(u32, u64)>>, c: usize) -> Vec<(u32, u64)> {
    if parts.len() == 1 {
        let mut only = parts.pop().expect("one part");
        if only.len() <= c {
            return only;
        }
        parts.push(std::mem::take(&mut only));
    }
    let mut all: Vec<(u32, u64)> = parts.into_iter().flatten().collect();
    if all.len() > c && c > 0 {
        all.select_nth_unstable(c - 1);
        all.truncate(c);
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn equals_sorting_everything(ds in proptest::collection::vec(0u32..40, 0..600), c in 1usize..50, split in 0usize..600) {
            let mut all: Vec<(u32, u64)> = ds.iter().enumerate().map(|(i, &d)| (d, i as u64)).collect();
            all.sort_unstable();
            all.truncate(c);
            let mut top = TopC::new(c);
            top.offer(&ds, 0, |_| true);
            prop_assert_eq!(&top.into_sorted(), &all);
            // Two ranges selected apart, then merged: the same.
            let split = split.min(ds.len());
            let mut a = TopC::new(c);
            a.offer(&ds[..split], 0, |_| true);
            let mut b = TopC::new(c);
            b.offer(&ds[split..], split as u64, |_| true);
            let mut merged = merge_best(vec![b.into_unsorted(), a.into_unsorted()], c);
            merged.sort_unstable();
            prop_assert_eq!(merged, all);
        }
    }

    #[test]
    fn skips_rows_that_are_not_live() {
        let mut top = TopC::new(2);
        top.offer(&[1, 0, 5, 3], 10, |i| i != 1);
        assert_eq!(top.into_sorted(), vec![(1, 10), (3, 13)]);
    }
}
