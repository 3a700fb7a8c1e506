//! x86-64 kernels.

use super::Kernel;

/// The best x86 kernel the CPU supports, if any beats the portable one.
pub fn best() -> Option<Kernel> {
    if std::arch::is_x86_feature_detected!("popcnt") {
        return Some(Kernel {
            name: "popcnt",
            distances: distances_popcnt,
        });
    }
    None
}

fn distances_popcnt(query: &[u64], codes: &[u64], out: &mut [u32]) {
    let words = query.len();
    assert_eq!(codes.len(), out.len() * words, "codes and output disagree");
    // SAFETY: this kernel is only returned by `best()` after `is_x86_feature_detected!`
    // confirmed the CPU has POPCNT, which is all `popcnt_loop` requires.
    unsafe { popcnt_loop(query, codes, out) }
}

/// The portable loop compiled with POPCNT enabled (without it `count_ones` is a software bit
/// count on x86-64-v1).
#[target_feature(enable = "popcnt")]
unsafe fn popcnt_loop(query: &[u64], codes: &[u64], out: &mut [u32]) {
    let words = query.len();
    for (d, code) in out.iter_mut().zip(codes.chunks_exact(words)) {
        *d = query
            .iter()
            .zip(code)
            .map(|(x, y)| (x ^ y).count_ones())
            .sum();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn popcnt_kernel_matches_portable() {
        let Some(kernel) = best() else { return };
        let mut state = 0x9e3779b97f4a7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for words in [1usize, 2, 8, 32] {
            for rows in [1usize, 7, 100] {
                let query: Vec<u64> = (0..words).map(|_| next()).collect();
                let mut codes: Vec<u64> = (0..words * rows).map(|_| next()).collect();
                codes[..words].iter_mut().for_each(|w| *w = 0);
                if rows > 1 {
                    codes[words..2 * words]
                        .iter_mut()
                        .for_each(|w| *w = u64::MAX);
                }
                let (mut a, mut b) = (vec![0u32; rows], vec![0u32; rows]);
                (kernel.distances)(&query, &codes, &mut a);
                crate::scan::distances_portable(&query, &codes, &mut b);
                assert_eq!(a, b, "words {words}, rows {rows}");
            }
        }
    }
}
