//! Bounded retries with exponential backoff and jitter.
//!
//! Jitter matters here: when a node's sshd restarts, every worker thread that
//! lost its session reconnects at once; spreading them avoids tripping sshd's
//! MaxStartups throttling.

use std::time::{Duration, Instant};

use rand::Rng;

/// Exponential backoff: `base * 2^attempt`, capped, each delay scaled by a random
/// factor in [0.5, 1.0].
#[derive(Debug, Clone)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
    attempt: u32,
}

impl Backoff {
    pub fn new(base: Duration, cap: Duration) -> Self {
        Backoff {
            base,
            cap,
            attempt: 0,
        }
    }

    /// The delay before the next attempt.
    pub fn next_delay(&mut self) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32.checked_shl(self.attempt.min(20)).unwrap_or(u32::MAX));
        self.attempt = self.attempt.saturating_add(1);
        let full = exp.min(self.cap);
        let factor: f64 = rand::rng().random_range(0.5..=1.0);
        full.mul_f64(factor)
    }
}

/// The outcome of [`retry`] when every attempt failed.
#[derive(Debug)]
pub struct RetryError<E> {
    pub last: E,
    pub attempts: u32,
    pub elapsed: Duration,
}

/// Calls `f` until it succeeds, it returns a non-retryable error (`retryable`
/// says which), `max_attempts` calls were made, or `deadline` has passed. `f`
/// receives the time left before the deadline so each attempt can bound itself.
pub fn retry<T, E>(
    max_attempts: u32,
    deadline: Instant,
    mut backoff: Backoff,
    retryable: impl Fn(&E) -> bool,
    mut f: impl FnMut(Duration) -> Result<T, E>,
) -> Result<T, RetryError<E>> {
    let start = Instant::now();
    let max_attempts = max_attempts.max(1);
    let mut attempts = 0;
    loop {
        attempts += 1;
        let left = deadline.saturating_duration_since(Instant::now());
        match f(left) {
            Ok(v) => return Ok(v),
            Err(e) => {
                let now = Instant::now();
                if !retryable(&e) || attempts >= max_attempts || now >= deadline {
                    return Err(RetryError {
                        last: e,
                        attempts,
                        elapsed: start.elapsed(),
                    });
                }
                let delay = backoff.next_delay().min(deadline - now);
                tracing::debug!(attempts, ?delay, "retrying");
                std::thread::sleep(delay);
                if Instant::now() >= deadline {
                    return Err(RetryError {
                        last: e,
                        attempts,
                        elapsed: start.elapsed(),
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(800));
        let d: Vec<_> = (0..8).map(|_| b.next_delay()).collect();
        assert!(d[0] >= Duration::from_millis(50) && d[0] <= Duration::from_millis(100));
        assert!(d[2] >= Duration::from_millis(200) && d[2] <= Duration::from_millis(400));
        for x in &d[3..] {
            assert!(*x <= Duration::from_millis(800));
            assert!(*x >= Duration::from_millis(400));
        }
    }

    #[test]
    fn stops_after_max_attempts() {
        let mut calls = 0;
        let r: Result<(), _> = retry(
            4,
            Instant::now() + Duration::from_secs(10),
            Backoff::new(Duration::from_millis(1), Duration::from_millis(2)),
            |_: &&str| true,
            |_| {
                calls += 1;
                Err("nope")
            },
        );
        let e = r.unwrap_err();
        assert_eq!(e.attempts, 4);
        assert_eq!(calls, 4);
    }

    #[test]
    fn non_retryable_stops_at_once() {
        let mut calls = 0;
        let r: Result<(), _> = retry(
            4,
            Instant::now() + Duration::from_secs(10),
            Backoff::new(Duration::from_millis(1), Duration::from_millis(2)),
            |e: &&str| *e != "fatal",
            |_| {
                calls += 1;
                Err("fatal")
            },
        );
        assert_eq!(r.unwrap_err().attempts, 1);
        assert_eq!(calls, 1);
    }

    #[test]
    fn deadline_bounds_attempts() {
        let start = Instant::now();
        let r: Result<(), _> = retry(
            1000,
            Instant::now() + Duration::from_millis(150),
            Backoff::new(Duration::from_millis(20), Duration::from_millis(40)),
            |_: &&str| true,
            |_| Err("nope"),
        );
        let e = r.unwrap_err();
        assert!(e.attempts < 1000);
        assert!(start.elapsed() < Duration::from_millis(400));
    }
}
