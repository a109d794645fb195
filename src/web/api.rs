//! The JSON the pages read: the dashboard, a camera's day and month, search, and restores
//! (plan, start, progress). Times are milliseconds since the epoch; days and months are
//! in the camera's zone.

use anyhow::{anyhow, bail, Result};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{blocking, now_ms, App};
use crate::catalog::web::Clip;
use crate::catalog::Catalog;
use crate::msg::Msg;
use crate::restore::{self, Request, Source};

/// Where a clip lives, as the timeline colours it.
pub fn tier(c: &Clip) -> &'static str {
    if c.local {
        "local"
    } else if c
        .restored_path
        .as_deref()
        .is_some_and(|p| std::path::Path::new(p).is_file())
    {
        "restored"
    } else if matches!(c.restore_state.as_deref(), Some("pending" | "requested" | "ready")) {
        "restoring"
    } else if c.storage_class.as_deref().is_some_and(crate::store::is_archive_class) {
        "archived"
    } else {
        "standard"
    }
}

/// A clip's end: as recorded, else start + duration, else a minute.
fn end_ms(c: &Clip) -> i64 {
    c.end_ms
        .or(c.duration_ms.map(|d| c.start_ms + d))
        .filter(|e| *e > c.start_ms)
        .unwrap_or(c.start_ms + 60_000)
}

fn hms(ms: i64, tz: &TimeZone) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.to_zoned(tz.clone()).strftime("%H:%M:%S").to_string())
        .unwrap_or_default()
}

fn clip_json(cfg: &crate::config::Config, c: &Clip, tz: &TimeZone) -> Value {
    let t = tier(c);
    // A disk mirror's copy plays at once, whatever the main store's class (issue 21).
    let on_disk = t != "local" && t != "restored" && super::media::disk_mirror_path(cfg, c).is_some();
    json!({
        "id": c.id,
        "camera": c.camera,
        "key": c.key,
        "start_ms": c.start_ms,
        "end_ms": end_ms(c),
        "start": hms(c.start_ms, tz),
        "end": hms(end_ms(c), tz),
        "date": jiff::Timestamp::from_millisecond(c.start_ms).map(|t| t.to_zoned(tz.clone()).date().to_string()).unwrap_or_default(),
        "size": c.size,
        "tier": t,
        "playable": t == "local" || t == "restored" || on_disk,
        "mirror": on_disk,
        "codec": c.codec,
        "class": c.storage_class,
    })
}

/// The camera's zone; `None` for a camera the catalog does not know.
fn zone(cat: &Catalog, camera: &str) -> Result<Option<TimeZone>> {
    Ok(cat
        .camera_zones()?
        .into_iter()
        .find(|(id, _)| id == camera)
        .map(|(_, tz)| TimeZone::get(&tz).unwrap_or(TimeZone::UTC)))
}

/// The camera's zone, or a 404 naming the camera (one the catalog does not know: a typo
/// in the address, or a camera that never recorded here).
async fn known_zone(app: &App, camera: &str) -> Result<TimeZone, Response> {
    let (cat, id) = (app.catalog.clone(), camera.to_string());
    match blocking(move || zone(&cat, &id)).await? {
        Some(tz) => Ok(tz),
        None => Err(super::fail_msg(
            StatusCode::NOT_FOUND,
            crate::msg!("api.no_camera", camera = format!("{camera:?}")),
        )),
    }
}

fn day_bounds(date: Date, tz: &TimeZone) -> Result<(i64, i64)> {
    let start = date.to_zoned(tz.clone())?.timestamp().as_millisecond();
    let end = date.tomorrow()?.to_zoned(tz.clone())?.timestamp().as_millisecond();
    Ok((start, end))
}

fn bad(m: Msg) -> Response {
    super::fail_msg(StatusCode::BAD_REQUEST, m)
}

/// The years the pages show and step through. A date outside them (the day after the
/// last one the clock can hold, say) is the caller's mistake, answered 400, not a failure
/// of camvault's.
const YEARS: std::ops::RangeInclusive<i16> = 1900..=9998;

