//! The inbox watcher's intake: which file-system events mean "something new may be here",
//! coalesced into a bounded set the watcher drains once per tick.
//!
//! Why this exists: notify 8's inotify backend watches every directory with
//! `IN_OPEN | IN_ATTRIB | IN_CREATE | IN_DELETE | IN_CLOSE_WRITE | IN_MODIFY | IN_MOVED_FROM |
//! IN_MOVED_TO` and no way to narrow the mask (notify-8.2.2 `src/inotify.rs`,
//! `add_single_watch`). Opening a directory to list it raises `IN_OPEN` on it, so a watcher
//! that answers a directory event by scanning the directory feeds itself forever; it burned
//! a core and, through an unbounded channel, grew without limit (issue 20). Here only events
//! that can announce new or changed content count, a path that changes a thousand times
//! between two ticks is one entry, and a storm larger than [`MAX_QUEUED`] paths, an
//! `IN_Q_OVERFLOW` or a notify error all turn into one flag: rescan the inbox.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use notify::event::{AccessKind, AccessMode, EventKind, ModifyKind};

/// The most distinct paths held between two ticks. Beyond it the intake stops remembering
/// paths and asks for a full rescan instead, which finds the same files from the disk.
/// (4096 paths of at most PATH_MAX bytes: a few MB in the very worst case, ~0.5 MB typically.)
pub const MAX_QUEUED: usize = 4096;

/// What an event asks of the watcher.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Interest {
    /// Nothing can have changed: opens, reads, closes without writing, and attribute
    /// changes (our own hard link into the vault raises `IN_ATTRIB` on every captured
    /// file; content changes always come with `IN_MODIFY` or `IN_CLOSE_WRITE`, and the
    /// periodic rescan catches anything else).
    Ignore,
    /// Look at these paths again: created, written, closed after writing, renamed, removed.
    Paths,
    /// The kernel or notify lost events: rescan everything.
    Rescan,
}

/// Decides what an event means for the inbox. Kept apart so rename handling can grow here.
pub fn classify(event: &notify::Event) -> Interest {
    if event.need_rescan() {
        return Interest::Rescan;
    }
    match event.kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => Interest::Paths,
        EventKind::Access(_) => Interest::Ignore,
        EventKind::Modify(ModifyKind::Metadata(_)) => Interest::Ignore,
        EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_) => Interest::Paths,
        // `Any` / `Other` carry nothing we can act on precisely; the paths are cheap to stat.
        EventKind::Any | EventKind::Other => Interest::Paths,
    }
}

#[derive(Default)]
struct Dirty {
    /// Paths to look at on the next tick. Bound: [`MAX_QUEUED`]; see there.
    paths: HashSet<PathBuf>,
    rescan: bool,
}

/// The set notify's thread fills and the watcher drains. Bounded (see [`MAX_QUEUED`]):
/// whatever the event rate, memory stays put and the cost is at most one rescan per tick.
#[derive(Default)]
pub struct Intake {
    dirty: Mutex<Dirty>,
    ready: Condvar,
}

impl Intake {
    /// notify's event handler: called on its thread for every event.
    pub fn push(&self, event: notify::Result<notify::Event>) {
        let interest = match &event {
            Ok(e) => classify(e),
            Err(e) => {
                tracing::warn!("file-system notification error: {e}; rescanning the inbox");
                Interest::Rescan
            }
        };
        if interest == Interest::Ignore {
            return;
        }
        let mut d = self.dirty.lock().unwrap_or_else(|p| p.into_inner());
        match (interest, event) {
            (Interest::Paths, Ok(e)) if !d.rescan => {
                for p in e.paths {
                    if d.paths.len() >= MAX_QUEUED {
                        // A storm: the rescan will see all of it; stop holding paths.
                        d.paths.clear();
                        d.rescan = true;
                        break;
                    }
                    d.paths.insert(p);
                }
            }
            (Interest::Paths, _) => {} // a rescan is already due and covers these paths
            _ => {
                d.paths.clear();
                d.rescan = true;
            }
        }
        self.ready.notify_one();
    }

