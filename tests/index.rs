//! The video index with real ffmpeg-made HEVC clips whose truth is known: a moving object
//! entering and leaving zones at known times, control clips (sensor noise, compression
//! flicker, an infrared switch, slow light change) that must stay silent, bad input, the
//! catalog queue across a crash, and the CLI end to end (`index`, `search`, `--restore`).
//!
//! `bench_index_accuracy_and_speed` (ignored; `bench/index.sh` runs it) is the same at the
//! cameras' 2304×1296 with precision/recall and CPU time.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use camvault::index::{self, analysis::Params, zones::Zone};
use common::scenes::*;
use common::*;

fn zones() -> Vec<(String, camvault::index::zones::CellSet)> {
    [
        ("left", [0.0, 0.0, 0.5, 1.0]),
        ("right", [0.5, 0.0, 0.5, 1.0]),
        ("top-right", [0.5, 0.0, 0.5, 0.4]),
    ]
    .iter()
    .map(|(n, r)| {
        let z = Zone {
            name: n.to_string(),
            rect: Some(*r),
            polygon: None,
        };
        (n.to_string(), z.cells(16, 9))
    })
    .collect()
}

/// Two passes of an object: left half 2-5 s, then the top right 8-12 s.
const TWO: [Obj; 2] = [
    Obj {
        from: 2.0,
        to: 5.0,
        x0: 10.0,
        y0: 120.0,
        vx: 30.0,
        vy: 0.0,
    },
    Obj {
        from: 8.0,
        to: 12.0,
        x0: 200.0,
        y0: 10.0,
        vx: 20.0,
        vy: 5.0,
    },
];

#[test]
fn a_moving_object_gives_its_segments_zones_frames_and_sprite() {
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("two.mp4");
    scene(&clip, "320x180", 15, &TWO, Control::None);
    let out = dir.path().join("media");
    let o = index::analyse(&clip, &out, Params::default(), &zones(), None).unwrap();
    let s = &o.analysis.segments;
    assert_eq!(s.len(), 2, "{s:?}");
    for (seg, (a, b)) in s.iter().zip([(2, 5), (8, 12)]) {
        assert!(
            seg.start_s.abs_diff(a) <= 1 && seg.end_s.abs_diff(b) <= 1,
            "segment {}-{} s, truth {a}-{b} s",
            seg.start_s,
            seg.end_s
        );
    }
    assert_eq!(o.zones[0], vec!["left"]);
    assert_eq!(o.zones[1], vec!["right", "top-right"]);
    assert_eq!(o.analysis.activity.len(), 15);
    assert!(o.analysis.activity[0] == 0 && o.analysis.activity[3] > 0 && o.analysis.activity[6] == 0);
    assert_eq!(o.frames, vec![true, true]);
    let jpeg = |p: PathBuf| {
        let b = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert_eq!(&b[..2], &[0xff, 0xd8], "{} is a JPEG", p.display());
    };
    jpeg(out.join(index::SPRITE));
    jpeg(out.join(index::frame_name(0)));
    jpeg(out.join(index::frame_name(1)));
    assert_eq!(
        (o.probe.width, o.probe.height, o.probe.codec.as_str()),
        (320, 180, "hevc")
    );
    assert!(o.note.is_none(), "{:?}", o.note);
}

#[test]
fn control_clips_noise_flicker_infrared_and_slow_light_are_silent() {
    let dir = tempfile::tempdir().unwrap();
    for c in [Control::Noise, Control::Flicker, Control::Infrared, Control::Light] {
        let clip = dir.path().join(format!("{c:?}.mp4"));
        scene(&clip, "320x180", 12, &[], c);
        let o = index::analyse(
            &clip,
            &dir.path().join(format!("{c:?}")),
            Params::default(),
            &zones(),
            None,
        )
        .unwrap();
        assert!(o.analysis.segments.is_empty(), "{c:?}: {:?}", o.analysis.segments);
        if c == Control::Infrared {
            assert!(
                o.analysis.rebases.iter().any(|s| s.abs_diff(5) <= 1),
                "{:?}",
                o.analysis.rebases
            );
        }
    }
    // The same IR switch with an object after it: the object is still found.
    let clip = dir.path().join("ir-object.mp4");
    let obj = Obj {
        from: 7.0,
        to: 10.0,
        x0: 250.0,
        y0: 120.0,
        vx: -20.0,
        vy: 0.0,
    };
    scene(&clip, "320x180", 12, &[obj], Control::Infrared);
    let o = index::analyse(&clip, &dir.path().join("iro"), Params::default(), &zones(), None).unwrap();
    assert_eq!(o.analysis.segments.len(), 1, "{:?}", o.analysis.segments);
    assert!(o.analysis.segments[0].start_s.abs_diff(7) <= 1);
}

/// Regression (issue 15, the accuracy run at 2304×1296): a walk that leaves at 10.95 s
/// ended 2 s late there (4-13 s). The background under the walker's last place had taken
/// some of it in; that ghost kept its cell active, which kept the cell's background update
/// slow, which kept the ghost. Here, at 320×180 and the cameras' 20 fps, the same ghost
/// gave activity in second 11 (an end at 12 s); now a cell that differs but does not move
/// is no activity and heals at the quiet rate, so every second after the walk is silent.
#[test]
fn a_segment_ends_when_the_object_leaves_not_when_its_ghost_fades() {
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("walk.mp4");
    let walk = Obj {
        from: 4.0,
        to: 11.0,
        x0: 0.0,
        y0: 120.0,
        vx: 17.0,
        vy: 0.0,
    };
    scene_at(&clip, "320x180", 16, &[walk], Control::None, 20);
    let o = index::analyse(&clip, &dir.path().join("walk"), Params::default(), &zones(), None).unwrap();
    let s = &o.analysis.segments;
    assert_eq!(s.len(), 1, "{s:?}");
    assert!(s[0].start_s.abs_diff(4) <= 1, "{s:?}");
    assert_eq!(s[0].end_s, 11, "the walk leaves at 10.95 s: {s:?}");
    assert_eq!(o.analysis.activity[11..], [0; 5], "{:?}", o.analysis.activity);
    assert_eq!(o.zones[0], vec!["left"]);
}

