//! Notifications on activity (`[[index.notify]]`, src/index/notify.rs) end to end: a real
//! ffmpeg-made clip with motion in one zone, captured, indexed by the index worker, and the
//! rules' messages received by HTTP servers on 127.0.0.1 that answer like the chat APIs.

mod common;

use std::time::Duration;

use base64::Engine;
use camvault::catalog::Catalog;
use camvault::config::Config;
use common::receiver::{receiver, Req};
use common::scenes::*;
use common::*;

const CAMERA: &str = "[cameras.78DF72A1B2C3]\nname = \"gate\"\n\
    [[cameras.78DF72A1B2C3.zones]]\nname = \"left\"\nrect = [0.0, 0.0, 0.5, 1.0]\n\
    [[cameras.78DF72A1B2C3.zones]]\nname = \"right\"\nrect = [0.5, 0.0, 0.5, 1.0]\n";

/// `HH:MM` of `minute` after midnight, any integer.
fn hhmm(minute: i64) -> String {
    let m = minute.rem_euclid(1440);
    format!("{:02}:{:02}", m / 60, m % 60)
}

/// The minute of the day (Asia/Shanghai, the cameras' zone in the tests) of `unix`.
fn minute_of(unix: i64) -> i64 {
    (unix + 8 * 3600).rem_euclid(86_400) / 60
}

fn channels(port: u16) -> String {
    let u = format!("http://127.0.0.1:{port}");
    format!(
        "[[alerts.channel]]\nname = \"tg\"\nkind = \"telegram\"\nurl = \"{u}\"\ntoken = \"123:SECRETTOKEN\"\nchat_id = \"42\"\n\
         [[alerts.channel]]\nname = \"wecom\"\nkind = \"wecom\"\nurl = \"{u}/cgi-bin/webhook/send?key=k\"\n\
         [[alerts.channel]]\nname = \"ding\"\nkind = \"dingtalk\"\nurl = \"{u}/robot/send?access_token=abc\"\n"
    )
}

fn rule(name: &str, extra: &str) -> String {
    format!("[[index.notify]]\nname = \"{name}\"\n{extra}\n")
}

fn notify(cfg: &Config, cat: &Catalog, waits: &[Duration]) -> camvault::index::notify::Counts {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = camvault::alerts::channels::client();
    rt.block_on(camvault::index::notify::pass(cfg, cat, &client, waits))
        .unwrap()
}

/// The bytes of the JPEG part of a multipart/form-data body.
fn jpeg_part(r: &Req) -> Vec<u8> {
    let boundary = r
        .content_type()
        .split("boundary=")
        .nth(1)
        .expect("a multipart boundary")
        .to_string();
    let head = b"Content-Type: image/jpeg\r\n\r\n";
    let at = r.body.windows(head.len()).position(|w| w == head).expect("a JPEG part") + head.len();
    let end_mark = format!("\r\n--{boundary}");
    let len = r.body[at..]
        .windows(end_mark.len())
        .position(|w| w == end_mark.as_bytes())
        .expect("the part's end");
    r.body[at..at + len].to_vec()
}

fn text_field(r: &Req, name: &str) -> String {
    let s = String::from_utf8_lossy(&r.body);
    let head = format!("name=\"{name}\"\r\n\r\n");
    let at = s.find(&head).unwrap_or_else(|| panic!("no field {name}")) + head.len();
    s[at..].split("\r\n--").next().unwrap().to_string()
}

