// camvault web interface: renders the view the path names from the JSON API.
// No framework, no inline scripts or styles (the CSP forbids them).
'use strict';

const CSRF = document.querySelector('meta[name="csrf-token"]').content;
const LOGIN = document.querySelector('meta[name="login"]').content === '1';
const view = document.getElementById('view');

// ---------- language ----------
// The page carries its language's catalogue (src/web/i18n/*.json) as a JSON data block:
// no extra request, and no inline script (the CSP allows none).
const LANG = document.documentElement.lang || 'en';
const STRINGS = JSON.parse(document.getElementById('strings').textContent);

// A key missing from the catalogue shows as the key itself (the browser test looks for it).
function t(key, vars) {
  const s = STRINGS[key];
  if (s === undefined) { console.error('untranslated: ' + key); return key; }
  return s.replace(/\{(\w+)\}/g, (m, k) => (vars && k in vars ? String(vars[k]) : m));
}

// A server message ({key, args}, src/msg.rs) in the page's language. Its arguments are data
// (camera ids, object keys, another system's own words): each is marked translate="no" and
// lang="zxx" so that the browser test can tell data from words left untranslated. An
// argument may itself be a message. A command to type (in backticks, arguments and all) is
// data too: one translate="no" <code>, so a command split by an argument stays one command.
function tm(m) {
  const out = el('span', { class: 'msg', dataset: { key: m.key } });
  const s = STRINGS[m.key];
  if (s === undefined) { console.error('untranslated: ' + m.key); out.textContent = m.key; return out; }
  const args = m.args || {};
  const words = text => {
    let last = 0;
    for (const x of text.matchAll(/\{(\w+)\}/g)) {
      out.append(text.slice(last, x.index));
      const v = args[x[1]];
      if (v && typeof v === 'object') out.append(tm(v));
      else out.append(el('span', { class: 'arg', translate: 'no', lang: 'zxx', text: v === undefined ? x[0] : String(v) }));
      last = x.index + x[0].length;
    }
    out.append(text.slice(last));
  };
  let last = 0;
  for (const c of s.matchAll(/`[^`]*`/g)) {
    words(s.slice(last, c.index));
    out.append(el('code', { translate: 'no', text: c[0].replace(/\{(\w+)\}/g, (x, k) => (args[k] === undefined || typeof args[k] === 'object' ? x : String(args[k]))) }));
    last = c.index + c[0].length;
  }
  words(s.slice(last));
  return out;
}

// An error from the API: its message in the page's language. Text without a key (an
// unexpected failure) is shown as the server wrote it, in English: the browser test fails
// a Chinese page that shows one.
class ApiError extends Error {
  constructor(j, status) {
    super(j.key ? tm(j).textContent : j.error ? t('err.server', { detail: j.error }) : t('err.http', { status }));
    this.msg = j.key ? j : null;
  }
}

const TIER_NAMES = ['local', 'standard', 'archived', 'restoring', 'restored'];
const tierName = k => t('tier.' + k);

function num(n, digits) {
  return new Intl.NumberFormat(LANG, { minimumFractionDigits: digits || 0, maximumFractionDigits: digits || 0 }).format(n);
}

// A moment in the camera's zone, in the locale's format.
function timeIn(ms, tz) {
  return new Intl.DateTimeFormat(LANG, { timeZone: tz || 'UTC', hour: '2-digit', minute: '2-digit', second: '2-digit' }).format(new Date(ms));
}
function dateTimeIn(ms, tz) {
  return new Intl.DateTimeFormat(LANG, { timeZone: tz || 'UTC', dateStyle: 'medium', timeStyle: 'short' }).format(new Date(ms));
}
// A calendar date (YYYY-MM-DD, already the camera's) in the locale's words.
function dateText(ymd, style) {
  const [y, m, d] = ymd.split('-').map(Number);
  return new Intl.DateTimeFormat(LANG, { timeZone: 'UTC', dateStyle: style || 'full' }).format(new Date(Date.UTC(y, m - 1, d || 1)));
}
function monthText(ym) {
  const [y, m] = ym.split('-').map(Number);
  return new Intl.DateTimeFormat(LANG, { timeZone: 'UTC', year: 'numeric', month: 'long' }).format(new Date(Date.UTC(y, m - 1, 1)));
}

// Accounts, approvals and the budget (issue 17): their texts from the catalogue (acct.*).
const when17 = ms => new Date(ms).toLocaleString(LANG);
const S17 = {
  signedInAs: (u, r) => t('acct.signed_in_as', { user: u, role: t('acct.role.' + (r === 'admin' ? 'admin' : 'viewer')) }),
  budgetTitle: t('acct.budget_title'),
  budgetNone: t('acct.budget_none'),
  budgetLine: (spent, month, left) => t('acct.budget_line', { spent, month, left }),
  budgetSpent: spent => t('acct.budget_spent', { spent }),
  approvalsTitle: t('acct.approvals_title'),
  myRequestsTitle: t('acct.my_requests_title'),
  noApprovals: t('acct.no_approvals'),
  // Names, cameras and times are data (translate="no" through tm); the tier and state are words.
  approvalLine: a => tm({ key: 'acct.approval_line', args: { id: a.id, camera: a.camera, from: when17(a.from_ms), to: when17(a.to_ms), tier: { key: 'speed.' + a.tier }, who: a.requested_by } }),
  approve: t('acct.approve'),
  refuse: t('acct.refuse'),
  state: { pending: t('acct.state.pending'), approved: t('acct.state.approved'), refused: t('acct.state.refused'), expired: t('acct.state.expired') },
  decidedBy: (state, who) => t('acct.decided_by', { state, who }),
  needsApproval: (cost, limit) => t('acct.needs_approval', { cost, limit }),
  askApproval: cost => t('acct.ask_approval', { cost }),
  asked: id => t('acct.asked', { id }),
  overBudget: t('acct.over_budget'),
  approveTitle: id => t('acct.approve_title', { id }),
  approveWho: a => tm({ key: 'acct.approve_who', args: { who: a.requested_by, camera: a.camera, from: when17(a.from_ms), to: when17(a.to_ms), tier: { key: 'speed.' + a.tier } } }),
  stateOf: a => a.decided_by
    ? tm({ key: 'acct.decided_by', args: { state: { key: 'acct.state.' + a.state }, who: a.decided_by } })
    : tm({ key: 'acct.state.' + a.state }),
  approveCost: (cost, hours) => t('acct.approve_cost', { cost, hours }),
  approveDone: state => t('acct.approve_done', { state }),
  openRestore: id => t('acct.open_restore', { id }),
  viewerOnly: t('acct.viewer_only'),
};

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const k of kids.flat()) {
    if (k === null || k === undefined || k === false) continue;
    e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return e;
}

async function api(path, body) {
  const opts = body === undefined ? {} : {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': CSRF },
    body: JSON.stringify(body),
  };
  const r = await fetch(path, opts);
  if (r.status === 401) { location.href = '/login'; throw new Error('log in first'); }
  const j = await r.json().catch(() => ({}));
  if (!r.ok) throw new ApiError(j, r.status);
  return j;
}

function bytes(n) {
  const u = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];
  let i = 0;
  while (n >= 1000 && i < u.length - 1) { n /= 1000; i++; }
  return num(n, i ? 1 : 0) + ' ' + u[i];
}

function cny(x) { return '¥' + num(Number(x || 0), 2); }

function errorBox(e) {
  return e.msg ? el('p', { class: 'error', role: 'alert' }, tm(e.msg)) : el('p', { class: 'error', role: 'alert', text: String(e.message || e) });
}

// replaceChildren would print a null as the text "null".
function render(...kids) { view.replaceChildren(...kids.filter(k => k !== null && k !== undefined)); }

// ---------- dashboard ----------

// A health problem: the rule's name and explanation, then its detail (numbers, keys, what to
// run) from the server as a message key. A probe's verdict written elsewhere has no key: it
// stays the server's English, marked lang="en".
function problemItem(p) {
  const key = 'health.' + p.rule;
  const known = STRINGS[key] !== undefined;
  const detail = p.detail ? tm(p.detail) : el('span', { lang: 'en', text: p.message });
  return el('li', { class: 'problem', dataset: { rule: p.rule } },
    el('b', { text: known ? t(key + '.title') : p.rule }), t('common.colon'), known ? t(key) : null,
    el('br'), el('small', { class: 'detail' }, t('alert.detail'), detail));
}

async function dashboard() {
  document.title = t('dash.title') + ' — camvault';
  const d = await api('/api/dashboard');
  const problems = d.health.problems || [];
  const health = el('section', { class: 'card', id: 'health' },
    el('h2', { text: t('dash.health') }),
    problems.length
      ? el('ul', { class: 'problems' }, problems.map(problemItem))
      : el('p', { class: 'ok', id: 'all-good', text: t('dash.all_good') }));
  const cams = el('section', { class: 'card', id: 'cameras' }, el('h2', { text: t('dash.cameras') }),
    d.cameras.length ? null : el('p', { text: t('dash.no_recordings') }),
    el('div', { class: 'grid' }, d.cameras.map(c => el('article', { class: 'camera' },
      el('h3', { translate: 'no' }, el('a', { href: `/day/${encodeURIComponent(c.id)}/${c.today}`, text: c.id })),
      c.last ? el('a', { href: `/day/${encodeURIComponent(c.id)}/${c.last.date}#clip=${c.last.id}` },
        el('img', { class: 'thumb', src: `/media/thumb/${c.last.id}`, alt: t('dash.last_clip_alt'), loading: 'lazy', decoding: 'async' })) : null,
      el('p', { class: 'muted last-clip', text: c.last ? t('dash.last_clip', { when: dateTimeIn(c.last.start_ms, c.timezone) }) : t('dash.no_clip') }),
      el('p', {}, el('a', { href: `/day/${encodeURIComponent(c.id)}/${c.today}`, text: t('dash.today') }), ' · ',
        el('a', { href: `/month/${encodeURIComponent(c.id)}/${c.today.slice(0, 7)}`, text: t('dash.calendar') }))))));
  const f = d.files;
  const backlog = el('section', { class: 'card', id: 'backlog' }, el('h2', { text: t('dash.backlog') }),
    el('p', {}, t('dash.pending', { n: num(f.pending) }),
      d.oldest_pending_secs != null ? t('dash.oldest', { min: num(Math.round(d.oldest_pending_secs / 60)) }) : '',
      f.failed ? t('dash.failing', { n: num(f.failed) }) : ''));
  const className = k => (STRINGS['class.' + k] !== undefined ? t('class.' + k) : k);
  const rows = [[t('dash.on_server'), d.bytes.cached, f.cached]].concat(d.classes.map(c => [className(c.class), c.bytes, c.files]));
  const tiers = el('section', { class: 'card', id: 'tiers' }, el('h2', { text: t('dash.bytes_by_tier') }),
    el('table', {}, el('tbody', {}, rows.map(([k, b, n]) => el('tr', {}, el('th', { text: k }), el('td', { text: bytes(b) }), el('td', { class: 'muted', text: t('common.clips', { n: num(n) }) }))))));
  const c = d.cost;
  const cost = el('section', { class: 'card', id: 'cost' }, el('h2', { text: t('dash.cost') }),
    el('p', {}, t('dash.so_far_pre'), el('b', { id: 'cost-so-far', text: cny(c.month_so_far_cny) }), t('dash.so_far'),
      el('b', { id: 'cost-projected', text: cny(c.month_projected_cny) }), t('dash.projected')),
    el('p', { class: 'muted', text: t('dash.rate', { rate: cny(c.monthly_rate_cny), std: num(c.standard_gb, 2), arch: num(c.archive_gb, 2), daily: num(c.daily_gb, 2) }) }));
  const restores = d.restores.length ? el('section', { class: 'card' }, el('h2', { text: t('dash.restores') }),
    el('ul', {}, d.restores.map(r => el('li', {}, el('a', { href: `/restores/${r.id}`, text: `#${r.id}` }), ' ',
      r.camera ? el('span', { translate: 'no', text: r.camera }) : t('dash.all_cameras'), ' — ', t('state.' + r.state))))) : null;
  const [me, ap] = await Promise.all([ME, api('/api/approvals').catch(() => ({ approvals: [] }))]);
  render(el('h1', { text: t('dash.title') }), health, cams, el('div', { class: 'grid' }, backlog, tiers, bucketCard(d.bucket, d.classes, className), cost, budgetCard(me.budget)),
    approvalsCard(me, ap.approvals), restores);
}

