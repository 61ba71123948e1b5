// callbox dashboard: vanilla JavaScript, no build step, no external code.
// It uses only the box's own API: the session cookie for reads, the
// X-CSRF-Token header for writes, and the /v1/events WebSocket.
'use strict';

const S = {
  lang: 'en', dict: {}, session: null,
  live: new Map(),        // call id -> call event
  recent: [],             // ended calls, newest first
  campaigns: new Map(),   // id -> {view, report}
  series: new Map(),      // campaign id -> GET /v1/campaigns/{id}/series answer
  seriesAt: new Map(),    // campaign id -> when its series was last asked for (ms)
  chartCampaign: null,    // campaign shown in the large chart
  callRecord: null,       // the record on the call page
  flowsAPI: null,         // true when the box serves /v1/flows
  activeSeries: [],       // active calls, one point per counters tick
  ticks: 0, ws: null, wsRetry: 500, timers: [],
};
const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const $ = (sel) => document.querySelector(sel);

function t(key, vars) {
  let s = (S.dict[S.lang] && S.dict[S.lang][key]) || (S.dict.en && S.dict.en[key]) || key;
  if (vars) for (const k of Object.keys(vars)) s = s.split('{' + k + '}').join(String(vars[k]));
  return s;
}
function tv(prefix, v) { const k = prefix + v; const s = t(k); return s === k ? v : s; }

function applyI18n() {
  document.documentElement.lang = S.lang === 'zh' ? 'zh-CN' : 'en';
  document.querySelectorAll('[data-i18n]').forEach((el) => { el.textContent = t(el.dataset.i18n); });
  $('#lang-toggle').textContent = t('lang.other');
  renderAll();
}

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  if (attrs) for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v; else if (k.startsWith('on')) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(k == null ? '' : String(k)));
  return e;
}

class APIError extends Error { constructor(status, msg) { super(msg); this.status = status; } }

async function api(method, path, body, raw) {
  const headers = {};
  if (method !== 'GET' && S.session && S.session.csrf_token) headers['X-CSRF-Token'] = S.session.csrf_token;
  let payload;
  if (raw !== undefined) { payload = raw; headers['Content-Type'] = 'text/csv'; }
  else if (body !== undefined) { payload = JSON.stringify(body); headers['Content-Type'] = 'application/json'; }
  const resp = await fetch(path, { method, headers, body: payload, credentials: 'same-origin' });
  const text = await resp.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
  if (!resp.ok) {
    if (resp.status === 401 && path !== '/v1/login') { showLogin(); }
    const err = new APIError(resp.status, (data && data.error) || resp.statusText);
    err.data = data;
    throw err;
  }
  return data;
}
function can(perm) { return !!(S.session && (S.session.permissions || []).includes(perm)); }
function fmtTime(s) { if (!s) return '–'; const d = new Date(s); return d.toLocaleTimeString(S.lang === 'zh' ? 'zh-CN' : 'en-GB'); }
function pct(x) { return (x == null || isNaN(x)) ? '–' : (Math.round(x * 1000) / 10) + '%'; }

