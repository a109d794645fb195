use super::*;

#[test]
fn template_parses_to_defaults() {
    let c = Config::parse(TEMPLATE).unwrap();
    assert_eq!(c.capture.settle_secs, 120);
    assert_eq!(c.store.key_template.as_str(), "videos/{camera}/{date}/{hour}/{file}");
    assert_eq!(c.cache.max_bytes, ByteSize(50 << 30));
}

#[test]
fn errors_name_the_key() {
    for (text, needle) in [
            ("[capture]\nsettle_sec = 3\n", "settle_sec"),
            ("[capture]\nsettle_secs = \"soon\"\n", "settle_secs"),
            ("[cache]\nmax_bytes = \"12 parsecs\"\n", "max_bytes"),
            ("[cameras.zzz]\nname = \"x\"\n", "cameras.zzz"),
            (
                "[cameras.78df72a1b2c3]\ntimezone = \"Mars/Olympus\"\n",
                "cameras.78df72a1b2c3.timezone",
            ),
            ("[store]\nkey_template = \"videos/{nope}\"\n", "store.key_template"),
            ("[store]\nkind = \"tape\"\n", "kind"),
            ("[upload]\nconcurrency = 0\n", "upload.concurrency"),
            (
                "[store]\nkind = \"s3\"\n[store.s3]\nbucket = \"cams\"\nchecksum = \"crc32\"\n",
                "store.s3.checksum",
            ),
            ("[store]\nkind = \"s3\"\n", "store.s3.bucket"),
            (
                "[store]\nkind = \"s3\"\n[store.s3]\nbucket = \"cams\"\nendpoint = \"nas:9000\"\n",
                "store.s3.endpoint",
            ),
            (
                "[store]\nkind = \"s3\"\n[store.s3]\nbucket = \"cams\"\npart_size_mb = 1\n",
                "store.s3.part_size_mb",
            ),
            (
                "[store]\nkind = \"oss\"\n[store.oss]\nbucket = \"cams\"\nregion = \"cn-beijing\"\npart_size_mb = 0\n",
                "store.oss.part_size_mb",
            ),
            (
                "[store]\nkind = \"oss\"\n[store.oss]\nbucket = \"cams\"\nregion = \"cn-beijing\"\npart_size_mb = 6000\n",
                "store.oss.part_size_mb",
            ),
            (
                "[store]\nkind = \"oss\"\n[store.oss]\nbucket = \"cams\"\nregion = \"cn-beijing\"\nmultipart_threshold_mb = 0\n",
                "store.oss.multipart_threshold_mb",
            ),
            ("[store.s3]\nsecret_key = \"x\"\n", "secret_key"),
            ("[store.oss]\nsignature = \"v2\"\n", "`store.oss.signature` = \"v2\": use \"v4\""),
            ("[store.oss]\nsignature = 4\n", "signature"),
            (
                "[store]\nkind = \"s3\"\n[store.s3]\nbucket = \"cams\"\nendpoint = \"http://192.168.1.5:9000\"\n",
                "store.s3.path_style",
            ),
            ("[restore]\nmirror_wait_days = 400\n", "`restore.mirror_wait_days` = 400: at most 365"),
            ("bogus = 1\n", "bogus"),
            ("[log]\nlevel = \"inof\"\n", "`log.level` = \"inof\": not a level; use off, error, warn, info, debug or trace"),
            ("[log]\nlevel = \"camvault=loud\"\n", "`log.level` = \"camvault=loud\""),
            (
                "[store.s3]\nendpoint = \"ftp://nas.lan\"\n",
                "`store.s3.endpoint` = \"ftp://nas.lan\": the scheme \"ftp\" is not http or https: write the store's URL",
            ),
            (
                "[store.oss]\nendpoint = \"https://videos.example.com/clips\"\n",
                "`store.oss.endpoint` = \"https://videos.example.com/clips\": the path \"/clips\" has no place in an endpoint",
            ),
        ] {
            let err = format!("{:#}", Config::parse(text).unwrap_err());
            assert!(err.contains(needle), "{text:?} -> {err}");
        }
}

