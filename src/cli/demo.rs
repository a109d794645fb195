//! `camvault demo`: the newcomer's first run. Inits a directory, simulates a camera that
//! writes clips of both Xiaomi layouts into the inbox, and serves until Ctrl-C.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::config::Config;

const OLD_MAC: &str = "78df72a1b2c3";
const NEW_MAC: &str = "5c02148a9e01";

pub fn run(dir: &Path, interval: u64, duration: Option<u64>) -> Result<ExitCode> {
    let config_path = dir.join(crate::config::DEFAULT_FILE);
    let cfg = if config_path.exists() {
        Config::load(&config_path)?
    } else {
        super::init::create(dir, false, &demo_config())?
    };
    let clips = sample_clips(dir)?;
    println!("camvault demo in {}", dir.display());
    println!(
        "  a simulated camera writes a clip into {} every {interval} s",
        cfg.inbox().display()
    );
    println!("  stored objects appear under          {}", cfg.fs_root().display());
    println!(
        "  in another terminal, try:            camvault --config {} status",
        config_path.display()
    );
    println!(
        "                                       camvault --config {} ls",
        config_path.display()
    );
    println!("  Ctrl-C stops the demo.");
    let rt = super::runtime()?;
    rt.block_on(async move {
        let stop = CancellationToken::new();
        tokio::spawn(super::serve::stop_on_signal(stop.clone()));
        if let Some(secs) = duration {
            let s = stop.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(secs)).await;
                s.cancel();
            });
        }
        let camera = tokio::spawn(camera(
            cfg.inbox(),
            clips,
            Duration::from_secs(interval.max(1)),
            stop.clone(),
        ));
        let served = super::serve::serve_until(cfg, stop.clone()).await;
        stop.cancel();
        let _ = camera.await;
        served
    })?;
    Ok(ExitCode::SUCCESS)
}

fn demo_config() -> String {
    let base = crate::config::TEMPLATE
        .replace("settle_secs = 120", "settle_secs = 3")
        .replace("rescan_secs = 300", "rescan_secs = 30");
    format!(
        "{base}\n# Added by `camvault demo`: the two simulated cameras.\n[cameras.{OLD_MAC}]\nname = \"front-door\"\ntimezone = \"Asia/Shanghai\"\n\n[cameras.{NEW_MAC}]\nname = \"garden\"\ntimezone = \"Asia/Shanghai\"\n"
    )
}

/// Real short MP4s when ffmpeg is installed (HEVC when it can, as the C700 records), else placeholder bytes.
fn sample_clips(dir: &Path) -> Result<Vec<u8>> {
    let out = dir.join("demo-sample.mp4");
    if let Ok(b) = std::fs::read(&out) {
        return Ok(b);
    }
    if super::which("ffmpeg").is_some() {
        let ok = std::process::Command::new("ffmpeg")
            .args([
                "-y",
                "-loglevel",
                "error",
                "-f",
                "lavfi",
                "-i",
                "testsrc=duration=2:size=320x180:rate=10",
                "-pix_fmt",
                "yuv420p",
            ])
            .arg(&out)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if ok {
            return std::fs::read(&out).with_context(|| format!("cannot read {}", out.display()));
        }
        warn!("ffmpeg could not make a sample clip; using placeholder bytes");
    } else {
        info!("ffmpeg not installed: the simulated camera writes placeholder bytes instead of real MP4s");
    }
    Ok((0..256 * 1024).map(|i| (i * 7 % 251) as u8).collect())
}

/// Writes clips alternately in the old and the new layout, each in a few appends.
async fn camera(inbox: PathBuf, clip: Vec<u8>, every: Duration, stop: CancellationToken) {
    let mut n = 0u64;
    loop {
        let now = jiff::Zoned::now()
            .with_time_zone(jiff::tz::TimeZone::get("Asia/Shanghai").unwrap_or(jiff::tz::TimeZone::UTC));
        let path = if n % 2 == 0 {
            inbox
                .join("xiaomi_camera_videos")
                .join(OLD_MAC.to_uppercase())
                .join(now.strftime("%Y%m%d%H").to_string())
                .join(format!(
                    "{}_{}.mp4",
                    now.strftime("%MM%SS"),
                    now.timestamp().as_second()
                ))
        } else {
            let end = now.checked_add(jiff::Span::new().seconds(60)).unwrap_or(now.clone());
            inbox
                .join(format!("XiaomiCamera_00_{}", NEW_MAC.to_uppercase()))
                .join(format!(
                    "00_{}_{}.mp4",
                    now.strftime("%Y%m%d%H%M%S"),
                    end.strftime("%Y%m%d%H%M%S")
                ))
        };
        if let Err(e) = write_in_parts(&path, &clip) {
            warn!("demo camera cannot write {}: {e}", path.display());
        }
        n += 1;
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

fn write_in_parts(path: &Path, data: &[u8]) -> std::io::Result<()> {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p)?;
    }
    let mut f = std::fs::File::create(path)?;
    for part in data.chunks(data.len().div_ceil(3).max(1)) {
        f.write_all(part)?;
        f.flush()?;
    }
    Ok(())
}