/// Doubt from the benchmark: a perfectly flat background gave no activity at all. With
/// the object in the first frame, the only contrast in the background was the object, so
/// the least-squares gain followed it (≈0.8, then ≈0 once it moved), every frame looked
/// like an IR switch and re-based the background. The fit now takes a gain only where the
/// background has contrast over most of the picture.
#[test]
fn a_flat_background_with_a_moving_object_is_activity() {
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("flat.mp4");
    // A grey wall, clean (MAD 0), a white square moving right from the first frame to 8 s,
    // then 4 quiet seconds.
    let g = "color=c=0x808080:s=320x180:r=10:d=12,format=yuv420p[bg];\
             color=c=white:s=24x24:r=10:d=12[o];\
             [bg][o]overlay=x='10+t*30':y=90:enable='between(t,0,7.95)'";
    hevc_from_graph(&clip, g, "log-level=error", false);
    let o = index::analyse(&clip, &dir.path().join("flat"), Params::default(), &zones(), None).unwrap();
    let s = &o.analysis.segments;
    assert_eq!(s.len(), 1, "{s:?} (activity {:?})", o.analysis.activity);
    assert!(s[0].start_s <= 1 && s[0].end_s.abs_diff(8) <= 1, "{s:?}");
    assert!(o.analysis.rebases.is_empty(), "{:?}", o.analysis.rebases);
    // x 10..250 of 320 at y 90..114: both halves, below the top-right zone.
    assert_eq!(o.zones[0], vec!["left", "right"]);
}

fn undecodable(clip: &Path) -> String {
    let out = clip.with_extension("out");
    match index::analyse(clip, &out, Params::default(), &[], None) {
        Err(index::decode::DecodeError::Undecodable(why)) => why,
        other => panic!("{}: expected undecodable, got {other:?}", clip.display()),
    }
}

/// Writes `out` from one lavfi source with ffmpeg (the bad clips' makings).
fn lavfi(out: &Path, source: &str, args: &[&str]) {
    let st = Command::new("ffmpeg")
        .args(["-y", "-loglevel", "error", "-f", "lavfi", "-i", source])
        .args(args)
        .arg(out)
        .status()
        .unwrap();
    assert!(st.success(), "ffmpeg could not make {}", out.display());
}

#[test]
fn bad_clips_are_undecodable_with_the_reason_or_indexed_as_far_as_they_go() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    // Garbage behind an MP4 signature.
    let mut junk = b"\0\0\0\x18ftypisom\0\0\0\0isomiso2".to_vec();
    junk.extend(bytes(3, 200_000));
    std::fs::write(p("corrupt.mp4"), junk).unwrap();
    let why = undecodable(&p("corrupt.mp4"));
    assert!(
        why.contains("not a readable video") || why.contains("no video"),
        "{why}"
    );
    // Audio only.
    lavfi(&p("audio.mp4"), "sine=d=3", &["-c:a", "aac"]);
    assert!(undecodable(&p("audio.mp4")).contains("no video stream"));
    // Zero frames: the init segment of a fragmented clip (a video track, no samples).
    scene(&p("full.mp4"), "320x180", 6, &[], Control::None);
    let full = std::fs::read(p("full.mp4")).unwrap();
    let moof = full.windows(4).position(|w| w == b"moof").unwrap() - 4;
    std::fs::write(p("empty.mp4"), &full[..moof]).unwrap();
    let why = undecodable(&p("empty.mp4"));
    assert!(
        why.contains("no video frame") || why.contains("no video stream"),
        "{why}"
    );
    // Huge resolution: refused before decoding, naming the size.
    lavfi(
        &p("huge.mp4"),
        "color=s=9000x100:d=0.1",
        &["-frames:v", "1", "-c:v", "mjpeg"],
    );
    let why = undecodable(&p("huge.mp4"));
    assert!(why.contains("9000×100"), "{why}");
    // Truncated (a fragmented clip cut at 60 %): what was written is indexed, with a note.
    scene(&p("cut-src.mp4"), "320x180", 15, &TWO, Control::None);
    let src = std::fs::read(p("cut-src.mp4")).unwrap();
    std::fs::write(p("cut.mp4"), &src[..src.len() * 6 / 10]).unwrap();
    let o = index::analyse(&p("cut.mp4"), &p("cut"), Params::default(), &zones(), Some(15.0)).unwrap();
    assert!(
        o.analysis.frames > 10 && o.analysis.frames < 60,
        "{} frames",
        o.analysis.frames
    );
    assert!(
        o.analysis.segments.iter().any(|s| s.start_s.abs_diff(2) <= 1),
        "{:?}",
        o.analysis.segments
    );
}

/// A captured clip in the old layout at `unix`, from the generated `src`.
fn put_clip(env: &Env, unix: i64, src: &Path) -> String {
    let rel = old_clip(unix);
    env.put_old(&rel, &std::fs::read(src).unwrap());
    rel
}

/// The search fixture: the two-object clip at `t1` and `t2`, a quiet (noisy) one at
/// `t1` + 10 min; four segments in all.
fn three_clips(env: &Env, t1: i64, t2: i64) {
    let dir = tempfile::tempdir().unwrap();
    let (two, quiet) = (dir.path().join("two.mp4"), dir.path().join("quiet.mp4"));
    scene(&two, "320x180", 15, &TWO, Control::None);
    scene(&quiet, "320x180", 10, &[], Control::Noise);
    put_clip(env, t1, &two);
    put_clip(env, t1 + 600, &quiet);
    put_clip(env, t2, &two);
}

const ZONES: &str = "[cameras.78DF72A1B2C3]\nname = \"gate\"\n\
    [[cameras.78DF72A1B2C3.zones]]\nname = \"left\"\nrect = [0.0, 0.0, 0.5, 1.0]\n\
    [[cameras.78DF72A1B2C3.zones]]\nname = \"top-right\"\npolygon = [[0.5, 0.0], [1.0, 0.0], [1.0, 0.4], [0.5, 0.4]]\n";

