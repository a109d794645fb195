//! What camvault asks a Xiaomi camera over miIO, and what the answers mean.
//!
//! Two questions, both read-only:
//! - `nas_get_config`: the camera's NAS (SMB) sync settings and state. Field names from the
//!   Mi Home camera plugin's `NASInfo` parser (`state`, `sync_interval`,
//!   `video_retention_time`, `last_sync_time`, `error_code`, `share`); the values of `state`
//!   and the intervals from python-miio's `NASState` (Off = 2, On = 3), `NASSyncInterval`
//!   and `NASVideoRetentionTime` (docs/cameras.md, [S1] [S11]).
//! - MIoT `get_properties` on the memory-card-management service: `status`,
//!   `storage-total-space`, `storage-free-space`, `storage-used-space`. The service and
//!   property ids differ by model; the default (siid 4, piids 1-4) and the status values
//!   (0 normal, 1 no card, 2 no space, 3 not working, 4 formatting, 5 ejected) are those
//!   of the MIoT spec of isa.camera.hlc7 [S12]; `cameras.<MAC>.miio_sd` sets another model's.
//!
//! The share's password is part of `nas_get_config`'s answer (`share.pass`): it is never
//! parsed, kept, logged or shown.

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::client::{Client, MiioError};
use super::packet::Token;
use crate::config::{normalize_mac, Config};

/// A camera camvault polls over miIO, resolved from its `[cameras.<MAC>]` block.
#[derive(Debug, Clone)]
pub struct Target {
    /// The camera's id (configured name or MAC), as in `status` and metrics.
    pub id: String,
    /// The config key, for error messages (`cameras.<key>.…`).
    pub key: String,
    pub addr: SocketAddr,
    pub token: Token,
    /// siid, then the piids of status, total, free and used space.
    pub sd: [u32; 5],
    pub poll: Duration,
}

/// The environment variable that may hold a camera's token: `CAMVAULT_MIIO_TOKEN_<MAC>`.
pub fn token_env(mac: &str) -> String {
    format!("CAMVAULT_MIIO_TOKEN_{}", mac.to_ascii_uppercase())
}

/// Every camera with an `address` and a token. Errors name the key and what to do.
pub fn targets(cfg: &Config) -> Result<Vec<Target>> {
    let mut out = Vec::new();
    for (key, cam) in &cfg.cameras {
        let Some(mac) = normalize_mac(key) else { continue };
        let env = token_env(&mac);
        let has_token = !cam.miio_token.0.is_empty()
            || !cam.miio_token_file.as_os_str().is_empty()
            || std::env::var_os(&env).is_some();
        if cam.address.is_empty() {
            if !cam.miio_token.0.is_empty() || !cam.miio_token_file.as_os_str().is_empty() {
                bail!("`cameras.{key}` has a miIO token but no `address`: set `cameras.{key}.address` to the camera's IP on the LAN (the Mi Home app shows it under the camera's network info)");
            }
            continue;
        }
        if !has_token {
            bail!("`cameras.{key}.address` is set but the camera has no miIO token: set `cameras.{key}.miio_token_file` (a file of mode 0600 holding the 32 hex digits) or ${env}");
        }
        out.push(target(cfg, key, &mac, cam)?);
    }
    Ok(out)
}

fn target(cfg: &Config, key: &str, mac: &str, cam: &crate::config::Camera) -> Result<Target> {
    let addr = parse_addr(&cam.address).map_err(|e| anyhow!("`cameras.{key}.address` = {:?}: {e}", cam.address))?;
    let text = if !cam.miio_token.0.is_empty() {
        cam.miio_token.0.clone()
    } else if !cam.miio_token_file.as_os_str().is_empty() {
        let p = cfg.resolve(&cam.miio_token_file);
        let meta = std::fs::metadata(&p)
            .with_context(|| format!("cannot read `cameras.{key}.miio_token_file` {}", p.display()))?;
        if meta.permissions().mode() & 0o077 != 0 {
            bail!(
                "`cameras.{key}.miio_token_file` {} is readable by others (mode {:o}): the token controls the camera; chmod 600 it",
                p.display(),
                meta.permissions().mode() & 0o777
            );
        }
        std::fs::read_to_string(&p)
            .with_context(|| format!("cannot read `cameras.{key}.miio_token_file` {}", p.display()))?
    } else {
        std::env::var(token_env(mac)).unwrap_or_default()
    };
    let token = Token::from_hex(&text).map_err(|e| anyhow!("the miIO token of `cameras.{key}`: {e}"))?;
    if cam.miio_sd.len() != 5 {
        bail!("`cameras.{key}.miio_sd` must be 5 numbers: the memory-card service's siid, then the piids of status, total, free and used space (default [4, 1, 2, 3, 4])");
    }
    let mut sd = [0u32; 5];
    sd.copy_from_slice(&cam.miio_sd);
    Ok(Target {
        id: cfg.camera(Some(mac), None).id,
        key: key.to_string(),
        addr,
        token,
        sd,
        poll: Duration::from_secs(cam.miio_poll_secs.max(10)),
    })
}