/// A date parameter (`YYYY-MM-DD`, or a month's first day): `Err` is why it is refused
/// (answered 400): `malformed` when it is not a date, else out of [`YEARS`], naming the value.
fn date_param(text: &str, value: &str, malformed: Msg) -> Result<Date, Msg> {
    let d = text.parse::<Date>().map_err(|_| malformed)?;
    if !YEARS.contains(&d.year()) {
        return Err(crate::msg!(
            "api.date_range",
            value = format!("{value:?}"),
            from = YEARS.start(),
            to = YEARS.end()
        ));
    }
    Ok(d)
}

/// A `YYYY-MM-DD` parameter.
fn day_param(s: &str) -> Result<Date, Msg> {
    date_param(s, s, crate::msg!("api.bad_date", value = format!("{s:?}")))
}

/// A `YYYY-MM` parameter, as its first day.
fn month_param(s: &str) -> Result<Date, Msg> {
    date_param(
        &format!("{s}-01"),
        s,
        crate::msg!("api.bad_month", value = format!("{s:?}")),
    )
}

/// A camera's date parameter with the camera's zone: `Err` is the answer, a 400 for the
/// date (checked first), a 404 for a camera the catalog does not know.
async fn camera_date(app: &App, camera: &str, date: Result<Date, Msg>) -> Result<(Date, TimeZone), Response> {
    let date = date.map_err(bad)?;
    Ok((date, known_zone(app, camera).await?))
}

/// An optional `from`/`to` day (empty is none).
fn from_to_param(s: &Option<String>) -> Result<Option<Date>, Msg> {
    match s.as_deref().filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(d) => date_param(d, d, crate::msg!("api.bad_from_to")).map(Some),
    }
}

async fn json_of(f: impl FnOnce() -> Result<Value> + Send + 'static) -> Response {
    match blocking(f).await {
        Ok(v) => Json(v).into_response(),
        Err(r) => r,
    }
}

pub async fn status(
    State(app): State<App>,
    Extension(session): Extension<super::auth::Session>,
    headers: axum::http::HeaderMap,
) -> Response {
    let lang = session.lang.unwrap_or_else(|| super::pages::lang(&app, &headers));
    json_of(move || {
        let mut s = crate::report::status_json(&app.cfg, &app.catalog, now_ms())?;
        // This serve's workers as they are now, not as last recorded for `status`.
        s["workers"] = serde_json::to_value(app.metrics.workers.snapshot())?;
        problems_in(&mut s["health"], lang);
        Ok(s)
    })
    .await
}

/// Gives each health problem its `text` in the reader's language (beside `message`, the
/// English, and `detail`, the key and arguments), for clients that do not translate.
fn problems_in(health: &mut Value, lang: super::i18n::Lang) {
    for p in health["problems"].as_array_mut().into_iter().flatten() {
        let text = crate::msg::from_stored(&p["detail"].to_string())
            .and_then(|m| m.into_iter().next())
            .map(|m| m.render(lang))
            .or_else(|| p["message"].as_str().map(str::to_string));
        p["text"] = json!(text);
    }
}

pub async fn cameras(State(app): State<App>) -> Response {
    json_of(move || {
        let now = jiff::Timestamp::now();
        let cams: Vec<Value> = app
            .catalog
            .camera_zones()?
            .into_iter()
            .map(|(id, tz)| {
                let z = TimeZone::get(&tz).unwrap_or(TimeZone::UTC);
                json!({"id": id, "timezone": tz, "today": now.to_zoned(z).date().to_string()})
            })
            .collect();
        Ok(json!(cams))
    })
    .await
}

