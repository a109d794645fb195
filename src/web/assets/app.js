// camvault web interface: renders the view the path names from the JSON API.
// No framework, no inline scripts or styles (the CSP forbids them).
'use strict';

const CSRF = document.querySelector('meta[name="csrf-token"]').content;
const LOGIN = document.querySelector('meta[name="login"]').content === '1';
const view = document.getElementById('view');
const TIERS = {
  local: 'on this server',
  standard: 'in the store (Standard)',
  archived: 'archived',
  restoring: 'restoring',
  restored: 'restored',
};

// ---------- issue 17 (accounts, approvals, budget): the strings this part adds ----------
// Kept in one place so that they move into the language catalogues at the merge.
const S17 = {
  signedInAs: (u, r) => `${u} (${r === 'admin' ? 'admin' : 'viewer'})`,
  budgetTitle: 'Restore budget',
  budgetNone: 'No monthly restore budget is set (restore.budget_cny_month).',
  budgetLine: (spent, month, left) => `${spent} of ${month} spent on restores this month; ${left} left.`,
  budgetSpent: spent => `Restores this month: ${spent}.`,
  approvalsTitle: 'Restores waiting for approval',
  myRequestsTitle: 'Your restore requests',
  noApprovals: 'Nothing is waiting.',
  approvalLine: a => `#${a.id} ${a.camera}, ${new Date(a.from_ms).toLocaleString()} – ${new Date(a.to_ms).toLocaleString()} (${a.tier}), asked by ${a.requested_by}: `,
  approve: 'Approve',
  refuse: 'Refuse',
  state: { pending: 'waiting for an admin', approved: 'approved', refused: 'refused', expired: 'expired' },
  decidedBy: (s, who) => `${s} by ${who}`,
  needsApproval: (cost, limit) => `This restore costs about ${cost}, above ${limit}: an admin must approve it.`,
  askApproval: cost => `Ask an admin to approve (${cost})`,
  asked: id => `Asked: request #${id} is waiting for an admin. You will see it on the dashboard.`,
  overBudget: 'Over budget',
  approveTitle: id => `Restore request #${id}`,
  approveWho: a => `${a.requested_by} asks to restore ${a.camera} from ${new Date(a.from_ms).toLocaleString()} to ${new Date(a.to_ms).toLocaleString()} (${a.tier}).`,
  approveCost: (cost, h) => `Estimated ${cost}, ready within ${h}.`,
  approveDone: s => `This request is ${s}.`,
  openRestore: id => `Open restore #${id}`,
  viewerOnly: 'Only an admin can decide this request.',
};
// ---------- end of issue 17 strings ----------

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
  if (!r.ok) throw new Error(j.error || ('HTTP ' + r.status));
  return j;
}

function bytes(n) {
  const u = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];
  let i = 0;
  while (n >= 1000 && i < u.length - 1) { n /= 1000; i++; }
  return (i ? n.toFixed(1) : n) + ' ' + u[i];
}

function cny(x) { return '¥' + Number(x || 0).toFixed(2); }

function errorBox(e) { return el('p', { class: 'error', role: 'alert', text: String(e.message || e) }); }

// replaceChildren would print a null as the text "null".
function render(...kids) { view.replaceChildren(...kids.filter(k => k !== null && k !== undefined)); }

// ---------- dashboard ----------

