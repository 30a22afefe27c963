// Noom API: the HTTP side of a session (docs/API.md). The fetch wrapper (ApiError, retries of
// idempotent writes), the session token (created, restored from storage, adopted after a
// renewal) and the shapes of the answers. No DOM access, no events: transport.js puts this
// together with the event transports and the event filter.
//
// - A write keeps its body across retries (network error, 5xx, 429), so a message keeps its
//   client_id and the server stores it exactly once.
// - Every call says which transport carries the events (X-Noom-Transport), for the server's
//   log: the client sets `transport` whenever that changes.
// - 401 means the token expired or the server forgot it: the request asks its owner to renew
//   the session (onUnauthorized) and is repeated once with the new token.

/**
 * @typedef {{session: number, nickname: string, audio?: boolean, video?: boolean,
 *            screen?: boolean, host?: boolean, hand?: number}} Member  hand: when it was
 *            raised (ms since the epoch), 0 when down
 * @typedef {{name: string, count: number}} RoomInfo
 * @typedef {{id: number, room: string, session: number, nickname: string, text: string,
 *            ts: number, client_id: string, private?: boolean, to?: number,
 *            to_nickname?: string}} ChatMessage  private: addressed to one member (`to`), seen
 *            by the two only
 * @typedef {{session: number, nickname: string, at: number}} RaisedHand  at: ms since the epoch
 * @typedef {{unlisted: boolean, locked: boolean, password: boolean,
 *            waiting_room: boolean}} RoomSettings  password: whether the room has one
 * @typedef {{session: number, nickname: string}} Waiting  a joiner waiting to be admitted
 * @typedef {{room: string, count: number, members: Member[], history: ChatMessage[],
 *            cursor: number, nickname?: string, key?: string, unlisted?: boolean,
 *            host?: boolean, settings?: RoomSettings, waiting?: Waiting[],
 *            hands?: RaisedHand[], call?: CallConfig}} RoomState  hands: the raised hands,
 *            earliest first; call: the call configuration (a join answer: the call starts
 *            without GET api/call)
 *            nickname: the one this session has in the room (a join answer; "Ann (2)" when
 *            another member is called Ann); key: an unlisted room's key (join answer); host:
 *            this session is a host; waiting: who waits to be admitted (a host's answer only)
 * @typedef {{room: string, waiting: true, cursor: number}} WaitingAnswer  a join answered 202:
 *            the room has a waiting room, a host admits (room_joined) or denies (join_denied)
 * @typedef {{unlisted?: boolean, key?: string, password?: string}} JoinOptions  unlisted: open
 *            a new unlisted room (the answer has its key); key: enter the unlisted room of that
 *            name and key; password: the room's password, when it has one
 * @typedef {'offer'|'answer'|'candidate'|'hangup'} SignalKind
 * @typedef {{audio: boolean, video: boolean, screen: boolean}} MediaState
 * @typedef {{iceServers: RTCIceServer[], iceTransportPolicy: RTCIceTransportPolicy,
 *            ttl: number, mesh_max: number, in_call: boolean, mode: 'mesh'|'sfu',
 *            sfu_available: boolean, sfu?: SfuConfig}} CallConfig
 * @typedef {{path: string, room: number, feed: number, screen: number, token: string, join: string}} SfuConfig
 *            a call on Janus (sfu.js): its API under the prefix, the VideoRoom, our feed id
 *            (camera and microphone) and our screen share's, the Janus session token and the join token naming the room
 * @typedef {{session: number, nickname: string, renewed: boolean}} SessionInfo
 * @typedef {{id: number, ts: number, duplicate: boolean, client_id: string}} SendResult
 * @typedef {{token: string, session: number, nickname: string, cursor: number}} NewSession
 *
 * @typedef {object} StorageLike
 * @property {(key: string) => string|null} getItem
 * @property {(key: string, value: string) => void} setItem
 * @property {(key: string) => void} removeItem
 *
 * @typedef {object} ApiOptions
 * @property {string} apiBase  absolute URL of the API folder, ending in "/" (".../api/")
 * @property {StorageLike} [storage]  where the token lives (sessionStorage: one per tab)
 * @property {typeof fetch} [fetch]
 * @property {(url: string, data: Blob) => boolean} [sendBeacon]
 */

