//! `fs` backend: a local directory used as a bucket.
//!
//! Object bytes live at `<root>/<key>`; metadata (size, CRC-64, storage class, time) in
//! `<root>/.camvault/meta/<key>.json`; partial uploads in `<root>/.camvault/tmp/`. A put
//! writes and fsyncs a temporary file, writes its metadata, then hard-links the temporary
//! file to the key: the link is atomic and fails when the key exists, which is this
//! backend's `If-None-Match: *`. The root is never created here: a missing root usually
//! means an unmounted disk, and writing into the mount point would hide that.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;

use super::{io_error, Backend, ErrorKind, ObjectMeta, Reader, StoreError, StoreResult};
use crate::upload::body::Body;

const META_DIR: &str = ".camvault/meta";
const TMP_DIR: &str = ".camvault/tmp";

pub struct FsStore {
    root: PathBuf,
    fsync: bool,
}

#[derive(Serialize, Deserialize)]
struct Meta {
    size: u64,
    crc64: String,
    storage_class: String,
    created_ms: i64,
}

impl FsStore {
    pub fn new(root: &Path, fsync: bool) -> FsStore {
        FsStore {
            root: root.to_path_buf(),
            fsync,
        }
    }

    fn object_path(&self, key: &str) -> StoreResult<PathBuf> {
        if key.is_empty()
            || key.starts_with('/')
            || key.starts_with(".camvault")
            || key.split('/').any(|c| c.is_empty() || c == "." || c == "..")
        {
            return Err(StoreError::new(
                ErrorKind::Refused,
                format!("invalid object key {key:?}"),
            ));
        }
        Ok(self.root.join(key))
    }

    fn meta_path(&self, key: &str) -> PathBuf {
        self.root.join(META_DIR).join(format!("{key}.json"))
    }

    fn root_ok(&self) -> StoreResult<()> {
        match std::fs::metadata(&self.root) {
            Ok(m) if m.is_dir() => Ok(()),
            Ok(_) => Err(StoreError::new(
                ErrorKind::Refused,
                format!(
                    "store root {} is not a directory; fix `store.fs.root`",
                    self.root.display()
                ),
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(StoreError::new(
                ErrorKind::Refused,
                format!(
                    "store root {} does not exist; is its disk mounted? Create it (`mkdir -p`) or fix `store.fs.root`",
                    self.root.display()
                ),
            )),
            Err(e) => Err(io_error("cannot reach store root", &self.root, e)),
        }
    }

    async fn ensure_parent(path: &Path) -> StoreResult<()> {
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| io_error("cannot create directory", parent, e))?;
        }
        Ok(())
    }

    /// Removes partial uploads left by a crash. Safe: nothing under tmp/ is an object.
    pub fn clean_tmp(&self) {
        let _ = std::fs::remove_dir_all(self.root.join(TMP_DIR));
    }
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

#[async_trait]
impl Backend for FsStore {
    fn describe(&self) -> String {
        format!("fs store at {}", self.root.display())
    }

