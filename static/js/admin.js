// The admin page: every open room, listed or not, with its members, kept live by a long poll
// that sees every event of the mailbox (GET api/admin/wait); closing a room and removing a member.
// The session is an HttpOnly cookie the server sets at login: this page never sees it.

const api = new URL('api/admin/', document.baseURI);

/** @typedef {{session: number, nickname: string, host: boolean, transport: string,
 *   connected_s: number, call: string, audio: boolean, video: boolean}} AdminMember */
/** @typedef {{id: number, name: string, unlisted: boolean, count: number, age_s: number,
 *   members: AdminMember[], call: {mode: string, size: number},
 *   settings: {locked: boolean, waiting_room: boolean, password: boolean}}} AdminRoom */

/** @param {string} role */
function byRole(role) {
  const el = document.querySelector(`[data-role="${role}"]`);
  if (!el) throw new Error(`no ${role}`);
  return /** @type {HTMLElement} */ (el);
}

const loginForm = /** @type {HTMLFormElement} */ (byRole('login-form'));
const loginError = byRole('login-error');
const dashboard = byRole('dashboard');
const summary = byRole('summary');
const errorLine = byRole('error');
const empty = byRole('empty');
const live = byRole('live');
const logout = byRole('logout');
const list = /** @type {HTMLElement} */ (document.querySelector('[data-testid="admin-rooms"]'));
const charts = byRole('charts');

/** The charts: a series of GET api/admin/stats, its title, and whether it is a running total
 * (drawn per minute). @type {{key: string, title: string, rate?: boolean}[]} */
const CHARTS = [
  { key: 'sessions', title: 'Sessions' },
  { key: 'rooms', title: 'Open rooms' },
  { key: 'in_call', title: 'In calls' },
  { key: 'websockets', title: 'WebSockets open' },
  { key: 'streams', title: 'Event streams open' },
  { key: 'waiting_polls', title: 'Polls waiting' },
  { key: 'requests', title: 'Requests a minute', rate: true },
  { key: 'delivered', title: 'Events delivered a minute', rate: true },
  { key: 'errors', title: 'Server errors a minute', rate: true },
];
const SVG = 'http://www.w3.org/2000/svg';

/** The log position the rooms on screen are current to. */
let cursor = 0;
/** Whether the live loop runs (logged in). */
let running = false;
/** A pending re-read of the rooms. @type {ReturnType<typeof setTimeout>|null} */
let refresh = null;

/**
 * One call to the admin API; resolves {status, json}.
 * @param {string} method
 * @param {string} path
 * @param {object} [body]
 */
