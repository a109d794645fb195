//! The inbox: the directory the SMB share exposes, watched for finished files.
//!
//! inotify (through `notify`) reports changes as they happen; a full scan at start-up and
//! every `capture.rescan_secs` is the safety net for anything it misses (event queue
//! overflow, files written while camvault was down). A file is complete once its size and
//! mtime have not changed for `capture.settle_secs`; a file whose mtime is already that
//! old when first seen is complete at once. Complete files go to [`crate::capture`].

pub mod layout;
pub mod mp4meta;
pub mod watch;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use jiff::Timestamp;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::capture::{Captured, Capturer, Stat};
use crate::catalog::Catalog;

/// One entry found by a scan.
pub struct Found {
    pub rel: PathBuf,
    pub stat: Stat,
}

/// What a scan saw besides regular files.
#[derive(Default, Debug)]
pub struct ScanNotes {
    pub symlinks: Vec<PathBuf>,
    pub other: Vec<PathBuf>,
    pub unreadable: Vec<(PathBuf, String)>,
}

/// Walks `dir` (inside `inbox`) without following symlinks.
pub fn scan(inbox: &Path, dir: &Path, found: &mut Vec<Found>, notes: &mut ScanNotes) {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let rd = match std::fs::read_dir(&d) {
            Ok(rd) => rd,
            Err(e) => {
                notes.unreadable.push((d.clone(), e.to_string()));
                continue;
            }
        };
        for entry in rd.flatten() {
            let path = entry.path();
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            let rel = path.strip_prefix(inbox).unwrap_or(&path).to_path_buf();
            if is_own(&rel) {
                continue;
            }
            let ft = meta.file_type();
            if ft.is_symlink() {
                notes.symlinks.push(rel);
            } else if ft.is_dir() {
                stack.push(path);
            } else if ft.is_file() {
                found.push(Found {
                    rel,
                    stat: Stat::of(&meta),
                });
            } else {
                notes.other.push(rel);
            }
        }
    }
}

/// camvault's own folder at the inbox root (the share check's probe files): never captured.
fn is_own(rel: &Path) -> bool {
    rel.components()
        .next()
        .is_some_and(|c| c.as_os_str() == crate::samba::PROBE_DIR)
}

/// Tracks files until they are complete.
pub struct Settler {
    settle: Duration,
    /// What the file looked like, since when, and whether we have seen it change.
    /// Bound: one entry per file in the inbox not yet captured (an entry goes when the file
    /// is captured, fails, or is gone), and never more than [`Settler::MAX_PENDING`]: past
    /// that, new files wait for a later rescan instead of growing the map.
    pending: HashMap<PathBuf, (Stat, Instant, bool)>,
}

impl Settler {
    pub fn new(settle: Duration) -> Settler {
        Settler {
            settle,
            pending: HashMap::new(),
        }
    }

    /// The most files followed at once: far more than a camera backfill produces between
    /// two rescans, ~20 MB of map in the worst case.
    pub const MAX_PENDING: usize = 100_000;

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Records what a file looks like now; a change restarts its quiet period.
    pub fn observe(&mut self, rel: PathBuf, stat: Stat, now: Instant) {
        let full = self.pending.len() >= Self::MAX_PENDING;
        match self.pending.get_mut(&rel) {
            Some((old, _, _)) if *old == stat => {}
            Some(entry) => *entry = (stat, now, true),
            None if full => {
                debug!(path = %rel.display(), "many files pending: this one waits for the next rescan");
            }
            None => {
                self.pending.insert(rel, (stat, now, false));
            }
        }
    }

    pub fn forget(&mut self, rel: &Path) {
        self.pending.remove(rel);
    }

    /// Files that have been quiet long enough: by our own observation, or, for a file
    /// not seen changing, by its mtime. A file seen growing always waits out `settle`
    /// itself: Samba may report a write time older than the last write.
    pub fn ready(&self, now: Instant, wall: Timestamp) -> Vec<PathBuf> {
        self.pending
            .iter()
            .filter(|(_, (stat, since, changed))| {
                now.duration_since(*since) >= self.settle || (!changed && old_enough(stat, wall, self.settle))
            })
            .map(|(p, _)| p.clone())
            .collect()
    }
}

/// The mtime alone shows the file has been quiet for `settle`.
pub fn old_enough(stat: &Stat, wall: Timestamp, settle: Duration) -> bool {
    let age_ns = wall.as_nanosecond() - stat.mtime_ns as i128;
    age_ns >= settle.as_nanos() as i128
}

/// Re-reads a pending file: `None` when it is gone or no longer a regular file.
fn restat(inbox: &Path, rel: &Path) -> Option<Stat> {
    let m = std::fs::symlink_metadata(inbox.join(rel)).ok()?;
    m.is_file().then(|| Stat::of(&m))
}

/// How long the idle watcher sleeps between looks at its intake: short enough that a stop
/// is noticed at once, long enough that an idle inbox costs nothing.
const IDLE_WAIT: Duration = Duration::from_secs(1);
/// The least time between two looks at the intake, so a file written in many small pieces
/// is one stat per look, not one per write.
const MIN_GAP: Duration = Duration::from_millis(100);

