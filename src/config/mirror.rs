//! `[[store.mirror]]`: further stores that each hold a second (third, …) copy of every
//! recording (issue 21). Each is a full backend of any kind, with its own name,
//! credentials, upload class and lifecycle plan; the primary (`[store]`) is unchanged.
//!
//! The rules checked at load (so that `serve` refuses to start on them):
//! - names are unique, short, and not `primary` (the primary's name in the catalog and
//!   the metrics);
//! - each mirror's backend section passes the same checks as the primary's;
//! - no two stores (primary included) point at the same place: the same bucket of the
//!   same endpoint (every store holds the same keys, so the same bucket means the same
//!   objects), or `fs` roots that are equal or nested. Two "copies" in one place are one
//!   copy, and the one loss they were meant to survive takes both.

use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Deserializer};

use super::class::{upload_class, StorageClass};
use super::store::{FsStore, OssStore, S3Store, StoreKind};
use super::values::{keyed, ByteSize};
use super::{Config, Tiering};

/// The primary store's name wherever stores are named (catalog, metrics, status).
pub const PRIMARY: &str = "primary";

/// One `[[store.mirror]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mirror {
    /// 1-32 lower-case letters, digits and '-': shown in status, metrics, worker names.
    pub name: String,
    pub kind: StoreKind,
    /// The class uploads are written in (as `store.storage_class`).
    #[serde(default = "standard", deserialize_with = "mirror_class")]
    pub storage_class: StorageClass,
    /// This store's lifecycle plan; `[tiering]`'s when absent.
    #[serde(default)]
    pub tiering: Option<Tiering>,
    #[serde(default)]
    pub fs: FsStore,
    #[serde(default)]
    pub oss: OssStore,
    #[serde(default)]
    pub s3: S3Store,
    /// `fs` only: below this free space on the mirror's disk, copying to it stops
    /// (loudly); camvault never deletes anything there to make room.
    #[serde(default = "min_free")]
    pub min_free: ByteSize,
    /// `fs` only: warn when the disk will reach `min_free` within this many days at the
    /// rate it filled over the last week.
    #[serde(default = "warn_days")]
    pub warn_days: u64,
    /// `s3`/`oss` only: a bucket something else fills (OSS Cross-Region Replication of the
    /// main bucket): camvault checks and reads its copies but never writes there (its
    /// store is opened through `store::readonly`, which has no way to write).
    #[serde(default)]
    pub read_only: bool,
    /// `"same-as-primary"`: a remote mirror without its own `credentials_file` or keys
    /// uses the main store's (which must be of the same kind). Without it such a mirror is
    /// refused, so that no mirror silently signs with credentials meant for another store.
    #[serde(default)]
    pub credentials: Option<SameAsPrimary>,
    /// The prices of this store's region (or disk) where they differ from `[prices]`: any
    /// subset of its keys. `cost` and the restore planner price this store's copies with
    /// them ([`Config::mirror_prices`]).
    #[serde(default)]
    pub prices: Option<toml::Table>,
}

/// `store.mirror.credentials`: the only value is `"same-as-primary"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct SameAsPrimary;

impl TryFrom<String> for SameAsPrimary {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if s == "same-as-primary" {
            Ok(SameAsPrimary)
        } else {
            Err(format!(
                "`store.mirror.credentials` = {s:?}: the only value is \"same-as-primary\" (else give the mirror its own `credentials_file`)"
            ))
        }
    }
}

fn standard() -> StorageClass {
    StorageClass::Standard
}
fn min_free() -> ByteSize {
    ByteSize(2 << 30)
}
fn warn_days() -> u64 {
    30
}

fn mirror_class<'de, D: Deserializer<'de>>(d: D) -> Result<StorageClass, D::Error> {
    keyed(d, "store.mirror.storage_class", upload_class)
}