/// Health, each camera's newest clip, backlog, bytes by tier, the month's cost.
pub async fn dashboard(
    State(app): State<App>,
    Extension(session): Extension<super::auth::Session>,
    headers: axum::http::HeaderMap,
) -> Response {
    let lang = session.lang.unwrap_or_else(|| super::pages::lang(&app, &headers));
    json_of(move || {
        let (cfg, cat) = (&app.cfg, &app.catalog);
        let now = now_ms();
        let mut status = crate::report::status_json(cfg, cat, now)?;
        problems_in(&mut status["health"], lang);
        let mut cameras = Vec::new();
        for (id, tz) in cat.camera_zones()? {
            let z = TimeZone::get(&tz).unwrap_or(TimeZone::UTC);
            let last = cat.last_clip(&id)?;
            cameras.push(json!({
                "id": id,
                "timezone": tz,
                "today": jiff::Timestamp::now().to_zoned(z.clone()).date().to_string(),
                "last": last.as_ref().map(|c| clip_json(cfg, c, &z)),
                "last_local": last.as_ref().map(|c| crate::report::local_time(c.start_ms, &tz)),
            }));
        }
        let classes: Vec<Value> = cat
            .stored_by_class()?
            .into_iter()
            .map(|(class, files, bytes)| json!({"class": class, "files": files, "bytes": bytes}))
            .collect();
        let bill = crate::cost::bill_now(cfg, cat, now)?;
        let today = jiff::Timestamp::now().to_zoned(TimeZone::UTC).date();
        let days = today.days_in_month() as f64;
        let elapsed = today.day() as f64;
        let remaining = days - elapsed;
        let rate_end = bill.monthly_cny + bill.daily_gb * remaining * cfg.prices.standard_gb_month;
        let so_far = bill.monthly_cny * elapsed / days;
        let projected = so_far + (bill.monthly_cny + rate_end) / 2.0 * remaining / days;
        let restores: Vec<Value> = cat
            .restores(5)?
            .into_iter()
            .map(|r| json!({"id": r.id, "state": r.state, "created_ms": r.created_ms, "camera": r.camera, "from_ms": r.from_ms, "to_ms": r.to_ms}))
            .collect();
        Ok(json!({
            "health": status["health"],
            "files": status["files"],
            "bytes": status["bytes"],
            "oldest_pending_secs": status["oldest_pending_secs"],
            "cameras": cameras,
            "classes": classes,
            "cost": {
                "monthly_rate_cny": round2(bill.monthly_cny),
                "month_so_far_cny": round2(so_far),
                "month_projected_cny": round2(projected),
                "standard_gb": bill.standard_gb,
                "archive_gb": bill.archive_gb,
                "daily_gb": bill.daily_gb,
            },
            "restores": restores,
            "bucket": bucket_beside_catalog(&status, &classes),
        }))
    })
    .await
}

/// The bucket's own numbers (the last hourly check: GetBucketStat or a listing's sums)
/// beside the catalog's stored objects, and whether the `bucket_drift` health rule says
/// they disagree; `null` before the first check.
fn bucket_beside_catalog(status: &Value, classes: &[Value]) -> Value {
    let b = &status["bucket"];
    if b.is_null() {
        return Value::Null;
    }
    let problem = status["health"]["problems"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["rule"] == "bucket_drift"));
    let drift = problem.map(|p| p["message"].clone());
    let sum = |f: &str| classes.iter().filter_map(|c| c[f].as_u64()).sum::<u64>();
    let as_of_ms = b["as_of"]
        .as_str()
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .map(|t| t.as_millisecond());
    json!({
        "source": b["source"],
        "as_of_ms": as_of_ms,
        "objects": b["objects"],
        "bytes": b["bytes"],
        "classes": b["classes"],
        "catalog": {"objects": sum("files"), "bytes": sum("bytes")},
        "state": if drift.is_some() { "disagree" } else { "agree" },
        "drift": drift,
        "drift_detail": problem.map(|p| p["detail"].clone()),
    })
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[derive(Deserialize)]
pub struct DayQuery {
    camera: String,
    date: String,
}