    /// Waits up to `wait` for something to do, then takes it all: the paths to look at,
    /// and whether the whole inbox needs a rescan.
    pub fn take(&self, wait: Duration) -> (HashSet<PathBuf>, bool) {
        let mut d = self.dirty.lock().unwrap_or_else(|p| p.into_inner());
        if d.paths.is_empty() && !d.rescan && !wait.is_zero() {
            d = self
                .ready
                .wait_timeout(d, wait)
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
        let rescan = std::mem::take(&mut d.rescan);
        (std::mem::take(&mut d.paths), rescan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{CreateKind, DataChange, Flag, MetadataKind, RemoveKind, RenameMode};
    use notify::Event;

    fn ev(kind: EventKind, p: &str) -> Event {
        Event::new(kind).add_path(PathBuf::from(p))
    }

    #[test]
    fn opening_or_reading_a_directory_is_not_news() {
        // The event notify raises when a scan opens a folder: answering it was the busy loop.
        assert_eq!(
            classify(&ev(EventKind::Access(AccessKind::Open(AccessMode::Any)), "/in/d")),
            Interest::Ignore
        );
        assert_eq!(
            classify(&ev(EventKind::Access(AccessKind::Close(AccessMode::Read)), "/in/d")),
            Interest::Ignore
        );
        assert_eq!(
            classify(&ev(EventKind::Modify(ModifyKind::Metadata(MetadataKind::Any)), "/in/f")),
            Interest::Ignore
        );
    }

    #[test]
    fn writes_creates_renames_and_removals_are() {
        for kind in [
            EventKind::Create(CreateKind::File),
            EventKind::Create(CreateKind::Folder),
            EventKind::Modify(ModifyKind::Data(DataChange::Any)),
            EventKind::Modify(ModifyKind::Name(RenameMode::To)),
            EventKind::Modify(ModifyKind::Name(RenameMode::From)),
            EventKind::Access(AccessKind::Close(AccessMode::Write)),
            EventKind::Remove(RemoveKind::File),
        ] {
            assert_eq!(classify(&ev(kind, "/in/f")), Interest::Paths, "{kind:?}");
        }
        let overflow = Event::new(EventKind::Other).set_flag(Flag::Rescan);
        assert_eq!(classify(&overflow), Interest::Rescan);
    }

    #[test]
    fn repeated_events_coalesce_and_ignored_ones_do_not_wake() {
        let i = Intake::default();
        for _ in 0..10_000 {
            i.push(Ok(ev(
                EventKind::Modify(ModifyKind::Data(DataChange::Any)),
                "/in/growing",
            )));
            i.push(Ok(ev(EventKind::Access(AccessKind::Open(AccessMode::Any)), "/in/dir")));
        }
        let (paths, rescan) = i.take(Duration::ZERO);
        assert_eq!(paths, HashSet::from([PathBuf::from("/in/growing")]));
        assert!(!rescan);
        // Only ignored events since: nothing to do, and the wait is the caller's timeout.
        i.push(Ok(ev(EventKind::Access(AccessKind::Open(AccessMode::Any)), "/in/dir")));
        let (paths, rescan) = i.take(Duration::from_millis(1));
        assert!(paths.is_empty() && !rescan);
    }

    #[test]
    fn a_storm_or_an_overflow_becomes_one_rescan_not_growth() {
        let i = Intake::default();
        for n in 0..MAX_QUEUED * 3 {
            i.push(Ok(ev(EventKind::Create(CreateKind::File), &format!("/in/f{n}"))));
            assert!(i.dirty.lock().unwrap().paths.len() <= MAX_QUEUED);
        }
        let (paths, rescan) = i.take(Duration::ZERO);
        assert!(rescan, "a storm past the bound asks for a rescan");
        assert!(paths.is_empty(), "and holds no paths the rescan will find anyway");

        i.push(Ok(ev(EventKind::Create(CreateKind::File), "/in/a")));
        i.push(Ok(Event::new(EventKind::Other).set_flag(Flag::Rescan)));
        let (paths, rescan) = i.take(Duration::ZERO);
        assert!(rescan && paths.is_empty());
        i.push(Err(notify::Error::generic("boom")));
        assert!(
            i.take(Duration::ZERO).1,
            "a notify error means events may be lost: rescan"
        );
        assert_eq!(i.take(Duration::ZERO), (HashSet::new(), false), "taking empties it");
    }
}