impl Config {
    /// The prices of mirror `m`'s copies: `[prices]` with its own `[store.mirror.prices]`
    /// on top (checked at load; `[prices]` alone if that table is bad).
    pub fn mirror_prices(&self, m: &Mirror) -> super::Prices {
        match &m.prices {
            Some(over) => self.prices.with(over, "").unwrap_or_else(|_| self.prices.clone()),
            None => self.prices.clone(),
        }
    }

    /// The prices of the copies in store `name` (`primary` or a mirror's name).
    pub fn prices_of(&self, name: &str) -> super::Prices {
        match self.store.mirror.iter().find(|m| m.name == name) {
            Some(m) => self.mirror_prices(m),
            None => self.prices.clone(),
        }
    }

    /// The config as the backends see it for mirror `m`: `[store]` replaced by the mirror's
    /// backend, class and lifecycle plan, `[prices]` by its prices; everything else (key
    /// template, paths) the primary's. `store::open` on it builds the mirror's backend.
    pub fn for_mirror(&self, m: &Mirror) -> Config {
        let mut c = self.clone();
        c.store.kind = m.kind;
        c.store.storage_class = m.storage_class;
        c.store.fs = m.fs.clone();
        c.store.oss = m.oss.clone();
        c.store.s3 = m.s3.clone();
        c.store.mirror = Vec::new();
        if m.credentials.is_some() && m.kind == self.store.kind {
            // The main store's credentials, however it has them (file, keys, environment).
            match m.kind {
                StoreKind::Oss => {
                    let (o, p) = (&mut c.store.oss, &self.store.oss);
                    o.access_key_id = p.access_key_id.clone();
                    o.access_key_secret = p.access_key_secret.clone();
                    o.security_token = p.security_token.clone();
                    o.credentials_file = self.resolve(&p.credentials_file);
                    if p.credentials_file.as_os_str().is_empty() {
                        o.credentials_file = Default::default();
                    }
                }
                StoreKind::S3 => {
                    let (o, p) = (&mut c.store.s3, &self.store.s3);
                    o.access_key_id = p.access_key_id.clone();
                    o.secret_access_key = p.secret_access_key.clone();
                    o.session_token = p.session_token.clone();
                    o.credentials_file = self.resolve(&p.credentials_file);
                    if p.credentials_file.as_os_str().is_empty() {
                        o.credentials_file = Default::default();
                    }
                }
                StoreKind::Fs => {}
            }
        }
        if let Some(t) = &m.tiering {
            c.tiering = t.clone();
        }
        c.prices = self.mirror_prices(m);
        c
    }

    /// The mirror's marker-checked `fs` root, resolved like `store.fs.root`.
    pub fn mirror_root(&self, m: &Mirror) -> PathBuf {
        self.resolve(&m.fs.root)
    }