/// One camera's day: every clip with its tier, and the neighbouring days.
pub async fn day(State(app): State<App>, Query(q): Query<DayQuery>) -> Response {
    let (date, tz) = match camera_date(&app, &q.camera, day_param(&q.date)).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    json_of(move || {
        let (from, to) = day_bounds(date, &tz)?;
        let clips = app.catalog.clips(Some(&q.camera), from, to, 100_000)?;
        Ok(json!({
            "camera": q.camera,
            // The page shows times in the camera's zone, in the viewer's language.
            "timezone": tz.iana_name().unwrap_or("UTC"),
            "date": date.to_string(),
            "prev": date.yesterday()?.to_string(),
            "next": date.tomorrow()?.to_string(),
            "start_ms": from,
            "end_ms": to,
            "clips": clips.iter().map(|c| clip_json(&app.cfg, c, &tz)).collect::<Vec<_>>(),
        }))
    })
    .await
}

#[derive(Deserialize)]
pub struct MonthQuery {
    camera: String,
    /// YYYY-MM
    month: String,
}

/// One camera's month: per day, clips and the share of the day they cover.
pub async fn month(State(app): State<App>, Query(q): Query<MonthQuery>) -> Response {
    let (first, tz) = match camera_date(&app, &q.camera, month_param(&q.month)).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    json_of(move || {
        let last = first.last_of_month();
        let (from, _) = day_bounds(first, &tz)?;
        let (_, to) = day_bounds(last, &tz)?;
        let clips = app.catalog.clips(Some(&q.camera), from, to, 1_000_000)?;
        let mut days = Vec::new();
        let mut d = first;
        let mut i = 0;
        while d <= last {
            let (a, b) = day_bounds(d, &tz)?;
            let (mut n, mut covered, mut archived) = (0u64, 0i64, 0u64);
            while i < clips.len() && clips[i].start_ms < b {
                let c = &clips[i];
                if c.start_ms >= a {
                    n += 1;
                    covered += end_ms(c).min(b) - c.start_ms;
                    archived += (tier(c) == "archived") as u64;
                }
                i += 1;
            }
            days.push(json!({
                "date": d.to_string(),
                "clips": n,
                "archived": archived,
                "coverage": (covered as f64 / (b - a) as f64).clamp(0.0, 1.0),
            }));
            d = d.tomorrow()?;
        }
        Ok(json!({
            "camera": q.camera,
            "month": first.strftime("%Y-%m").to_string(),
            "prev": first.checked_sub(jiff::Span::new().months(1))?.strftime("%Y-%m").to_string(),
            "next": first.checked_add(jiff::Span::new().months(1))?.strftime("%Y-%m").to_string(),
            "first_weekday": first.weekday().to_monday_zero_offset(),
            "days": days,
        }))
    })
    .await
}

#[derive(Deserialize)]
pub struct SearchQuery {
    camera: Option<String>,
    /// First day, YYYY-MM-DD (camera's zone).
    from: String,
    /// Last day, inclusive.
    to: String,
    /// Time of day, HH:MM; a window past midnight (22:00-02:00) wraps.
    tod_from: Option<String>,
    tod_to: Option<String>,
}

fn minutes(s: &Option<String>) -> Result<Option<u32>> {
    match s.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(v) => crate::config::parse_hhmm(v)
            .map(Some)
            .map_err(|e| anyhow!("time of day {v:?}: {e}")),
    }
}

