// Noom entry point: wires the transport (transport.js) to the two views (home.js, room.js) and
// runs the single-page navigation.
//
// URLs: the page has <base href="PREFIX/">, so every URL here is resolved against
// document.baseURI: "api/…" for the API, "room/<name>" and "./" for the two views. The same code
// therefore works at "/" and under a prefix such as "/noom/".
//
// Room operations (join, leave) run one after another through serial(), so that a quick
// "join, then back" cannot reach the server in the wrong order.

import { NoomClient, ApiError, newClientId } from './transport.js';
import { HomeView } from './home.js';
import { RoomView } from './room.js';

/** @typedef {import('./transport.js').RoomState} RoomState */

const NICKNAME_KEY = 'noom.nickname';
/* A leave of our own session this soon after joining is a stale beacon of the previous page. */
const STALE_LEAVE_MS = 5000;

const body = document.body;
const client = new NoomClient({ apiBase: new URL('api/', document.baseURI).href });

/** 'home' or 'room': what is on screen. */
let view = 'home';
/** The room the user wants to be in (null on the home page). @type {string|null} */
let wantRoom = null;
/** The name of a join request in flight (the server may normalize it). @type {string|null} */
let joining = null;
/** When the last join answer arrived (ms). */
let joinedAt = 0;
/** Resolves once the session exists; user actions before that wait for it. @type {() => void} */
let markReady = () => {};
const ready = new Promise((resolve) => { markReady = () => resolve(undefined); });
/** Renames finish before a join starts, so others see the new name in the join notice. */
let renaming = ready;
/** Tail of the queue of room operations. @type {Promise<unknown>} */
let roomOps = Promise.resolve();

const home = new HomeView(/** @type {HTMLElement} */ (document.getElementById('home-view')), {
  onJoin: (name) => enterRoom(name, { push: true }),
  onRename: (name) => rename(name),
});

const room = new RoomView(/** @type {HTMLElement} */ (document.getElementById('room-view')), {
  onSend: (text, clientId) => send(text, clientId),
  onLeave: () => showHome({ push: true }),
  onRename: (name) => rename(name),
});

// ---- navigation -------------------------------------------------------------------------

/** @param {string} name */
function roomUrl(name) {
  return new URL('room/' + encodeURIComponent(name), document.baseURI).href;
}

function homeUrl() {
  return new URL('./', document.baseURI).href;
}

/**
 * What the current address shows.
 * @returns {{view: 'home'} | {view: 'room', room: string}}
 */
function route() {
  const roomPrefix = new URL('room/', document.baseURI).pathname;
  if (location.pathname.startsWith(roomPrefix)) {
    try {
      const name = decodeURIComponent(location.pathname.slice(roomPrefix.length));
      if (name) return { view: 'room', room: name };
    } catch {
      /* malformed escape: fall back to home */
    }
  }
  return { view: 'home' };
}

/**
 * Runs room operations one after another; a failure does not block the next one.
 * @template T
 * @param {() => Promise<T>} op
 * @returns {Promise<T>}
 */
function serial(op) {
  const run = roomOps.then(op, op);
  roomOps = run.catch(() => {});
  return run;
}

/**
 * Shows the room page and joins the room.
 * @param {string} name
 * @param {{push?: boolean, replace?: boolean}} [how]
 */
async function enterRoom(name, how = {}) {
  if (how.push) history.pushState({ view: 'room', room: name }, '', roomUrl(name));
  else if (how.replace) history.replaceState({ view: 'room', room: name }, '', roomUrl(name));
  view = 'room';
  wantRoom = name;
  document.title = `${name} · Noom`;
  home.hide();
  room.open(name, client.session);
  room.setSelfNickname(client.nickname);
  await renaming;
  try {
    await serial(async () => {
      if (wantRoom !== name) return null;
      joining = name;
      try {
        return await client.join(name);
      } finally {
        joining = null;
      }
    });
    if (view === 'room') room.focusInput();
  } catch (err) {
    if (wantRoom !== name) return;
    showHome({ replace: true });
    home.showJoinError(`Could not join “${name}”: ${describe(err)}`);
  }
}