/// Watches the inbox and captures complete files until `stop`. Runs on its own thread:
/// scans and captures are blocking file-system work.
pub fn run_blocking(
    cap: Arc<Capturer>,
    catalog: Arc<Catalog>,
    wake: Arc<Notify>,
    stop: CancellationToken,
) -> Result<()> {
    use notify::{RecursiveMode, Watcher};
    let inbox = cap.inbox.clone();
    let settle = Duration::from_secs(cap.config.capture.settle_secs);
    let rescan_every = Duration::from_secs(cap.config.capture.rescan_secs);
    // notify's thread classifies and coalesces into this bounded set (see `watch`).
    let intake = Arc::new(watch::Intake::default());
    let mut watcher = {
        let intake = intake.clone();
        notify::recommended_watcher(move |ev| intake.push(ev)).context("cannot start file-system notifications")?
    };
    watcher.watch(&inbox, RecursiveMode::Recursive).with_context(|| {
        format!(
            "cannot watch inbox {}; does it exist and is it readable?",
            inbox.display()
        )
    })?;
    info!(inbox = %inbox.display(), settle_secs = settle.as_secs(), "watching the inbox");

    let mut settler = Settler::new(settle);
    let mut reported = ReportOnce::default();
    let mut last_scan: Option<Instant> = None;
    let tick = Duration::from_millis(250)
        .min(settle / 2)
        .max(Duration::from_millis(50));
    let mut next_tick = Instant::now();
    let mut last_take = Instant::now();
    while !stop.is_cancelled() {
        if last_scan.is_none_or(|t| t.elapsed() >= rescan_every) {
            let started = Instant::now();
            let (mut found, mut notes) = (Vec::new(), ScanNotes::default());
            scan(&inbox, &inbox, &mut found, &mut notes);
            let n = found.len();
            let now = Instant::now();
            for f in found {
                settler.observe(f.rel, f.stat, now);
            }
            report_notes(&notes, &mut reported);
            debug!(files = n, ms = started.elapsed().as_millis() as u64, "inbox scan");
            last_scan = Some(Instant::now());
        }
        // Files settling need the tick; an idle inbox only needs to notice events and `stop`.
        let wait = if settler.is_empty() {
            IDLE_WAIT
        } else {
            next_tick.saturating_duration_since(Instant::now())
        };
        std::thread::sleep(MIN_GAP.saturating_sub(last_take.elapsed()));
        let (paths, rescan) = intake.take(wait);
        last_take = Instant::now();
        if rescan {
            last_scan = None;
        }
        for path in paths {
            look_at(&inbox, &path, &mut settler, &mut reported);
        }
        if Instant::now() < next_tick {
            continue;
        }
        next_tick = Instant::now() + tick;
        let ready = settler.ready(Instant::now(), Timestamp::now());
        let mut added = 0;
        for rel in ready {
            // Re-check right before capture: the file may have changed since it was seen.
            match restat(&inbox, &rel) {
                None => {
                    settler.forget(&rel);
                    continue;
                }
                Some(now_stat) => {
                    let before = settler.pending.get(&rel).map(|(s, _, _)| *s);
                    if before != Some(now_stat) {
                        settler.observe(rel, now_stat, Instant::now());
                        continue;
                    }
                }
            }
            settler.forget(&rel);
            match cap.capture(&catalog, &rel, Timestamp::now()) {
                Ok(Captured::New(_)) => added += 1,
                Ok(Captured::Already | Captured::Followed(_) | Captured::Duplicate(_) | Captured::Deferred) => {}
                Ok(Captured::Vanished) => {
                    info!(path = %inbox.join(&rel).display(), "file vanished before capture (deleted or renamed by the client)")
                }
                Err(e) => {
                    // Retried at the next rescan (`capture.rescan_secs`), reported once.
                    if reported.first(&rel) {
                        warn!("cannot capture {}: {e:#}", inbox.join(&rel).display());
                    }
                }
            }
        }
        if added > 0 {
            wake.notify_one();
        }
    }
    Ok(())
}

/// Looks at one path an event named: a file is observed, a folder scanned (it may already
/// hold files written before its watch was added), anything gone forgotten.
fn look_at(inbox: &Path, path: &Path, settler: &mut Settler, reported: &mut ReportOnce) {
    let Ok(rel) = path.strip_prefix(inbox) else {
        return;
    };
    if is_own(rel) {
        return;
    }
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_file() => {
            tracing::trace!(path = %rel.display(), size = m.len(), "inbox event");
            settler.observe(rel.to_path_buf(), Stat::of(&m), Instant::now())
        }
        Ok(m) if m.is_dir() => {
            let (mut found, mut notes) = (Vec::new(), ScanNotes::default());
            scan(inbox, path, &mut found, &mut notes);
            for f in found {
                settler.observe(f.rel, f.stat, Instant::now());
            }
            report_notes(&notes, reported);
        }
        Ok(m) if m.file_type().is_symlink() => report_notes(
            &ScanNotes {
                symlinks: vec![rel.to_path_buf()],
                ..Default::default()
            },
            reported,
        ),
        _ => settler.forget(rel),
    }
}

