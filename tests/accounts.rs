//! Web accounts, roles, trusted proxies and restores that ask before they spend (issue 17,
//! items 2 and 3), over real HTTP against `camvault serve` with the `fs` store's emulated
//! archive: every admin-only endpoint refused to a viewer (and nothing started), sessions
//! that survive a restart and end on revoke/passwd/del, the forwarded-for attacks, the
//! approval flow through the alert's signed link, and the monthly budget.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::web::*;
use common::*;

const DAY: i64 = 86_400;
const ADMIN_PW: &str = "tuesday-3pm-door";
const KID_PW: &str = "green-bicycle-42";
const CAM: &str = "78df72a1b2c3";

fn json_of(r: &Resp) -> serde_json::Value {
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("{e}: {} {}", r.code, r.text()))
}

fn ok_with_stdin(env: &Env, args: &[&str], stdin: &str) -> String {
    let out = with_stdin(env, args, stdin);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    stdout(&out)
}

/// A LAN `serve` (login required) with an admin (`camvault passwd`, as before accounts)
/// and a viewer `kid`, four clips archived in the fs store's Deep Cold Archive, priced so
/// that restoring them costs money. Returns the env, the port and two restore bodies (the
/// first two clips, the last two).
fn site(edits: &str) -> (Env, u16, String, String) {
    let port = free_port();
    let env = Env::new(
        1,
        &format!(
            "http.enabled = true\nhttp.listen = \"0.0.0.0:{port}\"\nhttp.secure_cookie = false\n\
             restore.poll_secs = 1\nrestore.poll_max_secs = 1\nstore.fs.restore_standard_secs = 1\n\
             restore.drill_days = 0\nprices.deep_cold_archive_standard_gb = 100000.0\n{edits}"
        ),
    );
    // The single password of older versions: no `user` command needed for it.
    ok_with_stdin(&env, &["passwd"], ADMIN_PW);
    let t0 = now_unix() - 40 * DAY;
    for i in 0..4 {
        env.put_old(&old_clip(t0 + i * 60), &bytes(i as u64, 20_000));
    }
    env.ok(&["ingest", "--once"]);
    env.ok(&["lifecycle", "apply"]);
    set_store_clock(&env, 31 * DAY);
    ok_with_stdin(&env, &["user", "add", "kid", "--role", "viewer"], KID_PW);
    let range = |a: i64, b: i64| format!(r#"{{"camera":"{CAM}","from_ms":{},"to_ms":{}}}"#, a * 1000, b * 1000);
    (env, port, range(t0 - 30, t0 + 90), range(t0 + 100, t0 + 600))
}

/// The camera's day (Asia/Shanghai) of a restore body's first clip.
fn day_of(body: &str) -> String {
    let from: serde_json::Value = serde_json::from_str(body).unwrap();
    jiff::Timestamp::from_millisecond(from["from_ms"].as_i64().unwrap() + 30_000)
        .unwrap()
        .to_zoned(jiff::tz::TimeZone::get("Asia/Shanghai").unwrap())
        .date()
        .to_string()
}

fn restores(env: &Env) -> i64 {
    catalog_count(env, "SELECT count(*) FROM restores")
}

#[test]
fn a_viewer_is_refused_every_admin_endpoint_and_sessions_outlive_serve() {
    let (env, port, body, _) = site("");
    let users = env.ok(&["user", "list"]);
    assert!(
        users.contains("admin") && users.lines().any(|l| l.starts_with("kid") && l.contains("viewer")),
        "the config's password became the admin, and kid is a viewer:\n{users}"
    );
    // Passwords never on the command line: a stray argument is refused by clap.
    assert!(!env.run(&["user", "add", "x", KID_PW]).status.success());
    let serve = serve_on(&env, port);
    // The old single-password login (no user name) is the admin.
    let admin = login(port, "", ADMIN_PW);
    let kid = login(port, "kid", KID_PW);
    assert_eq!(json_of(&admin.get(port, "/api/me"))["role"], "admin");
    assert_eq!(json_of(&kid.get(port, "/api/me"))["role"], "viewer");
    assert_eq!(
        try_login(port, "kid", ADMIN_PW, &[]).code,
        401,
        "kid's name with admin's password"
    );
    assert_eq!(try_login(port, "nobody", ADMIN_PW, &[]).code, 401);

    // What a viewer may do.
    for path in [
        "/api/dashboard",
        "/api/status",
        "/api/approvals",
        "/api/cameras",
        "/metrics",
    ] {
        assert_eq!(kid.get(port, path).code, 200, "{path}");
    }
    let plan = json_of(&kid.post(port, "/api/restore/plan", &body));
    assert_eq!(plan["archive"]["clips"], 2, "{plan:#}");
    let cost = plan["total_cny"].as_f64().unwrap();
    assert!(cost > 0.0, "the archive costs money here: {plan:#}");
    assert_eq!(plan["needs_approval"], true);

    // Every admin-only endpoint, as the viewer: 403, and nothing happened.
    let r = kid.post(port, "/api/restore", &body);
    assert_eq!(r.code, 403, "{}", r.text());
    assert!(r.text().contains("approve"), "{}", r.text());
    assert_eq!(restores(&env), 0, "no restore was started");
    assert_eq!(kid.get(port, "/api/users").code, 403);
    let r = kid.post(port, "/api/users/admin/revoke", "");
    assert_eq!(r.code, 403);
    assert_eq!(
        admin.get(port, "/api/me").code,
        200,
        "the admin's session survived the attempt"
    );
    // The viewer may ask; deciding (approving its own request) is the admin's.
    let asked = kid.post(port, "/api/approvals", &body);
    assert_eq!(asked.code, 202, "{}", asked.text());
    let id = json_of(&asked)["approval"].as_i64().unwrap();
    for decision in ["approve", "refuse"] {
        let r = kid.post(
            port,
            &format!("/api/approvals/{id}"),
            &format!(r#"{{"decision":"{decision}"}}"#),
        );
        assert_eq!(r.code, 403, "{decision}: {}", r.text());
    }
    assert_eq!(
        json_of(&kid.get(port, &format!("/api/approvals/{id}")))["approval"]["state"],
        "pending"
    );
    assert_eq!(restores(&env), 0, "still no restore");
    // The admin may do each of them.
    assert_eq!(admin.get(port, "/api/users").code, 200);

    // Only the SHA-256 of a session cookie is in the catalog.
    let value = kid.cookie.split_once('=').unwrap().1.to_string();
    let n = |sql: &str| catalog_count(&env, &sql.replace("V", &value));
    assert_eq!(
        n("SELECT count(*) FROM sessions WHERE id_sha256 = 'V' OR csrf = 'V'"),
        0
    );
    assert_eq!(n("SELECT count(*) FROM sessions WHERE user = 'kid'"), 1);

    // A restart of serve keeps both sessions.
    drop(serve);
    let serve = serve_on(&env, port);
    assert_eq!(
        json_of(&kid.get(port, "/api/me"))["user"],
        "kid",
        "the viewer's session survived"
    );
    assert_eq!(admin.get(port, "/api/users").code, 200, "the admin's too");

    // Revoking, a new password and deleting the user each end the sessions at once.
    assert!(env.ok(&["user", "revoke", "kid"]).contains("1 session"));
    assert_eq!(kid.get(port, "/api/me").code, 401, "revoked");
    let kid = login(port, "kid", KID_PW);
    ok_with_stdin(&env, &["user", "passwd", "kid"], "another-long-one");
    assert_eq!(kid.get(port, "/api/me").code, 401, "a new password ends the sessions");
    assert_eq!(
        try_login(port, "kid", KID_PW, &[]).code,
        401,
        "the old password is gone"
    );
    let kid = login(port, "kid", "another-long-one");
    // An admin revokes from the web interface too.
    let r = admin.post(port, "/api/users/kid/revoke", "");
    assert_eq!((r.code, json_of(&r)["revoked"].as_i64()), (200, Some(1)));
    assert_eq!(kid.get(port, "/api/me").code, 401);
    let kid = login(port, "kid", "another-long-one");
    env.ok(&["user", "del", "kid"]);
    assert_eq!(kid.get(port, "/api/me").code, 401, "a deleted user's session ends");
    assert_eq!(try_login(port, "kid", "another-long-one", &[]).code, 401);
    // `camvault passwd` still sets the admin's password, and ends the admin's sessions.
    ok_with_stdin(&env, &["passwd"], "a-new-admin-password");
    drop(serve);
    let _serve = serve_on(&env, port);
    assert_eq!(admin.get(port, "/api/me").code, 401, "the admin logs in again");
    login(port, "admin", "a-new-admin-password");
    let log = std::fs::read_to_string(env.serve_log()).unwrap();
    for secret in [ADMIN_PW, KID_PW, "another-long-one", value.as_str()] {
        assert!(!log.contains(secret), "a secret in the log");
    }
}

#[test]
fn forwarded_for_is_believed_from_trusted_proxies_only() {
    // A proxy on this machine (127.0.0.1) in front of a loopback listen: before
    // `http.trusted_proxies`, every client of the proxy was "local" and logged in as nobody.
    let port = free_port();
    let env = Env::new(
        1,
        &format!(
            "http.enabled = true\nhttp.listen = \"127.0.0.1:{port}\"\nhttp.secure_cookie = false\nhttp.trusted_proxies = [\"127.0.0.1\"]"
        ),
    );
    // `serve` refuses to start without an admin who can log in (the config itself is fine:
    // `camvault user add` must work on it), and says what to run.
    env.ok(&["status"]);
    let err = serve_refuses(&env);
    assert!(
        err.contains("`http.trusted_proxies` is set") && err.contains("camvault passwd"),
        "a proxy without a password is refused: {err}"
    );
    ok_with_stdin(&env, &["passwd"], ADMIN_PW);
    let _serve = serve_on(&env, port);
    // The box's own programs, directly: no login (as before).
    for path in ["/api/status", "/metrics", "/healthz"] {
        assert_eq!(http(port, "GET", path, &[], "").code, 200, "{path} directly");
    }
    // The attack: through the proxy, a LAN client (or one claiming to be 127.0.0.1).
    for xff in ["192.168.1.50", "127.0.0.1", "127.0.0.1, 192.168.1.50", "garbage"] {
        let via = [("X-Forwarded-For", xff), ("Host", "cam.example.lan")];
        for path in [
            "/api/status",
            "/api/dashboard",
            "/metrics",
            "/healthz",
            "/media/thumb/1",
        ] {
            let r = http(port, "GET", path, &via, "");
            assert_eq!(r.code, 401, "{path} via the proxy for {xff}: {}", r.text());
        }
        let r = http(port, "GET", "/", &via, "");
        assert_eq!(
            (r.code, r.header("location").as_deref()),
            (303, Some("/login")),
            "{xff}"
        );
    }
    // Any forwarding header makes it a proxied request, with or without X-Forwarded-For.
    let r = http(port, "GET", "/api/status", &[("X-Forwarded-Proto", "https")], "");
    assert_eq!(r.code, 401);
    // Through the proxy one logs in (the public name is no DNS-rebinding 421 there)...
    let via = [("X-Forwarded-For", "192.168.1.50"), ("Host", "cam.example.lan")];
    let r = try_login(port, "", ADMIN_PW, &via);
    assert_eq!(r.code, 303, "{}", r.text());
    let cookie = r.cookie();
    let mut h = via.to_vec();
    h.push(("Cookie", &cookie));
    assert_eq!(http(port, "GET", "/api/status", &h, "").code, 200);
    assert_eq!(http(port, "GET", "/metrics", &h, "").code, 200);
    // ...and the rate limit counts the forwarded client, not the proxy: one LAN client's
    // failures do not lock out another.
    for _ in 0..5 {
        assert_eq!(
            try_login(port, "", "wrong", &[("X-Forwarded-For", "192.168.1.66")]).code,
            401
        );
    }
    assert_eq!(
        try_login(port, "", ADMIN_PW, &[("X-Forwarded-For", "192.168.1.66")]).code,
        429
    );
    assert_eq!(
        try_login(port, "", ADMIN_PW, &[("X-Forwarded-For", "192.168.1.67")]).code,
        303
    );
}

#[test]
fn forwarded_for_from_an_untrusted_peer_is_ignored() {
    // A LAN listen whose trusted proxy is another machine: this test's requests come from
    // 127.0.0.1, which is not a proxy, so their X-Forwarded-For means nothing.
    let port = free_port();
    let env = Env::new(
        1,
        &format!(
            "http.enabled = true\nhttp.listen = \"0.0.0.0:{port}\"\nhttp.secure_cookie = false\nhttp.trusted_proxies = [\"10.255.255.0/24\"]"
        ),
    );
    ok_with_stdin(&env, &["passwd"], ADMIN_PW);
    let _serve = serve_on(&env, port);
    // Not proxied: the local Prometheus reads /metrics, whatever header it sends.
    assert_eq!(
        http(port, "GET", "/metrics", &[("X-Forwarded-For", "192.168.1.50")], "").code,
        200
    );
    // The rate limit cannot be dodged by rotating X-Forwarded-For.
    for i in 0..5 {
        let ip = format!("192.168.7.{i}");
        assert_eq!(try_login(port, "", "wrong", &[("X-Forwarded-For", &ip)]).code, 401);
    }
    let r = try_login(port, "", ADMIN_PW, &[("X-Forwarded-For", "192.168.7.99")]);
    assert_eq!(r.code, 429, "a new forged address is still this client: {}", r.text());
}

/// The approval link in the alert message the request recorded.
fn approval_link(env: &Env) -> String {
    let cat = camvault::catalog::Catalog::open(&env.root().join("catalog.sqlite"), false).unwrap();
    let events = cat.events_after(0).unwrap();
    let (id, _, _, msg) = events
        .iter()
        .rev()
        .find(|e| e.2 == "restore_approval")
        .expect("an alert for the admins");
    assert!(msg.contains("kid asks to restore"), "{msg}");
    // With `alerts.language = "zh-CN"` the same alert is in Chinese, link and all.
    let zh = cat
        .event_in(*id, camvault::config::Lang::Zh)
        .unwrap()
        .expect("a keyed event");
    assert!(
        zh.starts_with("kid 申请恢复") && zh.contains("https://cam.example.lan/approve/"),
        "{zh}"
    );
    let at = msg.find("https://cam.example.lan").expect("a link") + "https://cam.example.lan".len();
    msg[at..].split_whitespace().next().unwrap().to_string()
}

#[test]
fn approvals_through_the_signed_link_and_the_monthly_budget() {
    let (env, port, body, body2) = site("http.public_url = \"https://cam.example.lan\"");
    // Price the restore of two clips, then give a budget for one and a half of them.
    let range: serde_json::Value = serde_json::from_str(&body).unwrap();
    let fmt = |ms: &serde_json::Value| {
        jiff::Timestamp::from_millisecond(ms.as_i64().unwrap())
            .unwrap()
            .to_string()
    };
    let out = env.ok(&[
        "restore",
        "--from",
        &fmt(&range["from_ms"]),
        "--to",
        &fmt(&range["to_ms"]),
        "--dry-run",
        "--json",
    ]);
    let planned: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(planned["items"].as_array().unwrap().len(), 2, "{planned:#}");
    let cost = planned["total_cny"].as_f64().unwrap();
    assert!(cost > 0.0);
    let budget = cost * 1.5;
    let cfg = std::fs::read_to_string(env.config()).unwrap();
    std::fs::write(
        env.config(),
        set_key(&cfg, "restore", "budget_cny_month", &format!("{budget}")),
    )
    .unwrap();
    let _serve = serve_on(&env, port);
    let admin = login(port, "", ADMIN_PW);
    let kid = login(port, "kid", KID_PW);
    let me = json_of(&kid.get(port, "/api/me"));
    assert_eq!(me["budget"]["month_cny"].as_f64(), Some(budget), "{me:#}");
    assert_eq!(me["budget"]["spent_cny"].as_f64(), Some(0.0));

    // The viewer asks; the admins get a message with a signed link.
    let asked = kid.post(port, "/api/approvals", &body);
    assert_eq!(asked.code, 202, "{}", asked.text());
    let id = json_of(&asked)["approval"].as_i64().unwrap();
    let link = approval_link(&env);
    assert!(link.starts_with(&format!("/approve/{id}?t=")), "{link}");
    let token = link.split_once("?t=").unwrap().1.to_string();
    // A second request, refused from the dashboard (no link): it starts nothing.
    let r = kid.post(port, "/api/approvals", &body2);
    assert_eq!(r.code, 202, "{}", r.text());
    let id2 = json_of(&r)["approval"].as_i64().unwrap();

    // The link alone is nothing: without a login it leads to the login page (and back).
    let r = http(port, "GET", &link, &[], "");
    assert_eq!(r.code, 303);
    let to = r.header("location").unwrap();
    assert!(to.starts_with(&format!("/login?next=/approve/{id}%3Ft%3D")), "{to}");
    let r = http(port, "GET", &format!("/api/approvals/{id}?t={token}"), &[], "");
    assert_eq!(r.code, 401);
    let decide = |who: &Login, id: i64, d: &str, t: &str| {
        who.post(
            port,
            &format!("/api/approvals/{id}"),
            &format!(r#"{{"decision":"{d}","t":"{t}"}}"#),
        )
    };
    // The viewer who has the link cannot use it.
    assert_eq!(decide(&kid, id, "approve", &token).code, 403);
    // A forged or altered token is refused even for an admin: another expiry, another id.
    let (exp, mac) = token.split_once('.').unwrap();
    let later = format!("{}.{mac}", exp.parse::<i64>().unwrap() + 3600);
    assert_eq!(decide(&admin, id, "approve", &later).code, 403, "the expiry is signed");
    assert_eq!(
        decide(&admin, id, "approve", &format!("{exp}.{}", "0".repeat(64))).code,
        403
    );
    assert_eq!(restores(&env), 0, "nothing started by the refused attempts");
    let r = decide(&admin, id2, "refuse", "");
    assert_eq!(r.code, 200, "{}", r.text());
    assert_eq!(restores(&env), 0);
    assert_eq!(
        json_of(&kid.get(port, &format!("/api/approvals/{id2}")))["approval"]["state"],
        "refused"
    );
    assert_eq!(decide(&admin, id2, "approve", "").code, 409, "decided once");
    // The admin opens the link and approves: the restore starts.
    let shown = json_of(&admin.get(port, &format!("/api/approvals/{id}?t={token}")));
    assert_eq!(
        (shown["can_decide"].as_bool(), shown["approval"]["state"].as_str()),
        (Some(true), Some("pending"))
    );
    let r = decide(&admin, id, "approve", &token);
    assert_eq!(r.code, 200, "{}", r.text());
    let rid = json_of(&r)["restore"].as_i64().unwrap();
    assert_eq!(restores(&env), 1);
    // Single use: the same link again (approve or refuse) does nothing.
    assert_eq!(decide(&admin, id, "approve", &token).code, 409);
    assert_eq!(decide(&admin, id, "refuse", &token).code, 409);
    assert_eq!(restores(&env), 1);
    let a = json_of(&kid.get(port, &format!("/api/approvals/{id}")));
    assert_eq!(
        (a["approval"]["state"].as_str(), a["approval"]["decided_by"].as_str()),
        (Some("approved"), Some("admin"))
    );
    // serve drives it from the fs store's emulated archive to the end.
    wait_for(Duration::from_secs(60), "the approved restore to finish", || {
        json_of(&admin.get(port, &format!("/api/restore/{rid}")))["restore"]["state"] == "done"
    });

    // The budget: one restore spent; another would go over, whoever asks.
    let me = json_of(&kid.get(port, "/api/me"));
    assert!(
        (me["budget"]["spent_cny"].as_f64().unwrap() - cost).abs() < 0.011,
        "{me:#}"
    );
    let left = me["budget"]["left_cny"].as_f64().unwrap();
    assert!(left < cost, "{me:#}");
    // The other two clips cost as much as the first two: more than what is left.
    let p2 = json_of(&kid.post(port, "/api/restore/plan", &body2));
    let cost2 = p2["total_cny"].as_f64().unwrap();
    assert!(
        cost2 > left,
        "the second restore should not fit the budget: {p2:#} left {left}"
    );
    {
        let over = p2["over_budget"].as_str().unwrap_or_default().to_string();
        assert!(
            over.contains("restore.budget_cny_month") && over.contains("left"),
            "{p2:#}"
        );
        let r = admin.post(port, "/api/restore", &body2);
        assert_eq!(r.code, 402, "{}", r.text());
        let msg = json_of(&r)["error"].as_str().unwrap().to_string();
        assert!(
            msg.contains(&format!("¥{budget:.2}")) && msg.contains(&format!("¥{left:.2} is left")),
            "{msg}"
        );
        let r = kid.post(port, "/api/approvals", &body2);
        assert_eq!(r.code, 402, "{}", r.text());
        assert_eq!(restores(&env), 1, "nothing over the budget started");
        // The command line keeps the budget too.
        let r2: serde_json::Value = serde_json::from_str(&body2).unwrap();
        let out = env.run(&[
            "restore",
            "--from",
            &fmt(&r2["from_ms"]),
            "--to",
            &fmt(&r2["to_ms"]),
            "--yes",
        ]);
        assert!(
            !out.status.success() && stderr(&out).contains("restore.budget_cny_month"),
            "{}",
            stderr(&out)
        );
        assert_eq!(restores(&env), 1);
    }

    assert_eq!(restores(&env), 1);
}

/// Real headless Chromium (tests/web_browser.py, mode `roles`): the viewer asks, the
/// admin approves from the alert's link, the restore runs on the fs store's archive.
#[test]
fn browser_a_viewer_asks_and_an_admin_approves_from_the_link() {
    let (env, port, body, _) = site("http.public_url = \"https://cam.example.lan\"");
    let _serve = serve_on(&env, port);
    browser(
        "roles",
        serde_json::json!({
            "base": format!("http://127.0.0.1:{port}"),
            "camera": CAM,
            "old_day": day_of(&body),
            "viewer_password": KID_PW,
            "admin_password": ADMIN_PW,
            "catalog": env.root().join("catalog.sqlite"),
            "public_url": "https://cam.example.lan",
        }),
    );
    assert_eq!(restores(&env), 1, "the approved restore, and only it");
    assert_eq!(
        catalog_count(&env, "SELECT count(*) FROM approvals WHERE state = 'approved' AND decided_by = 'admin' AND restore_id IS NOT NULL"),
        1
    );
}

/// Issue 17: a user's language is kept with the account (catalog migration 11) and used at
/// login on any browser; the cookie stays the choice of the login page and of anonymous
/// use. Over HTTP (the attacks: no CSRF token, a bogus language, an anonymous request), then
/// in real Chromium: Chinese chosen on the account page of one browser, a fresh browser
/// asking for English logs in and gets Chinese.
#[test]
fn a_users_language_follows_the_account_to_any_browser() {
    let (env, port, body, _) = site("");
    let _serve = serve_on(&env, port);
    let lang_of = |r: &Resp| {
        let t = r.text();
        let at = t.find("<html lang=\"").expect("a page") + 12;
        t[at..].split('"').next().unwrap().to_string()
    };
    let kid = login(port, "kid", KID_PW);
    let page =
        |cookie: &str, accept: &str| http(port, "GET", "/", &[("Cookie", cookie), ("Accept-Language", accept)], "");
    assert_eq!(lang_of(&page(&kid.cookie, "en")), "en", "no choice yet: the browser's");
    assert_eq!(json_of(&kid.get(port, "/api/me"))["language"], serde_json::Value::Null);
    // Refused: no CSRF token (another site's form), a language camvault does not speak,
    // and no session at all.
    let no_token = http(
        port,
        "POST",
        "/api/me/language",
        &[("Cookie", kid.cookie.as_str()), ("Content-Type", "application/json")],
        r#"{"language":"zh-CN"}"#,
    );
    assert_eq!(no_token.code, 403, "{}", no_token.text());
    let bogus = kid.post(port, "/api/me/language", r#"{"language":"zh-TW"}"#);
    assert_eq!(bogus.code, 400, "{}", bogus.text());
    assert_eq!(json_of(&bogus)["key"], "api.bad_language");
    let anonymous = http(
        port,
        "POST",
        "/api/me/language",
        &[("Content-Type", "application/json")],
        r#"{"language":"zh-CN"}"#,
    );
    assert!(matches!(anonymous.code, 401 | 403), "{}", anonymous.code);
    assert_eq!(
        catalog_count(&env, "SELECT count(*) FROM users WHERE language IS NOT NULL"),
        0
    );
    // Kid chooses Chinese: kept with the account, this session's pages follow at once.
    let r = kid.post(port, "/api/me/language", r#"{"language":"zh-CN"}"#);
    assert_eq!(r.code, 200, "{}", r.text());
    assert_eq!(
        catalog_count(
            &env,
            "SELECT count(*) FROM users WHERE name = 'kid' AND language = 'zh-CN'"
        ),
        1
    );
    assert_eq!(lang_of(&page(&kid.cookie, "en")), "zh-CN");
    // Another browser (no cookie, English): the login answer sets the account's language.
    let r = try_login(port, "kid", KID_PW, &[("Accept-Language", "en")]);
    assert_eq!(r.code, 303);
    assert!(
        r.head
            .lines()
            .any(|l| l.to_ascii_lowercase().starts_with("set-cookie: camvault_lang=zh-cn")),
        "{}",
        r.head
    );
    assert_eq!(lang_of(&page(&r.cookie(), "en")), "zh-CN", "any browser, after login");
    // The admin's pages are not kid's choice; a cookie still chooses for the login page.
    let admin = login(port, "", ADMIN_PW);
    assert_eq!(lang_of(&page(&admin.cookie, "en")), "en");
    let login_page = http(port, "GET", "/login", &[("Cookie", "camvault_lang=zh-CN")], "");
    assert_eq!(lang_of(&login_page), "zh-CN");
    // Back to the browser's language.
    assert_eq!(kid.post(port, "/api/me/language", r#"{"language":null}"#).code, 200);
    assert_eq!(lang_of(&page(&kid.cookie, "en")), "en");

    browser(
        "account_language",
        serde_json::json!({
            "base": format!("http://127.0.0.1:{port}"),
            "camera": CAM,
            "old_day": day_of(&body),
            "viewer_password": KID_PW,
            "admin_password": ADMIN_PW,
        }),
    );
    assert_eq!(
        catalog_count(
            &env,
            "SELECT count(*) FROM users WHERE name = 'kid' AND language = 'zh-CN'"
        ),
        1
    );
}

/// One answer of curl: status, head, body.
fn curl(args: &[&str]) -> (u16, String, String) {
    let out = Command::new("curl")
        .args(["-sk", "-D", "-", "--max-time", "30"])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "curl {args:?}: {}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    // "HTTP/1.1 200 OK" from nginx, "HTTP/2 200" from Caddy (HTTP/2 over TLS, as browsers get it).
    let code = head.split_whitespace().nth(1).and_then(|c| c.parse().ok());
    (
        code.unwrap_or_else(|| panic!("no status in {head:?}")),
        head.to_string(),
        body.to_string(),
    )
}

/// A curl client of camvault through a reverse proxy on 127.0.0.1:`tls` that answers as
/// `https://cam.example.lan`, keeping its session in a cookie jar.
struct ViaProxy {
    base: String,
    resolve: String,
    jar: String,
}

impl ViaProxy {
    fn new(env: &Env, tls: u16) -> Self {
        ViaProxy {
            base: format!("https://cam.example.lan:{tls}"),
            resolve: format!("cam.example.lan:{tls}:127.0.0.1"),
            jar: env.root().join("cookies.txt").to_str().unwrap().to_string(),
        }
    }

    fn get(&self, extra: &[&str], path: &str) -> (u16, String, String) {
        let url = format!("{}{path}", self.base);
        let mut a = vec!["--resolve", &self.resolve, "-b", &self.jar, "-c", &self.jar];
        a.extend_from_slice(extra);
        a.push(&url);
        curl(&a)
    }
}

/// What docs/web.md promises behind a reverse proxy: everyone through it logs in, even with
/// a forged `X-Forwarded-For: 127.0.0.1`; the login sets a Secure cookie (the proxy said
/// HTTPS); a POST from the page passes the CSRF and Origin checks through the proxy (Host
/// kept), and one from another origin does not.
fn everyone_logs_in_through(via: &ViaProxy, proxy: &str) {
    for path in ["/api/status", "/metrics", "/healthz"] {
        assert_eq!(via.get(&[], path).0, 401, "{path} through {proxy}");
        assert_eq!(
            via.get(&["-H", "X-Forwarded-For: 127.0.0.1"], path).0,
            401,
            "{path} forged"
        );
    }
    let (code, head, _) = via.get(&[], "/");
    assert_eq!(code, 303, "{head}");
    let (code, _, page) = via.get(&[], "/login");
    assert_eq!(code, 200);
    assert!(!page.contains("plain HTTP"), "{proxy} said HTTPS: no warning");
    let form = format!("user=&password={ADMIN_PW}&csrf={}", csrf_of(&page));
    let (code, head, _) = via.get(&["--data", &form], "/login");
    assert_eq!(code, 303, "{head}");
    assert!(
        head.lines()
            .any(|l| l.to_ascii_lowercase().starts_with("set-cookie: camvault_session=") && l.contains("Secure")),
        "{head}"
    );
    let (code, _, shell) = via.get(&[], "/");
    assert_eq!(code, 200);
    assert_eq!(via.get(&[], "/api/status").0, 200);
    let (origin, token) = (
        format!("Origin: {}", via.base),
        format!("X-CSRF-Token: {}", csrf_of(&shell)),
    );
    let now = now_unix() * 1000;
    let body = format!(r#"{{"camera":"{CAM}","from_ms":{},"to_ms":{now}}}"#, now - 3_600_000);
    let post = |extra: &[&str]| {
        let mut a = vec!["-H", "Content-Type: application/json", "--data", body.as_str()];
        a.extend_from_slice(extra);
        via.get(&a, "/api/restore/plan")
    };
    let (code, _, text) = post(&["-H", &origin, "-H", &token]);
    assert_eq!(code, 200, "{text}");
    assert_eq!(post(&["-H", "Origin: https://evil.example", "-H", &token]).0, 403);
}

/// A reverse proxy (nginx, Caddy), stopped when dropped.
struct Proxy(std::process::Child);

impl Drop for Proxy {
    fn drop(&mut self) {
        // TERM, not KILL: the master takes its workers with it.
        let _ = Command::new("kill").args(["-TERM", &self.0.id().to_string()]).status();
        let _ = self.0.wait();
    }
}

/// camvault on loopback behind a real nginx with HTTPS, configured as docs/web.md says:
/// the proxy's clients log in (the proxy is on 127.0.0.1, yet nobody is local through it),
/// a client's own X-Forwarded-For does not make it local, the Secure cookie and the CSRF
/// Origin check work through the proxy, and the box's own programs still reach /metrics.
#[test]
fn behind_a_real_nginx_with_https_everyone_logs_in() {
    assert!(
        Path::new("/usr/sbin/nginx").exists(),
        "this test needs nginx: apt-get install -y nginx-light (.ci/run does)"
    );
    let (port, tls) = (free_port(), free_port());
    let env = Env::new(
        1,
        &format!(
            "http.enabled = true\nhttp.listen = \"127.0.0.1:{port}\"\nhttp.trusted_proxies = [\"127.0.0.1\", \"::1\"]"
        ),
    );
    ok_with_stdin(&env, &["passwd"], ADMIN_PW);
    let dir = env.root().join("nginx");
    std::fs::create_dir_all(dir.join("logs")).unwrap();
    let ok = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=cam.example.lan",
        ])
        .arg("-keyout")
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .output()
        .unwrap();
    assert!(ok.status.success(), "{}", stderr(&ok));
    // The server block of docs/web.md, on test ports.
    let conf = format!(
        "daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/logs/error.log;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n access_log off;\n client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n\
         server {{\n  listen 127.0.0.1:{tls} ssl;\n  server_name cam.example.lan;\n\
           ssl_certificate {d}/cert.pem;\n  ssl_certificate_key {d}/key.pem;\n  client_max_body_size 1m;\n\
           location / {{\n   proxy_pass http://127.0.0.1:{port};\n   proxy_set_header Host $http_host;\n\
             proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n   proxy_set_header X-Forwarded-Proto $scheme;\n\
             proxy_buffering off;\n   proxy_read_timeout 1h;\n  }}\n }}\n}}\n",
        d = dir.display()
    );
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    let test = Command::new("/usr/sbin/nginx")
        .arg("-t")
        .arg("-p")
        .arg(&dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .output()
        .unwrap();
    assert!(test.status.success(), "nginx -t: {}", stderr(&test));
    let _nginx = Proxy(
        Command::new("/usr/sbin/nginx")
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .spawn()
            .unwrap(),
    );
    wait_port("127.0.0.1", tls, "nginx", Duration::from_secs(20));
    let _serve = serve_on(&env, port);
    let via = ViaProxy::new(&env, tls);
    // The box's own Prometheus, directly: open, as before.
    assert_eq!(curl(&[&format!("http://127.0.0.1:{port}/metrics")]).0, 200);
    everyone_logs_in_through(&via, "nginx");
    let log = std::fs::read_to_string(env.serve_log()).unwrap();
    assert!(!log.contains(ADMIN_PW));
}

/// camvault on loopback behind a real Caddy (Debian's `caddy`) with HTTPS from Caddy's own
/// CA (`tls internal`), configured as docs/web.md says: everyone through Caddy logs in,
/// the Secure cookie and the CSRF Origin check work through it, and a client's forged
/// `X-Forwarded-For` gets it nothing: not "local" (401), and rotating it does not escape
/// the login rate limit (Caddy replaces the header; camvault counts the real client).
#[test]
fn behind_a_real_caddy_with_https_forwarded_for_cannot_be_forged() {
    assert!(
        Path::new("/usr/bin/caddy").exists(),
        "this test needs Caddy: apt-get install -y caddy (.ci/run does)"
    );
    let (port, tls, plain) = (free_port(), free_port(), free_port());
    let env = Env::new(
        1,
        &format!(
            "http.enabled = true\nhttp.listen = \"127.0.0.1:{port}\"\nhttp.trusted_proxies = [\"127.0.0.1\", \"::1\"]"
        ),
    );
    ok_with_stdin(&env, &["passwd"], ADMIN_PW);
    let dir = env.root().join("caddy");
    std::fs::create_dir_all(&dir).unwrap();
    // The site block of docs/web.md on test ports; the global options keep Caddy to this
    // directory: no admin endpoint, no port 80, its CA not installed into the system.
    let conf = format!(
        "{{\n  admin off\n  skip_install_trust\n  http_port {plain}\n  https_port {tls}\n  \
         auto_https disable_redirects\n  storage file_system {{\n    root {d}/data\n  }}\n}}\n\
         cam.example.lan {{\n  tls internal\n  reverse_proxy 127.0.0.1:{port} {{\n    flush_interval -1\n  }}\n}}\n",
        d = dir.display()
    );
    let file = dir.join("Caddyfile");
    std::fs::write(&file, conf).unwrap();
    let caddy = |args: &[&str]| {
        let mut c = Command::new("/usr/bin/caddy");
        c.args(args)
            .arg("--config")
            .arg(&file)
            .args(["--adapter", "caddyfile"])
            .env("HOME", &dir)
            .env("XDG_DATA_HOME", dir.join("xdg-data"))
            .env("XDG_CONFIG_HOME", dir.join("xdg-config"));
        c
    };
    let check = caddy(&["validate"]).output().unwrap();
    assert!(check.status.success(), "caddy validate: {}", stderr(&check));
    let log = std::fs::File::create(dir.join("caddy.log")).unwrap();
    let _caddy = Proxy(caddy(&["run"]).stdout(Stdio::null()).stderr(log).spawn().unwrap());
    wait_port("127.0.0.1", tls, "caddy", Duration::from_secs(30));
    let _serve = serve_on(&env, port);
    let via = ViaProxy::new(&env, tls);
    // Caddy makes its certificate on the first handshake: wait until it answers.
    wait_for(Duration::from_secs(30), "Caddy serves HTTPS", || {
        Command::new("curl")
            .args(["-sk", "--max-time", "5", "-o", "/dev/null", "--resolve", &via.resolve])
            .arg(format!("{}/login", via.base))
            .status()
            .is_ok_and(|s| s.success())
    });

    everyone_logs_in_through(&via, "Caddy");
    // Log out: the guesses below come from a client without a session.
    std::fs::remove_file(&via.jar).unwrap();
    // Rotating a forged X-Forwarded-For does not buy more password guesses: 5 failures,
    // then 429 even for a "new" address.
    for i in 1..=5 {
        let (code, _, page) = via.get(&[], "/login");
        assert_eq!(code, 200);
        let form = format!("user=&password=wrong-{i}&csrf={}", csrf_of(&page));
        let xff = format!("X-Forwarded-For: 10.9.8.{i}");
        assert_eq!(via.get(&["-H", &xff, "--data", &form], "/login").0, 401, "guess {i}");
    }
    let (_, _, page) = via.get(&[], "/login");
    let form = format!("user=&password={ADMIN_PW}&csrf={}", csrf_of(&page));
    let (code, head, _) = via.get(&["-H", "X-Forwarded-For: 10.9.8.99", "--data", &form], "/login");
    assert_eq!(code, 429, "the forged address escaped the rate limit: {head}");
    let log = std::fs::read_to_string(env.serve_log()).unwrap();
    assert!(
        log.contains("failed web login") && !log.contains("10.9.8."),
        "failures are logged for the real client, never a forged one"
    );
    assert!(!log.contains(ADMIN_PW));
}
