//! The process's own figures: resident memory from `/proc/self/status` (Linux), and the heap
//! from [`crate::heap_stats`] when a [`crate::CountingAllocator`] is installed.
//!
//! This is the one place in Redwood outside the pager's `io` module that reads a file, and it
//! reads only the kernel's view of this process.

use crate::heap::{HeapStats, heap_stats};

/// What the process uses, as far as this platform can tell.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct ProcessStats {
    /// Resident set size in bytes (`VmRSS`), or `None` where `/proc` is not available.
    pub rss_bytes: Option<u64>,
    /// The highest resident set size so far (`VmHWM`), or `None` where not available.
    pub rss_peak_bytes: Option<u64>,
    /// Heap figures, when the application installed a [`crate::CountingAllocator`].
    pub heap: Option<HeapStats>,
}

/// Reads the process's figures now.
///
/// ```
/// let process = redwood_telemetry::process_stats();
/// if cfg!(target_os = "linux") {
///     assert!(process.rss_bytes.unwrap() > 0);
///     assert!(process.rss_peak_bytes.unwrap() >= process.rss_bytes.unwrap());
/// }
/// ```
pub fn process_stats() -> ProcessStats {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    ProcessStats {
        rss_bytes: status_kib(&status, "VmRSS:").map(|kib| kib * 1024),
        rss_peak_bytes: status_kib(&status, "VmHWM:").map(|kib| kib * 1024),
        heap: heap_stats(),
    }
}

/// The machine's physical memory in bytes (`MemTotal` of `/proc/meminfo`), or `None` where
/// it cannot be read.
pub fn physical_memory_bytes() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    status_kib(&meminfo, "MemTotal:").map(|kib| kib * 1024)
}

/// The value of a `Name:   1234 kB` line of `/proc/self/status`, in KiB.
fn status_kib(status: &str, field: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with(field))?;
    let mut words = line[field.len()..].split_whitespace();
    let value = words.next()?.parse().ok()?;
    (words.next() == Some("kB")).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_parse_in_kib_and_reject_other_shapes() {
        let status = "Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\nThreads:\t3\nVmOdd:\t12 MB\n";
        assert_eq!(status_kib(status, "VmRSS:"), Some(1024));
        assert_eq!(status_kib(status, "VmHWM:"), Some(2048));
        assert_eq!(status_kib(status, "Threads:"), None); // no unit
        assert_eq!(status_kib(status, "VmOdd:"), None); // not kB
        assert_eq!(status_kib(status, "VmSwap:"), None); // absent
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn physical_memory_is_read_on_linux() {
        let bytes = physical_memory_bytes().expect("/proc/meminfo has MemTotal");
        assert!(bytes >= 64 << 20, "a machine running the tests has more than 64 MiB");
    }
}
