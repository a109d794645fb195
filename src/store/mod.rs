//! Object stores behind one interface.
//!
//! Invariants every backend keeps (and `tests/` checks on each):
//! - `put` never overwrites: an existing key answers [`ErrorKind::AlreadyExists`].
//! - An object is visible to `head` only once all its bytes are stored.
//! - The pipeline never deletes. The one delete here, [`delete_probe`], removes only
//!   `store test`'s probe objects under [`PROBE_PREFIX`], and checks that itself.
//!
//! Backends: `fs` (a directory used as a bucket, the embedded default), `oss`
//! (Aliyun OSS, native API) and `s3` (any S3-compatible store). Storage classes are
//! camvault's (OSS's) names everywhere outside a backend; `s3` translates.

pub mod body;
pub mod checksum;
pub mod credentials;
pub mod fault;
pub mod fs;
pub(crate) mod http;
pub mod lifecycle;
pub mod limit;
pub mod listing;
pub(crate) mod multipart;
pub mod oss;
pub mod readonly;
pub mod replication;
pub mod s3;
pub mod settings;
pub(crate) mod transfer;
pub mod usage;

use std::path::Path;

use async_trait::async_trait;
use tokio::io::AsyncRead;

use crate::store::body::Body;

/// What a store says about one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    pub key: String,
    pub size: u64,
    /// CRC-64/XZ of the bytes as hex, when the store knows it.
    pub crc64: Option<String>,
    pub storage_class: String,
    pub modified_ms: i64,
    /// The readable copy of an archived object, from `x-oss-restore` / `x-amz-restore`.
    pub restore: RestoreState,
    /// When a lifecycle rule moved the object to its archive class (`x-oss-transition-time`),
    /// when the store says so. Archive classes bill a minimum duration from this moment.
    pub transition_ms: Option<i64>,
    /// Why the store's own checks say the bytes are not the ones camvault uploaded (S3:
    /// the ETag or `x-amz-checksum-*` contradicts what camvault sent), so that `verify`
    /// fails even where the CRC-64 metadata was kept.
    pub damaged: Option<String>,
}

impl ObjectMeta {
    /// Whether a GET works now: the class is readable, or a restored copy is ready.
    pub fn readable(&self) -> bool {
        !is_archive_class(&self.storage_class) || matches!(self.restore, RestoreState::Ready { .. })
    }
}

/// Classes whose objects must be restored before they can be read, by camvault's (OSS's)
/// name or S3's: S3's `GLACIER_IR` (camvault's `Archive` on S3) is read without a restore.
pub fn is_archive_class(class: &str) -> bool {
    use crate::config::StorageClass;
    match StorageClass::from_name(class) {
        Some(c) => c.is_archive(),
        None => StorageClass::from_s3_name(class).is_some_and(StorageClass::s3_needs_restore),
    }
}

/// How fast an archived object is brought back: a config value (`restore.tier`), so it
/// lives in `config`.
pub use crate::config::RestoreTier;

/// Where the readable copy of an archived object stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RestoreState {
    /// No restore asked for, or the last restored copy expired.
    #[default]
    None,
    InProgress,
    /// Readable until `expires_ms` (0 when the store did not say).
    Ready {
        expires_ms: i64,
    },
}

/// What a restore request got back. All three are success: asking twice is harmless.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestoreAnswer {
    /// 202: the store started restoring.
    Started,
    /// 409 RestoreAlreadyInProgress: an earlier request is still running.
    AlreadyInProgress,
    /// 200: a restored copy is already readable (its time was extended).
    AlreadyRestored,
}

