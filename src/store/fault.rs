//! A fault-injecting backend for tests: wraps any [`Backend`] and, per operation, fails,
//! slows, truncates or loses the answer, as a seeded random generator decides, so a
//! test of retries runs the same way every time (after restic's `mock`/`dryrun` backends).
//!
//! Delays go by tokio's clock: a test with paused time (`#[tokio::test(start_paused =
//! true)]`) runs an hour of backoff and slow requests in no time, and without sleeping.
//! What it did is counted per operation ([`FaultStore::calls`], [`FaultStore::injected`]),
//! so a test can assert that a fault was really met.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::io::AsyncReadExt;

use super::body::Body;
use super::{Backend, Code, ErrorKind, ObjectMeta, Reader, RestoreAnswer, RestoreTier, StoreError, StoreResult};

/// The operations faults can be injected into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Put,
    Head,
    Get,
    List,
    Restore,
    Lifecycle,
}

/// What happens to an operation that meets a fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer an error of this kind without asking the store.
    Fail(ErrorKind),
    /// Answer as a store that refuses: this HTTP status and error `<Code>`, of this kind,
    /// without asking the store (e.g. 403 `AccessDenied` to a RestoreObject).
    Answer { kind: ErrorKind, status: u16, code: Code },
    /// Wait this long (tokio's clock), then ask the store.
    Slow(Duration),
    /// Get: the stream ends after this many bytes, without an error (a cut connection
    /// that the reader does not notice).
    Truncate(u64),
    /// Put and restore: the store acts (keeps the object, starts the restore), but the
    /// answer is lost (a transient error comes back instead), as when a connection drops
    /// after the store acted.
    Lose,
}

struct Rule {
    op: Op,
    fault: Fault,
    /// The chance that one call meets the fault.
    chance: f64,
    /// How many more calls may meet it.
    left: u32,
    /// The first call (counting from 1) that may meet it; 0 for any.
    from_call: u32,
}

/// A backend with faults (see the module doc).
pub struct FaultStore {
    inner: Arc<dyn Backend>,
    rng: Mutex<fastrand::Rng>,
    rules: Mutex<Vec<Rule>>,
    calls: Mutex<HashMap<Op, u32>>,
    injected: Mutex<HashMap<Op, u32>>,
}

impl FaultStore {
    /// `inner` with no faults yet; `seed` makes the draws repeatable.
    pub fn new(inner: Arc<dyn Backend>, seed: u64) -> FaultStore {
        FaultStore {
            inner,
            rng: Mutex::new(fastrand::Rng::with_seed(seed)),
            rules: Mutex::new(Vec::new()),
            calls: Mutex::new(HashMap::new()),
            injected: Mutex::new(HashMap::new()),
        }
    }

    /// From now on, each call of `op` meets `fault` with probability `chance`, at most
    /// `times` times. Rules are tried in the order they were added.
    pub fn inject(&self, op: Op, fault: Fault, chance: f64, times: u32) -> &FaultStore {
        self.rules.lock().unwrap().push(Rule {
            op,
            fault,
            chance,
            left: times,
            from_call: 0,
        });
        self
    }

    /// The `n`-th call of `op` (counting from 1), and none before it, meets `fault`: a
    /// listing that fails on its `n`-th page.
    pub fn inject_at(&self, op: Op, fault: Fault, n: u32) -> &FaultStore {
        self.rules.lock().unwrap().push(Rule {
            op,
            fault,
            chance: 1.0,
            left: 1,
            from_call: n,
        });
        self
    }

    /// How many times `op` was called.
    pub fn calls(&self, op: Op) -> u32 {
        self.calls.lock().unwrap().get(&op).copied().unwrap_or(0)
    }

    /// How many calls of `op` met a fault.
    pub fn injected(&self, op: Op) -> u32 {
        self.injected.lock().unwrap().get(&op).copied().unwrap_or(0)
    }

    /// Counts a call of `op` and draws the fault it meets, if any.
    fn draw(&self, op: Op) -> Option<Fault> {
        let call = {
            let mut calls = self.calls.lock().unwrap();
            let n = calls.entry(op).or_default();
            *n += 1;
            *n
        };
        let mut rules = self.rules.lock().unwrap();
        let mut rng = self.rng.lock().unwrap();
        let rule = rules
            .iter_mut()
            .find(|r| r.op == op && r.left > 0 && call >= r.from_call && rng.f64() < r.chance)?;
        rule.left -= 1;
        *self.injected.lock().unwrap().entry(op).or_default() += 1;
        Some(rule.fault.clone())
    }

