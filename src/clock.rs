//! The time `serve`'s periodic jobs go by: the system clock, except in a time-accelerated
//! benchmark (bench/soak.sh with `SPEEDUP`).
//!
//! With `CAMVAULT_BENCH=1` and `CAMVAULT_BENCH_SPEEDUP=N` in the environment, [`now`] runs
//! N times faster than the system clock from the moment it is first asked, and [`period`]
//! shortens the hourly jobs' wait N times, so a one-hour soak runs a month of manifests,
//! catalog backups, scheduled verifications, tiering checks and drills. Both variables are
//! needed so a stray `CAMVAULT_BENCH_SPEEDUP` in a real installation changes nothing.

use std::sync::OnceLock;
use std::time::Duration;

use jiff::Timestamp;

/// The speed-up factor: 1 unless the benchmark variables are set (at most a million).
pub fn speedup() -> u32 {
    static S: OnceLock<u32> = OnceLock::new();
    *S.get_or_init(|| {
        if std::env::var("CAMVAULT_BENCH").as_deref() != Ok("1") {
            return 1;
        }
        let n = std::env::var("CAMVAULT_BENCH_SPEEDUP")
            .ok()
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(1)
            .clamp(1, 1_000_000);
        if n > 1 {
            tracing::warn!(
                "benchmark mode: the clock of the periodic jobs runs {n} times faster (CAMVAULT_BENCH_SPEEDUP)"
            );
        }
        n
    })
}

/// Now, by the (possibly accelerated) clock.
pub fn now() -> Timestamp {
    static START: OnceLock<Timestamp> = OnceLock::new();
    let real = Timestamp::now();
    let n = speedup();
    if n == 1 {
        return real;
    }
    let start = *START.get_or_init(|| real);
    let elapsed = real.as_millisecond() - start.as_millisecond();
    Timestamp::from_millisecond(start.as_millisecond() + elapsed * n as i64).unwrap_or(real)
}

/// `d` by the (possibly accelerated) clock, at least a second.
pub fn period(d: Duration) -> Duration {
    (d / speedup()).max(Duration::from_secs(1))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_real_clock_without_the_benchmark_switch() {
        // The test environment does not set CAMVAULT_BENCH.
        assert_eq!(super::speedup(), 1);
        let d = super::now().as_millisecond() - jiff::Timestamp::now().as_millisecond();
        assert!(d.abs() < 1000);
        assert_eq!(super::period(std::time::Duration::from_secs(3600)).as_secs(), 3600);
    }
}