// ---- pages and routing ----
function show(page) {
  document.querySelectorAll('.page').forEach((p) => { p.hidden = p.id !== 'page-' + page; });
  document.querySelectorAll('#nav a').forEach((a) => a.classList.toggle('active', a.getAttribute('href') === '#/' + page));
}
function showLogin() {
  S.session = null; stopLive();
  $('#nav').hidden = true; $('#logout').hidden = true; $('#whoami').textContent = '';
  show('login');
  $('#login-user').focus();
}
async function route() {
  if (!S.session) { showLogin(); return; }
  const h = location.hash.replace(/^#\/?/, '');
  const [page, arg] = h.split('/');
  if (page === 'wizard') { show('wizard'); loadWizard(); }
  else if (page === 'call' && arg) { show('call'); loadCall(decodeURIComponent(arg)); }
  else { show('overview'); }
}
function onSession(sess) {
  S.session = sess;
  $('#nav').hidden = false; $('#logout').hidden = false;
  $('#nav-wizard').hidden = !can('operate');
  $('#whoami').textContent = sess.user + ' (' + sess.role + ')';
  startLive();
  route();
}

// ---- live data ----
function startLive() {
  if (S.ws) return;
  connectWS();
  loadRecent(); loadCampaigns(); loadTrunks(); loadCluster();
  S.timers.push(setInterval(loadTrunks, 5000), setInterval(loadCluster, 5000));
}
function stopLive() {
  S.timers.forEach(clearInterval); S.timers = [];
  if (S.ws) { const w = S.ws; S.ws = null; w.onclose = null; w.close(); }
  setConn(false);
}
function setConn(up) { const c = $('#conn'); c.classList.toggle('live', up); c.dataset.i18n = up ? 'conn.live' : 'conn.offline'; c.textContent = t(c.dataset.i18n); }
function connectWS() {
  const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/v1/events');
  S.ws = ws;
  ws.onopen = () => { S.wsRetry = 500; setConn(true); };
  ws.onmessage = (m) => { try { onEvent(JSON.parse(m.data)); } catch (e) { console.error(e); } };
  ws.onclose = () => {
    setConn(false);
    if (S.ws !== ws || !S.session) return;
    S.ws = null;
    setTimeout(() => { if (S.session && !S.ws) connectWS(); }, S.wsRetry);
    S.wsRetry = Math.min(S.wsRetry * 2, 15000);
  };
}
function onEvent(ev) {
  switch (ev.type) {
    case 'hello':
      S.live.clear();
      (ev.calls || []).forEach((c) => S.live.set(c.id, c));
      if (ev.counters) onCounters(ev.counters);
      renderLive();
      break;
    case 'call.started': case 'call.ringing': case 'call.answered': case 'call.dtmf': case 'call.transfer':
      S.live.set(ev.call.id, ev.call); renderLive(); break;
    case 'call.ended':
      S.live.delete(ev.call.id);
      S.recent.unshift(ev.call); S.recent = S.recent.slice(0, 50);
      if (ev.call.campaign_id) { // the attempt is finished just after its record: ask again shortly
        const id = ev.call.campaign_id;
        loadSeries(id); setTimeout(() => loadSeries(id, true), 1500);
      }
      renderLive(); renderRecent();
      break;
    case 'counters': onCounters(ev.counters); break;
    case 'campaign.progress':
      S.campaigns.set(ev.campaign.id, { view: ev.campaign, report: ev.report || (S.campaigns.get(ev.campaign.id) || {}).report });
      loadSeries(ev.campaign.id);
      renderCampaigns(); break;
    case 'campaign.removed': S.campaigns.delete(ev.campaign.id); renderCampaigns(); break;
  }
}
function onCounters(c) {
  S.ticks++;
  const ended = Object.values(c.last_minute || {}).reduce((a, b) => a + b, 0);
  $('#stat-active').textContent = c.active_calls;
  $('#stat-started').textContent = c.started_minute;
  $('#stat-ended').textContent = ended;
  $('#stat-answer-rate').textContent = ended ? pct(c.answer_rate) : '–';
  $('#stat-ticks').textContent = S.ticks;
  S.activeSeries.push(c.active_calls); if (S.activeSeries.length > 120) S.activeSeries.shift();
  drawSpark($('#spark-active'), S.activeSeries);
}
async function loadRecent() {
  try {
    const since = new Date(Date.now() - 24 * 3600 * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
    const recs = await api('GET', '/v1/calls?limit=200&since=' + encodeURIComponent(since));
    S.recent = recs.filter((r) => r.end_at).slice(0, 50);
    renderRecent();
  } catch (e) { /* shown by the next action */ }
}
async function loadCampaigns() {
  try {
    const list = await api('GET', '/v1/campaigns');
    list.forEach((v) => S.campaigns.set(v.id, { view: v, report: (S.campaigns.get(v.id) || {}).report }));
    await Promise.all(list.map(async (v) => {
      try { const rep = await api('GET', '/v1/campaigns/' + encodeURIComponent(v.id) + '/report'); S.campaigns.get(v.id).report = rep.total; } catch (e) { /* keep */ }
      await loadSeries(v.id, true);
    }));
    renderCampaigns();
  } catch (e) { /* ignore */ }
}
async function loadTrunks() {
  try {
    const ts = await api('GET', '/v1/trunks');
    const tb = $('#trunks tbody'); tb.replaceChildren();
    ts.forEach((x) => tb.append(el('tr', null, el('td', null, x.name),
      el('td', { class: x.up ? 'up' : 'down' }, t(x.up ? 'trunk.up' : 'trunk.down')),
      el('td', null, x.auth === 'register' ? (x.registration || (x.registered ? 'registered' : '–')) : t('trunk.ipauth')),
      el('td', null, x.active_calls + ' / ' + x.max_calls))));
    const sel = $('#wiz-trunk');
    if (sel && sel.options.length === 0) ts.forEach((x) => sel.append(el('option', { value: x.name }, x.name)));
  } catch (e) { /* ignore */ }
}
async function loadCluster() {
  try {
    const st = await api('GET', '/v1/cluster/status');
    const tb = $('#cluster tbody'); tb.replaceChildren();
    (st.Members || []).forEach((m) => tb.append(el('tr', null, el('td', null, m.ID),
      el('td', { class: m.Leader ? 'up' : '' }, t(m.Leader ? 'cluster.leader' : (m.Voter ? 'cluster.voter' : 'cluster.nonvoter'))),
      el('td', null, m.Addr))));
  } catch (e) { /* ignore */ }
}

// ---- rendering ----
function renderAll() { renderLive(); renderRecent(); renderCampaigns(); renderCallFields(); }
function renderLive() {
  const tb = $('#live-calls tbody'); tb.replaceChildren();
  const calls = [...S.live.values()].sort((a, b) => (a.invite_at < b.invite_at ? -1 : 1));
  calls.forEach((c) => {
    const tr = el('tr', { class: 'click', 'data-call': c.id, onclick: () => { location.hash = '#/call/' + encodeURIComponent(c.id); } },
      el('td', null, c.id), el('td', null, c.number), el('td', null, c.campaign_id || '–'),
      el('td', null, tv('state.', c.state)), el('td', null, fmtTime(c.invite_at)), el('td', null, c.digits || 0));
    tb.append(tr);
  });
  $('#live-empty').hidden = calls.length > 0;
}
function renderRecent() {
  const tb = $('#recent-calls tbody'); tb.replaceChildren();
  S.recent.forEach((c) => tb.append(el('tr', { class: 'click', 'data-call': c.id, onclick: () => { location.hash = '#/call/' + encodeURIComponent(c.id); } },
    el('td', null, c.id), el('td', null, c.number), el('td', null, c.campaign_id || '–'),
    el('td', null, tv('disp.', c.disposition || '')), el('td', null, c.outcome ? tv('outcome.', c.outcome) : '–'), el('td', null, fmtTime(c.end_at)))));
}
// shownState is "completed" for a running campaign whose contacts are all
// final (the API's exhausted); it stays running on the box so a later
// import is dialled.
function shownState(view) {
  if (view.state === 'running' && view.exhausted) return 'completed';
  return view.state;
}
function renderCampaigns() {
  const tb = $('#campaigns tbody'); tb.replaceChildren();
  [...S.campaigns.values()].sort((a, b) => (a.view.id < b.view.id ? -1 : 1)).forEach(({ view, report }) => {
    const c = view.counters || {}; const r = report || {};
    const actions = el('td');
    if (can('operate')) {
      const acts = { created: ['start'], running: ['pause', 'stop'], paused: ['resume', 'stop'] }[view.state] || [];
      acts.forEach((a) => actions.append(el('button', { class: 'small', type: 'button', 'data-action': a, onclick: () => campaignAction(view.id, a) }, t('act.' + a))));
    }
    const chart = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    chart.setAttribute('class', 'trend'); chart.setAttribute('viewBox', '0 0 160 36'); chart.setAttribute('preserveAspectRatio', 'none');
    drawChart(chart, S.series.get(view.id), 160, 36, false);
    tb.append(el('tr', { 'data-campaign': view.id, class: 'click' + (view.id === chartCampaign() ? ' selected' : ''),
      onclick: (e) => { if (e.target.tagName !== 'BUTTON') { S.chartCampaign = view.id; renderCampaigns(); } } },
      el('td', null, view.name ? view.name + ' (' + view.id + ')' : view.id),
      el('td', { class: 'state' }, tv('state.', shownState(view))),
      el('td', { class: 'progress' }, (c.done || 0) + ' / ' + (c.contacts || 0)),
      el('td', { class: 'answer-rate' }, pct(r.answer_rate)), el('td', { class: 'conversion' }, pct(r.conversion_rate)),
      el('td', { class: 'transfer' }, pct(r.transfer_rate)), el('td', { class: 'aht' }, r.avg_handle_sec != null ? r.avg_handle_sec : '–'),
      el('td', null, chart), actions));
  });
  renderBigChart();
}
// chartCampaign is the campaign in the large chart: the one picked, else
// the first running one, else the first with a series.
function chartCampaign() {
  if (S.chartCampaign && S.campaigns.has(S.chartCampaign)) return S.chartCampaign;
  const all = [...S.campaigns.values()].map((c) => c.view).sort((a, b) => (a.id < b.id ? -1 : 1));
  const run = all.find((v) => v.state === 'running') || all.find((v) => S.series.has(v.id));
  return run ? run.id : null;
}
function renderBigChart() {
  const id = chartCampaign(); const s = id && S.series.get(id);
  $('#campaign-chart-box').hidden = !s;
  if (!s) return;
  $('#chart-campaign').textContent = id;
  $('#chart-step').textContent = t('chart.step', { n: Math.round(s.step_sec / 60) || 1 });
  drawChart($('#campaign-chart'), s, 640, 180, true);
}
async function campaignAction(id, action) {
  try { const v = await api('POST', '/v1/campaigns/' + encodeURIComponent(id) + '/' + action); S.campaigns.get(id).view = v; renderCampaigns(); }
  catch (e) { alert(t('err.generic', { msg: e.message })); }
}

// ---- charts ----
// loadSeries fetches a campaign's figures over time (GET
// /v1/campaigns/{id}/series, computed on the box), at most every 3 s per
// campaign unless forced.
async function loadSeries(id, force) {
  const now = Date.now();
  if (!force && now - (S.seriesAt.get(id) || 0) < 3000) return;
  S.seriesAt.set(id, now);
  try {
    const s = await api('GET', '/v1/campaigns/' + encodeURIComponent(id) + '/series');
    S.series.set(id, s); renderCampaigns();
  } catch (e) { /* the next event retries */ }
}
function svgLine(svg, pts, color) {
  if (pts.length === 0) return;
  if (pts.length === 1) {
    const d = document.createElementNS('http://www.w3.org/2000/svg', 'circle');
    d.setAttribute('cx', pts[0][0]); d.setAttribute('cy', pts[0][1]); d.setAttribute('r', 2); d.setAttribute('fill', color);
    svg.append(d); return;
  }
  const p = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
  p.setAttribute('points', pts.map((x) => x[0].toFixed(1) + ',' + x[1].toFixed(1)).join(' '));
  p.setAttribute('fill', 'none'); p.setAttribute('stroke', color); p.setAttribute('stroke-width', '1.5');
  svg.append(p);
}
function drawSpark(svg, series) {
  svg.replaceChildren();
  const max = Math.max(1, ...series);
  svgLine(svg, series.map((v, i) => [i * (120 / 119), 29 - (v / max) * 27]), '#1f6feb');
}
const SVGNS = 'http://www.w3.org/2000/svg';
function svgEl(tag, attrs, text) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text != null) e.textContent = text;
  return e;
}
// drawChart plots a campaign's series from the box: answer, conversion and
// transfer rates (0-100%) and average handle time (scaled to its maximum)
// per time bucket; buckets where no call finished leave a gap. With axes
// it labels the rate scale and the first and last bucket's time.
function drawChart(svg, s, w, h, axes) {
  svg.replaceChildren();
  const pts = (s && s.points) || [];
  svg.dataset.points = pts.filter((p) => p.finished > 0).length;
  if (pts.length === 0) return;
  const left = axes ? 34 : 2, right = axes ? 30 : 2, top = 4, bottom = axes ? 16 : 2;
  const X = (i) => (pts.length === 1 ? (left + w - right) / 2 : left + (i / (pts.length - 1)) * (w - left - right));
  const Y = (v) => top + (1 - v) * (h - top - bottom);
  if (axes) {
    [0, 0.5, 1].forEach((v) => {
      svg.append(svgEl('line', { class: 'gl', x1: left, x2: w - right, y1: Y(v), y2: Y(v) }));
      svg.append(svgEl('text', { x: 2, y: Y(v) + 3 }, Math.round(v * 100) + '%'));
    });
    const tm = (p) => fmtTime(p.start).replace(/:\d\d$/, '');
    svg.append(svgEl('text', { x: left, y: h - 3 }, tm(pts[0])));
    svg.append(svgEl('text', { x: w - right - 30, y: h - 3 }, tm(pts[pts.length - 1])));
  }
  const maxAHT = Math.max(1, ...pts.map((p) => p.avg_handle_sec || 0));
  if (axes) svg.append(svgEl('text', { x: w - right + 2, y: Y(1) + 3 }, Math.round(maxAHT) + 's'));
  const lines = [['answer_rate', '#1f6feb'], ['conversion_rate', '#2e7d32'], ['transfer_rate', '#ef6c00'], ['aht', '#8e24aa']];
  lines.forEach(([key, color]) => {
    let run = [];
    const flush = () => { svgLine(svg, run, color); run = []; };
    pts.forEach((p, i) => {
      if (!p.finished) { flush(); return; }
      const v = key === 'aht' ? (p.avg_handle_sec || 0) / maxAHT : Math.min(1, p[key] || 0);
      run.push([X(i), Y(v)]);
    });
    flush();
  });
}

