// Noom entry point: wires the transport (transport.js) to the three views (home.js, the
// pre-join screen prejoin.js, room.js) and the notice banner (notice.js), and runs the
// single-page navigation.
//
// URLs: the page has <base href="PREFIX/">, so every URL here is resolved against
// document.baseURI: "api/…" for the API, "room/<name>" (plus "#key=<key>" for an unlisted room)
// and "./" for the views. The same code therefore works at "/" and under a prefix such as
// "/noom/". The key stays in the fragment, which the browser never sends: it reaches no log.
//
// The way into a room: opening its address, or joining from the home page, shows the pre-join
// screen (camera preview, devices, name, password when asked); its join button joins. The join
// answer decides what follows: the room (200), "waiting for the host" (202, until room_joined
// or join_denied), the password field again (403 password_required / wrong_password), or a
// notice (403 room_locked / removed, 429). A tab that comes back to the room it was in (reload,
// back/forward cache: sessionStorage remembers the room, next to the session token) goes
// straight back in; the server lets a session that left less than a minute ago return.
//
// Room operations (join, leave) run one after another through serial(), so that a quick
// "join, then back" cannot reach the server in the wrong order.
//
// The call: the pre-join screen opens the camera and microphone (media.js) for its preview, and
// the call sends that same stream with the choices made there. Entering a room creates a Call
// (call.js) at once, so that offers arriving before the call configuration are queued, not
// lost. A join answer that begins a mesh call sends our offers before anything is drawn; the
// room page is then drawn behind the pre-join screen and shows once the answers to those
// offers are in (ROOM_HOLD_MS at most), and what the call does not need at once (our own
// tile's video, audio meters, the focus) waits for afterSignals (dom.js): the page's first
// layout costs tens of ms that would otherwise hold the answers and ICE candidates back.
// When the join answer (or GET api/call) says this session is in the call, the call starts
// and connects to every member who was in the room before us (they were in the call first;
// later members connect to us). A chat-only member (room over the mesh size) asks again
// whenever someone leaves. Going home hangs up and closes the devices.
//
// In the meeting: raised hands, reactions and private messages go through the server like chat
// (hand and reaction events, addressed new_message); who is speaking is measured in the page
// from the streams and never sent anywhere.
//
// Hosts: the room page shows a host's controls from the room state and keeps them current from
// the room events (host, room_settings, waiting, waiting_done); what a host does to this user
// (mute_request, room_left "removed" / "ended" / "closed", join_denied) shows on the notice banner.

import { NoomClient, ApiError, newClientId } from './transport.js';
import { afterSignals } from './dom.js';
import { HomeView } from './home.js';
import { PrejoinView } from './prejoin.js';
import { RoomView } from './room.js';
import { NoticeBanner } from './notice.js';
import { Call, WarmOffer } from './call.js';
import { SfuCall } from './sfu.js';
import { LocalMedia } from './media.js';

/** @typedef {import('./transport.js').RoomState} RoomState */
/**
 * A room as the page goes to it.
 * @typedef {object} Target
 * @property {string} room
 * @property {string} key  an unlisted room's key ('' for a listed room, or one not opened yet)
 * @property {boolean} unlisted  open a new unlisted room (the join answer brings its key)
 */

const NICKNAME_KEY = 'noom.nickname';
/* The room this tab is in (sessionStorage, like the session token): a reload goes straight back. */
const ROOM_KEY = 'noom.room';
/* A leave of our own session this soon after joining is a stale beacon of the previous page. */
const STALE_LEAVE_MS = 5000;

const body = document.body;
/* ?transport=websocket|stream|polling forces one transport (diagnosis, tests); the default tries
 * the WebSocket, then the event stream, then long-polling. */
const forced = new URLSearchParams(location.search).get('transport');
const wsUrl = new URL('ws', document.baseURI);
wsUrl.protocol = wsUrl.protocol === 'https:' ? 'wss:' : 'ws:';
const client = new NoomClient({
  apiBase: new URL('api/', document.baseURI).href,
  wsUrl: wsUrl.href,
  transport: forced === 'websocket' || forced === 'stream' || forced === 'polling' ? forced : 'auto',
});

/** What is on screen: 'home', 'prejoin', 'waiting' (for the host) or 'room'. */
let view = 'home';
/** The room on screen (pre-join, waiting or room); null on the home page. @type {Target|null} */
let target = null;
/** The room the session is joining, waiting for or in (null on the home page and before the
 * pre-join screen's join button). @type {string|null} */
let wantRoom = null;
/** Bumped whenever the user goes somewhere else: an answer for an older visit is ignored. */
let visit = 0;
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

const notice = new NoticeBanner(document);

const home = new HomeView(/** @type {HTMLElement} */ (document.getElementById('home-view')), {
  onJoin: (name, unlisted) => showPrejoin({ room: name, key: '', unlisted }, { push: true }),
  onRename: (name) => { rename(name); },
  onListRooms: () => refreshRooms(),
});

