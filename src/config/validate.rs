//! Validation after parsing: ranges, rules that involve more than one value, and values
//! whose type depends on another (an alert channel's URL on its kind). One function per
//! section; each error names the key and says what to write instead.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{bail, Result};

use super::cameras::{normalize_mac, valid_camera_name};
use super::{ChannelKind, Config, Email, Samba, StoreKind};

impl Config {
    /// Checks every section, and completes what depends on more than one value.
    pub(super) fn validate(&mut self) -> Result<()> {
        self.validate_pipeline()?;
        match self.store.kind {
            StoreKind::Fs => {}
            StoreKind::Oss => self.validate_oss()?,
            StoreKind::S3 => self.validate_s3()?,
        }
        // `[prices]` first: each mirror's prices are checked on top of it.
        self.prices.validate()?;
        self.validate_mirrors()?;
        self.validate_samba()?;
        self.validate_http()?;
        self.validate_alerts()?;
        self.validate_cameras()?;
        self.validate_miio()?;
        self.validate_index()?;
        self.validate_notify()
    }

    /// `[index]` and each camera's index zones.
    fn validate_index(&self) -> Result<()> {
        if !(1..=10).contains(&self.index.fps) {
            bail!("`index.fps` = {} must be between 1 and 10 (default 4)", self.index.fps);
        }
        // The model file itself is checked when the indexer starts (a bad one leaves
        // indexing running without labels and shows a health problem; src/index/detector.rs).
        for (key, v) in [
            ("detector_confidence", self.index.detector_confidence),
            ("detector_iou", self.index.detector_iou),
        ] {
            if !(v > 0.0 && v <= 1.0) {
                bail!("`index.{key}` = {v} must be above 0 and at most 1 (defaults: confidence 0.4, iou 0.7)");
            }
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
        Ok(())
    }

    /// Capture, upload, tiering, cache, log, health, restore, verify.
    fn validate_pipeline(&self) -> Result<()> {
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
        if self.health.camera_silent_hours == 0 || self.health.max_pending_age_secs == 0 {
            bail!("`health.camera_silent_hours` and `health.max_pending_age_secs` must be at least 1");
        }
        if self.health.max_rss.0 < 16 << 20 || self.health.max_cpu_percent == 0 || self.health.resource_minutes == 0 {
            bail!("`health.max_rss` must be at least 16 MiB (default \"256 MiB\"), `health.max_cpu_percent` and `health.resource_minutes` at least 1 (defaults 50 and 10)");
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
        if self.restore.mirror_wait_days > 365 {
            bail!(
                "`restore.mirror_wait_days` = {}: at most 365 (how long a restore waits for a mirror that is away; default 7)",
                self.restore.mirror_wait_days
            );
        }
        if self.verify.period_days == 0 {
            bail!("`verify.period_days` must be at least 1 (default 7)");
        }
        Ok(())
    }

    pub(super) fn validate_oss(&self) -> Result<()> {
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
        Ok(())
    }

    fn validate_samba(&self) -> Result<()> {
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
        refuse_root_names(sm)?;
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
        Ok(())
    }

    fn validate_http(&self) -> Result<()> {
        // A LAN `http.listen` or `http.trusted_proxies` needs an admin who can log in: the
        // password hash or an account in the catalog, checked when `serve` starts
        // (crate::web::startup), so that `camvault user add` works on such a config.
        if !self.http.password_hash.0.is_empty() && !valid_hash(&self.http.password_hash.0) {
            bail!("`http.password_hash` is not an Argon2 hash; set it again with `camvault passwd`");
        }
        if !self.http.public_url.is_empty()
            && !self.http.public_url.starts_with("https://")
            && !self.http.public_url.starts_with("http://")
        {
            bail!(
                "`http.public_url` = {:?}: write the address people open, such as \"https://cam.example.lan\"",
                self.http.public_url
            );
        }
        for (k, v) in [
            ("restore.approval_cny", self.restore.approval_cny),
            ("restore.budget_cny_month", self.restore.budget_cny_month),
        ] {
            if !v.is_finite() || v < 0.0 {
                bail!("`{k}` = {v}: use an amount in CNY, 0 or more");
            }
        }
        if self.http.session_hours == 0 {
            bail!("`http.session_hours` must be at least 1 (default 168)");
        }
        Ok(())
    }

    fn validate_alerts(&mut self) -> Result<()> {
        if self.alerts.interval_secs == 0 || self.alerts.repeat_hours == 0 {
            bail!("`alerts.interval_secs` and `alerts.repeat_hours` must be at least 1");
        }
        let mut names = BTreeSet::new();
        for (i, c) in self.alerts.channel.iter_mut().enumerate() {
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
                let relay = c
                    .url
                    .parse()
                    .map_err(|e| anyhow::anyhow!("`alerts.channel[{i}].url` ({}): {e}", c.name))?;
                let mailbox = |a: &String| {
                    a.parse().map_err(|_| {
                        anyhow::anyhow!(
                            "`alerts.channel[{i}]` ({}): {a:?} is not an e-mail address (`from` and every `to` must be one, e.g. \"camvault <me@example.com>\")",
                            c.name
                        )
                    })
                };
                let to = c.to.iter().map(mailbox).collect::<Result<Vec<_>>>()?;
                let from = mailbox(&c.from)?;
                if c.to.is_empty() {
                    bail!(
                        "`alerts.channel[{i}]` ({}): e-mail needs at least one address in `to`",
                        c.name
                    );
                }
                c.email = Some(Email { relay, from, to });
            }
            if c.kind == ChannelKind::Telegram && (c.token.0.is_empty() || c.chat_id.is_empty()) {
                bail!(
                    "`alerts.channel[{i}]` ({}): telegram needs `token` and `chat_id`",
                    c.name
                );
            }
        }
        Ok(())
    }

    fn validate_cameras(&self) -> Result<()> {
        let mut seen = BTreeMap::new();
        for (key, cam) in &self.cameras {
            let mac = normalize_mac(key).ok_or_else(|| {
                anyhow::anyhow!("`cameras.{key}`: a camera is keyed by its MAC, 12 hex digits such as 78df72a1b2c3 (see the folder name the camera writes)")
            })?;
            if let Some(other) = seen.insert(mac.clone(), key) {
                bail!("`cameras.{key}` and `cameras.{other}` are the same camera ({mac})");
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

    pub(super) fn validate_s3(&self) -> Result<()> {
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
        // The endpoint itself was checked when it was read (`Endpoint::s3`).
        let host = s.endpoint.url().and_then(|u| u.host_str()).unwrap_or_default();
        if !s.path_style
            && (host.parse::<std::net::IpAddr>().is_ok()
                || host.trim_matches(['[', ']']).parse::<std::net::Ipv6Addr>().is_ok()
                || host == "localhost")
        {
            bail!(
                "`store.s3.endpoint` = {:?} is an address, where a bucket cannot be put in front of the host name: set `store.s3.path_style = true`",
                s.endpoint.as_str()
            );
        }
        if !s.path_style && s.bucket.contains('.') && !s.endpoint.is_plain_http() {
            bail!("`store.s3.bucket` = {:?} has dots, which break HTTPS with virtual-host addressing: set `store.s3.path_style = true`", s.bucket);
        }
        if s.timeout_secs == 0 {
            bail!("`store.s3.timeout_secs` must be at least 1");
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
}

/// Whether `hash` is a PHC string this build can verify against (`http.password_hash`;
/// `web::auth` checks passwords against it).
pub fn valid_hash(hash: &str) -> bool {
    argon2::PasswordHash::new(hash).is_ok_and(|h| h.algorithm.as_str().starts_with("argon2"))
}

/// Refuses root by name, at config load: `camera_user`, `force_user`, `force_group`
/// (by uid and gid, `samba::owner` refuses it when the share is set up).
fn refuse_root_names(sm: &Samba) -> Result<()> {
    for (key, v) in [
        ("camera_user", &sm.camera_user),
        ("force_user", &sm.force_user),
        ("force_group", &sm.force_group),
    ] {
        if v == "root" {
            bail!("`samba.{key}` = \"root\": the camera's share must never act as root (its NTLMv1 password can be cracked by anyone on the LAN); use an unprivileged system user, e.g. `useradd --system --no-create-home --shell /usr/sbin/nologin camera`, and leave `samba.force_user` and `samba.force_group` empty");
        }
    }
    Ok(())
}
