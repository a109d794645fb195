//! Typed configuration: one TOML file, every key with a default.
//!
//! Unknown keys and bad values are errors that name the key, because a typo in a config
//! that silently falls back to a default is how clips get lost. Relative paths are taken
//! relative to the directory of the config file, so a data directory can be moved whole.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use jiff::tz::TimeZone;
use serde::{de, Deserialize, Deserializer};

/// The file read when neither `--config` nor `$CAMVAULT_CONFIG` is given.
/// The config the Debian package installs (debian/packaged-config.sh).
pub const PACKAGED_FILE: &str = "/etc/camvault/camvault.toml";
pub const DEFAULT_FILE: &str = "camvault.toml";

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub paths: Paths,
    pub capture: Capture,
    pub upload: Upload,
    pub store: Store,
    pub cache: Cache,
    pub tiering: Tiering,
    pub prices: Prices,
    pub log: Log,
    pub samba: Samba,
    pub http: Http,
    pub health: Health,
    pub alerts: Alerts,
    pub verify: Verify,
    pub restore: Restore,
    pub index: Index,
    /// Per camera, keyed by MAC (12 hex digits, any case, `:` or `-` allowed).
    pub cameras: BTreeMap<String, Camera>,
    /// Where the file was read from; set by [`Config::load`].
    #[serde(skip)]
    pub source: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Paths {
    pub inbox: PathBuf,
    pub vault: PathBuf,
    pub catalog: PathBuf,
}

