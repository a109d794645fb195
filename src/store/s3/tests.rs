use super::*;
use crate::store::lifecycle;

fn store(extra: &str) -> S3Store {
    let endpoint = if extra.contains("endpoint") {
        ""
    } else {
        "endpoint = \"https://s3.amazonaws.com\"\n"
    };
    let cfg = Config::parse(&format!(
        "[store]\nkind = \"s3\"\n[store.s3]\nbucket = \"examplebucket\"\nregion = \"us-east-1\"\n{endpoint}\
         access_key_id = \"AKIAIOSFODNN7EXAMPLE\"\n\
         secret_access_key = \"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\"\n{extra}"
    ))
    .unwrap();
    S3Store::new(&cfg).unwrap()
}

/// AWS's published SigV4 example for query-string authentication ("Authenticating
/// Requests: Using Query Parameters"): GET /test.txt from examplebucket, 24 May 2013,
/// valid for 86400 s, with the documentation's example key.
#[test]
fn sigv4_matches_aws_published_example() {
    let s = store("");
    let t = jiff::Timestamp::from_second(1_369_353_600).unwrap();
    let url = s
        .signed_url(t, 86_400, &Method::GET, Some("test.txt"), &[], &[])
        .unwrap();
    assert_eq!(
        url.as_str(),
        "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256\
         &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
         &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\
         &X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
    );
    // Path style puts the bucket in the path, and signing headers changes the signature.
    let p = store("path_style = true");
    let u = p
        .signed_url(t, 86_400, &Method::GET, Some("test.txt"), &[], &[])
        .unwrap();
    assert!(
        u.as_str()
            .starts_with("https://s3.amazonaws.com/examplebucket/test.txt?"),
        "{u}"
    );
    let h = s
        .signed_url(
            t,
            86_400,
            &Method::PUT,
            Some("test.txt"),
            &[],
            &[("if-none-match", "*")],
        )
        .unwrap();
    assert!(h.as_str().contains("X-Amz-SignedHeaders=host%3Bif-none-match"), "{h}");
}

#[test]
fn keys_are_encoded_and_odd_ones_refused() {
    let s = store("path_style = true");
    let t = jiff::Timestamp::from_second(1_369_353_600).unwrap();
    let u = s
        .signed_url(t, 60, &Method::GET, Some("garage/夜间 录像 #1.mp4"), &[], &[])
        .unwrap();
    assert!(
        u.path()
            .ends_with("/garage/%E5%A4%9C%E9%97%B4%20%E5%BD%95%E5%83%8F%20%231.mp4"),
        "{}",
        u.path()
    );
    for bad in ["", "/abs", "a/../b", "./a"] {
        let e = s.signed_url(t, 60, &Method::GET, Some(bad), &[], &[]).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Refused, "{bad}");
    }
}

#[test]
fn secrets_stay_out_of_descriptions() {
    let s = store("session_token = \"FQoGZXIvYXdzEXAMPLETOKEN\"");
    let d = s.describe();
    assert!(
        d.contains("examplebucket") && d.contains("us-east-1") && d.contains("virtual-host"),
        "{d}"
    );
    assert!(!d.contains("wJalr") && !d.contains("FQoG"), "{d}");
}

#[test]
fn class_names_map_both_ways() {
    let pairs = [
        ("Standard", "STANDARD"),
        ("IA", "STANDARD_IA"),
        ("Archive", "GLACIER_IR"),
        ("ColdArchive", "GLACIER"),
        ("DeepColdArchive", "DEEP_ARCHIVE"),
    ];
    for (ours, theirs) in pairs {
        assert_eq!(to_s3_class(ours), theirs);
        assert_eq!(from_s3_class(theirs), ours);
        assert_eq!(from_s3_class(to_s3_class(ours)), ours);
    }
    // Classes camvault has no name for pass through untouched.
    assert_eq!(from_s3_class("INTELLIGENT_TIERING"), "INTELLIGENT_TIERING");
    assert_eq!(to_s3_class("ONEZONE_IA"), "ONEZONE_IA");
    // The archive test sees camvault's names.
    assert!(crate::store::is_archive_class(from_s3_class("DEEP_ARCHIVE")));
    assert!(crate::store::is_archive_class(from_s3_class("GLACIER")));
    assert!(!crate::store::is_archive_class(from_s3_class("STANDARD_IA")));
    // By S3's names too: Glacier Instant Retrieval is read without a restore.
    assert!(crate::store::is_archive_class("DEEP_ARCHIVE") && crate::store::is_archive_class("GLACIER"));
    assert!(!crate::store::is_archive_class("GLACIER_IR") && !crate::store::is_archive_class("STANDARD"));
    assert!(!crate::store::is_archive_class("INTELLIGENT_TIERING"));
}

