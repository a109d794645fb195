//! The pipeline's sections: paths, capture, upload, cache, tiering, log, HTTP, verify,
//! restore, health and cameras, each with its defaults.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Deserializer};

use super::class::{archive_class, StorageClass};
use super::time::TimeOfDay;
use super::values::{keyed, ByteSize, Secret};

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
    #[serde(deserialize_with = "super::cameras::capture_zone")]
    pub timezone: Option<super::Zone>,
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
            timezone: None,
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
    #[serde(deserialize_with = "bandwidth_from")]
    pub from: TimeOfDay,
    /// `HH:MM`, exclusive; may be earlier than `from` to wrap past midnight.
    #[serde(deserialize_with = "bandwidth_to")]
    pub to: TimeOfDay,
    pub limit: ByteSize,
}

impl BandwidthWindow {
    pub fn window(&self) -> super::TimeWindow {
        super::TimeWindow {
            from: self.from,
            to: self.to,
        }
    }
}

fn bandwidth_from<'de, D: Deserializer<'de>>(d: D) -> Result<TimeOfDay, D::Error> {
    keyed(d, "upload.bandwidth_schedule.from", str::parse)
}

fn bandwidth_to<'de, D: Deserializer<'de>>(d: D) -> Result<TimeOfDay, D::Error> {
    keyed(d, "upload.bandwidth_schedule.to", str::parse)
}

/// The bucket's lifecycle rule that moves recordings to an archive class.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Tiering {
    /// Days after upload before the rule moves an object.
    pub transition_days: u32,
    /// Target class: IA, Archive, ColdArchive or DeepColdArchive.
    #[serde(deserialize_with = "tiering_class")]
    pub storage_class: StorageClass,
}

fn tiering_class<'de, D: Deserializer<'de>>(d: D) -> Result<StorageClass, D::Error> {
    keyed(d, "tiering.storage_class", archive_class)
}

impl Default for Tiering {
    fn default() -> Self {
        Tiering {
            transition_days: 30,
            storage_class: StorageClass::DeepColdArchive,
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
    /// A local copy is removed only once this many stores (the primary and
    /// `[[store.mirror]]`s) hold it verified; 0 = all configured (issue 21).
    pub require_copies: u32,
}

impl Default for Cache {
    fn default() -> Self {
        Cache {
            max_bytes: ByteSize(50 << 30),
            max_days: 30,
            min_free: ByteSize(5 << 30),
            min_days: 1,
            interval_secs: 60,
            require_copies: 0,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Log {
    pub format: LogFormat,
    /// A level such as `info`, or a `tracing` filter such as `camvault=debug,info`.
    #[serde(deserialize_with = "log_level")]
    pub level: LogLevel,
}

/// `log.level`: one of `tracing`'s levels, or a filter with per-module directives
/// (checked with `tracing_subscriber` when the config is read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogLevel {
    Off,
    Error,
    Warn,
    Info,
    Debug,
    Trace,
    /// Directives such as `camvault=debug,info`.
    Filter(String),
}

impl LogLevel {
    const LEVELS: [LogLevel; 6] = [
        LogLevel::Off,
        LogLevel::Error,
        LogLevel::Warn,
        LogLevel::Info,
        LogLevel::Debug,
        LogLevel::Trace,
    ];

    /// The filter to hand `tracing_subscriber::EnvFilter`.
    pub fn as_filter(&self) -> &str {
        match self {
            LogLevel::Off => "off",
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
            LogLevel::Filter(f) => f,
        }
    }

    fn parse(s: &str) -> Result<LogLevel, String> {
        const ALLOWED: &str =
            "use off, error, warn, info, debug or trace, or directives such as \"camvault=debug,info\"";
        let lower = s.trim().to_ascii_lowercase();
        if let Some(l) = LogLevel::LEVELS.into_iter().find(|l| l.as_filter() == lower) {
            return Ok(l);
        }
        // A bare word that is not a level would be read as a module name to trace: a typo
        // such as "inof" must not turn into that.
        if !s.contains(['=', ',']) {
            return Err(format!("not a level; {ALLOWED}"));
        }
        tracing_subscriber::EnvFilter::try_new(s).map_err(|e| format!("{e}; {ALLOWED}"))?;
        Ok(LogLevel::Filter(s.to_string()))
    }
}

fn log_level<'de, D: Deserializer<'de>>(d: D) -> Result<LogLevel, D::Error> {
    keyed(d, "log.level", LogLevel::parse)
}

/// The HTTP endpoint of `serve`: the web interface, `/metrics`, `/healthz`, the JSON API.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Http {
    pub enabled: bool,
    /// Address and port. Loopback: no login. Any other address needs an admin who can log
    /// in (`password_hash` or an admin account), checked when `serve` starts.
    #[serde(deserialize_with = "listen")]
    pub listen: SocketAddr,
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
    /// Reverse proxies (addresses or CIDRs) whose `X-Forwarded-For` is believed: a request
    /// through one is judged by the forwarded client address, never as local (issue 17).
    #[serde(deserialize_with = "trusted_proxies")]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The address people open camvault at (e.g. "https://cam.example.lan"), for links
    /// in alert messages; empty = messages carry no link.
    pub public_url: String,
    /// The web interface's language when the browser asks for none we speak: "en" or "zh-CN".
    pub language: super::Lang,
}

impl Default for Http {
    fn default() -> Self {
        Http {
            enabled: true,
            listen: SocketAddr::from(([127, 0, 0, 1], 8640)),
            password_hash: Secret::default(),
            secure_cookie: true,
            session_hours: 168,
            cache_dir: "webcache".into(),
            max_connections: 128,
            trusted_proxies: Vec::new(),
            public_url: String::new(),
            language: super::Lang::En,
        }
    }
}

/// `http.trusted_proxies`: each an address (one host) or a CIDR.
fn trusted_proxies<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<ipnet::IpNet>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|s| {
            s.parse::<ipnet::IpNet>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    serde::de::Error::custom(format!(
                        "`http.trusted_proxies`: {s:?} is not an address or CIDR such as \"127.0.0.1\" or \"10.0.0.0/8\""
                    ))
                })
        })
        .collect()
}

