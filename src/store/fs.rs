//! `fs` backend: a local directory used as a bucket.
//!
//! Object bytes live at `<root>/<key>`; metadata (size, CRC-64, storage class, time) in
//! `<root>/.camvault/meta/<key>.json`; partial uploads in `<root>/.camvault/tmp/`. A put
//! writes and fsyncs a temporary file, writes its metadata, then hard-links the temporary
//! file to the key: the link is atomic and fails when the key exists, which is this
//! backend's `If-None-Match: *`. The root is never created here: a missing root usually
//! means an unmounted disk, and writing into the mount point would hide that.
//!
//! Tiers are emulated so the archive workflow runs without a cloud account: once a
//! lifecycle configuration is stored (`lifecycle apply`), an object older than a rule's
//! transition age moves to that class the first time it is looked at (and stays there, as
//! on OSS); reading an archived object fails with [`ErrorKind::Archived`] until a restore,
//! which becomes ready after the configured delay for its tier and expires after its days.
//! Ages use the store's clock: the real time plus the seconds in `<root>/.camvault/clock`
//! (absent = 0), which tests and demos advance to make months pass.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;

use super::lifecycle::{self, Rule};
use super::{
    io_error, Backend, ErrorKind, ObjectMeta, Reader, RestoreAnswer, RestoreState, RestoreTier, StoreError, StoreResult,
};
use crate::store::body::Body;

const META_DIR: &str = ".camvault/meta";
const TMP_DIR: &str = ".camvault/tmp";
const LIFECYCLE: &str = ".camvault/lifecycle.xml";
/// Seconds added to the real time to get the store's clock.
pub const CLOCK_FILE: &str = ".camvault/clock";
const DAY_MS: i64 = 86_400_000;

pub struct FsStore {
    root: PathBuf,
    fsync: bool,
    /// Emulated restore delay per tier, in seconds: expedited, standard, bulk.
    restore_secs: [u64; 3],
    /// The real time in ms, unless a test gave its own clock ([`FsStore::with_clock`]).
    clock: Option<Clock>,
}

/// A clock in Unix milliseconds (see [`FsStore::with_clock`]).
pub type Clock = std::sync::Arc<dyn Fn() -> i64 + Send + Sync>;

#[derive(Serialize, Deserialize)]
struct Meta {
    size: u64,
    crc64: String,
    storage_class: String,
    created_ms: i64,
    /// When the emulated lifecycle moved the object (0 = never).
    #[serde(default)]
    transitioned_ms: i64,
    #[serde(default)]
    restore: Option<Restore>,
    /// RestoreObject calls received, as a bill would count them.
    #[serde(default)]
    restore_requests: u32,
}

/// An emulated restore: readable from `ready_ms` until `expires_ms`.
#[derive(Serialize, Deserialize, Clone, Copy)]
struct Restore {
    ready_ms: i64,
    expires_ms: i64,
}

impl Restore {
    fn state(&self, now_ms: i64) -> RestoreState {
        if now_ms < self.ready_ms {
            RestoreState::InProgress
        } else if now_ms < self.expires_ms {
            RestoreState::Ready {
                expires_ms: self.expires_ms,
            }
        } else {
            RestoreState::None
        }
    }
}

/// Storage classes from warmest to coldest; a transition only ever moves right.
const CLASS_ORDER: [&str; 5] = ["Standard", "IA", "Archive", "ColdArchive", "DeepColdArchive"];

fn coldness(class: &str) -> usize {
    CLASS_ORDER.iter().position(|c| *c == class).unwrap_or(0)
}

/// The class the rules put an object of this key and age in, if colder than `current`.
fn transition(rules: &[Rule], key: &str, age_ms: i64, current: &str) -> Option<(String, u32)> {
    rules
        .iter()
        .filter(|r| r.enabled && key.starts_with(&r.prefix))
        .flat_map(|r| r.transitions.iter())
        .filter(|(days, class)| age_ms >= i64::from(*days) * DAY_MS && coldness(class) > coldness(current))
        .max_by_key(|(_, class)| coldness(class))
        .map(|(days, class)| (class.clone(), *days))
}

