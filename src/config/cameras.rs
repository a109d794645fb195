//! Cameras as the pipeline sees them: the id used in keys and the zone of their clock.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;

use jiff::tz::TimeZone;
use serde::{de, Deserialize, Deserializer};

use super::values::Secret;
use super::Config;

/// `[cameras.<MAC>]`: one camera's settings, keyed by its MAC (12 hex digits, any case,
/// `:` or `-` allowed).
#[derive(Debug, Clone)]
pub struct Camera {
    /// Display name and key component; default the MAC in lower case.
    pub name: String,
    /// IANA zone the camera's clock runs in; default `capture.timezone`, then the host's.
    pub timezone: Option<Zone>,
    /// The camera's IP on the LAN (or `IP:port`): with a miIO token, `serve` polls its
    /// SD card and NAS sync state (src/miio, docs/cameras.md). Empty = not polled.
    pub address: String,
    /// The camera's miIO token (32 hex digits); prefer `miio_token_file` (mode 0600) or
    /// `$CAMVAULT_MIIO_TOKEN_<MAC>`. Never logged.
    pub miio_token: Secret,
    pub miio_token_file: PathBuf,
    /// Seconds between two polls of the camera.
    pub miio_poll_secs: u64,
    /// The MIoT memory-card service of this model: siid, then the piids of status, total,
    /// free and used space.
    pub miio_sd: Vec<u32>,
    /// Named zones of the picture, for the index (`[[cameras.<mac>.zones]]`).
    pub zones: Vec<crate::index::zones::Zone>,
}

impl Default for Camera {
    fn default() -> Self {
        Camera {
            name: String::new(),
            timezone: None,
            address: String::new(),
            miio_token: Secret::default(),
            miio_token_file: PathBuf::new(),
            miio_poll_secs: 300,
            // isa.camera.hlc7's MIoT spec (docs/cameras.md [S12]).
            miio_sd: vec![4, 1, 2, 3, 4],
            zones: Vec::new(),
        }
    }
}

/// The UDP port miIO devices listen on (`miio::packet::PORT` is this one).
pub const MIIO_PORT: u16 = 54321;

/// `cameras.<MAC>.address`: `192.168.1.20` (port 54321) or `192.168.1.20:5000`.
pub fn miio_addr(s: &str) -> Result<SocketAddr, String> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, MIIO_PORT));
    }
    s.parse::<SocketAddr>()
        .map_err(|_| "not an IP address (write e.g. 192.168.1.20, or 192.168.1.20:54321)".to_string())
}

/// Whether `text` is a miIO token: 32 hex digits (16 bytes).
pub fn check_miio_token(text: &str) -> Result<(), String> {
    let t = text.trim();
    if t.len() != 32 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "a miIO token is 32 hex digits (16 bytes); this one has {} characters{}",
            t.len(),
            if t.bytes().all(|b| b.is_ascii_hexdigit()) {
                ""
            } else {
                ", not all hex digits"
            }
        ));
    }
    Ok(())
}

impl Config {
    /// Address, token and memory-card ids of the cameras polled over miIO (token files
    /// and the environment are read when polling starts).
    pub(super) fn validate_miio(&self) -> anyhow::Result<()> {
        use anyhow::{anyhow, bail};
        for (key, cam) in &self.cameras {
            let has_token = !cam.miio_token.0.is_empty() || !cam.miio_token_file.as_os_str().is_empty();
            if cam.address.is_empty() {
                if has_token {
                    bail!("`cameras.{key}` has a miIO token but no `address`: set `cameras.{key}.address` to the camera's IP on the LAN");
                }
                continue;
            }
            miio_addr(&cam.address).map_err(|e| anyhow!("`cameras.{key}.address` = {:?}: {e}", cam.address))?;
            if !cam.miio_token.0.is_empty() {
                check_miio_token(&cam.miio_token.0).map_err(|e| anyhow!("`cameras.{key}.miio_token`: {e}"))?;
            }
            if cam.miio_sd.len() != 5 {
                bail!("`cameras.{key}.miio_sd` must be 5 numbers: the memory-card service's siid, then the piids of status, total, free and used space (default [4, 1, 2, 3, 4])");
            }
            if cam.miio_poll_secs < 10 {
                bail!(
                    "`cameras.{key}.miio_poll_secs` = {}: poll at most every 10 s (default 300)",
                    cam.miio_poll_secs
                );
            }
        }
        Ok(())
    }
}

/// An IANA time zone of the config, with its name as written.
#[derive(Debug, Clone)]
pub struct Zone {
    name: String,
    tz: TimeZone,
}

impl Zone {
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn tz(&self) -> &TimeZone {
        &self.tz
    }
}

impl PartialEq for Zone {
    fn eq(&self, other: &Zone) -> bool {
        self.name == other.name
    }
}