#[test]
fn s3_section_of_the_template_is_the_default() {
    let c = Config::parse(TEMPLATE).unwrap();
    let (t, d) = (&c.store.s3, S3Store::default());
    assert_eq!(
        (
            &t.region,
            t.path_style,
            t.timeout_secs,
            t.multipart_threshold_mb,
            t.part_size_mb
        ),
        (
            &d.region,
            d.path_style,
            d.timeout_secs,
            d.multipart_threshold_mb,
            d.part_size_mb
        )
    );
    // Chosen but not filled in: the error names the key; filled in, it parses.
    let s3 = TEMPLATE.replace("kind = \"fs\"", "kind = \"s3\"");
    let err = format!("{:#}", Config::parse(&s3).unwrap_err());
    assert!(err.contains("`store.s3.bucket`"), "{err}");
    let s3 = s3.replace(
        "region = \"us-east-1\"\nbucket = \"\"",
        "region = \"us-east-1\"\nbucket = \"cams\"",
    );
    assert_eq!(Config::parse(&s3).unwrap().store.s3.bucket, "cams");
}

#[test]
fn oss_section_of_the_template_is_the_default() {
    let c = Config::parse(TEMPLATE).unwrap();
    let (t, d) = (&c.store.oss, OssStore::default());
    assert_eq!(
        (t.timeout_secs, t.multipart_threshold_mb, t.part_size_mb, t.signature),
        (d.timeout_secs, d.multipart_threshold_mb, d.part_size_mb, d.signature)
    );
    assert_eq!(d.signature, OssSignature::V4, "V4 unless V1 is chosen");
    let v1 = Config::parse("[store.oss]\nsignature = \"v1\"\n").unwrap();
    assert_eq!(v1.store.oss.signature, OssSignature::V1);
}

#[test]
fn sizes() {
    assert_eq!(ByteSize::parse("50 GiB").unwrap(), ByteSize(50 << 30));
    assert_eq!(ByteSize::parse("2MB").unwrap(), ByteSize(2_000_000));
    assert_eq!(ByteSize::parse("1.5 KiB").unwrap(), ByteSize(1536));
    assert!(ByteSize::parse("-1").is_err());
    assert!(ByteSize::parse("").is_err());
}

#[test]
fn camera_lookup() {
    let c = Config::parse("[cameras.\"78:DF:72:A1:B2:C3\"]\nname = \"door\"\ntimezone = \"Asia/Shanghai\"\n").unwrap();
    let cam = c.camera(Some("78df72a1b2c3"), None);
    assert_eq!((cam.id.as_str(), cam.tz_name.as_str()), ("door", "Asia/Shanghai"));
    assert_eq!(c.camera(Some("001122334455"), None).id, "001122334455");
    assert_eq!(c.camera(None, Some("my garage")).id, "my_garage");
    assert_eq!(c.camera(None, None).id, "unsorted");
}