impl FsStore {
    pub fn new(root: &Path, fsync: bool) -> FsStore {
        FsStore {
            root: root.to_path_buf(),
            fsync,
            restore_secs: [12 * 3600, 48 * 3600, 48 * 3600],
            clock: None,
        }
    }

    /// The same store on another clock instead of the real time (the clock file still
    /// adds its offset): in-process tests run restores and lifecycle ages on tokio's
    /// paused clock, so hours of emulated archive pass without waiting.
    pub fn with_clock(self, clock: Clock) -> FsStore {
        FsStore {
            clock: Some(clock),
            ..self
        }
    }

    pub fn from_config(cfg: &crate::config::Config) -> FsStore {
        let f = &cfg.store.fs;
        FsStore {
            restore_secs: [f.restore_expedited_secs, f.restore_standard_secs, f.restore_bulk_secs],
            ..FsStore::new(&cfg.fs_root(), f.fsync)
        }
    }

    fn clock_offset_ms(&self) -> i64 {
        std::fs::read_to_string(self.root.join(CLOCK_FILE))
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok())
            .map_or(0, |secs| secs.saturating_mul(1000))
    }

    /// The stored lifecycle rules; none when absent or unreadable (then nothing moves).
    async fn rules(&self) -> Vec<Rule> {
        match tokio::fs::read_to_string(self.root.join(LIFECYCLE)).await {
            Ok(xml) => lifecycle::parse(&xml).unwrap_or_default(),
            Err(_) => Vec::new(),
        }
    }

    async fn read_meta(&self, key: &str) -> Option<Meta> {
        let b = tokio::fs::read(self.meta_path(key)).await.ok()?;
        serde_json::from_slice(&b).ok()
    }

    /// Writes metadata atomically (temporary file, then rename).
    async fn write_meta(&self, key: &str, meta: &Meta) -> StoreResult<()> {
        let path = self.meta_path(key);
        Self::ensure_parent(&path).await?;
        // A short name of its own in tmp/ (same filesystem, so the rename is atomic): a
        // name derived from the key's could pass the 255-byte file name limit.
        let tmp_dir = self.root.join(TMP_DIR);
        tokio::fs::create_dir_all(&tmp_dir)
            .await
            .map_err(|e| io_error("cannot create", &tmp_dir, e))?;
        let tmp = tmp_dir.join(format!("meta.{}.{}", fastrand::u64(..), std::process::id()));
        let json = serde_json::to_vec(meta).expect("meta serializes");
        tokio::fs::write(&tmp, json)
            .await
            .map_err(|e| io_error("cannot write", &tmp, e))?;
        tokio::fs::rename(&tmp, &path)
            .await
            .map_err(|e| io_error("cannot write", &path, e))
    }

    /// The object's metadata with the emulated lifecycle applied (and recorded).
    async fn current_meta(&self, key: &str, rules: &[Rule], now_ms: i64) -> StoreResult<Option<Meta>> {
        let Some(mut meta) = self.read_meta(key).await else {
            return Ok(None);
        };
        if let Some((class, days)) = transition(rules, key, now_ms - meta.created_ms, &meta.storage_class) {
            meta.storage_class = class;
            meta.transitioned_ms = meta.created_ms + i64::from(days) * DAY_MS;
            self.write_meta(key, &meta).await?;
        }
        Ok(Some(meta))
    }

    async fn head_with(&self, key: &str, rules: &[Rule], now_ms: i64) -> StoreResult<Option<ObjectMeta>> {
        self.root_ok()?;
        let path = self.object_path(key)?;
        let stat = match tokio::fs::metadata(&path).await {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_error("cannot read", &path, e)),
        };
        let meta = self.current_meta(key, rules, now_ms).await?;
        let modified_ms = stat
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        // Size comes from the bytes themselves, so a truncated object shows as different.
        Ok(Some(ObjectMeta {
            key: key.to_string(),
            size: stat.len(),
            crc64: meta.as_ref().map(|m| m.crc64.clone()),
            restore: meta
                .as_ref()
                .and_then(|m| m.restore)
                .map_or(RestoreState::None, |r| r.state(now_ms)),
            // Like OSS's x-oss-transition-time: only for an object the lifecycle archived.
            transition_ms: meta
                .as_ref()
                .filter(|m| m.transitioned_ms > 0 && super::is_archive_class(&m.storage_class))
                .map(|m| m.transitioned_ms),
            storage_class: meta.map(|m| m.storage_class).unwrap_or_else(|| "Standard".into()),
            modified_ms,
            damaged: None,
        }))
    }

    fn object_path(&self, key: &str) -> StoreResult<PathBuf> {
        if key.is_empty()
            || key.starts_with('/')
            || key.starts_with(".camvault")
            || key.split('/').any(|c| c.is_empty() || c == "." || c == "..")
        {
            return Err(StoreError::new(
                ErrorKind::Refused,
                format!("invalid object key {key:?}"),
            ));
        }
        Ok(self.root.join(key))
    }

    fn meta_path(&self, key: &str) -> PathBuf {
        self.root.join(META_DIR).join(format!("{key}.json"))
    }

    fn root_ok(&self) -> StoreResult<()> {
        match std::fs::metadata(&self.root) {
            Ok(m) if m.is_dir() => Ok(()),
            Ok(_) => Err(StoreError::new(
                ErrorKind::Refused,
                format!(
                    "store root {} is not a directory; fix `store.fs.root`",
                    self.root.display()
                ),
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(StoreError::new(
                ErrorKind::Refused,
                format!(
                    "store root {} does not exist; is its disk mounted? Create it (`mkdir -p`) or fix `store.fs.root`",
                    self.root.display()
                ),
            )),
            Err(e) => Err(io_error("cannot reach store root", &self.root, e)),
        }
    }

    async fn ensure_parent(path: &Path) -> StoreResult<()> {
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| io_error("cannot create directory", parent, e))?;
        }
        Ok(())
    }

    /// Removes partial uploads left by a crash. Safe: nothing under tmp/ is an object.
    pub fn clean_tmp(&self) {
        let _ = std::fs::remove_dir_all(self.root.join(TMP_DIR));
    }
}