fn err(status: u16, region: Option<&str>, body: &str) -> StoreError {
    explain(
        StatusCode::from_u16(status).unwrap(),
        region,
        body,
        "PUT videos/a.mp4",
        "s3:PutObject",
    )
}

/// Error documents as AWS's S3 reference shows them.
#[test]
fn errors_say_what_to_do() {
    let e = err(
        400,
        None,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AuthorizationHeaderMalformed</Code><Message>The authorization header is malformed; the region 'us-east-1' is wrong; expecting 'eu-central-1'</Message><Region>eu-central-1</Region><RequestId>656c76696e6727732072657175657374</RequestId><HostId>Uuag1LuByRx9e6j5Onimru9pO4ZVKnJ2Qz7/C1NPcfTWAtRPfTaOFg==</HostId></Error>",
    );
    assert_eq!(e.kind, ErrorKind::Refused);
    assert!(
        e.message.contains("`store.s3.region = \"eu-central-1\"`"),
        "{}",
        e.message
    );
    assert!(
        e.message.contains("RequestId 656c76696e6727732072657175657374"),
        "{}",
        e.message
    );

    let e = err(
        301,
        None,
        "<Error><Code>PermanentRedirect</Code><Message>The bucket you are attempting to access must be addressed using the specified endpoint. Please send all future requests to this endpoint.</Message><Endpoint>examplebucket.s3.eu-west-1.amazonaws.com</Endpoint><Bucket>examplebucket</Bucket><RequestId>1</RequestId></Error>",
    );
    assert!(
        e.message.contains("examplebucket.s3.eu-west-1.amazonaws.com"),
        "{}",
        e.message
    );
    assert!(e.message.contains("store.s3.region"), "{}", e.message);

    let e = err(
        403,
        None,
        "<Error><Code>RequestTimeTooSkewed</Code><Message>The difference between the request time and the current time is too large.</Message><RequestTime>20130524T000000Z</RequestTime><ServerTime>2013-05-24T01:00:00Z</ServerTime><MaxAllowedSkewMilliseconds>900000</MaxAllowedSkewMilliseconds></Error>",
    );
    assert!(
        e.message.contains("clock") && e.message.contains("NTP"),
        "{}",
        e.message
    );

    let e = err(
        403,
        None,
        "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
    );
    assert!(
        e.message.contains("clock"),
        "a presigned request refused for its time: {}",
        e.message
    );

    let e = err(
        403,
        None,
        "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>",
    );
    assert_eq!(e.kind, ErrorKind::Refused);
    assert!(e.message.contains("allow s3:PutObject"), "{}", e.message);

    let e = err(404, None, "<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message><BucketName>cams</BucketName></Error>");
    assert!(e.message.contains("`store.s3.bucket`"), "{}", e.message);

    let e = err(403, None, "<Error><Code>InvalidObjectState</Code><Message>The operation is not valid for the object's storage class</Message><StorageClass>DEEP_ARCHIVE</StorageClass></Error>");
    assert_eq!(e.kind, ErrorKind::Archived);
    assert!(e.message.contains("restore it first"), "{}", e.message);

    let e = err(412, None, "<Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message><Condition>If-None-Match</Condition></Error>");
    assert_eq!(e.kind, ErrorKind::AlreadyExists);

    let e = err(403, None, "<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match the signature you provided.</Message></Error>");
    assert!(e.message.contains("secret access key is wrong"), "{}", e.message);

    for (status, body) in [
        (503, "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"),
        (500, "<Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message></Error>"),
        (502, "<html>bad gateway</html>"),
        (400, "<Error><Code>BadDigest</Code><Message>The Content-MD5 you specified did not match what we received.</Message></Error>"),
    ] {
        assert_eq!(err(status, None, body).kind, ErrorKind::Transient, "{status} {body}");
    }

    // HEAD answers have no body: the status and x-amz-bucket-region must do.
    let e = err(301, Some("ap-southeast-2"), "");
    assert!(
        e.message.contains("`store.s3.region = \"ap-southeast-2\"`"),
        "{}",
        e.message
    );
    let e = err(403, None, "");
    assert!(e.message.contains("allow s3:PutObject"), "{}", e.message);
}

