//! `serve`'s background work as a list of named workers on one runner (after garage's
//! `BackgroundRunner`: each worker a name, a schedule and a job; the runner owns the rest).
//!
//! A worker is either
//! - **periodic** ([`Worker::every`], [`Worker::blocking`]): one pass, then a wait — the
//!   schedule's period, or what the pass asked for ([`Next::In`]), or until its trigger
//!   ([`Worker::wake_on`]) fires; or
//! - a **service** ([`Worker::service`]) that runs until the stop token (the inbox watcher,
//!   the uploads, the web server, smbd).
//!
//! The runner owns, for every worker alike:
//! - scheduling, and **backoff**: while passes fail, the wait doubles from the period up to
//!   the worker's `max_backoff`;
//! - **logging errors under the worker's name**, once per streak: the first failure, then
//!   only the 64th, 128th, … (a lasting problem is not silent for ever, nor logged every
//!   second), and the end of a streak ([`Streak`]);
//! - **per-worker state** ([`State`]: runs, busy, failures in a row, last success, last
//!   error) on a [`Board`] that `/metrics` (labelled `worker="…"`), `/api/status` and
//!   `status` (through the catalog, see [`KEY`]) show;
//! - a **shutdown deadline**: after stop, every worker gets [`run`]'s `deadline` to finish
//!   its pass; one that has not is abandoned (its task aborted) and named in the log. Every
//!   stage is restartable from the catalog, so an abandoned pass is redone at the next start.
//!
//! ## Blocking calls from async code (SQLite above all): one rule
//! The catalog is SQLite; every call blocks its thread (microseconds for an indexed row,
//! much longer for a scan such as `Catalog::summary`, or while another connection writes).
//! A blocked runtime thread stalls every task on it (the web server, the uploads' timers).
//! So: **catalog work runs on tokio's blocking pool, never on the async worker threads.**
//! - Every pass of a periodic worker runs there: a blocking pass through `spawn_blocking`,
//!   an async pass (store requests between catalog calls) driven there by
//!   `Handle::block_on`. A pass may therefore call the catalog directly, scans included.
//! - Async code outside passes (web handlers, the upload service's tasks) hands catalog
//!   calls to [`blocking`] (the web's own `web::blocking` is the same with HTTP errors), or
//!   runs its whole task on the pool the same way (the uploads do, one thread per upload).
//! - `tokio::task::block_in_place` is not used: it stalls the other tasks queued on that
//!   worker thread and panics on a current-thread runtime.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Result;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

/// The catalog key under which `serve` records the workers' states for `status` (another
/// process), next to its resource sample (`selfwatch`).
pub const KEY: &str = "serve.workers";

/// What a pass asks for its next run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// After the schedule's period.
    Period,
    /// After this long (e.g. the restores' next poll).
    In(Duration),
    /// Never: the worker has nothing more to do (e.g. thumbnails without ffmpeg).
    Done,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
/// Makes one pass, ready to run on the blocking pool.
type PassFn = Box<dyn FnMut() -> Box<dyn FnOnce() -> Result<Next> + Send> + Send>;
type ServiceFn = Box<dyn FnOnce(CancellationToken) -> BoxFuture<Result<()>> + Send>;

enum Job {
    Periodic {
        first: Duration,
        period: Duration,
        max_backoff: Duration,
        wake: Option<Arc<Notify>>,
        pass: PassFn,
    },
    Service(ServiceFn),
}

/// One named worker: build with [`Worker::every`], [`Worker::blocking`] or
/// [`Worker::service`], adjust with the builder methods, hand a list of them to [`run`].
pub struct Worker {
    pub name: &'static str,
    job: Job,
}