/// Each typed value: a bad one is refused at load with its key, what was written and
/// what to write instead.
#[test]
fn typed_values_name_their_key() {
    for (text, needle) in [
            (
                "[store]\nstorage_class = \"DeepColdArchive\"\n",
                "`store.storage_class` = \"DeepColdArchive\": upload in Standard",
            ),
            (
                "[tiering]\nstorage_class = \"GLACIER\"\n",
                "`tiering.storage_class` = \"GLACIER\": use IA, Archive, ColdArchive or DeepColdArchive",
            ),
            (
                "[tiering]\nstorage_class = \"Standard\"\n",
                "`tiering.storage_class` = \"Standard\": use IA",
            ),
            (
                "[store.s3]\nobject_lock_mode = \"FOREVER\"\n",
                "`store.s3.object_lock_mode` = \"FOREVER\": COMPLIANCE or GOVERNANCE",
            ),
            (
                "[store.s3]\nchecksum = \"crc32\"\n",
                "`store.s3.checksum` = \"crc32\": auto, crc64nvme, crc32c, sha256 or md5",
            ),
            (
                "[alerts]\nquiet_hours = \"22-7\"\n",
                "`alerts.quiet_hours` = \"22-7\": write \"22:00-07:00\", or \"\" for none",
            ),
            (
                "[[upload.bandwidth_schedule]]\nfrom = \"25:00\"\nto = \"06:00\"\nlimit = 0\n",
                "`upload.bandwidth_schedule.from` = \"25:00\": hour 0-24",
            ),
            (
                "[[upload.bandwidth_schedule]]\nfrom = \"01:00\"\nto = \"6\"\nlimit = 0\n",
                "`upload.bandwidth_schedule.to` = \"6\": expected HH:MM",
            ),
            (
                "[store]\nkey_template = \"videos/{nope}/{file}\"\n",
                "`store.key_template` = \"videos/{nope}/{file}\": unknown placeholder {nope}",
            ),
            (
                "[store]\nkey_template = \"catalog/{file}\"\n",
                "`store.key_template` = \"catalog/{file}\": must not start with a prefix camvault reserves",
            ),
            (
                "[[alerts.channel]]\nname = \"mail\"\nkind = \"email\"\nurl = \"https://mail.example.com\"\nfrom = \"a@example.com\"\nto = [\"b@example.com\"]\n",
                "`alerts.channel[0].url` (mail): unknown scheme \"https\"",
            ),
            (
                "[capture]\ntimezone = \"Mars/Olympus\"\n",
                "`capture.timezone`: \"Mars/Olympus\" is not a known IANA time zone",
            ),
            (
                "[http]\nlisten = \"localhost\"\n",
                "`http.listen` = \"localhost\": write an address and port such as \"127.0.0.1:8640\"",
            ),
            (
                "[samba]\nforce_user = \"root\"\n",
                "`samba.force_user` = \"root\": the camera's share must never act as root",
            ),
            (
                "[http]\npassword_hash = \"plain text\"\n",
                "`http.password_hash` is not an Argon2 hash",
            ),
        ] {
            let err = format!("{:#}", Config::parse(text).unwrap_err());
            assert!(err.contains(needle), "{text:?} -> {err}");
        }
}

/// Each typed value as the rest of camvault reads it, from its config spelling.
#[test]
fn typed_values_parse() {
    let c = Config::parse(
            "[capture]\ntimezone = \"Asia/Shanghai\"\n\
             [[upload.bandwidth_schedule]]\nfrom = \"23:30\"\nto = \"6:00\"\nlimit = \"1 MiB\"\n\
             [store]\nstorage_class = \"STANDARD\"\nkey_template = \"cams/{camera}/{file}\"\n\
             [store.s3]\nobject_lock_mode = \"GOVERNANCE\"\nchecksum = \"md5\"\n\
             [tiering]\nstorage_class = \"ColdArchive\"\n\
             [http]\nlisten = \"[::1]:9000\"\n\
             [alerts]\nquiet_hours = \"22:00-07:00\"\n\
             [[alerts.channel]]\nname = \"mail\"\nkind = \"email\"\nurl = \"smtp://mail.example.com\"\nfrom = \"a@example.com\"\nto = [\"b@example.com\"]\n\
             [cameras.78df72a1b2c3]\ntimezone = \"Europe/Berlin\"\n",
        )
        .unwrap();
    assert_eq!(c.capture.timezone.as_ref().map(Zone::name), Some("Asia/Shanghai"));
    let w = c.upload.bandwidth_schedule[0].window();
    assert_eq!((w.from.minutes(), w.to.minutes()), (23 * 60 + 30, 6 * 60));
    assert!(w.contains(0) && !w.contains(12 * 60));
    assert_eq!(
        c.store.storage_class,
        StorageClass::Standard,
        "S3's spelling is read as Standard"
    );
    assert_eq!(c.store.key_template.prefix(), "cams/");
    assert_eq!(c.store.s3.object_lock_mode, LockMode::Governance);
    assert_eq!(c.store.s3.object_lock_mode.as_str(), "GOVERNANCE");
    assert_eq!(c.store.s3.checksum, Checksum::Md5);
    assert!(c.tiering.storage_class.is_archive());
    assert_eq!(c.tiering.storage_class.s3_name(), "GLACIER");
    assert!(c.http.listen.ip().is_loopback());
    assert!(c.alerts.quiet_hours.is_some_and(|q| q.contains(23 * 60)));
    let email = c.alerts.channel[0].email.as_ref().unwrap();
    assert_eq!(email.from.email.to_string(), "a@example.com");
    assert_eq!(email.to.len(), 1);
    let smtp = &email.relay;
    assert_eq!(
        (smtp.host.as_str(), smtp.port, smtp.security),
        ("mail.example.com", 587, Security::StartTls)
    );
    let cam = c.camera(Some("78df72a1b2c3"), None);
    assert_eq!(cam.tz_name, "Europe/Berlin");
    assert_eq!(
        c.zone_of(Some("78df72a1b2c3")),
        jiff::tz::TimeZone::get("Europe/Berlin").unwrap()
    );
    // The defaults are the same types' defaults.
    let d = Config::parse("").unwrap();
    assert_eq!(d.store.s3.checksum, Checksum::Auto);
    assert_eq!(d.store.s3.object_lock_mode, LockMode::Compliance);
    assert_eq!(d.tiering.storage_class, StorageClass::DeepColdArchive);
    assert_eq!(d.alerts.quiet_hours, None);
    assert_eq!(d.http.listen.to_string(), "127.0.0.1:8640");
    assert_eq!(d.store.key_template.as_str(), store::DEFAULT_KEY_TEMPLATE);
}