async function dashboard() {
  document.title = 'camvault';
  const d = await api('/api/dashboard');
  const problems = d.health.problems || [];
  const health = el('section', { class: 'card', id: 'health' },
    el('h2', { text: 'Health' }),
    problems.length
      ? el('ul', { class: 'problems' }, problems.map(p => el('li', { class: 'problem' }, el('b', { text: p.rule }), ': ' + p.message)))
      : el('p', { class: 'ok', text: 'All good: nothing needs attention.' }));
  const cams = el('section', { class: 'card', id: 'cameras' }, el('h2', { text: 'Cameras' }),
    d.cameras.length ? null : el('p', { text: 'No recordings yet.' }),
    el('div', { class: 'grid' }, d.cameras.map(c => el('article', { class: 'camera' },
      el('h3', {}, el('a', { href: `/day/${encodeURIComponent(c.id)}/${c.today}`, text: c.id })),
      c.last ? el('a', { href: `/day/${encodeURIComponent(c.id)}/${c.last.date}#clip=${c.last.id}` },
        el('img', { class: 'thumb', src: `/media/thumb/${c.last.id}`, alt: 'last clip', loading: 'lazy' })) : null,
      el('p', { class: 'muted', text: c.last_local ? 'Last clip ' + c.last_local : 'No clip yet' }),
      el('p', {}, el('a', { href: `/day/${encodeURIComponent(c.id)}/${c.today}`, text: 'Today' }), ' · ',
        el('a', { href: `/month/${encodeURIComponent(c.id)}/${c.today.slice(0, 7)}`, text: 'Calendar' }))))));
  const f = d.files;
  const backlog = el('section', { class: 'card', id: 'backlog' }, el('h2', { text: 'Backlog' }),
    el('p', {}, `${f.pending} clip(s) waiting to be stored`,
      d.oldest_pending_secs != null ? ` (oldest ${Math.round(d.oldest_pending_secs / 60)} min)` : '',
      f.failed ? `, ${f.failed} failing` : ''));
  const rows = [['On this server', d.bytes.cached, f.cached]].concat(d.classes.map(c => [c.class, c.bytes, c.files]));
  const tiers = el('section', { class: 'card', id: 'tiers' }, el('h2', { text: 'Bytes by tier' }),
    el('table', {}, el('tbody', {}, rows.map(([k, b, n]) => el('tr', {}, el('th', { text: k }), el('td', { text: bytes(b) }), el('td', { class: 'muted', text: n + ' clips' }))))));
  const c = d.cost;
  const cost = el('section', { class: 'card', id: 'cost' }, el('h2', { text: 'Cost this month' }),
    el('p', {}, el('b', { id: 'cost-so-far', text: cny(c.month_so_far_cny) }), ' so far, ',
      el('b', { id: 'cost-projected', text: cny(c.month_projected_cny) }), ' projected for the month'),
    el('p', { class: 'muted', text: `Storage now costs ${cny(c.monthly_rate_cny)} a month (${c.standard_gb.toFixed(2)} GB Standard, ${c.archive_gb.toFixed(2)} GB archived, ${c.daily_gb.toFixed(2)} GB a day).` }));
  const restores = d.restores.length ? el('section', { class: 'card' }, el('h2', { text: 'Restores' }),
    el('ul', {}, d.restores.map(r => el('li', {}, el('a', { href: `/restores/${r.id}`, text: `#${r.id}` }), ` ${r.camera || 'all'} — ${r.state}`)))) : null;
  const [me, ap] = await Promise.all([ME, api('/api/approvals').catch(() => ({ approvals: [] }))]);
  render(el('h1', { text: 'Dashboard' }), health, cams, el('div', { class: 'grid' }, backlog, tiers, cost, budgetCard(me.budget)),
    approvalsCard(me, ap.approvals), restores);
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
      admin && a.state === 'pending' ? decisionButtons(a) : el('span', { class: 'approval-state', text: a.decided_by ? S17.decidedBy(S17.state[a.state] || a.state, a.decided_by) : (S17.state[a.state] || a.state) }),
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
      el('p', { id: 'approval-who', text: S17.approveWho(a) }),
      el('p', {}, el('b', { id: 'approval-cost', text: S17.approveCost(cny(a.est_cost_cny), hoursText(a.hours)) })),
      r.budget.month_cny > 0 ? el('p', { class: 'muted', text: S17.budgetLine(cny(r.budget.spent_cny), cny(r.budget.month_cny), cny(r.budget.left_cny)) }) : null,
      a.state !== 'pending'
        ? el('p', { id: 'approval-state', text: S17.approveDone(a.decided_by ? S17.decidedBy(S17.state[a.state] || a.state, a.decided_by) : (S17.state[a.state] || a.state)) })
        : r.can_decide ? el('p', {}, decisionButtons(a, t)) : el('p', { class: 'muted', id: 'approval-state', text: S17.viewerOnly }),
      a.restore_id ? el('p', {}, el('a', { href: `/restores/${a.restore_id}`, text: S17.openRestore(a.restore_id) })) : null));
}

