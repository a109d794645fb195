//! A store camvault must never write: a read-only mirror (`read_only = true`, e.g. the
//! replica OSS Cross-Region Replication fills). The mirror's backend is only ever reached
//! through this wrapper ([`crate::mirror::open_store`] builds it), and the wrapper forwards
//! reads only: every writing call (`put`, `put_lifecycle`, `restore`, probe deletion) is
//! answered `Refused` here without reaching the inner store, so no path through camvault
//! can write there, whatever a caller does.

use async_trait::async_trait;

use super::body::Body;
use super::{listing, Backend, ErrorKind, ObjectMeta, Reader, RestoreAnswer, RestoreTier, StoreError, StoreResult};

pub struct ReadOnly {
    name: String,
    inner: Box<dyn Backend>,
}

impl ReadOnly {
    /// `name`: the mirror's, for the refusal's message.
    pub fn new(name: &str, inner: Box<dyn Backend>) -> ReadOnly {
        ReadOnly {
            name: name.to_string(),
            inner,
        }
    }

    fn refuse<T>(&self, what: &str) -> StoreResult<T> {
        Err(StoreError::new(
            ErrorKind::Refused,
            format!(
                "mirror {:?} is read-only (`read_only = true`): camvault does not {what} there",
                self.name
            ),
        ))
    }
}

#[async_trait]
impl Backend for ReadOnly {
    fn describe(&self) -> String {
        format!("{} (read-only)", self.inner.describe())
    }

    async fn put(&self, key: &str, _body: &mut Body, _storage_class: &str) -> StoreResult<()> {
        self.refuse(&format!("write {key}"))
    }

    async fn head(&self, key: &str) -> StoreResult<Option<ObjectMeta>> {
        self.inner.head(key).await
    }

    async fn get_range(&self, key: &str, range: Option<std::ops::Range<u64>>) -> StoreResult<Reader> {
        self.inner.get_range(key, range).await
    }

    async fn list(&self, prefix: &str) -> StoreResult<Vec<ObjectMeta>> {
        self.inner.list(prefix).await
    }

    async fn list_after(&self, prefix: &str, start_after: Option<&str>, max: u32) -> StoreResult<listing::ListPage> {
        self.inner.list_after(prefix, start_after, max).await
    }

    /// Reachable and readable (one listed key): the inner `check` may write a probe.
    async fn check(&self) -> StoreResult<()> {
        self.inner.list_after("", None, 1).await.map(|_| ())
    }

    async fn get_lifecycle(&self) -> StoreResult<Option<String>> {
        self.inner.get_lifecycle().await
    }

    async fn put_lifecycle(&self, _xml: &str) -> StoreResult<()> {
        self.refuse("change the lifecycle rules")
    }

    async fn restore(&self, key: &str, _days: u32, _tier: RestoreTier) -> StoreResult<RestoreAnswer> {
        self.refuse(&format!("ask for a restore of {key}"))
    }

    fn now_ms(&self) -> i64 {
        self.inner.now_ms()
    }

    async fn delete_probe_unchecked(&self, key: &str) -> StoreResult<()> {
        self.refuse(&format!("delete {key}"))
    }

    async fn bucket_settings(&self) -> StoreResult<Option<super::settings::BucketSettings>> {
        self.inner.bucket_settings().await
    }

    async fn bucket_stat(&self) -> StoreResult<Option<super::usage::BucketUsage>> {
        self.inner.bucket_stat().await
    }

    async fn replication(&self) -> StoreResult<Option<Vec<super::replication::Rule>>> {
        self.inner.replication().await
    }

    async fn worm(&self) -> StoreResult<super::WormStatus> {
        self.inner.worm().await
    }

    async fn initiate_worm(&self, _days: u32) -> StoreResult<String> {
        self.refuse("set a WORM")
    }

    async fn lock_worm(&self, _id: &str) -> StoreResult<()> {
        self.refuse("lock a WORM")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::fs::FsStore;

    /// Every writing call is refused and nothing reaches the disk; reads go through.
    #[tokio::test]
    async fn nothing_can_be_written_through_it() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("replica");
        std::fs::create_dir_all(root.join("v")).unwrap();
        std::fs::write(root.join("v/a.mp4"), b"replicated").unwrap();
        let ro = ReadOnly::new("replica", Box::new(FsStore::new(&root, false)));
        let src = dir.path().join("src");
        std::fs::write(&src, b"new bytes").unwrap();
        let mut body = Body::open(&src, 9, None).await.unwrap();
        let e = ro.put("v/b.mp4", &mut body, "Standard").await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Refused);
        assert!(e.to_string().contains("mirror \"replica\" is read-only"), "{e}");
        assert!(ro.put_lifecycle("<LifecycleConfiguration/>").await.is_err());
        assert!(ro.restore("v/a.mp4", 1, RestoreTier::Standard).await.is_err());
        assert!(crate::store::delete_probe(&ro, "camvault-probe/x").await.is_err());
        assert!(ro.initiate_worm(1).await.is_err());
        ro.check().await.unwrap();
        assert!(!root.join("v/b.mp4").exists() && !root.join("camvault-probe").exists());
        let mut names: Vec<_> = std::fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names, vec!["v"], "check wrote nothing");
        assert_eq!(ro.head("v/a.mp4").await.unwrap().unwrap().size, 10);
        assert_eq!(ro.list("v/").await.unwrap().len(), 1);
        assert!(ro.describe().ends_with("(read-only)"));
    }
}
