//! Spending needs consent (issue 17): who may start a restore that costs money, viewers'
//! requests and admins' decisions, the signed links in alert messages, the monthly
//! restore budget, and the admin's view of users.
//!
//! - A restore estimated above `restore.approval_cny` is started only by an admin; a
//!   viewer asks (`POST /api/approvals`), every admin hears of it through the alert
//!   channels, and one approves or refuses, on the dashboard or from the message's link.
//! - The link (`/approve/ID?t=EXPIRY.MAC`) is signed with a key kept in the catalog, names
//!   one approval, expires after [`LINK_HOURS`], and is spent with the decision (an
//!   approval is decided once). It grants nothing by itself: the page it opens needs an
//!   admin's login, and a decision is a POST with the session's CSRF token. Link previews
//!   in chat apps fetch the URL; a GET never decides. See docs/security.md.
//! - `restore.budget_cny_month`: restores started this calendar month (this machine's
//!   zone) may be estimated at this much together; a restore that would go over is
//!   refused, naming the budget and what is left, whoever asks.

use anyhow::{anyhow, Result};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::{admin_only, Role, Session};
use super::{blocking, fail_msg, now_ms, App};
use crate::catalog::users::NewApproval;
use crate::catalog::Catalog;
use crate::config::Config;
use crate::restore;

/// How long an approval link in an alert message stays valid.
pub const LINK_HOURS: i64 = 24;
const LINK_KEY: &str = "web.approval_link_key";

/// Who did something, as shown to admins.
fn who(s: &Session) -> String {
    s.user.clone().unwrap_or_else(|| "local".into())
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The first millisecond of this calendar month in this machine's zone.
fn month_start_ms(now_ms: i64) -> Result<i64> {
    let now = jiff::Timestamp::from_millisecond(now_ms)?.to_zoned(jiff::tz::TimeZone::system());
    Ok(now.first_of_month()?.start_of_day()?.timestamp().as_millisecond())
}

/// The month's restore budget: its size (0 = none), what restores started this month are
/// estimated at, and what is left.
pub fn budget(cfg: &Config, cat: &Catalog, now_ms: i64) -> Result<Value> {
    let spent = cat.restore_spend_since(month_start_ms(now_ms)?)?;
    let month = cfg.restore.budget_cny_month;
    Ok(json!({
        "month_cny": month,
        "spent_cny": round2(spent),
        "left_cny": (month > 0.0).then(|| round2((month - spent).max(0.0))),
        "approval_cny": cfg.restore.approval_cny,
    }))
}

/// Why a restore estimated at `cost` is refused by the budget, if it is.
pub fn over_budget(cfg: &Config, cat: &Catalog, cost: f64, now_ms: i64) -> Result<Option<crate::msg::Msg>> {
    let month = cfg.restore.budget_cny_month;
    if month <= 0.0 || cost <= 0.0 {
        return Ok(None);
    }
    let spent = cat.restore_spend_since(month_start_ms(now_ms)?)?;
    let left = (month - spent).max(0.0);
    Ok((cost > left + 1e-9).then(|| {
        crate::msg!(
            "api.over_budget",
            cost = format!("{cost:.2}"),
            month = format!("{month:.2}"),
            left = format!("{left:.2}")
        )
    }))
}

fn link_key(cat: &Catalog) -> Result<Vec<u8>> {
    if let Some(k) = cat.kv_get(LINK_KEY)? {
        return Ok(k.into_bytes());
    }
    use std::io::Read;
    let mut b = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut b)?;
    let k: String = b.iter().map(|x| format!("{x:02x}")).collect();
    cat.kv_set(LINK_KEY, &k)?;
    // Another request may have set one first: use what is stored.
    Ok(cat.kv_get(LINK_KEY)?.unwrap_or(k).into_bytes())
}

fn link_mac(key: &[u8], id: i64, expires_s: i64) -> String {
    use hmac::{Hmac, Mac};
    let mut m = Hmac::<sha2::Sha256>::new_from_slice(key).expect("any key length");
    m.update(format!("camvault approval\n{id}\n{expires_s}").as_bytes());
    m.finalize().into_bytes().iter().map(|x| format!("{x:02x}")).collect()
}