/// Clips by camera, date range and time of day, newest last, at most 500.
pub async fn search(State(app): State<App>, Query(q): Query<SearchQuery>) -> Response {
    let day = |s: &str| date_param(s, s, crate::msg!("api.bad_from_to"));
    let (from, to) = match (day(&q.from), day(&q.to)) {
        (Ok(from), Ok(to)) => (from, to),
        (Err(m), _) | (_, Err(m)) => return bad(m),
    };
    json_of(move || {
        let (a, b) = (minutes(&q.tod_from)?, minutes(&q.tod_to)?);
        if to < from {
            bail!("the range ends before it starts");
        }
        let cameras: Vec<(String, String)> = app
            .catalog
            .camera_zones()?
            .into_iter()
            .filter(|(id, _)| q.camera.as_deref().is_none_or(|c| c.is_empty() || c == id))
            .collect();
        let mut out = Vec::new();
        let mut more = false;
        for (id, tz) in cameras {
            let z = TimeZone::get(&tz).unwrap_or(TimeZone::UTC);
            let (start, _) = day_bounds(from, &z)?;
            let (_, end) = day_bounds(to, &z)?;
            for c in app.catalog.clips(Some(&id), start, end, 200_000)? {
                let t = jiff::Timestamp::from_millisecond(c.start_ms)?.to_zoned(z.clone());
                let m = t.hour() as u32 * 60 + t.minute() as u32;
                let inside = match (a, b) {
                    (Some(a), Some(b)) if a <= b => m >= a && m < b,
                    (Some(a), Some(b)) => m >= a || m < b,
                    (Some(a), None) => m >= a,
                    (None, Some(b)) => m < b,
                    (None, None) => true,
                };
                if inside {
                    if out.len() >= 500 {
                        more = true;
                        break;
                    }
                    out.push(clip_json(&app.cfg, &c, &z));
                }
            }
        }
        Ok(json!({"clips": out, "truncated": more}))
    })
    .await
}

#[derive(Deserialize)]
pub struct RestoreBody {
    camera: String,
    from_ms: i64,
    to_ms: i64,
    tier: Option<crate::store::RestoreTier>,
    /// Exactly these clips (the activity search's "restore these results"), inside the range.
    #[serde(default)]
    keys: Vec<String>,
    /// The longest wait accepted, hours: the cheapest copy ready within it (issue 21).
    #[serde(default)]
    max_wait_hours: Option<f64>,
}

/// Clips a restore of listed keys may name at most.
pub const RESTORE_MAX_KEYS: usize = 1000;

fn request(app: &App, b: &RestoreBody) -> Request {
    Request {
        // No camera with listed keys: the results of a search over every camera.
        camera: Some(b.camera.clone()).filter(|c| !c.is_empty() || b.keys.is_empty()),
        from_ms: b.from_ms,
        to_ms: b.to_ms,
        key: None,
        keys: b.keys.clone(),
        tier: b.tier.unwrap_or(app.cfg.restore.tier),
        days: app.cfg.restore.days,
        merge: true,
        out_dir: String::new(),
        drill: false,
        max_wait_hours: b.max_wait_hours.filter(|h| h.is_finite() && *h >= 0.0),
    }
}

/// What the same clips would cost and take at each tier the archive classes offer.
fn tier_options(cfg: &crate::config::Config, p: &restore::Plan) -> Vec<Value> {
    use crate::store::RestoreTier::{Bulk, Expedited, Standard};
    let mut groups: std::collections::BTreeMap<(String, bool), (u64, u64)> = Default::default();
    for i in &p.items {
        let archived = match i.source {
            Source::Archive => true,
            Source::Store => false,
            // A disk mirror's copy is free at every tier; a remote one is a download.
            Source::Mirror
                if i.copies
                    .iter()
                    .any(|o| Some(&o.store) == i.store.as_ref() && o.kind == "fs") =>
            {
                continue
            }
            Source::Mirror => false,
            Source::Cache | Source::Missing => continue,
        };
        let class = if archived { i.class.clone() } else { "Standard".into() };
        let g = groups.entry((class, archived)).or_default();
        g.0 += 1;
        g.1 += i.clip.size;
    }
    let has = |c: &str| groups.keys().any(|(k, a)| *a && k == c);
    let mut tiers = vec![Standard];
    if has("ColdArchive") || has("DeepColdArchive") {
        tiers.insert(0, Expedited);
    }
    if has("ColdArchive") {
        tiers.push(Bulk);
    }
    tiers
        .into_iter()
        .map(|t| {
            let (mut cny, mut hours) = (0.0, 0.0f64);
            for ((class, archived), (n, bytes)) in &groups {
                let lines = crate::cost::restore_estimate(&cfg.prices, class, t, *n, *bytes as f64 / 1e9, p.days);
                cny += lines.iter().map(|l| l.cny).sum::<f64>();
                if *archived {
                    hours = hours.max(crate::cost::restore_hours(class, t));
                }
            }
            json!({"tier": t, "total_cny": round2(cny), "hours": hours})
        })
        .collect()
}