#[test]
fn index_and_search_end_to_end_with_restore_of_exactly_the_matches() {
    let env = Env::new(1, &format!("index.enabled = false\n{ZONES}"));
    // 2026-11-20 14:00:00 and 22:00:00 in Shanghai.
    let (t1, t2) = (1_795_154_400, 1_795_183_200);
    three_clips(&env, t1, t2);
    env.ok(&["ingest", "--once"]);
    let out = env.ok(&["index", "--from", "2026-11-20", "--to", "2026-11-21"]);
    assert!(out.contains("indexed 3 clip(s)"), "{out}");
    let n: serde_json::Value = serde_json::from_str(&env.ok(&["index", "--json"])).unwrap();
    assert_eq!(
        (n["indexed"].as_u64(), n["segments"].as_u64(), n["queued"].as_u64()),
        (Some(3), Some(4), Some(0))
    );
    // Running it again indexes nothing twice.
    assert!(env
        .ok(&["index", "--from", "2026-11-20", "--to", "2026-11-21"])
        .contains("indexed 0 clip(s)"));
    assert_eq!(catalog_count(&env, "SELECT count(*) FROM index_segments"), 4);

    let search = |args: &[&str]| -> Vec<serde_json::Value> {
        let mut a = vec!["search", "--json"];
        a.extend_from_slice(args);
        serde_json::from_str(&env.ok(&a)).unwrap()
    };
    let all = search(&[]);
    assert_eq!(all.len(), 4);
    let left = search(&["--zone", "left", "--camera", "gate"]);
    assert_eq!(left.len(), 2, "{left:#?}");
    for h in &left {
        assert_eq!(h["zones"], serde_json::json!(["left"]));
        assert!((h["offset_s"].as_f64().unwrap() - 2.0).abs() <= 1.0);
        assert_eq!(h["lives"], "local");
        assert!(Path::new(h["frame"].as_str().unwrap()).is_file());
        assert!(Path::new(h["sprite"].as_str().unwrap()).is_file());
    }
    // Time of day across days: only the evening clip.
    let evening = search(&["--zone", "top-right", "--time", "21:00-23:00"]);
    assert_eq!(evening.len(), 1, "{evening:#?}");
    assert_eq!(evening[0]["clip_start_ms"].as_i64(), Some(t2 * 1000));
    assert!(search(&["--time", "03:00-04:00"]).is_empty());
    assert!(search(&["--min-duration", "30"]).is_empty());
    // An unknown zone is an error that says where zones come from.
    let o = env.run(&["search", "--zone", "garage"]);
    assert!(
        !o.status.success() && stderr(&o).contains("cameras.<mac>.zones"),
        "{}",
        stderr(&o)
    );
    // The restore plan holds exactly the matching clip, not the hour around it.
    let plan: serde_json::Value = serde_json::from_str(&env.ok(&[
        "search",
        "--zone",
        "top-right",
        "--time",
        "21:00-23:00",
        "--restore",
        "--dry-run",
        "--json",
    ]))
    .unwrap();
    let items = plan["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{plan:#}");
    assert_eq!(items[0]["key"], evening[0]["key"]);
}

#[test]
fn a_zone_outside_the_frame_is_a_config_error_naming_it() {
    let env = Env::new(
        1,
        "[cameras.78DF72A1B2C3]\nname = \"gate\"\n[[cameras.78DF72A1B2C3.zones]]\nname = \"drive\"\nrect = [0.6, 0.5, 0.6, 0.2]\n",
    );
    let o = env.run(&["status"]);
    let e = stderr(&o);
    assert!(!o.status.success(), "{e}");
    assert!(
        e.contains("cameras.78DF72A1B2C3.zones[0]") && e.contains("drive") && e.contains("outside the frame"),
        "{e}"
    );
}