// ---- wizard ----
let wizCampaign = null;
function loadWizard() {
  const days = $('#wiz-days');
  if (!days.querySelector('input')) {
    DAYS.forEach((d) => days.append(el('label', null, el('input', { type: 'checkbox', value: d, checked: 'checked' }), el('span', { 'data-i18n': 'day.' + d }, t('day.' + d)))));
  }
  loadTrunks();
  loadFlows();
}
// loadFlows offers the box's stored flows (GET /v1/flows) and the flow
// upload when the box has the flows API; otherwise the flow is a path on
// the box, as before.
async function loadFlows() {
  try {
    const list = await api('GET', '/v1/flows');
    S.flowsAPI = true;
    const items = Array.isArray(list) ? list : (list && (list.flows || list.items)) || [];
    const dl = $('#wiz-flow-list'); dl.replaceChildren();
    items.forEach((f) => { const n = typeof f === 'string' ? f : (f.name || f.Name); if (n) dl.append(el('option', { value: 'store:' + n })); });
  } catch (e) { S.flowsAPI = e.status === 404 || e.status === 405 ? false : S.flowsAPI; }
  $('#wiz-flow-upload').hidden = !S.flowsAPI;
}
async function uploadFlow() {
  const msg = $('#wiz-flow-msg'); msg.className = 'msg'; msg.textContent = '';
  const f = $('#wiz-flow-file').files[0];
  const name = $('#wiz-flow-name').value.trim() || (f ? f.name.replace(/\.ya?ml$/i, '') : '');
  if (!f) { msg.classList.add('bad'); msg.textContent = t('wiz.noFlowFile'); return; }
  try {
    const headers = { 'Content-Type': 'application/yaml' };
    if (S.session && S.session.csrf_token) headers['X-CSRF-Token'] = S.session.csrf_token;
    const resp = await fetch('/v1/flows/' + encodeURIComponent(name), { method: 'PUT', headers, body: await f.arrayBuffer(), credentials: 'same-origin' });
    const data = await resp.json().catch(() => null);
    if (!resp.ok) throw new APIError(resp.status, (data && data.error) || resp.statusText);
    $('#wiz-flow').value = 'store:' + name;
    msg.classList.add('good'); msg.textContent = t('wiz.flowStored', { name, v: (data && (data.version || data.Version)) || '' });
    loadFlows();
  } catch (e) { msg.classList.add('bad'); msg.textContent = t('err.generic', { msg: e.message }); }
}
async function createCampaign(ev) {
  ev.preventDefault();
  const msg = $('#wiz-create-msg'); msg.className = 'msg'; msg.textContent = '';
  const days = [...document.querySelectorAll('#wiz-days input:checked')].map((x) => x.value);
  const tz = $('#wiz-tz').value.trim();
  const spec = {
    id: $('#wiz-id').value.trim(), name: $('#wiz-name').value.trim(), flow: $('#wiz-flow').value.trim(),
    trunks: $('#wiz-trunk').value ? [$('#wiz-trunk').value] : [],
    windows: [{ days: days.length === 7 ? undefined : days, start: $('#wiz-win-start').value, end: $('#wiz-win-end').value }],
    tz_policy: tz ? 'campaign' : 'contact', timezone: tz || undefined, region: $('#wiz-region').value.trim().toUpperCase(),
    max_attempts: Number($('#wiz-attempts').value) || undefined,
    pacing: { mode: $('#wiz-mode').value, max_concurrent: Number($('#wiz-concurrent').value) || undefined, cps: Number($('#wiz-cps').value) || undefined },
    priority: {}, amd: { enabled: $('#wiz-amd').checked },
  };
  try {
    const v = await api('POST', '/v1/campaigns', spec);
    wizCampaign = v.id;
    S.campaigns.set(v.id, { view: v }); renderCampaigns();
    msg.classList.add('good'); msg.textContent = t('wiz.created', { id: v.id });
    $('#wiz-step2').hidden = false;
  } catch (e) { msg.classList.add('bad'); msg.textContent = t('err.generic', { msg: e.message }); }
}
async function uploadCSV() {
  const msg = $('#wiz-upload-msg'); msg.className = 'msg'; msg.textContent = '';
  const f = $('#wiz-csv').files[0];
  if (!f) { msg.classList.add('bad'); msg.textContent = t('wiz.noFile'); return; }
  const mode = $('#wiz-valid-only').checked ? 'valid-rows' : 'reject-all';
  let rep;
  try {
    rep = await api('POST', '/v1/campaigns/' + encodeURIComponent(wizCampaign) + '/contacts?mode=' + mode, undefined, await f.arrayBuffer());
    msg.classList.add('good'); msg.textContent = t('wiz.imported', { n: rep.imported });
    $('#wiz-step3').hidden = false;
  } catch (e) {
    rep = e.data && e.data.report;
    msg.classList.add('bad'); msg.textContent = t('err.generic', { msg: e.message });
  }
  if (!rep) return;
  $('#wiz-report').hidden = false;
  $('#rep-rows').textContent = rep.rows; $('#rep-valid').textContent = rep.valid;
  $('#rep-invalid').textContent = rep.invalid; $('#rep-imported').textContent = rep.imported;
  const tb = $('#rep-problems tbody'); tb.replaceChildren();
  (rep.problems || []).forEach((p) => tb.append(el('tr', null, el('td', null, p.line), el('td', null, p.column || ''), el('td', null, p.reason), el('td', null, p.detail || ''))));
}
async function startCampaign() {
  const msg = $('#wiz-start-msg'); msg.className = 'msg';
  try {
    const v = await api('POST', '/v1/campaigns/' + encodeURIComponent(wizCampaign) + '/start');
    S.campaigns.set(v.id, { view: v, report: (S.campaigns.get(v.id) || {}).report });
    msg.classList.add('good'); msg.textContent = t('wiz.started', { id: v.id });
    setTimeout(() => { location.hash = '#/overview'; }, 300);
  } catch (e) { msg.classList.add('bad'); msg.textContent = t('err.generic', { msg: e.message }); }
}