    /// Applies a fault that comes before the store is asked: an error, or a delay.
    async fn before(&self, op: Op, what: &str) -> StoreResult<Option<Fault>> {
        match self.draw(op) {
            Some(Fault::Fail(kind)) => Err(StoreError::new(kind, format!("{what}: injected fault ({kind:?})"))),
            Some(Fault::Answer { kind, status, code }) => Err(StoreError::answered(
                kind,
                status,
                Some(code.clone()),
                "injected fault",
                format!("{what}: the store answered {status} {code} (injected fault)"),
            )),
            Some(Fault::Slow(d)) => {
                tokio::time::sleep(d).await;
                Ok(None)
            }
            other => Ok(other),
        }
    }
}

#[async_trait]
impl Backend for FaultStore {
    fn describe(&self) -> String {
        format!("{} (with injected faults)", self.inner.describe())
    }

    async fn put(&self, key: &str, body: &mut Body, storage_class: &str) -> StoreResult<()> {
        let what = format!("PUT {key}");
        let fault = self.before(Op::Put, &what).await?;
        self.inner.put(key, body, storage_class).await?;
        match fault {
            Some(Fault::Lose) => Err(StoreError::new(
                ErrorKind::Transient,
                format!("{what}: injected fault: the answer was lost after the store kept the object"),
            )),
            _ => Ok(()),
        }
    }

    async fn head(&self, key: &str) -> StoreResult<Option<ObjectMeta>> {
        self.before(Op::Head, &format!("HEAD {key}")).await?;
        self.inner.head(key).await
    }

    async fn get_range(&self, key: &str, range: Option<std::ops::Range<u64>>) -> StoreResult<Reader> {
        let fault = self.before(Op::Get, &format!("GET {key}")).await?;
        let reader = self.inner.get_range(key, range).await?;
        match fault {
            Some(Fault::Truncate(n)) => {
                let mut short = Vec::new();
                reader
                    .take(n)
                    .read_to_end(&mut short)
                    .await
                    .map_err(|e| StoreError::new(ErrorKind::Transient, format!("GET {key}: {e}")))?;
                Ok(Box::new(std::io::Cursor::new(short)))
            }
            _ => Ok(reader),
        }
    }

    async fn list(&self, prefix: &str) -> StoreResult<Vec<ObjectMeta>> {
        self.before(Op::List, &format!("list {prefix}")).await?;
        self.inner.list(prefix).await
    }

    async fn list_after(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        max: u32,
    ) -> StoreResult<super::listing::ListPage> {
        self.before(Op::List, &format!("list {prefix} after {start_after:?}"))
            .await?;
        self.inner.list_after(prefix, start_after, max).await
    }

    async fn check(&self) -> StoreResult<()> {
        self.inner.check().await
    }

    async fn get_lifecycle(&self) -> StoreResult<Option<String>> {
        self.before(Op::Lifecycle, "GET lifecycle").await?;
        self.inner.get_lifecycle().await
    }

    async fn put_lifecycle(&self, xml: &str) -> StoreResult<()> {
        self.before(Op::Lifecycle, "PUT lifecycle").await?;
        self.inner.put_lifecycle(xml).await
    }

    async fn restore(&self, key: &str, days: u32, tier: RestoreTier) -> StoreResult<RestoreAnswer> {
        let what = format!("restore {key}");
        let fault = self.before(Op::Restore, &what).await?;
        let answer = self.inner.restore(key, days, tier).await?;
        match fault {
            Some(Fault::Lose) => Err(StoreError::new(
                ErrorKind::Transient,
                format!("{what}: injected fault: the answer was lost after the store acted"),
            )),
            _ => Ok(answer),
        }
    }

    fn now_ms(&self) -> i64 {
        self.inner.now_ms()
    }

    async fn delete_probe_unchecked(&self, key: &str) -> StoreResult<()> {
        self.inner.delete_probe_unchecked(key).await
    }
}