#[test]
fn a_crash_mid_indexing_resumes_without_duplicates_and_hopeless_clips_stop() {
    let env = Env::new(1, "index.enabled = false");
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("two.mp4");
    scene(&clip, "320x180", 15, &TWO, Control::None);
    put_clip(&env, 1_795_154_400, &clip);
    std::fs::write(dir.path().join("junk.mp4"), bytes(9, 50_000)).unwrap();
    put_clip(&env, 1_795_154_500, &dir.path().join("junk.mp4"));
    env.ok(&["ingest", "--once"]);
    let (cfg, cat) = open(&env);
    camvault::index::worker::enqueue_new(&cat, 0).unwrap();
    // A "crash": a try started (counted) and never finished, then a result stored twice.
    let (file_id, key): (i64, String) = rusqlite::Connection::open(cfg.catalog())
        .unwrap()
        .query_row("SELECT id, key FROM files WHERE key LIKE '%1795154400%'", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    let q = camvault::catalog::index::Queued {
        file_id,
        camera: "78df72a1b2c3".into(),
        key,
        start_ms: 1_795_154_400_000,
        duration_ms: None,
        local: true,
        attempts: 0,
        last_error: None,
    };
    cat.index_begin(q.file_id, 0).unwrap();
    let r = camvault::index::index_file(&cfg, &cat, &q).unwrap();
    cat.index_store(&r, 1).unwrap();
    cat.index_store(&r, 2).unwrap();
    assert_eq!(catalog_count(&env, "SELECT count(*) FROM index_segments"), 2);
    // The restarted worker finishes the rest; the junk clip is undecodable, once.
    assert_eq!(index_pass(&cfg, &cat), 1);
    assert_eq!(catalog_count(&env, "SELECT count(*) FROM index_queue"), 0);
    assert_eq!(
        catalog_count(&env, "SELECT count(*) FROM index_clips WHERE state = 'undecodable'"),
        1
    );
    assert_eq!(catalog_count(&env, "SELECT count(*) FROM index_segments"), 2);
    // A clip whose tries ran out (three crashes) is recorded, not tried a fourth time.
    cat.index_enqueue_ids(&[q.file_id], 0).unwrap();
    for _ in 0..camvault::index::worker::MAX_TRIES {
        cat.index_begin(q.file_id, 0).unwrap();
    }
    assert_eq!(index_pass(&cfg, &cat), 1);
    let reason: String = rusqlite::Connection::open(cfg.catalog())
        .unwrap()
        .query_row("SELECT reason FROM index_clips WHERE file_id = ?1", [q.file_id], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(reason.contains("given up after 3 tries"), "{reason}");
}

/// CPU seconds (user + system) used by this process and its waited-for children so far.
fn cpu_seconds() -> f64 {
    let t = |who| {
        let mut u: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: getrusage fills the struct we own.
        unsafe { libc::getrusage(who, &mut u) };
        let tv = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
        tv(u.ru_utime) + tv(u.ru_stime)
    };
    t(libc::RUSAGE_SELF) + t(libc::RUSAGE_CHILDREN)
}

/// A benchmark clip: name, objects, control, the zones each object's segment touches.
type Case = (&'static str, Vec<Obj>, Control, Vec<Vec<&'static str>>);

/// The benchmark of docs/benchmarks.md ("Video index"): `bench/index.sh` runs it.
/// Clips at the cameras' 2304×1296, 20 fps, HEVC; truth known by construction.
#[test]
#[ignore]
fn bench_index_accuracy_and_speed() {
    let secs: u32 = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(16);
    let size = std::env::var("BENCH_SIZE").unwrap_or_else(|_| "2304x1296".into());
    let dir = tempfile::tempdir().unwrap();
    let o = |from: f32, to: f32, x0: f32, y0: f32, vx: f32, vy: f32| Obj {
        from,
        to,
        x0,
        y0,
        vx,
        vy,
    };
    // (name, objects, control, the zones each truth segment touches)
    let cases: Vec<Case> = vec![
        (
            "walk-left",
            vec![o(4.0, 11.0, 0.0, 120.0, 17.0, 0.0)],
            Control::None,
            vec![vec!["left"]],
        ),
        (
            "car-right",
            vec![o(9.0, 13.0, 300.0, 20.0, -22.0, 0.0)],
            Control::None,
            vec![vec!["right", "top-right"]],
        ),
        (
            "two-passes",
            vec![
                o(3.0, 6.0, 10.0, 140.0, 25.0, 0.0),
                o(9.0, 15.0, 180.0, 100.0, 15.0, -10.0),
            ],
            Control::None,
            vec![vec!["left"], vec!["right", "top-right"]],
        ),
        (
            "crossing",
            vec![o(3.0, 11.0, 0.0, 110.0, 36.0, 0.0)],
            Control::None,
            vec![vec!["left", "right"]],
        ),
        (
            "night-visitor",
            vec![o(9.0, 14.0, 260.0, 130.0, -10.0, 0.0)],
            Control::Infrared,
            vec![vec!["right"]],
        ),
        ("noise", vec![], Control::Noise, vec![]),
        ("flicker", vec![], Control::Flicker, vec![]),
        ("ir-switch", vec![], Control::Infrared, vec![]),
        ("dawn", vec![], Control::Light, vec![]),
    ];
    let (mut tp, mut fp, mut fn_, mut zones_ok, mut zones_all) = (0, 0, 0, 0, 0);
    let (mut cpu, mut wall, mut footage) = (0.0, 0.0, 0.0);
    let mut errs: Vec<u32> = Vec::new();
    for (name, objs, control, truth_zones) in &cases {
        assert!(
            objs.iter().all(|o| o.to < secs as f32),
            "{name}: BENCH_SECS={secs} is shorter than its truth"
        );
        let clip = dir.path().join(format!("{name}.mp4"));
        scene_at(&clip, &size, secs, objs, *control, 20);
        let (c0, w0) = (cpu_seconds(), std::time::Instant::now());
        let out = index::analyse(&clip, &dir.path().join(name), Params::default(), &zones(), None).unwrap();
        let (dc, dw) = (cpu_seconds() - c0, w0.elapsed().as_secs_f64());
        cpu += dc;
        wall += dw;
        footage += secs as f64;
        let segs = &out.analysis.segments;
        let mut matched = vec![false; segs.len()];
        for (ob, tz) in objs.iter().zip(truth_zones) {
            let hit = segs.iter().enumerate().find(|(i, s)| {
                !matched[*i]
                    && (s.start_s as f32 - ob.from).abs() <= 1.0
                    && (s.end_s as f32 - ob.to.ceil()).abs() <= 1.0
            });
            match hit {
                Some((i, s)) => {
                    errs.push(s.start_s.abs_diff(ob.from as u32));
                    errs.push(s.end_s.abs_diff(ob.to.ceil() as u32));
                    matched[i] = true;
                    tp += 1;
                    zones_all += 1;
                    zones_ok += (out.zones[i] == *tz) as u32;
                    if out.zones[i] != *tz {
                        eprintln!("  {name}: zones {:?}, truth {tz:?}", out.zones[i]);
                    }
                }
                None => fn_ += 1,
            }
        }
        fp += matched.iter().filter(|m| !**m).count();
        eprintln!(
            "{name:<14} segments {:?} truth {:?}; {dc:.1} CPU-s, {dw:.1} s wall for {secs} s",
            segs.iter().map(|s| (s.start_s, s.end_s)).collect::<Vec<_>>(),
            objs.iter().map(|o| (o.from, o.to)).collect::<Vec<_>>()
        );
    }
    let precision = tp as f64 / (tp + fp).max(1) as f64;
    let recall = tp as f64 / (tp + fn_).max(1) as f64;
    println!(
        "BENCH boundaries of the {} matched segments: {} exact, {} off by 1 s (of {} start/end pairs' boundaries)",
        tp,
        errs.iter().filter(|e| **e == 0).count(),
        errs.iter().filter(|e| **e == 1).count(),
        errs.len()
    );
    println!(
        "BENCH index {size} 20fps HEVC, {} clips x {secs} s: precision {precision:.2} recall {recall:.2} (tp {tp} fp {fp} fn {fn_}), zones right {zones_ok}/{zones_all}; {:.0} CPU-s per hour of footage, {:.3}x real time (wall), {:.3} CPU-s per s",
        cases.len(),
        cpu / footage * 3600.0,
        wall / footage,
        cpu / footage
    );
    assert!(
        precision >= 0.9 && recall >= 0.9,
        "precision {precision}, recall {recall}"
    );
}

/// Search over five years of one camera: ≈2.6 M one-minute clips, one segment each
/// (docs/benchmarks.md, "Video index"). `BENCH_ROWS` changes the count.
#[test]
#[ignore]
fn bench_search_over_five_years() {
    let rows: i64 = std::env::var("BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_628_000);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("catalog.sqlite");
    let cat = camvault::catalog::Catalog::open(&path, true).unwrap();
    drop(cat);
    let t0: i64 = 1_640_966_400_000; // 2022-01-01 UTC
    let c = rusqlite::Connection::open(&path).unwrap();
    let w = std::time::Instant::now();
    c.execute_batch(&format!(
        "BEGIN;
         INSERT INTO cameras (id, tz, first_seen_ms) VALUES ('door', 'Asia/Shanghai', 0);
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows})
         INSERT INTO files (id, camera, inbox_path, key, revision, layout, start_ms, size, mtime_ns, dev, ino, state, captured_ms, storage_class, purged_ms)
         SELECT i, 'door', x'00', 'videos/door/' || i || '.mp4', 0, 'old', {t0} + i * 60000, 1000000, 0, 0, i, 'verified', 0,
                CASE WHEN i > {rows} - 1440 * 30 THEN 'Standard' ELSE 'DeepColdArchive' END,
                CASE WHEN i > {rows} - 1440 * 7 THEN NULL ELSE 1 END
         FROM n;
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows})
         INSERT INTO index_segments (file_id, camera, start_ms, end_ms, tod_s, peak, peak_ms, cells, zones, labels)
         SELECT i, 'door', {t0} + i * 60000 + 5000, {t0} + i * 60000 + 5000 + (i % 50) * 1000,
                (({t0} / 1000 + i * 60 + 5 + 8 * 3600) % 86400), i % 90 + 1, {t0} + i * 60000 + 9000, '',
                CASE i % 7 WHEN 0 THEN ',gate,' WHEN 1 THEN ',gate,drive,' WHEN 2 THEN ',door,' ELSE '' END
                || CASE WHEN i % 10007 = 0 THEN ',shed,' ELSE '' END,
                CASE WHEN i % 13 = 0 THEN ',person,' WHEN i % 97 = 0 THEN ',car,' ELSE '' END
         FROM n;
         INSERT INTO index_tags (tag, start_ms, segment_id, camera)
         SELECT 'z:' || z.value, s.start_ms, s.id, s.camera FROM index_segments s, (SELECT 'gate' AS value UNION ALL SELECT 'drive' UNION ALL SELECT 'door' UNION ALL SELECT 'shed') z
         WHERE instr(s.zones, ',' || z.value || ',') > 0;
         INSERT INTO index_tags (tag, start_ms, segment_id, camera)
         SELECT 'l:' || l.value, s.start_ms, s.id, s.camera FROM index_segments s, (SELECT 'person' AS value UNION ALL SELECT 'car') l
         WHERE instr(s.labels, ',' || l.value || ',') > 0;
         COMMIT; ANALYZE;"
    ))
    .unwrap();
    eprintln!(
        "{rows} clips + segments generated in {:.0} s",
        w.elapsed().as_secs_f64()
    );
    drop(c);
    let cat = camvault::catalog::Catalog::open(&path, false).unwrap();
    let w = std::time::Instant::now();
    cat.index_rebuild_hours().unwrap();
    eprintln!("hour summary made in {:.1} s", w.elapsed().as_secs_f64());
    let end = t0 + rows * 60_000 + 60_000;
    let base = camvault::catalog::index::Query {
        camera: Some("door".into()),
        from_ms: t0,
        to_ms: end,
        limit: 100,
        ..Default::default()
    };
    let week = end - 7 * 86_400_000;
    // (name, query, hits expected: the limit, some, or none)
    let cases: Vec<(&str, camvault::catalog::index::Query, Option<usize>)> = vec![
        ("everything, newest 100", base.clone(), Some(100)),
        (
            "one week",
            camvault::catalog::index::Query {
                from_ms: week,
                ..base.clone()
            },
            Some(100),
        ),
        (
            "zone gate 23:00-06:00, 5 years",
            camvault::catalog::index::Query {
                zone: Some("gate".into()),
                tod: Some((82_800, 21_600)),
                ..base.clone()
            },
            Some(100),
        ),
        (
            "label car, 14:30-15:30, 5 years",
            camvault::catalog::index::Query {
                label: Some("car".into()),
                tod: Some((52_200, 55_800)),
                ..base.clone()
            },
            None,
        ),
        (
            "rare zone shed (1 in 10007), 5 years",
            camvault::catalog::index::Query {
                zone: Some("shed".into()),
                ..base.clone()
            },
            None,
        ),
        (
            "activity >= 90 % in 03:00-03:05 (no match, every day's hour 3 read), 5 years",
            camvault::catalog::index::Query {
                min_peak: 90,
                tod: Some((10_800, 11_100)),
                ..base.clone()
            },
            Some(0),
        ),
        (
            "no match (min duration 60 s), 5 years",
            camvault::catalog::index::Query {
                min_duration_ms: 60_000,
                ..base.clone()
            },
            Some(0),
        ),
    ];
    let mut worst: f64 = 0.0;
    for (name, q, want) in cases {
        let w = std::time::Instant::now();
        let hits = cat.search(&q).unwrap();
        let ms = w.elapsed().as_secs_f64() * 1000.0;
        worst = worst.max(ms);
        println!("BENCH search {name}: {} hit(s) in {ms:.1} ms", hits.len());
        match want {
            Some(n) => assert_eq!(hits.len(), n, "{name}"),
            None => assert!(!hits.is_empty(), "{name}"),
        }
        // The same answer as a plain scan of the segments (the hour summary skips nothing
        // that matches).
        if rows <= 300_000 {
            assert_eq!(hits.len(), plain_count(&path, &q).min(100), "{name}");
        }
    }
    println!("BENCH search over {rows} segments: worst {worst:.1} ms");
}

