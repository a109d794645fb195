"""Drives headless Chromium (Debian's chromium + chromium-driver) through the web interface
of a running `camvault serve`, for tests/web.rs. One JSON argument says what the fixture
holds; every check raises on failure, and the exit status tells the Rust test.

Modes:
  ui     dashboard, day timeline (colours, times, hover, keyboard), playback continuing to
         the next clip, calendar, search, the restore flow (plan, confirm, progress,
         download), a phone-sized screenshot
  login  a non-loopback listen: pages redirect to the login form; a wrong password is
         refused; the right one opens the dashboard
  roles  accounts (issue 17): a viewer plans a paid restore, may only ask for approval,
         and sees the request waiting; an admin opens the alert's link, logs in, lands on
         the request and approves it; the restore runs to the end
"""

import json
import os
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.support.ui import Select, WebDriverWait

ARGS = json.loads(sys.argv[1])
BASE = ARGS["base"]
SHOTS = ARGS["screenshots"]
COLOURS = {
    "local": "rgb(22, 163, 74)",
    "standard": "rgb(37, 99, 235)",
    "archived": "rgb(100, 116, 139)",
    "restoring": "rgb(245, 158, 11)",
    "restored": "rgb(147, 51, 234)",
}


def browser():
    o = webdriver.ChromeOptions()
    o.binary_location = ARGS.get("chromium", "/usr/bin/chromium")
    for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--autoplay-policy=no-user-gesture-required", "--mute-audio", "--window-size=1280,1000"]:
        o.add_argument(a)
    o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=o, service=Service(ARGS.get("chromedriver", "/usr/bin/chromedriver")))


def wait(d, what, fn, timeout=30):
    try:
        return WebDriverWait(d, timeout, poll_frequency=0.1).until(lambda _: fn())
    except Exception:
        logs = []
        try:
            logs = d.get_log("browser")
        except Exception:
            pass
        raise AssertionError(f"timed out waiting for: {what}; url {d.current_url}; console {logs}")


def page(d, path):
    d.get(BASE + path)
    wait(d, f"{path} rendered", lambda: d.execute_script("return document.body.dataset.ready === '1'"))


def shot(d, name):
    os.makedirs(SHOTS, exist_ok=True)
    d.save_screenshot(os.path.join(SHOTS, name))


def segments(d):
    return d.find_elements(By.CSS_SELECTOR, "#timeline .seg")


