//! Web accounts in the catalog: users and their roles, login sessions (kept across restarts
//! of `serve`, stored as hashes), restores waiting for an admin's approval, and what
//! restores cost this month (the budget).

use anyhow::{bail, Result};
use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use super::Catalog;

/// What a user may do in the web interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Dashboard, timeline, playback, search, export of local clips.
    Viewer,
    /// Also restores that cost money, approvals, users.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Admin => "admin",
        }
    }
    pub fn parse(s: &str) -> Result<Role> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "admin" => Ok(Role::Admin),
            _ => bail!("role {s:?}: use viewer or admin"),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub name: String,
    #[serde(skip)]
    pub hash: String,
    pub role: Role,
    pub created_ms: i64,
    pub changed_ms: i64,
    /// Sessions not yet expired.
    pub sessions: u64,
}

/// A login session as stored (found by the SHA-256 of its cookie).
#[derive(Debug, Clone)]
pub struct StoredSession {
    pub user: String,
    pub role: Role,
    pub csrf: String,
    pub expires_ms: i64,
    /// The user's own language for the pages (`None`: as the browser asks).
    pub language: Option<String>,
}

/// A restore waiting for (or decided by) an admin.
#[derive(Debug, Clone, Serialize)]
pub struct Approval {
    pub id: i64,
    pub created_ms: i64,
    pub requested_by: String,
    pub camera: String,
    pub from_ms: i64,
    pub to_ms: i64,
    pub tier: String,
    pub est_cost_cny: f64,
    pub hours: f64,
    pub state: String,
    pub decided_by: Option<String>,
    pub decided_ms: Option<i64>,
    pub restore_id: Option<i64>,
}

/// What a new approval asks for.
pub struct NewApproval<'a> {
    pub requested_by: &'a str,
    pub camera: &'a str,
    pub from_ms: i64,
    pub to_ms: i64,
    pub tier: &'a str,
    pub est_cost_cny: f64,
    pub hours: f64,
}

/// Sessions kept at most; when full, expired ones go, then those that expire first.
pub const MAX_SESSIONS: i64 = 10_000;
/// Pending approvals one user may have at once (each alerts the admins).
pub const MAX_PENDING_PER_USER: i64 = 10;
/// A pending approval nobody decided lapses after this long.
pub const APPROVAL_LIFETIME_MS: i64 = 7 * 86_400_000;

/// The kv key remembering which `http.password_hash` was last made the `admin` user.
const IMPORTED_KEY: &str = "web.config_hash_imported";
/// The user `http.password_hash` (`camvault passwd`) is the password of.
pub const CONFIG_USER: &str = "admin";

const APPROVAL_COLS: &str = "id, created_ms, requested_by, camera, from_ms, to_ms, tier, est_cost_cny, hours, \
     state, decided_by, decided_ms, restore_id";

fn approval_row(r: &rusqlite::Row) -> rusqlite::Result<Approval> {
    Ok(Approval {
        id: r.get(0)?,
        created_ms: r.get(1)?,
        requested_by: r.get(2)?,
        camera: r.get(3)?,
        from_ms: r.get(4)?,
        to_ms: r.get(5)?,
        tier: r.get(6)?,
        est_cost_cny: r.get(7)?,
        hours: r.get(8)?,
        state: r.get(9)?,
        decided_by: r.get(10)?,
        decided_ms: r.get(11)?,
        restore_id: r.get(12)?,
    })
}

/// A user name: what a person types at the login form; no spaces or control characters.
pub fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > 64 || !name.chars().all(|c| c.is_alphanumeric() || "._-@".contains(c)) {
        bail!("user name {name:?}: use 1-64 letters, digits, '.', '_', '-' or '@'");
    }
    Ok(())
}