    /// `[[store.mirror]]`: names, each backend's own checks, and no two stores in one place.
    pub(super) fn validate_mirrors(&self) -> Result<()> {
        let mut seen: Vec<(String, Place)> = vec![(PRIMARY.to_string(), place(self))];
        for (i, m) in self.store.mirror.iter().enumerate() {
            let ok = (1..=32).contains(&m.name.len())
                && m.name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !ok {
                bail!(
                    "`store.mirror[{i}].name` = {:?}: 1-32 lower-case letters, digits and '-' (it names the mirror in status, metrics and commands)",
                    m.name
                );
            }
            if m.name == PRIMARY {
                bail!("`store.mirror[{i}].name` = \"{PRIMARY}\" is the main store's name; pick another");
            }
            if seen.iter().any(|(n, _)| *n == m.name) {
                bail!(
                    "two `[[store.mirror]]` entries are named {:?}: each mirror needs its own name",
                    m.name
                );
            }
            if m.tiering.as_ref().is_some_and(|t| t.transition_days == 0) {
                bail!(
                    "`store.mirror.tiering.transition_days` of mirror {:?} must be at least 1",
                    m.name
                );
            }
            self.validate_mirror_credentials(m)?;
            if let Some(over) = &m.prices {
                self.prices
                    .with(over, &format!("`store.mirror.prices` of mirror {:?}", m.name))?;
            }
            if m.read_only && m.kind == StoreKind::Fs {
                bail!(
                    "mirror {:?}: `read_only = true` is for a bucket something else fills (OSS Cross-Region Replication); a disk mirror is camvault's to write",
                    m.name
                );
            }
            let derived = self.for_mirror(m);
            let what = format!(
                "in `[[store.mirror]]` {:?} (its keys are `store.mirror.{}` there)",
                m.name,
                match m.kind {
                    StoreKind::Fs => "fs.…",
                    StoreKind::Oss => "oss.…",
                    StoreKind::S3 => "s3.…",
                }
            );
            match m.kind {
                StoreKind::Fs => {
                    if m.fs.root.as_os_str().is_empty() {
                        bail!(
                            "`store.mirror.fs.root` of mirror {:?} is empty: the mount point of the mirror's disk",
                            m.name
                        );
                    }
                }
                StoreKind::Oss => derived.validate_oss().context(what)?,
                StoreKind::S3 => derived.validate_s3().context(what)?,
            }
            let here = place(&derived);
            if let Some((other, _)) = seen.iter().find(|(_, p)| p.overlaps(&here)) {
                let whose = if other == PRIMARY {
                    "the main store (`[store]`)".to_string()
                } else {
                    format!("mirror {other:?}")
                };
                bail!(
                    "mirror {:?} points at the same place as {whose}: {}. Two copies in one place are one copy; point it at another bucket, region or disk",
                    m.name,
                    here.describe()
                );
            }
            seen.push((m.name.clone(), here));
        }
        let stores = 1 + self.store.mirror.len() as u32;
        if self.cache.require_copies > stores {
            bail!(
                "`cache.require_copies` = {}: only {stores} store(s) are configured (the main store and {} mirror(s)), so no local copy could ever be removed; use at most {stores}, or 0 for all",
                self.cache.require_copies,
                stores - 1
            );
        }
        Ok(())
    }

    /// A remote mirror signs with its own credentials, or says `credentials =
    /// "same-as-primary"` (then the main store must be of its kind).
    fn validate_mirror_credentials(&self, m: &Mirror) -> Result<()> {
        let own = match m.kind {
            StoreKind::Fs => {
                if m.credentials.is_some() {
                    bail!(
                        "mirror {:?}: a disk mirror has no credentials; remove `credentials`",
                        m.name
                    );
                }
                return Ok(());
            }
            StoreKind::Oss => !m.oss.credentials_file.as_os_str().is_empty() || !m.oss.access_key_id.is_empty(),
            StoreKind::S3 => !m.s3.credentials_file.as_os_str().is_empty() || !m.s3.access_key_id.is_empty(),
        };
        let section = if m.kind == StoreKind::Oss { "oss" } else { "s3" };
        match (own, m.credentials.is_some()) {
            (true, true) => bail!(
                "mirror {:?} has its own credentials and `credentials = \"same-as-primary\"`: keep one of them",
                m.name
            ),
            (false, false) => bail!(
                "mirror {:?} has no credentials of its own: give it `store.mirror.{section}.credentials_file` (a file of mode 0600 with its key), or write `credentials = \"same-as-primary\"` in its `[[store.mirror]]` entry to use the main store's",
                m.name
            ),
            (false, true) if m.kind != self.store.kind => bail!(
                "mirror {:?}: `credentials = \"same-as-primary\"`, but the main store is `{}`, not `{section}`: give the mirror its own `store.mirror.{section}.credentials_file`",
                m.name,
                self.store.kind.as_str()
            ),
            _ => Ok(()),
        }
    }

    /// How many mirrors must hold a verified copy before the local one may go (the
    /// primary always must): `cache.require_copies` less the primary, 0 meaning all.
    pub fn mirrors_required(&self) -> u32 {
        match self.cache.require_copies {
            0 => self.store.mirror.len() as u32,
            n => n.saturating_sub(1),
        }
    }
}

/// Where a store keeps its objects, for the same-place check.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Place {
    Dir(PathBuf),
    /// (service, endpoint host or region, bucket).
    Bucket(&'static str, String, String),
}