/// The token of an approval link: `EXPIRY.MAC`.
pub fn link_token(cat: &Catalog, id: i64, now_ms: i64) -> Result<String> {
    let expires = now_ms / 1000 + LINK_HOURS * 3600;
    Ok(format!("{expires}.{}", link_mac(&link_key(cat)?, id, expires)))
}

/// Whether `token` is a link for approval `id` that has not expired.
pub fn link_valid(cat: &Catalog, id: i64, token: &str, now_ms: i64) -> Result<bool> {
    let Some((exp, mac)) = token.split_once('.') else {
        return Ok(false);
    };
    let Ok(exp) = exp.parse::<i64>() else {
        return Ok(false);
    };
    let want = link_mac(&link_key(cat)?, id, exp);
    let same = want.len() == mac.len() && want.bytes().zip(mac.bytes()).fold(0u8, |a, (x, y)| a | (x ^ y)) == 0;
    Ok(same && exp > now_ms / 1000)
}

/// The restore a request body names, planned now.
#[derive(Deserialize)]
pub struct RangeBody {
    pub camera: String,
    pub from_ms: i64,
    pub to_ms: i64,
    pub tier: Option<crate::store::RestoreTier>,
}

fn request_of(
    cfg: &Config,
    camera: &str,
    from_ms: i64,
    to_ms: i64,
    tier: crate::store::RestoreTier,
) -> restore::Request {
    restore::Request {
        camera: Some(camera.to_string()),
        from_ms,
        to_ms,
        key: None,
        keys: Vec::new(),
        tier,
        days: cfg.restore.days,
        merge: true,
        out_dir: String::new(),
        drill: false,
        max_wait_hours: None,
    }
}

/// Plans `req` against the store; `Err` is the refusal to answer when the plan cannot be
/// made (502, with the reason).
pub(super) async fn plan(app: &App, req: &restore::Request) -> Result<restore::Plan, Response> {
    restore::plan(&app.cfg, &app.catalog, &*app.store, req)
        .await
        .map_err(plan_failed)
}

/// The refusal of a restore whose plan could not be made.
pub(super) fn plan_failed(e: anyhow::Error) -> Response {
    fail_msg(
        StatusCode::BAD_GATEWAY,
        crate::msg!("api.plan_failed", detail = format!("{e:#}")),
    )
}

/// Whether `session` may start a restore estimated at `cost` right away: `Err` is the
/// answer to give (over budget: 402; a viewer above the approval threshold: 403).
pub async fn may_start(app: &App, session: &Session, cost: f64) -> Result<(), Response> {
    let (cfg, cat) = (app.cfg.clone(), app.catalog.clone());
    let over = blocking(move || over_budget(&cfg, &cat, cost, now_ms())).await?;
    if let Some(msg) = over {
        return Err(fail_msg(StatusCode::PAYMENT_REQUIRED, msg));
    }
    if cost > app.cfg.restore.approval_cny && session.role != Role::Admin {
        let mut r = fail_msg(
            StatusCode::FORBIDDEN,
            crate::msg!(
                "api.needs_approval",
                cost = format!("{cost:.2}"),
                limit = format!("{:.2}", app.cfg.restore.approval_cny)
            ),
        );
        r.headers_mut()
            .insert("x-camvault-needs-approval", axum::http::HeaderValue::from_static("1"));
        return Err(r);
    }
    Ok(())
}

/// `GET /api/me`: who is logged in, their role, and the month's budget.
pub async fn me(State(app): State<App>, Extension(s): Extension<Session>) -> Response {
    let (cfg, cat) = (app.cfg.clone(), app.catalog.clone());
    match blocking(move || budget(&cfg, &cat, now_ms())).await {
        Ok(b) => Json(json!({
            "user": s.user,
            "role": s.role,
            "login": s.user.is_some(),
            "language": s.lang.map(|l| l.tag()),
            "budget": b,
        }))
        .into_response(),
        Err(r) => r,
    }
}