#[test]
fn a_fresh_clip_notifies_the_matching_rules_once_with_its_frame() {
    let (port, got) = receiver(200);
    let clip = left_pass_clip();
    let start = now_unix() - 90;
    let m = minute_of(start);
    let now_window = format!("window = \"{}-{}\"", hhmm(m - 30), hhmm(m + 30));
    let later_window = format!("window = \"{}-{}\"", hhmm(m + 120), hhmm(m + 180));
    let rules = [
        rule(
            "gate-left",
            &format!("camera = \"gate\"\nzone = \"left\"\n{now_window}\nchannels = [\"tg\", \"wecom\", \"ding\"]"),
        ),
        rule("gate-right", "zone = \"right\"\nchannels = [\"tg\"]"),
        rule(
            "left-later",
            &format!("zone = \"left\"\n{later_window}\nchannels = [\"tg\"]"),
        ),
        rule(
            "person-left",
            "zone = \"left\"\nlabel = \"person\"\nchannels = [\"tg\"]",
        ),
        rule("car", "label = \"car\"\nchannels = [\"tg\"]"),
    ]
    .concat();
    let env = Env::new(
        1,
        &format!(
            "index.enabled = false\nhttp.public_url = \"https://cam.example.lan\"\n{CAMERA}{}{rules}",
            channels(port)
        ),
    );
    env.put_old(&old_clip(start), &clip);
    env.ok(&["ingest", "--once"]);
    let (cfg, cat) = open(&env);
    assert_eq!(index_pass(&cfg, &cat), 1);
    let file_id: i64 = catalog_count(&env, "SELECT file_id FROM index_clips");
    let segs = cat.index_clip(file_id).unwrap().unwrap().segments;
    assert_eq!(segs.len(), 1, "one pass of the object: {segs:?}");
    assert_eq!(segs[0].zones, ["left"], "{segs:?}");
    // The detector's labels, stored as it stores them, before the rules look.
    cat.index_set_labels(file_id, 0, &["person".to_string()]).unwrap();

    let n = notify(&cfg, &cat, &[Duration::from_millis(50)]);
    assert_eq!((n.sent, n.failed, n.stale), (2, 0, 0), "{n:?}");
    let reqs = got.lock().unwrap().clone();
    // Telegram: one photo per matching rule, with the segment's frame.
    let photos: Vec<&Req> = reqs
        .iter()
        .filter(|r| r.path == "/bot123:SECRETTOKEN/sendPhoto")
        .collect();
    assert_eq!(
        photos.len(),
        2,
        "{:?}",
        reqs.iter().map(|r| &r.path).collect::<Vec<_>>()
    );
    let captions: Vec<String> = photos.iter().map(|r| text_field(r, "caption")).collect();
    assert!(captions.iter().any(|c| c.contains("gate-left")), "{captions:?}");
    assert!(
        captions
            .iter()
            .any(|c| c.contains("person-left") && c.contains("person")),
        "{captions:?}"
    );
    for (r, c) in photos.iter().zip(&captions) {
        assert_eq!(text_field(r, "chat_id"), "42");
        let jpeg = jpeg_part(r);
        assert_eq!(&jpeg[..2], &[0xFF, 0xD8], "a JPEG");
        assert!(jpeg.len() > 1000, "a real frame, {} bytes", jpeg.len());
        assert!(
            c.contains("Zones: left") && c.contains("https://cam.example.lan/day/gate/"),
            "{c}"
        );
    }
    // The rules of another zone, another time or another label sent nothing in the same run.
    for other in ["gate-right", "left-later", "car"] {
        assert!(!captions.iter().any(|c| c.contains(other)), "{other}: {captions:?}");
    }
    // WeCom: the text, then the picture as base64 with its MD5; DingTalk: text with the link.
    let wecom: Vec<serde_json::Value> = reqs
        .iter()
        .filter(|r| r.path.starts_with("/cgi-bin/webhook/send"))
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert_eq!(wecom.len(), 2, "{wecom:?}");
    assert_eq!(wecom[0]["msgtype"], "text");
    assert!(wecom[0]["text"]["content"].as_str().unwrap().contains("gate-left"));
    assert_eq!(wecom[1]["msgtype"], "image");
    let img = base64::engine::general_purpose::STANDARD
        .decode(wecom[1]["image"]["base64"].as_str().unwrap())
        .unwrap();
    assert_eq!(&img[..2], &[0xFF, 0xD8]);
    let md5: String = <md5::Md5 as md5::Digest>::digest(&img)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(wecom[1]["image"]["md5"], md5);
    let ding: Vec<serde_json::Value> = reqs
        .iter()
        .filter(|r| r.path.starts_with("/robot/send"))
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert_eq!(ding.len(), 1);
    assert!(ding[0]["text"]["content"]
        .as_str()
        .unwrap()
        .contains("https://cam.example.lan/day/gate/"));
    let total = reqs.len();
    assert_eq!(catalog_count(&env, "SELECT count(*) FROM notify_pending"), 0);

    // After a restart the same clip is indexed again (same segment): nobody is told twice.
    drop(cat);
    let (cfg, cat) = open(&env);
    cat.index_enqueue_ids(&[file_id], 0).unwrap();
    assert_eq!(index_pass(&cfg, &cat), 1);
    assert_eq!(
        catalog_count(&env, "SELECT count(*) FROM notify_pending"),
        1,
        "queued again by the re-index"
    );
    cat.index_set_labels(file_id, 0, &["person".to_string()]).unwrap();
    let n = notify(&cfg, &cat, &[Duration::from_millis(50)]);
    assert_eq!(n.sent, 0, "{n:?}");
    assert_eq!(got.lock().unwrap().len(), total, "no second message");
    assert_eq!(catalog_count(&env, "SELECT count(*) FROM notify_pending"), 0);
    assert_eq!(
        catalog_count(&env, "SELECT count(*) FROM notify_sent WHERE outcome = 'sent'"),
        2
    );
}