fn listen<'de, D: Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
    keyed(d, "http.listen", |s| {
        s.parse()
            .map_err(|_| "write an address and port such as \"127.0.0.1:8640\"".to_string())
    })
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

/// How fast an archived object is brought back. Names as OSS and S3 spell them; Deep
/// Cold Archive offers Expedited (within 12 h) and Standard (within 48 h).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RestoreTier {
    Expedited,
    Standard,
    Bulk,
}

impl RestoreTier {
    pub fn as_str(self) -> &'static str {
        match self {
            RestoreTier::Expedited => "Expedited",
            RestoreTier::Standard => "Standard",
            RestoreTier::Bulk => "Bulk",
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
    pub tier: RestoreTier,
    /// Days a restored copy stays readable in the store (it is downloaded at once).
    pub days: u32,
    /// First wait before asking the store whether a restore is done; doubles up to `poll_max_secs`.
    pub poll_secs: u64,
    pub poll_max_secs: u64,
    /// How long a restore waits for a mirror it reads from that is away (a disk unplugged,
    /// a region down) when the main store's copy is archived, from the restore's start;
    /// then the clip fails, saying so. 0 = do not wait.
    pub mirror_wait_days: u64,
    /// `serve` restores one small archived clip this often and checks it byte for byte,
    /// proof that the archive can be read back; 0 = never.
    pub drill_days: u64,
    /// A web restore estimated above this (CNY) needs an admin's approval; 0 = every
    /// restore that costs anything does (issue 17).
    pub approval_cny: f64,
    /// Restores may cost at most this much (CNY) per calendar month; 0 = no budget.
    pub budget_cny_month: f64,
}

impl Default for Restore {
    fn default() -> Self {
        Restore {
            dir: "restores".into(),
            tier: RestoreTier::Standard,
            days: 3,
            poll_secs: 600,
            poll_max_secs: 3600,
            mirror_wait_days: 7,
            drill_days: 30,
            approval_cny: 0.0,
            budget_cny_month: 0.0,
        }
    }
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

impl Default for Log {
    fn default() -> Self {
        Log {
            format: LogFormat::Text,
            level: LogLevel::Info,
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

/// `[index]`: motion indexing of every captured clip (src/index/).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Index {
    pub enabled: bool,
    /// Frames analysed per second of video (1-10).
    pub fps: u32,
    /// Preview strips and segment frames.
    pub dir: PathBuf,
    /// A YOLO-style ONNX detector; empty: motion only (docs/index.md, "Objects").
    pub detector: PathBuf,
    /// The detector's class names in class order; empty: the model's own (`names` in an
    /// ultralytics export), else the 80 COCO classes.
    pub detector_labels: Vec<String>,
    /// The same from a file, one name a line (used when `detector_labels` is empty).
    pub detector_labels_file: PathBuf,
    /// Least confidence of a detection that is kept (0-1).
    pub detector_confidence: f32,
    /// Overlap (IoU) above which the weaker of two boxes of one class is dropped (NMS).
    pub detector_iou: f32,
    /// How often the indexer looks for new clips.
    pub interval_secs: u64,
    /// `[[index.notify]]`: messages on activity (src/index/notify.rs); none by default.
    pub notify: Vec<super::notify::NotifyRule>,
    /// Only clips indexed within this many minutes of their start notify (not a backfill).
    pub notify_max_age_minutes: u64,
}

impl Default for Index {
    fn default() -> Self {
        Index {
            enabled: true,
            fps: 4,
            dir: "index".into(),
            detector: PathBuf::new(),
            detector_labels: Vec::new(),
            detector_labels_file: PathBuf::new(),
            detector_confidence: 0.4,
            detector_iou: 0.7,
            interval_secs: 10,
            notify: Vec::new(),
            notify_max_age_minutes: 60,
        }
    }
}