/// How many segments match `q`, by a plain scan (the benchmark's check of the fast path).
fn plain_count(path: &Path, q: &camvault::catalog::index::Query) -> usize {
    let c = rusqlite::Connection::open(path).unwrap();
    let (a, b) = q.tod.unwrap_or((0, 86_400));
    let tod = if a <= b {
        "tod_s >= ?4 AND tod_s < ?5"
    } else {
        "(tod_s >= ?4 OR tod_s < ?5)"
    };
    let sql = format!(
        "SELECT count(*) FROM index_segments WHERE start_ms >= ?1 AND start_ms < ?2 AND peak >= ?3 AND {tod}
         AND end_ms - start_ms >= ?6 AND instr(zones, ?7) > 0 AND instr(labels, ?8) > 0"
    );
    let z = q.zone.as_ref().map(|z| format!(",{z},")).unwrap_or_default();
    let l = q.label.as_ref().map(|l| format!(",{l},")).unwrap_or_default();
    let n: i64 = c
        .query_row(
            &sql,
            rusqlite::params![q.from_ms, q.to_ms, q.min_peak as i64, a, b, q.min_duration_ms, z, l],
            |r| r.get(0),
        )
        .unwrap();
    n as usize
}

/// Issue 15, item 3: the day's index object in the store (own prefix, Standard, named by
/// the day's manifest), written when due and retried while the store is away, and
/// `catalog rebuild` bringing segments and pictures back: the same search results.
#[test]
fn the_index_survives_in_the_store_and_catalog_rebuild_brings_it_back() {
    // A camera known by its MAC only: its index objects sit in a folder named like a camera
    // folder (`index/78df72a1b2c3/`), which `lifecycle` must still leave alone.
    let env = Env::new(
        1,
        "index.enabled = false\n[cameras.78DF72A1B2C3]\n\
         [[cameras.78DF72A1B2C3.zones]]\nname = \"left\"\nrect = [0.0, 0.0, 0.5, 1.0]\n",
    );
    // Yesterday 14:00 and 22:00 in Shanghai: the day is not due yet, so `ingest --once`
    // writes no manifest for it.
    let sh = jiff::tz::TimeZone::get("Asia/Shanghai").unwrap();
    let yesterday = jiff::Zoned::now()
        .with_time_zone(sh.clone())
        .date()
        .yesterday()
        .unwrap();
    let at = |h: i8| {
        yesterday
            .at(h, 0, 0, 0)
            .to_zoned(sh.clone())
            .unwrap()
            .timestamp()
            .as_second()
    };
    let (t1, t2) = (at(14), at(22));
    three_clips(&env, t1, t2);
    env.ok(&["ingest", "--once"]);
    assert!(!env.all_objects().keys().any(|k| k.starts_with("manifests/")));
    let day = yesterday.to_string();
    let next = yesterday.tomorrow().unwrap().to_string();
    assert!(env
        .ok(&["index", "--from", &day, "--to", &next])
        .contains("indexed 3 clip(s)"));
    let search = || -> Vec<serde_json::Value> { serde_json::from_str(&env.ok(&["search", "--json"])).unwrap() };
    let strip = |hits: Vec<serde_json::Value>| -> Vec<(String, i64, i64, u64, String)> {
        hits.iter()
            .map(|h| {
                (
                    h["key"].as_str().unwrap().to_string(),
                    h["start_ms"].as_i64().unwrap(),
                    h["end_ms"].as_i64().unwrap(),
                    h["peak"].as_u64().unwrap(),
                    h["zones"].to_string(),
                )
            })
            .collect()
    };
    let before = search();
    assert_eq!(before.len(), 4, "{before:#?}");
    let before_frames = before.iter().filter(|h| h["frame"].is_string()).count();
    assert!(before_frames >= 3, "{before:#?}");

    let (cfg, cat) = open(&env);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let store = camvault::store::open(&cfg).unwrap();
    let soon = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(26);
    let later = soon + jiff::SignedDuration::from_hours(48);
    // Not due a day later (cameras upload late): nothing written.
    assert_eq!(
        rt.block_on(camvault::index::days::write_due(
            &cfg,
            &cat,
            &*store,
            jiff::Timestamp::now()
        ))
        .unwrap(),
        0
    );
    // Due, but the store is away: the pass fails, nothing is marked written, and the day's
    // manifest (which names the object) is not written without it.
    let away = env.root().join("store-away");
    std::fs::rename(env.store(), &away).unwrap();
    let e = rt
        .block_on(camvault::index::days::write_due(&cfg, &cat, &*store, later))
        .unwrap_err();
    assert!(format!("{e:#}").contains("index/78df72a1b2c3/"), "{e:#}");
    assert_eq!(catalog_count(&env, "SELECT count(*) FROM index_days"), 0);
    assert_eq!(
        rt.block_on(camvault::manifest::write_due(&cat, &*store, later, true))
            .unwrap(),
        0,
        "the manifest waits for the day's index object"
    );
    // The store is back: the next pass writes it, then the manifest naming it.
    std::fs::rename(&away, env.store()).unwrap();
    assert_eq!(
        rt.block_on(camvault::index::days::write_due(&cfg, &cat, &*store, later))
            .unwrap(),
        1
    );
    assert_eq!(
        rt.block_on(camvault::manifest::write_due(&cat, &*store, later, true))
            .unwrap(),
        1
    );
    // Nothing twice.
    assert_eq!(
        rt.block_on(camvault::index::days::write_due(&cfg, &cat, &*store, later))
            .unwrap(),
        0
    );
    drop((cat, store));
    let objects = env.all_objects();
    let key = format!("index/78df72a1b2c3/{day}.json");
    let obj: serde_json::Value = serde_json::from_slice(&objects[&key]).unwrap();
    assert_eq!(obj["clips"].as_array().unwrap().len(), 3);
    let manifest = objects
        .iter()
        .find(|(k, _)| k.starts_with("manifests/78df72a1b2c3/"))
        .map(|(_, v)| String::from_utf8(v.clone()).unwrap())
        .unwrap();
    assert!(manifest.lines().next().unwrap().contains(&key), "{manifest}");
    env.ok(&["verify", "--manifests"]);
    // Never under an archive rule.
    env.ok(&["lifecycle", "apply"]);
    let rules = std::fs::read_to_string(env.store().join(".camvault/lifecycle.xml")).unwrap();
    assert!(!rules.contains("index/"), "{rules}");
    let check = env.ok(&["lifecycle", "check"]);
    assert!(!check.contains("index/"), "{check}");

    // A new machine: no catalog, no pictures. The rebuild brings the index back.
    std::fs::remove_dir_all(cfg.index_dir()).unwrap();
    let out = env.ok(&["catalog", "rebuild", "--force"]);
    assert!(out.contains("index: 3 clip(s) from 1 index object(s)"), "{out}");
    let after = search();
    assert_eq!(strip(after.clone()), strip(before));
    assert_eq!(after.iter().filter(|h| h["frame"].is_string()).count(), before_frames);
    assert!(after.iter().all(|h| h["sprite"].is_string()), "{after:#?}");
    assert!(after.iter().all(|h| h["lives"] == "store"), "{after:#?}");
    // The rebuilt catalog knows the object is written and listed: nothing written again.
    assert_eq!(
        catalog_count(&env, "SELECT count(*) FROM index_days WHERE manifest_id IS NOT NULL"),
        1
    );
    env.ok(&["verify", "--manifests"]);
}