impl FromStr for Zone {
    type Err = String;
    fn from_str(s: &str) -> Result<Zone, String> {
        zone(s).map(|tz| Zone {
            name: s.to_string(),
            tz,
        })
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// A zone key: `""` (the default) is none. `key` names it in the error.
fn optional_zone(s: &str, key: &str) -> Result<Option<Zone>, String> {
    if s.is_empty() {
        return Ok(None);
    }
    s.parse().map(Some).map_err(|e| format!("`{key}`: {e}"))
}

/// `capture.timezone`.
pub(super) fn capture_zone<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Zone>, D::Error> {
    optional_zone(&String::deserialize(d)?, "capture.timezone").map_err(de::Error::custom)
}

/// `[cameras]`: each camera's zone is parsed here, where its key is known for the error.
pub(super) fn cameras<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, Camera>, D::Error> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields, default)]
    struct Raw {
        name: String,
        timezone: String,
        address: String,
        miio_token: Secret,
        miio_token_file: PathBuf,
        miio_poll_secs: u64,
        miio_sd: Vec<u32>,
        zones: Vec<crate::index::zones::Zone>,
    }
    impl Default for Raw {
        fn default() -> Self {
            let c = Camera::default();
            Raw {
                name: c.name,
                timezone: String::new(),
                address: c.address,
                miio_token: c.miio_token,
                miio_token_file: c.miio_token_file,
                miio_poll_secs: c.miio_poll_secs,
                miio_sd: c.miio_sd,
                zones: c.zones,
            }
        }
    }
    BTreeMap::<String, Raw>::deserialize(d)?
        .into_iter()
        .map(|(key, c)| {
            let timezone = optional_zone(&c.timezone, &format!("cameras.{key}.timezone")).map_err(de::Error::custom)?;
            Ok((
                key,
                Camera {
                    name: c.name,
                    timezone,
                    address: c.address,
                    miio_token: c.miio_token,
                    miio_token_file: c.miio_token_file,
                    miio_poll_secs: c.miio_poll_secs,
                    miio_sd: c.miio_sd,
                    zones: c.zones,
                },
            ))
        })
        .collect()
}

/// A camera as the pipeline sees it: id used in keys, zone for its clock.
#[derive(Debug, Clone)]
pub struct CameraInfo {
    pub id: String,
    pub tz: TimeZone,
    pub tz_name: String,
}

impl Config {
    /// The index zones of a camera by its id (name or MAC).
    pub fn zones_of(&self, camera: &str) -> &[crate::index::zones::Zone] {
        self.cameras
            .iter()
            .find(|(k, c)| c.name == camera || normalize_mac(k).as_deref() == Some(camera))
            .map(|(_, c)| c.zones.as_slice())
            .unwrap_or(&[])
    }

    /// The default zone for cameras without their own.
    pub fn default_zone(&self) -> (TimeZone, String) {
        if let Some(z) = &self.capture.timezone {
            return (z.tz.clone(), z.name.clone());
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
            let (tz, tz_name) = match conf.and_then(|c| c.timezone.as_ref()) {
                Some(z) => (z.tz.clone(), z.name.clone()),
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
                if let Some(z) = conf.timezone.as_ref().filter(|_| conf.name == c || mac == c) {
                    return z.tz.clone();
                }
            }
        }
        self.default_zone().0
    }
}

fn zone(name: &str) -> Result<TimeZone, String> {
    time_zone(name)
        .map_err(|_| format!("{name:?} is not a known IANA time zone; use e.g. \"Asia/Shanghai\" or \"Europe/Berlin\""))
}

/// The IANA time zone `name`. Read straight from its TZif file in the system's zoneinfo
/// directory (`$TZDIR`, else `/usr/share/zoneinfo`) when the name is a plain path there:
/// jiff's database lists that whole tree (some 600 files) the first time it is asked,
/// which was a large part of every short command (`status`, a day's `ls`, issue 18).
/// Anything else (other spellings, no zoneinfo directory) goes to jiff's database.
pub fn time_zone(name: &str) -> Result<TimeZone, jiff::Error> {
    if name == "UTC" {
        return Ok(TimeZone::UTC);
    }
    let plain = !name.is_empty()
        && name.len() < 64
        && name.split('/').all(|p| !p.is_empty() && !p.starts_with('.'))
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"/_+-".contains(&b));
    if plain {
        let dir = std::env::var_os("TZDIR").map_or_else(|| "/usr/share/zoneinfo".into(), std::path::PathBuf::from);
        if let Ok(Ok(tz)) = std::fs::read(dir.join(name)).map(|data| TimeZone::tzif(name, &data)) {
            return Ok(tz);
        }
    }
    TimeZone::get(name)
}

/// `78:DF:72:A1:B2:C3` → `78df72a1b2c3`.
pub fn normalize_mac(s: &str) -> Option<String> {
    let hex: String = s.chars().filter(|c| *c != ':' && *c != '-').collect();
    crate::inbox::layout::is_mac(&hex).then(|| hex.to_ascii_lowercase())
}

pub(super) fn valid_camera_name(s: &str) -> bool {
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
