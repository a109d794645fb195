//! What the share's audit log says and what someone should hear about: deletion attempts
//! grouped into bursts, and the events the alerts send.

use anyhow::Result;
use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use super::Catalog;

/// One delete, rename or overwrite seen in the share's audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeletionAttempt {
    pub at_ms: i64,
    pub client: String,
    pub user: String,
    /// `delete`, `rename` or `overwrite`.
    pub op: String,
    pub path: String,
    pub denied: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Burst {
    pub client: String,
    pub user: String,
    pub first_ms: i64,
    pub last_ms: i64,
    pub attempts: u64,
    pub denied: u64,
    pub sample: String,
}

#[derive(Debug, Clone, Default)]
pub struct DeletionSummary {
    pub total: u64,
    pub denied: u64,
    pub last_24h: u64,
    pub bursts: Vec<Burst>,
    pub latest: Vec<DeletionAttempt>,
}

impl Catalog {
    /// Records one deletion attempt. Attempts from the same client and user within
    /// `burst_gap_ms` of the burst's last one join it; otherwise a new burst starts and
    /// one event is recorded for it. Returns the new burst's id when one started.
    pub fn record_deletion_attempt(&self, a: &DeletionAttempt, burst_gap_ms: i64) -> Result<Option<i64>> {
        let mut c = self.lock();
        let tx = c.transaction()?;
        let open: Option<i64> = {
            let mut st = tx.prepare_cached(
                "SELECT id FROM deletion_bursts WHERE client = ?1 AND user = ?2 AND last_ms >= ?3 ORDER BY id DESC LIMIT 1",
            )?;
            let mut rows = st.query(params![a.client, a.user, a.at_ms - burst_gap_ms])?;
            match rows.next()? {
                Some(r) => Some(r.get(0)?),
                None => None,
            }
        };
        let (burst, started) = match open {
            Some(id) => {
                tx.execute(
                    "UPDATE deletion_bursts SET last_ms = max(last_ms, ?2), attempts = attempts + 1, denied = denied + ?3 WHERE id = ?1",
                    params![id, a.at_ms, a.denied as i64],
                )?;
                (id, false)
            }
            None => {
                tx.execute(
                    "INSERT INTO deletion_bursts (client, user, first_ms, last_ms, attempts, denied, sample) VALUES (?1, ?2, ?3, ?3, 1, ?4, ?5)",
                    params![a.client, a.user, a.at_ms, a.denied as i64, a.path],
                )?;
                let id = tx.last_insert_rowid();
                tx.execute(
                    "INSERT INTO events (at_ms, kind, message) VALUES (?1, 'deletion_attempts', ?2)",
                    params![
                        a.at_ms,
                        format!(
                            "{} from {} as {} tried to {} {}{}",
                            if a.denied { "refused" } else { "allowed" },
                            a.client,
                            a.user,
                            a.op,
                            a.path,
                            if a.denied {
                                ""
                            } else {
                                " (inside the grace period; camvault still has its copy if it was captured)"
                            }
                        )
                    ],
                )?;
                (id, true)
            }
        };
        tx.execute(
            "INSERT INTO deletion_attempts (at_ms, client, user, op, path, denied, burst_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![a.at_ms, a.client, a.user, a.op, a.path, a.denied as i64, burst],
        )?;
        tx.commit()?;
        Ok(started.then_some(burst))
    }

