//! `serve` watching itself: its resident memory, CPU, open files and threads, read from
//! `/proc` (proc(5)). The `/metrics` endpoint exports them as the standard `process_*`
//! metrics; a sampler in `serve` (its `selfwatch` worker) records them in the catalog every minute for `status`
//! (another process, which cannot see `serve`'s memory otherwise), and raises the
//! `resources` health problem when RSS or CPU stay above `[health]` limits.

use std::time::{Duration, Instant};

use crate::catalog::kv::JsonSlot;
use crate::catalog::Catalog;
use crate::config::{human_bytes, Config};
use serde::{Deserialize, Serialize};

/// The catalog key of the last sample (JSON [`Sample`]).
pub const KEY: JsonSlot<Sample> = JsonSlot::new("serve.usage");
/// The health probe the sampler sets when a limit is exceeded ("" when fine).
pub use crate::catalog::kv::RESOURCES_PROBE as PROBE;
/// How often `serve` samples itself.
pub const EVERY: Duration = Duration::from_secs(60);

/// A process's resource use at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usage {
    pub rss_bytes: u64,
    /// User + system CPU time since the process started.
    pub cpu_seconds: f64,
    pub threads: u64,
    /// Seconds since the Unix epoch.
    pub start_time: f64,
}

impl Usage {
    /// Reads `/proc/<pid>/stat` (`"self"` for this process).
    pub fn read(pid: &str) -> Option<Usage> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The command name may hold spaces and ')': fields resume after the last ')'.
        let rest: Vec<&str> = stat.get(stat.rfind(')')? + 2..)?.split(' ').collect();
        let field = |n: usize| rest.get(n - 3)?.parse::<u64>().ok();
        let (hz, page) = sysconf();
        let boot = boot_time()?;
        Some(Usage {
            cpu_seconds: (field(14)? + field(15)?) as f64 / hz,
            threads: field(20)?,
            start_time: boot + field(22)? as f64 / hz,
            rss_bytes: field(24)? * page,
        })
    }
}

/// Open file descriptors of this process (`/proc/self/fd`).
pub fn open_fds() -> Option<u64> {
    Some(std::fs::read_dir("/proc/self/fd").ok()?.count() as u64)
}

fn sysconf() -> (f64, u64) {
    // SAFETY: sysconf only reads configuration values.
    let (hz, page) = unsafe { (libc::sysconf(libc::_SC_CLK_TCK), libc::sysconf(libc::_SC_PAGESIZE)) };
    (
        if hz > 0 { hz as f64 } else { 100.0 },
        if page > 0 { page as u64 } else { 4096 },
    )
}

/// The boot time from `/proc/stat` (`btime`), in seconds since the epoch.
fn boot_time() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/stat").ok()?;
    s.lines().find_map(|l| l.strip_prefix("btime ")?.trim().parse().ok())
}

/// What `serve` records for `status`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Sample {
    pub pid: u32,
    pub at_ms: i64,
    pub rss_bytes: u64,
    /// Percent of one core over the last sampling period.
    pub cpu_percent: f64,
    pub cpu_seconds: f64,
    pub open_fds: u64,
    pub threads: u64,
    pub started_ms: i64,
}

impl Sample {
    /// The last sample, if the `serve` that wrote it is still running.
    pub fn current(cat: &Catalog, now_ms: i64) -> Option<Sample> {
        let s = cat.slot(&KEY).ok()??;
        let alive = Usage::read(&s.pid.to_string())
            .is_some_and(|u| (u.start_time * 1000.0 - s.started_ms as f64).abs() < 2000.0);
        (alive && now_ms - s.at_ms < 3 * EVERY.as_millis() as i64).then_some(s)
    }

    pub fn describe(&self) -> String {
        format!(
            "pid {}, RSS {}, CPU {:.1} % of a core over the last minute, {} open files, {} threads",
            self.pid,
            human_bytes(self.rss_bytes),
            self.cpu_percent,
            self.open_fds,
            self.threads
        )
    }
}

/// Tracks how long a value has stayed above its limit.
#[derive(Default)]
struct Over(Option<Instant>);

