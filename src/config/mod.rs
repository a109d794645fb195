//! Typed configuration: one TOML file, every key with a default.
//!
//! Unknown keys and bad values are errors that name the key, because a typo in a config
//! that silently falls back to a default is how clips get lost. Relative paths are taken
//! relative to the directory of the config file, so a data directory can be moved whole.
//!
//! Every value is parsed into its type once, when the file is loaded (storage classes,
//! checksums, time windows, SMTP URLs, the key template, …): code that reads the config
//! never parses or compares a string of it again. `config` depends on leaf modules only
//! (`keys`, `inbox::layout`); the layers above it read it.
//!
//! - `load.rs`: finding and reading the file, relative paths, secrets from files or the environment
//! - `sections.rs`, `store.rs`, `samba.rs`, `alerts.rs`, `prices.rs`: the sections and their defaults
//! - `values.rs`, `class.rs`, `time.rs`, `smtp.rs`: the value types, each parsed with serde
//! - `validate.rs`: the rules that involve more than one value
//! - `cameras.rs`: cameras by MAC, name or folder, and their zones

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

mod alerts;
mod cameras;
mod class;
mod endpoint;
mod language;
mod load;
mod mirror;
mod notify;
mod prices;
mod samba;
mod sections;
mod smtp;
mod store;
mod time;
mod validate;
mod values;

pub use alerts::{Alerts, Channel, ChannelKind, Email};
pub use cameras::{check_miio_token, miio_addr, normalize_mac, time_zone, Camera, CameraInfo, Zone, MIIO_PORT};
pub use class::StorageClass;
pub use endpoint::Endpoint;
pub use language::Lang;
pub use mirror::{Mirror, PRIMARY};
pub use notify::NotifyRule;
pub use prices::Prices;
pub use samba::Samba;
pub use sections::{
    BandwidthWindow, Cache, Capture, Health, Http, Index, Log, LogFormat, LogLevel, Paths, Restore, RestoreTier,
    Tiering, Upload, Verify,
};
pub use smtp::{Security, SmtpUrl};
pub use store::{Checksum, FsStore, LockMode, OssSignature, OssStore, S3Store, Store, StoreKind};
pub use time::{parse_hhmm, TimeOfDay, TimeWindow};
pub use validate::valid_hash;
pub use values::{human_bytes, ByteSize, Secret};

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
    #[serde(deserialize_with = "cameras::cameras")]
    pub cameras: BTreeMap<String, Camera>,
    /// Where the file was read from; set by [`Config::load`].
    #[serde(skip)]
    pub source: PathBuf,
}

/// The commented config `camvault init` writes; every section shown with its default.
pub const TEMPLATE: &str = include_str!("../../docs/camvault.example.toml");

#[cfg(test)]
mod tests;