// The bucket's own count (GetBucketStat, or a listing's sums) beside the catalog's, per
// class, and whether the hourly check found them disagreeing (with the server's detail).
function bucketCard(b, classes, className) {
  if (!b) return null;
  const ours = {};
  classes.forEach(c => { ours[c.class] = [c.files, c.bytes]; });
  const names = [...new Set(Object.keys(b.classes || {}).concat(Object.keys(ours)))].sort();
  const side = (n, by) => (n == null ? '—' : t('dash.bucket_objects', { n: num(n), size: bytes(by) }));
  const row = (k, theirs, mine, id) => el('tr', id ? { id } : {}, el('th', { text: k }),
    el('td', { text: theirs ? side(theirs[0], theirs[1]) : '—' }), el('td', { text: mine ? side(mine[0], mine[1]) : '—' }));
  const source = b.source === 'GetBucketStat' ? el('span', { translate: 'no', text: 'GetBucketStat' }) : t('dash.bucket_listing');
  const bad = b.state === 'disagree';
  return el('section', { class: 'card', id: 'bucket', dataset: { state: b.state } }, el('h2', { text: t('dash.bucket') }),
    el('table', {},
      el('thead', {}, el('tr', {}, el('th', {}), el('th', { text: t('dash.bucket_col') }), el('th', { text: t('dash.catalog_col') }))),
      el('tbody', {}, row(t('dash.bucket_total'), [b.objects, b.bytes], [b.catalog.objects, b.catalog.bytes], 'bucket-total'),
        names.map(k => row(className(k), b.classes && b.classes[k] ? [b.classes[k].objects, b.classes[k].bytes] : null, ours[k])))),
    el('p', { class: 'muted' }, t('dash.bucket_source'), source, b.as_of_ms != null ? t('dash.bucket_as_of', { when: dateTimeIn(b.as_of_ms) }) : ''),
    el('p', { id: 'bucket-state', class: bad ? 'error' : 'ok' }, t(bad ? 'dash.bucket_disagree' : 'dash.bucket_agree'),
      // The server's detail, in the page's language (its object keys and numbers as data).
      bad ? el('br') : null,
      bad ? el('small', { class: 'detail', id: 'bucket-drift' }, b.drift_detail ? tm(b.drift_detail) : el('span', { lang: 'en', text: b.drift })) : null));
}

function budgetCard(b) {
  return el('section', { class: 'card', id: 'budget' }, el('h2', { text: S17.budgetTitle }),
    b.month_cny > 0
      ? el('p', { id: 'budget-line', text: S17.budgetLine(cny(b.spent_cny), cny(b.month_cny), cny(b.left_cny)) })
      : el('p', { class: 'muted', id: 'budget-line', text: S17.budgetNone + ' ' + S17.budgetSpent(cny(b.spent_cny)) }));
}