/// Issue 15: the index must not starve playback. While the worker indexes a clip (its
/// ffmpeg running), a web request gets the ffmpeg queue's slot at once instead of waiting
/// for the whole clip; the index itself starts only once no request runs.
#[test]
fn a_playback_request_while_a_clip_is_indexed_does_not_wait_for_it() {
    let env = Env::new(1, "index.enabled = false");
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("long.mp4");
    scene(&clip, "320x180", 60, &TWO, Control::None);
    put_clip(&env, 1_795_154_400, &clip);
    env.ok(&["ingest", "--once"]);
    let cfg = camvault::config::Config::load(&env.config()).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let queue = std::sync::Arc::new(camvault::media::queue::Queue::default());
    // A request is playing: the index waits for it.
    let playing = rt.block_on(queue.slot()).unwrap();
    let worker = {
        let (cfg, queue) = (cfg.clone(), queue.clone());
        rt.spawn_blocking(move || {
            let cat = camvault::catalog::Catalog::open(&cfg.catalog(), false).unwrap();
            let stop = tokio_util::sync::CancellationToken::new();
            camvault::index::worker::pass(&cfg, &cat, &stop, Some(&queue)).unwrap()
        })
    };
    wait_for(std::time::Duration::from_secs(30), "the clip's try to start", || {
        catalog_count(&env, "SELECT count(*) FROM index_queue WHERE attempts = 1") == 1
    });
    let file_id = catalog_count(&env, "SELECT file_id FROM index_queue");
    let pictures = camvault::index::clip_dir(&cfg, file_id);
    assert!(!pictures.exists(), "the index does not start beside a playing request");
    drop(playing);
    wait_for(
        std::time::Duration::from_secs(60),
        "the index to start on the clip",
        || pictures.exists(),
    );
    // The index is busy with the clip: a playback request is served now, not after it.
    let t = std::time::Instant::now();
    let got = rt.block_on(async { tokio::time::timeout(std::time::Duration::from_secs(2), queue.slot()).await });
    assert!(got.is_ok_and(|p| p.is_ok()), "the request waited for the index");
    assert!(
        !worker.is_finished() && catalog_count(&env, "SELECT count(*) FROM index_clips") == 0,
        "the request was served while the clip was still being indexed ({:?})",
        t.elapsed()
    );
    assert_eq!(rt.block_on(worker).unwrap(), 1);
    assert_eq!(
        catalog_count(&env, "SELECT count(*) FROM index_clips WHERE state = 'indexed'"),
        1
    );
}