/**
 * Shows the home page, leaving the room if in one.
 * @param {{push?: boolean, replace?: boolean}} [how]
 */
function showHome(how = {}) {
  if (how.push) history.pushState({ view: 'home' }, '', homeUrl());
  else if (how.replace) history.replaceState({ view: 'home' }, '', homeUrl());
  const wasIn = wantRoom;
  view = 'home';
  wantRoom = null;
  document.title = 'Noom';
  room.hide();
  home.renderRooms(client.rooms);
  home.show();
  if (wasIn !== null) {
    serial(() => client.leave()).catch(() => {
      /* The presence timeout will take us out anyway; a beacon is the best effort left. */
      client.leaveBeacon();
    }).finally(() => refreshRooms());
  } else {
    refreshRooms();
  }
}

function refreshRooms() {
  client.listRooms().catch(() => {
    /* the poll loop's room_change events keep the list current anyway */
  });
}

window.addEventListener('popstate', () => {
  const r = route();
  if (r.view === 'room') {
    if (r.room !== wantRoom) enterRoom(r.room);
  } else if (view !== 'home') {
    showHome();
  }
});

document.addEventListener('click', (e) => {
  const link = /** @type {HTMLElement} */ (e.target).closest('a[data-nav="home"]');
  if (!link || e.defaultPrevented || /** @type {MouseEvent} */ (e).button !== 0 ||
      e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  e.preventDefault();
  if (view !== 'home') showHome({ push: true });
});

/* A closing or reloading tab leaves its room at once instead of after the presence timeout. */
window.addEventListener('pagehide', () => {
  if (wantRoom !== null) client.leaveBeacon();
});

/* Back from the back/forward cache: the beacon took us out, so join again. */
window.addEventListener('pageshow', (e) => {
  if (e.persisted && view === 'room' && wantRoom !== null) enterRoom(wantRoom);
});

// ---- actions ----------------------------------------------------------------------------

/** @param {string} name */
function rename(name) {
  renaming = renaming.then(async () => {
    try {
      const nickname = await client.rename(name);
      rememberNickname(nickname);
      home.setNickname(nickname);
      room.setSelfNickname(nickname);
      home.setNicknameStatus('Saved');
    } catch (err) {
      home.setNicknameStatus(describe(err), true);
      room.showError(`Could not change your name: ${describe(err)}`);
    }
  });
  return renaming;
}

/**
 * @param {string} text
 * @param {string} [retryId]  client_id of a failed message being sent again
 */
async function send(text, retryId) {
  const clientId = retryId ?? newClientId();
  if (!retryId) room.addPending(text, clientId, client.nickname);
  try {
    const res = await client.send(text, clientId);
    room.confirmSent(clientId, res.id, res.ts);
  } catch (err) {
    room.sendFailed(clientId, `Message not sent: ${describe(err)}`);
  }
}

/**
 * A sentence for an error shown to the user.
 * @param {unknown} err
 */
function describe(err) {
  if (err instanceof ApiError) {
    switch (err.code) {
    case 'network': return 'cannot reach the server. Check your connection.';
    case 'unavailable': return 'the server is not available right now. Please try again.';
    case 'rate_limited': return 'you are sending too fast. Please wait a moment.';
    case 'not_in_room': return 'you are no longer in this room.';
    default: return err.message || `error ${err.status}`;
    }
  }
  return err instanceof Error ? err.message : String(err);
}

/** @param {string} nickname */
function rememberNickname(nickname) {
  try {
    localStorage.setItem(NICKNAME_KEY, nickname);
  } catch {
    /* private mode: fine */
  }
}

function preferredNickname() {
  try {
    return localStorage.getItem(NICKNAME_KEY) || undefined;
  } catch {
    return undefined;
  }
}

// ---- transport callbacks ----------------------------------------------------------------

client.onSession = (info) => {
  home.setNickname(info.nickname);
  room.self = info.session;
  room.setSelfNickname(info.nickname);
};

client.onRoomList = (rooms) => home.renderRooms(rooms);

client.onRoomState = (state) => {
  if (state === null) {
    if (view === 'room') {
      showHome({ replace: true });
      home.showJoinError('You are no longer in that room.');
    }
    return;
  }
  if (state.room !== wantRoom) {
    /* The answer to our own join may spell the name as the server stores it. */
    if (joining === null || joining !== wantRoom) return; /* a leave or another join follows */
    wantRoom = state.room;
    history.replaceState({ view: 'room', room: state.room }, '', roomUrl(state.room));
    document.title = `${state.room} · Noom`;
  }
  joinedAt = Date.now();
  room.setState(state, client.session);
};

client.onWelcome = (data) => {
  if (data.session === client.session && room.members.has(data.session)) {
    return; /* ourselves again (another request re-joined): nothing new to say */
  }
  room.memberJoined(data.session, data.nickname, data.count);
};

client.onBye = (data) => room.memberLeft(data.session, data.nickname, data.count);

client.onMessage = (msg) => room.addMessage(msg);

client.onNickname = (data) => {
  room.memberRenamed(data.session, data.old, data.nickname);
  if (data.session === client.session) {
    home.setNickname(data.nickname);
    room.setSelfNickname(data.nickname);
  }
};

client.onRoomJoined = (data) => {
  /* Another request of this session (a duplicated tab) moved it: follow. */
  enterRoomView(data.room);
};

client.onRoomLeft = (data) => {
  if (data.room !== wantRoom) return;
  if (data.reason === 'switch') return; /* a room_joined follows */
  if (data.reason === 'timeout' || Date.now() - joinedAt < STALE_LEAVE_MS) {
    /* We are alive (the tab slept, or the previous page's beacon arrived late): back in. */
    room.addNotice('Reconnected', 'info');
    serial(() => client.join(data.room)).catch(() => showHome({ replace: true }));
    return;
  }
  showHome({ replace: true });
  home.showJoinError(`You left “${data.room}” from another window.`);
};

client.onResync = () => {
  if (view === 'home') home.renderRooms(client.rooms);
};

client.onConnection = (state) => {
  for (const node of document.querySelectorAll('[data-role="conn"]')) {
    const n = /** @type {HTMLElement} */ (node);
    n.hidden = state === 'online';
    n.textContent = state === 'online' ? '' : 'Reconnecting…';
  }
};

/**
 * Shows the room page for a room the server put us in (no join request of our own).
 * @param {string} name
 */
function enterRoomView(name) {
  history.pushState({ view: 'room', room: name }, '', roomUrl(name));
  view = 'room';
  wantRoom = name;
  document.title = `${name} · Noom`;
  home.hide();
  room.open(name, client.session);
}

// ---- start ------------------------------------------------------------------------------

async function main() {
  /** @type {{view: 'home'} | {view: 'room', room: string}} */
  let initial = route();
  if (body.dataset.view === 'room' && body.dataset.room) initial = { view: 'room', room: body.dataset.room };
  else if (body.dataset.view === 'home') initial = { view: 'home' };

  if (initial.view === 'room') {
    view = 'room';
    room.open(initial.room, null);
    document.title = `${initial.room} · Noom`;
  } else {
    home.show();
  }

  let delay = 250;
  let nickname = preferredNickname();
  /** @type {Awaited<ReturnType<NoomClient['start']>>} */
  let info;
  for (;;) {
    try {
      info = await client.start(nickname);
      break;
    } catch (err) {
      if (err instanceof ApiError && err.status === 400) {
        nickname = undefined; /* the remembered name is no longer accepted */
        continue;
      }
      client.onConnection('offline', delay);
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 5000);
    }
  }
  client.onConnection('online', 0);
  home.setNickname(info.nickname);
  room.setSelfNickname(info.nickname);
  client.startPolling();
  markReady();
  body.dataset.ready = 'true';

  if (initial.view === 'room') {
    enterRoom(initial.room, { replace: true });
  } else {
    history.replaceState({ view: 'home' }, '', location.href);
    if (info.room) serial(() => client.leave()).catch(() => {});
    if (client.rooms.length === 0) refreshRooms();
  }
}

main();