function decisionButtons(a, t) {
  const box = el('span', { class: 'decide' });
  const decide = async (decision, btn) => {
    btn.disabled = true;
    try {
      const r = await api(`/api/approvals/${a.id}`, { decision, t: t || '' });
      if (r.restore) go(`/restores/${r.restore}`); else route();
    } catch (e) { box.after(errorBox(e)); btn.disabled = false; }
  };
  box.append(
    el('button', { type: 'button', class: 'approve', dataset: { id: a.id }, onclick: ev => decide('approve', ev.target), text: S17.approve }), ' ',
    el('button', { type: 'button', class: 'refuse', dataset: { id: a.id }, onclick: ev => decide('refuse', ev.target), text: S17.refuse }));
  return box;
}

function approvalsCard(me, list) {
  const admin = me.role === 'admin';
  const shown = admin ? list.filter(a => a.state === 'pending') : list;
  if (!admin && !shown.length) return null;
  return el('section', { class: 'card', id: 'approvals' }, el('h2', { text: admin ? S17.approvalsTitle : S17.myRequestsTitle }),
    shown.length ? el('ul', {}, shown.map(a => el('li', { class: 'approval state-' + a.state, dataset: { id: a.id } },
      S17.approvalLine(a), el('b', { text: cny(a.est_cost_cny) }), ' — ',
      admin && a.state === 'pending' ? decisionButtons(a) : el('span', { class: 'approval-state' }, S17.stateOf(a)),
      a.restore_id ? el('a', { href: `/restores/${a.restore_id}`, text: ' ' + S17.openRestore(a.restore_id) }) : null)))
      : el('p', { class: 'muted', text: S17.noApprovals }));
}

async function approveView(id) {
  document.title = S17.approveTitle(id) + ' — camvault';
  const t = new URLSearchParams(location.search).get('t') || '';
  const r = await api(`/api/approvals/${id}?t=${encodeURIComponent(t)}`);
  const a = r.approval;
  render(el('h1', { text: S17.approveTitle(id) }),
    el('section', { class: 'card', id: 'approval' },
      el('p', { id: 'approval-who' }, S17.approveWho(a)),
      el('p', {}, el('b', { id: 'approval-cost', text: S17.approveCost(cny(a.est_cost_cny), hoursText(a.hours)) })),
      r.budget.month_cny > 0 ? el('p', { class: 'muted', text: S17.budgetLine(cny(r.budget.spent_cny), cny(r.budget.month_cny), cny(r.budget.left_cny)) }) : null,
      a.state !== 'pending'
        ? el('p', { id: 'approval-state' }, tm({ key: 'acct.approve_done', args: { state: a.decided_by
          ? { key: 'acct.decided_by', args: { state: { key: 'acct.state.' + a.state }, who: a.decided_by } }
          : { key: 'acct.state.' + a.state } } }))
        : r.can_decide ? el('p', {}, decisionButtons(a, t)) : el('p', { class: 'muted', id: 'approval-state', text: S17.viewerOnly }),
      a.restore_id ? el('p', {}, el('a', { href: `/restores/${a.restore_id}`, text: S17.openRestore(a.restore_id) })) : null));
}

// ---------- camera day ----------

function legend() {
  return el('ul', { class: 'legend' }, TIER_NAMES.map(k => el('li', {}, el('span', { class: 'swatch tier-' + k }), tierName(k))));
}

