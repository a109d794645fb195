//! `camvault lifecycle apply` with mirrors (issue 21): each s3/oss mirror's bucket gets
//! its own plan (`[store.mirror.tiering]`, else `[tiering]`) by the same code as the main
//! store's — merged with the bucket's other rules, which are kept; refused on a bucket that
//! cannot hold the class; read back. A read-only mirror is never written; a mirror that is
//! away or refuses is reported and the others still get their rules (exit 1). The rules
//! are read back from the servers themselves (moto through boto3, the OSS test server's
//! stored lifecycle), never through camvault.

mod common;

use common::oss::{server_of, writes, Server};
use common::s3::{BUCKET, S3};
use common::*;

const OSS_KEY: &str = "access_key_id = LTAI5tCamvaultTest\naccess_key_secret = camvault-test-secret\n";

fn oss_mirror(name: &str, bucket: &str, region: &str, port: u16, extra: &str) -> String {
    format!(
        "[[store.mirror]]\nname = \"{name}\"\nkind = \"oss\"\ncredentials = \"same-as-primary\"\n{extra}\n[store.mirror.oss]\n\
         bucket = \"{bucket}\"\nregion = \"{region}\"\nendpoint = \"http://127.0.0.1:{port}\"\ncname = true\n"
    )
}

fn lifecycle_xml(srv: &Server) -> Option<String> {
    std::fs::read_to_string(srv.data.path().join("lifecycle.xml")).ok()
}

/// The `<Rule>`s of a stored lifecycle whose ID is camvault's.
fn camvault_rules(xml: &str) -> Vec<&str> {
    xml.split("<Rule>")
        .skip(1)
        .filter(|r| r.contains("<ID>camvault"))
        .collect()
}

/// The OSS test server as main store and four mirrors: "shanghai" (its own plan:
/// ColdArchive after 60 days, the bucket already holding its owner's rule), "zrs" (a
/// zone-redundant bucket, which cannot hold Deep Cold Archive), "away" (nothing listens)
/// and "replica" (read-only). Each bucket ends up with what its own plan says, or nothing.
#[test]
fn oss_mirrors_get_their_own_rules_and_one_away_stops_none() {
    needs!(PYTHON);
    let main = server_of("cam-archive", &[]);
    let sh = server_of("cam-copy", &["--region", "cn-shanghai"]);
    let zrs = server_of("cam-zrs", &["--region", "cn-hangzhou"]);
    let replica = server_of("cam-replica", &["--region", "cn-shenzhen"]);
    std::fs::write(zrs.data.path().join("bucket.json"), r#"{"redundancy": "ZRS"}"#).unwrap();
    let owner = "<Rule><ID>owner: logs to IA</ID><Prefix>logs/</Prefix><Status>Enabled</Status><Transition><Days>10</Days><StorageClass>IA</StorageClass></Transition></Rule>";
    std::fs::write(
        sh.data.path().join("lifecycle.xml"),
        format!("<LifecycleConfiguration>{owner}</LifecycleConfiguration>"),
    )
    .unwrap();
    let mirrors = [
        oss_mirror("shanghai", "cam-copy", "cn-shanghai", sh.port, ""),
        "[store.mirror.tiering]\ntransition_days = 60\nstorage_class = \"ColdArchive\"\n".to_string(),
        oss_mirror("zrs", "cam-zrs", "cn-hangzhou", zrs.port, ""),
        oss_mirror("away", "cam-away", "cn-qingdao", free_port(), ""),
        oss_mirror(
            "replica",
            "cam-replica",
            "cn-shenzhen",
            replica.port,
            "read_only = true",
        ),
    ]
    .concat();
    let env = Env::new(
        1,
        &format!(
            "store.kind = \"oss\"\nstore.oss.bucket = \"cam-archive\"\nstore.oss.region = \"cn-beijing\"\n\
             store.oss.endpoint = \"http://127.0.0.1:{}\"\nstore.oss.cname = true\nstore.oss.credentials_file = \"oss.key\"\n\
             tiering.transition_days = 30\ntiering.storage_class = \"DeepColdArchive\"\nupload.retry_max_secs = 2\n{mirrors}",
            main.port
        ),
    );
    std::fs::write(env.root().join("oss.key"), OSS_KEY).unwrap();

    let out = env.run(&["lifecycle", "apply"]);
    let text = stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a mirror was away: {text}\n{}",
        stderr(&out)
    );
    for needle in [
        "applied: ",
        "mirror \"shanghai\": applied: ",
        "mirror \"shanghai\": 1 other rule(s) of the bucket kept unchanged.",
        "mirror \"zrs\": not applied: the bucket is zone-redundant (ZRS)",
        "mirror \"away\": not applied: ",
        "mirror \"replica\": read-only (a replication target): camvault never writes there",
    ] {
        assert!(text.contains(needle), "{needle:?} in:\n{text}");
    }

    // The main store: its plan, Deep Cold Archive after 30 days.
    let xml = lifecycle_xml(&main).expect("the main bucket has rules");
    let ours = camvault_rules(&xml);
    assert!(!ours.is_empty(), "{xml}");
    for r in &ours {
        assert!(
            r.contains("<Days>30</Days>") && r.contains("<StorageClass>DeepColdArchive</StorageClass>"),
            "{r}"
        );
        assert!(!r.contains("Expiration"), "never a rule that deletes: {r}");
    }
    // The Shanghai mirror: its own plan, next to its owner's rule kept byte for byte.
    let xml = lifecycle_xml(&sh).expect("the mirror bucket has rules");
    assert!(xml.contains(owner), "the owner's rule byte for byte: {xml}");
    let ours = camvault_rules(&xml);
    assert!(!ours.is_empty(), "{xml}");
    for r in &ours {
        assert!(
            r.contains("<Days>60</Days>") && r.contains("<StorageClass>ColdArchive</StorageClass>"),
            "the mirror's plan, not the main store's: {r}"
        );
        assert!(!r.contains("Expiration"), "never a rule that deletes: {r}");
    }
    assert_eq!(lifecycle_xml(&zrs), None, "nothing written to the ZRS bucket");
    assert!(writes(&zrs).is_empty(), "{:?}", writes(&zrs));
    assert_eq!(lifecycle_xml(&replica), None);
    assert!(
        writes(&replica).is_empty(),
        "the read-only mirror was written: {:?}",
        writes(&replica)
    );

    // Again: already in place where it was applied, nothing written there again.
    let (main_writes, sh_writes) = (writes(&main).len(), writes(&sh).len());
    let text = stdout(&env.run(&["lifecycle", "apply"]));
    assert!(
        text.starts_with("already in place") && text.contains("mirror \"shanghai\": already in place"),
        "{text}"
    );
    assert_eq!(
        (writes(&main).len(), writes(&sh).len()),
        (main_writes, sh_writes),
        "nothing rewritten"
    );
    // And `lifecycle check` agrees about the mirror it applied.
    let text = stdout(&env.run(&["lifecycle", "check"]));
    assert!(
        text.contains("ok: mirror \"shanghai\": every prefix holding recordings is under a lifecycle rule to ColdArchive after 60 days"),
        "{text}"
    );
}