impl Over {
    /// Feeds one sample; true once it has been above the limit for `window`.
    fn update(&mut self, above: bool, now: Instant, window: Duration) -> bool {
        match (above, self.0) {
            (false, _) => {
                self.0 = None;
                false
            }
            (true, None) => {
                self.0 = Some(now);
                window.is_zero()
            }
            (true, Some(since)) => now.duration_since(since) >= window,
        }
    }
}

/// The sampler: each [`Sampler::pass`] (`serve`'s `selfwatch` worker, every [`EVERY`])
/// records a [`Sample`] and sets or clears the `resources` probe; [`clear`] when serve
/// stops, so `status` never shows a stopped serve.
pub struct Sampler {
    cfg: Config,
    rss_over: Over,
    cpu_over: Over,
    last: Option<(Instant, f64)>,
    /// Clear a leftover of an earlier run on the first sample.
    probe_set: bool,
}

impl Sampler {
    pub fn new(cfg: Config) -> Sampler {
        Sampler {
            cfg,
            rss_over: Over::default(),
            cpu_over: Over::default(),
            last: None,
            probe_set: true,
        }
    }

    /// One sample (blocking: `/proc` and the catalog).
    pub fn pass(&mut self, cat: &Catalog) -> anyhow::Result<()> {
        let h = &self.cfg.health;
        let window = Duration::from_secs(h.resource_minutes * 60);
        let now = Instant::now();
        let Some(u) = Usage::read("self") else {
            return Ok(());
        };
        let cpu_percent = match self.last {
            Some((t, c)) if now > t => (u.cpu_seconds - c) / now.duration_since(t).as_secs_f64() * 100.0,
            _ => 0.0,
        };
        self.last = Some((now, u.cpu_seconds));
        let sample = Sample {
            pid: std::process::id(),
            at_ms: jiff::Timestamp::now().as_millisecond(),
            rss_bytes: u.rss_bytes,
            cpu_percent,
            cpu_seconds: u.cpu_seconds,
            open_fds: open_fds().unwrap_or(0),
            threads: u.threads,
            started_ms: (u.start_time * 1000.0) as i64,
        };
        let mut problems = Vec::new();
        if self.rss_over.update(u.rss_bytes > h.max_rss.0, now, window) {
            problems.push(crate::msg!(
                "health.detail.rss",
                rss = human_bytes(u.rss_bytes),
                max = h.max_rss,
                min = h.resource_minutes
            ));
        }
        if self
            .cpu_over
            .update(cpu_percent > h.max_cpu_percent as f64, now, window)
        {
            problems.push(crate::msg!(
                "health.detail.cpu",
                pct = format!("{cpu_percent:.0}"),
                min = h.resource_minutes,
                max = h.max_cpu_percent
            ));
        }
        cat.set_slot(&KEY, &sample)?;
        if !problems.is_empty() || self.probe_set {
            // With their keys: each page and alert shows them in its language.
            cat.set_slot(&PROBE, &crate::msg::to_stored(&problems))?;
        }
        self.probe_set = !problems.is_empty();
        Ok(())
    }
}

/// Forgets the sample and the probe: serve has stopped.
pub fn clear(cat: &Catalog) {
    let _ = cat.clear_slot(&KEY);
    let _ = cat.clear_slot(&PROBE);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let u = Usage::read("self").unwrap();
        assert!(u.rss_bytes > 1 << 20, "{u:?}");
        assert!(u.threads >= 1);
        let now = jiff::Timestamp::now().as_second() as f64;
        assert!(u.start_time <= now + 1.0 && u.start_time > now - 86_400.0, "{u:?}");
        assert!(open_fds().unwrap() >= 3);
        assert!(Usage::read("0").is_none());
    }

    #[test]
    fn a_limit_counts_only_when_exceeded_for_the_whole_window() {
        let (mut o, t0, w) = (Over::default(), Instant::now(), Duration::from_secs(600));
        assert!(!o.update(true, t0, w));
        assert!(!o.update(true, t0 + Duration::from_secs(599), w));
        assert!(o.update(true, t0 + Duration::from_secs(600), w));
        assert!(!o.update(false, t0 + Duration::from_secs(601), w), "a dip resets it");
        assert!(!o.update(true, t0 + Duration::from_secs(602), w));
    }
}
