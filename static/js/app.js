// Noom entry point: wires the transport (transport.js) to the two views (home.js, room.js) and
// runs the single-page navigation.
//
// URLs: the page has <base href="PREFIX/">, so every URL here is resolved against
// document.baseURI: "api/…" for the API, "room/<name>" and "./" for the two views. The same code
// therefore works at "/" and under a prefix such as "/noom/".
//
// Room operations (join, leave) run one after another through serial(), so that a quick
// "join, then back" cannot reach the server in the wrong order.
//
// The call: entering a room opens the camera and microphone (media.js) and creates a Call
// (call.js) at once, so that offers arriving before the call configuration are queued, not
// lost. When GET api/call says this session is in the call, the call starts and connects to
// every member who was in the room before us (they were in the call first; later members
// connect to us). A chat-only member (room over the mesh size) asks again whenever someone
// leaves. Going home hangs up and closes the devices.

import { NoomClient, ApiError, newClientId } from './transport.js';
import { HomeView } from './home.js';
import { RoomView } from './room.js';
import { Call } from './call.js';
import { LocalMedia } from './media.js';

/** @typedef {import('./transport.js').RoomState} RoomState */

const NICKNAME_KEY = 'noom.nickname';
/* A leave of our own session this soon after joining is a stale beacon of the previous page. */
const STALE_LEAVE_MS = 5000;

const body = document.body;
/* ?transport=websocket|polling forces one transport (diagnosis, tests); the default tries the
 * WebSocket and falls back to long-polling. */
const forced = new URLSearchParams(location.search).get('transport');
const wsUrl = new URL('ws', document.baseURI);
wsUrl.protocol = wsUrl.protocol === 'https:' ? 'wss:' : 'ws:';
const client = new NoomClient({
  apiBase: new URL('api/', document.baseURI).href,
  wsUrl: wsUrl.href,
  transport: forced === 'websocket' || forced === 'polling' ? forced : 'auto',
});

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
  onListRooms: () => refreshRooms(),
});

const room = new RoomView(/** @type {HTMLElement} */ (document.getElementById('room-view')), {
  onSend: (text, clientId) => send(text, clientId),
  onLeave: () => showHome({ push: true }),
  onRename: (name) => rename(name),
  onMute: (muted) => media?.setMuted(muted),
  onCamera: (off) => media?.setCameraOff(off),
  onScreen: (share) => toggleScreen(share),
  onDevice: (kind, deviceId) => switchDevice(kind, deviceId),
});

