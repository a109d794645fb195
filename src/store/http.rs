//! The HTTP core the `s3` and `oss` backends share: sending a request within the
//! backend's timeout, streaming an upload body and a download with stall detection, and
//! reading an error answer into a typed [`StoreError`] (status, the store's `<Code>`).
//! Each backend signs its requests and words its own hints (`s3::explain`,
//! `oss::explain`); what a status means when the store names no code it knows, and so
//! whether to retry, is decided once here ([`by_status`]).
//!
//! **Stalls, not durations.** reqwest's `timeout` and `read_timeout` run from the start
//! of a request (or fire while a long body is still being sent, when nothing is read),
//! which would cut a slow, rate-limited upload short. Uploads are abandoned instead when
//! no byte has moved for the backend's `timeout_secs` ([`send_body`]); small requests
//! without a body get a plain per-request timeout ([`Http::send`]), streamed answers a
//! timeout for their headers ([`Http::send_headers`]) and then a per-chunk one
//! ([`guarded_stream`]). The watchdog goes by tokio's clock, so a test with paused time
//! drives it without waiting.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::StatusCode;
use serde::Deserialize;

use super::body::Body;
use super::transfer::STREAM_CHUNK;
use super::{Code, ErrorKind, Reader, StoreError, StoreResult};

/// A backend's HTTP client and the time a request may go without progress.
pub(crate) struct Http {
    pub client: reqwest::Client,
    pub timeout: Duration,
}

impl Http {
    /// A client without a read timeout (it would fire while a long body is still being
    /// sent); stalls are detected by progress instead.
    ///
    /// Idle connections are dropped after 15 s instead of reqwest's 90 s: S3 closes an idle
    /// keep-alive connection after about 20 s (nginx in front of a MinIO after 75 s), and a
    /// request written into a connection the server is closing fails with "connection
    /// closed before message completed" (hyperium/hyper#2136, durch/rust-s3#405). Such a
    /// failure is still transient and retried, but it need not happen on every pause of
    /// the uploader.
    pub fn new(timeout: Duration) -> anyhow::Result<Http> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(15))
            .build()?;
        Ok(Http { client, timeout })
    }

    /// Sends a request without a streamed body, within the timeout.
    pub async fn send(&self, rb: reqwest::RequestBuilder, what: &str) -> StoreResult<reqwest::Response> {
        rb.timeout(self.timeout).send().await.map_err(|e| net(what, e))
    }

    /// Sends a request whose answer is streamed: only the headers must come within the timeout.
    pub async fn send_headers(&self, rb: reqwest::RequestBuilder, what: &str) -> StoreResult<reqwest::Response> {
        match tokio::time::timeout(self.timeout, rb.send()).await {
            Ok(r) => r.map_err(|e| net(what, e)),
            Err(_) => Err(StoreError::new(
                ErrorKind::Transient,
                format!(
                    "{what}: no answer within {} s; retried with backoff",
                    self.timeout.as_secs()
                ),
            )),
        }
    }

    /// Streams the next `n` bytes of `body`, abandoned when no byte moves for the timeout.
    pub async fn send_body(
        &self,
        rb: reqwest::RequestBuilder,
        body: &mut Body,
        n: u64,
        what: &str,
    ) -> StoreResult<reqwest::Response> {
        send_body(rb, body, n, what, self.timeout).await
    }

    /// Reads a whole (small) answer body.
    pub async fn text(&self, resp: reqwest::Response, what: &str) -> StoreResult<String> {
        resp.text().await.map_err(|e| net(what, e))
    }

    /// An answer's body as a reader that fails when the store stalls for the timeout.
    pub fn stream(&self, resp: reqwest::Response) -> Reader {
        guarded_stream(resp, self.timeout)
    }

    /// An error answer's status, headers and body (read within the timeout; empty when
    /// the body does not come), for the backend's `explain`.
    pub async fn error_answer(&self, resp: reqwest::Response) -> ErrorAnswer {
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = tokio::time::timeout(self.timeout, resp.text())
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        ErrorAnswer {
            status,
            headers,
            body: ErrorBody::parse(&body),
        }
    }
}

/// An error answer as it came.
pub(crate) struct ErrorAnswer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: ErrorBody,
}

/// The XML error document S3 and OSS both answer (`<Error><Code>…`); fields a store
/// leaves out are empty.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct ErrorBody {
    pub code: String,
    pub message: String,
    pub request_id: String,
    /// S3, AuthorizationHeaderMalformed & co: the region the bucket is in.
    pub region: String,
    /// S3, PermanentRedirect: the endpoint to use.
    pub endpoint: String,
    /// OSS: its error's EC number.
    #[serde(rename = "EC")]
    pub ec: String,
}