/// The month calendar counts by the camera's local day (issue 15 doubt: `index_hours` is
/// per UTC hour). A camera in Asia/Kolkata (+05:30): the UTC hour 18:00-19:00 is
/// 23:30-00:30 there, so a segment at 23:45 and one at 00:15 share a UTC hour but not a
/// day; the month's first half hour (00:00-00:30 on the 1st) lies in a UTC hour that
/// starts in the month before.
#[test]
fn the_calendar_counts_segments_by_the_cameras_local_day_in_a_half_hour_zone() {
    use camvault::catalog::index::{ClipResult, SegmentRow};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("catalog.sqlite");
    drop(camvault::catalog::Catalog::open(&path, true).unwrap());
    let tz = jiff::tz::TimeZone::get("Asia/Kolkata").unwrap();
    let at = |s: &str| {
        s.parse::<jiff::civil::DateTime>()
            .unwrap()
            .to_zoned(tz.clone())
            .unwrap()
            .timestamp()
            .as_millisecond()
    };
    // (local start of one segment each)
    let moments = [
        "2026-10-31T23:50", // the month before
        "2026-11-01T00:10", // the 1st, in a UTC hour (18:00 on Oct 31) that starts in October
        "2026-11-20T23:45", // the 20th ...
        "2026-11-21T00:15", // ... and the 21st, in the same UTC hour
        "2026-11-21T10:00",
        "2026-11-30T23:45",
        "2026-12-01T00:05", // the month after, in the same UTC hour as the 30th's
    ];
    let c = rusqlite::Connection::open(&path).unwrap();
    c.execute(
        "INSERT INTO cameras (id, tz, first_seen_ms) VALUES ('porch', 'Asia/Kolkata', 0)",
        [],
    )
    .unwrap();
    for (i, m) in moments.iter().enumerate() {
        c.execute(
            "INSERT INTO files (id, camera, inbox_path, key, revision, layout, start_ms, size, mtime_ns, dev, ino, state, captured_ms, storage_class)
             VALUES (?1, 'porch', x'00', 'videos/porch/' || ?1 || '.mp4', 0, 'old', ?2, 1000, 0, 0, ?1, 'verified', 0, 'Standard')",
            rusqlite::params![i as i64 + 1, at(m) - 5000],
        )
        .unwrap();
    }
    drop(c);
    let cat = camvault::catalog::Catalog::open(&path, false).unwrap();
    for (i, m) in moments.iter().enumerate() {
        let start = at(m);
        let r = ClipResult {
            file_id: i as i64 + 1,
            camera: "porch".into(),
            start_ms: start - 5000,
            state: "indexed".into(),
            reason: None,
            width: Some(320),
            height: Some(180),
            duration_ms: Some(60_000),
            frames: Some(240),
            activity: vec![0, 0, 0, 0, 0, 9],
            segments: vec![SegmentRow {
                start_ms: start,
                end_ms: start + 3000,
                tod_s: camvault::index::time_of_day(start, &tz),
                peak: 9,
                peak_ms: start + 1000,
                cells: String::new(),
                zones: vec![],
                labels: vec![],
                detections: vec![],
            }],
        };
        cat.index_store(&r, 0).unwrap();
    }
    let d = |s: &str| s.parse::<jiff::civil::Date>().unwrap();
    let nov = camvault::index::calendar::day_counts(&cat, "porch", &tz, d("2026-11-01"), d("2026-11-30")).unwrap();
    let got: Vec<(String, u64)> = nov.iter().map(|(d, n)| (d.to_string(), *n)).collect();
    let want = [
        ("2026-11-01", 1),
        ("2026-11-20", 1),
        ("2026-11-21", 2),
        ("2026-11-30", 1),
    ];
    assert_eq!(got, want.iter().map(|(d, n)| (d.to_string(), *n)).collect::<Vec<_>>());
    // The months around it get their own edge segments, and none twice.
    let oct = camvault::index::calendar::day_counts(&cat, "porch", &tz, d("2026-10-01"), d("2026-10-31")).unwrap();
    assert_eq!(oct.into_iter().collect::<Vec<_>>(), vec![(d("2026-10-31"), 1)]);
    let dec = camvault::index::calendar::day_counts(&cat, "porch", &tz, d("2026-12-01"), d("2026-12-31")).unwrap();
    assert_eq!(dec.into_iter().collect::<Vec<_>>(), vec![(d("2026-12-01"), 1)]);
}

