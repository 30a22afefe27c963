// Noom transport: the session, the HTTP API and the long-poll mailbox (docs/API.md).
//
// No DOM access here. The UI modules register typed on* callbacks and call the async methods;
// everything the server says arrives through those callbacks, in event order.
//
// Invariants this module keeps, so the UI does not have to:
// - The poll cursor only moves forward after the events of an answer have been dispatched. A lost
//   answer (network error, 502, 504, client-side timeout) is retried with the SAME cursor, with
//   a backoff of 250 ms doubling to 5 s; the server then re-sends the same events.
// - While a request that returns room state (join, GET api/room) is in flight, events are held
//   back. When its answer arrives, onRoomState() gets the snapshot first, then the held events
//   are dispatched, minus those already contained in the snapshot (seq <= its cursor). So the
//   UI applies every event exactly once on top of the state it rendered.
// - Room events (welcome, bye, new_message, nickname) are only dispatched for the room this
//   session is in; stale ones for a room we already left are dropped.
// - A `media` event (it names no room) is dispatched only while this session is in a room and
//   only when it is newer than the room snapshot, like the room events. `signal` events are
//   addressed to this session and always dispatched (the call module drops those it cannot use).
// - The public room list goes out through onRoomList() only when it is newer than the last
//   list sent (from GET api/rooms or from room_change events).
// - Events arrive over one of two transports with the same answers ({cursor, events} or
//   {resync, cursor}): a WebSocket to the gateway (PREFIX/ws) when the network lets one
//   through, else long-polling. The client tries the WebSocket first; when the upgrade fails or
//   no frame arrives within WS_FALLBACK_MS it long-polls, and keeps trying the WebSocket in the
//   background (WS_RETRY_MIN_MS doubling to WS_RETRY_MAX_MS). Every switch starts the new
//   transport at this.cursor, and an event whose seq is not above the cursor is never
//   dispatched again, so answers that overlap around a switch cannot duplicate anything and the
//   cursor-based resume cannot lose anything. Writes always go over HTTP.
// - A message keeps its client_id across retries (network error, 5xx, 429), so the server
//   stores it exactly once.
// - 401 means the token expired or the server forgot it: a new session is created with the same
//   nickname, the room (if any) is joined again, and the failed call is repeated once.

/**
 * @typedef {{session: number, nickname: string, audio?: boolean, video?: boolean,
 *            screen?: boolean}} Member
 * @typedef {{name: string, count: number}} RoomInfo
 * @typedef {{id: number, room: string, session: number, nickname: string, text: string,
 *            ts: number, client_id: string}} ChatMessage
 * @typedef {{room: string, count: number, members: Member[], history: ChatMessage[],
 *            cursor: number}} RoomState
 * @typedef {{room: string, session: number, nickname: string, count: number}} WelcomeData
 * @typedef {{room: string, session: number, nickname: string, count: number,
 *            reason: string}} ByeData
 * @typedef {{room: string, session: number, old: string, nickname: string}} NicknameData
 * @typedef {{rooms: RoomInfo[]}} RoomChangeData
 * @typedef {{room: string}} RoomJoinedData
 * @typedef {{room: string, reason: string}} RoomLeftData
 * @typedef {'offer'|'answer'|'candidate'|'hangup'} SignalKind
 * @typedef {{from: number, nickname: string, kind: SignalKind, data: any}} SignalData
 * @typedef {{audio: boolean, video: boolean, screen: boolean}} MediaState
 * @typedef {MediaState & {session: number}} MediaData
 * @typedef {{iceServers: RTCIceServer[], iceTransportPolicy: RTCIceTransportPolicy,
 *            ttl: number, mesh_max: number, in_call: boolean}} CallConfig
 * @typedef {{seq: number, type: string, data: any}} NoomEvent
 * @typedef {{session: number, nickname: string, renewed: boolean}} SessionInfo
 * @typedef {{id: number, ts: number, duplicate: boolean, client_id: string}} SendResult
 * @typedef {'online'|'offline'} ConnectionState
 *
 * @typedef {object} StorageLike
 * @property {(key: string) => string|null} getItem
 * @property {(key: string, value: string) => void} setItem
 * @property {(key: string) => void} removeItem
 *
 * @typedef {object} ClientOptions
 * @property {string} apiBase  absolute URL of the API folder, ending in "/" (".../api/")
 * @property {StorageLike} [storage]  where the token lives (sessionStorage: one per tab)
 * @property {typeof fetch} [fetch]
 * @property {(url: string, data: Blob) => boolean} [sendBeacon]
 * @property {string} [wsUrl]  ws: or wss: URL of the gateway; none: long-polling only
 * @property {TransportMode} [transport]  'auto' (default), or force one transport
 *
 * @typedef {'auto'|'websocket'|'polling'} TransportMode
 * @typedef {'websocket'|'polling'|'connecting'} TransportName
 */

