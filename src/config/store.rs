//! `[store]`: which backend, the key template, the upload class, and each backend's section.

use std::path::PathBuf;

use serde::{Deserialize, Deserializer};

use super::class::{upload_class, StorageClass};
use super::endpoint::Endpoint;
use super::values::{keyed, Secret};
use crate::keys::Template;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Store {
    pub kind: StoreKind,
    /// Placeholders: {camera} {date} {hour} {file} {mac} {channel} {year} {month} {day}.
    #[serde(deserialize_with = "key_template")]
    pub key_template: Template,
    /// Uploads are written in Standard; the lifecycle rule moves them on.
    #[serde(deserialize_with = "storage_class")]
    pub storage_class: StorageClass,
    pub fs: FsStore,
    pub oss: OssStore,
    pub s3: S3Store,
    /// `[[store.mirror]]`: stores that each hold another copy (see `config::mirror`).
    pub mirror: Vec<super::mirror::Mirror>,
}

impl Default for Store {
    fn default() -> Self {
        Store {
            kind: StoreKind::Fs,
            key_template: Template::parse(DEFAULT_KEY_TEMPLATE).expect("the default key template parses"),
            storage_class: StorageClass::Standard,
            fs: FsStore::default(),
            oss: OssStore::default(),
            s3: S3Store::default(),
            mirror: Vec::new(),
        }
    }
}

/// `store.key_template`'s default.
pub const DEFAULT_KEY_TEMPLATE: &str = "videos/{camera}/{date}/{hour}/{file}";

fn key_template<'de, D: Deserializer<'de>>(d: D) -> Result<Template, D::Error> {
    keyed(d, "store.key_template", Template::parse)
}

fn storage_class<'de, D: Deserializer<'de>>(d: D) -> Result<StorageClass, D::Error> {
    keyed(d, "store.storage_class", upload_class)
}

fn s3_endpoint<'de, D: Deserializer<'de>>(d: D) -> Result<Endpoint, D::Error> {
    keyed(d, "store.s3.endpoint", Endpoint::s3)
}

fn oss_endpoint<'de, D: Deserializer<'de>>(d: D) -> Result<Endpoint, D::Error> {
    keyed(d, "store.oss.endpoint", Endpoint::oss)
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    #[default]
    Fs,
    Oss,
    S3,
}

impl StoreKind {
    /// Its name in `store.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            StoreKind::Fs => "fs",
            StoreKind::Oss => "oss",
            StoreKind::S3 => "s3",
        }
    }

    /// A kind by its name in `store.kind`.
    pub fn from_name(s: &str) -> Option<StoreKind> {
        [StoreKind::Fs, StoreKind::Oss, StoreKind::S3]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for StoreKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
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
    #[serde(deserialize_with = "oss_endpoint")]
    pub endpoint: Endpoint,
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

impl std::fmt::Display for OssSignature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            OssSignature::V4 => "v4",
            OssSignature::V1 => "v1",
        })
    }
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
            endpoint: Endpoint::default(),
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
    #[serde(deserialize_with = "s3_endpoint")]
    pub endpoint: Endpoint,
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
    pub object_lock_mode: LockMode,
    /// The checksum the store is asked to check and keep besides `Content-MD5`:
    /// `auto` (CRC64NVME, and MD5 alone if the store refuses it), `crc64nvme`, `crc32c`,
    /// `sha256`, or `md5` (none besides MD5).
    pub checksum: Checksum,
}

/// `store.s3.object_lock_mode`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum LockMode {
    /// Nobody, not even the root account, can delete the object or shorten its lock.
    #[default]
    Compliance,
    /// Users with `s3:BypassGovernanceRetention` can.
    Governance,
}

impl LockMode {
    /// S3's name (`x-amz-object-lock-mode`), which is the config's.
    pub fn as_str(self) -> &'static str {
        match self {
            LockMode::Compliance => "COMPLIANCE",
            LockMode::Governance => "GOVERNANCE",
        }
    }
}

impl std::fmt::Display for LockMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for LockMode {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        match s.as_str() {
            "COMPLIANCE" => Ok(LockMode::Compliance),
            "GOVERNANCE" => Ok(LockMode::Governance),
            _ => Err(format!("`store.s3.object_lock_mode` = {s:?}: COMPLIANCE or GOVERNANCE")),
        }
    }
}

/// `store.s3.checksum`: the checksum the store is asked to check and keep besides MD5.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum Checksum {
    /// CRC64NVME, and MD5 alone if the store refuses it.
    #[default]
    Auto,
    Crc64Nvme,
    Crc32c,
    Sha256,
    /// None besides `Content-MD5`.
    Md5,
}

impl Checksum {
    pub const ALL: [Checksum; 5] = [
        Checksum::Auto,
        Checksum::Crc64Nvme,
        Checksum::Crc32c,
        Checksum::Sha256,
        Checksum::Md5,
    ];

    /// The config's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Checksum::Auto => "auto",
            Checksum::Crc64Nvme => "crc64nvme",
            Checksum::Crc32c => "crc32c",
            Checksum::Sha256 => "sha256",
            Checksum::Md5 => "md5",
        }
    }
}

impl std::fmt::Display for Checksum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for Checksum {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Checksum::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("`store.s3.checksum` = {s:?}: auto, crc64nvme, crc32c, sha256 or md5"))
    }
}

impl Default for S3Store {
    fn default() -> Self {
        S3Store {
            endpoint: Endpoint::default(),
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
            object_lock_mode: LockMode::Compliance,
            checksum: Checksum::Auto,
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