impl Worker {
    /// An async pass every `period` (the first at once); see the module doc for where it runs.
    pub fn every<F, Fut>(name: &'static str, period: Duration, mut pass: F) -> Worker
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = Result<Next>> + Send + 'static,
    {
        let pass: PassFn = Box::new(move || {
            let fut = pass();
            let rt = tokio::runtime::Handle::current();
            Box::new(move || rt.block_on(fut))
        });
        Worker::periodic(name, period, pass)
    }

    /// A blocking pass (catalog, files, child processes) every `period` (the first at once).
    pub fn blocking<F>(name: &'static str, period: Duration, pass: F) -> Worker
    where
        F: FnMut() -> Result<Next> + Send + 'static,
    {
        let pass = Arc::new(Mutex::new(pass));
        let pass: PassFn = Box::new(move || {
            let pass = pass.clone();
            // A pass that panicked poisons the lock; the next pass starts afresh anyway.
            Box::new(move || (pass.lock().unwrap_or_else(|e| e.into_inner()))())
        });
        Worker::periodic(name, period, pass)
    }

    fn periodic(name: &'static str, period: Duration, pass: PassFn) -> Worker {
        Worker {
            name,
            job: Job::Periodic {
                first: Duration::ZERO,
                period,
                max_backoff: period,
                wake: None,
                pass,
            },
        }
    }

    /// A long-running job, given the stop token; returns when stopped.
    pub fn service<F, Fut>(name: &'static str, run: F) -> Worker
    where
        F: FnOnce(CancellationToken) -> Fut + Send + 'static,
        Fut: Future<Output = Result<()>> + Send + 'static,
    {
        Worker {
            name,
            job: Job::Service(Box::new(move |stop| Box::pin(run(stop)))),
        }
    }

    /// The first pass only after `first` (smbd needs a moment before it can be checked).
    pub fn after(mut self, d: Duration) -> Worker {
        if let Job::Periodic { first, .. } = &mut self.job {
            *first = d;
        }
        self
    }

    /// While passes fail, waits double from the period up to `max` (default: no growth).
    pub fn backoff_max(mut self, max: Duration) -> Worker {
        if let Job::Periodic { max_backoff, .. } = &mut self.job {
            *max_backoff = max;
        }
        self
    }

    /// A pass also runs as soon as `wake` is notified (a restore started in the web page).
    pub fn wake_on(mut self, notify: Arc<Notify>) -> Worker {
        if let Job::Periodic { wake, .. } = &mut self.job {
            *wake = Some(notify);
        }
        self
    }

    /// The schedule in words, for `status`.
    pub fn schedule(&self) -> String {
        match &self.job {
            Job::Service(_) => "service".into(),
            Job::Periodic {
                first, period, wake, ..
            } => {
                let mut s = format!("every {}", secs(*period));
                if !first.is_zero() {
                    s += &format!(", first after {}", secs(*first));
                }
                if wake.is_some() {
                    s += ", or when woken";
                }
                s
            }
        }
    }
}

fn secs(d: Duration) -> String {
    match d.as_secs() {
        s if s >= 3600 && s % 3600 == 0 => format!("{} h", s / 3600),
        s if s >= 60 && s % 60 == 0 => format!("{} min", s / 60),
        _ => format!("{} s", d.as_secs_f64()),
    }
}

/// One worker's state, as `/metrics`, `/api/status` and `status` show it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub name: String,
    pub schedule: String,
    /// Passes started (a service counts one).
    pub runs: u64,
    /// A pass (or the service) is running now.
    pub busy: bool,
    /// Failed passes in a row (0: the last one worked).
    pub failures: u32,
    pub last_ok_ms: Option<i64>,
    pub last_error: Option<String>,
    pub last_error_ms: Option<i64>,
    /// The worker has ended (a service stopped, or a pass said [`Next::Done`]).
    pub done: bool,
}

/// Every worker's [`State`], shared by the runner and whoever shows it.
#[derive(Clone, Default)]
pub struct Board(Arc<Mutex<Vec<State>>>);

impl Board {
    fn add(&self, name: &'static str, schedule: String) -> Slot {
        let mut v = self.0.lock().unwrap();
        v.push(State {
            name: name.into(),
            schedule,
            ..State::default()
        });
        Slot {
            board: self.clone(),
            index: v.len() - 1,
        }
    }

    /// A copy of every worker's state, in the order the workers were listed.
    pub fn snapshot(&self) -> Vec<State> {
        self.0.lock().unwrap().clone()
    }
}

/// A worker's place on the board.
struct Slot {
    board: Board,
    index: usize,
}

impl Slot {
    fn update(&self, f: impl FnOnce(&mut State)) {
        if let Some(s) = self.board.0.lock().unwrap().get_mut(self.index) {
            f(s);
        }
    }
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// A failing worker's log and pace: the first failure of a streak is logged, later ones
/// only at the 64th, 128th, ... (so a lasting problem is not silent for ever, nor logged
/// every second); the retry wait doubles from the worker's period up to `max`; the end of a
/// streak is logged too.
pub struct Streak {
    what: &'static str,
    failures: u32,
    max: Duration,
}

impl Streak {
    pub fn new(what: &'static str, max: Duration) -> Streak {
        Streak { what, failures: 0, max }
    }

    /// Whether the `n`th failure in a row (from 1) is logged.
    pub fn logs(n: u32) -> bool {
        n == 1 || (n > 64 && (n - 1).is_power_of_two())
    }

    pub fn failed(&mut self, e: &anyhow::Error) {
        if Streak::logs(self.failures + 1) {
            warn!(
                worker = self.what,
                "{}: {e:#} (failing {} time(s) in a row; retried with backoff)",
                self.what,
                self.failures + 1
            );
        }
        self.failures = self.failures.saturating_add(1);
    }

    pub fn ok(&mut self) {
        if self.failures > 0 {
            info!(
                worker = self.what,
                "{}: works again after {} failure(s)", self.what, self.failures
            );
        }
        self.failures = 0;
    }

    /// How long to wait before the next run, given the worker's usual `period`.
    pub fn wait(&self, period: Duration) -> Duration {
        if self.failures == 0 {
            return period;
        }
        period
            .saturating_mul(1 << self.failures.min(16))
            .min(self.max.max(period))
    }
}

async fn periodic(name: &'static str, job: Job, slot: Slot, stop: CancellationToken) {
    let Job::Periodic {
        first,
        period,
        max_backoff,
        wake,
        mut pass,
    } = job
    else {
        return;
    };
    let mut streak = Streak::new(name, max_backoff);
    let mut wait = first;
    loop {
        if !wait.is_zero() || stop.is_cancelled() {
            let woken = async {
                match &wake {
                    Some(w) => w.notified().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(wait) => {}
                _ = woken => {}
            }
        }
        slot.update(|s| {
            s.runs += 1;
            s.busy = true;
        });
        let result = match tokio::task::spawn_blocking(pass()).await {
            Ok(r) => r,
            Err(e) => Err(anyhow::anyhow!("the pass panicked: {e}")),
        };
        let at = now_ms();
        match result {
            Ok(next) => {
                streak.ok();
                slot.update(|s| {
                    (s.busy, s.failures, s.last_ok_ms) = (false, 0, Some(at));
                    s.done = next == Next::Done;
                });
                wait = match next {
                    Next::Period => period,
                    Next::In(d) => d,
                    Next::Done => return,
                };
            }
            Err(e) => {
                streak.failed(&e);
                slot.update(|s| {
                    (s.busy, s.failures) = (false, streak.failures);
                    (s.last_error, s.last_error_ms) = (Some(format!("{e:#}")), Some(at));
                });
                wait = streak.wait(period);
            }
        }
    }
}

async fn service(name: &'static str, run: ServiceFn, slot: Slot, stop: CancellationToken) {
    slot.update(|s| (s.runs, s.busy) = (1, true));
    let result = run(stop).await;
    let at = now_ms();
    if let Err(e) = &result {
        error!(worker = name, "{name}: {e:#}");
    }
    slot.update(|s| {
        (s.busy, s.done) = (false, true);
        match result {
            Ok(()) => s.last_ok_ms = Some(at),
            Err(e) => (s.failures, s.last_error, s.last_error_ms) = (1, Some(format!("{e:#}")), Some(at)),
        }
    });
}

/// Runs `workers` until `stop`, then gives them `deadline` to finish; returns the names of
/// those that did not (they are abandoned).
pub async fn run(
    workers: Vec<Worker>,
    board: &Board,
    stop: CancellationToken,
    deadline: Duration,
) -> Vec<&'static str> {
    let mut tasks = Vec::new();
    for w in workers {
        let slot = board.add(w.name, w.schedule());
        let stop = stop.clone();
        let task = match w.job {
            Job::Service(f) => tokio::spawn(service(w.name, f, slot, stop)),
            job => tokio::spawn(periodic(w.name, job, slot, stop)),
        };
        tasks.push((w.name, task));
    }
    stop.cancelled().await;
    let until = tokio::time::Instant::now() + deadline;
    let mut late = Vec::new();
    for (name, mut task) in tasks {
        if tokio::time::timeout_at(until, &mut task).await.is_err() {
            task.abort();
            warn!(
                worker = name,
                "{name}: did not stop within {} s of the shutdown; abandoned (its work is redone from the catalog at the next start)",
                deadline.as_secs()
            );
            late.push(name);
        }
    }
    late
}

/// Runs blocking work (a catalog call) on the blocking pool from async code; see the
/// module doc.
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(anyhow::anyhow!("blocking work panicked: {e}")))
}

/// The board as recorded for `status` (JSON of [`State`]s).
pub fn record(cat: &crate::catalog::Catalog, board: &Board) -> Result<()> {
    cat.kv_set(KEY, &serde_json::to_string(&board.snapshot())?)
}

/// The states `serve` recorded last (empty when it recorded none).
pub fn recorded(cat: &crate::catalog::Catalog) -> Vec<State> {
    cat.kv_get(KEY)
        .ok()
        .flatten()
        .and_then(|v| serde_json::from_str(&v).ok())
        .unwrap_or_default()
}

/// One line for `status`: how many workers run (and ended), and the failing ones with their
/// last error.
pub fn describe(states: &[State]) -> String {
    let ended = states.iter().filter(|s| s.done).count();
    let running = match ended {
        0 => format!("{} running", states.len()),
        n => format!("{} running, {n} ended", states.len() - n),
    };
    let failing: Vec<String> = states
        .iter()
        .filter(|s| s.failures > 0)
        .map(|s| {
            format!(
                "{} ({} time(s) in a row: {})",
                s.name,
                s.failures,
                s.last_error.as_deref().unwrap_or("?")
            )
        })
        .collect();
    if failing.is_empty() {
        format!("{running}, none failing")
    } else {
        format!("{running}, failing: {}", failing.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn a_streak_is_logged_at_its_start_then_rarely_and_waits_double_up_to_the_cap() {
        let logged: Vec<u32> = (1..=300).filter(|n| Streak::logs(*n)).collect();
        assert_eq!(logged, vec![1, 65, 129, 257]);
        let mut s = Streak::new("t", Duration::from_secs(60));
        let p = Duration::from_secs(1);
        assert_eq!(s.wait(p), p);
        let e = anyhow::anyhow!("down");
        let waits: Vec<u64> = (0..8)
            .map(|_| {
                s.failed(&e);
                s.wait(p).as_secs()
            })
            .collect();
        assert_eq!(waits, vec![2, 4, 8, 16, 32, 60, 60, 60]);
        s.ok();
        assert_eq!(s.wait(p), p);
        // A cap below the period does not shorten it (hourly jobs retry hourly).
        let mut h = Streak::new("t", Duration::from_secs(60));
        h.failed(&e);
        assert_eq!(h.wait(Duration::from_secs(3600)), Duration::from_secs(3600));
    }

    #[test]
    fn status_names_the_failing_workers_and_those_that_ended() {
        let ok = State {
            name: "cache".into(),
            ..State::default()
        };
        let failing = State {
            name: "alerts".into(),
            failures: 3,
            last_error: Some("no channel took the message".into()),
            ..State::default()
        };
        let ended = State {
            name: "thumbnails".into(),
            done: true,
            ..State::default()
        };
        assert_eq!(describe(std::slice::from_ref(&ok)), "1 running, none failing");
        assert_eq!(
            describe(&[ok, failing, ended]),
            "2 running, 1 ended, failing: alerts (3 time(s) in a row: no channel took the message)"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn state_follows_failures_and_recovery_and_a_trigger_runs_a_pass_at_once() {
        let board = Board::default();
        let stop = CancellationToken::new();
        let calls = Arc::new(AtomicU32::new(0));
        let wake = Arc::new(Notify::new());
        let ran = Arc::new(Notify::new());
        let (c, r) = (calls.clone(), ran.clone());
        // Fails twice, then works; an hour apart unless woken.
        let w = Worker::blocking("flaky", Duration::from_secs(3600), move || {
            let n = c.fetch_add(1, Ordering::SeqCst);
            r.notify_one();
            if n < 2 {
                anyhow::bail!("attempt {n} failed")
            }
            Ok(Next::Period)
        })
        .wake_on(wake.clone());
        assert_eq!(w.schedule(), "every 1 h, or when woken");
        let runner = tokio::spawn({
            let (board, stop) = (board.clone(), stop.clone());
            async move { run(vec![w], &board, stop, Duration::from_secs(5)).await }
        });
        let state = || board.snapshot().into_iter().next();
        let settled = |runs: u64| {
            let state = &state;
            async move {
                // The state is written just after the pass signals: wait for it.
                while state().is_none_or(|s| s.runs < runs || s.busy) {
                    tokio::task::yield_now().await;
                }
                state().unwrap()
            }
        };
        ran.notified().await;
        let s = settled(1).await;
        assert_eq!((s.failures, s.last_ok_ms), (1, None), "{s:?}");
        assert_eq!(s.last_error.as_deref(), Some("attempt 0 failed"));
        wake.notify_one();
        ran.notified().await;
        let s = settled(2).await;
        assert_eq!(s.failures, 2, "{s:?}");
        wake.notify_one();
        ran.notified().await;
        let s = settled(3).await;
        assert_eq!(s.failures, 0, "{s:?}");
        assert!(s.last_ok_ms.is_some() && s.last_error.as_deref() == Some("attempt 1 failed"));
        stop.cancel();
        assert!(runner.await.unwrap().is_empty(), "stopped within the deadline");
        assert_eq!(calls.load(Ordering::SeqCst), 3, "no pass without a trigger in an hour");
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_abandons_a_worker_that_ignores_stop_after_the_deadline() {
        let board = Board::default();
        let stop = CancellationToken::new();
        let stubborn = Worker::service("stubborn", |_stop| async {
            std::future::pending::<()>().await;
            Ok(())
        });
        let polite = Worker::service("polite", |stop: CancellationToken| async move {
            stop.cancelled().await;
            Ok(())
        });
        let done = Worker::every("done", Duration::from_secs(1), || async { Ok(Next::Done) });
        let t0 = tokio::time::Instant::now();
        let runner = tokio::spawn({
            let (board, stop) = (board.clone(), stop.clone());
            async move { run(vec![stubborn, polite, done], &board, stop, Duration::from_secs(7)).await }
        });
        while !board.snapshot().iter().any(|s| s.name == "done" && s.done) {
            tokio::task::yield_now().await;
        }
        stop.cancel();
        let late = runner.await.unwrap();
        assert_eq!(late, vec!["stubborn"]);
        assert_eq!(
            t0.elapsed(),
            Duration::from_secs(7),
            "returns at the deadline, not later"
        );
        let s = board.snapshot();
        assert!(s[1].done && s[1].last_ok_ms.is_some(), "{s:?}");
        assert!(s[0].busy && !s[0].done, "{s:?}");
        assert_eq!(s[2].runs, 1, "a Done worker runs no more: {s:?}");
    }
}