const STORAGE_KEY = 'noom.session';
const BACKOFF_MIN_MS = 250;
const BACKOFF_MAX_MS = 5000;
/* The server answers a poll within 25 s; past this the connection is presumed dead. */
const POLL_ABORT_MS = 45000;
/* Attempts for a write that fails with a network error or 5xx (about 15 s of backoff). */
const WRITE_ATTEMPTS = 7;

/* The WebSocket must deliver its first frame within this, else long-polling takes over. */
const WS_FALLBACK_MS = 3000;
/* While long-polling, the WebSocket is tried again after this, doubling up to the maximum. */
const WS_RETRY_MIN_MS = 10000;
const WS_RETRY_MAX_MS = 120000;
/* The gateway sends an answer (empty if need be) at least every 25 s; silence past this means
 * the connection is dead even if the browser has not noticed. */
const WS_SILENCE_MS = 45000;

const ROOM_EVENTS = new Set(['welcome', 'bye', 'new_message', 'nickname']);

/** An error answer of the API (or a network failure, status 0). */
export class ApiError extends Error {
  /**
   * @param {number} status  HTTP status, 0 for a network failure
   * @param {string} code  the "error" field ("network" for a network failure)
   * @param {string} message
   * @param {any} [body]
   */
  constructor(status, code, message, body) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.body = body;
  }

  /** Whether repeating the same request may succeed (network failure, 5xx). */
  get retryable() {
    return this.status === 0 || this.status >= 500;
  }
}