// Which stream to ask for. The cameras' HEVC goes to a browser that can decode it untouched
// (only the A-law audio becomes AAC); any other browser gets H.264 at 720p, or at the
// camera's full size when the viewer asked for it.
const HEVC_TYPE = 'video/mp4; codecs="hvc1.1.6.L120.90"';
function hevcSupported(player) {
  try {
    if (window.MediaSource && MediaSource.isTypeSupported(HEVC_TYPE)) return true;
  } catch (e) { /* an old browser */ }
  return player.canPlayType(HEVC_TYPE) === 'probably';
}
function quality() { return localStorage.getItem('camvault.quality') || 'auto'; }
function sourceFor(c, player, fallback) {
  const hevc = c.codec && /^(hvc1|hev1|hevc|h265)/i.test(c.codec);
  // After a failure (`fallback`) always H.264, whatever the clip: never the same source again.
  if (!hevc && !fallback) return ['original', `/media/clip/${c.id}`];
  const q = quality();
  if (!fallback && q === 'auto' && hevcSupported(player)) return ['hevc', `/media/play/${c.id}?v=hevc`];
  return q === 'full' ? ['full', `/media/play/${c.id}?v=full`] : ['720p', `/media/play/${c.id}?v=720p`];
}
async function day(camera, date) {
  document.title = `${camera} ${dateText(date, 'medium')} — camvault`;
  const d = await api(`/api/day?camera=${encodeURIComponent(camera)}&date=${date}`);
  const tz = d.timezone;
  const at = ms => timeIn(ms, tz);
  const span = d.end_ms - d.start_ms;
  const base = `/day/${encodeURIComponent(camera)}/`;
  const bar = el('div', { class: 'timeline', id: 'timeline', role: 'listbox', 'aria-label': t('day.clips_of_day') });
  for (let h = 0; h <= 24; h += 1) {
    const t = el('span', { class: 'tick' + (h % 3 ? ' minor' : ''), text: String(h).padStart(2, '0') });
    t.style.left = (h / 24 * 100) + '%';
    bar.append(t);
  }
  const tip = el('div', { class: 'tip', hidden: true }, el('img', { alt: '' }), el('span'));
  // No thumbnail (an archived clip captured before thumbnails, or no ffmpeg): just the time.
  tip.querySelector('img').addEventListener('error', ev => { ev.target.hidden = true; });
  // Nothing is fetched before the viewer plays a clip: no src until then, and no preload.
  const player = el('video', { id: 'player', controls: true, playsinline: true, preload: 'none' });
  const info = el('p', { id: 'now-playing', class: 'muted', text: t('day.help') });
  const msg = el('p', { id: 'player-message', class: 'error', role: 'alert' });
  const segs = [];
  let current = -1;
  let selA = null;
  let selB = null;

  d.clips.forEach((c, i) => {
    const s = el('button', {
      type: 'button', class: 'seg tier-' + c.tier, role: 'option',
      title: `${at(c.start_ms)}–${at(c.end_ms)} · ${tierName(c.tier)}`,
      'aria-label': t('day.seg_label', { from: at(c.start_ms), to: at(c.end_ms), tier: tierName(c.tier) }),
      dataset: { id: c.id, tier: c.tier, start: c.start, end: c.end, i },
    });
    s.style.left = ((c.start_ms - d.start_ms) / span * 100) + '%';
    s.style.width = Math.max((c.end_ms - c.start_ms) / span * 100, 0.02) + '%';
    s.addEventListener('mouseenter', () => {
      tip.hidden = false;
      tip.querySelector('img').hidden = false;
      tip.querySelector('img').src = `/media/thumb/${c.id}`;
      tip.querySelector('span').textContent = `${at(c.start_ms)} · ${tierName(c.tier)}`;
      tip.style.left = (s.offsetLeft - scroller.scrollLeft) + 'px';
    });
    s.addEventListener('mouseleave', () => { tip.hidden = true; });
    s.addEventListener('click', ev => {
      if (ev.shiftKey) { select(i); return; }
      play(i);
    });
    segs.push(s);
    bar.append(s);
  });

  // The video index's activity strip (issue 15): a mark per moment with motion, darker
  // the more of the picture moved; hovering shows its frame. Archived days too: it comes
  // from the index, not the footage.
  const strip = el('div', { class: 'activity', id: 'activity-strip', 'aria-label': t('activity.strip') });
  bar.append(strip);
  api(`/api/activity?camera=${encodeURIComponent(camera)}&from=${date}&to=${date}&limit=1000`).then(r => {
    for (const h of r.results) {
      const m = el('span', { class: 'act', dataset: { start: h.start_ms, peak: h.peak, clip: h.file_id } });
      m.style.left = ((h.start_ms - d.start_ms) / span * 100) + '%';
      m.style.width = Math.max((h.end_ms - h.start_ms) / span * 100, 0.05) + '%';
      m.style.opacity = String(0.35 + 0.65 * Math.min(h.peak, 100) / 100);
      m.addEventListener('mouseenter', () => {
        tip.hidden = false;
        const img = tip.querySelector('img');
        img.hidden = false;
        img.src = h.frame_url;
        tip.querySelector('span').textContent = t('activity.seg', { time: at(h.start_ms), peak: num(h.peak) });
        tip.style.left = (m.offsetLeft - scroller.scrollLeft) + 'px';
      });
      m.addEventListener('mouseleave', () => { tip.hidden = true; });
      strip.append(m);
    }
    strip.dataset.moments = String(r.results.length);
  }).catch(() => { strip.dataset.moments = '0'; });

  function select(i) {
    if (selA === null || selB !== null) { selA = i; selB = null; } else { selB = i; }
    const [a, b] = selB === null ? [selA, selA] : [Math.min(selA, selB), Math.max(selA, selB)];
    segs.forEach((s, j) => s.classList.toggle('selected', j >= a && j <= b));
    from.value = d.clips[a].start.slice(0, 5);
    // Up to the minute after the last clip's end (the range ends before `to`).
    const endClip = d.clips[b];
    const endLocal = endClip.date === date ? endClip.end : '23:59:00';
    to.value = endClip.end_ms >= d.end_ms ? '23:59' : minuteAfter(endLocal < endClip.start ? '23:59:00' : endLocal);
  }

  // Zoom: the bar grows inside a scrolling box, so one-minute clips get wide enough to click.
  const scroller = el('div', { class: 'timeline-scroll', id: 'timeline-scroll' }, bar);
  const zoom = el('select', { id: 'zoom', 'aria-label': t('day.zoom') },
    [[1, 24], [4, 6], [24, 1]].map(([z, h]) => el('option', { value: z, text: t('day.hours', { n: h }) })));
  function setZoom(z) {
    zoom.value = String(z);
    bar.style.width = (z * 100) + '%';
    bar.classList.toggle('zoomed', z > 1);
    const at = segs[current >= 0 ? current : 0];
    if (at) scroller.scrollLeft = at.offsetLeft - scroller.clientWidth / 2;
  }
  zoom.addEventListener('change', () => setZoom(Number(zoom.value)));

  function focusSeg(i) {
    if (i < 0 || i >= segs.length) return;
    current = i;
    segs[i].focus();
    segs[i].scrollIntoView({ block: 'nearest', inline: 'nearest' });
  }

  async function play(i) {
    const c = d.clips[i];
    current = i;
    segs.forEach(s => s.classList.remove('playing'));
    segs[i].classList.add('playing');
    msg.textContent = '';
    if (!c.playable) {
      info.textContent = t('day.not_here', { time: at(c.start_ms), tier: tierName(c.tier) });
      select(i);
      return;
    }
    info.textContent = t('day.playing', { from: at(c.start_ms), to: at(c.end_ms) });
    player.dataset.clip = c.id;
    const [kind, url] = sourceFor(c, player, false);
    player.dataset.src = kind;
    player.src = url;
    try { await player.play(); } catch (e) { /* autoplay may be refused; the controls remain */ }
  }

  player.addEventListener('ended', async () => {
    for (let j = current + 1; j < d.clips.length; j++) {
      if (d.clips[j].playable) { play(j); return; }
    }
    // The day's last clip: go on with the next day's first playable one.
    try {
      const n = await api(`/api/day?camera=${encodeURIComponent(camera)}&date=${d.next}`);
      const c = n.clips.find(x => x.playable);
      if (c) go(`${base}${d.next}#clip=${c.id}`);
    } catch (e) { /* nothing more to play */ }
  });
  player.addEventListener('error', async () => {
    const c = d.clips[current];
    if (!c) return;
    // The original or the HEVC pass-through did not play: H.264 it is.
    if (player.dataset.src === 'original' || player.dataset.src === 'hevc') {
      const [kind, url] = sourceFor(c, player, true);
      player.dataset.src = kind;
      player.src = url;
      player.play().catch(() => {});
      return;
    }
    const url = player.src;
    const r = await fetch(url, { method: 'HEAD' }).catch(() => null);
    let text = t('day.cannot_play');
    if (r && !r.ok) {
      const j = await fetch(url).then(x => x.json()).catch(() => ({}));
      if (r.status === 501) text = t('err.no_ffmpeg');
      else if (j.key) text = tm(j).textContent;
      else if (j.error) text = t('err.server', { detail: j.error });
    }
    msg.textContent = text;
  });

  const from = el('input', { type: 'time', id: 'range-from', value: '00:00', required: true });
  const to = el('input', { type: 'time', id: 'range-to', value: '23:59', required: true });
  const tier = el('select', { id: 'restore-tier' }, ['standard', 'expedited', 'bulk'].map(k => el('option', { value: k, text: t('speed.' + k) })));
  const planBox = el('div', { id: 'plan' });
  function rangeMs() {
    const ms = hhmm => { const [h, m] = hhmm.split(':').map(Number); return (h * 60 + m) * 60000; };
    // Offsets from midnight; on a day with a clock change this is off by the change.
    return [d.start_ms + ms(from.value), d.start_ms + ms(to.value) + (to.value === '23:59' ? 60000 : 0)];
  }
  const planBtn = el('button', {
    type: 'button', id: 'plan-restore', onclick: async () => {
      const [a, b] = rangeMs();
      planBox.replaceChildren(el('p', { text: t('plan.planning') }));
      try {
        const body = { camera, from_ms: a, to_ms: b, tier: tier.value };
        const p = await api('/api/restore/plan', body);
        planBox.replaceChildren(planView(p, body, k => { tier.value = k; planBtn.click(); }));
      } catch (e) { planBox.replaceChildren(errorBox(e)); }
    },
  }, t('plan.button'));
  const exportLink = el('a', { id: 'export', class: 'button', href: '#', text: t('day.export') });
  exportLink.addEventListener('click', ev => {
    const [a, b] = rangeMs();
    exportLink.href = `/media/export?camera=${encodeURIComponent(camera)}&from_ms=${a}&to_ms=${b}`;
    void ev;
  });

  document.onkeydown = ev => {
    if (ev.target instanceof HTMLInputElement || ev.target instanceof HTMLSelectElement) return;
    const focused = document.activeElement && document.activeElement.classList.contains('seg');
    const at = focused ? Number(document.activeElement.dataset.i) : current;
    if (ev.key === 'ArrowRight') { focusSeg(at + 1); ev.preventDefault(); }
    else if (ev.key === 'ArrowLeft') { focusSeg(at < 0 ? segs.length - 1 : at - 1); ev.preventDefault(); }
    else if (ev.key === 'Enter' && document.activeElement && document.activeElement.classList.contains('seg')) { play(Number(document.activeElement.dataset.i)); ev.preventDefault(); }
    else if (ev.key === '+' || ev.key === '=') { const o = zoom.selectedIndex; if (o < zoom.options.length - 1) setZoom(Number(zoom.options[o + 1].value)); }
    else if (ev.key === '-') { const o = zoom.selectedIndex; if (o > 0) setZoom(Number(zoom.options[o - 1].value)); }
    else if (ev.key === 'PageUp' || ev.key === '[') go(base + d.prev);
    else if (ev.key === 'PageDown' || ev.key === ']') go(base + d.next);
  };

  // Quality: auto (HEVC untouched where the browser decodes it, else 720p), 720p, full size.
  const qual = el('select', { id: 'quality', 'aria-label': t('day.quality') },
    ['auto', '720p', 'full'].map(q => el('option', { value: q, text: t('quality.' + q), selected: quality() === q })));
  qual.addEventListener('change', () => {
    localStorage.setItem('camvault.quality', qual.value);
    if (current >= 0 && player.dataset.clip) play(current);
  });

  // One hand on a phone: the buttons that matter are big and at the bottom of the screen.
  const nextPlayable = (from, step) => {
    for (let j = from + step; j >= 0 && j < d.clips.length; j += step) if (d.clips[j].playable) return j;
    return -1;
  };
  const thumbBar = el('nav', { class: 'thumbbar', id: 'thumbbar', 'aria-label': t('day.controls') },
    el('a', { href: base + d.prev, class: 'tb', id: 'tb-prev-day', 'aria-label': t('day.prev_day'), text: '«' }),
    el('button', { type: 'button', class: 'tb', id: 'tb-prev', 'aria-label': t('day.prev_clip'), text: '◀',
      onclick: () => { const j = nextPlayable(current < 0 ? d.clips.length : current, -1); if (j >= 0) play(j); } }),
    el('button', { type: 'button', class: 'tb', id: 'tb-play', 'aria-label': t('day.play_pause'), text: '▶❚❚',
      onclick: () => {
        if (player.dataset.clip && !player.ended) { if (player.paused) player.play().catch(() => {}); else player.pause(); return; }
        const j = nextPlayable(current < 0 ? -1 : current, 1);
        if (j >= 0) play(j);
      } }),
    el('button', { type: 'button', class: 'tb', id: 'tb-next', 'aria-label': t('day.next_clip'), text: '▶',
      onclick: () => { const j = nextPlayable(current, 1); if (j >= 0) play(j); } }),
    el('a', { href: base + d.next, class: 'tb', id: 'tb-next-day', 'aria-label': t('day.next_day'), text: '»' }));

  render(
    el('h1', {}, el('span', { translate: 'no', text: camera }), ' ', el('span', { class: 'muted', id: 'day-date', dataset: { date }, text: dateText(date) })),
    el('nav', { class: 'pager' },
      el('a', { href: base + d.prev, id: 'prev-day', rel: 'prev', text: '← ' + dateText(d.prev, 'medium') }),
      el('a', { href: `/month/${encodeURIComponent(camera)}/${date.slice(0, 7)}`, text: t('dash.calendar') }),
      el('a', { href: base + d.next, id: 'next-day', rel: 'next', text: dateText(d.next, 'medium') + ' →' })),
    el('div', { class: 'timeline-wrap' }, scroller, tip),
    el('div', { class: 'row' }, legend(), el('label', { class: 'zoom' }, t('day.zoom') + ' ', zoom),
      el('label', { class: 'zoom' }, t('day.quality') + ' ', qual)),
    el('p', { class: 'muted', id: 'clip-count', text: t('common.clips', { n: num(d.clips.length) }) }),
    player, info, msg, thumbBar,
    el('section', { class: 'card', id: 'range' }, el('h2', { text: t('day.range') }),
      el('div', { class: 'row' }, el('label', {}, t('day.from') + ' ', from), el('label', {}, t('day.to') + ' ', to), el('label', {}, t('day.speed') + ' ', tier)),
      el('div', { class: 'row' }, planBtn, exportLink), planBox));

  const m = /clip=(\d+)/.exec(location.hash);
  if (m) { const i = d.clips.findIndex(c => String(c.id) === m[1]); if (i >= 0) { focusSeg(i); play(i); } }
}