#[test]
fn a_busy_rule_sends_one_message_per_period_and_counts_the_rest() {
    let (port, got) = receiver(200);
    let clip = left_pass_clip();
    let now = now_unix();
    let env = Env::new(
        1,
        &format!(
            "index.enabled = false\n{CAMERA}{}{}",
            channels(port),
            rule("left", "zone = \"left\"\nchannels = [\"tg\"]\nevery_minutes = 10")
        ),
    );
    // Three clips a minute apart, each with its pass of the object.
    for start in [now - 300, now - 240, now - 180] {
        env.put_old(&old_clip(start), &clip);
    }
    env.ok(&["ingest", "--once"]);
    let (cfg, cat) = open(&env);
    assert_eq!(index_pass(&cfg, &cat), 3);
    let n = notify(&cfg, &cat, &[]);
    assert_eq!((n.sent, n.suppressed), (1, 2), "{n:?}");
    assert_eq!(got.lock().unwrap().len(), 1);
    let state = cat.notify_rule("left").unwrap();
    assert_eq!((state.sent, state.suppressed), (1, 2));
    // The first match held back: the second clip's segment.
    let first_held = state.suppressed_from.unwrap();
    assert!((first_held / 1000 - (now - 240)).abs() <= 10, "{first_held}");
    // The period is over (as if ten minutes passed): the next match is sent and says how
    // many were held back since when.
    rusqlite::Connection::open(cfg.catalog())
        .unwrap()
        .execute("UPDATE notify_rules SET last_try_ms = last_try_ms - 600000", [])
        .unwrap();
    env.put_old(&old_clip(now - 120), &clip);
    env.ok(&["ingest", "--once"]);
    assert_eq!(index_pass(&cfg, &cat), 1);
    let n = notify(&cfg, &cat, &[]);
    assert_eq!((n.sent, n.suppressed), (1, 0), "{n:?}");
    let reqs = got.lock().unwrap().clone();
    assert_eq!(reqs.len(), 2);
    let caption = text_field(&reqs[1], "caption");
    let since = hhmm(minute_of(first_held / 1000));
    assert!(
        caption.contains(&format!(
            "2 more since {since} were not sent (at most one message every 10 min)"
        )),
        "{caption}"
    );
    assert_eq!(cat.notify_rule("left").unwrap().suppressed, 0);
}

#[test]
fn a_channel_that_is_down_gets_bounded_retries_then_a_counted_failure() {
    let (down, tries) = receiver(503);
    let (up, got) = receiver(200);
    let clip = left_pass_clip();
    let now = now_unix();
    let chans = format!(
        "[[alerts.channel]]\nname = \"down\"\nkind = \"telegram\"\nurl = \"http://127.0.0.1:{down}\"\ntoken = \"1:T\"\nchat_id = \"7\"\n\
         [[alerts.channel]]\nname = \"up\"\nkind = \"telegram\"\nurl = \"http://127.0.0.1:{up}\"\ntoken = \"1:T\"\nchat_id = \"7\"\n"
    );
    let rules = [
        rule("to-down", "zone = \"left\"\nchannels = [\"down\"]\nevery_minutes = 10"),
        rule("to-up", "zone = \"left\"\nchannels = [\"up\"]"),
    ]
    .concat();
    let env = Env::new(1, &format!("index.enabled = false\n{CAMERA}{chans}{rules}"));
    for start in [now - 200, now - 100] {
        env.put_old(&old_clip(start), &clip);
    }
    env.ok(&["ingest", "--once"]);
    let (cfg, cat) = open(&env);
    assert_eq!(index_pass(&cfg, &cat), 2);
    let waits = [Duration::from_millis(20), Duration::from_millis(40)];
    let n = notify(&cfg, &cat, &waits);
    // The rule whose channel is down: its first match tried three times, then dropped and
    // counted; its second match falls in the rate limit and is not tried at all. The other
    // rule, in the same run, delivered its first message.
    assert_eq!(tries.lock().unwrap().len(), 3, "three tries of one message");
    assert_eq!((n.failed, n.sent, n.suppressed), (1, 1, 2), "{n:?}");
    assert_eq!(got.lock().unwrap().len(), 1);
    let s = cat.notify_rule("to-down").unwrap();
    assert_eq!((s.failed, s.sent, s.suppressed), (1, 0, 1));
    assert_eq!(
        catalog_count(
            &env,
            "SELECT count(*) FROM notify_sent WHERE rule = 'to-down' AND outcome = 'failed'"
        ),
        1
    );
    // Counted where the monitoring sees it.
    let metrics =
        camvault::metrics::render(&cfg, &cat, &camvault::metrics::PipelineMetrics::default(), now * 1000).unwrap();
    for line in [
        "camvault_notify_failed_total{rule=\"to-down\"} 1",
        "camvault_notify_sent_total{rule=\"to-up\"} 1",
        "camvault_notify_held{rule=\"to-down\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} in:\n{metrics}");
    }
    // Nothing waits to be sent again: no queue grows while the channel is away.
    assert_eq!(catalog_count(&env, "SELECT count(*) FROM notify_pending"), 0);
    let again = notify(&cfg, &cat, &waits);
    assert_eq!(again, camvault::index::notify::Counts::default());
    assert_eq!(tries.lock().unwrap().len(), 3);
}