/** @param {number} ms */
function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A client_id for one chat message: 24 random hex characters. */
export function newClientId() {
  const bytes = new Uint8Array(12);
  globalThis.crypto.getRandomValues(bytes);
  return 'c-' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** One Noom session: API calls plus the poll loop. */
export class NoomClient {
  /** @param {ClientOptions} options */
  constructor(options) {
    this.apiBase = options.apiBase;
    /** @type {StorageLike|null} */
    this.storage = options.storage ?? globalThis.sessionStorage ?? null;
    this._fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this._sendBeacon = options.sendBeacon ??
      (globalThis.navigator?.sendBeacon ? globalThis.navigator.sendBeacon.bind(globalThis.navigator) : null);

    /** @type {string|null} */ this.token = null;
    /** @type {number|null} */ this.session = null;
    this.nickname = '';
    /** The room this session is in, or is joining; null on the home page. @type {string|null} */
    this.room = null;
    /** Last event sequence number processed. */
    this.cursor = 0;
    /** Public room list, newest known. @type {RoomInfo[]} */
    this.rooms = [];

    /* Events with seq <= this are contained in the last room snapshot. */
    this._roomBaseline = 0;
    /* Sequence number the current this.rooms list is valid at (-1: none yet). */
    this._roomsSeq = -1;
    /* While > 0, events are queued instead of dispatched (see the file header). */
    this._hold = 0;
    /** @type {NoomEvent[]} */ this._held = [];
    this._running = false;
    /* Bumped whenever the session changes, so an answer for an old token is ignored. */
    this._generation = 0;
    /** @type {AbortController|null} */ this._pollAbort = null;
    /** @type {Promise<void>|null} */ this._renewing = null;
    /** @type {ConnectionState} */ this.connection = 'online';

    this.wsUrl = options.wsUrl ?? null;
    /** @type {TransportMode} */
    this.transportMode = options.transport ?? 'auto';
    /** Which transport carries events now. @type {TransportName} */
    this.transport = 'connecting';
    /** @type {WebSocket|null} */ this._ws = null;
    /** Whether the long-poll loop is running. */
    this._polling = false;
    this._wsRetryMs = WS_RETRY_MIN_MS;
    /** @type {ReturnType<typeof setTimeout>|null} */ this._wsRetryTimer = null;
    /** Answers are consumed one after another (a resync in one holds the next). @type {Promise<void>} */
    this._inbox = Promise.resolve();

    /* Callbacks. Each is optional; replace them after construction. */
    /** Every event, after filtering, before the typed callback. @type {(ev: NoomEvent) => void} */
    this.onEvent = () => {};
    /** @type {(data: WelcomeData, ev: NoomEvent) => void} */ this.onWelcome = () => {};
    /** @type {(data: ByeData, ev: NoomEvent) => void} */ this.onBye = () => {};
    /** @type {(data: ChatMessage, ev: NoomEvent) => void} */ this.onMessage = () => {};
    /** @type {(data: NicknameData, ev: NoomEvent) => void} */ this.onNickname = () => {};
    /** @type {(rooms: RoomInfo[]) => void} */ this.onRoomList = () => {};
    /** Another request of this session entered a room. @type {(data: RoomJoinedData, ev: NoomEvent) => void} */
    this.onRoomJoined = () => {};
    /** This session left its room (timeout, another tab, ...). @type {(data: RoomLeftData, ev: NoomEvent) => void} */
    this.onRoomLeft = () => {};
    /** A snapshot of the current room (join, resync, renewed session); null: in no room. @type {(state: RoomState|null) => void} */
    this.onRoomState = () => {};
    /** The server no longer had our cursor; state was reloaded (onRoomState/onRoomList called). @type {() => void} */
    this.onResync = () => {};
    /** A session was created or restored (renewed: the old token had expired). @type {(info: SessionInfo) => void} */
    this.onSession = () => {};
    /** The poll loop lost or regained the server. @type {(state: ConnectionState, retryInMs: number) => void} */
    this.onConnection = () => {};
    /** WebRTC signaling addressed to this session. @type {(data: SignalData, ev: NoomEvent) => void} */
    this.onSignal = () => {};
    /** A member of the room changed microphone / camera / screen state. @type {(data: MediaData, ev: NoomEvent) => void} */
    this.onMedia = () => {};
    /** The transport carrying events changed. @type {(transport: TransportName) => void} */
    this.onTransport = () => {};
  }

  // ---- session --------------------------------------------------------------------------

  /**
   * Restores the session kept in storage if the server still knows it, else creates one.
   * Returns the session and the room the server says it is in.
   * @param {string} [nickname]  for a new session
   * @returns {Promise<SessionInfo & {room: string|null}>}
   */
  async start(nickname) {
    const saved = this._loadSaved();
    if (saved) {
      this.token = saved.token;
      try {
        const info = await this._request('GET', 'session', undefined, { renew: false });
        this.session = info.session;
        this.nickname = info.nickname;
        this._save();
        /* A restored session has no cursor we can trust: start from the room list's. */
        await this.listRooms();
        this.cursor = Math.max(this.cursor, this._roomsSeq);
        this.onSession({ session: this.session ?? 0, nickname: this.nickname, renewed: false });
        return { session: this.session ?? 0, nickname: this.nickname, renewed: false, room: info.room };
      } catch (err) {
        if (!(err instanceof ApiError) || err.status !== 401) throw err;
        this.token = null;
      }
    }
    const info = await this.createSession(nickname);
    return { ...info, room: null };
  }

  /**
   * Creates a new session (POST api/session) and makes it the current one.
   * @param {string} [nickname]
   * @returns {Promise<SessionInfo>}
   */
  async createSession(nickname) {
    const body = nickname ? { nickname } : {};
    const res = await this._request('POST', 'session', body, { auth: false });
    this._generation++;
    this.token = res.token;
    this.session = res.session;
    this.nickname = res.nickname;
    this.cursor = res.cursor;
    this._roomBaseline = 0;
    this._save();
    this._restartTransport();
    const info = { session: res.session, nickname: res.nickname, renewed: false };
    this.onSession(info);
    return info;
  }

  /**
   * Changes the nickname (POST api/nickname).
   * @param {string} nickname
   * @returns {Promise<string>} the nickname the server stored
   */
  async rename(nickname) {
    const res = await this._write('POST', 'nickname', { nickname });
    this.nickname = res.nickname;
    this._save();
    return this.nickname;
  }

  // ---- rooms ----------------------------------------------------------------------------

  /**
   * Loads the public room list (GET api/rooms); also reported through onRoomList().
   * @returns {Promise<RoomInfo[]>}
   */
  async listRooms() {
    const res = await this._request('GET', 'rooms');
    this._setRooms(res.rooms, res.cursor);
    return this.rooms;
  }

  /**
   * Enters a room (POST api/join), leaving the current one. onRoomState() gets the snapshot
   * before any event that follows it.
   * @param {string} room
   * @returns {Promise<RoomState>}
   */
  async join(room) {
    return this._join(room, true);
  }

  /**
   * @param {string} room
   * @param {boolean} renew  whether a 401 may renew the session (not while renewing)
   * @returns {Promise<RoomState>}
   */
  async _join(room, renew) {
    const previous = this.room;
    this.room = room;
    this._hold++;
    try {
      const state = await this._write('POST', 'join', { room }, renew);
      this._applyRoomState(state);
      return state;
    } catch (err) {
      if (this.room === room) this.room = previous;
      throw err;
    } finally {
      this._release();
    }
  }

  /**
   * Reloads the current room (GET api/room); null when the session is in no room.
   * @returns {Promise<RoomState|null>}
   */
  async fetchRoom() {
    this._hold++;
    try {
      try {
        const state = await this._request('GET', 'room');
        this._applyRoomState(state);
        return state;
      } catch (err) {
        if (!(err instanceof ApiError) || err.code !== 'not_in_room') throw err;
        this.room = null;
        this.onRoomState(null);
        return null;
      }
    } finally {
      this._release();
    }
  }

  /** Leaves the current room (POST api/leave). */
  async leave() {
    this.room = null;
    await this._write('POST', 'leave', {});
  }

  /**
   * Leaves the current room from a closing page: navigator.sendBeacon with the token in the
   * body, since a beacon cannot carry an Authorization header. Falls back to a keepalive fetch.
   * @returns {boolean} whether the request was queued
   */
  leaveBeacon() {
    if (!this.token) return false;
    this.room = null;
    const url = this.apiBase + 'leave';
    const body = JSON.stringify({ token: this.token });
    try {
      if (this._sendBeacon &&
          this._sendBeacon(url, new Blob([body], { type: 'application/json' }))) {
        return true;
      }
    } catch {
      /* fall through to fetch */
    }
    try {
      this._fetch(url, {
        method: 'POST', body, keepalive: true,
        headers: { 'Content-Type': 'application/json' },
      }).catch(() => {});
      return true;
    } catch {
      return false;
    }
  }

  // ---- chat -----------------------------------------------------------------------------

  /**
   * Posts a chat message to the current room. The same client_id is used for every retry, so
   * the server stores it once whatever gets lost on the way.
   * @param {string} text
   * @param {string} [clientId]  to resend a message the UI already shows as pending
   * @returns {Promise<SendResult>}
   */
  async send(text, clientId = newClientId()) {
    const res = await this._write('POST', 'messages', { text, client_id: clientId });
    return { id: res.id, ts: res.ts, duplicate: !!res.duplicate, client_id: clientId };
  }

  // ---- call -----------------------------------------------------------------------------

  /**
   * The call configuration for the current room (GET api/call): ICE servers with fresh TURN
   * credentials, the mesh size, and whether this session is in the call or chat-only.
   * @returns {Promise<CallConfig>}
   */
  async callConfig() {
    const res = await this._request('GET', 'call');
    return {
      iceServers: Array.isArray(res.iceServers) ? res.iceServers : [],
      /* 'relay' when the server wants media through TURN only (hides addresses, or the network
       * lets nothing else through); anything else is the browser's default. */
      iceTransportPolicy: res.iceTransportPolicy === 'relay' ? 'relay' : 'all',
      ttl: Number(res.ttl) || 0,
      mesh_max: Number(res.mesh_max) || 0,
      in_call: !!res.in_call,
    };
  }

  /**
   * Sends WebRTC signaling to another member of the call (POST api/signal). Retried like the
   * other writes; a duplicate that gets through is harmless (perfect negotiation ignores it).
   * A 401 does not renew the session here: a renewed session is a new call member anyway.
   * @param {number} to  session id
   * @param {SignalKind} kind
   * @param {any} [data]
   * @returns {Promise<void>}
   */
  async signal(to, kind, data) {
    /** @type {{to: number, kind: SignalKind, data?: any}} */
    const body = { to, kind };
    if (data !== undefined && data !== null) body.data = data;
    await this._write('POST', 'signal', body, false);
  }

  /**
   * Publishes this session's media state to its room (POST api/media).
   * @param {Partial<MediaState>} state
   * @returns {Promise<MediaState>}
   */
  async setMedia(state) {
    const res = await this._write('POST', 'media', state);
    return { audio: !!res.audio, video: !!res.video, screen: !!res.screen };
  }

  // ---- poll loop ------------------------------------------------------------------------

  /** Starts receiving events (once): WebSocket first where allowed, else long-polling. */
  startPolling() {
    if (this._running) return;
    this._running = true;
    if (this._wsAllowed()) this._openWebSocket();
    else this._startLongPoll();
  }

  /** Stops receiving events; an outstanding poll is aborted, the WebSocket closed. */
  stopPolling() {
    this._running = false;
    this._pollAbort?.abort();
    if (this._wsRetryTimer) clearTimeout(this._wsRetryTimer);
    this._wsRetryTimer = null;
    this._closeWebSocket();
  }

  _wsAllowed() {
    return this.transportMode !== 'polling' && !!this.wsUrl && typeof globalThis.WebSocket === 'function';
  }

  /** @param {TransportName} name */
  _setTransport(name) {
    if (this.transport === name) return;
    this.transport = name;
    try {
      this.onTransport(name);
    } catch (err) {
      console.error('noom: onTransport failed', err);
    }
  }

  /**
   * Applies one answer of either transport: dispatches the events past the cursor, in order,
   * then moves the cursor. Answers are applied one after another.
   * @param {any} body
   * @returns {Promise<void>}
   */
  _consume(body) {
    const generation = this._generation;
    this._inbox = this._inbox.then(async () => {
      if (generation !== this._generation || !this._running) return;
      if (body.resync) {
        this.cursor = body.cursor;
        await this._resync();
        return;
      }
      for (const ev of body.events || []) {
        if (typeof ev.seq !== 'number' || ev.seq <= this.cursor) continue; /* seen already */
        this._dispatch(ev);
        this.cursor = ev.seq;
      }
      this.cursor = Math.max(this.cursor, body.cursor);
    }).catch((err) => console.error('noom: cannot apply events', err));
    return this._inbox;
  }

  // ---- long-polling ---------------------------------------------------------------------

  _startLongPoll() {
    if (this._polling || !this._running) return;
    this._polling = true;
    this._setTransport('polling');
    this._pollLoop().finally(() => {
      this._polling = false;
    });
  }

  /* Runs while no WebSocket carries the events. */
  async _pollLoop() {
    let backoff = BACKOFF_MIN_MS;
    while (this._running && this.transport === 'polling') {
      const generation = this._generation;
      const cursor = this.cursor;
      const abort = new AbortController();
      this._pollAbort = abort;
      const timer = setTimeout(() => abort.abort(), POLL_ABORT_MS);
      /** @type {any} */
      let body;
      let status = 0;
      try {
        const res = await this._fetch(this.apiBase + 'poll?cursor=' + cursor, {
          method: 'GET',
          headers: { Authorization: 'Bearer ' + this.token, Accept: 'application/json' },
          cache: 'no-store',
          signal: abort.signal,
        });
        status = res.status;
        body = await res.json().catch(() => null);
      } catch {
        status = 0;
      } finally {
        clearTimeout(timer);
      }
      if (!this._running || this.transport !== 'polling') break;
      if (generation !== this._generation) {
        /* The session changed while this poll was out: its answer is for the old token. */
        continue;
      }
      if (status === 200 && body && typeof body.cursor === 'number') {
        if (backoff !== BACKOFF_MIN_MS || this.connection !== 'online') this._setConnection('online', 0);
        backoff = BACKOFF_MIN_MS;
        await this._consume(body);
        continue;
      }
      if (status === 401) {
        try {
          await this._renew();
          continue;
        } catch {
          /* server unreachable while renewing: back off below */
        }
      } else if (status === 400 && body && body.error === 'bad_cursor') {
        /* Cannot happen with our own cursors; recover like a resync from the list's cursor. */
        await this._resync().catch(() => {});
        continue;
      }
      this._setConnection('offline', backoff);
      await sleep(backoff);
      backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
    }
  }

  // ---- WebSocket ------------------------------------------------------------------------

  /*
   * Opens the WebSocket and, once its first frame has arrived, makes it the transport (the
   * long-poll loop ends at its next answer or is aborted). A socket that fails before its first
   * frame (upgrade refused or stripped by a proxy, nothing arriving within WS_FALLBACK_MS)
   * leaves or puts long-polling in charge and schedules another try. A socket that dies after
   * working hands over to long-polling at once, from the cursor.
   */
  _openWebSocket() {
    if (!this._running || this._ws || !this.wsUrl) return;
    const generation = this._generation;
    /** @type {WebSocket} */
    let ws;
    try {
      ws = new WebSocket(this.wsUrl);
    } catch {
      this._wsFailed();
      return;
    }
    this._ws = ws;
    let live = false;
    /** @type {ReturnType<typeof setTimeout>|null} */
    let silence = null;
    const arm = (/** @type {number} */ ms) => {
      if (silence) clearTimeout(silence);
      silence = setTimeout(() => {
        if (this._ws === ws) ws.close(4000, live ? 'silent' : 'no first frame');
        drop();
      }, ms);
    };
    const drop = () => {
      if (silence) clearTimeout(silence);
      silence = null;
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      if (this._ws !== ws) return;
      this._ws = null;
      if (!this._running) return;
      if (live && generation === this._generation) {
        /* It worked until now: long-polling continues from the cursor while we try again. */
        this._wsRetryMs = WS_RETRY_MIN_MS;
      }
      this._wsFailed();
    };
    arm(WS_FALLBACK_MS);
    ws.onopen = () => {
      /* The token goes in the first frame, never in the URL (URLs end up in logs). */
      ws.send(JSON.stringify({ token: this.token, cursor: this.cursor }));
    };
    ws.onmessage = (e) => {
      /** @type {any} */
      let body = null;
      try {
        body = JSON.parse(String(e.data));
      } catch {
        /* not ours: ignore */
      }
      if (!body || typeof body.cursor !== 'number' || generation !== this._generation) return;
      arm(WS_SILENCE_MS);
      if (!live) {
        live = true;
        this._wsRetryMs = WS_RETRY_MIN_MS;
        this._setTransport('websocket');
        this._pollAbort?.abort();
        this._setConnection('online', 0);
      }
      this._consume(body);
    };
    ws.onclose = (e) => {
      if (e.code === 4401 && this._ws === ws && this._running) {
        /* The gateway refused our token: renew the session, then try again at once. */
        ws.onclose = null;
        this._ws = null;
        if (silence) clearTimeout(silence);
        this._startLongPoll();
        this._renew().then(() => this._openWebSocket(), () => this._wsFailed());
        return;
      }
      drop();
    };
    ws.onerror = () => {
      /* onclose follows and decides */
    };
  }

  /* The WebSocket is not (or no longer) usable: long-poll, and try it again later. */
  _wsFailed() {
    if (!this._running) return;
    if (this.transportMode !== 'websocket') this._startLongPoll();
    else this._setConnection('offline', this._wsRetryMs);
    if (this._wsRetryTimer) return;
    /* Forced WebSocket: retry soon; otherwise slowly, long-polling works meanwhile. */
    const delay = this.transportMode === 'websocket' ? BACKOFF_MAX_MS : this._wsRetryMs;
    this._wsRetryMs = Math.min(this._wsRetryMs * 2, WS_RETRY_MAX_MS);
    this._wsRetryTimer = setTimeout(() => {
      this._wsRetryTimer = null;
      this._openWebSocket();
    }, delay);
  }

  /* The token changed: what is out for the old one is dropped, events resume from the new
   * cursor (a socket speaks for one token, so a new one is opened). */
  _restartTransport() {
    this._pollAbort?.abort();
    if (!this._ws) return;
    this._closeWebSocket();
    this._startLongPoll();
    this._openWebSocket();
  }

  _closeWebSocket() {
    const ws = this._ws;
    if (!ws) return;
    this._ws = null;
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    try {
      ws.close(1000, 'bye');
    } catch {
      /* already closing */
    }
  }

  /* Reloads room state and room list after the server dropped our cursor. */
  async _resync() {
    try {
      await this.listRooms();
      if (this.room !== null) await this.fetchRoom();
    } finally {
      this.onResync();
    }
  }

  // ---- event dispatch -------------------------------------------------------------------

  /** @param {NoomEvent} ev */
  _dispatch(ev) {
    if (this._hold > 0) {
      this._held.push(ev);
      return;
    }
    const data = ev.data || {};
    if (ROOM_EVENTS.has(ev.type)) {
      if (ev.seq <= this._roomBaseline || data.room !== this.room) return;
    } else if (ev.type === 'room_joined' || ev.type === 'room_left') {
      if (ev.seq <= this._roomBaseline) return;
    } else if (ev.type === 'media') {
      if (ev.seq <= this._roomBaseline || this.room === null) return;
    }
    try {
      this.onEvent(ev);
      switch (ev.type) {
      case 'welcome': this.onWelcome(data, ev); break;
      case 'bye': this.onBye(data, ev); break;
      case 'new_message': this.onMessage(data, ev); break;
      case 'nickname':
        if (data.session === this.session) this.nickname = data.nickname;
        this.onNickname(data, ev);
        break;
      case 'room_change': this._setRooms(data.rooms || [], ev.seq); break;
      case 'signal': this.onSignal(data, ev); break;
      case 'media': this.onMedia(data, ev); break;
      case 'room_joined':
        if (data.room !== this.room) {
          /* Another request moved this session: load the room, holding its events back. */
          this.room = data.room;
          this.onRoomJoined(data, ev);
          this.fetchRoom().catch((err) => console.error('noom: cannot load room', err));
        }
        break;
      case 'room_left':
        if (data.room === this.room) {
          this.room = null;
          this.onRoomLeft(data, ev);
        }
        break;
      default: break; /* unknown types are for newer clients */
      }
    } catch (err) {
      /* A UI bug must not stop the mailbox. */
      console.error('noom: event handler failed', ev, err);
    }
  }

  _release() {
    this._hold--;
    if (this._hold > 0) return;
    const held = this._held;
    this._held = [];
    for (const ev of held) this._dispatch(ev);
  }

  /** @param {RoomState} state */
  _applyRoomState(state) {
    this.room = state.room;
    this._roomBaseline = Math.max(this._roomBaseline, state.cursor);
    this.onRoomState(state);
  }

  /**
   * @param {RoomInfo[]} rooms
   * @param {number} seq  the sequence number the list is valid at
   */
  _setRooms(rooms, seq) {
    if (seq < this._roomsSeq) return;
    this._roomsSeq = seq;
    this.rooms = rooms;
    try {
      this.onRoomList(rooms);
    } catch (err) {
      console.error('noom: onRoomList failed', err);
    }
  }

  /**
   * @param {ConnectionState} state
   * @param {number} retryInMs
   */
  _setConnection(state, retryInMs) {
    this.connection = state;
    try {
      this.onConnection(state, retryInMs);
    } catch (err) {
      console.error('noom: onConnection failed', err);
    }
  }

  // ---- HTTP -----------------------------------------------------------------------------

  /**
   * A write call: retried on network failure, 5xx and 429 with the same body, so it must be
   * idempotent (join, rename, leave are; messages carry a client_id).
   * @param {string} method
   * @param {string} path
   * @param {any} body
   * @param {boolean} [renew]  whether a 401 may renew the session
   */
  async _write(method, path, body, renew = true) {
    let delay = BACKOFF_MIN_MS;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this._request(method, path, body, { renew });
      } catch (err) {
        if (!(err instanceof ApiError) || attempt >= WRITE_ATTEMPTS) throw err;
        if (err.status === 429) {
          const seconds = Number(err.body?.retry_after ?? err.body?.retryAfter ?? 1);
          await sleep(Math.min(Math.max(seconds, 0.1) * 1000, BACKOFF_MAX_MS));
          continue;
        }
        if (!err.retryable) throw err;
        await sleep(delay);
        delay = Math.min(delay * 2, BACKOFF_MAX_MS);
      }
    }
  }

  /**
   * One API request. Throws ApiError for a network failure or an error status. A 401 renews
   * the session and repeats the request once (unless renew is false).
   * @param {string} method
   * @param {string} path  relative to apiBase
   * @param {any} [body]
   * @param {{auth?: boolean, renew?: boolean}} [opts]
   * @returns {Promise<any>}
   */
  async _request(method, path, body, opts = {}) {
    const auth = opts.auth ?? true;
    const renew = opts.renew ?? true;
    /** @type {Record<string, string>} */
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (auth && this.token) headers.Authorization = 'Bearer ' + this.token;
    const generation = this._generation;
    let res;
    try {
      res = await this._fetch(this.apiBase + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
      });
    } catch (err) {
      throw new ApiError(0, 'network', 'Cannot reach the server.', String(err));
    }
    /** @type {any} */
    const data = await res.json().catch(() => null);
    if (res.ok) return data ?? {};
    if (res.status === 401 && auth && renew) {
      /* Another call may already have renewed the session while this one was out. */
      if (generation === this._generation) await this._renew();
      return this._request(method, path, body, { auth, renew: false });
    }
    const code = data?.error ?? (res.status >= 500 ? 'unavailable' : 'http_' + res.status);
    const message = data?.message ?? `The server answered ${res.status}.`;
    if (res.status === 429 && data) {
      const after = Number(res.headers.get('Retry-After'));
      if (Number.isFinite(after)) data.retry_after = after;
    }
    throw new ApiError(res.status, code, message, data);
  }

  /* Replaces an expired session by a new one with the same nickname, back in the same room. */
  _renew() {
    if (!this._renewing) {
      this._renewing = (async () => {
        const room = this.room;
        const body = this.nickname ? { nickname: this.nickname } : {};
        const res = await this._request('POST', 'session', body, { auth: false });
        this._generation++;
        this.token = res.token;
        this.session = res.session;
        this.nickname = res.nickname;
        this.cursor = res.cursor;
        this._roomBaseline = 0;
        this._save();
        this._restartTransport();
        this.onSession({ session: res.session, nickname: res.nickname, renewed: true });
        if (room !== null) {
          this.room = null;
          /* No renewal inside the renewal: a fresh token refused twice is a server fault. */
          await this._join(room, false).catch(() => {
            this.room = null;
            this.onRoomState(null);
          });
        }
      })().finally(() => {
        this._renewing = null;
      });
    }
    return this._renewing;
  }

  // ---- storage --------------------------------------------------------------------------

  /** @returns {{token: string}|null} */
  _loadSaved() {
    try {
      const raw = this.storage?.getItem(STORAGE_KEY);
      const saved = raw ? JSON.parse(raw) : null;
      return saved && typeof saved.token === 'string' && /^[0-9a-f]{32}$/.test(saved.token) ? saved : null;
    } catch {
      return null;
    }
  }

  _save() {
    try {
      this.storage?.setItem(STORAGE_KEY, JSON.stringify({
        token: this.token, session: this.session, nickname: this.nickname,
      }));
    } catch {
      /* storage full or disabled: the session just won't survive a reload */
    }
  }
}