/// `192.168.1.20` (port 54321) or `192.168.1.20:5000` (checked when the config is read).
pub use crate::config::miio_addr as parse_addr;

/// The memory card as the camera reports it. Space in the camera's own unit (MB on the
/// models documented, [S12]).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SdCard {
    pub status: Option<i64>,
    pub status_text: String,
    pub total: Option<i64>,
    pub free: Option<i64>,
    pub used: Option<i64>,
}

/// The camera's NAS sync settings and state (`nas_get_config`), without the share's password.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Nas {
    pub state: i64,
    pub state_text: String,
    pub sync_interval_secs: i64,
    pub retention_secs: i64,
    /// Unix seconds of the camera's last sync, when it reports one.
    pub last_sync: Option<i64>,
    pub error_code: i64,
    /// The share the camera syncs to: server name, address, folder.
    pub share_name: String,
    pub share_addr: String,
    pub share_dir: String,
}

/// One poll of one camera.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Reading {
    pub camera: String,
    pub address: String,
    pub at_ms: i64,
    pub sd: Option<SdCard>,
    pub nas: Option<Nas>,
    /// Why the camera could not be read at all (unreachable, wrong token).
    pub error: Option<String>,
    /// The same as a message in the interface's languages (the health rule's detail).
    #[serde(skip)]
    pub error_msg: Option<crate::msg::Msg>,
    /// A question the camera did not answer though it answered the other.
    pub notes: Vec<String>,
}

pub fn sd_status_text(s: i64) -> &'static str {
    match s {
        0 => "normal",
        1 => "no card inserted",
        2 => "no space left",
        3 => "not working",
        4 => "formatting",
        5 => "ejected",
        _ => "unknown status",
    }
}

pub fn nas_state_text(s: i64) -> &'static str {
    match s {
        2 => "off",
        3 => "on",
        _ => "unknown state",
    }
}

/// Asks the camera both questions. Never fails: what went wrong is in the reading.
pub async fn read(t: &Target, timeout: Option<Duration>) -> Reading {
    let mut client = Client::new(t.addr, t.token.clone());
    if let Some(d) = timeout {
        client = client.with_timeout(d);
    }
    let mut r = Reading {
        camera: t.id.clone(),
        address: t.addr.to_string(),
        at_ms: jiff::Timestamp::now().as_millisecond(),
        ..Default::default()
    };
    match client.call("nas_get_config", json!({})).await {
        Ok(v) => match parse_nas(&v) {
            Ok(n) => r.nas = Some(n),
            Err(e) => r.notes.push(format!("nas_get_config: {e}")),
        },
        Err(e @ MiioError::Device { .. }) | Err(e @ MiioError::Malformed { .. }) => r.notes.push(e.to_string()),
        Err(e) => {
            // Unreachable or the wrong token: the second question would fail the same way.
            r.error = Some(format!("camera {}: {e}", t.id));
            r.error_msg = Some(unreachable(&t.id, &e));
            return r;
        }
    }
    let [siid, ps, pt, pf, pu] = t.sd;
    let params: Vec<Value> = [("status", ps), ("total", pt), ("free", pf), ("used", pu)]
        .iter()
        .map(|(did, piid)| json!({"did": did, "siid": siid, "piid": piid}))
        .collect();
    match client.call("get_properties", Value::Array(params)).await {
        Ok(v) => r.sd = Some(parse_sd(&v, &t.sd)),
        Err(e @ MiioError::Device { .. }) | Err(e @ MiioError::Malformed { .. }) => r.notes.push(e.to_string()),
        Err(e) => {
            r.error = Some(format!("camera {}: {e}", t.id));
            r.error_msg = Some(unreachable(&t.id, &e));
        }
    }
    r
}