mod fuzz {
    use super::*;

    proptest::proptest! {
        /// Arbitrary text never panics the config loader: it parses or names a problem.
        #[test]
        fn config_parse_never_panics(text in "(\\PC|\n|\\[|\\]|=|\"){0,200}") {
            let _ = Config::parse(&text);
        }

        #[test]
        fn sizes_never_panic(s in "\\PC{0,20}") {
            let _ = ByteSize::parse(&s);
        }
    }
}

mod round_trip {
    use super::*;

    /// A valid Argon2 hash, for configs that listen off loopback.
    const HASH: &str =
        "$argon2id$v=19$m=19456,t=2,p=1$xjLMOyZY3nMAhG4X1Ldlbw$Ot2TsKNo8iS6Pu/Xq/0IZqsDtDGO+tc9yxGODsRaRcU";

    proptest::proptest! {
        /// A config's typed values, written out in their config spelling and loaded
        /// again, come back equal: nothing is lost or changed between the file and the types.
        #[test]
        fn typed_values_round_trip(
            class in proptest::sample::select(&StorageClass::ALL[1..]),
            checksum in proptest::sample::select(&Checksum::ALL[..]),
            lock in proptest::sample::select(&[LockMode::Compliance, LockMode::Governance][..]),
            signature in proptest::sample::select(&[OssSignature::V4, OssSignature::V1][..]),
            quiet in proptest::option::of((0u32..=1440, 0u32..=1440)),
            windows in proptest::collection::vec((0u32..=1440, 0u32..=1440, 0u64..1 << 40), 0..3),
            prefix in "v[a-z0-9_-]{0,7}",
            vars in proptest::sample::subsequence(
                vec!["{camera}", "{mac}", "{channel}", "{date}", "{hour}", "{year}", "{month}", "{day}"],
                0..=8,
            ),
            security in proptest::sample::select(&["smtps", "smtp", "smtp+plain"][..]),
            host in "[a-z][a-z0-9-]{0,10}(\\.[a-z]{2,5}){0,2}",
            port in 1u16..,
            listen in (proptest::array::uniform4(0u8..), 1u16..),
            zone in proptest::sample::select(&["Asia/Shanghai", "Europe/Berlin", "UTC", "America/New_York"][..]),
        ) {
            let hhmm = |m: u32| TimeOfDay::from_minutes(m).unwrap();
            let quiet = quiet.map(|(a, b)| TimeWindow { from: hhmm(a), to: hhmm(b) });
            let template = format!("{prefix}/{}{{file}}", vars.iter().map(|v| format!("{v}/")).collect::<String>());
            let listen = std::net::SocketAddr::from((listen.0, listen.1));
            let mut text = format!(
                "[capture]\ntimezone = \"{zone}\"\n\
                 [store]\nkey_template = \"{template}\"\n\
                 [store.oss]\nsignature = \"{signature}\"\n\
                 [store.s3]\nchecksum = \"{checksum}\"\nobject_lock_mode = \"{lock}\"\n\
                 [tiering]\nstorage_class = \"{class}\"\n\
                 [http]\nlisten = \"{listen}\"\npassword_hash = \"{HASH}\"\n\
                 [alerts]\nquiet_hours = \"{}\"\n\
                 [[alerts.channel]]\nname = \"mail\"\nkind = \"email\"\nurl = \"{security}://{host}:{port}\"\n\
                 from = \"a@example.com\"\nto = [\"b@example.com\"]\n",
                quiet.map(|q| q.to_string()).unwrap_or_default(),
            );
            for (a, b, limit) in &windows {
                text.push_str(&format!(
                    "[[upload.bandwidth_schedule]]\nfrom = \"{}\"\nto = \"{}\"\nlimit = {limit}\n",
                    hhmm(*a),
                    hhmm(*b)
                ));
            }
            let c = Config::parse(&text)
                .map_err(|e| proptest::test_runner::TestCaseError::fail(format!("{e:#}\n{text}")))?;
            proptest::prop_assert_eq!(c.tiering.storage_class, class);
            proptest::prop_assert_eq!(c.store.s3.checksum, checksum);
            proptest::prop_assert_eq!(c.store.s3.object_lock_mode, lock);
            proptest::prop_assert_eq!(c.store.oss.signature, signature);
            proptest::prop_assert_eq!(c.alerts.quiet_hours, quiet);
            proptest::prop_assert_eq!(c.store.key_template.as_str(), template.as_str());
            proptest::prop_assert_eq!(c.store.key_template.prefix(), format!("{prefix}/"));
            proptest::prop_assert_eq!(c.http.listen, listen);
            proptest::prop_assert_eq!(c.capture.timezone.as_ref().map(|z| z.name()), Some(zone));
            let smtp = c.alerts.channel[0].email.clone().unwrap().relay;
            proptest::prop_assert_eq!((smtp.host.as_str(), smtp.port), (host.as_str(), port));
            proptest::prop_assert_eq!(smtp.to_string(), format!("{security}://{host}:{port}"));
            let got: Vec<_> = c
                .upload
                .bandwidth_schedule
                .iter()
                .map(|w| (w.from.minutes(), w.to.minutes(), w.limit.0))
                .collect();
            proptest::prop_assert_eq!(got, windows);
        }
    }
}