def colour(d, e):
    return d.execute_script("return getComputedStyle(arguments[0]).backgroundColor", e)


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def ui(d):
    cam = ARGS["camera"]
    today, old = ARGS["today"], ARGS["old_day"]

    # Dashboard: health, the camera's last clip with its thumbnail, backlog, tiers, cost.
    page(d, "/")
    want = d.execute_script("return fetch('/api/status').then(r => r.json()).then(s => s.health.problems.length)")
    got = len(d.find_elements(By.CSS_SELECTOR, "#health li.problem"))
    check(got == want and (want > 0 or "All good" in d.find_element(By.ID, "health").text),
          f"health: {got} problems shown, {want} in the status")
    cams = d.find_element(By.ID, "cameras").text
    check(cam in cams and "Last clip" in cams, f"camera card: {cams}")
    wait(d, "last clip thumbnail loaded", lambda: d.execute_script(
        "const i = document.querySelector('#cameras img.thumb'); return i && i.complete && i.naturalWidth > 0"))
    tiers = d.find_element(By.ID, "tiers").text
    check("On this server" in tiers and len(d.find_elements(By.CSS_SELECTOR, "#tiers tr")) >= 2, f"bytes by tier: {tiers}")
    check(d.find_element(By.ID, "cost-projected").text.startswith("¥"), "projected cost shown")
    check("waiting to be stored" in d.find_element(By.ID, "backlog").text, "backlog shown")
    check("null" not in d.find_element(By.ID, "view").text, "no stray null on the dashboard")
    shot(d, "dashboard.png")

    # Today's timeline: one segment per clip, green (on this server), at the clips' times.
    page(d, f"/day/{cam}/{today}")
    segs = segments(d)
    check(len(segs) == len(ARGS["today_clips"]), f"{len(segs)} segments, expected {ARGS['today_clips']}")
    for s, want in zip(segs, ARGS["today_clips"]):
        check(s.get_attribute("data-tier") == "local", "tier local")
        check(colour(d, s) == COLOURS["local"], f"local colour, got {colour(d, s)}")
        check(s.get_attribute("data-start") == want, f"start {s.get_attribute('data-start')} != {want}")
    # Position: the left edge is the start's share of the day.
    h, m, sec = map(int, ARGS["today_clips"][0].split(":"))
    left = d.execute_script("return parseFloat(arguments[0].style.left)", segs[0])
    check(abs(left - (h * 3600 + m * 60 + sec) / 864) < 0.01, f"segment at {left}%")
    # Hover shows the clip's thumbnail.
    ActionChains(d).move_to_element(segs[1]).perform()
    wait(d, "hover thumbnail", lambda: d.execute_script(
        "const t = document.querySelector('.tip'); const i = t.querySelector('img');"
        "return !t.hidden && i.complete && i.naturalWidth > 0"))

    # Click to play: the video's time advances, and it goes on with the next clip.
    segs[0].click()
    wait(d, "the first clip plays", lambda: d.execute_script(
        "const v = document.getElementById('player'); return v.currentTime > 0.5"), 60)
    first = d.execute_script("return document.getElementById('player').dataset.clip")
    check(first == segs[0].get_attribute("data-id"), "the clicked clip plays")
    wait(d, "playback continues with the next clip", lambda: d.execute_script(
        "const v = document.getElementById('player'); return v.dataset.clip === arguments[0] && v.currentTime > 0.2",
        segs[1].get_attribute("data-id")), 60)
    shot(d, "day.png")

    # Keyboard: arrows move between clips, PageDown goes to the next day.
    segs = segments(d)
    segs[0].send_keys(Keys.ARROW_RIGHT)
    check(d.execute_script("return document.activeElement.dataset.i") == "1", "→ focuses the next clip")
    d.switch_to.active_element.send_keys(Keys.ARROW_LEFT)
    check(d.execute_script("return document.activeElement.dataset.i") == "0", "← focuses the previous clip")
    d.switch_to.active_element.send_keys(Keys.ARROW_RIGHT, Keys.ARROW_RIGHT, Keys.ENTER)
    wait(d, "Enter plays the focused clip", lambda: d.execute_script(
        "return document.getElementById('player').dataset.clip === arguments[0]", segs[2].get_attribute("data-id")))
    d.find_element(By.TAG_NAME, "body").send_keys(Keys.PAGE_DOWN)
    wait(d, "next day", lambda: d.current_url.endswith(f"/day/{cam}/{ARGS['tomorrow']}"))
    wait(d, "next day rendered", lambda: d.find_elements(By.ID, "day-date")
         and d.find_element(By.ID, "day-date").text == ARGS["tomorrow"])
    check(len(segments(d)) == 0, "no clips tomorrow")

    # The archived day: grey segments; plan a restore of the range, confirm, follow it.
    page(d, f"/day/{cam}/{old}")
    segs = segments(d)
    check(len(segs) == ARGS["old_clips"], f"{len(segs)} archived segments")
    for s in segs:
        check(s.get_attribute("data-tier") == "archived", "tier archived")
        check(colour(d, s) == COLOURS["archived"], f"archived colour, got {colour(d, s)}")
    # A minute apart: zoom to one hour so each clip is wide enough to click.
    Select(d.find_element(By.ID, "zoom")).select_by_value("24")
    check(d.execute_script("return document.getElementById('timeline').getBoundingClientRect().width")
          > 20 * d.execute_script("return document.getElementById('timeline-scroll').clientWidth"), "zoomed in")
    segs[0].click()
    check("not on this server" in d.find_element(By.ID, "now-playing").text, "an archived clip says restore first")
    ActionChains(d).key_down(Keys.SHIFT).click(segs[-1]).key_up(Keys.SHIFT).perform()
    check(all("selected" in s.get_attribute("class") for s in segments(d)), "shift+click selects the range")
    d.find_element(By.ID, "plan-restore").click()
    wait(d, "the plan", lambda: d.find_elements(By.ID, "plan-archive"))
    check(f"{ARGS['old_clips']} clip(s)" in d.find_element(By.ID, "plan-archive").text,
          "plan: all archived: " + d.find_element(By.ID, "plan").text)
    check("0 clip(s)" in d.find_element(By.ID, "plan-local").text, "plan: nothing local")
    check(d.find_element(By.ID, "plan-total").text.startswith("¥"), "plan: a cost")
    check("within 48 h" in d.find_element(By.ID, "plan-time").text, "plan: a time for the standard tier")
    tiers = {r.get_attribute("data-tier"): r.text for r in d.find_elements(By.CSS_SELECTOR, "#plan-tiers tbody tr")}
    check(set(tiers) == {"expedited", "standard"} and "12 h" in tiers["expedited"] and "48 h" in tiers["standard"],
          f"cost and time per tier: {tiers}")
    d.execute_script("document.getElementById('range').scrollIntoView()")
    shot(d, "restore-plan.png")
    d.find_element(By.ID, "confirm-restore").click()
    wait(d, "the restore page", lambda: "/restores/" in d.current_url)
    # The page re-renders every 2 s: read it with scripts, not element handles.
    js = lambda code: d.execute_script(code)
    wait(d, "progress shown", lambda: js("return !!document.getElementById('restore-progress')"))
    first_state = js("return document.getElementById('restore-state').textContent")
    check(first_state in ("active", "done"), f"restore state {first_state}")
    shot(d, "restore.png")
    wait(d, "restore done", lambda: js(
        "const e = document.getElementById('restore-state'); return e && e.textContent === 'done'"), 90)
    wait(d, "progress full", lambda: js(
        "const p = document.getElementById('restore-progress'); return p && p.value === p.max && p.max == arguments[0]".replace("arguments[0]", str(ARGS["old_clips"]))))
    wait(d, "download link", lambda: js("return !!document.getElementById('download')"))
    href = js("return document.getElementById('download').href")
    size = d.execute_script(
        "return fetch(arguments[0]).then(r => r.ok ? r.arrayBuffer().then(b => b.byteLength) : -r.status)", href)
    check(size > 1000, f"merged download {size} bytes")
    check("null" not in d.find_element(By.ID, "restore").text, "no stray null on the page")
    shot(d, "restore-done.png")
    d.find_element(By.ID, "day-link").click()
    wait(d, "back to the day", lambda: d.current_url.endswith(f"/day/{cam}/{old}"))
    wait(d, "the day rendered", lambda: d.execute_script("return document.body.dataset.ready === '1'"))
    for s in segments(d):
        check(s.get_attribute("data-tier") == "restored", "restored after the restore")
        check(colour(d, s) == COLOURS["restored"], f"restored colour, got {colour(d, s)}")

    # Calendar: coverage per day; today has its clips.
    page(d, f"/month/{cam}/{today[:7]}")
    cell = d.find_element(By.CSS_SELECTOR, f'.daycell[data-date="{today}"]')
    check(cell.get_attribute("data-clips") == str(len(ARGS["today_clips"])), "today's clip count")
    check(float(cell.get_attribute("data-coverage")) > 0, "today's coverage")
    shot(d, "month.png")

    # Search by date and time of day: thumbnails of the matching clips.
    h0 = ARGS["today_clips"][0][:5]
    page(d, f"/search?camera={cam}&from={today}&to={today}&tod_from={h0}&tod_to=23:59")
    wait(d, "results", lambda: d.find_elements(By.ID, "result-count"))
    imgs = d.find_elements(By.CSS_SELECTOR, "#results img.thumb")
    check(len(imgs) == len(ARGS["today_clips"]), f"{len(imgs)} results")
    wait(d, "result thumbnails", lambda: d.execute_script(
        "return [...document.querySelectorAll('#results img.thumb')].every(i => i.complete && i.naturalWidth > 0)"))
    shot(d, "search.png")

    # A phone.
    d.set_window_size(390, 844)
    page(d, f"/day/{cam}/{today}")
    width = d.execute_script("return document.documentElement.scrollWidth")
    check(width <= 390, f"no horizontal scrolling on a phone ({width}px)")
    shot(d, "day-phone.png")


