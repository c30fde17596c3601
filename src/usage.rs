//! What this process has cost so far: CPU time and peak memory, for reports and benchmarks.
#![allow(unsafe_code)]

use std::time::Duration;

/// Resource usage of the whole process (every thread) at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// User plus system CPU time.
    pub cpu: Duration,
    /// The most resident memory the process has used, in bytes.
    pub peak_rss_bytes: u64,
}

impl Usage {
    /// Reads the process's usage now (`getrusage(RUSAGE_SELF)`).
    ///
    /// ```
    /// let usage = telemit::usage::Usage::now();
    /// assert!(usage.peak_rss_bytes > 0);
    /// ```
    pub fn now() -> Usage {
        // SAFETY: getrusage only writes into the struct it is given, which is plain data and
        // valid when zeroed; RUSAGE_SELF cannot fail.
        let usage = unsafe {
            let mut usage = std::mem::zeroed::<libc::rusage>();
            libc::getrusage(libc::RUSAGE_SELF, &mut usage);
            usage
        };
        let micros = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
        Usage {
            cpu: Duration::from_micros(micros(usage.ru_utime) + micros(usage.ru_stime)),
            // Linux reports ru_maxrss in KiB.
            peak_rss_bytes: usage.ru_maxrss as u64 * 1024,
        }
    }
}