impl Place {
    fn overlaps(&self, other: &Place) -> bool {
        match (self, other) {
            (Place::Dir(a), Place::Dir(b)) => a.starts_with(b) || b.starts_with(a),
            (a, b) => a == b,
        }
    }

    fn describe(&self) -> String {
        match self {
            Place::Dir(p) => format!("the directory {}", p.display()),
            Place::Bucket(kind, at, bucket) => format!("{kind} bucket {bucket:?} at {at}"),
        }
    }
}

/// The place of the store `cfg.store` describes (the primary, or a mirror's derived config).
fn place(cfg: &Config) -> Place {
    match cfg.store.kind {
        StoreKind::Fs => Place::Dir(normal(&cfg.resolve(&cfg.store.fs.root))),
        StoreKind::Oss => {
            let o = &cfg.store.oss;
            let at = if o.endpoint.is_empty() {
                format!("oss-{}", o.region)
            } else {
                host_of(o.endpoint.as_str())
            };
            Place::Bucket("oss", at, o.bucket.clone())
        }
        StoreKind::S3 => {
            let s = &cfg.store.s3;
            let at = if s.endpoint.is_empty() {
                // AWS bucket names are global: the region does not make another bucket.
                "aws".to_string()
            } else {
                host_of(s.endpoint.as_str())
            };
            Place::Bucket("s3", at, s.bucket.clone())
        }
    }
}

fn host_of(endpoint: &str) -> String {
    let rest = endpoint.split_once("://").map_or(endpoint, |(_, r)| r);
    rest.trim_end_matches('/').to_ascii_lowercase()
}

