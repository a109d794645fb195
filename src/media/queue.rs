//! The one queue for ffmpeg in `serve` (issue 13, finding 6: 20 parallel thumbnail
//! requests for a clip that is no video ran 20 ffmpegs). The media stage (thumbnails after
//! capture) and the web interface (transcodes, thumbnails on request, exports) share it.
//!
//! - [`RUNNING`] job at a time (the box also captures and uploads). Web requests: at most
//!   [`WAITING`] more may wait; one beyond that is refused at once ([`Busy`], a 503) instead
//!   of piling up. The stage waits its turn as one more waiter ([`Queue::stage_slot`]).
//! - The video index (issue 15) is background work: [`Queue::background_slot`] starts it only
//!   when no request runs or waits, and it does not hold the requests' slot while it runs
//!   (a clip's decode can take minutes at nice 19): a playback or thumbnail request that
//!   comes meanwhile starts at once, beside the index's nice-19, idle-IO ffmpeg, which the
//!   kernel then gives the CPU last. One background job at a time.
//! - A clip ffmpeg could not read is remembered ([`Queue::failed`], bounded): asking again
//!   answers at once, without another ffmpeg.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// ffmpeg jobs running at once.
pub const RUNNING: usize = 1;
/// Requests waiting for a slot at most.
pub const WAITING: usize = 4;
/// Clips remembered as unreadable at most (the oldest is forgotten first).
pub const FAILED_MAX: usize = 10_000;

/// What a job made of a clip, for [`Queue::failed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Thumb,
    Play,
}

/// Too many jobs wait already, or the queue is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Busy {
    Full,
    Closed,
}

/// Clips ffmpeg failed on, bounded by [`FAILED_MAX`] (first in, first out). A restart
/// forgets them: a fixed ffmpeg gets another chance.
#[derive(Default)]
struct Failed {
    set: HashSet<(Kind, i64)>,
    order: VecDeque<(Kind, i64)>,
}

pub struct Queue {
    slots: Arc<Semaphore>,
    background: Arc<Semaphore>,
    waiting: AtomicUsize,
    failed: Mutex<Failed>,
}

impl Default for Queue {
    fn default() -> Self {
        Queue {
            slots: Arc::new(Semaphore::new(RUNNING)),
            background: Arc::new(Semaphore::new(1)),
            waiting: AtomicUsize::new(0),
            failed: Mutex::new(Failed::default()),
        }
    }
}

/// Counts a waiter for as long as it waits (also when its request is dropped meanwhile).
struct Waiter<'a>(&'a AtomicUsize);

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Queue {
    /// A slot for one ffmpeg of a request; [`Busy::Full`] when too many already wait.
    pub async fn slot(&self) -> Result<OwnedSemaphorePermit, Busy> {
        if let Ok(p) = self.slots.clone().try_acquire_owned() {
            return Ok(p);
        }
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= WAITING {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(Busy::Full);
        }
        let _w = Waiter(&self.waiting);
        self.slots.clone().acquire_owned().await.map_err(|_| Busy::Closed)
    }

    /// A slot for the media stage: it waits its turn (it is one waiter, not a crowd).
    pub async fn stage_slot(&self) -> Result<OwnedSemaphorePermit, Busy> {
        self.slots.clone().acquire_owned().await.map_err(|_| Busy::Closed)
    }

    /// A turn for background work (the index): waits until no request runs or waits, then
    /// holds only the background turn, so requests coming later never wait for it.
    pub async fn background_slot(&self) -> Result<OwnedSemaphorePermit, Busy> {
        let turn = self
            .background
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Busy::Closed)?;
        loop {
            // Wait for the requests' slot to be free (a request, or the thumbnail stage,
            // finishes first), then let it go again at once.
            drop(self.slots.clone().acquire_owned().await.map_err(|_| Busy::Closed)?);
            if self.waiting() == 0 {
                return Ok(turn);
            }
            tokio::task::yield_now().await;
        }
    }

    /// Requests waiting now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    pub fn failed(&self, kind: Kind, id: i64) -> bool {
        self.failed.lock().unwrap().set.contains(&(kind, id))
    }

    pub fn remember_failure(&self, kind: Kind, id: i64) {
        let mut f = self.failed.lock().unwrap();
        if f.set.insert((kind, id)) {
            f.order.push_back((kind, id));
            while f.order.len() > FAILED_MAX {
                if let Some(old) = f.order.pop_front() {
                    f.set.remove(&old);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waiters_are_bounded_and_failures_remembered_up_to_a_limit() {
        let j = Arc::new(Queue::default());
        let first = j.slot().await.unwrap();
        let mut waiting = Vec::new();
        for _ in 0..WAITING {
            let j = j.clone();
            waiting.push(tokio::spawn(async move { j.slot().await.map(drop).is_ok() }));
        }
        while j.waiting() < WAITING {
            tokio::task::yield_now().await;
        }
        assert_eq!(j.slot().await.unwrap_err(), Busy::Full);
        // The stage is not refused: it waits its turn behind the requests.
        let stage = {
            let j = j.clone();
            tokio::spawn(async move { j.stage_slot().await.map(drop).is_ok() })
        };
        drop(first);
        for w in waiting {
            assert!(w.await.unwrap(), "every waiter got its turn");
        }
        assert!(stage.await.unwrap(), "the stage got its turn");
        assert_eq!(j.waiting(), 0);

        for id in 0..(FAILED_MAX as i64 + 10) {
            j.remember_failure(Kind::Thumb, id);
        }
        assert!(!j.failed(Kind::Thumb, 0), "the oldest is forgotten");
        assert!(j.failed(Kind::Thumb, FAILED_MAX as i64 + 9));
        assert!(!j.failed(Kind::Play, FAILED_MAX as i64 + 9));
        assert_eq!(j.failed.lock().unwrap().set.len(), FAILED_MAX);
    }

    #[tokio::test(start_paused = true)]
    async fn background_work_starts_after_the_requests_and_never_makes_one_wait() {
        let j = Arc::new(Queue::default());
        // A request is running: the index waits for it.
        let req = j.slot().await.unwrap();
        let bg = {
            let j = j.clone();
            tokio::spawn(async move { j.background_slot().await.unwrap() })
        };
        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
        assert!(!bg.is_finished(), "the index does not start beside a running request");
        drop(req);
        let index = bg.await.unwrap();
        // The index is busy now: a playback request starts at once, twice over.
        for _ in 0..2 {
            let r = tokio::time::timeout(std::time::Duration::from_millis(1), j.slot()).await;
            assert!(r.is_ok_and(|p| p.is_ok()), "a request does not wait for the index");
        }
        // A second background job waits for the first.
        let second = {
            let j = j.clone();
            tokio::spawn(async move { j.background_slot().await.map(drop).is_ok() })
        };
        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
        assert!(!second.is_finished());
        drop(index);
        assert!(second.await.unwrap());
    }
}