/// `POST /api/approvals`: a viewer (or anyone) asks an admin to approve a restore.
pub async fn request(State(app): State<App>, Extension(s): Extension<Session>, Json(b): Json<RangeBody>) -> Response {
    if let Some(r) = super::range::TimeRange::refusal(b.from_ms, b.to_ms, super::api::RESTORE_MAX_DAYS) {
        return r;
    }
    let tier = b.tier.unwrap_or(app.cfg.restore.tier);
    let req = request_of(&app.cfg, &b.camera, b.from_ms, b.to_ms, tier);
    let plan = match plan(&app, &req).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    if plan.total_cny <= app.cfg.restore.approval_cny {
        return fail_msg(StatusCode::BAD_REQUEST, crate::msg!("api.no_approval_needed"));
    }
    let (cfg, cat, user) = (app.cfg.clone(), app.catalog.clone(), who(&s));
    let res = blocking(move || {
        let now = now_ms();
        if let Some(msg) = over_budget(&cfg, &cat, plan.total_cny, now)? {
            return Ok(Err(msg));
        }
        let tier_s = serde_json::to_value(tier)?.as_str().unwrap_or("standard").to_string();
        let id = cat.add_approval(
            &NewApproval {
                requested_by: &user,
                camera: &b.camera,
                from_ms: b.from_ms,
                to_ms: b.to_ms,
                tier: &tier_s,
                est_cost_cny: plan.total_cny,
                hours: plan.hours,
            },
            now,
        )?;
        let tz = cat
            .camera_zones()?
            .into_iter()
            .find(|(c, _)| *c == b.camera)
            .map(|(_, tz)| tz)
            .unwrap_or_default();
        let when = |ms: i64| crate::report::local_time(ms, &tz);
        let url = if cfg.http.public_url.is_empty() {
            None
        } else {
            Some(format!(
                "{}/approve/{id}?t={}",
                cfg.http.public_url.trim_end_matches('/'),
                link_token(&cat, id, now)?
            ))
        };
        let link = match &url {
            None => {
                "open camvault's dashboard to approve or refuse it (set http.public_url for a link here)".to_string()
            }
            Some(url) => {
                format!("approve or refuse (an admin's login is needed; the link works for {LINK_HOURS} h): {url}")
            }
        };
        let (from, to, cost) = (when(b.from_ms), when(b.to_ms), format!("{:.2}", plan.total_cny));
        // The alert in `alerts.language`: the same as a key and arguments.
        let msg = match &url {
            Some(url) => crate::msg!(
                "event.body.approval_link",
                user = user,
                camera = b.camera,
                from = from,
                to = to,
                tier = tier_s,
                cost = cost,
                hours = plan.hours,
                link_hours = LINK_HOURS,
                url = url
            ),
            None => crate::msg!(
                "event.body.approval_dashboard",
                user = user,
                camera = b.camera,
                from = from,
                to = to,
                tier = tier_s,
                cost = cost,
                hours = plan.hours
            ),
        };
        cat.record_event_msg(
            "restore_approval",
            &format!(
                "{user} asks to restore {} from {from} to {to} ({tier_s}): about ¥{cost}, ready within {} h. {link}",
                b.camera, plan.hours
            ),
            &msg,
        )?;
        Ok(Ok(id))
    })
    .await;
    match res {
        Ok(Ok(id)) => {
            tracing::info!(id, user = %who(&s), "restore approval requested");
            (StatusCode::ACCEPTED, Json(json!({"approval": id, "state": "pending"}))).into_response()
        }
        Ok(Err(msg)) => fail_msg(StatusCode::PAYMENT_REQUIRED, msg),
        Err(r) => r,
    }
}

/// `GET /api/approvals`: an admin sees everyone's, a viewer their own.
pub async fn list(State(app): State<App>, Extension(s): Extension<Session>) -> Response {
    let cat = app.catalog.clone();
    let user = (s.role != Role::Admin).then(|| who(&s));
    match blocking(move || cat.approvals(user.as_deref(), 50, now_ms())).await {
        Ok(a) => Json(json!({"approvals": a})).into_response(),
        Err(r) => r,
    }
}

