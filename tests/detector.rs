//! The object detector (issue 15, item 2) with real ONNX models whose output is known
//! (built by tests/detector_model.py with the `onnx` package) on real ffmpeg-made HEVC clips:
//! loading, pre-processing (letterbox, RGB, /255), decoding, NMS, boxes mapped back to the
//! frame, storage in the catalog and the day's index object, `search --label`; and the bad
//! models (not ONNX, a wrong output shape, a missing file), with which indexing goes on
//! without labels and the problem is shown.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use camvault::index::detector::Detector;
use common::*;

/// Builds the test model of `kind` (v8, v5, badshape) into `dir`.
fn model(dir: &Path, kind: &str) -> PathBuf {
    let out = dir.join(format!("{kind}.onnx"));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/detector_model.py");
    let st = Command::new(test_python())
        .arg(&script)
        .arg(&out)
        .arg(kind)
        .status()
        .unwrap();
    assert!(
        st.success(),
        "{} could not build the {kind} model (pip install onnx numpy)",
        script.display()
    );
    out
}

/// An HEVC clip of 8 s at 1280×720 on a plain `colour` background, a white square moving
/// across from 2 to 6 s (one activity segment).
fn clip(path: &Path, colour: &str) {
    assert!(has("ffmpeg"), "ffmpeg is needed: apt-get install ffmpeg (.ci/run does)");
    let g = format!(
        "color=c={colour}:s=320x180:r=10:d=8,format=yuv420p[bg];color=c=white:s=30x30:r=10:d=8[o];\
         [bg][o]overlay=x='20+(t-2)*50':y=60:enable='between(t,2,5.95)',scale=1280:720,noise=alls=4:allf=t"
    );
    let st = Command::new("ffmpeg")
        .args(["-y", "-loglevel", "error", "-filter_complex", &g])
        .args(["-c:v", "libx265", "-preset", "ultrafast", "-tag:v", "hvc1"])
        .args(["-x265-params", "log-level=error"])
        .args(["-movflags", "frag_keyframe+empty_moov+default_base_moof"])
        .arg(path)
        .status()
        .unwrap();
    assert!(st.success(), "ffmpeg could not make {}", path.display());
}

fn put_clip(env: &Env, unix: i64, src: &Path) {
    env.put_old(&old_clip(unix), &std::fs::read(src).unwrap());
}

fn search(env: &Env, args: &[&str]) -> Vec<serde_json::Value> {
    let mut a = vec!["search", "--json"];
    a.extend_from_slice(args);
    serde_json::from_str(&env.ok(&a)).unwrap()
}

