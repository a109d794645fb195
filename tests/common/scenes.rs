//! Clips whose truth is known, made by ffmpeg for the index and its users (tests/index.rs,
//! tests/notify.rs): a textured background with sensor noise, white squares moving at
//! known times, and control clips that must stay silent; plus the in-process catalog and
//! index pass those tests run on an `Env`.

use std::path::Path;
use std::process::Command;

use camvault::catalog::Catalog;
use camvault::config::Config;

use super::{has, Env};

/// A moving white square: visible in `[from, to)` seconds, from (x0, y0) at `from`, moving
/// (vx, vy) per second, in pixels of the 320×180 master picture.
#[derive(Clone, Copy)]
pub struct Obj {
    pub from: f32,
    pub to: f32,
    pub x0: f32,
    pub y0: f32,
    pub vx: f32,
    pub vy: f32,
}

/// One pass of an object through the left half, from 2 to 6 s.
pub const LEFT_PASS: Obj = Obj {
    from: 2.0,
    to: 6.0,
    x0: 10.0,
    y0: 120.0,
    vx: 30.0,
    vy: 0.0,
};

#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Control {
    None,
    /// Strong per-frame sensor noise.
    Noise,
    /// Starved bitrate with a short GOP: blocks and a pulse at every keyframe.
    Flicker,
    /// At 5 s the picture turns grey-scale, flatter and brighter: the IR switch at dusk.
    Infrared,
    /// Brightness rising steadily through the clip.
    Light,
}

/// Writes an HEVC clip of `secs` at `size` (e.g. "320x180", "2304x1296"), 10 fps.
pub fn scene(path: &Path, size: &str, secs: u32, objs: &[Obj], control: Control) {
    scene_at(path, size, secs, objs, control, 10)
}

/// The same at `rate` frames per second (the cameras record 20).
pub fn scene_at(path: &Path, size: &str, secs: u32, objs: &[Obj], control: Control, rate: u32) {
    let (w, h) = size.split_once('x').unwrap();
    let mut g = format!(
        "nullsrc=s=320x180:r={rate}:d={secs},geq=lum='110+45*sin(X/9)*cos(Y/7)+20*sin((X+Y)/23)':cb=120:cr=135,format=yuv420p[bg0];"
    );
    let mut last = "bg0".to_string();
    for (i, o) in objs.iter().enumerate() {
        g += &format!(
            "color=c=white:s=24x24:r={rate}:d={secs}[o{i}];[{last}][o{i}]overlay=x='{}+(t-{})*{}':y='{}+(t-{})*{}':enable='between(t,{},{})'[bg{}];",
            o.x0, o.from, o.vx, o.y0, o.from, o.vy, o.from, o.to - 0.05, i + 1
        );
        last = format!("bg{}", i + 1);
    }
    g += &format!("[{last}]scale={w}:{h}:flags=bicubic");
    g += match control {
        Control::None | Control::Flicker => ",noise=alls=5:allf=t",
        Control::Noise => ",noise=alls=30:allf=t",
        Control::Infrared => ",noise=alls=5:allf=t,lutyuv=y='val*0.55+75':u=128:v=128:enable='gte(t,5)'",
        Control::Light => ",noise=alls=5:allf=t,eq=brightness='-0.15+0.3*t/SECS':eval=frame",
    };
    let g = g.replace("SECS", &secs.to_string());
    let x265 = if control == Control::Flicker {
        "log-level=error:keyint=10:min-keyint=10:qp=46"
    } else {
        "log-level=error"
    };
    hevc_from_graph(path, &g, x265, true);
}

/// Encodes the ffmpeg filter graph `graph` to `path` as HEVC (`hvc1`, x265 with
/// `x265_params`), fragmented like the new-layout cameras' files when `fragmented`.
pub fn hevc_from_graph(path: &Path, graph: &str, x265_params: &str, fragmented: bool) {
    assert!(has("ffmpeg"), "ffmpeg is needed: apt-get install ffmpeg (.ci/run does)");
    let mut c = Command::new("ffmpeg");
    c.args(["-y", "-loglevel", "error", "-filter_complex", graph]).args([
        "-c:v",
        "libx265",
        "-preset",
        "ultrafast",
        "-tag:v",
        "hvc1",
        "-x265-params",
        x265_params,
    ]);
    if fragmented {
        c.args(["-movflags", "frag_keyframe+empty_moov+default_base_moof"]);
    }
    let st = c.arg(path).status().unwrap();
    assert!(st.success(), "ffmpeg could not make {}", path.display());
}

/// The bytes of a 10 s clip at 320×180 with one [`LEFT_PASS`].
pub fn left_pass_clip() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("left.mp4");
    scene(&clip, "320x180", 10, &[LEFT_PASS], Control::None);
    std::fs::read(&clip).unwrap()
}

/// `env`'s config and catalog, opened in this process.
pub fn open(env: &Env) -> (Config, Catalog) {
    let cfg = Config::load(&env.config()).unwrap();
    let cat = Catalog::open(&cfg.catalog(), false).unwrap();
    (cfg, cat)
}

/// The index worker's pass, as `serve` runs it: how many clips it indexed.
pub fn index_pass(cfg: &Config, cat: &Catalog) -> usize {
    let stop = tokio_util::sync::CancellationToken::new();
    camvault::index::worker::pass(cfg, cat, &stop, None).unwrap()
}