function minuteAfter(hhmmss) {
  const [h, m] = hhmmss.split(':').map(Number);
  const t = Math.min(h * 60 + m + 1, 23 * 60 + 59);
  return String(Math.floor(t / 60)).padStart(2, '0') + ':' + String(t % 60).padStart(2, '0');
}

function hoursText(h) {
  return h <= 0 ? t('plan.minutes') : h < 1 ? t('plan.min', { n: num(Math.round(h * 60)) }) : t('plan.h', { n: num(h) });
}

// An estimate line in the page's language, by the price it uses (the server's text is English).
function costLine(l) {
  const k = l.price && l.price.key || '';
  if (k === 'standard_gb_month') return t('cost.kept');
  if (k === 'get_per_10k') return t('cost.get');
  if (k === 'outbound_gb') return t('cost.download');
  if (k.endsWith('_per_10k')) return t('cost.restore_requests');
  if (k.endsWith('_gb')) return t('cost.retrieval');
  return l.what;
}

// Items of a list, in the page's language's separator.
function joined(items) {
  return items.flatMap((x, i) => (i ? [t('common.list_sep'), x] : [x]));
}

// A store's name: the main store in words, a mirror's name as data.
function storeName(s) {
  return s === 'primary' ? el('span', { text: t('plan.primary') }) : el('span', { translate: 'no', text: s });
}

function classWord(k) {
  return STRINGS['class.' + k] !== undefined ? el('span', { text: t('class.' + k) }) : el('span', { translate: 'no', text: k });
}

function copyTime(h) { return h > 0 ? hoursText(h) : t('plan.at_once'); }

// Every store that holds copies of the plan's clips (issue 21): the main store and each
// mirror, what taking all of its clips from it would cost and take, and how many the plan
// takes from it. The server sums the copies it priced (src/restore/copies.rs, by_store).
function copiesView(p) {
  if (!p.copies || !p.copies.length) return null;
  const of = (n, total) => t('plan.n_of', { n: num(n), total: num(total) });
  return el('section', { class: 'copies', id: 'plan-copies', dataset: { stores: p.copies.length, mirrors: p.mirrors } },
    el('h3', { text: t('plan.copies_title') }),
    el('p', { id: 'plan-copies-count', text: t('plan.copies_count', { stores: num(p.copies.length), mirrors: num(p.mirrors) }) }),
    el('div', { class: 'scroll' }, el('table', { class: 'copies' },
      el('thead', {}, el('tr', {},
        el('th', { text: t('plan.copy_store') }), el('th', { text: t('plan.copy_kind') }), el('th', { text: t('plan.copy_class') }),
        el('th', { text: t('plan.copy_clips') }), el('th', { text: t('plan.copy_readable') }), el('th', { text: t('plan.copy_usable') }),
        el('th', { text: t('plan.copy_cost') }), el('th', { text: t('plan.copy_time') }), el('th', { text: t('plan.copy_taken') }),
        el('th', { text: t('plan.copy_note') }))),
      el('tbody', {}, p.copies.map(c => el('tr', {
        class: c.chosen ? 'chosen' : null,
        dataset: { store: c.store, kind: c.kind, clips: c.clips, readable: c.readable, usable: c.usable, cny: c.cny, hours: c.hours, chosen: c.chosen },
      },
      el('th', {}, storeName(c.store)), el('td', { translate: 'no', lang: 'zxx', text: c.kind }), el('td', {}, joined(c.classes.map(classWord))),
      el('td', { text: num(c.clips) }), el('td', { text: of(c.readable, c.clips) }), el('td', { text: of(c.usable, c.clips) }),
      // A store none of whose copies can be taken (a disk away) has no price or time.
      el('td', { class: 'money', text: c.usable ? cny(c.cny) : '—' }), el('td', { class: 'money', text: c.usable ? copyTime(c.hours) : '—' }),
      el('td', { text: num(c.chosen) }),
      el('td', { class: 'notes' }, joined((c.notes || []).map(tm)))))))),
    el('p', { class: 'muted', text: t('plan.copies_help') }));
}