#[test]
fn network_errors_never_show_the_signed_url() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let e = rt.block_on(async {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let s = store(&format!("endpoint = \"http://127.0.0.1:{port}\"\npath_style = true"));
        s.check().await.unwrap_err()
    });
    assert_eq!(e.kind, ErrorKind::Transient);
    assert!(
        !e.message.contains("X-Amz-") && !e.message.contains("AKIA"),
        "{}",
        e.message
    );
}

/// Shaped like the examples in AWS's PutBucketLifecycleConfiguration reference.
const S3_LIFECYCLE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<LifecycleConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Rule>
    <ID>logs: IA then gone</ID>
    <Filter><Prefix>logs/</Prefix></Filter>
    <Status>Enabled</Status>
    <Transition><Days>30</Days><StorageClass>STANDARD_IA</StorageClass></Transition>
    <Transition><Days>90</Days><StorageClass>GLACIER</StorageClass></Transition>
    <Expiration><Days>365</Days></Expiration>
  </Rule>
  <Rule>
    <ID>tiering</ID>
    <Filter><And><Prefix>other/</Prefix><Tag><Key>a&amp;b</Key><Value>1</Value></Tag></And></Filter>
    <Status>Disabled</Status>
    <Transition><Days>1</Days><StorageClass>INTELLIGENT_TIERING</StorageClass></Transition>
  </Rule>
</LifecycleConfiguration>"#;

#[test]
fn lifecycle_speaks_s3_to_the_store_and_camvault_names_to_the_rest() {
    let ours = lifecycle::camvault_rule("videos/", 30, "DeepColdArchive");
    // What the store has, as camvault reads it: its class names.
    let read = lifecycle_from_s3(S3_LIFECYCLE);
    let rules = lifecycle::parse(&read).unwrap();
    assert_eq!(rules.len(), 2);
    assert_eq!(
        rules[0].transitions,
        vec![(30, "IA".to_string()), (90, "ColdArchive".to_string())]
    );
    assert_eq!(rules[1].transitions, vec![(1, "INTELLIGENT_TIERING".to_string())]);
    assert_eq!(rules[0].prefix, "logs/");
    assert!(lifecycle::check(&rules, &ours)
        .unwrap_err()
        .contains("no camvault rule"));

    // What goes back: S3 names, camvault's rule with a Filter, the others as they were.
    let sent = lifecycle_to_s3(&lifecycle::merge(&rules, &ours));
    assert!(
        sent.contains("<Rule><ID>camvault</ID><Filter><Prefix>videos/</Prefix></Filter><Status>Enabled</Status><Transition><Days>30</Days><StorageClass>DEEP_ARCHIVE</StorageClass></Transition></Rule>"),
        "{sent}"
    );
    let original = lifecycle::parse(S3_LIFECYCLE).unwrap();
    for r in &original {
        assert!(sent.contains(&r.xml), "kept byte for byte: {}\n{sent}", r.xml);
    }
    assert!(!sent.contains("DeepColdArchive") && !sent.contains(">IA<"), "{sent}");

    // Read back, the rule checks out against the config.
    let again = lifecycle::parse(&lifecycle_from_s3(&sent)).unwrap();
    assert_eq!(again.len(), 3);
    lifecycle::check(&again, &ours).unwrap();
}

#[test]
fn restore_request_body() {
    assert_eq!(
        restore_request_xml(3, RestoreTier::Bulk),
        "<RestoreRequest><Days>3</Days><GlacierJobParameters><Tier>Bulk</Tier></GlacierJobParameters></RestoreRequest>"
    );
}

#[test]
fn etags() {
    assert_eq!(
        etag_md5("\"9DD4E461268C8034F5C8564E155C67A6\"").as_deref(),
        Some("9dd4e461268c8034f5c8564e155c67a6")
    );
    assert_eq!(etag_md5("\"e09e4fd6265b36115fe3db32df945d84-2\""), None);
    let parts = [md5::Md5::digest(b"hello ").into(), md5::Md5::digest(b"world").into()];
    // As S3 computes it (checked with Python's hashlib).
    assert_eq!(multipart_etag(&parts), "e09e4fd6265b36115fe3db32df945d84-2");
}
