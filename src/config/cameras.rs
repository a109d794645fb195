//! Cameras as the pipeline sees them: the id used in keys and the zone of their clock.

use jiff::tz::TimeZone;

use super::Config;

/// A camera as the pipeline sees it: id used in keys, zone for its clock.
#[derive(Debug, Clone)]
pub struct CameraInfo {
    pub id: String,
    pub tz: TimeZone,
    pub tz_name: String,
}

impl Config {
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

pub(super) fn zone(name: &str) -> Result<TimeZone, String> {
    TimeZone::get(name)
        .map_err(|_| format!("{name:?} is not a known IANA time zone; use e.g. \"Asia/Shanghai\" or \"Europe/Berlin\""))
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