// ---------- camera day ----------

function legend() {
  return el('ul', { class: 'legend' }, Object.entries(TIERS).map(([k, v]) => el('li', {}, el('span', { class: 'swatch tier-' + k }), v)));
}

async function day(camera, date) {
  document.title = `${camera} ${date} — camvault`;
  const d = await api(`/api/day?camera=${encodeURIComponent(camera)}&date=${date}`);
  const span = d.end_ms - d.start_ms;
  const base = `/day/${encodeURIComponent(camera)}/`;
  const bar = el('div', { class: 'timeline', id: 'timeline', role: 'listbox', 'aria-label': 'clips of the day' });
  for (let h = 0; h <= 24; h += 1) {
    const t = el('span', { class: 'tick' + (h % 3 ? ' minor' : ''), text: String(h).padStart(2, '0') });
    t.style.left = (h / 24 * 100) + '%';
    bar.append(t);
  }
  const tip = el('div', { class: 'tip', hidden: true }, el('img', { alt: '' }), el('span'));
  // No thumbnail (an archived clip captured before thumbnails, or no ffmpeg): just the time.
  tip.querySelector('img').addEventListener('error', ev => { ev.target.hidden = true; });
  const player = el('video', { id: 'player', controls: true, playsinline: true, preload: 'metadata' });
  const info = el('p', { id: 'now-playing', class: 'muted', text: 'Click a clip to play it. Keys: ←/→ clip, Enter play, +/− zoom, PageUp/PageDown day, Shift+click select a range.' });
  const msg = el('p', { id: 'player-message', class: 'error', role: 'alert' });
  const segs = [];
  let current = -1;
  let selA = null;
  let selB = null;

  d.clips.forEach((c, i) => {
    const s = el('button', {
      type: 'button', class: 'seg tier-' + c.tier, role: 'option',
      title: `${c.start}–${c.end} · ${TIERS[c.tier]}`,
      'aria-label': `${c.start} to ${c.end}, ${TIERS[c.tier]}`,
      dataset: { id: c.id, tier: c.tier, start: c.start, end: c.end, i },
    });
    s.style.left = ((c.start_ms - d.start_ms) / span * 100) + '%';
    s.style.width = Math.max((c.end_ms - c.start_ms) / span * 100, 0.02) + '%';
    s.addEventListener('mouseenter', () => {
      tip.hidden = false;
      tip.querySelector('img').hidden = false;
      tip.querySelector('img').src = `/media/thumb/${c.id}`;
      tip.querySelector('span').textContent = `${c.start} · ${TIERS[c.tier]}`;
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
  const zoom = el('select', { id: 'zoom', 'aria-label': 'zoom' },
    [[1, '24 h'], [4, '6 h'], [24, '1 h']].map(([z, t]) => el('option', { value: z, text: t })));
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
      info.textContent = `${c.start}: ${TIERS[c.tier]} — not on this server. Select a range and restore it.`;
      select(i);
      return;
    }
    info.textContent = `Playing ${c.start}–${c.end}`;
    player.dataset.clip = c.id;
    const hevc = c.codec && /^(hvc1|hev1|hevc|h265)/i.test(c.codec);
    const native = !hevc || player.canPlayType('video/mp4; codecs="hvc1.1.6.L93.B0"') !== '';
    player.dataset.src = native ? 'original' : 'transcoded';
    player.src = native ? `/media/clip/${c.id}` : `/media/play/${c.id}`;
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
    if (player.dataset.src === 'original') {
      player.dataset.src = 'transcoded';
      player.src = `/media/play/${c.id}`;
      player.play().catch(() => {});
      return;
    }
    const r = await fetch(`/media/play/${c.id}`, { method: 'HEAD' }).catch(() => null);
    let text = 'This clip cannot be played in this browser.';
    if (r && !r.ok) {
      const j = await fetch(`/media/play/${c.id}`).then(x => x.json()).catch(() => ({}));
      if (j.error) text = j.error;
    }
    msg.textContent = text;
  });

  const from = el('input', { type: 'time', id: 'range-from', value: '00:00', required: true });
  const to = el('input', { type: 'time', id: 'range-to', value: '23:59', required: true });
  const tier = el('select', { id: 'restore-tier' }, ['standard', 'expedited', 'bulk'].map(t => el('option', { value: t, text: t })));
  const planBox = el('div', { id: 'plan' });
  function rangeMs() {
    const ms = hhmm => { const [h, m] = hhmm.split(':').map(Number); return (h * 60 + m) * 60000; };
    // Offsets from midnight; on a day with a clock change this is off by the change.
    return [d.start_ms + ms(from.value), d.start_ms + ms(to.value) + (to.value === '23:59' ? 60000 : 0)];
  }
  const planBtn = el('button', {
    type: 'button', id: 'plan-restore', onclick: async () => {
      const [a, b] = rangeMs();
      planBox.replaceChildren(el('p', { text: 'Planning…' }));
      try {
        const body = { camera, from_ms: a, to_ms: b, tier: tier.value };
        const p = await api('/api/restore/plan', body);
        planBox.replaceChildren(planView(p, body, t => { tier.value = t; planBtn.click(); }));
      } catch (e) { planBox.replaceChildren(errorBox(e)); }
    },
  }, 'Plan restore');
  const exportLink = el('a', { id: 'export', class: 'button', href: '#', text: 'Export cached clips as MP4' });
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

  render(
    el('h1', {}, camera, ' ', el('span', { class: 'muted', id: 'day-date', text: date })),
    el('nav', { class: 'pager' },
      el('a', { href: base + d.prev, id: 'prev-day', rel: 'prev', text: '← ' + d.prev }),
      el('a', { href: `/month/${encodeURIComponent(camera)}/${date.slice(0, 7)}`, text: 'Calendar' }),
      el('a', { href: base + d.next, id: 'next-day', rel: 'next', text: d.next + ' →' })),
    el('div', { class: 'timeline-wrap' }, scroller, tip),
    el('div', { class: 'row' }, legend(), el('label', { class: 'zoom' }, 'Zoom ', zoom)),
    el('p', { class: 'muted', id: 'clip-count', text: `${d.clips.length} clip(s)` }),
    player, info, msg,
    el('section', { class: 'card', id: 'range' }, el('h2', { text: 'Restore or export a range' }),
      el('div', { class: 'row' }, el('label', {}, 'From ', from), el('label', {}, 'To ', to), el('label', {}, 'Speed ', tier)),
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
  return h <= 0 ? 'minutes' : h < 1 ? Math.round(h * 60) + ' min' : h + ' h';
}

function planView(p, body, retier) {
  const row = (label, x, id) => el('tr', { id }, el('th', { text: label }), el('td', { text: x.clips + ' clip(s)' }), el('td', { text: bytes(x.bytes) }));
  const when = p.hours > 0 ? `ready within ${p.hours} h (${p.tier} tier)` : 'ready in minutes';
  return el('div', { class: 'plan' },
    el('table', {}, el('tbody', {},
      row('On this server', p.local, 'plan-local'),
      row('In the store, readable now', p.store, 'plan-store'),
      row('Archived: needs a restore', p.archive, 'plan-archive'),
      p.missing.clips ? row('Missing', p.missing, 'plan-missing') : null)),
    el('table', { class: 'estimate' }, el('tbody', {}, p.estimate.map(l => el('tr', {}, el('td', { text: l.what }), el('td', { text: l.unit === '10k requests' ? `${Math.round(l.quantity)} request(s)` : `${Number(l.quantity).toFixed(3)} ${l.unit}` }), el('td', { text: cny(l.cny) }))))),
    p.archive.clips ? el('table', { class: 'tiers', id: 'plan-tiers' },
      el('thead', {}, el('tr', {}, el('th', { text: 'Speed' }), el('th', { text: 'Ready within' }), el('th', { text: 'Cost' }))),
      el('tbody', {}, (p.tiers || []).map(t => el('tr', { class: t.tier === p.tier ? 'chosen' : null, dataset: { tier: t.tier } },
        el('td', {}, t.tier === p.tier ? el('b', { text: t.tier }) : el('button', { type: 'button', class: 'link', onclick: () => retier(t.tier), text: t.tier })),
        el('td', { text: hoursText(t.hours) }), el('td', { text: cny(t.total_cny) }))))) : null,
    el('p', {}, 'Total ', el('b', { id: 'plan-total', text: cny(p.total_cny) }), ', ', el('span', { id: 'plan-time', text: when }), '.'),
    p.budget && p.budget.month_cny > 0 ? el('p', { class: 'muted', id: 'plan-budget', text: S17.budgetLine(cny(p.budget.spent_cny), cny(p.budget.month_cny), cny(p.budget.left_cny)) }) : null,
    p.over_budget ? el('p', { class: 'error', id: 'plan-over-budget', role: 'alert', text: p.over_budget }) : null,
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
    }, `Restore ${p.items.length} clip(s) for ${cny(p.total_cny)}`));
}

// ---------- month ----------

async function month(camera, ym) {
  document.title = `${camera} ${ym} — camvault`;
  const d = await api(`/api/month?camera=${encodeURIComponent(camera)}&month=${ym}`);
  const base = `/month/${encodeURIComponent(camera)}/`;
  const grid = el('div', { class: 'calendar', id: 'calendar' },
    ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'].map(w => el('div', { class: 'wd', text: w })));
  for (let i = 0; i < d.first_weekday; i++) grid.append(el('div', { class: 'blank' }));
  for (const day of d.days) {
    const fill = el('span', { class: 'fill' + (day.archived ? ' tier-archived' : ' tier-local') });
    fill.style.width = (day.coverage * 100) + '%';
    grid.append(el('a', {
      class: 'daycell' + (day.clips ? '' : ' empty'), href: `/day/${encodeURIComponent(camera)}/${day.date}`,
      dataset: { date: day.date, clips: day.clips, coverage: day.coverage.toFixed(4) },
      title: `${day.clips} clip(s), ${(day.coverage * 100).toFixed(1)}% of the day`,
    }, el('span', { class: 'num', text: Number(day.date.slice(8)) }),
      day.clips ? el('span', { class: 'count', text: `${day.clips} clip${day.clips > 1 ? 's' : ''}${day.archived ? `, ${day.archived} archived` : ''}` }) : null,
      el('span', { class: 'cov' }, fill)));
  }
  document.onkeydown = ev => {
    if (ev.key === 'PageUp' || ev.key === '[') go(base + d.prev);
    else if (ev.key === 'PageDown' || ev.key === ']') go(base + d.next);
  };
  render(el('h1', {}, camera, ' ', el('span', { class: 'muted', text: ym })),
    el('nav', { class: 'pager' }, el('a', { href: base + d.prev, id: 'prev-month', text: '← ' + d.prev }), el('a', { href: base + d.next, id: 'next-month', text: d.next + ' →' })),
    grid);
}

// ---------- search ----------

async function search() {
  document.title = 'Search — camvault';
  const cams = await api('/api/cameras');
  const q = new URLSearchParams(location.search);
  const today = cams.length ? cams[0].today : new Date().toISOString().slice(0, 10);
  const camera = el('select', { name: 'camera', id: 's-camera' }, el('option', { value: '', text: 'All cameras' }),
    cams.map(c => el('option', { value: c.id, text: c.id, selected: q.get('camera') === c.id })));
  const from = el('input', { type: 'date', name: 'from', id: 's-from', value: q.get('from') || today, required: true });
  const to = el('input', { type: 'date', name: 'to', id: 's-to', value: q.get('to') || today, required: true });
  const tf = el('input', { type: 'time', name: 'tod_from', id: 's-tod-from', value: q.get('tod_from') || '' });
  const tt = el('input', { type: 'time', name: 'tod_to', id: 's-tod-to', value: q.get('tod_to') || '' });
  const results = el('div', { class: 'results', id: 'results' });
  const form = el('form', { method: 'get', action: '/search', class: 'row' },
    el('label', {}, 'Camera ', camera), el('label', {}, 'From ', from), el('label', {}, 'To ', to),
    el('label', {}, 'Time of day ', tf, ' – ', tt), el('button', { type: 'submit', text: 'Search' }));
  render(el('h1', { text: 'Search' }), form, results);
  if (!q.get('from')) return;
  try {
    const r = await api('/api/search?' + q.toString());
    results.replaceChildren(
      el('p', { class: 'muted', id: 'result-count', text: `${r.clips.length} clip(s)${r.truncated ? ' (first 500)' : ''}` }),
      el('div', { class: 'grid thumbs' }, r.clips.map(c => el('a', { class: 'result tier-border-' + c.tier, href: `/day/${encodeURIComponent(c.camera)}/${c.date}#clip=${c.id}` },
        el('img', { class: 'thumb', src: `/media/thumb/${c.id}`, alt: `${c.camera} ${c.date} ${c.start}`, loading: 'lazy' }),
        el('span', { text: `${c.camera} ${c.date} ${c.start}` })))));
  } catch (e) { results.replaceChildren(errorBox(e)); }
}

// ---------- restore progress ----------

async function restoreView(id) {
  document.title = `Restore #${id} — camvault`;
  const box = el('div', { id: 'restore' });
  render(el('h1', { text: `Restore #${id}` }), box);
  const tick = async () => {
    if (!view.contains(box)) return;
    let r;
    try { r = await api(`/api/restore/${id}`); } catch (e) { box.replaceChildren(errorBox(e)); return; }
    const pct = r.total ? Math.round(r.done / r.total * 100) : 0;
    const bar = el('progress', { id: 'restore-progress', max: r.total || 1, value: r.done });
    box.replaceChildren(...[
      el('p', {}, 'State: ', el('b', { id: 'restore-state', text: r.restore.state }), ` — ${r.done} of ${r.total} clip(s) in (${pct}%)`),
      bar,
      el('p', { class: 'muted', text: Object.entries(r.states).map(([k, v]) => `${v} ${k}`).join(', ') }),
      r.merged ? el('p', {}, el('a', { class: 'button', id: 'download', href: r.merged, text: 'Download the merged clip' })) : null,
      r.day ? el('p', {}, el('a', { id: 'day-link', href: r.day, text: 'Back to the day' })) : null,
      r.restore.error ? el('p', { class: 'error', text: r.restore.error }) : null,
      el('table', {}, el('tbody', {}, r.items.map(i => el('tr', {}, el('td', { text: i.key }), el('td', { text: i.source }), el('td', { class: 'state-' + i.state, text: i.state + (i.error ? ': ' + i.error : '') })))))].filter(Boolean));
    if (r.restore.state === 'active') setTimeout(tick, 2000);
  };
  tick();
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
    else if (p[1] === 'restores' && /^\d+$/.test(p[2])) await restoreView(p[2]);
    else if (p[1] === 'approve' && /^\d+$/.test(p[2])) await approveView(p[2]);
    else await dashboard();
  } catch (e) {
    render(errorBox(e));
  }
  document.body.dataset.ready = '1';
}

// Who is logged in (issue 17): shown in the header; the dashboard reads the budget from it.
const ME = api('/api/me').catch(() => ({ role: 'viewer', budget: { month_cny: 0, spent_cny: 0, approval_cny: 0 } }));
ME.then(me => {
  if (me.user) document.getElementById('logout').before(el('span', { id: 'whoami', class: 'muted', dataset: { role: me.role }, text: S17.signedInAs(me.user, me.role) }), ' ');
});

const logout = document.getElementById('logout');
if (LOGIN) {
  logout.hidden = false;
  logout.addEventListener('click', async () => {
    await fetch('/logout', { method: 'POST', headers: { 'X-CSRF-Token': CSRF } });
    location.href = '/login';
  });
}
route();