// The clips a plan lists at most, one row each (a month's range holds thousands).
const PLAN_CLIPS_SHOWN = 200;

// Which copy each clip is taken from: this server, the main store or a mirror, with that
// copy's price and time, and the other copies beside it.
function clipsView(p) {
  if (!p.copies || !p.copies.length) return null;
  const shown = p.items.slice(0, PLAN_CLIPS_SHOWN);
  const other = o => el('span', { class: o.usable ? 'copy' : 'copy muted', dataset: { store: o.store, usable: o.usable } },
    storeName(o.store), ' ', o.usable ? [cny(o.cny), ' ', copyTime(o.hours)] : t('plan.unusable'));
  const from = i => (i.source === 'cache' ? t('plan.this_server') : i.source === 'missing' ? t('plan.missing') : null);
  return el('details', { id: 'plan-clips' }, el('summary', { text: t('plan.clips_title') }),
    el('div', { class: 'scroll' }, el('table', {},
      el('thead', {}, el('tr', {}, el('th', { text: t('plan.clip_col') }), el('th', { text: t('plan.from_col') }),
        el('th', { text: t('plan.copy_cost') }), el('th', { text: t('plan.copy_time') }), el('th', { text: t('plan.others_col') }))),
      el('tbody', {}, shown.map(i => {
        const copies = i.copies || [];
        const chosen = copies.find(o => o.store === i.store);
        const late = chosen && p.max_wait_hours != null && chosen.hours > p.max_wait_hours;
        return el('tr', { dataset: { key: i.key, from: i.source === 'cache' || i.source === 'missing' ? i.source : i.store } },
          el('td', { class: 'key', translate: 'no', text: i.key }),
          el('td', {}, from(i) || storeName(i.store || 'primary'), chosen ? [' (', classWord(chosen.class), ')'] : null,
            late ? [el('br'), el('small', { class: 'error', text: t('plan.late') })] : null),
          el('td', { class: 'money', text: chosen ? cny(chosen.cny) : '—' }),
          el('td', { class: 'money', text: chosen ? copyTime(chosen.hours) : '—' }),
          el('td', { class: 'others' }, joined(copies.filter(o => o !== chosen).map(other))));
      })))),
    p.items.length > shown.length ? el('p', { class: 'muted', text: t('plan.clips_more', { n: num(p.items.length - shown.length) }) }) : null);
}

function planView(p, body, retier) {
  const row = (label, x, id) => el('tr', { id, dataset: { clips: x.clips } }, el('th', { text: label }), el('td', { text: t('common.clips', { n: num(x.clips) }) }), el('td', { text: bytes(x.bytes) }));
  const when = p.hours > 0 ? t('plan.ready_within', { n: num(p.hours), tier: t('speed.' + p.tier) }) : t('plan.ready_minutes');
  return el('div', { class: 'plan' },
    el('table', {}, el('tbody', {},
      row(t('plan.local'), p.local, 'plan-local'),
      row(t('plan.store'), p.store, 'plan-store'),
      row(t('plan.archive'), p.archive, 'plan-archive'),
      p.mirror && p.mirror.clips ? row(t('plan.mirror'), p.mirror, 'plan-mirror') : null,
      p.missing.clips ? row(t('plan.missing'), p.missing, 'plan-missing') : null)),
    copiesView(p),
    clipsView(p),
    el('table', { class: 'estimate' }, el('tbody', {}, p.estimate.map(l => el('tr', {}, el('td', { text: costLine(l) }), el('td', { text: l.unit === '10k requests' ? t('plan.requests', { n: num(Math.round(l.quantity)) }) : `${num(Number(l.quantity), 3)} ${l.unit}` }), el('td', { text: cny(l.cny) }))))),
    p.archive.clips ? el('table', { class: 'tiers', id: 'plan-tiers' },
      el('thead', {}, el('tr', {}, el('th', { text: t('day.speed') }), el('th', { text: t('plan.ready_col') }), el('th', { text: t('plan.cost_col') }))),
      el('tbody', {}, (p.tiers || []).map(x => el('tr', { class: x.tier === p.tier ? 'chosen' : null, dataset: { tier: x.tier, hours: x.hours } },
        el('td', {}, x.tier === p.tier ? el('b', { text: t('speed.' + x.tier) }) : el('button', { type: 'button', class: 'link', onclick: () => retier(x.tier), text: t('speed.' + x.tier) })),
        el('td', { text: hoursText(x.hours) }), el('td', { text: cny(x.total_cny) }))))) : null,
    el('p', {}, t('plan.total'), el('b', { id: 'plan-total', text: cny(p.total_cny) }), t('common.comma'), el('span', { id: 'plan-time', dataset: { hours: p.hours }, text: when }), t('common.stop')),
    p.budget && p.budget.month_cny > 0 ? el('p', { class: 'muted', id: 'plan-budget', text: S17.budgetLine(cny(p.budget.spent_cny), cny(p.budget.month_cny), cny(p.budget.left_cny)) }) : null,
    p.over_budget ? el('p', { class: 'error', id: 'plan-over-budget', role: 'alert' }, p.over_budget_msg ? tm(p.over_budget_msg) : p.over_budget) : null,
    p.over_budget ? null : p.needs_approval ? el('div', { id: 'plan-approval' },
      el('p', { text: S17.needsApproval(cny(p.total_cny), cny(p.budget.approval_cny)) }),
      el('button', {
        type: 'button', id: 'request-approval', onclick: async ev => {
          ev.target.disabled = true;
          try {
            const r = await api('/api/approvals', body);
            ev.target.replaceWith(el('p', { id: 'approval-requested', class: 'ok', text: S17.asked(r.approval) }));
          } catch (e) { ev.target.after(errorBox(e)); ev.target.disabled = false; }
        },
      }, S17.askApproval(cny(p.total_cny)))) : el('button', {
      type: 'button', id: 'confirm-restore', onclick: async ev => {
        ev.target.disabled = true;
        try {
          const r = await api('/api/restore', body);
          go(`/restores/${r.id}`);
        } catch (e) { ev.target.after(errorBox(e)); ev.target.disabled = false; }
      },
    }, t('plan.confirm', { n: num(p.items.length), cost: cny(p.total_cny) })));
}

// ---------- month ----------