#[test]
fn serve_notifies_fresh_clips_only_never_a_backfill_of_old_footage() {
    needs!(FFMPEG);
    let (port, got) = receiver(200);
    let clip = left_pass_clip();
    let now = now_unix();
    let env = Env::new(
        1,
        &format!(
            "index.interval_secs = 1\n{CAMERA}{}{}",
            channels(port),
            rule("left", "zone = \"left\"\nchannels = [\"tg\"]\nevery_minutes = 1")
        ),
    );
    // Last year's clip, one from three hours ago (past `notify_max_age_minutes`) and a fresh one.
    let (last_year, earlier, fresh) = (now - 365 * 86_400, now - 3 * 3600, now - 60);
    for t in [last_year, earlier, fresh] {
        env.put_old(&old_clip(t), &clip);
    }
    // Last year's clip is indexed by a backfill first, as a user would (its local copy is
    // gone: restored from the store). The same run of `index` also indexes the others.
    env.ok(&["ingest", "--once"]);
    let day = old_clip(last_year).split('/').nth(2).unwrap()[..8].to_string();
    let (from, to) = (
        format!("{}-{}-{}", &day[..4], &day[4..6], &day[6..8]),
        format!("{}-{}-{}T23:59", &day[..4], &day[4..6], &day[6..8]),
    );
    env.ok(&["index", "--from", &from, "--to", &to, "--restore"]);
    // The store is a directory here: the restore is done at once; this indexes its copy.
    let out = env.ok(&["index", "--from", &from, "--to", &to]);
    let old_ms = last_year * 1000;
    assert_eq!(
        catalog_count(
            &env,
            &format!("SELECT count(*) FROM index_clips WHERE start_ms = {old_ms} AND state = 'indexed'")
        ),
        1,
        "{out}"
    );
    assert_eq!(
        catalog_count(
            &env,
            &format!("SELECT count(*) FROM notify_pending WHERE start_ms = {old_ms}")
        ),
        0,
        "a backfill is not queued for the rules"
    );
    let mut serve = env.serve();
    wait_for(
        Duration::from_secs(180),
        "three clips indexed and the notifier done",
        || {
            catalog_count(&env, "SELECT count(*) FROM index_clips WHERE state = 'indexed'") == 3
                && catalog_count(&env, "SELECT count(*) FROM notify_pending") == 0
                && !got.lock().unwrap().is_empty()
        },
    );
    // The pass that sent it logged what it did.
    let log = env.serve_log();
    wait_for(Duration::from_secs(30), "the notifier's log line", || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("notify: 1 sent")
    });
    let _ = serve.kill();
    let _ = serve.wait();
    // The alerts go to the same channels (the restore's "ready" event): only the activity
    // messages count here, and none of them came as text without the photo.
    let all = got.lock().unwrap().clone();
    let reqs: Vec<Req> = all.iter().filter(|r| r.path.ends_with("/sendPhoto")).cloned().collect();
    assert_eq!(
        reqs.len(),
        1,
        "only the fresh clip: {:?}",
        all.iter().map(|r| &r.path).collect::<Vec<_>>()
    );
    assert!(!all
        .iter()
        .any(|r| r.text().contains("Activity at") && !r.path.ends_with("/sendPhoto")));
    let caption = text_field(&reqs[0], "caption");
    let fresh_time = hhmm(minute_of(fresh + 2));
    assert!(
        caption.contains(&format!(" {fresh_time}:")),
        "the fresh clip's time {fresh_time}: {caption}"
    );
    assert_eq!(&jpeg_part(&reqs[0])[..2], &[0xFF, 0xD8]);
    // Every clip of the three had its matching segment: only freshness kept the others quiet.
    assert_eq!(
        catalog_count(&env, "SELECT count(*) FROM index_segments WHERE zones LIKE '%,left,%'"),
        3
    );
}

