//! The web interface's one queue for ffmpeg: transcodes for playback, thumbnails made on
//! request and exports all take a slot here (issue 13, finding 6: 20 parallel thumbnail
//! requests for a clip that is no video ran 20 ffmpegs).
//!
//! - [`RUNNING`] job at a time (the box also captures and uploads), [`WAITING`] more may
//!   wait; a request beyond that is answered 503 at once instead of piling up.
//! - A job's ffmpeg is started with `kill_on_drop`, and its slot and child live in the
//!   request's future (or its response body): when the client goes away, the future or
//!   body is dropped, and ffmpeg is killed and its slot freed.
//! - A clip ffmpeg could not read is remembered ([`Failed`], bounded): asking again
//!   answers at once, without another ffmpeg.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::fail;

/// ffmpeg jobs running at once.
pub const RUNNING: usize = 1;
/// Requests waiting for a slot at most.
pub const WAITING: usize = 4;
/// Clips remembered as unreadable at most (the oldest is forgotten first).
pub const FAILED_MAX: usize = 10_000;

/// What a job made of a clip, for [`Failed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Thumb,
    Play,
}

/// Clips ffmpeg failed on, bounded by [`FAILED_MAX`] (first in, first out). A restart
/// forgets them: a fixed ffmpeg gets another chance.
#[derive(Default)]
struct Failed {
    set: HashSet<(Kind, i64)>,
    order: VecDeque<(Kind, i64)>,
}

pub struct Jobs {
    slots: Arc<Semaphore>,
    waiting: AtomicUsize,
    failed: Mutex<Failed>,
}

impl Default for Jobs {
    fn default() -> Self {
        Jobs {
            slots: Arc::new(Semaphore::new(RUNNING)),
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

impl Jobs {
    /// A slot for one ffmpeg; a 503 (with Retry-After) when too many already wait.
    pub async fn slot(&self) -> Result<OwnedSemaphorePermit, Response> {
        if let Ok(p) = self.slots.clone().try_acquire_owned() {
            return Ok(p);
        }
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= WAITING {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(busy());
        }
        let _w = Waiter(&self.waiting);
        self.slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| fail(StatusCode::SERVICE_UNAVAILABLE, "shutting down"))
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

fn busy() -> Response {
    let mut r = fail(
        StatusCode::SERVICE_UNAVAILABLE,
        "the server is busy converting other clips: try again in a few seconds",
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    r
}

/// `cmd` as a job's child: killed when dropped (its request went away).
pub fn job_command(cmd: std::process::Command) -> tokio::process::Command {
    let mut c = tokio::process::Command::from(cmd);
    c.kill_on_drop(true).stdin(std::process::Stdio::null());
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waiters_are_bounded_and_failures_remembered_up_to_a_limit() {
        let j = Arc::new(Jobs::default());
        let first = j.slot().await.unwrap();
        let mut waiting = Vec::new();
        for _ in 0..WAITING {
            let j = j.clone();
            waiting.push(tokio::spawn(async move { j.slot().await.map(drop).is_ok() }));
        }
        while j.waiting.load(Ordering::SeqCst) < WAITING {
            tokio::task::yield_now().await;
        }
        assert_eq!(j.slot().await.unwrap_err().status(), StatusCode::SERVICE_UNAVAILABLE);
        drop(first);
        for w in waiting {
            assert!(w.await.unwrap(), "every waiter got its turn");
        }
        assert_eq!(j.waiting.load(Ordering::SeqCst), 0);

        for id in 0..(FAILED_MAX as i64 + 10) {
            j.remember_failure(Kind::Thumb, id);
        }
        assert!(!j.failed(Kind::Thumb, 0), "the oldest is forgotten");
        assert!(j.failed(Kind::Thumb, FAILED_MAX as i64 + 9));
        assert!(!j.failed(Kind::Play, FAILED_MAX as i64 + 9));
        assert_eq!(j.failed.lock().unwrap().set.len(), FAILED_MAX);
    }
}