#[derive(Deserialize, Default)]
pub struct LinkQuery {
    #[serde(default)]
    t: String,
}

/// Checks a link's token when one is given; `Some(403)` when it is not valid.
async fn bad_link(app: &App, id: i64, t: &str) -> Option<Response> {
    if t.is_empty() {
        return None;
    }
    let (cat, t) = (app.catalog.clone(), t.to_string());
    match blocking(move || link_valid(&cat, id, &t, now_ms())).await {
        Ok(true) => None,
        Ok(false) => Some(fail_msg(StatusCode::FORBIDDEN, crate::msg!("api.link_invalid"))),
        Err(r) => Some(r),
    }
}

/// `GET /api/approvals/{id}`: one request (an admin's, or the viewer's own) and the budget.
pub async fn show(
    State(app): State<App>,
    Extension(s): Extension<Session>,
    Path(id): Path<i64>,
    Query(q): Query<LinkQuery>,
) -> Response {
    if let Some(r) = bad_link(&app, id, &q.t).await {
        return r;
    }
    let (cfg, cat) = (app.cfg.clone(), app.catalog.clone());
    let res = blocking(move || {
        let a = cat
            .approval(id, now_ms())?
            .ok_or_else(|| anyhow!("no approval #{id}"))?;
        Ok((a.clone(), budget(&cfg, &cat, now_ms())?))
    })
    .await;
    match res {
        Ok((a, _)) if s.role != Role::Admin && a.requested_by != who(&s) => {
            fail_msg(StatusCode::FORBIDDEN, crate::msg!("api.not_yours"))
        }
        Ok((a, b)) => Json(json!({"approval": a, "budget": b, "can_decide": s.role == Role::Admin})).into_response(),
        Err(r) => r,
    }
}

#[derive(Deserialize)]
pub struct Decision {
    /// `approve` or `refuse`.
    decision: String,
    /// The link's token, when the decision comes from an alert's link.
    #[serde(default)]
    t: String,
}

/// `POST /api/approvals/{id}`: an admin approves (the restore starts) or refuses, once.
pub async fn decide(
    State(app): State<App>,
    Extension(s): Extension<Session>,
    Path(id): Path<i64>,
    Json(d): Json<Decision>,
) -> Response {
    if let Some(r) = admin_only(&s) {
        return r;
    }
    if let Some(r) = bad_link(&app, id, &d.t).await {
        return r;
    }
    let by = who(&s);
    let cat = app.catalog.clone();
    let a = match blocking(move || cat.approval(id, now_ms())).await {
        Ok(Some(a)) => a,
        Ok(None) => return fail_msg(StatusCode::NOT_FOUND, crate::msg!("api.no_approval", id = id)),
        Err(r) => return r,
    };
    if a.state != "pending" {
        let by = a.decided_by.as_deref().unwrap_or("-");
        let m = match a.state.as_str() {
            "approved" => crate::msg!("api.decided.approved", id = id, by = by),
            "refused" => crate::msg!("api.decided.refused", id = id, by = by),
            _ => crate::msg!("api.decided.expired", id = id),
        };
        return fail_msg(StatusCode::CONFLICT, m);
    }
    match d.decision.as_str() {
        "refuse" => {
            let (cat, by2) = (app.catalog.clone(), by.clone());
            match blocking(move || cat.decide_approval(id, "refused", &by2, None, now_ms())).await {
                Ok(true) => {
                    tracing::info!(id, by = %by, "restore approval refused");
                    Json(json!({"approval": id, "state": "refused"})).into_response()
                }
                Ok(false) => fail_msg(StatusCode::CONFLICT, crate::msg!("api.decided_meanwhile", id = id)),
                Err(r) => r,
            }
        }
        "approve" => approve(app, a, by).await,
        other => fail_msg(
            StatusCode::BAD_REQUEST,
            crate::msg!("api.bad_decision", value = format!("{other:?}")),
        ),
    }
}

