//! Jittered exponential backoff, as data: the writer asks it for the next delay.

use std::time::Duration;

/// Delays between connection attempts: `floor`, doubling per failure up to `ceiling`, each
/// multiplied by a random factor in [0.5, 1.0) so that many senders do not retry in step.
#[derive(Debug, Clone)]
pub struct Backoff {
    floor: Duration,
    ceiling: Duration,
    failures: u32,
    seed: u64,
}

impl Backoff {
    /// A backoff between `floor` and `ceiling`.
    pub fn new(floor: Duration, ceiling: Duration) -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9e37_79b9_7f4a_7c15)
            ^ u64::from(std::process::id());
        Backoff {
            floor,
            ceiling: ceiling.max(floor),
            failures: 0,
            seed: seed | 1,
        }
    }

    /// The delay before the next attempt, after one more failure.
    pub fn next_delay(&mut self) -> Duration {
        let exponent = self.failures.min(30);
        self.failures = self.failures.saturating_add(1);
        let full = self.floor.saturating_mul(1 << exponent).min(self.ceiling);
        // xorshift64: plenty for jitter.
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        let fraction = 0.5 + (self.seed >> 11) as f64 / (1u64 << 53) as f64 / 2.0;
        full.mul_f64(fraction)
    }

    /// Failures since the last success.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Starts over after a success.
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_to_the_ceiling_with_jitter() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        let delays: Vec<Duration> = (0..8).map(|_| b.next_delay()).collect();
        assert!(delays[0] >= Duration::from_millis(50) && delays[0] < Duration::from_millis(100));
        assert!(delays[2] >= Duration::from_millis(200) && delays[2] < Duration::from_millis(400));
        for d in &delays[4..] {
            assert!(
                *d >= Duration::from_millis(500) && *d < Duration::from_secs(1),
                "{d:?}"
            );
        }
        b.reset();
        assert!(b.next_delay() < Duration::from_millis(100));
    }
}