/// Why a camera cannot be read, as the health rule's message.
fn unreachable(camera: &str, e: &MiioError) -> crate::msg::Msg {
    use crate::msg;
    match e {
        MiioError::Silent { addr, tries, secs } => {
            msg!(
                "health.detail.miio_silent",
                camera = camera,
                addr = addr,
                tries = tries,
                secs = secs
            )
        }
        MiioError::NoReply { addr, method, .. } => {
            msg!(
                "health.detail.miio_token",
                camera = camera,
                addr = addr,
                method = method
            )
        }
        e => msg!("health.detail.miio_unreachable", camera = camera, error = e),
    }
}

fn int(v: &Value, key: &str) -> Option<i64> {
    match v.get(key)? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        Value::Bool(b) => Some(*b as i64),
        _ => None,
    }
}

/// `nas_get_config`'s result: an object, or (some firmware) a list holding one.
pub fn parse_nas(v: &Value) -> Result<Nas, String> {
    let o = match v {
        Value::Object(_) => v,
        Value::Array(a) if a.first().is_some_and(Value::is_object) => &a[0],
        _ => return Err(format!("expected an object, got {}", kind(v))),
    };
    let state = int(o, "state").ok_or("no `state`")?;
    let share = o.get("share").cloned().unwrap_or(Value::Null);
    let text = |k: &str| {
        share
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .chars()
            .take(128)
            .collect::<String>()
    };
    Ok(Nas {
        state,
        state_text: nas_state_text(state).into(),
        sync_interval_secs: int(o, "sync_interval").unwrap_or(0),
        retention_secs: int(o, "video_retention_time").unwrap_or(0),
        last_sync: int(o, "last_sync_time").filter(|t| *t > 0),
        error_code: int(o, "error_code").unwrap_or(0),
        share_name: text("name"),
        // python-miio's nas_set_config sends the IPv4 address byte-reversed as an integer.
        share_addr: int(&share, "addr")
            .and_then(|a| u32::try_from(a).ok())
            .filter(|a| *a != 0)
            .map(|a| {
                let o = std::net::Ipv4Addr::from(a).octets();
                std::net::Ipv4Addr::new(o[3], o[2], o[1], o[0]).to_string()
            })
            .unwrap_or_default(),
        share_dir: text("dir"),
    })
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// `get_properties`' result: a list of `{siid, piid, code, value}`; a property with a
/// non-zero `code` is unknown.
pub fn parse_sd(v: &Value, ids: &[u32; 5]) -> SdCard {
    let get = |piid: u32| -> Option<i64> {
        v.as_array()?
            .iter()
            .find(|p| int(p, "siid") == Some(ids[0] as i64) && int(p, "piid") == Some(piid as i64))
            .filter(|p| int(p, "code").unwrap_or(0) == 0)
            .and_then(|p| int(p, "value"))
    };
    let status = get(ids[1]);
    SdCard {
        status,
        status_text: status.map(sd_status_text).unwrap_or("not reported").into(),
        total: get(ids[2]),
        free: get(ids[3]),
        used: get(ids[4]),
    }
}

/// The health verdicts of a reading: (memory card, NAS sync, reachability), each `None`
/// when fine.
pub fn problems(r: &Reading) -> [Option<crate::msg::Msg>; 3] {
    use crate::msg;
    let id = &r.camera;
    let reach = r.error_msg.clone().or_else(|| {
        r.error.as_ref().map(|e| {
            let e = e.strip_prefix(&format!("camera {id}: ")).unwrap_or(e);
            msg!("health.detail.miio_unreachable", camera = id, error = e)
        })
    });
    let sd = r.sd.as_ref().and_then(|s| {
        let full = s.total.is_some_and(|t| t > 0) && s.free == Some(0);
        match s.status {
            Some(1) | Some(5) => Some(msg!("health.detail.sd_missing", camera = id)),
            Some(2) => Some(msg!("health.detail.sd_full", camera = id)),
            Some(3) => Some(msg!("health.detail.sd_failing", camera = id)),
            _ if full => Some(msg!("health.detail.sd_no_space", camera = id)),
            _ => None,
        }
    });
    let nas = r.nas.as_ref().and_then(|n| {
        if n.state == 2 {
            Some(msg!("health.detail.nas_off", camera = id))
        } else if n.error_code != 0 {
            Some(match n.last_sync {
                Some(t) => msg!(
                    "health.detail.nas_error_since",
                    camera = id,
                    code = n.error_code,
                    last = crate::report::rfc3339(t * 1000, "UTC")
                ),
                None => msg!("health.detail.nas_error", camera = id, code = n.error_code),
            })
        } else {
            None
        }
    });
    [sd, nas, reach]
}

/// One line for `status` and `camera probe`.
pub fn describe(r: &Reading) -> String {
    if let Some(e) = &r.error {
        return format!("not readable: {e}");
    }
    let mut parts = Vec::new();
    match &r.sd {
        Some(s) => {
            let space = match (s.free, s.total) {
                (Some(f), Some(t)) => format!(", {f} of {t} free"),
                _ => String::new(),
            };
            parts.push(format!("SD card {}{space}", s.status_text));
        }
        None => parts.push("SD card not reported".into()),
    }
    match &r.nas {
        Some(n) => {
            let last = n
                .last_sync
                .map(|t| format!(", last sync {}", crate::report::rfc3339(t * 1000, "UTC")))
                .unwrap_or_default();
            parts.push(format!(
                "NAS sync {} every {} s, retention {} days{last}, error code {}",
                n.state_text,
                n.sync_interval_secs,
                n.retention_secs / 86_400,
                n.error_code
            ));
        }
        None => parts.push("NAS settings not reported".into()),
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nas_config_as_the_app_reads_it_without_the_password() {
        let v = json!({"state": 3, "sync_interval": 300, "video_retention_time": 604800,
            "last_sync_time": 1764000000, "error_code": 0,
            "share": {"type": 1, "group": "WORKGROUP", "name": "CAMVAULT", "addr": 167880896u32,
                      "dir": "camera", "user": "camera", "pass": "hunter2"}});
        let n = parse_nas(&v).unwrap();
        assert_eq!(
            (n.state_text.as_str(), n.sync_interval_secs, n.retention_secs),
            ("on", 300, 604800)
        );
        assert_eq!(n.share_addr, "192.168.1.10");
        assert!(!format!("{n:?}").contains("hunter2"));
        assert!(!serde_json::to_string(&n).unwrap().contains("hunter2"));
        assert!(parse_nas(&json!("ok")).is_err());
        assert_eq!(parse_nas(&json!([{"state": "2"}])).unwrap().state_text, "off");
    }

    #[test]
    fn sd_card_properties_and_health() {
        let ids = [4, 1, 2, 3, 4];
        let v = json!([
            {"did": "status", "siid": 4, "piid": 1, "code": 0, "value": 2},
            {"did": "total", "siid": 4, "piid": 2, "code": 0, "value": 30000},
            {"did": "free", "siid": 4, "piid": 3, "code": -4001, "value": ""},
            {"did": "used", "siid": 4, "piid": 4, "code": 0, "value": 30000},
        ]);
        let s = parse_sd(&v, &ids);
        assert_eq!(
            (s.status, s.total, s.free, s.used),
            (Some(2), Some(30000), None, Some(30000))
        );
        let mut r = Reading {
            camera: "door".into(),
            sd: Some(s),
            ..Default::default()
        };
        let [sd, nas, reach] = problems(&r);
        assert!(sd.unwrap().en().contains("full"));
        assert!(nas.is_none() && reach.is_none());
        r.sd.as_mut().unwrap().status = Some(1);
        assert!(problems(&r)[0].as_ref().unwrap().en().contains("no SD card"));
        r.sd.as_mut().unwrap().status = Some(3);
        assert!(problems(&r)[0].as_ref().unwrap().en().contains("not working"));
        r.sd.as_mut().unwrap().status = Some(0);
        assert!(problems(&r)[0].is_none());
        r.nas = Some(Nas {
            state: 3,
            error_code: 7,
            ..Default::default()
        });
        assert!(problems(&r)[1].as_ref().unwrap().en().contains("error 7"));
        r.nas.as_mut().unwrap().state = 2;
        assert!(problems(&r)[1].as_ref().unwrap().en().contains("turned off"));
        assert!(parse_sd(&json!("nonsense"), &ids).status.is_none());
    }

    #[test]
    fn addresses() {
        assert_eq!(parse_addr("192.168.1.20").unwrap().port(), 54321);
        assert_eq!(parse_addr("127.0.0.1:5000").unwrap().port(), 5000);
        assert!(parse_addr("camera.local").is_err());
    }
}