fn plan_json(p: &restore::Plan) -> Value {
    let count = |s: Source| {
        let (n, bytes) = p.count(s);
        json!({"clips": n, "bytes": bytes})
    };
    // Every store's copies of the clips, summed, and how many mirrors hold some (issue 21).
    let copies = restore::copies::by_store(&p.items);
    let mirrors = copies
        .iter()
        .filter(|c| c.store != crate::config::PRIMARY && c.clips > 0)
        .count();
    json!({
        "copies": copies,
        "mirrors": mirrors,
        "local": count(Source::Cache),
        "store": count(Source::Store),
        "archive": count(Source::Archive),
        "mirror": count(Source::Mirror),
        "missing": count(Source::Missing),
        "max_wait_hours": p.max_wait_hours,
        "estimate": p.estimate,
        "total_cny": p.total_cny,
        "hours": p.hours,
        "tier": p.tier,
        "days": p.days,
        "items": p.items.iter().map(|i| json!({
            "key": i.clip.key, "start_ms": i.clip.start_ms, "size": i.clip.size,
            "source": i.source, "class": i.class, "note": i.note,
            "store": i.store, "copies": i.copies,
        })).collect::<Vec<_>>(),
    })
}

/// A restore covers at most this many days (checked without overflow, see [`super::range`]).
pub const RESTORE_MAX_DAYS: i64 = 31;

fn check_range(b: &RestoreBody) -> Option<Response> {
    // Listed clips (search results) may span years: their number is what is bounded.
    if !b.keys.is_empty() {
        return (b.keys.len() > RESTORE_MAX_KEYS).then(|| {
            bad(crate::msg!(
                "api.too_many_keys",
                n = b.keys.len(),
                max = RESTORE_MAX_KEYS
            ))
        });
    }
    super::range::TimeRange::refusal(b.from_ms, b.to_ms, RESTORE_MAX_DAYS)
}

/// What a restore of the range would take: where each clip comes from, cost and time;
/// whether this user needs an admin's approval for it, and the month's budget.
pub async fn restore_plan(
    State(app): State<App>,
    Extension(session): Extension<super::auth::Session>,
    Json(b): Json<RestoreBody>,
) -> Response {
    if let Some(r) = check_range(&b) {
        return r;
    }
    let req = request(&app, &b);
    match restore::plan(&app.cfg, &app.catalog, &*app.store, &req).await {
        Ok(p) => {
            let mut v = plan_json(&p);
            v["tiers"] = json!(tier_options(&app.cfg, &p));
            v["needs_approval"] =
                json!(p.total_cny > app.cfg.restore.approval_cny && session.role != super::auth::Role::Admin);
            let (cfg, cat, cost) = (app.cfg.clone(), app.catalog.clone(), p.total_cny);
            match blocking(move || {
                let now = now_ms();
                Ok((
                    super::approvals::budget(&cfg, &cat, now)?,
                    super::approvals::over_budget(&cfg, &cat, cost, now)?,
                ))
            })
            .await
            {
                Ok((budget, over)) => {
                    v["budget"] = budget;
                    // The English text (as before) and the key for the page's language.
                    v["over_budget"] = json!(over.as_ref().map(|m| m.en()));
                    v["over_budget_msg"] = json!(over);
                }
                Err(r) => return r,
            }
            Json(v).into_response()
        }
        Err(e) => super::approvals::plan_failed(e),
    }
}

