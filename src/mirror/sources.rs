//! Where a mirror's copy is read from when the vault no longer has the file: a lost copy
//! copied again ([`super::check`], for the scrub and `camvault verify`) and `camvault
//! mirror backfill` ([`super::backfill`]) both take the cheapest good copy among all
//! stores, so that a main store that archived (or lost) a recording is not the end of it
//! while another mirror holds it readable.
//!
//! The candidates are the main store and every other mirror the catalog says holds a
//! verified copy (`Catalog::verified_mirror_copies`), tried in this order ([`order`]):
//! 1. a disk mirror (`fs`): free and local; opened only when its marker is there
//!    (`restore::copies::Mirrors`), so an empty mount point is never read as the disk;
//! 2. the main store, when its HEAD says the object is readable (not archived);
//! 3. the other (remote) mirrors whose object is readable: a download.
//!
//! Every candidate's bytes are read into a temporary file and checked against the
//! catalog's CRC-64 before anything is sent; a source that fails or gives other bytes is
//! skipped, with its reason, and the next one tried. A mirror only reads here: a read-only
//! mirror may be a source, never a target. A recording archived everywhere it is readable
//! from is left to the restore path (`backfill_restore`).

use std::path::Path;

use anyhow::Result;
use tokio::io::AsyncWriteExt;
use tracing::warn;

use super::MirrorUploader;
use crate::catalog::copies::CopyRow;
use crate::config::{Config, PRIMARY};
use crate::restore::copies::{kind_of, Mirrors};
use crate::store::Backend;

/// One store that may give a recording's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// `primary` or a mirror's name.
    pub store: String,
    /// The object's key in that store.
    pub key: String,
    /// A disk mirror (`fs`).
    pub disk: bool,
}

/// Sorts `c` into the order to try: disk mirrors, then the main store, then remote
/// mirrors (each group in the order given: the catalog's, by name).
pub fn order(c: &mut [Candidate]) {
    c.sort_by_key(|c| match (c.disk, c.store == PRIMARY) {
        (_, true) => 1,
        (true, false) => 0,
        (false, false) => 2,
    });
}

/// How reading a recording from the other stores went.
#[derive(Debug, Default)]
pub struct Fetch {
    /// The store whose checked bytes are now in the temporary file.
    pub from: Option<String>,
    /// The main store holds it only in an archive class (a restore brings it back).
    pub archived: bool,
    /// The stores tried and passed over: (store, why).
    pub skipped: Vec<(String, String)>,
}

impl Fetch {
    /// Why no store could give the bytes, for an error or a log line.
    pub fn why_none(&self) -> String {
        let tried: Vec<String> = self.skipped.iter().map(|(s, why)| format!("{s}: {why}")).collect();
        tried.join("; ")
    }
}

/// The stores a mirror's copies are read from: the main store, and the mirrors of `cfg`
/// opened once each on first use (make a new one per pass, so that a disk plugged in
/// since is seen).
pub struct Sources<'a> {
    cfg: &'a Config,
    main: &'a dyn Backend,
    mirrors: Mirrors,
}

impl<'a> Sources<'a> {
    pub fn new(cfg: &'a Config, main: &'a dyn Backend) -> Self {
        Sources {
            cfg,
            main,
            mirrors: Mirrors::default(),
        }
    }

    /// The candidates for `copy` in mirror `target` (never `target` itself), in order.
    fn candidates(&self, target: &MirrorUploader, copy: &CopyRow) -> Result<Vec<Candidate>> {
        let mut out = vec![Candidate {
            store: PRIMARY.to_string(),
            key: copy.vault_key.clone(),
            disk: false,
        }];
        for c in target.catalog.verified_mirror_copies(copy.file_id)? {
            if c.store != target.name {
                out.push(Candidate {
                    disk: kind_of(self.cfg, &c.store) == "fs",
                    store: c.store,
                    key: c.key,
                });
            }
        }
        order(&mut out);
        Ok(out)
    }

    /// Reads `copy` (of mirror `target`) into `tmp` from the first candidate that gives
    /// bytes of the catalog's size and CRC-64; `Err` only when the catalog fails.
    pub async fn fetch(&mut self, target: &MirrorUploader, copy: &CopyRow, tmp: &Path) -> Result<Fetch> {
        let mut out = Fetch::default();
        for c in self.candidates(target, copy)? {
            let store = if c.store == PRIMARY {
                Ok(None)
            } else {
                self.mirrors.get(self.cfg, &c.store).map(Some)
            };
            let store = match store {
                Ok(s) => s,
                Err(why) => {
                    out.skipped.push((c.store, why));
                    continue;
                }
            };
            let backend: &dyn Backend = store.as_deref().unwrap_or(self.main);
            match read_checked(target, backend, &c, copy, tmp).await {
                Ok(()) => {
                    out.from = Some(c.store);
                    return Ok(out);
                }
                Err(Skip::Archived(why)) => {
                    out.archived |= c.store == PRIMARY;
                    out.skipped.push((c.store, why));
                }
                Err(Skip::Other(why)) => {
                    warn!(mirror = %target.name, key = %copy.key, source = %c.store, "source passed over: {why}");
                    out.skipped.push((c.store, why));
                }
            }
        }
        let _ = std::fs::remove_file(tmp);
        Ok(out)
    }
}

/// Why a candidate was passed over.
enum Skip {
    /// Archived there: a restore could bring it back.
    Archived(String),
    Other(String),
}

/// Reads candidate `c` into `tmp` and checks it against the catalog.
async fn read_checked(
    m: &MirrorUploader,
    store: &dyn Backend,
    c: &Candidate,
    copy: &CopyRow,
    tmp: &Path,
) -> Result<(), Skip> {
    let other = |e: String| Skip::Other(e);
    let head = store
        .head(&c.key)
        .await
        .map_err(|e| other(format!("unreachable: {e}")))?;
    let Some(head) = head else {
        return Err(other("missing there too".into()));
    };
    if !head.readable() {
        return Err(Skip::Archived(format!("archived there ({})", head.storage_class)));
    }
    if head.size != copy.size {
        return Err(other(format!("size {} there, {} in the catalog", head.size, copy.size)));
    }
    let read = async {
        let mut reader = store.get(&c.key).await?;
        let mut f = tokio::fs::File::create(tmp).await?;
        tokio::io::copy(&mut reader, &mut f).await?;
        f.flush().await?;
        anyhow::Ok(())
    };
    read.await.map_err(|e| other(format!("reading failed: {e:#}")))?;
    super::backfill::check_file(m, copy, tmp, &whose(&c.store))
        .await
        .map_err(|e| other(format!("{e:#}")))
}

/// `store` as the text of a report: "the main store" or `mirror "usb"`.
pub fn whose(store: &str) -> String {
    if store == PRIMARY {
        "the main store".into()
    } else {
        format!("mirror {store:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(store: &str, disk: bool) -> Candidate {
        Candidate {
            store: store.into(),
            key: "k".into(),
            disk,
        }
    }

    #[test]
    fn disks_first_then_the_main_store_then_remote_mirrors() {
        let mut v = vec![
            c(PRIMARY, false),
            c("hz", false),
            c("usb", true),
            c("sh", false),
            c("usb2", true),
        ];
        order(&mut v);
        let names: Vec<&str> = v.iter().map(|c| c.store.as_str()).collect();
        assert_eq!(names, ["usb", "usb2", PRIMARY, "hz", "sh"]);
        // A main store on a local disk is still the main store: after the disk mirrors.
        let mut v = vec![c(PRIMARY, true), c("usb", true)];
        order(&mut v);
        assert_eq!(v[0].store, "usb");
    }
}