impl ErrorBody {
    /// Parses an error body; anything unreadable (an HTML page, nothing) is an empty one.
    pub fn parse(body: &str) -> ErrorBody {
        quick_xml::de::from_str(body).unwrap_or_default()
    }

    pub fn code(&self) -> Option<Code> {
        Code::parse(&self.code)
    }
}

/// What a status means when the store names no code the backend knows: busy and
/// timed-out answers are retried, the rest need a person. `None` for a status that
/// says nothing by itself.
pub(crate) fn by_status(status: StatusCode) -> Option<ErrorKind> {
    let s = status.as_u16();
    if s >= 500 || s == 429 || s == 408 {
        // 501 is a 5xx but never changes: the store does not implement the request.
        Some(if s == 501 {
            ErrorKind::Refused
        } else {
            ErrorKind::Transient
        })
    } else if s == 403 {
        Some(ErrorKind::Refused)
    } else {
        None
    }
}

/// A network error, without the URL reqwest would print (S3's carries a signature).
pub(crate) fn net(what: &str, e: reqwest::Error) -> StoreError {
    let timeout = e.is_timeout();
    let e = e.without_url();
    let mut msg = format!("{what}: {e}");
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        msg.push_str(&format!(": {s}"));
        src = s.source();
    }
    if timeout {
        msg.push_str(" (timed out)");
    }
    msg.push_str("; retried with backoff");
    StoreError::new(ErrorKind::Transient, msg)
}

/// Streams the next `n` bytes of `body` as the request's body. A request is abandoned
/// when no byte has moved for `timeout`, however long the whole upload takes.
pub(crate) async fn send_body(
    rb: reqwest::RequestBuilder,
    body: &mut Body,
    n: u64,
    what: &str,
    timeout: Duration,
) -> StoreResult<reqwest::Response> {
    let t0 = tokio::time::Instant::now();
    let last = Arc::new(AtomicU64::new(0));
    let stamp = |last: &AtomicU64| last.store(t0.elapsed().as_millis() as u64, Ordering::Relaxed);
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(2);
    let seen = last.clone();
    let stream = futures_util::stream::unfold(rx, move |mut rx| {
        let seen = seen.clone();
        async move {
            let item = rx.recv().await;
            seen.store(t0.elapsed().as_millis() as u64, Ordering::Relaxed);
            item.map(|i| (i, rx))
        }
    });
    let send = rb
        .header(reqwest::header::CONTENT_LENGTH, n.to_string())
        .body(reqwest::Body::wrap_stream(stream))
        .send();
    let produce = async {
        let tx = tx;
        let mut left = n;
        while left > 0 {
            match body.next_chunk_upto(left.min(STREAM_CHUNK)).await {
                Ok(Some(chunk)) => {
                    stamp(&last);
                    left -= chunk.len() as u64;
                    if tx.send(Ok(Bytes::copy_from_slice(chunk))).await.is_err() {
                        return Ok(()); // the request ended early; its error tells why
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    let _ = tx.send(Err(std::io::Error::other(format!("{e:#}")))).await;
                    return Err(e);
                }
            }
        }
        Ok(())
    };
    let limit = timeout.as_millis() as u64;
    let watchdog = async {
        loop {
            tokio::time::sleep(Duration::from_millis(250)).await;
            let idle = (t0.elapsed().as_millis() as u64).saturating_sub(last.load(Ordering::Relaxed));
            if idle > limit {
                return;
            }
        }
    };
    tokio::select! {
        (resp, produced) = async { tokio::join!(send, produce) } => {
            produced.map_err(|e| StoreError::new(ErrorKind::Transient, format!("{what}: {e:#}")))?;
            resp.map_err(|e| net(what, e))
        }
        () = watchdog => Err(StoreError::new(
            ErrorKind::Transient,
            format!("{what}: no progress for {} s; retried with backoff", timeout.as_secs()),
        )),
    }
}

/// An answer's body as a reader that fails when the store sends nothing for `timeout`.
pub(crate) fn guarded_stream(resp: reqwest::Response, timeout: Duration) -> Reader {
    use futures_util::StreamExt;
    let stream = futures_util::stream::unfold(Some(resp.bytes_stream()), move |s| async move {
        let mut s = s?;
        match tokio::time::timeout(timeout, s.next()).await {
            Ok(Some(Ok(b))) => Some((Ok(b), Some(s))),
            Ok(Some(Err(e))) => Some((Err(std::io::Error::other(e.without_url())), None)),
            Ok(None) => None,
            Err(_) => Some((
                Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "the store stopped sending",
                )),
                None,
            )),
        }
    });
    Box::new(tokio_util::io::StreamReader::new(Box::pin(stream)))
}