/// Capture→verified lag with the index on and off (issue 15: indexing must not make it
/// grow; docs/benchmarks.md, "Video index"). `serve` with the fs store; a camera writes
/// `BENCH_CLIPS` (default 8) copies of one clip into the inbox, one every `BENCH_INTERVAL`
/// seconds (default 8: a camera's pace, compressed); the lag of a clip is from its write to
/// its `verified_ms`. The clip is `BENCH_CLIP`, or a 16 s walk generated at `BENCH_SIZE`
/// (default the cameras' 2304×1296, 20 fps).
#[test]
#[ignore]
fn bench_capture_to_verified_lag_with_index_on_and_off() {
    let var = |k: &str, d: u64| std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d);
    let (clips, interval) = (var("BENCH_CLIPS", 8) as i64, var("BENCH_INTERVAL", 8));
    let dir = tempfile::tempdir().unwrap();
    let clip = match std::env::var("BENCH_CLIP") {
        Ok(p) => PathBuf::from(p),
        Err(_) => {
            let size = std::env::var("BENCH_SIZE").unwrap_or_else(|_| "2304x1296".into());
            let p = dir.path().join("walk.mp4");
            let walk = Obj {
                from: 4.0,
                to: 11.0,
                x0: 0.0,
                y0: 120.0,
                vx: 17.0,
                vy: 0.0,
            };
            scene_at(&p, &size, 16, &[walk], Control::None, 20);
            p
        }
    };
    let data = std::fs::read(&clip).unwrap();
    for enabled in [false, true] {
        let env = Env::new(1, &format!("index.enabled = {enabled}\nindex.interval_secs = 1"));
        let mut serve = env.serve();
        // Writes before the watcher is up would wait for the rescan (5 minutes).
        wait_for(std::time::Duration::from_secs(120), "serve to watch the inbox", || {
            std::fs::read_to_string(env.serve_log()).is_ok_and(|l| l.contains("watching the inbox"))
        });
        let base = now_unix() - 3600;
        let mut written = Vec::new();
        let (c0, w0) = (cpu_seconds(), std::time::Instant::now());
        for i in 0..clips {
            let unix = base + i * 16;
            env.put_old(&old_clip(unix), &data);
            written.push((unix * 1000, camvault::clock::now().as_millisecond()));
            // The camera's pace (not a synchronisation: nothing is awaited here).
            std::thread::sleep(std::time::Duration::from_secs(interval));
        }
        let all = |sql: &str| catalog_count(&env, sql) == clips;
        wait_for(std::time::Duration::from_secs(1800), "every clip verified", || {
            all("SELECT count(*) FROM files WHERE verified_ms IS NOT NULL")
        });
        let verified_at = w0.elapsed().as_secs_f64();
        if enabled {
            wait_for(std::time::Duration::from_secs(3600), "every clip indexed", || {
                all("SELECT count(*) FROM index_clips WHERE state = 'indexed'")
            });
        }
        let c = rusqlite::Connection::open(env.root().join("catalog.sqlite")).unwrap();
        let mut lags: Vec<f64> = written
            .iter()
            .map(|(start, at)| {
                let v: i64 = c
                    .query_row("SELECT verified_ms FROM files WHERE start_ms = ?1", [start], |r| {
                        r.get(0)
                    })
                    .unwrap();
                (v - at) as f64 / 1000.0
            })
            .collect();
        lags.sort_by(f64::total_cmp);
        let _ = serve.kill();
        let _ = serve.wait();
        println!(
            "BENCH lag index.enabled={enabled}: {clips} clips of {} bytes every {interval} s; capture→verified mean {:.1} s, median {:.1} s, max {:.1} s; last verified {verified_at:.0} s after the first write, everything done {:.0} s ({:.0} CPU-s of serve and its children)",
            data.len(),
            lags.iter().sum::<f64>() / lags.len() as f64,
            lags[lags.len() / 2],
            lags[lags.len() - 1],
            w0.elapsed().as_secs_f64(),
            cpu_seconds() - c0
        );
    }
}
