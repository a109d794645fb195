//! Upload bandwidth limit, shared by all concurrent uploads, optionally by time of day.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::config::{TimeWindow, Upload};

pub struct RateLimiter {
    base: u64,
    /// (window, bytes/s), in the host's zone.
    windows: Vec<(TimeWindow, u64)>,
    next_free: Mutex<Instant>,
}

impl RateLimiter {
    pub fn new(cfg: &Upload) -> RateLimiter {
        let windows = cfg.bandwidth_schedule.iter().map(|w| (w.window(), w.limit.0)).collect();
        RateLimiter {
            base: cfg.bandwidth_limit.0,
            windows,
            next_free: Mutex::new(Instant::now()),
        }
    }

    /// Bytes per second allowed at `minute` after local midnight; 0 = unlimited.
    pub fn limit_at(&self, minute: u32) -> u64 {
        for (window, limit) in &self.windows {
            if window.contains(minute) {
                return *limit;
            }
        }
        self.base
    }

    pub fn is_unlimited(&self) -> bool {
        self.base == 0 && self.windows.iter().all(|w| w.1 == 0)
    }

    /// Waits until `n` more bytes may be sent.
    pub async fn acquire(&self, n: u64) {
        if self.is_unlimited() {
            return;
        }
        let now_local = jiff::Zoned::now();
        let limit = self.limit_at(now_local.hour() as u32 * 60 + now_local.minute() as u32);
        if limit == 0 {
            return;
        }
        let start = {
            let mut next = self.next_free.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let start = (*next).max(now);
            *next = start + Duration::from_secs_f64(n as f64 / limit as f64);
            start
        };
        tokio::time::sleep_until(start).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{BandwidthWindow, ByteSize};

    #[test]
    fn schedule_windows() {
        let cfg = Upload {
            bandwidth_limit: ByteSize(100),
            bandwidth_schedule: vec![
                BandwidthWindow {
                    from: "18:00".parse().unwrap(),
                    to: "23:00".parse().unwrap(),
                    limit: ByteSize(10),
                },
                BandwidthWindow {
                    from: "23:30".parse().unwrap(),
                    to: "06:00".parse().unwrap(),
                    limit: ByteSize(0),
                },
            ],
            ..Upload::default()
        };
        let l = RateLimiter::new(&cfg);
        assert_eq!(l.limit_at(12 * 60), 100);
        assert_eq!(l.limit_at(19 * 60), 10);
        assert_eq!(l.limit_at(23 * 60 + 45), 0);
        assert_eq!(l.limit_at(3 * 60), 0);
        assert_eq!(l.limit_at(6 * 60), 100);
    }

    #[tokio::test(start_paused = true)]
    async fn paces_bytes() {
        let cfg = Upload {
            bandwidth_limit: ByteSize(1000),
            ..Upload::default()
        };
        let l = RateLimiter::new(&cfg);
        let t0 = tokio::time::Instant::now();
        for _ in 0..5 {
            l.acquire(1000).await;
        }
        // Five seconds' worth of bytes: the fifth chunk may start after four seconds.
        assert!(t0.elapsed() >= Duration::from_secs(4), "{:?}", t0.elapsed());
    }
}