/// Paths whose problem (a symlink, an unreadable folder, a failed capture) was already
/// logged, so a rescan every few minutes does not repeat it. Bound: [`ReportOnce::MAX`]
/// entries; when full it starts over, so at worst a problem is logged again after that
/// many other distinct ones.
#[derive(Default)]
struct ReportOnce(HashSet<PathBuf>);

impl ReportOnce {
    const MAX: usize = 10_000;

    /// True the first time `p` is reported.
    fn first(&mut self, p: &Path) -> bool {
        if self.0.contains(p) {
            return false;
        }
        if self.0.len() >= Self::MAX {
            self.0.clear();
        }
        self.0.insert(p.to_path_buf())
    }
}

fn report_notes(notes: &ScanNotes, reported: &mut ReportOnce) {
    for p in &notes.symlinks {
        if reported.first(p) {
            warn!(path = %p.display(), "symlink in the inbox: not followed, not archived");
        }
    }
    for p in &notes.other {
        if reported.first(p) {
            warn!(path = %p.display(), "not a regular file (device, socket or fifo): left alone");
        }
    }
    for (p, e) in &notes.unreadable {
        if reported.first(p) {
            warn!(path = %p.display(), "cannot read directory: {e}; give the camvault user read access");
        }
    }
}

/// Captures every file that is already complete, once; for `ingest --once`.
/// Returns (captured, already known, still being written, errors).
pub fn capture_all_complete(cap: &Capturer, catalog: &Catalog) -> (usize, usize, Vec<PathBuf>, Vec<(PathBuf, String)>) {
    let (mut found, mut notes) = (Vec::new(), ScanNotes::default());
    scan(&cap.inbox, &cap.inbox, &mut found, &mut notes);
    let settle = Duration::from_secs(cap.config.capture.settle_secs);
    let (mut new, mut known, mut growing, mut errors) = (0, 0, Vec::new(), Vec::new());
    let now = Timestamp::now();
    for f in found {
        if !old_enough(&f.stat, now, settle) {
            growing.push(f.rel);
            continue;
        }
        match cap.capture(catalog, &f.rel, now) {
            Ok(Captured::New(_)) => new += 1,
            Ok(Captured::Already | Captured::Followed(_) | Captured::Duplicate(_)) => known += 1,
            Ok(Captured::Deferred) => growing.push(f.rel),
            Ok(Captured::Vanished) => {
                info!(path = %cap.inbox.join(&f.rel).display(), "file vanished before capture")
            }
            Err(e) => errors.push((f.rel, format!("{e:#}"))),
        }
    }
    for p in notes.symlinks {
        warn!(path = %cap.inbox.join(&p).display(), "symlink in the inbox: not followed, not archived");
    }
    for (p, e) in notes.unreadable {
        errors.push((p, format!("cannot read directory: {e}")));
    }
    (new, known, growing, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(size: u64, mtime_s: i64) -> Stat {
        Stat {
            size,
            mtime_ns: mtime_s * 1_000_000_000,
            dev: 1,
            ino: 2,
        }
    }

    #[test]
    fn settles_after_quiet_period() {
        let mut s = Settler::new(Duration::from_secs(10));
        let t0 = Instant::now();
        let wall: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let fresh = wall.as_second();
        s.observe("a".into(), st(1, fresh), t0);
        assert!(s.ready(t0 + Duration::from_secs(5), wall).is_empty());
        s.observe("a".into(), st(2, fresh), t0 + Duration::from_secs(5));
        assert!(
            s.ready(t0 + Duration::from_secs(11), wall).is_empty(),
            "growth restarts the clock"
        );
        assert_eq!(s.ready(t0 + Duration::from_secs(16), wall).len(), 1);
    }

    #[test]
    fn a_file_seen_growing_waits_even_with_an_old_mtime() {
        let mut s = Settler::new(Duration::from_secs(10));
        let wall: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let t0 = Instant::now();
        let stale = wall.as_second() - 3600;
        s.observe("a".into(), st(1, stale), t0);
        s.observe("a".into(), st(2, stale), t0 + Duration::from_secs(1));
        assert!(s.ready(t0 + Duration::from_secs(2), wall).is_empty());
        assert_eq!(s.ready(t0 + Duration::from_secs(11), wall).len(), 1);
    }

    #[test]
    fn old_mtime_is_complete_at_once() {
        let mut s = Settler::new(Duration::from_secs(120));
        let wall: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let t0 = Instant::now();
        s.observe("old".into(), st(1, wall.as_second() - 121), t0);
        s.observe("new".into(), st(1, wall.as_second() - 5), t0);
        assert_eq!(s.ready(t0, wall), vec![PathBuf::from("old")]);
    }
}
