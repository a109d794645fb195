//! Catalog side of notifications on activity (migration 13): the clips waiting for the
//! rules, what each rule did with each segment, and each rule's rate limit and counts.

use anyhow::Result;
use rusqlite::{params, OptionalExtension};

use super::Catalog;

/// A freshly indexed clip the rules have not looked at yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pending {
    pub file_id: i64,
    pub start_ms: i64,
    pub indexed_ms: i64,
}

/// A rule's rate limit and counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleState {
    pub last_try_ms: Option<i64>,
    pub suppressed: u64,
    pub suppressed_from: Option<i64>,
    pub sent: u64,
    pub failed: u64,
}

impl Catalog {
    /// The clips waiting for the rules, in the order they were recorded (at most `limit`).
    pub fn notify_pending(&self, limit: usize) -> Result<Vec<Pending>> {
        let c = self.lock();
        let rows = c
            .prepare_cached(
                "SELECT file_id, start_ms, indexed_ms FROM notify_pending ORDER BY start_ms, file_id LIMIT ?1",
            )?
            .query_map([limit as i64], |r| {
                Ok(Pending {
                    file_id: r.get(0)?,
                    start_ms: r.get(1)?,
                    indexed_ms: r.get(2)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// Every rule has looked at the clip.
    pub fn notify_done(&self, file_id: i64) -> Result<()> {
        self.lock()
            .execute("DELETE FROM notify_pending WHERE file_id = ?1", [file_id])?;
        Ok(())
    }

    /// What `rule` did with the segment of `file_id` starting at `start_ms`, if anything.
    pub fn notify_outcome(&self, rule: &str, file_id: i64, start_ms: i64) -> Result<Option<String>> {
        Ok(self
            .lock()
            .query_row(
                "SELECT outcome FROM notify_sent WHERE rule = ?1 AND file_id = ?2 AND start_ms = ?3",
                params![rule, file_id, start_ms],
                |r| r.get(0),
            )
            .optional()?)
    }

    pub fn notify_rule(&self, rule: &str) -> Result<RuleState> {
        Ok(self
            .lock()
            .query_row(
                "SELECT last_try_ms, suppressed, suppressed_from, sent, failed FROM notify_rules WHERE rule = ?1",
                [rule],
                |r| {
                    Ok(RuleState {
                        last_try_ms: r.get(0)?,
                        suppressed: r.get::<_, i64>(1)? as u64,
                        suppressed_from: r.get(2)?,
                        sent: r.get::<_, i64>(3)? as u64,
                        failed: r.get::<_, i64>(4)? as u64,
                    })
                },
            )
            .optional()?
            .unwrap_or_default())
    }

    /// Records what `rule` did with a segment and the rule's new state, in one transaction.
    pub fn notify_note(
        &self,
        rule: &str,
        file_id: i64,
        start_ms: i64,
        outcome: &str,
        now_ms: i64,
        state: &RuleState,
    ) -> Result<()> {
        let mut c = self.lock();
        let tx = c.transaction()?;
        tx.execute(
            "INSERT OR REPLACE INTO notify_sent (rule, file_id, start_ms, outcome, at_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![rule, file_id, start_ms, outcome, now_ms],
        )?;
        tx.execute(
            "INSERT OR REPLACE INTO notify_rules (rule, last_try_ms, suppressed, suppressed_from, sent, failed)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                rule,
                state.last_try_ms,
                state.suppressed as i64,
                state.suppressed_from,
                state.sent as i64,
                state.failed as i64
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Forgets what was sent before `before_ms` (only fresh clips notify, so older records
    /// can no longer stop a duplicate) and clips that waited that long.
    pub fn notify_prune(&self, before_ms: i64) -> Result<()> {
        let c = self.lock();
        c.execute("DELETE FROM notify_sent WHERE at_ms < ?1", [before_ms])?;
        Ok(())
    }

    /// Every rule's counts, by name (for `/metrics` and the tests).
    pub fn notify_rules(&self) -> Result<Vec<(String, RuleState)>> {
        let c = self.lock();
        let rows = c
            .prepare_cached(
                "SELECT rule, last_try_ms, suppressed, suppressed_from, sent, failed FROM notify_rules ORDER BY rule",
            )?
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    RuleState {
                        last_try_ms: r.get(1)?,
                        suppressed: r.get::<_, i64>(2)? as u64,
                        suppressed_from: r.get(3)?,
                        sent: r.get::<_, i64>(4)? as u64,
                        failed: r.get::<_, i64>(5)? as u64,
                    },
                ))
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }
}