/// Plans again (the store may have moved on) and starts the restore; `serve` drives it.
/// Over the month's budget it is refused; above `restore.approval_cny` only an admin may
/// start it (a viewer asks for approval instead, see [`super::approvals`]).
pub async fn restore_start(
    State(app): State<App>,
    Extension(session): Extension<super::auth::Session>,
    Json(b): Json<RestoreBody>,
) -> Response {
    if let Some(r) = check_range(&b) {
        return r;
    }
    let req = request(&app, &b);
    let plan = match super::approvals::plan(&app, &req).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    if let Err(r) = super::approvals::may_start(&app, &session, plan.total_cny).await {
        tracing::warn!(
            user = session.user.as_deref().unwrap_or("local"),
            cost = plan.total_cny,
            "restore refused"
        );
        return r;
    }
    let cat = app.catalog.clone();
    match blocking(move || restore::start(&cat, &req, &plan, now_ms())).await {
        Ok(id) => {
            tracing::info!(id, camera = %b.camera, "restore started from the web interface");
            app.restore_wake.notify_one();
            Json(json!({"id": id})).into_response()
        }
        Err(r) => r,
    }
}

/// A restore and its clips.
pub async fn restore_progress(State(app): State<App>, Path(id): Path<i64>) -> Response {
    let cfg = app.cfg.clone();
    match blocking(move || {
        let Some(r) = app.catalog.restore(id)? else {
            return Ok(None);
        };
        let items = app.catalog.restore_items(id)?;
        // The page's language: keys for the restore's own texts (other systems' words stay).
        let item_msg = |e: &str| restore::item_error_key(e).map(|k| json!({"key": k, "args": {}}));
        let failed: Vec<_> = items
            .iter()
            .filter(|i| i.state == crate::catalog::restores::ItemState::Failed)
            .collect();
        let error_msg = failed.first().and_then(|first| {
            let m = restore::failed_items(failed.len(), items.len(), first);
            (r.error.as_deref() == Some(m.en().as_str())).then(|| {
                let mut v = json!(m);
                if let Some(k) = first.error.as_deref().and_then(item_msg) {
                    v["args"]["error"] = k;
                }
                v
            })
        });
        let mut states = std::collections::BTreeMap::<String, u64>::new();
        for i in &items {
            *states.entry(i.state.as_str().to_string()).or_default() += 1;
        }
        let merged = restore::out_dir(&cfg, &r).join("merged.mp4").is_file();
        let day = match r.camera.as_deref() {
            Some(cam) => zone(&app.catalog, cam).ok().flatten().and_then(|tz| {
                let d = jiff::Timestamp::from_millisecond(r.from_ms).ok()?.to_zoned(tz).date();
                Some(format!("/day/{cam}/{d}"))
            }),
            None => None,
        };
        Ok(Some(json!({
            "error_msg": error_msg,
            "restore": r,
            "states": states,
            "total": items.len(),
            "done": states.get("done").copied().unwrap_or(0),
            "merged": merged.then(|| format!("/media/restore/{id}/merged.mp4")),
            "day": day,
            "items": items.iter().map(|i| json!({
                "key": i.key, "size": i.size, "source": i.source, "state": i.state, "error": i.error,
                "error_msg": i.error.as_deref().and_then(item_msg),
            })).collect::<Vec<_>>(),
        })))
    })
    .await
    {
        Ok(Some(v)) => Json(v).into_response(),
        Ok(None) => super::fail_msg(StatusCode::NOT_FOUND, crate::msg!("api.no_restore", id = id)),
        Err(r) => r,
    }
}

#[derive(Deserialize)]
pub struct ActivityQuery {
    camera: Option<String>,
    /// First day, YYYY-MM-DD (camera's zone); default: the beginning.
    from: Option<String>,
    /// Last day, inclusive; default: today.
    to: Option<String>,
    /// A window of the day on every day, `HH:MM-HH:MM` (wraps midnight).
    time: Option<String>,
    zone: Option<String>,
    label: Option<String>,
    #[serde(default)]
    min_activity: u8,
    /// Seconds.
    #[serde(default)]
    min_duration: u32,
    limit: Option<usize>,
}