    pub fn deletion_summary(&self, since_ms: i64) -> Result<DeletionSummary> {
        let c = self.lock();
        let (total, denied): (i64, i64) = c.query_row(
            "SELECT count(*), coalesce(sum(denied), 0) FROM deletion_attempts",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let recent: i64 = c.query_row(
            "SELECT count(*) FROM deletion_attempts WHERE at_ms >= ?1",
            [since_ms],
            |r| r.get(0),
        )?;
        let mut st = c.prepare_cached(
            "SELECT client, user, first_ms, last_ms, attempts, denied, sample FROM deletion_bursts ORDER BY last_ms DESC LIMIT 5",
        )?;
        let bursts = st
            .query_map([], |r| {
                Ok(Burst {
                    client: r.get(0)?,
                    user: r.get(1)?,
                    first_ms: r.get(2)?,
                    last_ms: r.get(3)?,
                    attempts: r.get::<_, i64>(4)? as u64,
                    denied: r.get::<_, i64>(5)? as u64,
                    sample: r.get(6)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut st = c.prepare_cached(
            "SELECT at_ms, client, user, op, path, denied FROM deletion_attempts ORDER BY at_ms DESC, id DESC LIMIT 10",
        )?;
        let latest = st
            .query_map([], |r| {
                Ok(DeletionAttempt {
                    at_ms: r.get(0)?,
                    client: r.get(1)?,
                    user: r.get(2)?,
                    op: r.get(3)?,
                    path: r.get(4)?,
                    denied: r.get(5)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(DeletionSummary {
            total: total as u64,
            denied: denied as u64,
            last_24h: recent as u64,
            bursts,
            latest,
        })
    }

    /// Events recorded after `after_id`, oldest first: (id, time, kind, message).
    pub fn events_after(&self, after_id: i64) -> Result<Vec<(i64, i64, String, String)>> {
        let c = self.lock();
        let mut st =
            c.prepare_cached("SELECT id, at_ms, kind, message FROM events WHERE id > ?1 ORDER BY id LIMIT 100")?;
        let rows = st
            .query_map([after_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Records an event with its message as a key and arguments too (see [`Self::event_in`]):
    /// `english` is what the CLI and English alerts show.
    pub fn record_event_msg(&self, kind: &str, english: &str, msg: &crate::msg::Msg) -> Result<()> {
        let c = self.lock();
        c.execute(
            "INSERT INTO events (at_ms, kind, message, msg) VALUES (?1, ?2, ?3, ?4)",
            params![
                jiff::Timestamp::now().as_millisecond(),
                kind,
                english,
                serde_json::to_string(msg)?
            ],
        )?;
        Ok(())
    }

    /// An event's message in `lang`, when it was recorded with a key; `None`: use its
    /// English `message`.
    pub fn event_in(&self, id: i64, lang: crate::config::Lang) -> Result<Option<String>> {
        let c = self.lock();
        let raw: Option<String> = c
            .query_row("SELECT msg FROM events WHERE id = ?1", [id], |r| r.get(0))
            .optional()?
            .flatten();
        let Some(raw) = raw else { return Ok(None) };
        #[derive(serde::Deserialize)]
        struct Stored {
            key: String,
            args: std::collections::BTreeMap<String, String>,
        }
        let m: Stored = serde_json::from_str(&raw)?;
        if !lang.strings().contains_key(&m.key) {
            return Ok(None);
        }
        let vars: Vec<(&str, &str)> = m.args.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        Ok(Some(lang.fmt(&m.key, &vars)))
    }

    /// Records something a person should hear about (sent by the alerts).
    pub fn record_event(&self, kind: &str, message: &str) -> Result<()> {
        let c = self.lock();
        c.execute(
            "INSERT INTO events (at_ms, kind, message) VALUES (?1, ?2, ?3)",
            params![jiff::Timestamp::now().as_millisecond(), kind, message],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_with_a_key_are_told_in_any_language() {
        let dir = tempfile::tempdir().unwrap();
        let cat = Catalog::open(&dir.path().join("c.sqlite"), true).unwrap();
        let m = crate::msg!("event.body.restore_failed", id = 4, error = "x");
        cat.record_event_msg("restore_failed", "restore #4 (cam) failed: x", &m)
            .unwrap();
        cat.record_event("verify_mismatch", "k: size differs").unwrap();
        let ev = cat.events_after(0).unwrap();
        assert_eq!(ev[0].3, "restore #4 (cam) failed: x", "the English stays the message");
        use crate::config::Lang;
        assert_eq!(
            cat.event_in(ev[0].0, Lang::Zh).unwrap().as_deref(),
            Some("恢复 #4 失败：x")
        );
        assert_eq!(cat.event_in(ev[1].0, Lang::Zh).unwrap(), None, "English only");
    }

    #[test]
    fn deletion_bursts_group_attempts() {
        let dir = tempfile::tempdir().unwrap();
        let cat = Catalog::open(&dir.path().join("c.sqlite"), true).unwrap();
        let at = |ms: i64, client: &str| DeletionAttempt {
            at_ms: ms,
            client: client.into(),
            user: "camera".into(),
            op: "delete".into(),
            path: format!("/inbox/{ms}.mp4"),
            denied: true,
        };
        let gap = 600_000;
        assert!(cat.record_deletion_attempt(&at(0, "10.0.0.5"), gap).unwrap().is_some());
        for i in 1..1000 {
            assert!(
                cat.record_deletion_attempt(&at(i * 100, "10.0.0.5"), gap)
                    .unwrap()
                    .is_none(),
                "same burst"
            );
        }
        assert!(
            cat.record_deletion_attempt(&at(50, "10.0.0.9"), gap).unwrap().is_some(),
            "another client"
        );
        assert!(
            cat.record_deletion_attempt(&at(100_000 + gap + 1, "10.0.0.5"), gap)
                .unwrap()
                .is_some(),
            "after a pause"
        );
        let s = cat.deletion_summary(0).unwrap();
        assert_eq!((s.total, s.denied, s.bursts.len()), (1002, 1002, 3));
        let events: i64 = cat
            .lock()
            .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
            .unwrap();
        assert_eq!(events, 3, "one event per burst, not per attempt");
    }
}