/// (label, bbox) of a hit's detections, sorted.
fn found(h: &serde_json::Value) -> Vec<(String, Vec<u64>)> {
    let mut v: Vec<(String, Vec<u64>)> = h["detections"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|d| {
                    let b = d["bbox"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|x| x.as_u64().unwrap())
                        .collect();
                    (d["label"].as_str().unwrap().to_string(), b)
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn a_detector_labels_segments_end_to_end_and_search_finds_them() {
    let dir = tempfile::tempdir().unwrap();
    let v8 = model(dir.path(), "v8");
    let env = Env::new(
        1,
        &format!("index.enabled = false\nindex.detector = {:?}", v8.to_str().unwrap()),
    );
    let (red, blue) = (dir.path().join("red.mp4"), dir.path().join("blue.mp4"));
    clip(&red, "red");
    clip(&blue, "blue");
    // 2026-11-20 14:00 and 15:00 in Shanghai.
    put_clip(&env, 1_795_154_400, &red);
    put_clip(&env, 1_795_158_000, &blue);
    env.ok(&["ingest", "--once"]);
    let o = env.run(&["index", "--from", "2026-11-20", "--to", "2026-11-21"]);
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(o.status.success(), "{out}\n{}", stderr(&o));
    assert!(out.contains("detector: ") && out.contains("(3 classes)"), "{out}");
    assert!(out.contains("indexed 2 clip(s)"), "{out}");

    // The model: two overlapping persons (NMS keeps the better), a car, and a dog whose score
    // is the mean red of the input: high on the red clip (red frame + grey letterbox bars),
    // low on the blue one, so RGB order, /255 and the padding are what the model saw.
    // Boxes: model input 640×640, the 1280×720 frame at scale 0.5 with 140 px bars on top.
    let person = ("person".to_string(), vec![300, 120, 500, 520]);
    let car = ("car".to_string(), vec![820, 300, 980, 420]);
    let dog = ("dog".to_string(), vec![950, 470, 1050, 570]);
    let all = search(&env, &[]);
    assert_eq!(all.len(), 2, "{all:#?}");
    let red_hit = all.iter().find(|h| h["clip_start_ms"] == 1_795_154_400_000i64).unwrap();
    let blue_hit = all.iter().find(|h| h["clip_start_ms"] == 1_795_158_000_000i64).unwrap();
    assert_eq!(
        found(red_hit),
        vec![car.clone(), dog.clone(), person.clone()],
        "{red_hit:#}"
    );
    assert_eq!(found(blue_hit), vec![car.clone(), person.clone()], "{blue_hit:#}");
    assert_eq!(red_hit["labels"], serde_json::json!(["person", "car", "dog"]));
    let conf: Vec<f64> = red_hit["detections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["confidence"].as_f64().unwrap())
        .collect();
    assert!(conf.contains(&0.9) && conf.contains(&0.85), "{conf:?}");
    let dog_conf = red_hit["detections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["label"] == "dog")
        .unwrap()["confidence"]
        .as_f64()
        .unwrap();
    assert!(
        (0.65..0.8).contains(&dog_conf),
        "mean red of the letterboxed red frame: {dog_conf}"
    );

    // Search by label.
    let dogs = search(&env, &["--label", "dog"]);
    assert_eq!(dogs.len(), 1, "{dogs:#?}");
    assert_eq!(dogs[0]["key"], red_hit["key"]);
    assert_eq!(search(&env, &["--label", "person"]).len(), 2);
    assert!(search(&env, &["--label", "cat"]).is_empty());
    // The text output shows the labels.
    let text = env.ok(&["search", "--label", "dog"]);
    assert!(text.contains("person,car,dog"), "{text}");

    // The day's index object carries the detections, and a result read back from it (what
    // `catalog rebuild` stores) keeps labels, confidences and boxes.
    let cfg = camvault::config::Config::load(&env.config()).unwrap();
    let cat = camvault::catalog::Catalog::open(&cfg.catalog(), false).unwrap();
    let id = red_hit["file_id"].as_i64().unwrap();
    let r = cat.index_clip(id).unwrap().unwrap();
    let day = camvault::index::days::DayClip {
        key: red_hit["key"].as_str().unwrap().to_string(),
        result: r.clone(),
        sprite: None,
        frames: Vec::new(),
    };
    let json = serde_json::to_string(&day).unwrap();
    assert!(json.contains("\"bbox\":[300,120,500,520]"), "{json}");
    let back: camvault::index::days::DayClip = serde_json::from_str(&json).unwrap();
    assert_eq!(back.result, r);
    rusqlite::Connection::open(cfg.catalog())
        .unwrap()
        .execute_batch("DELETE FROM index_tags; DELETE FROM index_segments; DELETE FROM index_clips;")
        .unwrap();
    assert!(search(&env, &["--label", "dog"]).is_empty());
    cat.index_store(&back.result, 1).unwrap();
    let again = search(&env, &["--label", "dog"]);
    assert_eq!(again.len(), 1);
    assert_eq!(found(&again[0]), found(red_hit));
}

#[test]
fn a_bad_detector_is_named_at_start_and_indexing_goes_on_without_labels() {
    let dir = tempfile::tempdir().unwrap();
    let not_onnx = dir.path().join("notes.onnx");
    std::fs::write(&not_onnx, b"this is a text file, not a model\n").unwrap();
    let bad_shape = model(dir.path(), "badshape");
    let missing = dir.path().join("missing.onnx");
    let red = dir.path().join("red.mp4");
    clip(&red, "red");
    for (path, why) in [
        (&not_onnx, "not an ONNX model"),
        (&bad_shape, "[1, 3, 640, 640] is not a YOLO detection output"),
        (&missing, "no such file"),
    ] {
        let env = Env::new(
            1,
            &format!("index.enabled = false\nindex.detector = {:?}", path.to_str().unwrap()),
        );
        put_clip(&env, 1_795_154_400, &red);
        env.ok(&["ingest", "--once"]);
        let o = env.run(&["index", "--from", "2026-11-20", "--to", "2026-11-21"]);
        let (out, err) = (String::from_utf8_lossy(&o.stdout).to_string(), stderr(&o));
        assert!(o.status.success(), "{}: {out}\n{err}", path.display());
        assert!(
            err.contains(path.to_str().unwrap()) && err.contains(why) && err.contains("without labels"),
            "{}: {err}",
            path.display()
        );
        assert!(err.contains("docs/index.md"), "says what to do: {err}");
        // Motion indexing went on: the segment is there, without labels.
        assert!(out.contains("indexed 1 clip(s)"), "{out}");
        let hits = search(&env, &[]);
        assert_eq!(hits.len(), 1, "{hits:#?}");
        assert_eq!(hits[0]["labels"], serde_json::json!([]));
        // `status` shows it as a health problem naming the file.
        let st = env.run(&["status"]);
        let text = String::from_utf8_lossy(&st.stdout).to_string() + &stderr(&st);
        assert!(
            text.contains("detector") && text.contains(path.to_str().unwrap()),
            "{text}"
        );
        // A good model later clears it.
        let good = model(dir.path(), "v8");
        let cfg_text = std::fs::read_to_string(env.config()).unwrap().replace(
            &format!("{:?}", path.to_str().unwrap()),
            &format!("{:?}", good.to_str().unwrap()),
        );
        std::fs::write(env.config(), cfg_text).unwrap();
        env.ok(&["index", "--from", "2026-11-20", "--to", "2026-11-21"]);
        let st = env.run(&["status"]);
        let text = String::from_utf8_lossy(&st.stdout).to_string();
        assert!(!text.contains(path.to_str().unwrap()), "{text}");
    }
}

#[test]
fn the_v5_layout_and_the_model_metadata_names_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let v5 = model(dir.path(), "v5");
    let d = Detector::load(&v5, None, 0.4, 0.7).unwrap();
    assert_eq!(d.input, (640, 640));
    assert_eq!(d.names, ["person", "car", "dog"]);
    assert_eq!(d.names_from, "model metadata");
    // A 640×480 all-red frame: 640×480 at scale 1, 80 px bars above and below.
    let lb = d.letterbox(640, 480);
    assert_eq!((lb.w, lb.h, lb.top), (640, 480, 80));
    let rgb: Vec<u8> = (0..640 * 480).flat_map(|_| [255u8, 0, 0]).collect();
    let mut got: Vec<(String, [u32; 4])> = d
        .detect_rgb(&rgb, &lb)
        .unwrap()
        .into_iter()
        .map(|x| (x.label, x.bbox))
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            ("car".to_string(), [410, 210, 490, 270]),
            ("dog".to_string(), [475, 295, 525, 345]),
            ("person".to_string(), [150, 120, 250, 320]),
        ]
    );
    // Names from the config must match the model's class count.
    let e = Detector::load(&v5, Some(vec!["a".into()]), 0.4, 0.7)
        .unwrap_err()
        .to_string();
    assert!(e.contains(v5.to_str().unwrap()) && e.contains("3 classes"), "{e}");
}

/// CPU seconds (user + system) of this process so far (tract runs in-process).
fn cpu_self() -> f64 {
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage fills the struct we own.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let tv = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
    tv(u.ru_utime) + tv(u.ru_stime)
}

/// The detector's cost with a model of the real size (docs/benchmarks.md, "Video index"):
/// `bench/detector.sh` runs it. BENCH_MODEL: the ONNX file (bench/yolo_model.py makes a
/// YOLOv8n-sized one); BENCH_FRAMES: frames timed.
#[test]
#[ignore]
fn bench_detector() {
    let model = PathBuf::from(std::env::var("BENCH_MODEL").expect("BENCH_MODEL=<model.onnx> (bench/detector.sh)"));
    let frames: usize = std::env::var("BENCH_FRAMES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let (t, c) = (std::time::Instant::now(), cpu_self());
    let d = Detector::load(&model, None, 0.4, 0.7).unwrap();
    println!(
        "BENCH detector load: {:.2} s wall, {:.2} CPU-s ({}×{} input, {:?})",
        t.elapsed().as_secs_f64(),
        cpu_self() - c,
        d.input.0,
        d.input.1,
        d.layout
    );
    // A frame from an HEVC clip at the cameras' 2304×1296 (ffmpeg's share timed apart).
    let dir = tempfile::tempdir().unwrap();
    let clip_path = dir.path().join("cam.mp4");
    let st = Command::new("ffmpeg")
        .args([
            "-y",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=s=2304x1296:r=20:d=2",
        ])
        .args([
            "-c:v",
            "libx265",
            "-preset",
            "ultrafast",
            "-x265-params",
            "log-level=error",
        ])
        .arg(&clip_path)
        .status()
        .unwrap();
    assert!(st.success());
    let lb = d.letterbox(2304, 1296);
    let t = std::time::Instant::now();
    let rgb = camvault::index::decode::rgb_frame(&clip_path, 1.0, lb.w, lb.h).unwrap();
    println!(
        "BENCH detector ffmpeg frame (2304×1296 HEVC → {}×{} RGB): {:.0} ms wall",
        lb.w,
        lb.h,
        t.elapsed().as_secs_f64() * 1000.0
    );
    d.detect_rgb(&rgb, &lb).unwrap(); // warm-up
    let (t, c) = (std::time::Instant::now(), cpu_self());
    let mut objects = 0;
    for _ in 0..frames {
        objects += d.detect_rgb(&rgb, &lb).unwrap().len();
    }
    let (wall, cpu) = (t.elapsed().as_secs_f64(), cpu_self() - c);
    println!(
        "BENCH detector inference: {frames} frames, {:.0} ms wall and {:.0} ms CPU per frame ({objects} objects from random weights)",
        wall * 1000.0 / frames as f64,
        cpu * 1000.0 / frames as f64
    );
}
