//! `camvault camera probe`: asks one camera over miIO for its SD card and NAS sync state.

use std::process::ExitCode;

use anyhow::{anyhow, Result};

use crate::config::{normalize_mac, Config};
use crate::miio::camera;

pub fn probe(cfg: &Config, which: &str, json: bool) -> Result<ExitCode> {
    let targets = camera::targets(cfg)?;
    let mac = normalize_mac(which);
    let t = targets
        .iter()
        .find(|t| t.id == which || mac.as_deref().is_some_and(|m| normalize_mac(&t.key).as_deref() == Some(m)))
        .ok_or_else(|| {
            anyhow!(
                "no camera {which:?} with a miIO address and token in the config; set `cameras.<MAC>.address` and `cameras.<MAC>.miio_token_file` (docs/cameras.md, \"SD card and NAS sync\")"
            )
        })?;
    let rt = super::runtime()?;
    let r = rt.block_on(camera::read(t, None));
    let problems: Vec<String> = camera::problems(&r).into_iter().flatten().map(|m| m.en()).collect();
    if json {
        let mut v = serde_json::to_value(&r)?;
        v["problems"] = serde_json::json!(problems);
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("camera  {} at {}: {}", r.camera, r.address, camera::describe(&r));
        for n in &r.notes {
            println!("note    {n}");
        }
        for p in &problems {
            println!("PROBLEM {p}");
        }
    }
    Ok(if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
