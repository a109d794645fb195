//! The web interface's side of `serve`'s one ffmpeg queue ([`crate::media::queue`]):
//! transcodes for playback, thumbnails made on request and exports all take a slot there.
//!
//! - A request beyond the queue's waiters is answered 503 (with Retry-After) at once.
//! - A job's ffmpeg is started with `kill_on_drop`, and its slot and child live in the
//!   request's future (or its response body): when the client goes away, the future or
//!   body is dropped, and ffmpeg is killed and its slot freed.

use std::sync::Arc;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use tokio::sync::OwnedSemaphorePermit;

pub use crate::media::queue::Kind;
use crate::media::queue::{Busy, Queue};

/// The shared queue, with answers in HTTP.
pub struct Jobs(pub Arc<Queue>);

impl Jobs {
    /// A slot for one ffmpeg; a 503 (with Retry-After) when too many already wait.
    pub async fn slot(&self) -> Result<OwnedSemaphorePermit, Response> {
        self.0.slot().await.map_err(|b| match b {
            Busy::Full => busy(),
            Busy::Closed => super::fail_msg(StatusCode::SERVICE_UNAVAILABLE, crate::msg!("api.shutting_down")),
        })
    }

    pub fn failed(&self, kind: Kind, id: i64) -> bool {
        self.0.failed(kind, id)
    }

    pub fn remember_failure(&self, kind: Kind, id: i64) {
        self.0.remember_failure(kind, id)
    }
}

fn busy() -> Response {
    let mut r = super::fail_msg(StatusCode::SERVICE_UNAVAILABLE, crate::msg!("api.busy"));
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
    async fn a_full_queue_is_a_503_with_retry_after() {
        let j = Jobs(Arc::new(Queue::default()));
        let _first = j.slot().await.unwrap();
        let mut waiting = Vec::new();
        let q = j.0.clone();
        for _ in 0..crate::media::queue::WAITING {
            let q = q.clone();
            waiting.push(tokio::spawn(async move { q.slot().await.is_ok() }));
        }
        while q.waiting() < crate::media::queue::WAITING {
            tokio::task::yield_now().await;
        }
        let r = j.slot().await.unwrap_err();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers()[header::RETRY_AFTER], "5");
        for w in waiting {
            w.abort();
        }
    }
}