async fn approve(app: App, a: crate::catalog::users::Approval, by: String) -> Response {
    let id = a.id;
    let tier: crate::store::RestoreTier = match serde_json::from_value(json!(a.tier)) {
        Ok(t) => t,
        Err(_) => {
            return fail_msg(
                StatusCode::INTERNAL_SERVER_ERROR,
                crate::msg!("api.bad_tier", id = id, tier = format!("{:?}", a.tier)),
            )
        }
    };
    let req = request_of(&app.cfg, &a.camera, a.from_ms, a.to_ms, tier);
    let plan = match plan(&app, &req).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    // What the admin approves is the price the request showed; more is a new question.
    if plan.total_cny > a.est_cost_cny * 1.1 + 0.01 {
        return fail_msg(
            StatusCode::CONFLICT,
            crate::msg!(
                "api.price_changed",
                was = format!("{:.2}", a.est_cost_cny),
                now = format!("{:.2}", plan.total_cny)
            ),
        );
    }
    let (cfg, cat) = (app.cfg.clone(), app.catalog.clone());
    let res = blocking(move || {
        let now = now_ms();
        if let Some(msg) = over_budget(&cfg, &cat, plan.total_cny, now)? {
            return Ok(Err((StatusCode::PAYMENT_REQUIRED, msg)));
        }
        // Claimed first: two admins approving at once start one restore.
        if !cat.decide_approval(id, "approved", &by, None, now)? {
            return Ok(Err((
                StatusCode::CONFLICT,
                crate::msg!("api.decided_meanwhile", id = id),
            )));
        }
        match restore::start(&cat, &req, &plan, now) {
            Ok(rid) => {
                cat.approval_restore(id, rid)?;
                Ok(Ok(rid))
            }
            Err(e) => {
                cat.reopen_approval(id)?;
                Err(e)
            }
        }
    })
    .await;
    match res {
        Ok(Ok(rid)) => {
            tracing::info!(id, restore = rid, "restore approval granted: restore started");
            app.restore_wake.notify_one();
            Json(json!({"approval": id, "state": "approved", "restore": rid})).into_response()
        }
        Ok(Err((code, msg))) => fail_msg(code, msg),
        Err(r) => r,
    }
}

/// `GET /api/users`: the accounts, for admins.
pub async fn users(State(app): State<App>, Extension(s): Extension<Session>) -> Response {
    if let Some(r) = admin_only(&s) {
        return r;
    }
    let cat = app.catalog.clone();
    match blocking(move || cat.users(now_ms())).await {
        Ok(u) => Json(json!({"users": u})).into_response(),
        Err(r) => r,
    }
}

/// `POST /api/users/{name}/revoke`: ends a user's sessions, for admins.
pub async fn revoke(State(app): State<App>, Extension(s): Extension<Session>, Path(name): Path<String>) -> Response {
    if let Some(r) = admin_only(&s) {
        return r;
    }
    let cat = app.catalog.clone();
    let n2 = name.clone();
    match blocking(move || cat.revoke_sessions(&n2)).await {
        Ok(n) => {
            tracing::info!(user = %name, sessions = n, by = %who(&s), "sessions revoked");
            Json(json!({"user": name, "revoked": n})).into_response()
        }
        Err(r) => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_signed_per_approval_and_expire() {
        let d = tempfile::tempdir().unwrap();
        let cat = Catalog::open(&d.path().join("c.db"), true).unwrap();
        let now = 1_700_000_000_000;
        let t = link_token(&cat, 7, now).unwrap();
        assert!(link_valid(&cat, 7, &t, now).unwrap());
        assert!(!link_valid(&cat, 8, &t, now).unwrap(), "another approval");
        assert!(
            !link_valid(&cat, 7, &t, now + LINK_HOURS * 3_600_000 + 1000).unwrap(),
            "expired"
        );
        let (exp, mac) = t.split_once('.').unwrap();
        let later = format!("{}.{mac}", exp.parse::<i64>().unwrap() + 86_400);
        assert!(!link_valid(&cat, 7, &later, now).unwrap(), "expiry is signed");
        assert!(!link_valid(&cat, 7, "garbage", now).unwrap());
    }
}