const prejoin = new PrejoinView(/** @type {HTMLElement} */ (document.getElementById('prejoin-view')), {
  onJoin: (choice) => joinFromPrejoin(choice.nickname, choice.password),
  onMute: (muted) => media?.setMuted(muted),
  onCamera: (off) => media?.setCameraOff(off),
  onDevice: (kind, deviceId) => switchDevice(kind, deviceId),
  onCancelWait: () => showHome({ push: true }),
});

const room = new RoomView(/** @type {HTMLElement} */ (document.getElementById('room-view')), {
  onSend: (text, clientId, to) => send(text, clientId, to),
  onLeave: () => showHome({ push: true }),
  onRename: (name) => { rename(name); },
  onMute: (muted) => {
    media?.setMuted(muted);
    if (!muted) notice.clear('muted');
  },
  onCamera: (off) => media?.setCameraOff(off),
  onScreen: (share) => toggleScreen(share),
  onDevice: (kind, deviceId) => switchDevice(kind, deviceId),
  onModerate: (action, session, nickname) => {
    client.moderate(action, session).catch((err) => {
      room.showHostError(`Could not ${action === 'host' ? 'make' : action} ${nickname}${action === 'host' ? ' a host' : ''}: ${describe(err)}`);
    });
  },
  onHand: (raised) => {
    client.raiseHand(raised).then((res) => {
      if (client.session !== null) room.setHand(client.session, res.raised, res.at);
    }).catch((err) => room.showNote(`Could not ${raised ? 'raise' : 'lower'} your hand: ${describe(err)}`));
  },
  onLowerHand: (session, nickname) => {
    client.raiseHand(false, session).then(() => room.setHand(session, false, 0)).catch((err) => {
      room.showHostError(`Could not lower ${nickname}'s hand: ${describe(err)}`);
    });
  },
  /* On the SFU the members this page hears speaking come in at the top layer (sfu.js). */
  onSpeaking: (speaking) => {
    if (call instanceof SfuCall) call.heard(speaking);
  },
  onReact: (emoji) => {
    client.react(emoji).catch((err) => {
      room.showNote(err instanceof ApiError && err.status === 429
        ? 'Slow down: too many reactions at once. Try again in a moment.'
        : `Could not send the reaction: ${describe(err)}`);
    });
  },
  onSettings: (change) => hostRequest(async () => room.setSettings(await client.setRoomSettings(change))),
  onMuteAll: () => hostRequest(() => client.muteAll()),
  onWaiting: (action, session) => hostRequest(async () => {
    await client.moderate(action, session);
    room.removeWaiting(session);
  }),
  onEnd: () => hostRequest(async () => {
    await client.endMeeting();
    showHome({ replace: true });
    notice.show('You ended the meeting for everyone.', 'ended');
  }),
});

/** The call of the room on screen: the mesh, or the SFU past the mesh size. @type {Call|SfuCall|null} */
let call = null;
/** This tab's camera and microphone while on the pre-join screen or in a room. @type {LocalMedia|null} */
let media = null;
/** The room `call` belongs to. @type {string|null} */
let callRoom = null;
/** Whether the server counts this session in the call (not chat-only). */
let inCall = false;
/** The last call configuration (mesh size, whether the SFU is there). @type {import('./transport.js').CallConfig|null} */
let lastCallConfig = null;
/** Resolves when `media` has asked for the devices (whatever it got). @type {Promise<unknown>} */
let mediaOpened = Promise.resolve();
/** Whether `media` has had the browser's answer (the pre-join screen says "starting" until then). */
let mediaReady = false;
/** Connections offered at the click on Join, for the members before us. @type {WarmOffer[]} */
let warmOffers = [];
/** Announcements of our media state, one after another. @type {Promise<unknown>} */
let mediaSends = Promise.resolve();

// ---- navigation -------------------------------------------------------------------------

/**
 * The address of a room; an unlisted room's key goes in the fragment.
 * @param {string} name
 * @param {string} [key]
 */
function roomUrl(name, key = '') {
  const url = new URL('room/' + encodeURIComponent(name), document.baseURI);
  if (key) url.hash = 'key=' + encodeURIComponent(key);
  return url.href;
}

function homeUrl() {
  return new URL('./', document.baseURI).href;
}

/**
 * What the current address shows.
 * @returns {{view: 'home'} | {view: 'room', room: string, key: string}}
 */