/** The call of the room on screen. @type {Call|null} */
let call = null;
/** This tab's camera and microphone while in a room. @type {LocalMedia|null} */
let media = null;
/** The room `call` belongs to. @type {string|null} */
let callRoom = null;
/** Whether the server counts this session in the call (not chat-only). */
let inCall = false;
/** Resolves when `media` has asked for the devices (whatever it got). @type {Promise<unknown>} */
let mediaOpened = Promise.resolve();
/** Announcements of our media state, one after another. @type {Promise<unknown>} */
let mediaSends = Promise.resolve();

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
  /* The camera and microphone open while the join is on its way: the call needs both, and the
   * browser takes a few hundred ms to start a camera. */
  ensureMedia();
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
  endCall({ closeMedia: true });
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
  client.listRooms(home.query, home.limit).then(({ more }) => home.setMore(more)).catch(() => {
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

// ---- call -------------------------------------------------------------------------------

/**
 * Begins the call of a room whose state was just drawn: devices, Call object, configuration.
 * @param {RoomState} state
 */
function beginCall(state) {
  const self = client.session;
  if (self === null) return;
  callRoom = state.room;
  inCall = false;
  const thisCall = new Call({
    self,
    signaling: { send: (to, kind, data) => client.signal(to, kind, data) },
    refreshConfig: () => client.callConfig(),
  });
  call = thisCall;
  thisCall.onRemoteStream = (session, stream) => room.setRemoteStream(session, stream);
  thisCall.onPeerRemoved = (session) => room.removeRemoteStream(session);
  thisCall.onPeerState = (session, st) => room.setPeerState(session, st);
  thisCall.onPeerAdded = (session) => room.setPeerState(session, 'connecting');
  const devices = ensureMedia();
  Promise.all([mediaOpened, client.callConfig()]).then(([, config]) => {
    if (call !== thisCall) return;
    showLocal(devices);
    announceMedia(devices.state());
    updateControls();
    joinCall(thisCall, config, devices.tracks(), state.members.map((m) => m.session));
  }).catch((err) => {
    if (call === thisCall) room.setCallStatus(`The call could not start: ${describe(err)}`);
  });
}

/**
 * Starts `thisCall` if the server counts us in, and connects to the members before us.
 * @param {Call} thisCall
 * @param {import('./transport.js').CallConfig} config
 * @param {{audio: MediaStreamTrack|null, video: MediaStreamTrack|null}} tracks
 * @param {number[]} order  the room's members in join order
 */
function joinCall(thisCall, config, tracks, order) {
  inCall = config.in_call;
  if (!inCall) {
    room.setCallStatus(`This call is full (${config.mesh_max} people). You can chat, and you will join the call when someone leaves.`);
    /* Nothing is sent: the camera and microphone stay off until a place frees up. */
    closeMedia();
    announceMedia({ audio: false, video: false, screen: false });
    updateControls();
    return;
  }
  room.setCallStatus(media?.problem ?? '');
  thisCall.start(config, tracks);
  for (const session of order) {
    if (session === client.session) break; /* members after us connect to us */
    if (room.members.has(session)) thisCall.connect(session);
  }
  updateControls();
}

/**
 * A chat-only member asks again whether there is room in the call now.
 */
function retryCall() {
  const thisCall = call;
  if (!thisCall || inCall) return;
  client.callConfig().then(async (config) => {
    if (call !== thisCall || !config.in_call) return;
    const devices = ensureMedia();
    await mediaOpened;
    if (call !== thisCall || media !== devices) return;
    showLocal(devices);
    announceMedia(devices.state());
    joinCall(thisCall, config, devices.tracks(), Array.from(room.members.keys()));
  }).catch(() => {});
}

/**
 * The camera and microphone of this room visit, opened on first use (`mediaOpened` resolves
 * once they have been asked for).
 * @returns {LocalMedia}
 */
function ensureMedia() {
  if (!media) {
    media = openMedia();
    mediaOpened = media.open();
  }
  return media;
}

/**
 * Our own tile shows what the devices give (the avatar when they give nothing).
 * @param {LocalMedia} devices
 */
function showLocal(devices) {
  room.setLocalStream(devices.stream.getTracks().length ? devices.stream : null);
}

/** A LocalMedia with its callbacks wired to the page (not opened yet). */
function openMedia() {
  const devices = new LocalMedia();
  devices.onTrack = (kind, track) => {
    if (media !== devices) return;
    call?.replaceTrack(kind, track);
    showLocal(devices);
  };
  devices.onState = (st) => {
    if (media !== devices) return;
    announceMedia(st);
    updateControls();
    if (inCall) room.setCallStatus(devices.problem);
  };
  devices.onDevices = (lists) => {
    if (media !== devices) return;
    room.setDevices(lists, devices.currentDevice('audio'), devices.currentDevice('video'));
  };
  return devices;
}

/**
 * Ends the call of the room on screen: hangs up on every peer.
 * @param {{closeMedia: boolean}} how  also stop the camera and microphone
 */
function endCall(how) {
  if (call) call.hangup().catch(() => {});
  call = null;
  callRoom = null;
  inCall = false;
  if (how.closeMedia) closeMedia();
}

/* Stops the camera and microphone (their lights go off). */
function closeMedia() {
  if (!media) return;
  media.close();
  media = null;
  mediaOpened = Promise.resolve();
  room.setLocalStream(null);
}

/**
 * Tells the room our media state (and shows it on our own tile at once).
 * @param {import('./media.js').MediaState} st
 */
function announceMedia(st) {
  if (client.session !== null) room.setMemberMedia(client.session, st);
  mediaSends = mediaSends.then(() => client.setMedia(st)).catch(() => {
    /* The next change or a rejoin announces it again; the call itself is unaffected. */
  });
}

function updateControls() {
  const m = media;
  room.setControls({
    muted: !!m?.muted,
    cameraOff: !!m?.cameraOff,
    sharing: !!m?.screen,
    hasAudio: !!m?.audio,
    hasVideo: !!m?.camera,
    canShare: !!m?.canShareScreen && inCall,
  });
}

/**
 * Starts or stops sharing the screen. Starting must stay inside the click's task (the
 * browser asks for a user gesture), so no await comes before startScreen().
 * @param {boolean} share
 */
function toggleScreen(share) {
  if (!media) return;
  if (!share) {
    media.stopScreen();
    return;
  }
  media.startScreen().catch((err) => room.showError(`Cannot share the screen: ${describe(err)}`));
}

/**
 * @param {'audio'|'video'} kind
 * @param {string} deviceId
 */
function switchDevice(kind, deviceId) {
  const devices = media;
  if (!devices) return;
  devices.switchDevice(kind, deviceId).catch((err) => {
    room.showError(`Cannot switch the ${kind === 'audio' ? 'microphone' : 'camera'}: ${describe(err)}`);
    devices.listDevices().then((lists) => room.setDevices(lists, devices.currentDevice('audio'), devices.currentDevice('video')));
  });
}

// ---- transport callbacks ----------------------------------------------------------------

client.onSession = (info) => {
  body.dataset.session = String(info.session);
  home.setNickname(info.nickname);
  room.self = info.session;
  room.setSelfNickname(info.nickname);
};

client.onRoomList = (rooms) => home.renderRooms(rooms);

client.onRoomState = (state) => {
  if (state === null) {
    endCall({ closeMedia: true });
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
  room.setState(state, client.session, client.nickname);
  if (call && callRoom === state.room) {
    /* A resync: connections to members who are gone meanwhile are closed. */
    for (const session of Array.from(call.peers.keys())) {
      if (!room.members.has(session)) call.remove(session);
    }
  } else {
    endCall({ closeMedia: false });
    beginCall(state);
  }
};

client.onWelcome = (data) => {
  if (data.session === client.session && room.members.has(data.session)) {
    return; /* ourselves again (another request re-joined): nothing new to say */
  }
  room.memberJoined(data.session, data.nickname, data.count);
};

client.onBye = (data) => {
  room.memberLeft(data.session, data.nickname, data.count);
  call?.remove(data.session);
  if (!inCall) retryCall();
};

client.onMessage = (msg) => room.addMessage(msg);

client.onSignal = (data) => call?.handleSignal(data.from, data.kind, data.data);

client.onMedia = (data) => {
  if (data.session !== client.session) room.setMemberMedia(data.session, data);
};

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
    /* We are alive (the tab slept, or the previous page's beacon arrived late): back in.
     * The others closed their connections to us: the call starts over after the join. */
    room.addNotice('Reconnected', 'info');
    endCall({ closeMedia: false });
    serial(() => client.join(data.room)).catch(() => showHome({ replace: true }));
    return;
  }
  showHome({ replace: true });
  home.showJoinError(`You left “${data.room}” from another window.`);
};

client.onResync = () => {
  if (view === 'home') home.renderRooms(client.rooms);
};

client.onTransport = (name) => {
  body.dataset.transport = name;
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
  body.dataset.session = String(info.session);
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