/// Parses `ongoing-request="false", expiry-date="Sun, 16 Apr 2017 08:12:33 GMT"`, the
/// value of both `x-oss-restore` and `x-amz-restore`.
pub fn parse_restore_header(value: &str) -> RestoreState {
    let field = |name: &str| {
        let start = value.find(name)? + name.len();
        let rest = value[start..]
            .trim_start()
            .strip_prefix('=')?
            .trim_start()
            .strip_prefix('"')?;
        rest.split('"').next()
    };
    match field("ongoing-request") {
        Some("true") => RestoreState::InProgress,
        Some("false") => {
            let expires_ms = field("expiry-date")
                .and_then(|d| jiff::fmt::rfc2822::parse(d).ok())
                .map_or(0, |z| z.timestamp().as_millisecond());
            RestoreState::Ready { expires_ms }
        }
        _ => RestoreState::None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    NotFound,
    /// The key is taken; nothing was written.
    AlreadyExists,
    /// The object is in an archive class and must be restored before reading.
    Archived,
    /// The store refused for good (permissions, read-only, missing root): a person must act.
    Refused,
    /// Network, timeouts, 5xx, local I/O hiccups: retry.
    Transient,
}

/// A store's error code: the `<Code>` of its XML error body (S3 and OSS write it alike),
/// the ones camvault acts on by name and the rest as they came. Callers match on it,
/// never on the text of an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Code {
    NoSuchKey,
    NoSuchUpload,
    NoSuchBucket,
    /// S3: the object is archived (or, to RestoreObject, not archived).
    InvalidObjectState,
    /// The store does not implement the request (optional APIs of S3-compatible stores).
    NotImplemented,
    /// S3: `If-None-Match: *` found the key taken.
    PreconditionFailed,
    /// OSS: `x-oss-forbid-overwrite` found the key taken.
    FileAlreadyExists,
    InvalidPart,
    InvalidPartOrder,
    RestoreAlreadyInProgress,
    InvalidArgument,
    InvalidRequest,
    AccessDenied,
    NoSuchLifecycleConfiguration,
    NoSuchWORMConfiguration,
    NoSuchReplicationConfiguration,
    ObjectLockConfigurationNotFound,
    /// Any other code, as the store wrote it.
    Other(String),
}