async function month(camera, ym) {
  document.title = `${camera} ${monthText(ym)} — camvault`;
  const d = await api(`/api/month?camera=${encodeURIComponent(camera)}&month=${ym}`);
  const base = `/month/${encodeURIComponent(camera)}/`;
  const grid = el('div', { class: 'calendar', id: 'calendar' },
    // 2024-01-01 was a Monday.
    [0, 1, 2, 3, 4, 5, 6].map(i => el('div', { class: 'wd', text: new Intl.DateTimeFormat(LANG, { timeZone: 'UTC', weekday: 'short' }).format(new Date(Date.UTC(2024, 0, 1 + i))) })));
  for (let i = 0; i < d.first_weekday; i++) grid.append(el('div', { class: 'blank' }));
  for (const day of d.days) {
    const fill = el('span', { class: 'fill' + (day.archived ? ' tier-archived' : ' tier-local') });
    fill.style.width = (day.coverage * 100) + '%';
    grid.append(el('a', {
      class: 'daycell' + (day.clips ? '' : ' empty'), href: `/day/${encodeURIComponent(camera)}/${day.date}`,
      dataset: { date: day.date, clips: day.clips, coverage: day.coverage.toFixed(4) },
      title: t('month.cell', { n: num(day.clips), pct: num(day.coverage * 100, 1) }),
    }, el('span', { class: 'num', text: num(Number(day.date.slice(8))) }),
      day.clips ? el('span', { class: 'count', text: t('common.clips', { n: num(day.clips) }) + (day.archived ? t('month.archived', { n: num(day.archived) }) : '') }) : null,
      el('span', { class: 'cov' }, fill)));
  }
  document.onkeydown = ev => {
    if (ev.key === 'PageUp' || ev.key === '[') go(base + d.prev);
    else if (ev.key === 'PageDown' || ev.key === ']') go(base + d.next);
  };
  render(el('h1', {}, el('span', { translate: 'no', text: camera }), ' ', el('span', { class: 'muted', text: monthText(ym) })),
    el('nav', { class: 'pager' }, el('a', { href: base + d.prev, id: 'prev-month', text: '← ' + monthText(d.prev) }), el('a', { href: base + d.next, id: 'next-month', text: monthText(d.next) + ' →' })),
    grid);
  // Activity per day from the video index (issue 15), archived days included.
  try {
    const a = await api(`/api/activity/month?camera=${encodeURIComponent(camera)}&month=${ym}`);
    for (const [date, n] of Object.entries(a.days)) {
      const cell = grid.querySelector(`.daycell[data-date="${date}"]`);
      if (!cell || !n) continue;
      cell.dataset.activity = String(n);
      cell.append(el('span', { class: 'act-count', text: t('month.activity', { n: num(n) }) }));
    }
  } catch (e) { /* no index: the calendar without activity */ }
}

// ---------- search ----------

async function search() {
  document.title = t('search.title') + ' — camvault';
  const cams = await api('/api/cameras');
  const q = new URLSearchParams(location.search);
  const today = cams.length ? cams[0].today : new Date().toISOString().slice(0, 10);
  const camera = el('select', { name: 'camera', id: 's-camera' }, el('option', { value: '', text: t('dash.all_cameras') }),
    cams.map(c => el('option', { value: c.id, text: c.id, selected: q.get('camera') === c.id })));
  const from = el('input', { type: 'date', name: 'from', id: 's-from', value: q.get('from') || today, required: true });
  const to = el('input', { type: 'date', name: 'to', id: 's-to', value: q.get('to') || today, required: true });
  const tf = el('input', { type: 'time', name: 'tod_from', id: 's-tod-from', value: q.get('tod_from') || '' });
  const tt = el('input', { type: 'time', name: 'tod_to', id: 's-tod-to', value: q.get('tod_to') || '' });
  const results = el('div', { class: 'results', id: 'results' });
  const form = el('form', { method: 'get', action: '/search', class: 'row' },
    el('label', {}, t('search.camera') + ' ', camera), el('label', {}, t('day.from') + ' ', from), el('label', {}, t('day.to') + ' ', to),
    el('label', {}, t('search.tod') + ' ', tf, ' – ', tt), el('button', { type: 'submit', text: t('search.button') }));
  render(el('h1', { text: t('search.title') }), form,
    el('p', {}, el('a', { href: '/activity', id: 'activity-link', text: t('activity.link') })), results);
  if (!q.get('from')) return;
  try {
    const r = await api('/api/search?' + q.toString());
    results.replaceChildren(
      el('p', { class: 'muted', id: 'result-count', dataset: { n: r.clips.length }, text: t('common.clips', { n: num(r.clips.length) }) + (r.truncated ? t('search.first') : '') }),
      el('div', { class: 'grid thumbs' }, r.clips.map(c => {
        const label = `${dateText(c.date, 'medium')} ${c.start}`;
        return el('a', { class: 'result tier-border-' + c.tier, href: `/day/${encodeURIComponent(c.camera)}/${c.date}#clip=${c.id}` },
          el('img', { class: 'thumb', src: `/media/thumb/${c.id}`, alt: label, loading: 'lazy', decoding: 'async' }),
          el('span', {}, el('span', { translate: 'no', text: c.camera }), ' ', label));
      })));
  } catch (e) { results.replaceChildren(errorBox(e)); }
}

// ---------- activity search (the video index, issue 15) ----------

async function activitySearch() {
  document.title = t('activity.title') + ' — camvault';
  const cams = await api('/api/cameras');
  const q = new URLSearchParams(location.search);
  const camera = el('select', { name: 'camera', id: 'a-camera' }, el('option', { value: '', text: t('dash.all_cameras') }),
    cams.map(c => el('option', { value: c.id, text: c.id, selected: q.get('camera') === c.id })));
  const input = (name, attrs) => el('input', Object.assign({ name, id: 'a-' + name, value: q.get(name) || '' }, attrs));
  const from = input('from', { type: 'date' });
  const to = input('to', { type: 'date' });
  const tf = input('tod_from', { type: 'time' });
  const tt = input('tod_to', { type: 'time' });
  const zone = input('zone', { type: 'text', size: 10 });
  const minAct = input('min_activity', { type: 'number', min: 0, max: 100, step: 1 });
  const minDur = input('min_duration', { type: 'number', min: 0, step: 1 });
  const results = el('div', { class: 'results', id: 'a-results' });
  const planBox = el('div', { id: 'plan' });
  const form = el('form', { method: 'get', action: '/activity', class: 'row', id: 'a-form' },
    el('label', {}, t('search.camera') + ' ', camera), el('label', {}, t('day.from') + ' ', from), el('label', {}, t('day.to') + ' ', to),
    el('label', {}, t('search.tod') + ' ', tf, ' – ', tt), el('label', {}, t('activity.zone') + ' ', zone),
    el('label', {}, t('activity.min_activity') + ' ', minAct), el('label', {}, t('activity.min_duration') + ' ', minDur),
    el('button', { type: 'submit', id: 'a-search', text: t('search.button') }));
  render(el('h1', { text: t('activity.title') }), form, results, planBox);
  if (![...q.keys()].length) return;
  const p = new URLSearchParams();
  for (const k of ['camera', 'from', 'to', 'zone', 'min_activity', 'min_duration']) if (q.get(k)) p.set(k, q.get(k));
  if (q.get('tod_from') && q.get('tod_to')) p.set('time', `${q.get('tod_from')}-${q.get('tod_to')}`);
  p.set('limit', '200');
  let r;
  try { r = await api('/api/activity?' + p.toString()); } catch (e) { results.replaceChildren(errorBox(e)); return; }
  const hits = r.results;
  const restoreBtn = el('button', {
    type: 'button', id: 'restore-results', hidden: !hits.length, onclick: async () => {
      planBox.replaceChildren(el('p', { text: t('plan.planning') }));
      const keys = [...new Set(hits.map(h => h.key))];
      const body = {
        camera: camera.value, keys, tier: 'standard',
        from_ms: Math.min(...hits.map(h => h.clip_start_ms)), to_ms: Math.max(...hits.map(h => h.end_ms)) + 1,
      };
      const plan = async () => {
        try { planBox.replaceChildren(planView(await api('/api/restore/plan', body), body, k => { body.tier = k; plan(); })); }
        catch (e) { planBox.replaceChildren(errorBox(e)); }
      };
      plan();
    },
  }, t('activity.restore'));
  results.replaceChildren(
    el('p', { class: 'muted', id: 'a-count', dataset: { n: hits.length } },
      hits.length ? t('activity.results', { n: num(hits.length) }) + (r.truncated ? t('activity.more') : '') : t('activity.none')),
    restoreBtn,
    el('div', { class: 'grid thumbs' }, hits.map(h => {
      const img = el('img', { class: 'thumb', src: h.frame_url, alt: t('activity.frame'), loading: 'lazy', decoding: 'async' });
      img.addEventListener('error', () => { img.hidden = true; });
      return el('a', { class: 'result moment tier-border-' + h.lives, href: `/day/${encodeURIComponent(h.camera)}/${h.date}#clip=${h.file_id}`,
        dataset: { key: h.key, lives: h.lives, offset: h.offset_s } },
        img,
        el('span', {}, el('span', { translate: 'no', text: h.camera }), ' ',
          t('activity.moment', { time: when17(h.start_ms), secs: num(Math.round(h.offset_s)), dur: num(Math.round((h.end_ms - h.start_ms) / 1000)), peak: num(h.peak) })),
        h.zones.length ? el('span', { class: 'muted' }, t('activity.zones') + ' ', el('span', { translate: 'no', text: h.zones.join(', ') })) : null,
        h.labels && h.labels.length ? el('span', { class: 'muted labels' }, t('activity.labels') + ' ', el('span', { translate: 'no', text: h.labels.join(', ') })) : null,
        el('span', { class: 'lives', text: t('lives.' + h.lives) }));
    })));
}