function route() {
  const roomPrefix = new URL('room/', document.baseURI).pathname;
  if (location.pathname.startsWith(roomPrefix)) {
    try {
      const name = decodeURIComponent(location.pathname.slice(roomPrefix.length));
      const key = new URLSearchParams(location.hash.slice(1)).get('key') ?? '';
      if (name) return { view: 'room', room: name, key };
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

/* Connections offered before the join answer: the mesh's default size less one. */
const WARM_MAX = 5;

/** Closes the connections offered ahead that no call took. */
function dropWarmOffers() {
  for (const w of warmOffers) w.close();
  warmOffers = [];
}

/**
 * Keeps connections offered ahead (WarmOffer) for the room of the pre-join screen, once its
 * devices are open: one per member of the room's listing (one if it is not listed), at most
 * WARM_MAX, with the tracks the call would send. Made again when either changed; at the click
 * on Join they are usually ready, so the offers leave as soon as the join answer is in.
 * @param {string} name
 */
function warmUp(name) {
  if (!mediaReady || !media) return;
  const tracks = media.tracks();
  const listed = client.rooms.find((r) => r.name === name)?.count ?? 1;
  const count = Math.max(1, Math.min(listed, WARM_MAX));
  if (warmOffers.length === count && warmOffers.every((w) => w.sends(tracks))) return;
  dropWarmOffers();
  warmOffers = WarmOffer.make(tracks, count);
}

/**
 * Makes the current history entry the room's, unless it is already: replaceState costs the
 * page tens of ms, and the pre-join screen put the entry there in most cases.
 * @param {string} name
 * @param {string} key
 */
function replaceRoomState(name, key) {
  const url = roomUrl(name, key);
  const st = history.state;
  if (location.href === url && st && st.view === 'room' && st.room === name && st.key === key) return;
  history.replaceState({ view: 'room', room: name, key }, '', url);
}

/**
 * Records a room address in the history.
 * @param {Target} to
 * @param {{push?: boolean, replace?: boolean}} how
 */
function navigate(to, how) {
  const state = { view: 'room', room: to.room, key: to.key };
  if (how.push) history.pushState(state, '', roomUrl(to.room, to.key));
  else if (how.replace) history.replaceState(state, '', roomUrl(to.room, to.key));
}

/**
 * Shows the pre-join screen of a room, leaving the room the session is in, if any. The camera
 * and microphone open for the preview (and stay open for the call).
 * @param {Target} to
 * @param {{push?: boolean, replace?: boolean}} [how]
 */
function showPrejoin(to, how = {}) {
  navigate(to, how);
  const wasIn = wantRoom;
  visit++;
  view = 'prejoin';
  target = to;
  wantRoom = null;
  forgetRoom();
  document.title = `${to.room} · Noom`;
  endCall({ closeMedia: false });
  home.hide();
  room.hide();
  prejoin.open(to.room, { nickname: home.nickname || client.nickname || preferredNickname() || '', unlisted: to.unlisted && !to.key });
  const devices = ensureMedia();
  showLocal(devices);
  updateControls();
  prejoin.setStatus(devices.problem);
  dropWarmOffers(); /* another room's count, maybe; made again here or once the devices open */
  warmUp(to.room);
  if (wasIn !== null) {
    serial(() => client.leave()).catch(() => client.leaveBeacon());
  }
}

/**
 * The pre-join screen's join button: renames if the name changed, then joins.
 * @param {string} nickname
 * @param {string} password  '' when the room asked for none
 */
async function joinFromPrejoin(nickname, password) {
  const to = target;
  if (view !== 'prejoin' || to === null) return;
  const mine = visit;
  await ready;
  if (nickname !== client.nickname && !(await rename(nickname))) {
    if (visit === mine) prejoin.showError(`Could not use that name: ${renameError}`);
    return;
  }
  if (visit !== mine) return;
  joinRoom(to, { password, straight: false });
}

/**
 * Joins a room: from the pre-join screen (it stays up until the server answers), or straight
 * back into the room this tab was in (the room page shows at once).
 * @param {Target} to
 * @param {{password?: string, straight: boolean}} how
 */
async function joinRoom(to, how) {
  target = to;
  wantRoom = to.room;
  const mine = visit;
  notice.hide();
  if (how.straight) showRoomView(to.room);
  else prejoin.setBusy(true);
  /* The camera and microphone open while the join is on its way: the call needs both, and the
   * browser takes a few hundred ms to start a camera. */
  ensureMedia();
  if (how.straight) dropWarmOffers();
  else warmUp(to.room);
  await renaming;
  /** @type {Awaited<ReturnType<NoomClient['join']>>|null} */
  let answer = null;
  try {
    answer = await serial(async () => {
      if (visit !== mine) return null;
      joining = to.room;
      try {
        return await client.join(to.room, {
          unlisted: to.unlisted, key: to.key || undefined, password: how.password || undefined,
        });
      } finally {
        joining = null;
      }
    });
  } catch (err) {
    dropWarmOffers();
    if (visit === mine) refused(to, err);
    return;
  }
  /* Taken by the call if the answer began one (onRoomState, before this). */
  dropWarmOffers();
  if (answer === null || visit !== mine) return;
  if ('waiting' in answer && answer.waiting === true) {
    /* wantRoom stays set: leaving the page or pressing Leave cancels the wait (POST api/leave). */
    view = 'waiting';
    prejoin.showWaiting(answer.room);
    return;
  }
  /* Focusing lays the page out: after the call's signals (a room page held behind the
   * pre-join screen is focused when it shows). */
  if (view === 'room') focusRoomSoon();
}

/**
 * The server refused a join: back to the pre-join screen, with the password field or a notice.
 * @param {Target} to
 * @param {unknown} err
 */
function refused(to, err) {
  wantRoom = null; /* in no room: nothing to leave */
  if (view !== 'prejoin') showPrejoin(to);
  const code = err instanceof ApiError ? err.code : '';
  switch (code) {
  case 'password_required':
    prejoin.askPassword('This meeting has a password. Type it to join.');
    break;
  case 'wrong_password':
    prejoin.askPassword('That is not the password of this meeting.');
    break;
  case 'room_locked':
    prejoin.showError('');
    notice.show('This meeting is locked. Only its host can let more people in.', 'locked');
    break;
  case 'removed':
    prejoin.showError('');
    notice.show('You were removed by the host. You can come back once the meeting has ended.', 'removed');
    break;
  case 'rate_limited':
    prejoin.showError('');
    notice.show('Too many wrong passwords. Please wait a minute before trying again.', 'refused');
    break;
  default:
    prejoin.showError(`Could not join “${to.room}”: ${describe(err)}`);
  }
}

/**
 * Shows the room page of the room being joined (its state draws it once it comes).
 * @param {string} name
 * @param {boolean} [shown]  false: built hidden, the pre-join screen staying up
 */
function showRoomView(name, shown = true) {
  view = 'room';
  document.title = `${name} · Noom`;
  home.hide();
  if (shown) prejoin.hide();
  room.open(name, client.session, shown);
  room.setSelfNickname(client.nickname);
}

/* The room page of a call that begins waits behind the pre-join screen for the answers to our
 * offers, this long at most. */
const ROOM_HOLD_MS = 150;

/**
 * Like showRoomView, but the page is drawn (tens of ms of the page's time: the first layout
 * of the room) only once `c` has the answers to its offers, or after ROOM_HOLD_MS: the
 * answers and the ICE candidates that follow them are handled first. Until then the
 * pre-join screen stays, busy.
 * @param {string} name
 * @param {Call} c
 */
function showRoomViewAfterAnswers(name, c) {
  showRoomView(name, false);
  const mine = visit;
  /** @type {ReturnType<typeof setTimeout>|undefined} */
  let timer;
  const held = new Promise((resolve) => { timer = setTimeout(resolve, ROOM_HOLD_MS); });
  Promise.race([c.answered(), held]).then(() => {
    clearTimeout(timer);
    if (visit !== mine || view !== 'room') return;
    prejoin.hide();
    room.show();
    focusRoomSoon();
  });
}

/**
 * Puts the focus in the chat's message box once the call's first signals are handled,
 * unless something in the room page has it already.
 */
function focusRoomSoon() {
  const mine = visit;
  afterSignals(() => {
    if (visit === mine && view === 'room' && !room.root.hidden && !room.root.contains(document.activeElement)) room.focusInput();
  });
}

/**
 * Shows the home page, leaving the room (or the wait for one) if in one.
 * @param {{push?: boolean, replace?: boolean}} [how]
 */
function showHome(how = {}) {
  if (how.push) history.pushState({ view: 'home' }, '', homeUrl());
  else if (how.replace) history.replaceState({ view: 'home' }, '', homeUrl());
  const wasIn = wantRoom;
  visit++;
  view = 'home';
  target = null;
  wantRoom = null;
  forgetRoom();
  document.title = 'Noom';
  endCall({ closeMedia: true });
  room.hide();
  prejoin.hide();
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

/**
 * Opens a room's address: straight back in if it is the room this tab was in, else through
 * the pre-join screen.
 * @param {Target} to
 */
function openRoom(to) {
  const back = rememberedRoom();
  if (back && back.room === to.room && back.key === to.key) joinRoom(to, { straight: true });
  else showPrejoin(to);
}

window.addEventListener('popstate', () => {
  const r = route();
  if (r.view === 'room') {
    if (target && target.room === r.room && target.key === r.key) return;
    openRoom({ room: r.room, key: r.key, unlisted: false });
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

/* A closing or reloading tab leaves its room (or stops waiting) at once instead of after the
 * presence timeout. */
window.addEventListener('pagehide', () => {
  if (wantRoom !== null) client.leaveBeacon();
});

/* Back from the back/forward cache: the beacon took us out, so join again. */
window.addEventListener('pageshow', (e) => {
  if (e.persisted && view === 'room' && target !== null) joinRoom(target, { straight: true });
});

// ---- remembered room --------------------------------------------------------------------

/**
 * @param {string} name
 * @param {string} key
 */
function rememberRoom(name, key) {
  try {
    sessionStorage.setItem(ROOM_KEY, JSON.stringify({ room: name, key }));
  } catch {
    /* storage disabled: a reload goes through the pre-join screen */
  }
}

function forgetRoom() {
  try {
    sessionStorage.removeItem(ROOM_KEY);
  } catch {
    /* nothing to forget */
  }
}

/** The room this tab was in before a reload, or null. @returns {{room: string, key: string}|null} */
function rememberedRoom() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(ROOM_KEY) ?? 'null');
    if (saved && typeof saved.room === 'string' && typeof saved.key === 'string') return saved;
  } catch {
    /* unreadable: as if none */
  }
  return null;
}

// ---- actions ----------------------------------------------------------------------------

/** Why the last rename failed (a sentence). */
let renameError = '';

/**
 * Changes the nickname (after any rename before it).
 * @param {string} name
 * @returns {Promise<boolean>} whether the server took it
 */
function rename(name) {
  let ok = false;
  renaming = renaming.then(async () => {
    try {
      const nickname = await client.rename(name);
      rememberNickname(nickname);
      home.setNickname(nickname);
      prejoin.setNickname(nickname);
      room.setSelfNickname(nickname);
      home.setNicknameStatus('Saved');
      ok = true;
    } catch (err) {
      renameError = describe(err);
      home.setNicknameStatus(renameError, true);
      room.showError(`Could not change your name: ${renameError}`);
    }
  });
  return renaming.then(() => ok);
}

/**
 * Runs a host's request; a refusal becomes an Error with a sentence for the host panel.
 * @param {() => Promise<unknown>} request
 */
async function hostRequest(request) {
  try {
    await request();
  } catch (err) {
    throw new Error(describe(err));
  }
}

/**
 * @param {string} text
 * @param {string} [retryId]  client_id of a failed message being sent again
 * @param {number|null} [to]  the recipient of a private message
 */
async function send(text, retryId, to = null) {
  const clientId = retryId ?? newClientId();
  if (!retryId) room.addPending(text, clientId, client.nickname, to);
  try {
    const res = await client.send(text, clientId, to);
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
    case 'not_host': return 'only a host of this meeting can do that.';
    case 'not_member': return 'that person is no longer in this meeting.';
    case 'not_waiting': return 'that person is no longer waiting.';
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
 * Begins the call of a room whose state just came, before the room is drawn: devices, Call
 * object, configuration. With the configuration in the join answer and the devices open (the
 * pre-join screen opened them), a mesh call connects to the members before us at once, so the
 * offers leave before the drawing; the rest waits for the returned function, called once the
 * room is drawn.
 * @param {RoomState} state
 * @returns {() => void}
 */
function beginCall(state) {
  const self = client.session;
  if (self === null) return () => {};
  callRoom = state.room;
  inCall = false;
  const thisCall = new Call({
    self,
    signaling: { send: (signals) => client.signals(signals) },
    refreshConfig: () => client.callConfig(),
  });
  call = thisCall;
  thisCall.onRemoteStream = (session, stream) => room.setRemoteStream(session, stream);
  thisCall.onPeerRemoved = (session) => room.removeRemoteStream(session);
  thisCall.onPeerState = (session, st) => room.setPeerState(session, st);
  thisCall.onPeerAdded = (session) => room.setPeerState(session, 'connecting');
  const devices = ensureMedia();
  const order = state.members.map((m) => m.session);
  const listed = state.members.find((m) => m.session === self);
  const known = listed ? { audio: listed.audio !== false, video: listed.video !== false, screen: !!listed.screen } : null;
  const now = state.call;
  if (now && mediaReady && now.in_call && now.mode === 'mesh') {
    /* In the call from now on (showCall, later, says so again). */
    inCall = true;
    lastCallConfig = now;
    thisCall.start(now, devices.tracks(), warmOffers);
    /* Members after us connect to us. */
    const mine = order.indexOf(self);
    thisCall.connectAll(mine < 0 ? order : order.slice(0, mine));
    dropWarmOffers();
    return () => {
      if (call === thisCall) showCall(thisCall, now, devices, order, known);
    };
  }
  /* A join answer carries the configuration; a state from elsewhere (a resync) does not. */
  const config = now ? Promise.resolve(now) : client.callConfig();
  Promise.all([mediaOpened, config]).then(([, config]) => {
    if (call === thisCall) showCall(thisCall, config, devices, order, known);
  }).catch((err) => {
    if (call === thisCall) room.setCallStatus(`The call could not start: ${describe(err)}`);
  });
  return () => {};
}

/**
 * The drawn room's side of a call that begins (its connections may be under way already).
 * @param {Call} thisCall
 * @param {import('./transport.js').CallConfig} config
 * @param {LocalMedia} devices
 * @param {number[]} order  the room's members in join order
 * @param {import('./media.js').MediaState|null} known  our media state as the join answer lists it
 */
function showCall(thisCall, config, devices, order, known) {
  showLocal(devices);
  const st = devices.state();
  /* The room knows our state already when the join answer lists it as it is: no request (and
   * no event to every member while the call is being set up). */
  if (known && known.audio === st.audio && known.video === st.video && known.screen === st.screen) {
    room.setMemberMedia(thisCall.self, st);
  } else {
    announceMedia(st);
  }
  updateControls();
  joinCall(thisCall, config, devices.tracks(), order);
  /* Connections made before the room was drawn had no tile to show their state on. */
  for (const peer of thisCall.peers.values()) {
    room.setPeerState(peer.session, peer.state === 'new' ? 'connecting' : peer.state);
  }
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
  lastCallConfig = config;
  if (!inCall) {
    room.setCallStatus(`This call is full (${config.mesh_max} people). You can chat, and you will join the call when someone leaves.`);
    /* Nothing is sent: the camera and microphone stay off until a place frees up. */
    closeMedia();
    announceMedia({ audio: false, video: false, screen: false });
    updateControls();
    return;
  }
  room.setCallStatus(media?.problem ?? '');
  if (config.mode === 'sfu') {
    if (media) startSfu(thisCall, config, media);
    updateControls();
    return;
  }
  thisCall.start(config, tracks);
  for (const session of order) {
    if (session === client.session) break; /* members after us connect to us */
    if (room.members.has(session)) thisCall.connect(session);
  }
  updateControls();
}

/* A mesh call moving onto the SFU keeps its connections until the SFU shows every peer. */
const HANDOVER_MS = 10000;

/**
 * The call continues on the SFU (sfu.js): the server says the room is past the mesh size. A
 * running mesh keeps showing its peers until the SFU shows each of them (or HANDOVER_MS), so
 * that pictures are replaced rather than dropped.
 * @param {Call|SfuCall} previous  the call the page had (a mesh, started or not)
 * @param {import('./transport.js').CallConfig} config
 * @param {LocalMedia} devices
 */
function startSfu(previous, config, devices) {
  if (previous instanceof SfuCall) return;
  const sfu = newSfuCall();
  if (!sfu) return;
  call = sfu;
  sfuStart(sfu, config, devices);
  const mesh = previous;
  mesh.onRemoteStream = () => {};
  mesh.onPeerRemoved = () => {};
  mesh.onPeerState = () => {};
  mesh.onPeerAdded = () => {};
  const since = Date.now();
  const timer = setInterval(() => {
    const waiting = Array.from(mesh.peers.keys()).filter((s) => !(sfu.peers.get(s)?.tracks.size));
    if (waiting.length && Date.now() - since < HANDOVER_MS && !sfu.ended) return;
    clearInterval(timer);
    mesh.close();
  }, 250);
}

/* A call on the SFU that lost Janus (its session expired, the server restarted) starts again
 * this much later, with a fresh configuration. */
const SFU_RETRY_MS = 3000;

/**
 * An SfuCall wired to the room page, or null without a session.
 * @returns {SfuCall|null}
 */
function newSfuCall() {
  const self = client.session;
  if (self === null) return null;
  const sfu = new SfuCall({ self, refreshConfig: () => client.callConfig() });
  sfu.onRemoteStream = (session, stream) => room.setRemoteStream(session, stream);
  sfu.onPeerRemoved = (session) => room.removeRemoteStream(session);
  sfu.onPeerState = (session, st) => room.setPeerState(session, st);
  sfu.onPeerAdded = (session) => room.setPeerState(session, 'connecting');
  sfu.onEnded = (why) => {
    if (call !== sfu) return;
    room.setCallStatus(`The call was interrupted (${why}); reconnecting…`);
    sfu.close();
    setTimeout(() => restartSfu(sfu), SFU_RETRY_MS);
  };
  return sfu;
}

/**
 * The SFU call `lost` ended on its own: join the VideoRoom again, unless the page moved on.
 * @param {SfuCall} lost
 */
function restartSfu(lost) {
  if (call !== lost) return;
  client.callConfig().then((config) => {
    if (call !== lost || config.mode !== 'sfu' || !media) return;
    const sfu = newSfuCall();
    if (!sfu) return;
    call = sfu;
    room.setCallStatus(media.problem ?? '');
    sfuStart(sfu, config, media);
  }).catch(() => {
    if (call === lost) setTimeout(() => restartSfu(lost), SFU_RETRY_MS);
  });
}

/**
 * Starts `sfu` with what `devices` give: the camera on the first publisher, a screen being
 * shared on its own (the mesh sends one or the other).
 * @param {SfuCall} sfu
 * @param {import('./transport.js').CallConfig} config
 * @param {LocalMedia} devices
 */
function sfuStart(sfu, config, devices) {
  sfu.start(config, { audio: devices.audio, video: devices.camera });
  sfu.shareScreen(devices.screen);
}

/**
 * Someone joined a room whose mesh call is full: ask whether the call moved onto the SFU.
 */
function followSfu() {
  const mesh = call;
  if (!(mesh instanceof Call) || !inCall || !lastCallConfig?.sfu_available) return;
  if (room.members.size <= lastCallConfig.mesh_max) return;
  client.callConfig().then((config) => {
    if (call !== mesh || config.mode !== 'sfu' || !media) return;
    lastCallConfig = config;
    startSfu(mesh, config, media);
  }).catch(() => {});
}

/**
 * A chat-only member asks again whether there is room in the call now.
 */
function retryCall() {
  const thisCall = call;
  if (!(thisCall instanceof Call) || inCall) return;
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
 * The camera and microphone of this room visit (from its pre-join screen on), opened on first
 * use (`mediaOpened` resolves once they have been asked for).
 * @returns {LocalMedia}
 */
function ensureMedia() {
  if (!media) {
    const devices = media = openMedia();
    mediaReady = false;
    mediaOpened = devices.open().then(() => {
      if (media !== devices) return;
      mediaReady = true;
      /* The preview (and the toggles) show what the devices gave, or why there is nothing. */
      showLocal(devices);
      updateControls();
      prejoin.setStatus(devices.problem);
      if (view === 'prejoin' && target) warmUp(target.room);
    });
  }
  return media;
}

/**
 * Our own tile and the pre-join preview show what the devices give (the avatar, "camera off",
 * when they give nothing).
 * @param {LocalMedia} devices
 */
function showLocal(devices) {
  const stream = devices.stream.getTracks().length ? devices.stream : null;
  if (view === 'room') room.setLocalStream(stream);
  else prejoin.setStream(stream);
}

/** A LocalMedia with its callbacks wired to the page (not opened yet). */
function openMedia() {
  const devices = new LocalMedia();
  devices.onTrack = (kind, track) => {
    if (media !== devices) return;
    if (call instanceof SfuCall) {
      /* The SFU sends the screen as a feed of its own, and the camera all along. */
      call.replaceTrack(kind, kind === 'audio' ? devices.audio : devices.camera);
      call.shareScreen(devices.screen);
    } else {
      call?.replaceTrack(kind, track);
    }
    showLocal(devices);
  };
  devices.onState = (st) => {
    if (media !== devices) return;
    announceMedia(st);
    updateControls();
    if (inCall) room.setCallStatus(devices.problem);
    prejoin.setStatus(devices.problem);
  };
  devices.onDevices = (lists) => {
    if (media !== devices) return;
    room.setDevices(lists, devices.currentDevice('audio'), devices.currentDevice('video'));
    prejoin.setDevices(lists, devices.currentDevice('audio'), devices.currentDevice('video'));
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
  dropWarmOffers();
  if (!media) return;
  media.close();
  media = null;
  mediaOpened = Promise.resolve();
  room.setLocalStream(null);
  prejoin.setStream(null);
}

/**
 * Tells the room our media state (and shows it on our own tile at once).
 * @param {import('./media.js').MediaState} st
 */
function announceMedia(st) {
  /* On the pre-join screen there is nobody to tell yet: the call announces the state it starts
   * with. */
  if (call === null) return;
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
  prejoin.setControls({
    muted: !!m?.muted, cameraOff: !!m?.cameraOff, hasAudio: !!m?.audio, hasVideo: !!m?.camera, opening: !!m && !mediaReady,
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
    const message = `Cannot switch the ${kind === 'audio' ? 'microphone' : 'camera'}: ${describe(err)}`;
    if (view === 'room') room.showError(message);
    else prejoin.setStatus(message);
    devices.listDevices().then((lists) => devices.onDevices(lists));
  });
}

// ---- transport callbacks ----------------------------------------------------------------

client.onSession = (info) => {
  body.dataset.session = String(info.session);
  home.setNickname(info.nickname);
  prejoin.setNickname(info.nickname);
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
  }
  /* A new call starts before the room is drawn (tens of ms): the offers leave first. */
  const fresh = !(call && callRoom === state.room);
  let callShown = () => {};
  if (fresh) {
    endCall({ closeMedia: false });
    callShown = beginCall(state);
  }
  /* Our join was answered, or a host admitted us: the room page replaces the pre-join screen.
   * The address gets the room's key (an unlisted room opened just now has one only since its
   * answer), so that it is the invite link, and a reload comes straight back. */
  if (view !== 'room') {
    if (fresh && call instanceof Call && call.peers.size > 0) showRoomViewAfterAnswers(state.room, call);
    else showRoomView(state.room);
  }
  const key = state.key ?? client.joinOptions.key ?? '';
  target = { room: state.room, key, unlisted: !!key };
  replaceRoomState(state.room, key);
  document.title = `${state.room} · Noom`;
  /* The first write to the tab's storage can cost a few ms: after the call's signals. */
  afterSignals(() => {
    if (wantRoom === state.room) rememberRoom(state.room, key);
  });
  room.setInvite(roomUrl(state.room, key));
  joinedAt = Date.now();
  room.setState(state, client.session, client.nickname);
  if (fresh) {
    /* Our own tile's video and its audio meter can wait for the answers to our offers. */
    afterSignals(callShown);
  } else if (call) {
    /* A resync: connections to members who are gone meanwhile are closed. */
    for (const session of Array.from(call.peers.keys())) {
      if (!room.members.has(session)) call.remove(session);
    }
  }
};

client.onWelcome = (data) => {
  if (data.session === client.session && room.members.has(data.session)) {
    return; /* ourselves again (another request re-joined): nothing new to say */
  }
  room.memberJoined(data.session, data.nickname, data.count, !!data.host);
  /* Past the mesh size the call may move onto the SFU, where everyone is in it. */
  if (inCall) followSfu();
  else if (lastCallConfig?.sfu_available) retryCall();
};

client.onBye = (data) => {
  room.memberLeft(data.session, data.nickname, data.count, data.reason);
  call?.remove(data.session);
  if (!inCall) retryCall();
};

client.onMessage = (msg) => room.addMessage(msg);

client.onHand = (data) => room.setHand(data.session, data.raised, data.at);

client.onReaction = (data) => room.showReaction(data.session, data.emoji);

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

client.onHost = (data) => {
  room.setHost(data.session, data.nickname, data.reason);
  /* Who waits to be admitted is in a host's room state only: load it. */
  if (data.session === client.session) client.fetchRoom().catch(() => {});
};

client.onRoomSettings = (data) => room.setSettings(data.settings);

client.onWaiting = (data) => room.addWaiting(data.session, data.nickname);

client.onWaitingDone = (data) => room.removeWaiting(data.session);

client.onMuteRequest = (data) => {
  if (data.by === client.session) return; /* "mute everyone" spares the host who asked */
  /* The same path as the mute button: the track is disabled and the room told; the user may
   * unmute (a peer-to-peer call cannot force a remote track off anyway). */
  media?.setMuted(true);
  notice.show('The host muted your microphone. You can unmute when you want to speak.', 'muted');
};

client.onJoinDenied = (data) => {
  if (view !== 'waiting' || data.room !== wantRoom) return;
  wantRoom = null; /* nothing to leave */
  showHome({ replace: true });
  notice.show(data.reason === 'ended' ? 'The meeting has ended.' : 'The host denied your request to join.', 'denied');
};

client.onRoomJoined = (data) => {
  /* A host admitted us: the room's state follows (GET api/room) and shows the room. */
  if (view === 'waiting' && data.room === wantRoom) return;
  /* Another request of this session (a duplicated tab) moved it: follow. */
  enterRoomView(data.room);
};

client.onRoomLeft = (data) => {
  if (data.room !== wantRoom) return;
  if (data.reason === 'removed' || data.reason === 'ended' || data.reason === 'closed') {
    wantRoom = null; /* nothing to leave */
    showHome({ replace: true });
    notice.show(data.reason === 'removed' ? 'You were removed by the host.' :
      data.reason === 'ended' ? 'The host ended the meeting.' : 'The meeting was closed by the administrator.',
    data.reason === 'closed' ? 'ended' : data.reason);
    return;
  }
  if (data.reason === 'switch') return; /* a room_joined follows */
  if (data.reason === 'timeout' || Date.now() - joinedAt < STALE_LEAVE_MS) {
    /* We are alive (the tab slept, or the previous page's beacon arrived late): back in.
     * The others closed their connections to us: the call starts over after the join. */
    room.addNotice('Reconnected', 'info');
    endCall({ closeMedia: false });
    serial(() => client.join(data.room, client.joinOptions)).catch(() => showHome({ replace: true }));
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
  history.pushState({ view: 'room', room: name, key: '' }, '', roomUrl(name));
  visit++;
  target = { room: name, key: '', unlisted: false };
  wantRoom = name;
  showRoomView(name);
}

// ---- start ------------------------------------------------------------------------------

async function main() {
  /** @type {{view: 'home'} | {view: 'room', room: string, key: string}} */
  let initial = route();
  if (body.dataset.view === 'room' && body.dataset.room) {
    initial = { view: 'room', room: body.dataset.room, key: initial.view === 'room' ? initial.key : '' };
  } else if (body.dataset.view === 'home') {
    initial = { view: 'home' };
  }

  if (initial.view === 'room') {
    history.replaceState({ view: 'room', room: initial.room, key: initial.key }, '', location.href);
    openRoom({ room: initial.room, key: initial.key, unlisted: false });
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
  prejoin.setNickname(info.nickname);
  room.setSelfNickname(info.nickname);
  client.startPolling();
  markReady();
  body.dataset.ready = 'true';

  if (initial.view !== 'room') {
    history.replaceState({ view: 'home' }, '', location.href);
    if (info.room) serial(() => client.leave()).catch(() => {});
    if (client.rooms.length === 0) refreshRooms();
  } else if (view === 'prejoin' && info.room !== null) {
    /* The server still has this session in a room (the last page's leave got lost): it is out
     * of it until it joins through this screen. */
    serial(() => client.leave()).catch(() => {});
  }
}

main();
