//! Resident memory of this process, split into anonymous and file-backed pages (Linux
//! `/proc/self/status`): mapped shards count as file pages, heap as anonymous.

use serde::Serialize;

/// Resident set of the process, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Resident {
    /// All resident pages (VmRSS).
    pub total: u64,
    /// Anonymous pages: heap, stacks (RssAnon).
    pub anon: u64,
    /// File-backed pages: mapped shards, the binary (RssFile + RssShmem).
    pub file: u64,
    /// Peak resident set so far (VmHWM).
    pub peak: u64,
}

/// The current resident set, or `None` where `/proc/self/status` does not exist.
pub fn resident() -> Option<Resident> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = text.lines().find(|l| l.starts_with(name))?;
        let kib: u64 = line[name.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kib * 1024)
    };
    Some(Resident {
        total: field("VmRSS:")?,
        anon: field("RssAnon:").unwrap_or(0),
        file: field("RssFile:").unwrap_or(0) + field("RssShmem:").unwrap_or(0),
        peak: field("VmHWM:").unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_touched_allocation_shows_in_anonymous_memory() {
        let Some(before) = super::resident() else {
            return; // not Linux
        };
        let v = vec![1u8; 64 << 20];
        let after = super::resident().unwrap();
        assert!(
            after.anon >= before.anon + (48 << 20),
            "{before:?} → {after:?}"
        );
        assert!(after.total >= after.anon);
        drop(v);
    }
}