def login(d):
    d.get(BASE + "/")
    wait(d, "redirect to login", lambda: d.current_url.endswith("/login"))
    check(d.find_elements(By.ID, "password"), "login form")
    d.find_element(By.ID, "password").send_keys("wrong password")
    d.find_element(By.ID, "password").submit()
    wait(d, "wrong password refused", lambda: "Wrong password" in d.find_element(By.ID, "login-message").text)
    shot(d, "login.png")
    d.find_element(By.ID, "password").send_keys(ARGS["password"])
    d.find_element(By.ID, "password").submit()
    wait(d, "dashboard after login", lambda: d.find_elements(By.ID, "health"))
    check(not d.current_url.endswith("/login"), "left the login page")
    d.find_element(By.ID, "logout").click()
    wait(d, "logged out", lambda: d.current_url.endswith("/login"))
    d.get(BASE + "/")
    wait(d, "login required again", lambda: d.current_url.endswith("/login"))


def sign_in(d, user, password):
    wait(d, "the login form", lambda: d.find_elements(By.ID, "password"))
    d.find_element(By.ID, "user").send_keys(user)
    d.find_element(By.ID, "password").send_keys(password)
    d.find_element(By.ID, "password").submit()


def roles(d):
    import sqlite3
    cam, old = ARGS["camera"], ARGS["old_day"]
    # The viewer.
    d.get(BASE + "/")
    sign_in(d, "kid", ARGS["viewer_password"])
    wait(d, "dashboard", lambda: d.find_elements(By.ID, "health"))
    wait(d, "who is logged in", lambda: d.find_elements(By.ID, "whoami"))
    who = d.find_element(By.ID, "whoami")
    check(who.get_attribute("data-role") == "viewer" and "kid" in who.text, f"viewer shown: {who.text}")
    check(d.find_elements(By.ID, "budget"), "the budget is shown")
    check(not d.find_elements(By.CSS_SELECTOR, "button.approve"), "a viewer gets no approve button")
    page(d, f"/day/{cam}/{old}")
    d.find_element(By.ID, "plan-restore").click()
    wait(d, "the plan", lambda: d.find_elements(By.ID, "plan-total"))
    check(d.find_elements(By.ID, "plan-approval"), "the viewer is told an admin must approve: " + d.find_element(By.ID, "plan").text)
    check(not d.find_elements(By.ID, "confirm-restore"), "a viewer cannot start a paid restore")
    check(d.find_element(By.ID, "plan-total").text.startswith("¥"), "the price is shown first")
    d.find_element(By.ID, "request-approval").click()
    wait(d, "request sent", lambda: d.find_elements(By.ID, "approval-requested"))
    shot(d, "restore-request-viewer.png")
    page(d, "/")
    wait(d, "the viewer's requests", lambda: d.find_elements(By.CSS_SELECTOR, "#approvals li.state-pending"))
    d.find_element(By.ID, "logout").click()
    wait(d, "logged out", lambda: "/login" in d.current_url)

    # The admin follows the link of the alert message.
    db = sqlite3.connect(f"file:{ARGS['catalog']}?mode=ro", uri=True)
    msg = db.execute("SELECT message FROM events WHERE kind = 'restore_approval' ORDER BY id DESC").fetchone()[0]
    db.close()
    link = msg[msg.index(ARGS["public_url"]) + len(ARGS["public_url"]):].split()[0]
    d.get(BASE + link)
    wait(d, "the link asks for a login", lambda: "/login?next=" in d.current_url)
    sign_in(d, "admin", ARGS["admin_password"])
    wait(d, "back on the request", lambda: "/approve/" in d.current_url)
    wait(d, "the request", lambda: d.find_elements(By.CSS_SELECTOR, "button.approve"))
    check("kid asks to restore" in d.find_element(By.ID, "approval-who").text, d.find_element(By.ID, "approval").text)
    check("¥" in d.find_element(By.ID, "approval-cost").text, "the price is shown")
    shot(d, "restore-approve-admin.png")
    d.find_element(By.CSS_SELECTOR, "button.approve").click()
    wait(d, "the restore page", lambda: "/restores/" in d.current_url)
    js = lambda code: d.execute_script(code)
    wait(d, "restore done", lambda: js(
        "const e = document.getElementById('restore-state'); return e && e.textContent === 'done'"), 90)
    # The same link again: decided already.
    d.get(BASE + link)
    wait(d, "the decided request", lambda: d.find_elements(By.ID, "approval-state"))
    check("approved" in d.find_element(By.ID, "approval-state").text, d.find_element(By.ID, "approval").text)
    check(not d.find_elements(By.CSS_SELECTOR, "button.approve"), "no second approval")


def main():
    d = browser()
    try:
        {"ui": ui, "login": login, "roles": roles}[ARGS["mode"]](d)
    finally:
        d.quit()
    print("ok")


if __name__ == "__main__":
    main()