impl Catalog {
    pub fn users(&self, now_ms: i64) -> Result<Vec<User>> {
        let c = self.lock();
        let mut st = c.prepare_cached(
            "SELECT u.name, u.hash, u.role, u.created_ms, u.changed_ms,
                    (SELECT count(*) FROM sessions s WHERE s.user = u.name AND s.expires_ms > ?1)
             FROM users u ORDER BY u.name",
        )?;
        let rows = st.query_map([now_ms], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, i64>(5)?,
            ))
        })?;
        let mut out = Vec::new();
        for r in rows {
            let (name, hash, role, created_ms, changed_ms, sessions) = r?;
            out.push(User {
                name,
                hash,
                role: Role::parse(&role)?,
                created_ms,
                changed_ms,
                sessions: sessions as u64,
            });
        }
        Ok(out)
    }

    pub fn user(&self, name: &str) -> Result<Option<User>> {
        Ok(self.users(0)?.into_iter().find(|u| u.name == name))
    }

    pub fn add_user(&self, name: &str, hash: &str, role: Role, now_ms: i64) -> Result<()> {
        check_name(name)?;
        let c = self.lock();
        let n = c.execute(
            "INSERT INTO users (name, hash, role, created_ms, changed_ms) VALUES (?1, ?2, ?3, ?4, ?4)
             ON CONFLICT (name) DO NOTHING",
            params![name, hash, role.as_str(), now_ms],
        )?;
        if n == 0 {
            bail!("user {name:?} exists already; change the password with `camvault user passwd {name}`");
        }
        Ok(())
    }

    /// Deletes a user and (by the foreign key) their sessions; false when there was none.
    pub fn delete_user(&self, name: &str) -> Result<bool> {
        let c = self.lock();
        Ok(c.execute("DELETE FROM users WHERE name = ?1", [name])? > 0)
    }

    /// Sets a password (and the role, when given) and ends the user's sessions.
    pub fn set_user(&self, name: &str, hash: &str, role: Option<Role>, now_ms: i64) -> Result<bool> {
        let mut c = self.lock();
        let tx = c.transaction()?;
        let n = tx.execute(
            "UPDATE users SET hash = ?2, role = coalesce(?3, role), changed_ms = ?4 WHERE name = ?1",
            params![name, hash, role.map(Role::as_str), now_ms],
        )?;
        tx.execute("DELETE FROM sessions WHERE user = ?1", [name])?;
        tx.commit()?;
        Ok(n > 0)
    }

    /// Ends every session of `name`; returns how many there were.
    pub fn revoke_sessions(&self, name: &str) -> Result<usize> {
        let c = self.lock();
        Ok(c.execute("DELETE FROM sessions WHERE user = ?1", [name])?)
    }

    /// Makes `http.password_hash` the password of [`CONFIG_USER`] (an admin) when it
    /// changed since the last time: how a single-password camvault becomes one with
    /// accounts, and how `camvault passwd` keeps working. Returns whether it did.
    pub fn import_config_password(&self, hash: &str, now_ms: i64) -> Result<bool> {
        if hash.is_empty() || self.kv_get(IMPORTED_KEY)?.as_deref() == Some(hash) {
            return Ok(false);
        }
        {
            let mut c = self.lock();
            let tx = c.transaction()?;
            tx.execute(
                "INSERT INTO users (name, hash, role, created_ms, changed_ms) VALUES (?1, ?2, 'admin', ?3, ?3)
                 ON CONFLICT (name) DO UPDATE SET hash = excluded.hash, role = 'admin', changed_ms = excluded.changed_ms",
                params![CONFIG_USER, hash, now_ms],
            )?;
            tx.execute("DELETE FROM sessions WHERE user = ?1", [CONFIG_USER])?;
            tx.execute(
                "INSERT INTO kv (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![IMPORTED_KEY, hash],
            )?;
            tx.commit()?;
        }
        Ok(true)
    }

    /// Stores a new session; keeps at most [`MAX_SESSIONS`].
    pub fn add_session(&self, id_sha256: &str, user: &str, csrf: &str, now_ms: i64, expires_ms: i64) -> Result<()> {
        let mut c = self.lock();
        let tx = c.transaction()?;
        tx.execute("DELETE FROM sessions WHERE expires_ms <= ?1", [now_ms])?;
        tx.execute(
            "DELETE FROM sessions WHERE id_sha256 IN
               (SELECT id_sha256 FROM sessions ORDER BY expires_ms
                LIMIT max(0, (SELECT count(*) FROM sessions) - ?1 + 1))",
            [MAX_SESSIONS],
        )?;
        tx.execute(
            "INSERT INTO sessions (id_sha256, user, csrf, created_ms, expires_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id_sha256, user, csrf, now_ms, expires_ms],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The session with this cookie hash, when it has not expired (and its user exists).
    pub fn session(&self, id_sha256: &str, now_ms: i64) -> Result<Option<StoredSession>> {
        let c = self.lock();
        let row = c
            .prepare_cached(
                "SELECT s.user, u.role, s.csrf, s.expires_ms, u.language FROM sessions s JOIN users u ON u.name = s.user
                 WHERE s.id_sha256 = ?1 AND s.expires_ms > ?2",
            )?
            .query_row(params![id_sha256, now_ms], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .optional()?;
        let Some((user, role, csrf, expires_ms, language)) = row else {
            return Ok(None);
        };
        Ok(Some(StoredSession {
            user,
            role: Role::parse(&role)?,
            csrf,
            expires_ms,
            language,
        }))
    }

    /// A user's own language (a tag the caller checked), `None` to follow the browser;
    /// false when there is no such user.
    pub fn set_user_language(&self, name: &str, language: Option<&str>) -> Result<bool> {
        let c = self.lock();
        Ok(c.execute(
            "UPDATE users SET language = ?2 WHERE name = ?1",
            params![name, language],
        )? > 0)
    }

    pub fn user_language(&self, name: &str) -> Result<Option<String>> {
        let c = self.lock();
        Ok(
            c.query_row("SELECT language FROM users WHERE name = ?1", [name], |r| r.get(0))
                .optional()?
                .flatten(),
        )
    }

    pub fn drop_session(&self, id_sha256: &str) -> Result<()> {
        let c = self.lock();
        c.execute("DELETE FROM sessions WHERE id_sha256 = ?1", [id_sha256])?;
        Ok(())
    }

    /// Records a viewer's request; refused when they already have too many pending.
    pub fn add_approval(&self, a: &NewApproval, now_ms: i64) -> Result<i64> {
        let c = self.lock();
        let pending: i64 = c.query_row(
            "SELECT count(*) FROM approvals WHERE requested_by = ?1 AND state = 'pending' AND created_ms > ?2",
            params![a.requested_by, now_ms - APPROVAL_LIFETIME_MS],
            |r| r.get(0),
        )?;
        if pending >= MAX_PENDING_PER_USER {
            bail!("you have {pending} restores waiting for an admin already: wait until they are decided");
        }
        c.execute(
            "INSERT INTO approvals (created_ms, requested_by, camera, from_ms, to_ms, tier, est_cost_cny, hours)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                now_ms,
                a.requested_by,
                a.camera,
                a.from_ms,
                a.to_ms,
                a.tier,
                a.est_cost_cny,
                a.hours
            ],
        )?;
        Ok(c.last_insert_rowid())
    }

    /// One approval; a pending one older than [`APPROVAL_LIFETIME_MS`] reads as expired.
    pub fn approval(&self, id: i64, now_ms: i64) -> Result<Option<Approval>> {
        let c = self.lock();
        let a = c
            .query_row(
                &format!("SELECT {APPROVAL_COLS} FROM approvals WHERE id = ?1"),
                [id],
                approval_row,
            )
            .optional()?;
        Ok(a.map(|a| lapse(a, now_ms)))
    }

    /// The newest approvals (all users' when `user` is None), at most `limit`.
    pub fn approvals(&self, user: Option<&str>, limit: usize, now_ms: i64) -> Result<Vec<Approval>> {
        let c = self.lock();
        let mut st = c.prepare_cached(&format!(
            "SELECT {APPROVAL_COLS} FROM approvals WHERE ?1 IS NULL OR requested_by = ?1 ORDER BY id DESC LIMIT ?2"
        ))?;
        let rows = st.query_map(params![user, limit as i64], approval_row)?;
        let mut out = Vec::new();
        for r in rows {
            out.push(lapse(r?, now_ms));
        }
        Ok(out)
    }

    /// Decides a pending approval, once: false when it was not pending any more (decided
    /// by someone else, or lapsed). `restore_id` is the restore an approval started.
    pub fn decide_approval(
        &self,
        id: i64,
        state: &str,
        by: &str,
        restore_id: Option<i64>,
        now_ms: i64,
    ) -> Result<bool> {
        let c = self.lock();
        Ok(c.execute(
            "UPDATE approvals SET state = ?2, decided_by = ?3, decided_ms = ?4, restore_id = ?5
             WHERE id = ?1 AND state = 'pending' AND created_ms > ?6",
            params![id, state, by, now_ms, restore_id, now_ms - APPROVAL_LIFETIME_MS],
        )? > 0)
    }

    /// Links the restore an approval started.
    pub fn approval_restore(&self, id: i64, restore_id: i64) -> Result<()> {
        let c = self.lock();
        c.execute(
            "UPDATE approvals SET restore_id = ?2 WHERE id = ?1",
            params![id, restore_id],
        )?;
        Ok(())
    }

    /// Puts an approval back to pending: approving it could not start the restore.
    pub fn reopen_approval(&self, id: i64) -> Result<()> {
        let c = self.lock();
        c.execute(
            "UPDATE approvals SET state = 'pending', decided_by = NULL, decided_ms = NULL WHERE id = ?1 AND restore_id IS NULL",
            [id],
        )?;
        Ok(())
    }

    /// What restores started since `since_ms` are estimated to cost (cancelled ones
    /// included: their retrieval may already have been asked for).
    pub fn restore_spend_since(&self, since_ms: i64) -> Result<f64> {
        let c = self.lock();
        Ok(c.query_row(
            "SELECT coalesce(sum(est_cost_cny), 0) FROM restores WHERE created_ms >= ?1",
            [since_ms],
            |r| r.get(0),
        )?)
    }
}

fn lapse(mut a: Approval, now_ms: i64) -> Approval {
    if a.state == "pending" && a.created_ms <= now_ms - APPROVAL_LIFETIME_MS {
        a.state = "expired".into();
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cat() -> (tempfile::TempDir, Catalog) {
        let d = tempfile::tempdir().unwrap();
        let c = Catalog::open(&d.path().join("c.db"), true).unwrap();
        (d, c)
    }

    #[test]
    fn users_sessions_and_revocation() {
        let (_d, c) = cat();
        c.add_user("mum", "h1", Role::Viewer, 1).unwrap();
        assert!(c.add_user("mum", "h2", Role::Admin, 2).is_err(), "no second mum");
        assert!(c.add_user("a b", "h", Role::Viewer, 2).is_err(), "no spaces");
        c.add_session("s1", "mum", "csrf", 10, 1000).unwrap();
        assert_eq!(c.session("s1", 20).unwrap().unwrap().role, Role::Viewer);
        assert!(c.session("s1", 1000).unwrap().is_none(), "expired");
        // A new password ends the sessions.
        assert!(c.set_user("mum", "h3", Some(Role::Admin), 30).unwrap());
        assert!(c.session("s1", 40).unwrap().is_none());
        c.add_session("s2", "mum", "csrf", 50, 1000).unwrap();
        assert_eq!(c.session("s2", 60).unwrap().unwrap().role, Role::Admin);
        assert!(c.delete_user("mum").unwrap());
        assert!(
            c.session("s2", 60).unwrap().is_none(),
            "deleting a user ends their sessions"
        );
    }

    #[test]
    fn the_config_password_becomes_the_admin_once() {
        let (_d, c) = cat();
        assert!(c.import_config_password("hashA", 1).unwrap());
        assert!(!c.import_config_password("hashA", 2).unwrap(), "only when it changed");
        let u = c.user(CONFIG_USER).unwrap().unwrap();
        assert_eq!((u.hash.as_str(), u.role), ("hashA", Role::Admin));
        // `camvault user passwd admin` is not undone by the next start...
        c.set_user(CONFIG_USER, "hashB", None, 3).unwrap();
        assert!(!c.import_config_password("hashA", 4).unwrap());
        // ...but a new `camvault passwd` is applied.
        assert!(c.import_config_password("hashC", 5).unwrap());
        assert_eq!(c.user(CONFIG_USER).unwrap().unwrap().hash, "hashC");
    }

    #[test]
    fn approvals_are_decided_once_and_bounded() {
        let (_d, c) = cat();
        let a = NewApproval {
            requested_by: "kid",
            camera: "cam",
            from_ms: 0,
            to_ms: 1,
            tier: "standard",
            est_cost_cny: 3.0,
            hours: 2.0,
        };
        let id = c.add_approval(&a, 100).unwrap();
        assert!(c.decide_approval(id, "refused", "mum", None, 200).unwrap());
        assert!(
            !c.decide_approval(id, "approved", "dad", None, 300).unwrap(),
            "single decision"
        );
        assert_eq!(c.approval(id, 400).unwrap().unwrap().decided_by.as_deref(), Some("mum"));
        for _ in 0..MAX_PENDING_PER_USER {
            c.add_approval(&a, 500).unwrap();
        }
        assert!(c.add_approval(&a, 500).is_err(), "bounded per user");
        let last = c.approvals(Some("kid"), 1, 600).unwrap()[0].id;
        assert_eq!(
            c.approval(last, 500 + APPROVAL_LIFETIME_MS).unwrap().unwrap().state,
            "expired"
        );
        assert!(!c
            .decide_approval(last, "approved", "mum", None, 500 + APPROVAL_LIFETIME_MS)
            .unwrap());
    }
}