    async fn put(&self, key: &str, body: &mut Body, storage_class: &str) -> StoreResult<()> {
        self.root_ok()?;
        let dest = self.object_path(key)?;
        if tokio::fs::symlink_metadata(&dest).await.is_ok() {
            return Err(StoreError::new(
                ErrorKind::AlreadyExists,
                format!("object {key} already exists"),
            ));
        }
        let tmp_dir = self.root.join(TMP_DIR);
        tokio::fs::create_dir_all(&tmp_dir)
            .await
            .map_err(|e| io_error("cannot create", &tmp_dir, e))?;
        let tmp = tmp_dir.join(format!("{}.{}", fastrand::u64(..), std::process::id()));
        let result = async {
            let mut out = tokio::fs::File::create(&tmp)
                .await
                .map_err(|e| io_error("cannot create", &tmp, e))?;
            while let Some(chunk) = body
                .next_chunk()
                .await
                .map_err(|e| StoreError::new(ErrorKind::Transient, format!("{e:#}")))?
            {
                out.write_all(chunk)
                    .await
                    .map_err(|e| io_error("cannot write", &tmp, e))?;
            }
            out.flush().await.map_err(|e| io_error("cannot write", &tmp, e))?;
            if self.fsync {
                out.sync_all().await.map_err(|e| io_error("cannot fsync", &tmp, e))?;
            }
            drop(out);
            let meta = Meta {
                size: body.len(),
                crc64: super::crc_hex(body.crc64()),
                storage_class: storage_class.to_string(),
                created_ms: now_ms(),
            };
            let meta_path = self.meta_path(key);
            Self::ensure_parent(&meta_path).await?;
            let json = serde_json::to_vec(&meta).expect("meta serializes");
            let meta_tmp = tmp.with_extension("meta");
            tokio::fs::write(&meta_tmp, json)
                .await
                .map_err(|e| io_error("cannot write", &meta_tmp, e))?;
            tokio::fs::rename(&meta_tmp, &meta_path)
                .await
                .map_err(|e| io_error("cannot write", &meta_path, e))?;
            Self::ensure_parent(&dest).await?;
            match tokio::fs::hard_link(&tmp, &dest).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    return Err(StoreError::new(
                        ErrorKind::AlreadyExists,
                        format!("object {key} already exists"),
                    ))
                }
                Err(e) => return Err(io_error("cannot link", &dest, e)),
            }
            if self.fsync {
                if let Some(parent) = dest.parent() {
                    if let Ok(d) = tokio::fs::File::open(parent).await {
                        let _ = d.sync_all().await;
                    }
                }
            }
            Ok(())
        }
        .await;
        let _ = tokio::fs::remove_file(&tmp).await;
        result
    }

    async fn head(&self, key: &str) -> StoreResult<Option<ObjectMeta>> {
        self.root_ok()?;
        let path = self.object_path(key)?;
        let stat = match tokio::fs::metadata(&path).await {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_error("cannot read", &path, e)),
        };
        let meta: Option<Meta> = tokio::fs::read(self.meta_path(key))
            .await
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        let modified_ms = stat
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        // Size comes from the bytes themselves, so a truncated object shows as different.
        Ok(Some(ObjectMeta {
            key: key.to_string(),
            size: stat.len(),
            crc64: meta.as_ref().map(|m| m.crc64.clone()),
            storage_class: meta.map(|m| m.storage_class).unwrap_or_else(|| "Standard".into()),
            modified_ms,
        }))
    }

    async fn get(&self, key: &str) -> StoreResult<Reader> {
        self.root_ok()?;
        let path = self.object_path(key)?;
        let f = tokio::fs::File::open(&path)
            .await
            .map_err(|e| io_error("cannot read", &path, e))?;
        Ok(Box::new(f))
    }

    async fn list(&self, prefix: &str) -> StoreResult<Vec<ObjectMeta>> {
        self.root_ok()?;
        let mut keys = Vec::new();
        let mut stack = vec![self.root.clone()];
        while let Some(dir) = stack.pop() {
            let mut rd = match tokio::fs::read_dir(&dir).await {
                Ok(rd) => rd,
                Err(e) => return Err(io_error("cannot list", &dir, e)),
            };
            while let Some(entry) = rd.next_entry().await.map_err(|e| io_error("cannot list", &dir, e))? {
                let path = entry.path();
                let Ok(rel) = path.strip_prefix(&self.root) else {
                    continue;
                };
                let Some(rel) = rel.to_str().map(str::to_string) else {
                    continue;
                };
                if rel.starts_with(".camvault") {
                    continue;
                }
                let ft = entry.file_type().await.map_err(|e| io_error("cannot list", &path, e))?;
                if ft.is_dir() {
                    stack.push(path);
                } else if ft.is_file() && rel.starts_with(prefix) {
                    keys.push(rel);
                }
            }
        }
        keys.sort();
        let mut out = Vec::with_capacity(keys.len());
        for k in keys {
            if let Some(m) = self.head(&k).await? {
                out.push(m);
            }
        }
        Ok(out)
    }

    async fn get_lifecycle(&self) -> StoreResult<Option<String>> {
        self.root_ok()?;
        let p = self.root.join(".camvault/lifecycle.xml");
        match tokio::fs::read_to_string(&p).await {
            Ok(x) => Ok(Some(x)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error("cannot read", &p, e)),
        }
    }

    async fn put_lifecycle(&self, xml: &str) -> StoreResult<()> {
        self.root_ok()?;
        let p = self.root.join(".camvault/lifecycle.xml");
        Self::ensure_parent(&p).await?;
        tokio::fs::write(&p, xml)
            .await
            .map_err(|e| io_error("cannot write", &p, e))
    }

    async fn delete_probe_unchecked(&self, key: &str) -> StoreResult<()> {
        let path = self.object_path(key)?;
        let _ = tokio::fs::remove_file(self.meta_path(key)).await;
        tokio::fs::remove_file(&path)
            .await
            .map_err(|e| io_error("cannot remove probe", &path, e))
    }

    async fn check(&self) -> StoreResult<()> {
        self.root_ok()?;
        let dir = self.root.join(TMP_DIR);
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| io_error("cannot write to store", &dir, e))?;
        let probe = dir.join(format!("check.{}", std::process::id()));
        tokio::fs::write(&probe, b"camvault")
            .await
            .map_err(|e| io_error("cannot write to store", &probe, e))?;
        let _ = tokio::fs::remove_file(&probe).await;
        Ok(())
    }
}

impl From<StoreError> for std::io::Error {
    fn from(e: StoreError) -> Self {
        std::io::Error::other(e.message)
    }
}