/// moto as main store, a second bucket on it as mirror "copy" with its own plan
/// (ColdArchive, S3's GLACIER, after 90 days) and an owner's rule, and mirror "gone"
/// whose bucket does not exist (the server refuses): the main bucket and "copy" get
/// their rules (read back with boto3), "gone" is reported, exit 1.
#[test]
fn moto_mirror_bucket_gets_its_own_rules() {
    needs!(PYTHON);
    let s3 = S3::start("");
    s3.tool(&["create", "cam-copy"]);
    let owner = serde_json::json!({
        "ID": "owner: logs to IA",
        "Filter": {"Prefix": "logs/"},
        "Status": "Enabled",
        "Transitions": [{"Days": 30, "StorageClass": "STANDARD_IA"}]
    });
    s3.tool(&[
        "put-lifecycle",
        "cam-copy",
        &serde_json::json!({"Rules": [owner.clone()]}).to_string(),
    ]);
    let mirror = |name: &str, bucket: &str, extra: &str| {
        format!(
            "[[store.mirror]]\nname = \"{name}\"\nkind = \"s3\"\ncredentials = \"same-as-primary\"\n{extra}[store.mirror.s3]\n\
             bucket = \"{bucket}\"\nregion = \"us-east-1\"\nendpoint = \"http://127.0.0.1:{}\"\npath_style = true\n",
            s3.port
        )
    };
    let env = s3.env(&format!(
        "tiering.transition_days = 30\ntiering.storage_class = \"DeepColdArchive\"\n{}{}",
        mirror("copy", "cam-copy", "")
            + "[store.mirror.tiering]\ntransition_days = 90\nstorage_class = \"ColdArchive\"\n",
        mirror("gone", "cam-gone", "")
    ));
    let out = env.run(&["lifecycle", "apply"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}\n{}", stderr(&out));
    assert!(text.contains("mirror \"copy\": applied: "), "{text}");
    assert!(text.contains("mirror \"gone\": not applied: "), "{text}");

    let rules = |bucket: &str| -> Vec<serde_json::Value> {
        serde_json::from_str(&s3.tool(&["get-lifecycle", bucket])).unwrap()
    };
    let ours = |rules: &[serde_json::Value]| -> Vec<serde_json::Value> {
        rules
            .iter()
            .filter(|r| r["ID"].as_str().unwrap().starts_with("camvault"))
            .cloned()
            .collect()
    };
    let main = rules(BUCKET);
    assert!(!ours(&main).is_empty(), "{main:#?}");
    for r in ours(&main) {
        assert_eq!(
            r["Transitions"],
            serde_json::json!([{"Days": 30, "StorageClass": "DEEP_ARCHIVE"}]),
            "{r:#}"
        );
        assert!(r.get("Expiration").is_none(), "{r:#}");
    }
    let copy = rules("cam-copy");
    assert_eq!(copy[0], owner, "the owner's rule kept as it was: {copy:#?}");
    assert!(!ours(&copy).is_empty(), "{copy:#?}");
    assert_eq!(ours(&copy).len() + 1, copy.len(), "{copy:#?}");
    for r in ours(&copy) {
        assert_eq!(
            r["Transitions"],
            serde_json::json!([{"Days": 90, "StorageClass": "GLACIER"}]),
            "the mirror's own plan: {r:#}"
        );
        assert!(r.get("Expiration").is_none(), "{r:#}");
    }
}
