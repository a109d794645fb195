//! Fuzzing of every parser of outside input (issue 13): file names and paths from the
//! camera, MP4 headers, Samba audit lines, the stores' XML answers and headers, and HTTP
//! query parameters and ranges. Each property runs a bounded number of cases inside
//! `cargo test` on the stable toolchain (no `cargo fuzz`, which needs nightly), so CI runs
//! them on every push: `CAMVAULT_FUZZ_CASES` sets the count (default 256; a long local
//! run: `CAMVAULT_FUZZ_CASES=100000 cargo test --bin camvault fuzz::`). Failures shrink
//! to a minimal input and are kept in `proptest-regressions/`.
//!
//! Inputs are mostly structure-aware: a valid sample with random edits and dictionary
//! tokens spliced in, so that a parser gets past its first check; plain random bytes too.
//! Each property asserts no panic and, where the parser has one, its invariant (a round
//! trip, a bound).

use proptest::prelude::*;
use proptest::test_runner::Config as PtConfig;

use crate::inbox::{layout, mp4meta};
use crate::keys;

fn cases() -> u32 {
    std::env::var("CAMVAULT_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

fn config() -> PtConfig {
    PtConfig {
        cases: cases(),
        // Keep CI bounded: a failure's shrinking is capped too.
        max_shrink_iters: 2048,
        ..PtConfig::default()
    }
}

/// One edit of a sample: where, what, and which kind.
type Edit = (usize, u8, usize, u8);

/// Applies up to a few edits to `sample`: replace a byte, insert a `dict` token, delete a
/// stretch, truncate, or duplicate a stretch.
fn mutate(sample: &[u8], dict: &[&str], edits: &[Edit]) -> Vec<u8> {
    let mut v = sample.to_vec();
    for &(pos, byte, n, kind) in edits {
        let at = if v.is_empty() { 0 } else { pos % (v.len() + 1) };
        match kind % 5 {
            0 if at < v.len() => v[at] = byte,
            1 => {
                let tok = dict[n % dict.len().max(1)].as_bytes();
                v.splice(at..at, tok.iter().copied());
            }
            2 => {
                let end = (at + n % 16).min(v.len());
                v.drain(at..end);
            }
            3 => v.truncate(at),
            _ => {
                let end = (at + n % 32).min(v.len());
                let copy = v[at..end].to_vec();
                v.splice(at..at, copy);
            }
        }
    }
    v
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    proptest::collection::vec((any::<usize>(), any::<u8>(), any::<usize>(), any::<u8>()), 0..8)
}

/// Text near `sample` (lossy UTF-8 of the mutated bytes).
fn near(sample: &'static str, dict: &'static [&'static str]) -> impl Strategy<Value = String> {
    edits().prop_map(move |e| String::from_utf8_lossy(&mutate(sample.as_bytes(), dict, &e)).into_owned())
}

/// A file name a camera can write: 1..=255 bytes, anything but '/' and NUL.
fn camera_name() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(
            any::<u8>().prop_filter("no / or NUL", |b| *b != b'/' && *b != 0),
            1..=255
        ),
        "[ -.0-~\\u{80}-\\u{10FFFF}]{1,80}".prop_map(|s: String| s.into_bytes()),
        proptest::collection::vec(
            prop_oneof![Just(b'.'), Just(b'%'), Just(b'\n'), Just(0xff), Just(b'a')],
            1..=255
        ),
    ]
    .prop_map(|mut v| {
        v.truncate(255);
        v
    })
}

/// Decodes what `safe_name` escaped (for names it did not shorten).
fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && b.len() >= i + 3 {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

proptest! {
    #![proptest_config(config())]

    // ---- names (keys.rs) ----

    /// Any camera name becomes one safe key component: bounded, no '/', no control
    /// character, never `.`/`..`/empty; names that fit are reversible.
    #[test]
    fn safe_name_is_bounded_safe_and_reversible(raw in camera_name()) {
        let k = keys::safe_name(&raw);
        prop_assert!(!k.is_empty() && k.len() <= keys::MAX_NAME, "{k:?}");
        prop_assert!(k != "." && k != ".." && !k.contains('/') && !k.starts_with(".camvault"));
        prop_assert!(!k.chars().any(|c| c.is_control() || matches!(c, '\u{FFFE}' | '\u{FFFF}')), "{:?}", k);
        if !k.contains('~') && raw != b"." && raw != b".." && !raw.starts_with(b".camvault") {
            prop_assert_eq!(unescape(&k), raw);
        }
        // A revision of it still fits a file name, with the fs store's `.json` beside it.
        prop_assert!(keys::revision_key(&k, u32::MAX).len() + ".json".len() <= 255);
    }

    /// Distinct names give distinct components.
    #[test]
    fn safe_names_stay_distinct(a in camera_name(), b in camera_name()) {
        if a != b {
            prop_assert_ne!(keys::safe_name(&a), keys::safe_name(&b));
        }
    }

    /// A template parses or names its problem; a rendered key reads back to its parts.
    #[test]
    fn templates_render_and_read_back(
        t in near("videos/{camera}/{date}/{hour}/{file}", &["{", "}", "/", "{file}", "{camera}", "{mac}", "..", "//", "{x}", "{date}"]),
        raw in camera_name(),
        secs in 1_500_000_000i64..2_100_000_000,
    ) {
        let Ok(tpl) = keys::Template::parse(&t) else { return Ok(()) };
        let start = jiff::Timestamp::from_second(secs).unwrap().to_zoned(jiff::tz::TimeZone::UTC);
        let key = tpl.render(&keys::KeyInput { camera: "door", mac: None, channel: None, start: &start, file: &raw });
        // The read-back is only defined when each placeholder is a whole path component.
        let whole = t.split('/').all(|c| !c.contains('{') || (c.starts_with('{') && c.ends_with('}') && c.matches('{').count() == 1));
        if whole {
            let m = tpl.match_key(&key);
            prop_assert!(m.is_some(), "{t} rendered {key:?} which does not read back");
            prop_assert_eq!(&m.unwrap()["file"], &keys::safe_name(&raw));
        }
    }

    /// Any key, from any store, is a path that stays beneath its folder.
    #[test]
    fn local_paths_stay_beneath(key in near("videos/door/2024-05-21/13/a.mp4", &["..", "/", ".", "//", "%", "\u{0}"])) {
        let p = keys::local_path(&key);
        for c in p.components() {
            prop_assert!(matches!(c, std::path::Component::Normal(n) if n.len() <= 255), "{key:?} -> {p:?}");
        }
    }

    // ---- inbox paths (inbox/layout.rs) ----

    /// Any path parses into a layout and a time span without panicking.
    #[test]
    fn layout_never_panics(
        comps in proptest::collection::vec(prop_oneof![
            camera_name(),
            near("xiaomi_camera_videos", &["_", "X"]).prop_map(String::into_bytes),
            near("XiaomiCamera_00_5C02148A9E01", &["_", "0", "F"]).prop_map(String::into_bytes),
            near("2024052113", &["9", "0", "99"]).prop_map(String::into_bytes),
            near("05M30S_1716267930.mp4", &["M", "S", "_", "9", "-"]).prop_map(String::into_bytes),
            near("00_20240521130530_20240521130630.mp4", &["_", "9", "0", "-", "99999999999999"]).prop_map(String::into_bytes),
        ], 0..5),
        mtime in any::<i64>(),
        now in any::<i64>(),
    ) {
        let refs: Vec<&[u8]> = comps.iter().map(|c| c.as_slice()).collect();
        let parsed = layout::parse(&refs);
        let clamp = |ns: i64| jiff::Timestamp::from_second(ns.rem_euclid(4_000_000_000)).unwrap();
        let tz = jiff::tz::TimeZone::get("Asia/Shanghai").unwrap();
        let _ = layout::resolve(&parsed, &tz, clamp(mtime), clamp(now));
    }

    /// The old layout's name carries its start exactly.
    #[test]
    fn old_layout_names_round_trip(unix in 1_500_000_000i64..2_000_000_000) {
        let tz = jiff::tz::TimeZone::get("Asia/Shanghai").unwrap();
        let z = jiff::Timestamp::from_second(unix).unwrap().to_zoned(tz);
        let hour = z.strftime("%Y%m%d%H").to_string();
        let file = format!("{}M{}S_{unix}.mp4", z.strftime("%M"), z.strftime("%S"));
        let p = layout::parse(&[b"xiaomi_camera_videos", b"78DF72A1B2C3", hour.as_bytes(), file.as_bytes()]);
        prop_assert_eq!(p.layout, layout::Layout::XiaomiOld);
        match p.time {
            layout::NameTime::Absolute { start, .. } => prop_assert_eq!(start.as_second(), unix),
            t => prop_assert!(false, "{t:?}"),
        }
    }

    /// The new layout's name carries its lens, start and end exactly.
    #[test]
    fn new_layout_names_round_trip(secs in 1_500_000_000i64..2_000_000_000, len in 1i64..7200, ch in 0u8..20) {
        let at = |s: i64| jiff::Timestamp::from_second(s).unwrap().to_zoned(jiff::tz::TimeZone::UTC).datetime();
        let (start, end) = (at(secs), at(secs + len));
        let ch = format!("{ch:02}");
        let file = format!("{ch}_{}_{}.mp4", start.strftime("%Y%m%d%H%M%S"), end.strftime("%Y%m%d%H%M%S"));
        let p = layout::parse(&[b"XiaomiCamera_00_5C02148A9E01", file.as_bytes()]);
        prop_assert_eq!(p.layout, layout::Layout::XiaomiNew, "{}: {:?}", file, p.warning);
        prop_assert_eq!(p.channel.as_deref(), Some(ch.as_str()));
        prop_assert_eq!(p.time, layout::NameTime::Local { start, end });
    }

    // ---- MP4 headers (inbox/mp4meta.rs) ----

    /// Boxes nested at random, with the types the parser looks for, never panic it.
    #[test]
    fn mp4_boxes_never_panic(boxes in proptest::collection::vec((
        prop_oneof![Just(*b"ftyp"), Just(*b"moov"), Just(*b"mvhd"), Just(*b"trak"), Just(*b"mdia"), Just(*b"mdhd"),
            Just(*b"hdlr"), Just(*b"minf"), Just(*b"stbl"), Just(*b"stsd"), Just(*b"tkhd"), Just(*b"hvc1"),
            Just(*b"avc1"), Just(*b"moof"), Just(*b"mdat"), Just(*b"sidx"), Just(*b"mvex"), Just(*b"mehd"), any::<[u8; 4]>()],
        prop_oneof![Just(None), any::<u32>().prop_map(Some), (0u32..64).prop_map(Some)],
        proptest::collection::vec(any::<u8>(), 0..64),
        0u8..4,
    ), 0..12)) {
        // Build inside out: a box may hold the ones after it.
        let mut file: Vec<u8> = Vec::new();
        for (kind, size, payload, nest) in boxes.iter().rev() {
            let mut body = payload.clone();
            if *nest == 0 {
                body.extend_from_slice(&file);
                file.clear();
            }
            let len = size.unwrap_or((body.len() + 8) as u32);
            let mut b = len.to_be_bytes().to_vec();
            b.extend_from_slice(kind);
            b.extend_from_slice(&body);
            b.extend_from_slice(&file);
            file = b;
        }
        let mut cur = std::io::Cursor::new(&file);
        let _ = mp4meta::probe(&mut cur, file.len() as u64);
        // A file shorter than it says it is, too.
        let mut cur = std::io::Cursor::new(&file);
        let _ = mp4meta::probe(&mut cur, file.len() as u64 * 2 + 100);
    }

    // ---- Samba audit lines (samba/audit.rs) ----

    /// Any line near what full_audit writes parses or is skipped; an attempt names a path.
    #[test]
    fn audit_lines_never_panic(line in prop_oneof![
        near("Dec  3 12:00:00 box smbd_audit: camvault|2024/05/21 13:05:30|192.168.1.20|camera|unlinkat|ok|xiaomi_camera_videos/78DF72A1B2C3/2024052113/05M30S_1716267930.mp4",
            &["|", "fail", "ok", "unlinkat", "renameat", "create_file", "0x10000", "overwrite", "::ffff:", "camvault|", "2024/13/40 25:61:61", "\n"]),
        near("camvault|2024/05/21 13:05:30|::ffff:10.0.0.2|camera|create_file|fail (NT_STATUS_ACCESS_DENIED)|0x10000|file|open|a/b.mp4",
            &["|", "0x", "supersede", "No such file", "camvault|"]),
        "\\PC{0,200}",
    ]) {
        if let Some(a) = crate::samba::audit::parse_line(&line, &jiff::tz::TimeZone::UTC) {
            prop_assert!(!a.path.is_empty());
            prop_assert!(["delete", "rename", "overwrite"].contains(&a.op.as_str()), "{}", a.op);
        }
    }

    // ---- store answers (store/) ----

    /// Listing pages (S3 and OSS) parse or fail with an error; entries become metadata.
    #[test]
    fn listing_xml_never_panics(xml in near(
        "<ListBucketResult><IsTruncated>true</IsTruncated><NextContinuationToken>t&amp;1</NextContinuationToken><Contents><Key>videos/a b/%25.mp4</Key><Size>10</Size><StorageClass>DEEP_ARCHIVE</StorageClass><LastModified>2024-05-21T13:05:30.000Z</LastModified></Contents></ListBucketResult>",
        &["<Contents>", "</Contents>", "<Key>", "</Key>", "<Size>", "-1", "99999999999999999999999", "&amp;", "&#0;", "&#xFFFF;", "<![CDATA[", "]]>", "<!--", "\u{0}"],
    )) {
        if let Ok(page) = quick_xml::de::from_str::<crate::store::listing::ListResult>(&xml) {
            for c in page.contents {
                let _ = c.into_meta(|c| c);
            }
        }
    }

    /// Keys with any characters come back out of a listing exactly (the XML escaping).
    #[test]
    fn listed_keys_round_trip(raw in camera_name()) {
        let key = format!("videos/door/{}", keys::safe_name(&raw));
        let xml = format!(
            "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>{}</Key><Size>1</Size></Contents></ListBucketResult>",
            quick_xml::escape::escape(key.as_str())
        );
        let page: crate::store::listing::ListResult = quick_xml::de::from_str(&xml).unwrap();
        prop_assert_eq!(&page.contents[0].key, &key);
    }

    /// Multipart answers: the upload id, and the uploads to exactly one key.
    #[test]
    fn multipart_xml_never_panics(
        init in near("<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><UploadId>0004B9894A22E5B1888A1E29F823</UploadId></InitiateMultipartUploadResult>",
            &["<UploadId>", "</UploadId>", "&lt;", "<a/>"]),
        list in near("<ListMultipartUploadsResult><Upload><Key>a/b.mp4</Key><UploadId>1</UploadId></Upload><Upload><Key>a/b.mp4.r2</Key><UploadId>2</UploadId></Upload></ListMultipartUploadsResult>",
            &["<Upload>", "</Upload>", "<Key>", "</Key>", "&amp;"]),
    ) {
        let _ = crate::store::multipart::parse_upload_id(&init, "test");
        if let Ok(ids) = crate::store::multipart::parse_uploads(&list, "a/b.mp4", "test") {
            prop_assert!(ids.len() <= list.matches("<Upload>").count());
        }
    }

    /// Lifecycle configurations parse or fail; camvault's own rule, for any prefix, reads
    /// back after a merge with whatever was there.
    #[test]
    fn lifecycle_round_trips(
        xml in near("<LifecycleConfiguration><Rule><ID>other</ID><Filter><Prefix>logs/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>30</Days></Expiration></Rule></LifecycleConfiguration>",
            &["<Rule>", "</Rule>", "<ID>", "<Days>", "</Days>", "<Transition>", "<Prefix>", "&amp;", "camvault"]),
        prefix in "\\PC{0,30}",
        days in 1u32..5000,
    ) {
        let existing = crate::store::lifecycle::parse(&xml).unwrap_or_default();
        let ours = crate::store::lifecycle::camvault_rule(&prefix, days, "DeepColdArchive");
        let merged = crate::store::lifecycle::merge(&existing, &ours);
        let back = crate::store::lifecycle::parse(&merged).map_err(|e| TestCaseError::fail(format!("{e}: {merged}")))?;
        let mine: Vec<_> = back.iter().filter(|r| r.id == crate::store::lifecycle::RULE_ID).collect();
        prop_assert_eq!(mine.len(), 1, "{}", merged);
        prop_assert_eq!(&mine[0].prefix, &prefix);
        prop_assert_eq!(&mine[0].transitions, &vec![(days, "DeepColdArchive".to_string())]);
    }

    /// Error answers and the restore header, whatever a server or a proxy sends.
    #[test]
    fn store_errors_never_panic(
        body in near("<Error><Code>AccessDenied</Code><Message>no</Message><Region>eu-west-1</Region><RequestId>1</RequestId></Error>",
            &["<Code>", "</Code>", "InvalidObjectState", "NoSuchKey", "FileAlreadyExists", "&", "<"]),
        status in 100u16..600,
        restore in near("ongoing-request=\"false\", expiry-date=\"Fri, 21 Dec 2012 00:00:00 GMT\"", &["\"", ",", "=", "true"]),
    ) {
        let status = reqwest::StatusCode::from_u16(status).unwrap();
        let _ = crate::store::s3::explain(status, None, &body, "test", "s3:GetObject");
        let _ = crate::store::oss::explain(status, &body, "test");
        let _ = crate::store::parse_restore_header(&restore);
    }

    // ---- HTTP parameters (web/) ----

    /// A `Range` header is refused or gives a range inside the file.
    #[test]
    fn ranges_stay_inside_the_file(
        h in near("bytes=0-1023", &["-", ",", "bytes=", "18446744073709551615", "-0", " "]),
        len in any::<u64>(),
    ) {
        if let Ok(v) = axum::http::HeaderValue::from_str(&h) {
            if let Ok(Some((a, b))) = crate::web::media::parse_range(Some(&v), len) {
                prop_assert!(a <= b && b < len, "{h:?} in {len}: {a}-{b}");
            }
        }
    }

    /// Query strings of every JSON and media endpoint deserialize or are refused.
    #[test]
    fn queries_never_panic(q in near(
        "camera=door&date=2024-05-21&month=2024-05&from_ms=-9223372036854775808&to_ms=9223372036854775807&q=a%20b&zone=1&limit=10",
        &["&", "=", "%", "%FF", "+", "from_ms=", "to_ms=", "99999999999999999999", "-", "camera[]=", "\u{0}"],
    )) {
        if let Ok(uri) = format!("/x?{q}").parse::<axum::http::Uri>() {
            let _ = axum::extract::Query::<crate::web::api::DayQuery>::try_from_uri(&uri);
            let _ = axum::extract::Query::<crate::web::api::MonthQuery>::try_from_uri(&uri);
            let _ = axum::extract::Query::<crate::web::api::SearchQuery>::try_from_uri(&uri);
            let _ = axum::extract::Query::<crate::web::media::ExportQuery>::try_from_uri(&uri);
        }
    }
}
