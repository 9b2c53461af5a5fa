//! The process's memory, from Linux's `/proc`.
//!
//! Peak RSS per row: [`reset_peak_rss`] before the row (writing `5` to `/proc/self/clear_refs`
//! resets `VmHWM` to the current RSS, Linux 4.0 and later), [`peak_rss_bytes`] after it.

/// Resets the process's peak RSS to its current RSS. Returns false where the kernel does not
/// allow it; the peak then covers the worker's life so far.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The process's peak RSS (`VmHWM`) in bytes, or `None` off Linux.
pub fn peak_rss_bytes() -> Option<u64> {
    status_kib("VmHWM:").map(|kib| kib * 1024)
}

/// The process's current RSS (`VmRSS`) in bytes, or `None` off Linux.
pub fn rss_bytes() -> Option<u64> {
    status_kib("VmRSS:").map(|kib| kib * 1024)
}

fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with(field))?;
    line[field.len()..].trim().trim_end_matches("kB").trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peak_follows_an_allocation_and_resets() {
        let Some(before) = rss_bytes() else { return }; // not Linux
        let block = vec![1u8; 64 << 20];
        std::hint::black_box(&block);
        let peak = peak_rss_bytes().unwrap();
        assert!(peak >= before + (60 << 20), "peak {peak}, before {before}");
        drop(block);
        if reset_peak_rss() {
            let after = peak_rss_bytes().unwrap();
            assert!(after < peak, "reset peak {after} not below {peak}");
        }
    }
}