#[async_trait]
impl Backend for FsStore {
    fn describe(&self) -> String {
        format!("fs store at {}", self.root.display())
    }

    async fn put(&self, key: &str, body: &mut Body, storage_class: &str) -> StoreResult<()> {
        self.root_ok()?;
        let dest = self.object_path(key)?;
        if tokio::fs::symlink_metadata(&dest).await.is_ok() {
            return Err(StoreError::new(
                ErrorKind::AlreadyExists,
                format!("object {key} already exists"),
            ));
        }
        let tmp_dir = self.root.join(TMP_DIR);
        tokio::fs::create_dir_all(&tmp_dir)
            .await
            .map_err(|e| io_error("cannot create", &tmp_dir, e))?;
        let tmp = tmp_dir.join(format!("{}.{}", fastrand::u64(..), std::process::id()));
        let result = async {
            let mut out = tokio::fs::File::create(&tmp)
                .await
                .map_err(|e| io_error("cannot create", &tmp, e))?;
            while let Some(chunk) = body
                .next_chunk()
                .await
                .map_err(|e| StoreError::new(ErrorKind::Transient, format!("{e:#}")))?
            {
                out.write_all(chunk)
                    .await
                    .map_err(|e| io_error("cannot write", &tmp, e))?;
            }
            out.flush().await.map_err(|e| io_error("cannot write", &tmp, e))?;
            if self.fsync {
                out.sync_all().await.map_err(|e| io_error("cannot fsync", &tmp, e))?;
            }
            drop(out);
            let meta = Meta {
                size: body.len(),
                crc64: super::crc_hex(body.crc64()),
                storage_class: storage_class.to_string(),
                created_ms: self.now_ms(),
                transitioned_ms: 0,
                restore: None,
                restore_requests: 0,
            };
            self.write_meta(key, &meta).await?;
            Self::ensure_parent(&dest).await?;
            match tokio::fs::hard_link(&tmp, &dest).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    return Err(StoreError::new(
                        ErrorKind::AlreadyExists,
                        format!("object {key} already exists"),
                    ))
                }
                Err(e) => return Err(io_error("cannot link", &dest, e)),
            }
            if self.fsync {
                if let Some(parent) = dest.parent() {
                    if let Ok(d) = tokio::fs::File::open(parent).await {
                        let _ = d.sync_all().await;
                    }
                }
            }
            Ok(())
        }
        .await;
        let _ = tokio::fs::remove_file(&tmp).await;
        result
    }

    async fn head(&self, key: &str) -> StoreResult<Option<ObjectMeta>> {
        self.head_with(key, &self.rules().await, self.now_ms()).await
    }

    async fn get_range(&self, key: &str, range: Option<std::ops::Range<u64>>) -> StoreResult<Reader> {
        self.root_ok()?;
        let path = self.object_path(key)?;
        let mut f = tokio::fs::File::open(&path)
            .await
            .map_err(|e| io_error("cannot read", &path, e))?;
        if let Some(m) = self.head(key).await? {
            if !m.readable() {
                return Err(StoreError::new(
                    ErrorKind::Archived,
                    format!(
                        "object {key} is in {}: restore it first (`camvault restore`)",
                        m.storage_class
                    ),
                ));
            }
        }
        if let Some(r) = range {
            use tokio::io::{AsyncReadExt, AsyncSeekExt};
            super::range_header(key, &r)?;
            f.seek(std::io::SeekFrom::Start(r.start))
                .await
                .map_err(|e| io_error("cannot read", &path, e))?;
            return Ok(Box::new(f.take(r.end - r.start)));
        }
        Ok(Box::new(f))
    }

    async fn list(&self, prefix: &str) -> StoreResult<Vec<ObjectMeta>> {
        self.root_ok()?;
        let mut keys = Vec::new();
        let mut stack = vec![self.root.clone()];
        while let Some(dir) = stack.pop() {
            let mut rd = match tokio::fs::read_dir(&dir).await {
                Ok(rd) => rd,
                Err(e) => return Err(io_error("cannot list", &dir, e)),
            };
            while let Some(entry) = rd.next_entry().await.map_err(|e| io_error("cannot list", &dir, e))? {
                let path = entry.path();
                let Ok(rel) = path.strip_prefix(&self.root) else {
                    continue;
                };
                let Some(rel) = rel.to_str().map(str::to_string) else {
                    continue;
                };
                if rel.starts_with(".camvault") {
                    continue;
                }
                let ft = entry.file_type().await.map_err(|e| io_error("cannot list", &path, e))?;
                if ft.is_dir() {
                    stack.push(path);
                } else if ft.is_file() && rel.starts_with(prefix) {
                    keys.push(rel);
                }
            }
        }
        keys.sort();
        let (rules, now) = (self.rules().await, self.now_ms());
        let mut out = Vec::with_capacity(keys.len());
        for k in keys {
            if let Some(m) = self.head_with(&k, &rules, now).await? {
                out.push(m);
            }
        }
        Ok(out)
    }

    async fn list_after(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        max: u32,
    ) -> StoreResult<super::listing::ListPage> {
        self.root_ok()?;
        let after = start_after.unwrap_or("");
        let mut keys = Vec::new();
        let mut stack = vec![self.root.clone()];
        while let Some(dir) = stack.pop() {
            let mut rd = match tokio::fs::read_dir(&dir).await {
                Ok(rd) => rd,
                Err(e) => return Err(io_error("cannot list", &dir, e)),
            };
            while let Some(entry) = rd.next_entry().await.map_err(|e| io_error("cannot list", &dir, e))? {
                let path = entry.path();
                let Some(rel) = path.strip_prefix(&self.root).ok().and_then(|r| r.to_str()) else {
                    continue;
                };
                if rel.starts_with(".camvault") {
                    continue;
                }
                let ft = entry.file_type().await.map_err(|e| io_error("cannot list", &path, e))?;
                if ft.is_dir() {
                    // Every key below sorts between `rel/` and the next sibling: a folder
                    // wholly before the resume point is not walked again.
                    let below = format!("{rel}/");
                    if after.is_empty() || below.as_str() > after || after.starts_with(&below) {
                        stack.push(path);
                    }
                } else if ft.is_file() && rel.starts_with(prefix) && rel > after {
                    keys.push(rel.to_string());
                }
            }
        }
        keys.sort();
        let more = keys.len() > max as usize;
        keys.truncate(max as usize);
        let (rules, now) = (self.rules().await, self.now_ms());
        let mut objects = Vec::with_capacity(keys.len());
        for k in keys {
            if let Some(m) = self.head_with(&k, &rules, now).await? {
                objects.push(m);
            }
        }
        Ok(super::listing::ListPage { objects, more })
    }

    async fn get_lifecycle(&self) -> StoreResult<Option<String>> {
        self.root_ok()?;
        let p = self.root.join(LIFECYCLE);
        match tokio::fs::read_to_string(&p).await {
            Ok(x) => Ok(Some(x)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error("cannot read", &p, e)),
        }
    }

    async fn put_lifecycle(&self, xml: &str) -> StoreResult<()> {
        self.root_ok()?;
        let p = self.root.join(LIFECYCLE);
        Self::ensure_parent(&p).await?;
        tokio::fs::write(&p, xml)
            .await
            .map_err(|e| io_error("cannot write", &p, e))
    }

    async fn restore(&self, key: &str, days: u32, tier: RestoreTier) -> StoreResult<RestoreAnswer> {
        let now = self.now_ms();
        let Some(head) = self.head(key).await? else {
            return Err(StoreError::new(
                ErrorKind::NotFound,
                format!("restore {key}: no such object"),
            ));
        };
        if !super::is_archive_class(&head.storage_class) {
            return Err(StoreError::new(
                ErrorKind::Refused,
                format!(
                    "restore {key}: the object is in {}, which is readable without a restore",
                    head.storage_class
                ),
            ));
        }
        let Some(mut meta) = self.read_meta(key).await else {
            return Err(StoreError::new(
                ErrorKind::NotFound,
                format!("restore {key}: no metadata"),
            ));
        };
        let days_ms = i64::from(days.max(1)) * DAY_MS;
        meta.restore_requests += 1;
        let (answer, restore) = match head.restore {
            RestoreState::InProgress => {
                self.write_meta(key, &meta).await?;
                return Ok(RestoreAnswer::AlreadyInProgress);
            }
            RestoreState::Ready { .. } => (
                RestoreAnswer::AlreadyRestored,
                Restore {
                    ready_ms: meta.restore.map_or(now, |r| r.ready_ms),
                    expires_ms: now + days_ms,
                },
            ),
            RestoreState::None => {
                let secs = match tier {
                    RestoreTier::Expedited => self.restore_secs[0],
                    RestoreTier::Standard => self.restore_secs[1],
                    RestoreTier::Bulk => self.restore_secs[2],
                };
                let ready_ms = now + (secs as i64).saturating_mul(1000);
                (
                    RestoreAnswer::Started,
                    Restore {
                        ready_ms,
                        expires_ms: ready_ms + days_ms,
                    },
                )
            }
        };
        meta.restore = Some(restore);
        self.write_meta(key, &meta).await?;
        Ok(answer)
    }

    fn now_ms(&self) -> i64 {
        let real = match &self.clock {
            Some(clock) => clock(),
            None => jiff::Timestamp::now().as_millisecond(),
        };
        real + self.clock_offset_ms()
    }

    async fn delete_probe_unchecked(&self, key: &str) -> StoreResult<()> {
        let path = self.object_path(key)?;
        let _ = tokio::fs::remove_file(self.meta_path(key)).await;
        tokio::fs::remove_file(&path)
            .await
            .map_err(|e| io_error("cannot remove probe", &path, e))
    }

    async fn check(&self) -> StoreResult<()> {
        self.root_ok()?;
        let dir = self.root.join(TMP_DIR);
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| io_error("cannot write to store", &dir, e))?;
        let probe = dir.join(format!("check.{}", std::process::id()));
        tokio::fs::write(&probe, b"camvault")
            .await
            .map_err(|e| io_error("cannot write to store", &probe, e))?;
        let _ = tokio::fs::remove_file(&probe).await;
        Ok(())
    }
}

impl From<StoreError> for std::io::Error {
    fn from(e: StoreError) -> Self {
        std::io::Error::other(e.message)
    }
}