#[test]
fn bad_rules_are_config_errors_naming_the_rule_and_value() {
    let cases = [
        ("camera = \"garage\"", "camera \"garage\" is not configured"),
        (
            "camera = \"gate\"\nzone = \"porch\"",
            "zone \"porch\" is not a zone of camera \"gate\"",
        ),
        ("zone = \"porch\"", "zone \"porch\" is not a zone of any camera"),
        ("window = \"23:00-25:00\"", "`window` = \"23:00-25:00\""),
        ("window = \"late\"", "`window` = \"late\""),
        ("window = \"06:00-06:00\"", "the window is empty"),
        (
            "channels = [\"pager\"]",
            "channel \"pager\" is not in `[[alerts.channel]]`",
        ),
        ("every_minutes = 0", "`every_minutes` must be at least 1"),
        ("min_activity = 150", "`min_activity` = 150"),
    ];
    for (extra, want) in cases {
        let env = Env::new(1, &format!("{CAMERA}{}{}", channels(9), rule("night-gate", extra)));
        let o = env.run(&["status"]);
        let e = stderr(&o);
        assert!(!o.status.success(), "{extra}: {e}");
        assert!(
            e.contains("`index.notify[0]` (\"night-gate\")") && e.contains(want),
            "{extra}: {e}"
        );
    }
    // A rule without any channel to send to.
    let env = Env::new(1, &format!("{CAMERA}{}", rule("night-gate", "zone = \"left\"")));
    let e = stderr(&env.run(&["status"]));
    assert!(e.contains("night-gate") && e.contains("no `[[alerts.channel]]`"), "{e}");
    // A duplicate name.
    let env = Env::new(1, &format!("{CAMERA}{}{}{}", channels(9), rule("a", ""), rule("a", "")));
    let e = stderr(&env.run(&["status"]));
    assert!(e.contains("`index.notify[1]` (\"a\")") && e.contains("unique"), "{e}");
    // A good rule with a MAC for its camera and a window wrapping midnight loads.
    let env = Env::new(
        1,
        &format!(
            "{CAMERA}{}{}",
            channels(9),
            rule(
                "ok",
                "camera = \"78df72a1b2c3\"\nzone = \"left\"\nwindow = \"23:00-06:00\""
            )
        ),
    );
    env.ok(&["status"]);
}

#[test]
fn quiet_hours_silence_only_the_rules_that_ask_for_them() {
    let (port, got) = receiver(200);
    let clip = left_pass_clip();
    let rules = [
        rule("explicit", "zone = \"left\"\nchannels = [\"tg\"]"),
        rule("polite", "zone = \"left\"\nchannels = [\"tg\"]\nquiet_hours = true"),
    ]
    .concat();
    // Quiet all day: whenever the test runs, it is inside them.
    let env = Env::new(
        1,
        &format!(
            "index.enabled = false\nalerts.quiet_hours = \"00:00-24:00\"\n{CAMERA}{}{rules}",
            channels(port)
        ),
    );
    env.put_old(&old_clip(now_unix() - 60), &clip);
    env.ok(&["ingest", "--once"]);
    let (cfg, cat) = open(&env);
    assert_eq!(index_pass(&cfg, &cat), 1);
    let n = notify(&cfg, &cat, &[]);
    assert_eq!(n.sent, 1, "{n:?}");
    let reqs = got.lock().unwrap().clone();
    assert_eq!(reqs.len(), 1);
    assert!(text_field(&reqs[0], "caption").contains("explicit"));
    assert_eq!(
        catalog_count(
            &env,
            "SELECT count(*) FROM notify_sent WHERE rule = 'polite' AND outcome = 'quiet'"
        ),
        1,
        "recorded, never sent later"
    );
}