async function call(method, path, body) {
  const res = await fetch(new URL(path, api), {
    method,
    credentials: 'same-origin',
    headers: body ? {'Content-Type': 'application/json'} : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  let json = null;
  try {
    json = await res.json();
  } catch {
    /* not JSON: a proxy's page */
  }
  return {status: res.status, json};
}

/** @param {number} s */
function age(s) {
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/**
 * @param {string} tag
 * @param {string} [text]
 * @param {string} [cls]
 */
function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

/** @param {AdminMember} m */
function memberRow(m) {
  const tr = el('tr');
  tr.dataset.session = String(m.session);
  tr.dataset.nickname = m.nickname;
  const name = el('td', m.nickname);
  if (m.host) name.append(' ', el('span', 'host', 'admin-badge'));
  const remove = /** @type {HTMLButtonElement} */ (el('button', 'Remove', 'button button-danger'));
  remove.type = 'button';
  remove.dataset.testid = 'admin-remove-member';
  remove.dataset.session = String(m.session);
  remove.setAttribute('aria-label', `Remove ${m.nickname}`);
  remove.addEventListener('click', () => act('remove', {session: m.session}, remove));
  const cell = el('td');
  cell.append(remove);
  tr.append(name, el('td', m.transport), el('td', age(m.connected_s)), el('td', m.call),
    el('td', `${m.audio ? 'mic on' : 'mic off'}, ${m.video ? 'camera on' : 'camera off'}`), cell);
  return tr;
}

/** @param {AdminRoom} r */
function roomItem(r) {
  const li = el('li', undefined, 'admin-room');
  li.dataset.room = r.name;
  li.dataset.roomId = String(r.id);
  li.dataset.count = String(r.count);
  const head = el('div', undefined, 'admin-room-head');
  const name = el('h3', r.name, 'admin-room-name');
  const facts = el('span', `${r.count} ${r.count === 1 ? 'member' : 'members'} · open ${age(r.age_s)} · ` +
    `call: ${r.call.mode}, ${r.call.size} in it`, 'admin-room-facts');
  head.append(name, facts);
  if (r.unlisted) head.append(el('span', 'unlisted', 'admin-badge'));
  if (r.settings.locked) head.append(el('span', 'locked', 'admin-badge admin-badge-warn'));
  if (r.settings.password) head.append(el('span', 'password', 'admin-badge'));
  if (r.settings.waiting_room) head.append(el('span', 'waiting room', 'admin-badge'));
  const close = /** @type {HTMLButtonElement} */ (el('button', 'Close room', 'button button-danger'));
  close.type = 'button';
  close.dataset.testid = 'admin-close-room';
  close.dataset.room = r.name;
  close.addEventListener('click', () => act('close', {room: r.id}, close));
  head.append(close);
  const table = el('table', undefined, 'admin-members');
  const thead = el('tr');
  for (const h of ['Member', 'Transport', 'Connected', 'Call', 'Media', '']) thead.append(el('th', h));
  table.append(thead, ...r.members.map(memberRow));
  li.append(head, table);
  if (r.count > r.members.length) li.append(el('p', `and ${r.count - r.members.length} more`, 'admin-more'));
  return li;
}

/** @param {AdminRoom[]} rooms */
function render(rooms) {
  list.replaceChildren(...rooms.map(roomItem));
  const people = rooms.reduce((n, r) => n + r.count, 0);
  summary.textContent = `${rooms.length} ${rooms.length === 1 ? 'room' : 'rooms'}, ${people} ${people === 1 ? 'person' : 'people'}`;
  empty.hidden = rooms.length > 0;
}

/**
 * One small chart: its title, the last value, and a line of the hour.
 * @param {string} title
 * @param {number[]} values
 */
function chart(title, values) {
  const box = el('figure', undefined, 'admin-chart');
  box.dataset.series = title;
  const now = values.length ? values[values.length - 1] : 0;
  box.append(el('figcaption', title, 'admin-chart-title'), el('p', String(now), 'admin-chart-now'));
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 100 40');
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', `${title}: ${values.join(', ')}`);
  const max = Math.max(1, ...values);
  const step = values.length > 1 ? 100 / (values.length - 1) : 0;
  const line = document.createElementNS(SVG, 'polyline');
  line.setAttribute('points', values.map((v, i) => `${(i * step).toFixed(2)},${(38 - (v / max) * 36).toFixed(2)}`).join(' '));
  svg.append(line);
  box.append(svg);
  return box;
}

/** When the charts were last read (ms). */
let statsAt = 0;

/** Reads the last hour's figures and draws them. */
async function loadStats() {
  statsAt = Date.now();
  const r = await call('GET', 'stats');
  if (r.status !== 200 || !r.json) return;
  const stats = /** @type {Record<string, number[]>} */ (r.json);
  charts.replaceChildren(...CHARTS.map(({ key, title, rate }) => {
    const v = stats[key] ?? [];
    return chart(title, rate ? v.slice(1).map((x, i) => Math.max(0, x - v[i])) : v);
  }));
}

/** @param {string} [message] */
function showError(message) {
  errorLine.hidden = !message;
  errorLine.textContent = message ?? '';
}

function showLogin() {
  running = false;
  dashboard.hidden = true;
  live.hidden = true;
  logout.hidden = true;
  loginForm.hidden = false;
  /** @type {HTMLInputElement} */ (loginForm.elements.namedItem('password')).focus();
}

/** Reads the rooms; resolves false when the session is gone (the login form is shown). */
async function loadRooms() {
  const r = await call('GET', 'rooms');
  if (r.status === 401) {
    showLogin();
    return false;
  }
  if (r.status !== 200 || !r.json) {
    showError(`Could not read the rooms (${r.status}).`);
    return true;
  }
  showError();
  cursor = r.json.cursor;
  render(r.json.rooms);
  return true;
}

function refreshSoon() {
  if (refresh !== null) return;
  refresh = setTimeout(() => {
    refresh = null;
    loadRooms();
    /* The charts' "now" follows too, at most every few seconds. */
    if (Date.now() - statsAt > 5000) loadStats();
  }, 150);
}

/** The live loop: a long poll that returns when anything happened. */
async function watch() {
  live.hidden = false;
  while (running) {
    let r;
    try {
      r = await call('GET', `wait?cursor=${cursor}`);
    } catch {
      live.hidden = true;
      await new Promise((resolve) => setTimeout(resolve, 2000));
      continue;
    }
    if (r.status === 401) {
      showLogin();
      return;
    }
    if (r.status !== 200 || !r.json) {
      live.hidden = true;
      await new Promise((resolve) => setTimeout(resolve, 2000));
      continue;
    }
    live.hidden = false;
    const changed = r.json.resync || r.json.events.length > 0;
    cursor = r.json.cursor;
    if (changed) refreshSoon();
  }
}

/**
 * @param {'close'|'remove'} what
 * @param {object} body
 * @param {HTMLButtonElement} button
 */
async function act(what, body, button) {
  button.disabled = true;
  const r = await call('POST', what, body);
  if (r.status === 401) {
    showLogin();
    return;
  }
  if (r.status !== 200) {
    button.disabled = false;
    showError(r.json?.message ?? `Failed (${r.status}).`);
    return;
  }
  await loadRooms();
}

/** The charts follow the samples, one a minute. @type {ReturnType<typeof setInterval>|null} */
let statsTimer = null;

async function start() {
  loginForm.hidden = true;
  dashboard.hidden = false;
  logout.hidden = false;
  if (!(await loadRooms())) return;
  running = true;
  loadStats();
  if (statsTimer === null) statsTimer = setInterval(() => { if (running) loadStats(); }, 30000);
  watch();
}

loginForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  const input = /** @type {HTMLInputElement} */ (loginForm.elements.namedItem('password'));
  const r = await call('POST', 'login', {password: input.value});
  input.value = '';
  if (r.status !== 200) {
    loginError.hidden = false;
    loginError.textContent = r.status === 429 ? 'Too many attempts; wait a minute.' :
      r.json?.message ?? `Failed (${r.status}).`;
    return;
  }
  loginError.hidden = true;
  start();
});

logout.addEventListener('click', async () => {
  await call('POST', 'logout', {});
  showLogin();
});

start();