// ---------- restore progress ----------

async function restoreView(id) {
  document.title = t('restore.title', { id }) + ' — camvault';
  const box = el('div', { id: 'restore' });
  render(el('h1', { text: t('restore.title', { id }) }), box);
  const tick = async () => {
    if (!view.contains(box)) return;
    let r;
    try { r = await api(`/api/restore/${id}`); } catch (e) { box.replaceChildren(errorBox(e)); return; }
    const pct = r.total ? Math.round(r.done / r.total * 100) : 0;
    const bar = el('progress', { id: 'restore-progress', max: r.total || 1, value: r.done });
    box.replaceChildren(...[
      el('p', {}, t('restore.state'), el('b', { id: 'restore-state', dataset: { state: r.restore.state }, text: t('state.' + r.restore.state) }),
        t('restore.progress', { done: num(r.done), total: num(r.total), pct: num(pct) })),
      bar,
      el('p', { class: 'muted', text: Object.entries(r.states).map(([k, v]) => `${num(v)} ${t('state.' + k)}`).join(t('common.list_sep')) }),
      r.merged ? el('p', {}, el('a', { class: 'button', id: 'download', href: r.merged, text: t('restore.download') })) : null,
      r.day ? el('p', {}, el('a', { id: 'day-link', href: r.day, text: t('restore.back') })) : null,
      r.restore.error ? el('p', { class: 'error', id: 'restore-error' }, r.error_msg ? tm(r.error_msg) : el('span', { lang: 'en', text: r.restore.error })) : null,
      el('table', {}, el('tbody', {}, r.items.map(i => el('tr', {}, el('td', { class: 'key', translate: 'no', text: i.key }),
        el('td', { text: STRINGS['source.' + i.source] !== undefined ? t('source.' + i.source) : i.source }),
        el('td', { class: 'state-' + i.state }, t('state.' + i.state), i.error ? t('common.colon') : null,
          i.error ? (i.error_msg ? tm(i.error_msg) : el('span', { lang: 'en', text: i.error })) : null)))))].filter(Boolean));
    if (r.restore.state === 'active') setTimeout(tick, 2000);
  };
  tick();
}

// ---------- the account (issue 17) ----------

// "kid (viewer)": the name is data (translate="no"), the role a word of the page's language.
function whoIs(me) {
  return tm({ key: 'acct.signed_in_as', args: { user: me.user, role: { key: 'acct.role.' + (me.role === 'admin' ? 'admin' : 'viewer') } } });
}

// The user's own language, kept with the account in the catalog (src/web/account.rs).
async function accountView() {
  document.title = t('acct.title') + ' — camvault';
  const me = await ME;
  if (!me.user) {
    render(el('h1', { text: t('acct.title') }), el('p', { id: 'no-account', text: t('acct.no_account') }));
    return;
  }
  const sel = el('select', { id: 'account-language' },
    el('option', { value: '', text: t('acct.language_browser') }),
    el('option', { value: 'en', lang: 'en', translate: 'no', text: 'English' }),
    el('option', { value: 'zh-CN', lang: 'zh-CN', text: '中文' }));
  sel.value = me.language || '';
  const note = el('p', { class: 'muted', text: t('acct.language_note') });
  sel.addEventListener('change', async () => {
    try {
      await api('/api/me/language', { language: sel.value || null });
      if (sel.value) document.cookie = `camvault_lang=${encodeURIComponent(sel.value)}; path=/; max-age=31536000; samesite=strict`;
      location.reload();
    } catch (e) { note.after(errorBox(e)); }
  });
  render(el('h1', { text: t('acct.title') }),
    el('p', { id: 'account-who' }, whoIs(me)),
    el('p', {}, el('label', {}, t('acct.language') + t('common.colon'), sel)), note);
}

// ---------- routing ----------

function go(path) { location.href = path; }

async function route() {
  document.onkeydown = null;
  const p = location.pathname.split('/').map(decodeURIComponent);
  try {
    if (p[1] === 'day' && p[2] && /^\d{4}-\d\d-\d\d$/.test(p[3])) await day(p[2], p[3]);
    else if (p[1] === 'month' && p[2] && /^\d{4}-\d\d$/.test(p[3])) await month(p[2], p[3]);
    else if (p[1] === 'search') await search();
    else if (p[1] === 'activity') await activitySearch();
    else if (p[1] === 'restores' && /^\d+$/.test(p[2])) await restoreView(p[2]);
    else if (p[1] === 'approve' && /^\d+$/.test(p[2])) await approveView(p[2]);
    else if (p[1] === 'account') await accountView();
    else await dashboard();
  } catch (e) {
    render(errorBox(e));
  }
  document.body.dataset.ready = '1';
}

// Who is logged in (issue 17): shown in the header; the dashboard reads the budget from it.
const ME = api('/api/me').catch(() => ({ role: 'viewer', budget: { month_cny: 0, spent_cny: 0, approval_cny: 0 } }));
ME.then(me => {
  if (me.user) document.getElementById('logout').before(el('a', { id: 'whoami', class: 'muted', href: '/account', dataset: { role: me.role } }, whoIs(me)), ' ');
});

// The viewer's own language, kept in a cookie the server reads before `Accept-Language`.
const langSel = document.getElementById('lang');
langSel.value = LANG;
langSel.addEventListener('change', async () => {
  document.cookie = `camvault_lang=${encodeURIComponent(langSel.value)}; path=/; max-age=31536000; samesite=strict`;
  // Logged in with an account whose language is set: the menu changes the account's choice
  // (it comes before the cookie on every browser).
  const me = await ME;
  if (me.user && me.language) await api('/api/me/language', { language: langSel.value }).catch(() => {});
  location.reload();
});

// The installable app: the service worker keeps the shell for offline use, never footage.
if ('serviceWorker' in navigator) {
  navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch(e => console.warn('service worker: ' + e));
}

const logout = document.getElementById('logout');
if (LOGIN) {
  logout.hidden = false;
  logout.addEventListener('click', async () => {
    await fetch('/logout', { method: 'POST', headers: { 'X-CSRF-Token': CSRF } });
    location.href = '/login';
  });
}
route();