/// An absolute path without `.`/`..` and, where it exists, with symlinks resolved, so that
/// two spellings of one directory compare equal.
fn normal(p: &Path) -> PathBuf {
    if let Ok(c) = std::fs::canonicalize(p) {
        return c;
    }
    let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let mut out = PathBuf::new();
    for c in abs.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        format!("{:#}", Config::parse(text).unwrap_err())
    }

    const USB: &str =
        "[[store.mirror]]\nname = \"usb\"\nkind = \"fs\"\n[store.mirror.fs]\nroot = \"/media/usb/camvault\"\n";
    const OSS2: &str = "[[store.mirror]]\nname = \"shanghai\"\nkind = \"oss\"\nstorage_class = \"Standard\"\n\
        [store.mirror.oss]\nbucket = \"cam-copy\"\nregion = \"cn-shanghai\"\ncredentials_file = \"oss2.cred\"\n\
        [store.mirror.tiering]\ntransition_days = 60\nstorage_class = \"ColdArchive\"\n";

    #[test]
    fn a_mirror_s_prices_replace_only_its_keys() {
        let c = Config::parse(&format!(
            "[prices]\nstandard_gb_month = 0.2\n{OSS2}[store.mirror.prices]\ndeep_cold_archive_gb_month = 0.015\n{USB}"
        ))
        .unwrap();
        let (sh, usb) = (&c.store.mirror[0], &c.store.mirror[1]);
        let p = c.mirror_prices(sh);
        assert_eq!(p.deep_cold_archive_gb_month, 0.015, "its own");
        assert_eq!(p.standard_gb_month, 0.2, "the rest from `[prices]`, not the defaults");
        assert_eq!(c.for_mirror(sh).prices.deep_cold_archive_gb_month, 0.015);
        assert_eq!(c.prices_of("shanghai").deep_cold_archive_gb_month, 0.015);
        assert_eq!(c.prices_of(PRIMARY).deep_cold_archive_gb_month, 0.0075);
        assert_eq!(c.mirror_prices(usb).standard_gb_month, 0.2);
        let e = err(&format!("{OSS2}[store.mirror.prices]\nstandard_gb = 1\n"));
        assert!(
            e.contains("`store.mirror.prices` of mirror \"shanghai\": `standard_gb` is not a price")
                && e.contains("standard_gb_month"),
            "{e}"
        );
    }

    #[test]
    fn mirrors_parse_each_a_full_backend_with_its_own_class_and_plan() {
        let c = Config::parse(&format!("{USB}{OSS2}")).unwrap();
        assert_eq!(c.store.mirror.len(), 2);
        let (usb, sh) = (&c.store.mirror[0], &c.store.mirror[1]);
        assert_eq!((usb.name.as_str(), usb.kind), ("usb", StoreKind::Fs));
        assert_eq!(usb.storage_class, StorageClass::Standard);
        assert_eq!(usb.min_free, ByteSize(2 << 30));
        let d = c.for_mirror(sh);
        assert_eq!(d.store.kind, StoreKind::Oss);
        assert_eq!(d.store.oss.bucket, "cam-copy");
        assert_eq!(d.store.storage_class, StorageClass::Standard);
        assert_eq!(
            (d.tiering.transition_days, d.tiering.storage_class),
            (60, StorageClass::ColdArchive)
        );
        assert!(d.store.mirror.is_empty());
        // The primary keeps its own.
        assert_eq!(c.store.kind, StoreKind::Fs);
        assert_eq!(c.tiering.transition_days, 30);
        assert_eq!(c.mirrors_required(), 2, "default: every mirror");
        // No mirror: nothing changes.
        let none = Config::parse("").unwrap();
        assert!(none.store.mirror.is_empty());
        assert_eq!(none.mirrors_required(), 0);
    }

    #[test]
    fn duplicate_names_same_places_and_bad_values_are_refused_with_the_reason() {
        let e = err(&format!("{USB}{}", USB.replace("/media/usb/camvault", "/media/other")));
        assert!(e.contains("two `[[store.mirror]]` entries are named \"usb\""), "{e}");
        let e = err(&format!(
            "{OSS2}{}",
            OSS2.replace("shanghai\"\nkind", "shanghai-2\"\nkind")
        ));
        assert!(
            e.contains("mirror \"shanghai-2\" points at the same place as mirror \"shanghai\"")
                && e.contains("oss bucket \"cam-copy\""),
            "{e}"
        );
        // Equal to the primary, or nested in it.
        let e = err("[store.fs]\nroot = \"/srv/store\"\n[[store.mirror]]\nname = \"m\"\nkind = \"fs\"\n[store.mirror.fs]\nroot = \"/srv/store/../store/\"\n");
        assert!(e.contains("the same place as the main store"), "{e}");
        let e = err("[store.fs]\nroot = \"/srv/store\"\n[[store.mirror]]\nname = \"m\"\nkind = \"fs\"\n[store.mirror.fs]\nroot = \"/srv/store/copy\"\n");
        assert!(e.contains("the same place as the main store"), "{e}");
        // Two S3 mirrors on one bucket of one endpoint, whatever the spelling.
        let s3 = |n: &str, ep: &str| {
            format!("[[store.mirror]]\nname = \"{n}\"\nkind = \"s3\"\n[store.mirror.s3]\nbucket = \"cams\"\nendpoint = \"{ep}\"\npath_style = true\ncredentials_file = \"s3.cred\"\n")
        };
        let e = err(&format!(
            "{}{}",
            s3("a", "http://127.0.0.1:9000"),
            s3("b", "http://127.0.0.1:9000/")
        ));
        assert!(
            e.contains("mirror \"b\" points at the same place as mirror \"a\""),
            "{e}"
        );
        // Another endpoint is another bucket.
        Config::parse(&format!(
            "{}{}",
            s3("a", "http://127.0.0.1:9000"),
            s3("b", "http://127.0.0.1:9001")
        ))
        .unwrap();
        for (text, needle) in [
            (USB.replace("\"usb\"", "\"primary\""), "is the main store's name"),
            (
                USB.replace("\"usb\"", "\"USB disk\""),
                "`store.mirror[0].name` = \"USB disk\"",
            ),
            (
                USB.replace("root = \"/media/usb/camvault\"", "root = \"\""),
                "mount point",
            ),
            (
                USB.replace("kind = \"fs\"", "kind = \"fs\"\nstorage_class = \"Cold\""),
                "store.mirror.storage_class",
            ),
            (
                USB.replace("kind = \"fs\"", "kind = \"fs\"\nbucket = \"x\""),
                "unknown field `bucket`",
            ),
            (
                OSS2.replace("region = \"cn-shanghai\"", "region = \"\""),
                "store.oss.region",
            ),
            (
                OSS2.replace("transition_days = 60", "transition_days = 0"),
                "transition_days",
            ),
            (
                format!("[cache]\nrequire_copies = 3\n{USB}"),
                "`cache.require_copies` = 3: only 2 store(s)",
            ),
            ("[[store.mirror]]\nkind = \"fs\"\n".to_string(), "missing field `name`"),
        ] {
            let e = err(&text);
            assert!(e.contains(needle), "{needle:?} not in {e:?}");
        }
        // The OSS error says which mirror it is about.
        let e = err(&OSS2.replace("region = \"cn-shanghai\"", "region = \"\""));
        assert!(e.contains("\"shanghai\""), "{e}");
    }

    /// A remote mirror without credentials of its own is refused unless it says it uses the
    /// main store's, which then must be of its kind; `read_only` is for buckets only.
    #[test]
    fn a_mirror_without_its_own_credentials_must_say_same_as_primary() {
        let bare = OSS2.replace("credentials_file = \"oss2.cred\"\n", "");
        let e = err(&bare);
        assert!(
            e.contains("mirror \"shanghai\" has no credentials of its own")
                && e.contains("credentials = \"same-as-primary\""),
            "{e}"
        );
        let same = bare.replace(
            "storage_class = \"Standard\"\n",
            "storage_class = \"Standard\"\ncredentials = \"same-as-primary\"\n",
        );
        // The main store is `fs`: nothing to share.
        let e = err(&same);
        assert!(e.contains("the main store is `fs`, not `oss`"), "{e}");
        let primary = "[store]\nkind = \"oss\"\n[store.oss]\nbucket = \"cams\"\nregion = \"cn-beijing\"\ncredentials_file = \"/etc/camvault/oss.key\"\n";
        let c = Config::parse(&format!("{primary}{same}")).unwrap();
        let d = c.for_mirror(&c.store.mirror[0]);
        assert_eq!(
            d.store.oss.credentials_file,
            std::path::PathBuf::from("/etc/camvault/oss.key")
        );
        assert_eq!(d.store.oss.bucket, "cam-copy", "only the credentials are the primary's");
        // Both at once, a bad value, a disk with credentials.
        let e = err(&format!(
            "{primary}{}",
            same.replace("[store.mirror.oss]\n", "[store.mirror.oss]\ncredentials_file = \"x\"\n")
        ));
        assert!(e.contains("keep one of them"), "{e}");
        let e = err(&same.replace("same-as-primary", "primary"));
        assert!(e.contains("the only value is \"same-as-primary\""), "{e}");
        let e = err(&USB.replace("kind = \"fs\"", "kind = \"fs\"\ncredentials = \"same-as-primary\""));
        assert!(e.contains("a disk mirror has no credentials"), "{e}");
        let e = err(&USB.replace("kind = \"fs\"", "kind = \"fs\"\nread_only = true"));
        assert!(e.contains("`read_only = true` is for a bucket"), "{e}");
        let c = Config::parse(&OSS2.replace("kind = \"oss\"", "kind = \"oss\"\nread_only = true")).unwrap();
        assert!(c.store.mirror[0].read_only);
    }

    #[test]
    fn mirror_secrets_make_the_file_secret() {
        let c = Config::parse(&OSS2.replace(
            "credentials_file = \"oss2.cred\"",
            "access_key_id = \"id\"\naccess_key_secret = \"s\"",
        ))
        .unwrap();
        assert!(c.holds_secrets());
        assert!(!Config::parse(USB).unwrap().holds_secrets());
    }
}