// ---- call detail ----
// renderCallFields shows the call's record in the current language (again
// after a language switch, without reloading the recording).
function renderCallFields() {
  const rec = S.callRecord; if (!rec) return;
  const fields = $('#call-fields tbody'); fields.replaceChildren();
  const rows = [['f.number', rec.number], ['f.direction', rec.direction && tv('dir.', rec.direction)], ['f.trunk', rec.trunk], ['f.campaign', rec.campaign_id],
    ['f.invite', fmtTime(rec.invite_at)], ['f.answer', fmtTime(rec.answer_at)], ['f.end', fmtTime(rec.end_at)],
    ['f.disposition', tv('disp.', rec.disposition || '')], ['f.sip', rec.sip_code], ['f.hangup', rec.hangup_by && tv('hangup.', rec.hangup_by)],
    ['f.outcome', rec.outcome && tv('outcome.', rec.outcome)], ['f.intent', rec.intent], ['f.amd', rec.amd && tv('amd.', rec.amd)], ['f.variant', rec.variant], ['f.flow', rec.flow], ['f.dtmf', rec.dtmf]];
  rows.filter((r) => r[1] !== undefined && r[1] !== '' && r[1] !== 0).forEach(([k, v]) => fields.append(el('tr', null, el('th', { 'data-i18n': k }, t(k)), el('td', null, v))));
}
async function loadCall(id) {
  $('#call-id').textContent = id;
  S.callRecord = null; $('#call-fields tbody').replaceChildren();
  const audio = $('#call-audio'); audio.removeAttribute('src'); audio.load();
  $('#call-recording-card').hidden = true; $('#call-transcript-card').hidden = true; $('#call-msg').textContent = '';
  $('#call-no-listen').hidden = true;
  let rec;
  try { rec = await api('GET', '/v1/calls/' + encodeURIComponent(id)); }
  catch (e) { $('#call-msg').textContent = t('err.generic', { msg: e.message }); return; }
  S.callRecord = rec;
  renderCallFields();
  if (can('recordings.listen') && rec.recording_path) {
    $('#call-recording-card').hidden = false;
    audio.src = '/v1/calls/' + encodeURIComponent(id) + '/recording';
  } else if (can('recordings.listen')) {
    $('#call-msg').textContent = t('call.noRecording');
  } else {
    $('#call-no-listen').hidden = false; // no player: the box answers 403 for this role anyway
  }
  if (can('transcripts.read')) {
    try {
      const turns = await api('GET', '/v1/calls/' + encodeURIComponent(id) + '/transcript');
      const ol = $('#call-transcript'); ol.replaceChildren();
      turns.forEach((x) => ol.append(el('li', null, el('span', { class: 'who' }, tv('who.', x.who)),
        x.text || '', x.digits ? ' [' + x.digits + ']' : '', x.intent ? ' → ' + x.intent : '')));
      $('#call-transcript-card').hidden = turns.length === 0;
    } catch (e) { /* shown in msg */ }
  }
}

