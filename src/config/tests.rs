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
            ("bogus = 1\n", "bogus"),
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
        let c =
            Config::parse("[cameras.\"78:DF:72:A1:B2:C3\"]\nname = \"door\"\ntimezone = \"Asia/Shanghai\"\n").unwrap();
        let cam = c.camera(Some("78df72a1b2c3"), None);
        assert_eq!((cam.id.as_str(), cam.tz_name.as_str()), ("door", "Asia/Shanghai"));
        assert_eq!(c.camera(Some("001122334455"), None).id, "001122334455");
        assert_eq!(c.camera(None, Some("my garage")).id, "my_garage");
        assert_eq!(c.camera(None, None).id, "unsorted");
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