/// Moments with activity from the video index (`camvault search` as JSON), newest first;
/// each with its clip, the moment inside it, where it lives and the URLs of its pictures.
pub async fn activity(State(app): State<App>, Query(q): Query<ActivityQuery>) -> Response {
    let (from, to) = match (from_to_param(&q.from), from_to_param(&q.to)) {
        (Ok(from), Ok(to)) => (from, to),
        (Err(m), _) | (_, Err(m)) => return bad(m),
    };
    json_of(move || {
        let camera = q.camera.filter(|c| !c.is_empty());
        let tz = app.cfg.zone_of(camera.as_deref());
        let bounds = |d: Option<Date>| d.map(|d| day_bounds(d, &tz)).transpose();
        let query = crate::catalog::index::Query {
            from_ms: bounds(from)?.map_or(0, |(a, _)| a),
            to_ms: bounds(to)?.map_or(i64::MAX, |(_, b)| b),
            tod: q
                .time
                .as_deref()
                .filter(|t| !t.is_empty())
                .map(crate::index::parse_window)
                .transpose()?,
            camera,
            zone: q.zone.filter(|z| !z.is_empty()),
            label: q.label.filter(|l| !l.is_empty()),
            min_peak: q.min_activity,
            min_duration_ms: q.min_duration as i64 * 1000,
            limit: q.limit.unwrap_or(200).clamp(1, 1000),
        };
        let hits = app.catalog.search(&query)?;
        let out: Vec<Value> = hits
            .iter()
            .map(|h| {
                let mut v = serde_json::to_value(h).unwrap_or_default();
                v["frame_url"] = json!(format!(
                    "/media/index/{}/{}",
                    h.file_id,
                    crate::index::frame_name(h.ordinal as usize)
                ));
                v["sprite_url"] = json!(format!("/media/index/{}/{}", h.file_id, crate::index::SPRITE));
                // The clip's day in its camera's zone (the link to the day's timeline).
                let tz = app.cfg.zone_of(Some(&h.camera));
                v["date"] = json!(jiff::Timestamp::from_millisecond(h.clip_start_ms)
                    .map(|t| t.to_zoned(tz).date().to_string())
                    .unwrap_or_default());
                v
            })
            .collect();
        Ok(json!({"results": out, "truncated": hits.len() == query.limit}))
    })
    .await
}

/// A picture of the index: `sprite.jpg` or `seg-N.jpg` of a clip (no other names: the
/// name never reaches the file system unchecked).
pub async fn index_picture(State(app): State<App>, Path((id, name)): Path<(i64, String)>) -> Response {
    let ok = name == crate::index::SPRITE
        || name
            .strip_prefix("seg-")
            .and_then(|n| n.strip_suffix(".jpg"))
            .is_some_and(|n| !n.is_empty() && n.len() < 6 && n.bytes().all(|b| b.is_ascii_digit()));
    if !ok || id <= 0 {
        return super::fail_msg(StatusCode::NOT_FOUND, crate::msg!("api.no_picture"));
    }
    let path = crate::index::clip_dir(&app.cfg, id).join(&name);
    match tokio::fs::read(&path).await {
        Ok(b) => ([(axum::http::header::CONTENT_TYPE, "image/jpeg")], b).into_response(),
        Err(_) => super::fail_msg(StatusCode::NOT_FOUND, crate::msg!("api.no_picture")),
    }
}

#[derive(Deserialize)]
pub struct ActivityMonthQuery {
    camera: String,
    /// YYYY-MM.
    month: String,
}

/// Moments with activity per local day of a month (the calendar): `index::calendar`.
pub async fn activity_month(State(app): State<App>, Query(q): Query<ActivityMonthQuery>) -> Response {
    let (first, tz) = match camera_date(&app, &q.camera, month_param(&q.month)).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    json_of(move || {
        // Per local day of the camera, also in zones with a half-hour offset.
        let days: std::collections::BTreeMap<String, u64> =
            crate::index::calendar::day_counts(&app.catalog, &q.camera, &tz, first, first.last_of_month())?
                .into_iter()
                .map(|(d, n)| (d.to_string(), n))
                .collect();
        Ok(json!({"month": q.month, "days": days}))
    })
    .await
}