// ---- start ----
async function init() {
  try { S.dict = await (await fetch('/ui/i18n.json', { credentials: 'same-origin' })).json(); } catch (e) { S.dict = {}; }
  S.lang = localStorage.getItem('callbox.lang') || ((navigator.language || '').toLowerCase().startsWith('zh') ? 'zh' : 'en');
  applyI18n();
  $('#lang-toggle').addEventListener('click', () => { S.lang = S.lang === 'zh' ? 'en' : 'zh'; localStorage.setItem('callbox.lang', S.lang); applyI18n(); });
  $('#login-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    $('#login-error').textContent = '';
    try {
      const sess = await api('POST', '/v1/login', { username: $('#login-user').value, password: $('#login-pass').value });
      $('#login-pass').value = '';
      if (!location.hash || location.hash === '#/login') location.hash = '#/overview';
      onSession(sess);
    } catch (e) { $('#login-error').textContent = t('login.failed', { msg: e.message }); }
  });
  $('#logout').addEventListener('click', async () => { try { await api('POST', '/v1/logout'); } catch (e) { /* gone anyway */ } showLogin(); });
  $('#wiz-form').addEventListener('submit', createCampaign);
  $('#wiz-upload').addEventListener('click', uploadCSV);
  $('#wiz-flow-send').addEventListener('click', uploadFlow);
  $('#wiz-start').addEventListener('click', startCampaign);
  window.addEventListener('hashchange', route);
  try { onSession(await api('GET', '/v1/whoami')); } catch (e) { showLogin(); }
}
document.addEventListener('DOMContentLoaded', init);