impl Code {
    /// Names as stores write them; the first of a code's names is the one shown.
    const NAMED: [(&'static str, Code); 18] = [
        ("NoSuchKey", Code::NoSuchKey),
        ("NoSuchUpload", Code::NoSuchUpload),
        ("NoSuchBucket", Code::NoSuchBucket),
        ("InvalidObjectState", Code::InvalidObjectState),
        ("NotImplemented", Code::NotImplemented),
        ("PreconditionFailed", Code::PreconditionFailed),
        ("FileAlreadyExists", Code::FileAlreadyExists),
        ("InvalidPart", Code::InvalidPart),
        ("InvalidPartOrder", Code::InvalidPartOrder),
        ("RestoreAlreadyInProgress", Code::RestoreAlreadyInProgress),
        ("InvalidArgument", Code::InvalidArgument),
        ("InvalidRequest", Code::InvalidRequest),
        ("AccessDenied", Code::AccessDenied),
        ("NoSuchLifecycleConfiguration", Code::NoSuchLifecycleConfiguration),
        ("NoSuchWORMConfiguration", Code::NoSuchWORMConfiguration),
        ("NoSuchReplicationConfiguration", Code::NoSuchReplicationConfiguration),
        ("ObjectLockConfigurationNotFound", Code::ObjectLockConfigurationNotFound),
        // AWS's documented name (and moto's) carries `Error`.
        (
            "ObjectLockConfigurationNotFoundError",
            Code::ObjectLockConfigurationNotFound,
        ),
    ];

    /// The code of an error body; `None` for an empty one.
    pub fn parse(code: &str) -> Option<Code> {
        let code = code.trim();
        if code.is_empty() {
            return None;
        }
        Some(
            Self::NAMED
                .iter()
                .find(|(n, _)| *n == code)
                .map_or_else(|| Code::Other(code.to_string()), |(_, c)| c.clone()),
        )
    }

    /// The code as stores write it.
    pub fn as_str(&self) -> &str {
        match self {
            Code::Other(s) => s,
            c => Self::NAMED.iter().find(|(_, n)| n == c).map_or("", |(s, _)| s),
        }
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What went wrong with a store request: how to react ([`ErrorKind`]), what the store
/// answered (HTTP status and [`Code`], when it answered), and a message for people that
/// names the key and what to do.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct StoreError {
    pub kind: ErrorKind,
    /// The store's `<Code>`, when its answer had one.
    pub code: Option<Code>,
    /// The HTTP status of the store's answer, when there was an answer.
    pub status: Option<u16>,
    /// The store's own `<Message>`, as it wrote it (shown inside `message` too).
    pub detail: String,
    pub message: String,
}

impl StoreError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> StoreError {
        StoreError {
            kind,
            code: None,
            status: None,
            detail: String::new(),
            message: message.into(),
        }
    }

    /// An error the store answered with `status` and the error body's `code` and `detail`.
    pub fn answered(kind: ErrorKind, status: u16, code: Option<Code>, detail: &str, message: String) -> StoreError {
        StoreError {
            kind,
            code,
            status: Some(status),
            detail: detail.to_string(),
            message,
        }
    }

    /// Whether the store answered with error code `code`.
    pub fn is(&self, code: Code) -> bool {
        self.code.as_ref() == Some(&code)
    }

    /// Whether the store said it does not implement the request (501 or `NotImplemented`):
    /// asking again gets the same answer, so callers fall back instead.
    pub fn not_implemented(&self) -> bool {
        self.status == Some(501) || self.is(Code::NotImplemented)
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

pub type Reader = Box<dyn AsyncRead + Send + Unpin>;

#[async_trait]
pub trait Backend: Send + Sync {
    /// One line for logs and `doctor`, without secrets.
    fn describe(&self) -> String;

    /// Stores `body` under `key` in `storage_class`, refusing to overwrite.
    async fn put(&self, key: &str, body: &mut Body, storage_class: &str) -> StoreResult<()>;

    /// The object's metadata, `None` when absent.
    async fn head(&self, key: &str) -> StoreResult<Option<ObjectMeta>>;

    /// Streams the object's bytes in `range` (end exclusive), or all of them.
    async fn get_range(&self, key: &str, range: Option<std::ops::Range<u64>>) -> StoreResult<Reader>;

    /// Streams the object's bytes.
    async fn get(&self, key: &str) -> StoreResult<Reader> {
        self.get_range(key, None).await
    }

    /// Objects whose key starts with `prefix`, in key order (CRC-64 not included).
    async fn list(&self, prefix: &str) -> StoreResult<Vec<ObjectMeta>>;

    /// At most `max` objects under `prefix` whose key sorts after `start_after`, in key
    /// order: one page of a listing that can be resumed from its last key (S3's and OSS's
    /// `start-after`), as `adopt` does after an interruption. This default lists everything.
    async fn list_after(&self, prefix: &str, start_after: Option<&str>, max: u32) -> StoreResult<listing::ListPage> {
        let mut objects = self.list(prefix).await?;
        if let Some(after) = start_after {
            objects.retain(|o| o.key.as_str() > after);
        }
        let more = objects.len() > max as usize;
        objects.truncate(max as usize);
        Ok(listing::ListPage { objects, more })
    }

    /// Checks that the store is there and writable, without writing an object.
    async fn check(&self) -> StoreResult<()>;

    /// The bucket's lifecycle configuration as XML, `None` when it has none.
    async fn get_lifecycle(&self) -> StoreResult<Option<String>>;

    /// Replaces the bucket's whole lifecycle configuration (see `lifecycle::merge`).
    async fn put_lifecycle(&self, xml: &str) -> StoreResult<()>;

    /// Asks for a readable copy of an archived object for `days` days.
    async fn restore(&self, key: &str, days: u32, tier: RestoreTier) -> StoreResult<RestoreAnswer>;

    /// The store's own clock, in milliseconds. Restore expiry times and object ages are
    /// in this clock; only the `fs` backend's emulation differs from the real time.
    fn now_ms(&self) -> i64 {
        jiff::Timestamp::now().as_millisecond()
    }

    /// Removes one of `store test`'s own probe objects. Callers go through
    /// [`delete_probe`], which refuses every key outside [`PROBE_PREFIX`].
    async fn delete_probe_unchecked(&self, key: &str) -> StoreResult<()>;

    /// The bucket's WORM (write once, read many) retention, where the store has one.
    /// The bucket's redundancy, location and versioning, where the store says
    /// (see [`settings`]); `None` for a store without such settings (`fs`).
    async fn bucket_settings(&self) -> StoreResult<Option<settings::BucketSettings>> {
        Ok(None)
    }

    /// The bucket's replication rules (OSS GetBucketReplication, see [`replication`]):
    /// `None` where the store has no such thing, an empty list for a bucket without rules.
    async fn replication(&self) -> StoreResult<Option<Vec<replication::Rule>>> {
        Ok(None)
    }

    /// The store's own count of objects and bytes by class (OSS GetBucketStat); `None`
    /// where the store has none, and a listing must be summed instead.
    async fn bucket_stat(&self) -> StoreResult<Option<usage::BucketUsage>> {
        Ok(None)
    }

    async fn worm(&self) -> StoreResult<WormStatus> {
        Ok(WormStatus::Unsupported(self.no_worm()))
    }

    /// Starts a WORM retention of `days` days (InitiateBucketWorm); answers its id. It
    /// lapses unless locked with [`Backend::lock_worm`] within 24 hours.
    async fn initiate_worm(&self, _days: u32) -> StoreResult<String> {
        Err(StoreError::new(ErrorKind::Refused, self.no_worm()))
    }

    /// Locks the WORM `id` (CompleteBucketWorm): from then on it can never be shortened or removed.
    async fn lock_worm(&self, _id: &str) -> StoreResult<()> {
        Err(StoreError::new(ErrorKind::Refused, self.no_worm()))
    }

    /// What the store did with the additional checksums of the uploads so far (`store
    /// test` asks after its probe), and whether that is as it should be; `None` when the
    /// store has nothing to say (its own checksum is always checked).
    fn checksum_report(&self) -> Option<(bool, String)> {
        None
    }

    /// Why this store has no bucket WORM.
    fn no_worm(&self) -> String {
        format!(
            "bucket WORM is an Aliyun OSS feature; not supported on {}",
            self.describe()
        )
    }
}

/// A bucket's WORM configuration (OSS GetBucketWorm).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Worm {
    pub id: String,
    /// `InProgress` (initiated; lapses unless locked within 24 h) or `Locked`.
    pub state: String,
    pub days: u32,
    pub created: String,
    /// When an `InProgress` configuration lapses, if the store says.
    pub expires: Option<String>,
}

impl Worm {
    pub fn locked(&self) -> bool {
        self.state == "Locked"
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WormStatus {
    /// The store has no such thing (why, in words).
    Unsupported(String),
    /// None configured: anyone with the key can delete.
    None,
    Configured(Worm),
    /// The store's own kind of retention (S3 Object Lock), in words, and whether it
    /// protects the recordings.
    Described {
        good: bool,
        line: String,
    },
}

impl WormStatus {
    /// One line for `store test` and `doctor`, and whether it is as it should be.
    pub fn summary(&self) -> (bool, String) {
        match self {
            WormStatus::Unsupported(why) => (true, why.clone()),
            WormStatus::Described { good, line } => (*good, line.clone()),
            WormStatus::None => (
                false,
                "no WORM: anyone with the key can delete recordings (`camvault store worm --days N` protects them)".into(),
            ),
            WormStatus::Configured(w) if w.locked() => (
                true,
                format!(
                    "WORM locked: recordings are protected from deletion for {} days after upload",
                    w.days
                ),
            ),
            WormStatus::Configured(w) => (
                false,
                format!(
                    "WORM of {} days initiated but not locked: it lapses{} unless locked with `camvault store worm --lock`",
                    w.days,
                    w.expires.as_deref().map(|e| format!(" at {e}")).unwrap_or_else(|| " 24 h after it was started".into())
                ),
            ),
        }
    }
}

/// One part a multipart upload has stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartDone {
    /// 1-based.
    pub part: u32,
    pub size: u64,
    pub etag: String,
    /// The part's checksum as the backend computed it (S3: MD5 hex).
    pub checksum: Option<String>,
}

/// A multipart upload in progress, as the journal remembers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultipartProgress {
    pub key: String,
    pub upload_id: String,
    pub part_size: u64,
    pub parts: Vec<PartDone>,
}

/// Where a multipart upload keeps its progress so that a restart resumes it (the
/// catalog, keyed by file id). A body without one is uploaded in parts all the same,
/// only not resumably.
pub trait MultipartJournal: Send + Sync {
    fn load(&self, file_id: i64) -> anyhow::Result<Option<MultipartProgress>>;
    /// Forgets any earlier upload of the file and records this one.
    fn begin(&self, file_id: i64, key: &str, upload_id: &str, part_size: u64) -> anyhow::Result<()>;
    fn part_done(&self, file_id: i64, part: &PartDone) -> anyhow::Result<()>;
    /// The upload completed or was given up: nothing left to resume.
    fn finish(&self, file_id: i64) -> anyhow::Result<()>;
}

/// The only prefix camvault ever deletes under: `store test`'s probe objects.
pub const PROBE_PREFIX: &str = "camvault-probe/";

/// Deletes a probe object; any other key is refused, so no recording can be deleted.
pub async fn delete_probe(store: &dyn Backend, key: &str) -> StoreResult<()> {
    if !key.starts_with(PROBE_PREFIX) || key.contains("..") {
        return Err(StoreError::new(
            ErrorKind::Refused,
            format!("refusing to delete {key:?}: camvault deletes nothing but its own probes"),
        ));
    }
    store.delete_probe_unchecked(key).await
}

/// Builds the configured backend.
pub fn open(cfg: &crate::config::Config) -> anyhow::Result<Box<dyn Backend>> {
    match cfg.store.kind {
        crate::config::StoreKind::Fs => Ok(Box::new(fs::FsStore::from_config(cfg))),
        crate::config::StoreKind::Oss => Ok(Box::new(oss::OssStore::new(cfg)?)),
        crate::config::StoreKind::S3 => Ok(Box::new(s3::S3Store::new(cfg)?)),
    }
}

/// The HTTP `Range` header for `range` (end exclusive); an empty range is refused.
pub fn range_header(key: &str, range: &std::ops::Range<u64>) -> StoreResult<String> {
    if range.start >= range.end {
        return Err(StoreError::new(
            ErrorKind::Refused,
            format!("GET {key}: empty range {}..{}", range.start, range.end),
        ));
    }
    Ok(format!("bytes={}-{}", range.start, range.end - 1))
}

/// Hex form used everywhere a CRC-64 is stored or compared.
pub fn crc_hex(crc: u64) -> String {
    format!("{crc:016x}")
}

/// Maps a local I/O error on `path` to a store error the user can act on.
pub(crate) fn io_error(what: &str, path: &Path, e: std::io::Error) -> StoreError {
    use std::io::ErrorKind as K;
    let kind = match e.kind() {
        K::NotFound => ErrorKind::NotFound,
        K::PermissionDenied | K::ReadOnlyFilesystem => ErrorKind::Refused,
        K::AlreadyExists => ErrorKind::AlreadyExists,
        // ENAMETOOLONG: the same key fails the same way every time.
        _ if e.raw_os_error() == Some(libc::ENAMETOOLONG) => ErrorKind::Refused,
        _ => ErrorKind::Transient,
    };
    let hint = match kind {
        ErrorKind::Refused if e.raw_os_error() == Some(libc::ENAMETOOLONG) => {
            "; a name in this key is longer than the store's filesystem allows (255 bytes)"
        }
        ErrorKind::Refused => "; give the camvault user write access, or remount read-write",
        _ if e.raw_os_error() == Some(28) => "; the store's disk is full: free space or move `store.fs.root`",
        _ => "",
    };
    StoreError::new(kind, format!("{what} {}: {e}{hint}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_parsed_by_name() {
        assert_eq!(Code::parse(" NoSuchKey "), Some(Code::NoSuchKey));
        assert_eq!(Code::parse(""), None);
        for name in [
            "ObjectLockConfigurationNotFound",
            "ObjectLockConfigurationNotFoundError",
        ] {
            assert_eq!(Code::parse(name), Some(Code::ObjectLockConfigurationNotFound), "{name}");
        }
        assert_eq!(Code::parse("SlowDown"), Some(Code::Other("SlowDown".into())));
        assert_eq!(Code::NotImplemented.as_str(), "NotImplemented");
        let e = s3::explain(reqwest::StatusCode::NOT_IMPLEMENTED, None, "", "GET lifecycle", "x");
        assert!(e.not_implemented() && e.kind == ErrorKind::Refused, "{e:?}");
        let e = oss::explain(
            reqwest::StatusCode::NOT_FOUND,
            "<Error><Code>NoSuchKey</Code></Error>",
            "GET k",
        );
        assert_eq!(
            (e.kind, e.status, e.code),
            (ErrorKind::NotFound, Some(404), Some(Code::NoSuchKey))
        );
    }

    #[test]
    fn restore_header() {
        assert_eq!(
            parse_restore_header(r#"ongoing-request="true""#),
            RestoreState::InProgress
        );
        assert_eq!(
            parse_restore_header(r#"ongoing-request="false", expiry-date="Sun, 16 Apr 2017 08:12:33 GMT""#),
            RestoreState::Ready {
                expires_ms: 1_492_330_353_000
            }
        );
        assert_eq!(
            parse_restore_header(r#"ongoing-request="false""#),
            RestoreState::Ready { expires_ms: 0 }
        );
        for junk in [
            "",
            "ongoing-request",
            "ongoing-request=\"",
            "x=\"true\"",
            "ongoing-request=\"maybe\"",
        ] {
            assert_eq!(parse_restore_header(junk), RestoreState::None, "{junk}");
        }
    }

    #[tokio::test]
    async fn only_probes_can_be_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let store = fs::FsStore::new(dir.path(), false);
        let rec = dir.path().join("videos/door/clip.mp4");
        std::fs::create_dir_all(rec.parent().unwrap()).unwrap();
        std::fs::write(&rec, b"recording").unwrap();
        for key in [
            "videos/door/clip.mp4",
            "camvault-probe/../videos/door/clip.mp4",
            "camvault-probe",
            "",
        ] {
            let err = delete_probe(&store, key).await.unwrap_err();
            assert_eq!(err.kind, ErrorKind::Refused, "{key}");
        }
        assert!(rec.exists(), "no recording can be deleted");
    }
}
