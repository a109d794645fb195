//! An adoption whose listing is interrupted, in-process on any store: the same scenario on
//! `fs` and on moto (tests/migrate.rs, tests/s3.rs).
#![allow(dead_code)]

use std::sync::Arc;

use camvault::catalog::kv::ADOPT_LISTING;
use camvault::catalog::Catalog;
use camvault::cli::adopt::adopt_pages;
use camvault::config::Config;
use camvault::store::fault::{Fault, FaultStore, Op};
use camvault::store::{Backend, ErrorKind};

/// `keys` (sorted recordings, at least 7, nothing else) are in `store`; at 2 keys a page:
/// a HEAD of page 2 fails and then the listing of page 3 fails. The catalog keeps pages 1
/// and 2's readable rows and a position after page 1 (page 2 is not whole), and the error
/// names it; the rerun lists on from there (not from scratch), adds the rest, each key once,
/// and forgets the position.
pub async fn interrupted_listing_resumes(cfg: &Config, cat: &Catalog, store: Arc<dyn Backend>, keys: &[String]) {
    assert!(keys.len() >= 7);
    let faulty = FaultStore::new(store.clone(), 7);
    faulty.inject_at(Op::Head, Fault::Fail(ErrorKind::Transient), 3);
    faulty.inject_at(Op::List, Fault::Fail(ErrorKind::Transient), 3);
    let err = adopt_pages(cfg, cat, &faulty, "", false, 2)
        .await
        .unwrap_err()
        .to_string();
    assert_eq!((faulty.injected(Op::Head), faulty.injected(Op::List)), (1, 1), "{err}");
    assert!(
        err.contains("failed on page 3") && err.contains(&format!("it goes on after {:?}", keys[1])),
        "{err}"
    );
    assert_eq!(
        cat.all_keys().unwrap().len(),
        3,
        "page 1, and page 2 but the unreadable one"
    );
    let position = || cat.slot(&ADOPT_LISTING).unwrap().unwrap_or_default();
    assert_eq!(position().values().collect::<Vec<_>>(), [&keys[1]]);

    let counted = FaultStore::new(store, 8);
    let n = adopt_pages(cfg, cat, &counted, "", false, 2).await.unwrap();
    assert_eq!(n.resumed_after.as_ref(), Some(&keys[1]));
    assert_eq!(n.added as usize, keys.len() - 3, "{n:?}");
    assert_eq!(n.failed, 0);
    assert_eq!(
        counted.calls(Op::List) as usize,
        (keys.len() - 2).div_ceil(2),
        "listed on after page 1, not from scratch"
    );
    let mut got: Vec<String> = cat.all_keys().unwrap().into_iter().map(|(k, _, _)| k).collect();
    got.sort();
    assert_eq!(got, keys, "every recording once");
    assert!(position().is_empty(), "a finished listing forgets its position");
}

/// The owner's bucket has a disabled archive rule over the camera folder and an enabled rule
/// that deletes everything after a year: `lifecycle check` and `lifecycle apply` both exit 1
/// and name the deleting rule; `check` also says the archive rule is disabled.
pub fn owners_deleting_rule_is_refused(env: &super::Env) {
    for args in [&["lifecycle", "check"][..], &["lifecycle", "apply"]] {
        let out = env.run(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", super::stdout(&out));
        let text = super::stdout(&out);
        assert!(
            text.contains(
                "DELETES every object under \"(the whole bucket)\" 365 days after upload: it would delete recordings"
            ),
            "{args:?}: {text}"
        );
        if args[1] == "check" {
            assert!(text.contains("rule \"paused\" covers it but is DISABLED"), "{text}");
        }
    }
}