#[test]
fn log_levels_and_endpoints_are_typed_at_load() {
    use super::sections::LogLevel;
    let c = Config::parse("[log]\nlevel = \"DEBUG\"\n").unwrap();
    assert_eq!(c.log.level, LogLevel::Debug);
    let c = Config::parse("[log]\nlevel = \"camvault=debug,info\"\n").unwrap();
    assert_eq!(c.log.level.as_filter(), "camvault=debug,info");
    assert_eq!(Config::parse("").unwrap().log.level, LogLevel::Info);
    let c = Config::parse(
        "[store]\nkind = \"s3\"\n[store.s3]\nbucket = \"cams\"\npath_style = true\nendpoint = \"http://127.0.0.1:9000/\"\n",
    )
    .unwrap();
    assert_eq!(c.store.s3.endpoint.as_str(), "http://127.0.0.1:9000");
    let c = Config::parse("[store.oss]\nendpoint = \"oss-cn-beijing.aliyuncs.com\"\n").unwrap();
    assert_eq!(c.store.oss.endpoint.authority(), "oss-cn-beijing.aliyuncs.com");
}

#[test]
fn time_zones_read_from_their_file_are_jiffs() {
    let at = jiff::Timestamp::from_second(1_711_846_800).unwrap();
    for name in [
        "Asia/Shanghai",
        "Europe/Berlin",
        "America/St_Johns",
        "UTC",
        "europe/berlin",
    ] {
        let ours = super::time_zone(name).unwrap();
        let jiffs = jiff::tz::TimeZone::get(name).unwrap();
        assert_eq!(ours.iana_name(), jiffs.iana_name(), "{name}");
        for d in 0..400 {
            let t = at + jiff::SignedDuration::from_hours(d * 22);
            assert_eq!(ours.to_offset(t), jiffs.to_offset(t), "{name} {t}");
        }
    }
    assert!(super::time_zone("Mars/Olympus").is_err());
    assert!(super::time_zone("../../etc/passwd").is_err());
}