impl Default for Paths {
    fn default() -> Self {
        Paths {
            inbox: "inbox".into(),
            vault: "vault".into(),
            catalog: "catalog.sqlite".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Capture {
    /// A file is complete when its size and mtime have not changed for this long.
    pub settle_secs: u64,
    /// Full rescan of the inbox, the safety net under inotify.
    pub rescan_secs: u64,
    /// Zone of cameras without their own; empty = the host's zone.
    pub timezone: String,
    /// A file the camera may still append to (fragmented MP4, in-progress name) is held
    /// this long after its last write before it is uploaded (or, for an in-progress name,
    /// captured): longer than the camera's NAS sync interval, so that a clip written in
    /// bursts is uploaded once, finished (docs/cameras.md).
    pub hold_secs: u64,
}

impl Default for Capture {
    fn default() -> Self {
        Capture {
            settle_secs: 120,
            rescan_secs: 300,
            timezone: String::new(),
            hold_secs: 3900,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Upload {
    pub concurrency: usize,
    pub retry_initial_secs: u64,
    pub retry_max_secs: u64,
    /// Bytes per second across all uploads; 0 = unlimited.
    pub bandwidth_limit: ByteSize,
    /// Time-of-day overrides of `bandwidth_limit`, in the host's zone.
    pub bandwidth_schedule: Vec<BandwidthWindow>,
}

impl Default for Upload {
    fn default() -> Self {
        Upload {
            concurrency: 2,
            retry_initial_secs: 5,
            retry_max_secs: 3600,
            bandwidth_limit: ByteSize(0),
            bandwidth_schedule: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BandwidthWindow {
    /// `HH:MM`, inclusive.
    pub from: String,
    /// `HH:MM`, exclusive; may be earlier than `from` to wrap past midnight.
    pub to: String,
    pub limit: ByteSize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Store {
    pub kind: StoreKind,
    /// Placeholders: {camera} {date} {hour} {file} {mac} {channel} {year} {month} {day}.
    pub key_template: String,
    pub storage_class: String,
    pub fs: FsStore,
    pub oss: OssStore,
    pub s3: S3Store,
}

impl Default for Store {
    fn default() -> Self {
        Store {
            kind: StoreKind::Fs,
            key_template: "videos/{camera}/{date}/{hour}/{file}".into(),
            storage_class: "Standard".into(),
            fs: FsStore::default(),
            oss: OssStore::default(),
            s3: S3Store::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    Fs,
    Oss,
    S3,
}

/// A secret from the config: never shown by `Debug`, so never in a log line.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "\"***\"" })
    }
}

/// Aliyun OSS, native API (see docs and the backends issue for what is still to come).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OssStore {
    pub bucket: String,
    /// Region id such as `cn-beijing`.
    pub region: String,
    /// Empty = `oss-<region>[-internal].aliyuncs.com` over HTTPS; else a host or URL.
    pub endpoint: String,
    /// Use the free internal endpoint (only from an Aliyun ECS in the same region).
    pub internal: bool,
    /// `endpoint` is the bucket's own domain (custom domain / CNAME): no bucket in the host.
    pub cname: bool,
    pub access_key_id: String,
    pub access_key_secret: Secret,
    /// STS token for temporary credentials.
    pub security_token: Secret,
    /// A file (mode 0600) with `access_key_id = …`, `access_key_secret = …`, optionally
    /// `security_token = …` lines; else `$OSS_ACCESS_KEY_ID`, `$OSS_ACCESS_KEY_SECRET`,
    /// `$OSS_SESSION_TOKEN`.
    pub credentials_file: PathBuf,
    /// Seconds before a request without progress is abandoned (and retried).
    pub timeout_secs: u64,
    /// Files of at least this many MiB go up in parts, resumable after a crash.
    pub multipart_threshold_mb: u64,
    /// Size of each part in MiB (OSS takes 100 KiB to 5 GiB, at most 10000 parts).
    pub part_size_mb: u64,
    /// How requests are signed: `"v4"` (OSS4-HMAC-SHA256, the default) or `"v1"`.
    pub signature: OssSignature,
}

/// `store.oss.signature`. V4 is strongly preferred: Aliyun no longer accepts V1 for new
/// accounts and buckets. V1 (HMAC-SHA1) exists only for buckets created before V4 was
/// required on them and for old on-premise OSS-compatible gateways that never learned V4.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum OssSignature {
    #[default]
    V4,
    V1,
}

impl TryFrom<String> for OssSignature {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        // The key is named here because serde's message would only give the bad value.
        match s.as_str() {
            "v4" | "V4" => Ok(OssSignature::V4),
            "v1" | "V1" => Ok(OssSignature::V1),
            _ => Err(format!(
                "`store.oss.signature` = {s:?}: use \"v4\" (the default) or \"v1\" (only for old buckets and OSS-compatible gateways that refuse V4)"
            )),
        }
    }
}

impl Default for OssStore {
    fn default() -> Self {
        OssStore {
            bucket: String::new(),
            region: String::new(),
            endpoint: String::new(),
            internal: false,
            cname: false,
            access_key_id: String::new(),
            access_key_secret: Secret::default(),
            security_token: Secret::default(),
            credentials_file: PathBuf::new(),
            timeout_secs: 60,
            multipart_threshold_mb: 32,
            part_size_mb: 8,
            signature: OssSignature::V4,
        }
    }
}

/// Any S3-compatible store: AWS S3, Ceph RGW, MinIO, Garage.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct S3Store {
    /// `https://s3.<region>.amazonaws.com` when empty; else the store's URL.
    pub endpoint: String,
    pub region: String,
    pub bucket: String,
    /// `endpoint/bucket/key` instead of `bucket.endpoint/key` (MinIO, Ceph, Garage, moto).
    pub path_style: bool,
    pub access_key_id: String,
    pub secret_access_key: Secret,
    /// For temporary credentials (STS).
    pub session_token: Secret,
    /// A file (mode 0600) with `access_key_id = …`, `secret_access_key = …`, optionally
    /// `session_token = …` lines; else `$AWS_ACCESS_KEY_ID`, `$AWS_SECRET_ACCESS_KEY`,
    /// `$AWS_SESSION_TOKEN`.
    pub credentials_file: PathBuf,
    /// Seconds before a request without progress is abandoned (and retried).
    pub timeout_secs: u64,
    /// Files of at least this many MiB go up in parts, resumable after a crash.
    pub multipart_threshold_mb: u64,
    /// Size of each part in MiB (S3 takes 5 to 5120).
    pub part_size_mb: u64,
    /// Object Lock: each recording is locked for this many days after upload (0 = off);
    /// the bucket must have been created with Object Lock enabled.
    pub object_lock_days: u32,
    /// `COMPLIANCE` (nobody, not even the root account, can delete or shorten) or
    /// `GOVERNANCE` (users with s3:BypassGovernanceRetention can).
    pub object_lock_mode: String,
    /// The checksum the store is asked to check and keep besides `Content-MD5`:
    /// `auto` (CRC64NVME, and MD5 alone if the store refuses it), `crc64nvme`, `crc32c`,
    /// `sha256`, or `md5` (none besides MD5).
    pub checksum: String,
}

impl Default for S3Store {
    fn default() -> Self {
        S3Store {
            endpoint: String::new(),
            region: "us-east-1".into(),
            bucket: String::new(),
            path_style: false,
            access_key_id: String::new(),
            secret_access_key: Secret::default(),
            session_token: Secret::default(),
            credentials_file: PathBuf::new(),
            timeout_secs: 60,
            multipart_threshold_mb: 32,
            part_size_mb: 8,
            object_lock_days: 0,
            object_lock_mode: "COMPLIANCE".into(),
            checksum: "auto".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FsStore {
    pub root: PathBuf,
    /// fsync each object before reporting it stored; off only for throwaway stores.
    pub fsync: bool,
    /// How long an emulated restore takes, per tier (`lifecycle apply` on `fs` emulates
    /// archiving, so the restore workflow can be tried without a cloud account). Defaults:
    /// Deep Cold Archive's 12 h (Expedited) and 48 h (Standard).
    pub restore_expedited_secs: u64,
    pub restore_standard_secs: u64,
    pub restore_bulk_secs: u64,
}

impl Default for FsStore {
    fn default() -> Self {
        FsStore {
            root: "store".into(),
            fsync: true,
            restore_expedited_secs: 12 * 3600,
            restore_standard_secs: 48 * 3600,
            restore_bulk_secs: 48 * 3600,
        }
    }
}

/// The price table of the cost model, in CNY. Defaults: Aliyun OSS list prices for
/// cn-beijing, locally redundant storage, as of `taken`; check the current price page.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Prices {
    /// When the defaults were taken from the price page.
    pub taken: String,
    pub standard_gb_month: f64,
    pub ia_gb_month: f64,
    pub archive_gb_month: f64,
    pub cold_archive_gb_month: f64,
    pub deep_cold_archive_gb_month: f64,
    /// PUT requests per 10,000 (Standard).
    pub put_per_10k: f64,
    /// GET and HEAD requests per 10,000 (Standard).
    pub get_per_10k: f64,
    /// Lifecycle transition requests per 10,000: billed as PUT requests of the *source*
    /// class (Standard), not at an archive-class rate.
    pub transition_per_10k: f64,
    /// Outbound traffic to the internet per GB (downloads of restored clips; 0 on the
    /// internal endpoint).
    pub outbound_gb: f64,
    /// Data retrieval per GB: reading IA, restoring Archive, and restoring Cold Archive /
    /// Deep Cold Archive at each tier.
    pub ia_retrieval_gb: f64,
    pub archive_retrieval_gb: f64,
    pub cold_archive_expedited_gb: f64,
    pub cold_archive_standard_gb: f64,
    pub cold_archive_bulk_gb: f64,
    pub deep_cold_archive_expedited_gb: f64,
    pub deep_cold_archive_standard_gb: f64,
    /// RestoreObject requests per 10,000, by class and tier (Archive: the PUT price).
    pub archive_restore_per_10k: f64,
    pub cold_archive_expedited_per_10k: f64,
    pub cold_archive_standard_per_10k: f64,
    pub cold_archive_bulk_per_10k: f64,
    pub deep_cold_archive_expedited_per_10k: f64,
    pub deep_cold_archive_standard_per_10k: f64,
    /// Smallest billable object size.
    pub min_billable_kb: f64,
    /// Minimum storage durations in days: an object moved out or deleted sooner is billed
    /// for the rest.
    pub ia_min_days: u32,
    pub archive_min_days: u32,
    pub cold_archive_min_days: u32,
    pub deep_cold_archive_min_days: u32,
    /// Add request fees to `total_cny`.
    pub include_requests: bool,
}

impl Default for Prices {
    fn default() -> Self {
        Prices {
            taken: "2025-01".into(),
            standard_gb_month: 0.12,
            ia_gb_month: 0.08,
            archive_gb_month: 0.033,
            cold_archive_gb_month: 0.015,
            deep_cold_archive_gb_month: 0.0075,
            put_per_10k: 0.01,
            get_per_10k: 0.01,
            transition_per_10k: 0.01,
            outbound_gb: 0.5,
            ia_retrieval_gb: 0.0325,
            archive_retrieval_gb: 0.06,
            cold_archive_expedited_gb: 0.2,
            cold_archive_standard_gb: 0.06,
            cold_archive_bulk_gb: 0.03,
            deep_cold_archive_expedited_gb: 0.2,
            deep_cold_archive_standard_gb: 0.03,
            archive_restore_per_10k: 0.1,
            cold_archive_expedited_per_10k: 30.0,
            cold_archive_standard_per_10k: 3.0,
            cold_archive_bulk_per_10k: 0.3,
            deep_cold_archive_expedited_per_10k: 50.0,
            deep_cold_archive_standard_per_10k: 5.0,
            min_billable_kb: 64.0,
            ia_min_days: 30,
            archive_min_days: 60,
            cold_archive_min_days: 180,
            deep_cold_archive_min_days: 180,
            include_requests: false,
        }
    }
}

/// The bucket's lifecycle rule that moves recordings to an archive class.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Tiering {
    /// Days after upload before the rule moves an object.
    pub transition_days: u32,
    /// Target class: IA, Archive, ColdArchive or DeepColdArchive.
    pub storage_class: String,
}

impl Default for Tiering {
    fn default() -> Self {
        Tiering {
            transition_days: 30,
            storage_class: "DeepColdArchive".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Cache {
    /// Verified files kept in the vault, oldest purged first beyond this.
    pub max_bytes: ByteSize,
    /// Verified files older than this (by capture time) are purged.
    pub max_days: u64,
    /// Below this free space on the vault's disk, purge down to `min_days` and warn.
    pub min_free: ByteSize,
    /// Days of verified footage kept even when the disk is low.
    pub min_days: u64,
    /// How often the cache keeper runs.
    pub interval_secs: u64,
}

impl Default for Cache {
    fn default() -> Self {
        Cache {
            max_bytes: ByteSize(50 << 30),
            max_days: 30,
            min_free: ByteSize(5 << 30),
            min_days: 1,
            interval_secs: 60,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Log {
    pub format: LogFormat,
    /// A `tracing` filter such as `info` or `camvault=debug`.
    pub level: String,
}

/// The HTTP endpoint of `serve`: the web interface, `/metrics`, `/healthz`, the JSON API.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Http {
    pub enabled: bool,
    /// Address and port. Loopback: no login. Any other address needs `password_hash`.
    pub listen: String,
    /// Argon2 hash (PHC string) of the web password, written by `camvault passwd`.
    pub password_hash: Secret,
    /// Mark the session cookie `Secure` (sent over HTTPS only). Turn off only when browsers
    /// reach camvault over plain HTTP on a trusted LAN, without a TLS reverse proxy.
    pub secure_cookie: bool,
    /// A login session ends after this many hours.
    pub session_hours: u64,
    /// Where thumbnails and transcoded clips are kept (relative to the config's directory).
    pub cache_dir: PathBuf,
    /// Open HTTP connections at most (more wait until one closes): each holds a file
    /// descriptor that capture, the catalog and uploads also need.
    pub max_connections: usize,
}

impl Default for Http {
    fn default() -> Self {
        Http {
            enabled: true,
            listen: "127.0.0.1:8640".into(),
            password_hash: Secret::default(),
            secure_cookie: true,
            session_hours: 168,
            cache_dir: "webcache".into(),
            max_connections: 128,
        }
    }
}

/// The verification `serve` runs on its own.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Verify {
    /// Every stored object is checked (size and CRC-64 against the store) within this many days.
    pub period_days: u64,
    /// Random objects still in Standard re-read byte for byte every hour.
    pub deep_sample: usize,
}

impl Default for Verify {
    fn default() -> Self {
        Verify {
            period_days: 7,
            deep_sample: 1,
        }
    }
}

/// Bringing clips back from the archive classes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Restore {
    /// Where restored clips are put, one directory per restore.
    pub dir: PathBuf,
    /// `expedited`, `standard` or `bulk` (Deep Cold Archive: ≤ 12 h or ≤ 48 h).
    pub tier: crate::store::RestoreTier,
    /// Days a restored copy stays readable in the store (it is downloaded at once).
    pub days: u32,
    /// First wait before asking the store whether a restore is done; doubles up to `poll_max_secs`.
    pub poll_secs: u64,
    pub poll_max_secs: u64,
    /// `serve` restores one small archived clip this often and checks it byte for byte,
    /// proof that the archive can be read back; 0 = never.
    pub drill_days: u64,
}

impl Default for Restore {
    fn default() -> Self {
        Restore {
            dir: "restores".into(),
            tier: crate::store::RestoreTier::Standard,
            days: 3,
            poll_secs: 600,
            poll_max_secs: 3600,
            drill_days: 30,
        }
    }
}

/// Where and how alerts go.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Alerts {
    /// A problem still present is sent again after this many hours.
    pub repeat_hours: u64,
    /// `HH:MM-HH:MM` (this machine's zone) when nothing is sent; held messages go out after.
    pub quiet_hours: String,
    /// Seconds between evaluations in `serve`.
    pub interval_secs: u64,
    pub channel: Vec<Channel>,
}

impl Default for Alerts {
    fn default() -> Self {
        Alerts {
            repeat_hours: 24,
            quiet_hours: String::new(),
            interval_secs: 60,
            channel: Vec::new(),
        }
    }
}

/// One place alerts are sent to.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Channel {
    pub name: String,
    pub kind: ChannelKind,
    /// Webhook / robot / ntfy topic / Bark URL (Telegram: the API base, default https://api.telegram.org).
    #[serde(default)]
    pub url: String,
    /// Signing secret (DingTalk, Feishu).
    #[serde(default)]
    pub secret: Secret,
    /// Telegram bot token.
    #[serde(default)]
    pub token: Secret,
    /// Telegram chat id.
    #[serde(default)]
    pub chat_id: String,
    /// E-mail: `url` is `smtps://host[:465]` (TLS), `smtp://host[:587]` (STARTTLS, required)
    /// or `smtp+plain://host[:25]` (no encryption: a relay on this machine or LAN only).
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: Secret,
    /// Sender, e.g. `camvault <me@example.com>`.
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: Vec<String>,
    /// A PEM file with the CA of a relay whose certificate is self-signed.
    #[serde(default)]
    pub ca_file: PathBuf,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    Webhook,
    Ntfy,
    Telegram,
    Dingtalk,
    Wecom,
    Feishu,
    Bark,
    Email,
}

/// Thresholds of the health rules (`status`, `/healthz`, `camvault_health_problems`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Health {
    /// The oldest file not yet verified may wait this long.
    pub max_pending_age_secs: u64,
    /// A camera with no new file for this long (counting only its usual active hours,
    /// once learned) is reported silent.
    pub camera_silent_hours: u64,
    /// A camera clock off by more than this is reported.
    pub clock_skew_minutes: u64,
    /// Days past the transition age before an object still in Standard is reported.
    pub transition_grace_days: u64,
    /// More failing files than this is a problem.
    pub max_failed_files: u64,
    /// The catalog is backed up to the store this often (hours); a backup older than
    /// twice this is a problem.
    pub catalog_backup_hours: u64,
    /// `serve`'s resident memory above this for `resource_minutes` is a problem.
    pub max_rss: ByteSize,
    /// `serve`'s CPU use (percent of one core) above this for `resource_minutes` is a problem.
    pub max_cpu_percent: u64,
    /// How long RSS or CPU must stay above their limit before the `resources` rule fires.
    pub resource_minutes: u64,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            max_pending_age_secs: 3600,
            camera_silent_hours: 24,
            clock_skew_minutes: 10,
            transition_grace_days: 3,
            max_failed_files: 0,
            catalog_backup_hours: 24,
            max_rss: ByteSize(256 << 20),
            max_cpu_percent: 50,
            resource_minutes: 10,
        }
    }
}

/// The SMB share the camera writes to (see `docs/samba.md`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Samba {
    /// `serve` runs smbd (and nmbd when `netbios`) itself with the generated config.
    pub manage: bool,
    /// The Samba config `samba config --write` writes; empty = `<state_dir>/smb.conf`
    /// when managed, else `/etc/samba/camvault.conf` (included from Debian's smb.conf).
    pub config_file: PathBuf,
    /// The configuration the running smbd reads, for `samba check`; empty = `config_file`
    /// when managed, else `/etc/samba/smb.conf`.
    pub running_config: PathBuf,
    /// Share name the camera is given.
    pub share: String,
    /// The user the camera logs in as (a system user with a Samba password).
    pub camera_user: String,
    /// The unprivileged user the share acts as and writes files as; empty = `camera_user`.
    /// Never root (see `docs/security.md`).
    pub force_user: String,
    /// The group of the files the camera writes: camvault's own group, so that camvault can
    /// read and hard-link them; empty = the group of the vault unless that is root's, else
    /// the primary group of `force_user`. Never root.
    pub force_group: String,
    /// The camera user's password, for `samba check` only; prefer `password_file` or
    /// `$CAMVAULT_SAMBA_PASSWORD`. Never logged.
    pub password: Secret,
    pub password_file: PathBuf,
    pub netbios: bool,
    pub netbios_name: String,
    pub workgroup: String,
    /// Addresses allowed to connect (Samba `hosts allow` syntax, one entry each).
    pub hosts_allow: Vec<String>,
    /// Interfaces or addresses smbd listens on; empty = all.
    pub interfaces: Vec<String>,
    pub port: u16,
    /// Seconds after the last change from which a file can no longer be deleted,
    /// renamed, overwritten or written over SMB (`worm:grace_period`, judged by ctime);
    /// must outlast the camera's longest pause between writes to one file.
    pub grace_secs: u64,
    /// Managed smbd's private, lock, state and cache folders, and its log.
    pub state_dir: PathBuf,
    /// The smbd log holding the audit lines camvault reads; empty = `<state_dir>/log.smbd`.
    pub audit_log: PathBuf,
    /// Where `samba check` connects to the share.
    pub address: String,
}

impl Default for Samba {
    fn default() -> Self {
        Samba {
            manage: false,
            config_file: PathBuf::new(),
            running_config: PathBuf::new(),
            share: "camera".into(),
            camera_user: "camera".into(),
            force_user: String::new(),
            force_group: String::new(),
            password: Secret::default(),
            password_file: PathBuf::new(),
            netbios: true,
            netbios_name: "CAMVAULT".into(),
            workgroup: "WORKGROUP".into(),
            hosts_allow: vec![
                "127.0.0.1".into(),
                "192.168.0.0/16".into(),
                "10.0.0.0/8".into(),
                "172.16.0.0/12".into(),
            ],
            interfaces: Vec::new(),
            port: 445,
            // Longer than the camera's hourly NAS sync (python-miio: realtime 300 s, hour
            // 3600 s): worm counts from the last write (ctime), so a clip appended to every
            // sync stays writable, and a clip renamed when it ends can still be renamed.
            grace_secs: 3900,
            state_dir: "samba".into(),
            audit_log: PathBuf::new(),
            address: "127.0.0.1".into(),
        }
    }
}

impl Default for Log {
    fn default() -> Self {
        Log {
            format: LogFormat::Text,
            level: "info".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Camera {
    /// Display name and key component; default the MAC in lower case.
    pub name: String,
    /// IANA zone the camera's clock runs in; default `capture.timezone`, then the host's.
    pub timezone: String,
    /// Named zones of the picture, for the index (`[[cameras.<mac>.zones]]`).
    pub zones: Vec<crate::index::zones::Zone>,
}

/// `[index]`: motion indexing of every captured clip (src/index/).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Index {
    pub enabled: bool,
    /// Frames analysed per second of video (1-10).
    pub fps: u32,
    /// Preview strips and segment frames.
    pub dir: PathBuf,
    /// A YOLO-style ONNX detector; empty: motion only.
    pub detector: PathBuf,
    /// How often the indexer looks for new clips.
    pub interval_secs: u64,
}

impl Default for Index {
    fn default() -> Self {
        Index {
            enabled: true,
            fps: 4,
            dir: "index".into(),
            detector: PathBuf::new(),
            interval_secs: 10,
        }
    }
}

/// A byte count written as an integer or a string such as `"50 GiB"`, `"2MB"`, `"0"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct ByteSize(pub u64);

impl ByteSize {
    pub fn parse(s: &str) -> Result<ByteSize, String> {
        let t = s.trim();
        let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let n: f64 = num
            .parse()
            .map_err(|_| format!("{s:?} is not a size; write e.g. 500000, \"50 GiB\" or \"2 MB\""))?;
        let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "k" | "kb" => 1_000,
            "kib" => 1 << 10,
            "m" | "mb" => 1_000_000,
            "mib" => 1 << 20,
            "g" | "gb" => 1_000_000_000,
            "gib" => 1 << 30,
            "t" | "tb" => 1_000_000_000_000,
            "tib" => 1 << 40,
            other => {
                return Err(format!(
                    "unknown size unit {other:?} in {s:?}; use B, KB, KiB, MB, MiB, GB, GiB, TB or TiB"
                ))
            }
        };
        let v = n * mult as f64;
        if !(0.0..1.8e19).contains(&v) {
            return Err(format!("size {s:?} is out of range"));
        }
        Ok(ByteSize(v as u64))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&human_bytes(self.0))
    }
}

/// `1536` → `1.5 KiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[i])
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a byte count such as 1048576 or \"1 MiB\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ByteSize, E> {
                u64::try_from(v)
                    .map(ByteSize)
                    .map_err(|_| E::custom("a size cannot be negative"))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ByteSize, E> {
                Ok(ByteSize(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ByteSize, E> {
                ByteSize::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// A camera as the pipeline sees it: id used in keys, zone for its clock.
#[derive(Debug, Clone)]
pub struct CameraInfo {
    pub id: String,
    pub tz: TimeZone,
    pub tz_name: String,
}

impl Config {
    /// Finds the config: `--config`, else `$CAMVAULT_CONFIG` (clap fills that in), else
    /// `./camvault.toml`, else the Debian package's `/etc/camvault/camvault.toml` when it exists.
    pub fn locate(explicit: Option<&Path>) -> PathBuf {
        explicit.map(Path::to_path_buf).unwrap_or_else(|| {
            let local = PathBuf::from(DEFAULT_FILE);
            if !local.exists() && Path::new(PACKAGED_FILE).exists() {
                PathBuf::from(PACKAGED_FILE)
            } else {
                local
            }
        })
    }

    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).with_context(|| {
            format!(
                "cannot read config {}; create one with `camvault init`, or pass --config FILE / set CAMVAULT_CONFIG",
                path.display()
            )
        })?;
        let mut cfg = Config::parse(&text).with_context(|| format!("invalid config {}", path.display()))?;
        // Absolute, so that paths handed to smbd and other programs do not depend on the cwd.
        cfg.source = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        Ok(cfg)
    }

    pub fn parse(text: &str) -> Result<Config> {
        let cfg: Config = toml::from_str(text).map_err(|e| anyhow::anyhow!("{}", e.to_string().trim_end()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<()> {
        if !(1..=10).contains(&self.index.fps) {
            bail!("`index.fps` = {} must be between 1 and 10 (default 4)", self.index.fps);
        }
        if !self.index.detector.as_os_str().is_empty() {
            bail!(
                "`index.detector` = {:?}: object detection is not implemented in this version yet; leave it empty (motion indexing works without it)",
                self.index.detector
            );
        }
        for (mac, cam) in &self.cameras {
            for (i, z) in cam.zones.iter().enumerate() {
                z.check()
                    .map_err(|e| anyhow::anyhow!("`cameras.{mac}.zones[{i}]` ({:?}): {e}", z.name))?;
                if cam.zones[..i].iter().any(|o| o.name == z.name) {
                    bail!("`cameras.{mac}.zones[{i}]`: the name {:?} is used twice", z.name);
                }
            }
        }
        if self.capture.settle_secs == 0 {
            bail!("`capture.settle_secs` = 0 would capture files while the camera is still writing them; use at least 1 (default 120)");
        }
        if self.capture.rescan_secs == 0 {
            bail!("`capture.rescan_secs` must be at least 1 (default 300)");
        }
        if self.upload.concurrency == 0 || self.upload.concurrency > 64 {
            bail!(
                "`upload.concurrency` = {} must be between 1 and 64 (default 2)",
                self.upload.concurrency
            );
        }
        if self.upload.retry_initial_secs == 0 || self.upload.retry_max_secs < self.upload.retry_initial_secs {
            bail!("`upload.retry_initial_secs` must be at least 1 and not above `upload.retry_max_secs`");
        }
        for (i, w) in self.upload.bandwidth_schedule.iter().enumerate() {
            for (field, v) in [("from", &w.from), ("to", &w.to)] {
                parse_hhmm(v).map_err(|e| anyhow::anyhow!("`upload.bandwidth_schedule[{i}].{field}` = {v:?}: {e}"))?;
            }
        }
        crate::keys::Template::parse(&self.store.key_template)
            .map_err(|e| anyhow::anyhow!("`store.key_template` = {:?}: {e}", self.store.key_template))?;
        if !matches!(self.store.storage_class.as_str(), "Standard" | "STANDARD") {
            bail!(
                "`store.storage_class` = {:?}: upload in Standard and let the lifecycle rule move objects; writing straight into an archive class costs far more per request",
                self.store.storage_class
            );
        }
        if self.store.kind == StoreKind::Oss {
            let o = &self.store.oss;
            let ok = (3..=63).contains(&o.bucket.len())
                && o.bucket
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !o.bucket.starts_with('-')
                && !o.bucket.ends_with('-');
            if !ok {
                bail!(
                    "`store.oss.bucket` = {:?}: an OSS bucket name has 3-63 lower-case letters, digits and '-'",
                    o.bucket
                );
            }
            if o.region.is_empty()
                || !o
                    .region
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            {
                bail!("`store.oss.region` = {:?}: the bucket's region id, e.g. \"cn-beijing\" (see the bucket's overview in the OSS console)", o.region);
            }
            if o.cname && o.endpoint.is_empty() {
                bail!("`store.oss.cname` = true needs `store.oss.endpoint`: the bucket's custom domain");
            }
            if o.timeout_secs == 0 {
                bail!("`store.oss.timeout_secs` must be at least 1");
            }
            if !(1..=5120).contains(&o.part_size_mb) {
                bail!(
                    "`store.oss.part_size_mb` = {}: OSS takes parts of 1 to 5120 MiB",
                    o.part_size_mb
                );
            }
            if o.multipart_threshold_mb == 0 {
                bail!("`store.oss.multipart_threshold_mb` must be at least 1 (files from this size on go up in parts)");
            }
        }
        if self.store.kind == StoreKind::S3 {
            self.validate_s3()?;
        }
        if !matches!(
            self.tiering.storage_class.as_str(),
            "IA" | "Archive" | "ColdArchive" | "DeepColdArchive"
        ) {
            bail!(
                "`tiering.storage_class` = {:?}: use IA, Archive, ColdArchive or DeepColdArchive",
                self.tiering.storage_class
            );
        }
        if self.tiering.transition_days == 0 {
            bail!("`tiering.transition_days` must be at least 1 (OSS counts days since the last modification)");
        }
        if self.cache.interval_secs == 0 {
            bail!("`cache.interval_secs` must be at least 1");
        }
        if self.cache.min_days > self.cache.max_days {
            bail!(
                "`cache.min_days` ({}) cannot exceed `cache.max_days` ({})",
                self.cache.min_days,
                self.cache.max_days
            );
        }
        if !self.capture.timezone.is_empty() {
            zone(&self.capture.timezone).map_err(|e| anyhow::anyhow!("`capture.timezone`: {e}"))?;
        }
        tracing_subscriber::EnvFilter::try_new(&self.log.level).map_err(|e| {
            anyhow::anyhow!(
                "`log.level` = {:?}: {e}; use e.g. \"info\" or \"debug\"",
                self.log.level
            )
        })?;
        let sm = &self.samba;
        let word = |v: &str| {
            !v.is_empty() && v.len() <= 64 && v.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        };
        for (key, v) in [
            ("share", &sm.share),
            ("camera_user", &sm.camera_user),
            ("workgroup", &sm.workgroup),
            ("netbios_name", &sm.netbios_name),
        ] {
            if !word(v) {
                bail!("`samba.{key}` = {v:?}: use letters, digits, '-', '_' or '.' (no spaces)");
            }
        }
        for (key, v) in [("force_user", &sm.force_user), ("force_group", &sm.force_group)] {
            if !v.is_empty() && !word(v) {
                bail!("`samba.{key}` = {v:?}: not a user or group name");
            }
        }
        crate::samba::owner::refuse_root_names(sm)?;
        if sm.netbios_name.len() > 15 {
            bail!(
                "`samba.netbios_name` = {:?}: NetBIOS names have at most 15 characters",
                sm.netbios_name
            );
        }
        for (key, list) in [("hosts_allow", &sm.hosts_allow), ("interfaces", &sm.interfaces)] {
            for v in list.iter() {
                if v.is_empty() || v.contains(|c: char| c.is_whitespace() || c == ',' || c == '\n') {
                    bail!("`samba.{key}` entry {v:?}: one address, network or interface per entry, without spaces or commas");
                }
            }
        }
        if sm.hosts_allow.is_empty() {
            bail!("`samba.hosts_allow` is empty: list the camera's address or LAN, e.g. [\"192.168.1.0/24\"]");
        }
        if sm.port == 0 {
            bail!("`samba.port` must be 1-65535 (445 for cameras)");
        }
        if sm.grace_secs == 0 {
            bail!("`samba.grace_secs` = 0 would refuse the camera's own writes to a growing file; use at least 10 (default 3900, longer than the camera's hourly sync; see docs/cameras.md)");
        }
        match self.http.listen.parse::<std::net::SocketAddr>() {
            Err(_) => bail!("`http.listen` = {:?}: write an address and port such as \"127.0.0.1:8640\"", self.http.listen),
            Ok(a) if !a.ip().is_loopback() && self.http.password_hash.0.is_empty() => bail!(
                "`http.listen` = {:?} is not a loopback address, so the web interface needs a login: set a password with `camvault passwd` (it writes `http.password_hash`), or listen on 127.0.0.1",
                self.http.listen
            ),
            Ok(_) => {}
        }
        if !self.http.password_hash.0.is_empty() && !crate::web::auth::valid_hash(&self.http.password_hash.0) {
            bail!("`http.password_hash` is not an Argon2 hash; set it again with `camvault passwd`");
        }
        if self.http.session_hours == 0 {
            bail!("`http.session_hours` must be at least 1 (default 168)");
        }
        if self.health.camera_silent_hours == 0 || self.health.max_pending_age_secs == 0 {
            bail!("`health.camera_silent_hours` and `health.max_pending_age_secs` must be at least 1");
        }
        if self.health.max_rss.0 < 16 << 20 || self.health.max_cpu_percent == 0 || self.health.resource_minutes == 0 {
            bail!("`health.max_rss` must be at least 16 MiB (default \"256 MiB\"), `health.max_cpu_percent` and `health.resource_minutes` at least 1 (defaults 50 and 10)");
        }
        if !self.alerts.quiet_hours.is_empty() {
            let ok = self
                .alerts
                .quiet_hours
                .split_once('-')
                .is_some_and(|(a, b)| parse_hhmm(a).is_ok() && parse_hhmm(b).is_ok());
            if !ok {
                bail!(
                    "`alerts.quiet_hours` = {:?}: write \"22:00-07:00\", or \"\" for none",
                    self.alerts.quiet_hours
                );
            }
        }
        if !(1..=365).contains(&self.restore.days) {
            bail!(
                "`restore.days` = {}: between 1 and 365 (Archive accepts at most 7)",
                self.restore.days
            );
        }
        if self.restore.poll_secs == 0 || self.restore.poll_max_secs < self.restore.poll_secs {
            bail!("`restore.poll_secs` must be at least 1 and `restore.poll_max_secs` at least as large");
        }
        if self.verify.period_days == 0 {
            bail!("`verify.period_days` must be at least 1 (default 7)");
        }
        if self.alerts.interval_secs == 0 || self.alerts.repeat_hours == 0 {
            bail!("`alerts.interval_secs` and `alerts.repeat_hours` must be at least 1");
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, c) in self.alerts.channel.iter().enumerate() {
            if c.name.is_empty() || !names.insert(c.name.clone()) {
                bail!("`alerts.channel[{i}].name` must be set and unique");
            }
            let needs_url = !matches!(c.kind, ChannelKind::Telegram | ChannelKind::Email);
            if needs_url && !(c.url.starts_with("https://") || c.url.starts_with("http://")) {
                bail!(
                    "`alerts.channel[{i}].url` ({}) must be the http(s) URL of the {:?} endpoint",
                    c.name,
                    c.kind
                );
            }
            if c.kind == ChannelKind::Email {
                if let Err(e) = crate::alerts::email::parse_url(&c.url) {
                    bail!("`alerts.channel[{i}].url` ({}): {e}", c.name);
                }
                for a in c.to.iter().chain(std::iter::once(&c.from)) {
                    if a.parse::<lettre::message::Mailbox>().is_err() {
                        bail!(
                            "`alerts.channel[{i}]` ({}): {a:?} is not an e-mail address (`from` and every `to` must be one, e.g. \"camvault <me@example.com>\")",
                            c.name
                        );
                    }
                }
                if c.to.is_empty() {
                    bail!(
                        "`alerts.channel[{i}]` ({}): e-mail needs at least one address in `to`",
                        c.name
                    );
                }
            }
            if c.kind == ChannelKind::Telegram && (c.token.0.is_empty() || c.chat_id.is_empty()) {
                bail!(
                    "`alerts.channel[{i}]` ({}): telegram needs `token` and `chat_id`",
                    c.name
                );
            }
        }
        let mut seen = BTreeMap::new();
        for (key, cam) in &self.cameras {
            let mac = normalize_mac(key).ok_or_else(|| {
                anyhow::anyhow!("`cameras.{key}`: a camera is keyed by its MAC, 12 hex digits such as 78df72a1b2c3 (see the folder name the camera writes)")
            })?;
            if let Some(other) = seen.insert(mac.clone(), key) {
                bail!("`cameras.{key}` and `cameras.{other}` are the same camera ({mac})");
            }
            if !cam.timezone.is_empty() {
                zone(&cam.timezone).map_err(|e| anyhow::anyhow!("`cameras.{key}.timezone`: {e}"))?;
            }
            if !cam.name.is_empty() && !valid_camera_name(&cam.name) {
                bail!(
                    "`cameras.{key}.name` = {:?}: use letters, digits, '-', '_' or '.', up to 64 characters (it becomes part of object keys)",
                    cam.name
                );
            }
        }
        Ok(())
    }

    fn validate_s3(&self) -> Result<()> {
        let s = &self.store.s3;
        // The rules common to AWS and the S3-compatible stores (AWS is stricter about dots).
        let ok = (3..=63).contains(&s.bucket.len())
            && s.bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
            && s.bucket.as_bytes()[0].is_ascii_alphanumeric()
            && s.bucket.as_bytes()[s.bucket.len() - 1].is_ascii_alphanumeric();
        if !ok {
            bail!(
                "`store.s3.bucket` = {:?}: an S3 bucket name has 3-63 lower-case letters, digits, '-' and '.', and starts and ends with a letter or digit",
                s.bucket
            );
        }
        if s.region.is_empty()
            || !s
                .region
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            bail!(
                "`store.s3.region` = {:?}: the bucket's region, e.g. \"eu-central-1\" (MinIO and Ceph usually take \"us-east-1\")",
                s.region
            );
        }
        if !s.endpoint.is_empty() {
            let ok = reqwest::Url::parse(&s.endpoint)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some() && u.query().is_none());
            if ok.is_none() {
                bail!(
                    "`store.s3.endpoint` = {:?}: write the store's URL, e.g. \"https://s3.eu-central-1.amazonaws.com\" or \"http://nas.lan:9000\"",
                    s.endpoint
                );
            }
        }
        let host = reqwest::Url::parse(&s.endpoint)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_default();
        if !s.path_style
            && (host.parse::<std::net::IpAddr>().is_ok()
                || host.trim_matches(['[', ']']).parse::<std::net::Ipv6Addr>().is_ok()
                || host == "localhost")
        {
            bail!(
                "`store.s3.endpoint` = {:?} is an address, where a bucket cannot be put in front of the host name: set `store.s3.path_style = true`",
                s.endpoint
            );
        }
        if !s.path_style && s.bucket.contains('.') && !s.endpoint.starts_with("http://") {
            bail!("`store.s3.bucket` = {:?} has dots, which break HTTPS with virtual-host addressing: set `store.s3.path_style = true`", s.bucket);
        }
        if s.timeout_secs == 0 {
            bail!("`store.s3.timeout_secs` must be at least 1");
        }
        if !matches!(s.object_lock_mode.as_str(), "COMPLIANCE" | "GOVERNANCE") {
            bail!(
                "`store.s3.object_lock_mode` = {:?}: COMPLIANCE or GOVERNANCE",
                s.object_lock_mode
            );
        }
        if !matches!(s.checksum.as_str(), "auto" | "crc64nvme" | "crc32c" | "sha256" | "md5") {
            bail!(
                "`store.s3.checksum` = {:?}: auto, crc64nvme, crc32c, sha256 or md5",
                s.checksum
            );
        }
        if !(5..=5120).contains(&s.part_size_mb) {
            bail!(
                "`store.s3.part_size_mb` = {}: S3 takes parts of 5 to 5120 MiB",
                s.part_size_mb
            );
        }
        if s.multipart_threshold_mb < 5 {
            bail!(
                "`store.s3.multipart_threshold_mb` = {}: use at least 5 (parts below 5 MiB are refused)",
                s.multipart_threshold_mb
            );
        }
        Ok(())
    }

    fn base(&self) -> PathBuf {
        self.source.parent().map(Path::to_path_buf).unwrap_or_default()
    }

    fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            let base = self.base();
            if base.as_os_str().is_empty() {
                p.to_path_buf()
            } else {
                base.join(p)
            }
        }
    }

    pub fn inbox(&self) -> PathBuf {
        self.resolve(&self.paths.inbox)
    }
    pub fn vault(&self) -> PathBuf {
        self.resolve(&self.paths.vault)
    }
    pub fn restore_dir(&self) -> PathBuf {
        self.resolve(&self.restore.dir)
    }
    pub fn catalog(&self) -> PathBuf {
        self.resolve(&self.paths.catalog)
    }
    /// Thumbnails and transcoded clips of the web interface.
    pub fn web_cache(&self) -> PathBuf {
        self.resolve(&self.http.cache_dir)
    }
    /// The index's pictures (preview strips, segment frames).
    pub fn index_dir(&self) -> PathBuf {
        self.resolve(&self.index.dir)
    }
    /// The zones of a camera by its id (name or MAC).
    pub fn zones_of(&self, camera: &str) -> &[crate::index::zones::Zone] {
        self.cameras
            .iter()
            .find(|(k, c)| c.name == camera || normalize_mac(k).as_deref() == Some(camera))
            .map(|(_, c)| c.zones.as_slice())
            .unwrap_or(&[])
    }
    pub fn fs_root(&self) -> PathBuf {
        self.resolve(&self.store.fs.root)
    }
    pub fn oss_credentials_file(&self) -> Option<PathBuf> {
        let p = &self.store.oss.credentials_file;
        (!p.as_os_str().is_empty()).then(|| self.resolve(p))
    }
    pub fn s3_credentials_file(&self) -> Option<PathBuf> {
        let p = &self.store.s3.credentials_file;
        (!p.as_os_str().is_empty()).then(|| self.resolve(p))
    }
    pub fn samba_state(&self) -> PathBuf {
        self.resolve(&self.samba.state_dir)
    }
    /// The Samba configuration camvault generates.
    pub fn samba_config_file(&self) -> PathBuf {
        if !self.samba.config_file.as_os_str().is_empty() {
            self.resolve(&self.samba.config_file)
        } else if self.samba.manage {
            self.samba_state().join("smb.conf")
        } else {
            PathBuf::from("/etc/samba/camvault.conf")
        }
    }
    /// The configuration the running smbd reads: ours when managed, else Debian's
    /// `/etc/samba/smb.conf`, which includes ours.
    pub fn samba_running_config(&self) -> PathBuf {
        if !self.samba.running_config.as_os_str().is_empty() {
            self.resolve(&self.samba.running_config)
        } else if self.samba.manage {
            self.samba_config_file()
        } else {
            PathBuf::from("/etc/samba/smb.conf")
        }
    }
    pub fn samba_audit_log(&self) -> PathBuf {
        if self.samba.audit_log.as_os_str().is_empty() {
            self.samba_state().join("log.smbd")
        } else {
            self.resolve(&self.samba.audit_log)
        }
    }
    /// Whether the file itself holds a secret (then it must be readable by its owner only).
    pub fn holds_secrets(&self) -> bool {
        !self.samba.password.0.is_empty()
            || !self.store.oss.access_key_secret.0.is_empty()
            || !self.store.oss.security_token.0.is_empty()
            || !self.store.s3.secret_access_key.0.is_empty()
            || !self.store.s3.session_token.0.is_empty()
            // Robot and push URLs carry their access keys.
            || !self.alerts.channel.is_empty()
    }

    /// The camera user's password: config, then `password_file`, then `$CAMVAULT_SAMBA_PASSWORD`.
    pub fn samba_password(&self) -> Result<Option<String>> {
        if !self.samba.password.0.is_empty() {
            return Ok(Some(self.samba.password.0.clone()));
        }
        if !self.samba.password_file.as_os_str().is_empty() {
            let p = self.resolve(&self.samba.password_file);
            let text = std::fs::read_to_string(&p)
                .with_context(|| format!("cannot read `samba.password_file` {}", p.display()))?;
            return Ok(Some(text.trim_end_matches(['\n', '\r']).to_string()));
        }
        Ok(std::env::var("CAMVAULT_SAMBA_PASSWORD").ok().filter(|p| !p.is_empty()))
    }

    /// The default zone for cameras without their own.
    pub fn default_zone(&self) -> (TimeZone, String) {
        if !self.capture.timezone.is_empty() {
            if let Ok(tz) = zone(&self.capture.timezone) {
                return (tz, self.capture.timezone.clone());
            }
        }
        let tz = TimeZone::system();
        let name = tz.iana_name().unwrap_or("UTC").to_string();
        (tz, name)
    }

    /// Resolves a camera by MAC (lower-case hex) or, for files outside a MAC folder, by folder.
    pub fn camera(&self, mac: Option<&str>, folder: Option<&str>) -> CameraInfo {
        let (default_tz, default_name) = self.default_zone();
        if let Some(mac) = mac {
            let conf = self
                .cameras
                .iter()
                .find(|(k, _)| normalize_mac(k).as_deref() == Some(mac))
                .map(|(_, c)| c);
            let id = conf
                .filter(|c| !c.name.is_empty())
                .map(|c| c.name.clone())
                .unwrap_or_else(|| mac.to_string());
            let (tz, tz_name) = match conf.filter(|c| !c.timezone.is_empty()) {
                Some(c) => (zone(&c.timezone).unwrap_or(default_tz), c.timezone.clone()),
                None => (default_tz, default_name),
            };
            return CameraInfo { id, tz, tz_name };
        }
        let id = match folder {
            Some(f) => sanitize_camera(f),
            None => "unsorted".to_string(),
        };
        CameraInfo {
            id,
            tz: default_tz,
            tz_name: default_name,
        }
    }

    /// A camera by the id it has in keys (its configured name, a MAC, or a folder name).
    pub fn camera_by_id(&self, id: &str) -> CameraInfo {
        if let Some((mac, _)) = self.cameras.iter().find(|(_, c)| c.name == id) {
            if let Some(mac) = normalize_mac(mac) {
                return self.camera(Some(&mac), None);
            }
        }
        let (tz, tz_name) = self.default_zone();
        CameraInfo {
            id: id.to_string(),
            tz,
            tz_name,
        }
    }

    /// Looks up a camera's zone by id (name or MAC), for parsing times on the command line.
    pub fn zone_of(&self, camera: Option<&str>) -> TimeZone {
        if let Some(c) = camera {
            for (k, conf) in &self.cameras {
                let mac = normalize_mac(k).unwrap_or_default();
                if (conf.name == c || mac == c) && !conf.timezone.is_empty() {
                    if let Ok(tz) = zone(&conf.timezone) {
                        return tz;
                    }
                }
            }
        }
        self.default_zone().0
    }
}

fn zone(name: &str) -> Result<TimeZone, String> {
    TimeZone::get(name)
        .map_err(|_| format!("{name:?} is not a known IANA time zone; use e.g. \"Asia/Shanghai\" or \"Europe/Berlin\""))
}

/// `78:DF:72:A1:B2:C3` → `78df72a1b2c3`.
pub fn normalize_mac(s: &str) -> Option<String> {
    let hex: String = s.chars().filter(|c| *c != ':' && *c != '-').collect();
    crate::inbox::layout::is_mac(&hex).then(|| hex.to_ascii_lowercase())
}

fn valid_camera_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && !s.starts_with('.')
}

/// Folder names from the camera side become key components: keep them safe and short.
fn sanitize_camera(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    if out.starts_with('.') || out.is_empty() {
        out.insert(0, '_');
    }
    out
}

/// `HH:MM` → minutes after midnight.
pub fn parse_hhmm(s: &str) -> Result<u32, String> {
    let (h, m) = s.split_once(':').ok_or("expected HH:MM")?;
    let h: u32 = h.parse().map_err(|_| "expected HH:MM")?;
    let m: u32 = m.parse().map_err(|_| "expected HH:MM")?;
    if h > 24 || m > 59 || (h == 24 && m != 0) {
        return Err("hour 0-24 and minute 0-59 expected".into());
    }
    Ok(h * 60 + m)
}

/// The commented config `camvault init` writes; every section shown with its default.
pub const TEMPLATE: &str = include_str!("../docs/camvault.example.toml");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_parses_to_defaults() {
        let c = Config::parse(TEMPLATE).unwrap();
        assert_eq!(c.capture.settle_secs, 120);
        assert_eq!(c.store.key_template, "videos/{camera}/{date}/{hour}/{file}");
        assert_eq!(c.cache.max_bytes, ByteSize(50 << 30));
    }

    #[test]
    fn errors_name_the_key() {
        for (text, needle) in [
            ("[capture]\nsettle_sec = 3\n", "settle_sec"),
            ("[capture]\nsettle_secs = \"soon\"\n", "settle_secs"),
            ("[cache]\nmax_bytes = \"12 parsecs\"\n", "max_bytes"),
            ("[cameras.zzz]\nname = \"x\"\n", "cameras.zzz"),
            (
                "[cameras.78df72a1b2c3]\ntimezone = \"Mars/Olympus\"\n",
                "cameras.78df72a1b2c3.timezone",
            ),
            ("[store]\nkey_template = \"videos/{nope}\"\n", "store.key_template"),
            ("[store]\nkind = \"tape\"\n", "kind"),
            ("[upload]\nconcurrency = 0\n", "upload.concurrency"),
            (
                "[store]\nkind = \"s3\"\n[store.s3]\nbucket = \"cams\"\nchecksum = \"crc32\"\n",
                "store.s3.checksum",
            ),
            ("[store]\nkind = \"s3\"\n", "store.s3.bucket"),
            (
                "[store]\nkind = \"s3\"\n[store.s3]\nbucket = \"cams\"\nendpoint = \"nas:9000\"\n",
                "store.s3.endpoint",
            ),
            (
                "[store]\nkind = \"s3\"\n[store.s3]\nbucket = \"cams\"\npart_size_mb = 1\n",
                "store.s3.part_size_mb",
            ),
            (
                "[store]\nkind = \"oss\"\n[store.oss]\nbucket = \"cams\"\nregion = \"cn-beijing\"\npart_size_mb = 0\n",
                "store.oss.part_size_mb",
            ),
            (
                "[store]\nkind = \"oss\"\n[store.oss]\nbucket = \"cams\"\nregion = \"cn-beijing\"\npart_size_mb = 6000\n",
                "store.oss.part_size_mb",
            ),
            (
                "[store]\nkind = \"oss\"\n[store.oss]\nbucket = \"cams\"\nregion = \"cn-beijing\"\nmultipart_threshold_mb = 0\n",
                "store.oss.multipart_threshold_mb",
            ),
            ("[store.s3]\nsecret_key = \"x\"\n", "secret_key"),
            ("[store.oss]\nsignature = \"v2\"\n", "`store.oss.signature` = \"v2\": use \"v4\""),
            ("[store.oss]\nsignature = 4\n", "signature"),
            (
                "[store]\nkind = \"s3\"\n[store.s3]\nbucket = \"cams\"\nendpoint = \"http://192.168.1.5:9000\"\n",
                "store.s3.path_style",
            ),
            ("bogus = 1\n", "bogus"),
        ] {
            let err = format!("{:#}", Config::parse(text).unwrap_err());
            assert!(err.contains(needle), "{text:?} -> {err}");
        }
    }

    #[test]
    fn s3_section_of_the_template_is_the_default() {
        let c = Config::parse(TEMPLATE).unwrap();
        let (t, d) = (&c.store.s3, S3Store::default());
        assert_eq!(
            (
                &t.region,
                t.path_style,
                t.timeout_secs,
                t.multipart_threshold_mb,
                t.part_size_mb
            ),
            (
                &d.region,
                d.path_style,
                d.timeout_secs,
                d.multipart_threshold_mb,
                d.part_size_mb
            )
        );
        // Chosen but not filled in: the error names the key; filled in, it parses.
        let s3 = TEMPLATE.replace("kind = \"fs\"", "kind = \"s3\"");
        let err = format!("{:#}", Config::parse(&s3).unwrap_err());
        assert!(err.contains("`store.s3.bucket`"), "{err}");
        let s3 = s3.replace(
            "region = \"us-east-1\"\nbucket = \"\"",
            "region = \"us-east-1\"\nbucket = \"cams\"",
        );
        assert_eq!(Config::parse(&s3).unwrap().store.s3.bucket, "cams");
    }

    #[test]
    fn oss_section_of_the_template_is_the_default() {
        let c = Config::parse(TEMPLATE).unwrap();
        let (t, d) = (&c.store.oss, OssStore::default());
        assert_eq!(
            (t.timeout_secs, t.multipart_threshold_mb, t.part_size_mb, t.signature),
            (d.timeout_secs, d.multipart_threshold_mb, d.part_size_mb, d.signature)
        );
        assert_eq!(d.signature, OssSignature::V4, "V4 unless V1 is chosen");
        let v1 = Config::parse("[store.oss]\nsignature = \"v1\"\n").unwrap();
        assert_eq!(v1.store.oss.signature, OssSignature::V1);
    }

    #[test]
    fn sizes() {
        assert_eq!(ByteSize::parse("50 GiB").unwrap(), ByteSize(50 << 30));
        assert_eq!(ByteSize::parse("2MB").unwrap(), ByteSize(2_000_000));
        assert_eq!(ByteSize::parse("1.5 KiB").unwrap(), ByteSize(1536));
        assert!(ByteSize::parse("-1").is_err());
        assert!(ByteSize::parse("").is_err());
    }

    #[test]
    fn camera_lookup() {
        let c =
            Config::parse("[cameras.\"78:DF:72:A1:B2:C3\"]\nname = \"door\"\ntimezone = \"Asia/Shanghai\"\n").unwrap();
        let cam = c.camera(Some("78df72a1b2c3"), None);
        assert_eq!((cam.id.as_str(), cam.tz_name.as_str()), ("door", "Asia/Shanghai"));
        assert_eq!(c.camera(Some("001122334455"), None).id, "001122334455");
        assert_eq!(c.camera(None, Some("my garage")).id, "my_garage");
        assert_eq!(c.camera(None, None).id, "unsorted");
    }
}

#[cfg(test)]
mod fuzz {
    use super::*;

    proptest::proptest! {
        /// Arbitrary text never panics the config loader: it parses or names a problem.
        #[test]
        fn config_parse_never_panics(text in "(\\PC|\n|\\[|\\]|=|\"){0,200}") {
            let _ = Config::parse(&text);
        }

        #[test]
        fn sizes_never_panic(s in "\\PC{0,20}") {
            let _ = ByteSize::parse(&s);
        }
    }
}