const STORAGE_KEY = 'noom.session';
/* The values of X-Noom-Transport the server knows (docs/API.md, Authentication). */
const TRANSPORTS = new Set(['websocket', 'stream', 'polling']);
export const BACKOFF_MIN_MS = 250;
export const BACKOFF_MAX_MS = 5000;
/* Attempts for a write that fails with a network error or 5xx (about 15 s of backoff). */
const WRITE_ATTEMPTS = 7;

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
export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A client_id for one chat message: 24 random hex characters. */
export function newClientId() {
  const bytes = new Uint8Array(12);
  globalThis.crypto.getRandomValues(bytes);
  return 'c-' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** The HTTP API of one session: its token and the requests made with it. */
export class Api {
  /** @param {ApiOptions} options */
  constructor(options) {
    this.apiBase = options.apiBase;
    /** @type {StorageLike|null} */
    this.storage = options.storage ?? globalThis.sessionStorage ?? null;
    this.fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this._sendBeacon = options.sendBeacon ??
      (globalThis.navigator?.sendBeacon ? globalThis.navigator.sendBeacon.bind(globalThis.navigator) : null);

    /** The transport carrying events, told to the server on every call ('' before one is
     * live). @type {string} */
    this.transport = '';
    /** @type {string|null} */ this.token = null;
    /** @type {number|null} */ this.session = null;
    this.nickname = '';
    /* Bumped whenever the session changes, so an answer for an old token is ignored. */
    this.generation = 0;
    /** Renews the session after a 401 (set by the owner). @type {() => Promise<void>} */
    this.onUnauthorized = () => Promise.reject(new ApiError(401, 'unauthorized', 'The session has expired.'));
  }

  // ---- session --------------------------------------------------------------------------

  /**
   * Takes the token kept in storage, if there is one, as the current one (it may have expired:
   * loadSession() tells).
   * @returns {boolean}
   */
  useSaved() {
    const saved = this._loadSaved();
    if (saved) this.token = saved.token;
    return !!saved;
  }

  /**
   * Asks the server who the current token is (GET api/session, a 401 does not renew).
   * @returns {Promise<{room: string|null}>}  the room the server says the session is in
   */
  async loadSession() {
    const info = await this.request('GET', 'session', undefined, { renew: false });
    this.session = info.session;
    this.nickname = info.nickname;
    this._save();
    return { room: info.room };
  }

  /**
   * Creates a new session (POST api/session) and makes it the current one.
   * @param {string} [nickname]
   * @returns {Promise<NewSession>}
   */
  async newSession(nickname) {
    const body = nickname ? { nickname } : {};
    const res = await this.request('POST', 'session', body, { auth: false });
    this.generation++;
    this.token = res.token;
    this.session = res.session;
    this.nickname = res.nickname;
    this._save();
    return res;
  }

  /** @param {string} nickname  the nickname the server stored */
  setNickname(nickname) {
    this.nickname = nickname;
    this._save();
  }

  // ---- requests -------------------------------------------------------------------------

  /**
   * A write call: retried on network failure, 5xx and 429 with the same body, so it must be
   * idempotent (join, rename, leave are; messages carry a client_id).
   * @param {string} method
   * @param {string} path
   * @param {any} body
   * @param {boolean} [renew]  whether a 401 may renew the session
   * @param {boolean} [waitOn429]  whether a 429 is waited out and repeated; not for a password
   *   guess, which a repeat would only keep refused for longer
   */
  async write(method, path, body, renew = true, waitOn429 = true) {
    let delay = BACKOFF_MIN_MS;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.request(method, path, body, { renew });
      } catch (err) {
        if (!(err instanceof ApiError) || attempt >= WRITE_ATTEMPTS) throw err;
        if (err.status === 429 && waitOn429) {
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
  async request(method, path, body, opts = {}) {
    const auth = opts.auth ?? true;
    const renew = opts.renew ?? true;
    /** @type {Record<string, string>} */
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (auth && this.token) headers.Authorization = 'Bearer ' + this.token;
    if (TRANSPORTS.has(this.transport)) headers['X-Noom-Transport'] = this.transport;
    const generation = this.generation;
    let res;
    try {
      res = await this.fetch(this.apiBase + path, {
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
      if (generation === this.generation) await this.onUnauthorized();
      return this.request(method, path, body, { auth, renew: false });
    }
    const code = data?.error ?? (res.status >= 500 ? 'unavailable' : 'http_' + res.status);
    const message = data?.message ?? `The server answered ${res.status}.`;
    if (res.status === 429 && data) {
      const after = Number(res.headers.get('Retry-After'));
      if (Number.isFinite(after)) data.retry_after = after;
    }
    throw new ApiError(res.status, code, message, data);
  }

  /**
   * POSTs from a closing page: navigator.sendBeacon with the token in the body, since a beacon
   * cannot carry an Authorization header. Falls back to a keepalive fetch.
   * @param {string} path  relative to apiBase
   * @returns {boolean} whether the request was queued
   */
  beacon(path) {
    if (!this.token) return false;
    const url = this.apiBase + path;
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
      this.fetch(url, {
        method: 'POST', body, keepalive: true,
        headers: { 'Content-Type': 'application/json' },
      }).catch(() => {});
      return true;
    } catch {
      return false;
    }
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
