// Noom client: one session as the UI sees it (docs/API.md). A facade over api.js (HTTP calls
// and the token), events.js (cursor and event filter) and the event transports
// (ws-transport.js, poll-transport.js); it routes events to typed callbacks, renews an expired
// session and picks the transport.
//
// No DOM access here. The UI modules register typed on* callbacks and call the async methods;
// everything the server says arrives through those callbacks, in event order.
//
// Invariants this module keeps, with those of events.js, so the UI does not have to:
// - While a request that returns room state (join, GET api/room) is in flight, events are held
//   back. When its answer arrives, onRoomState() gets the snapshot first, then the held events
//   are dispatched, minus those already contained in the snapshot. So the UI applies every
//   event exactly once on top of the state it rendered.
// - Events arrive over one of three transports with the same answers: a WebSocket to the
//   gateway (PREFIX/ws) when the network lets one through, else the gateway's HTTP event stream
//   (PREFIX/api/stream) when the network passes a streamed response, else long-polling. The
//   client tries them in that order, each step down within 3 s (ws-transport.js and
//   stream-transport.js say when), and tries the higher ones again in the background. Every
//   switch starts the new transport at the cursor, and events.js never dispatches an event
//   twice, so a switch can neither duplicate nor lose anything. Writes always go over HTTP.
// - 401 means the token expired or the server forgot it: a new session is created with the same
//   nickname, the room (if any) is joined again (with the key and password it was joined with),
//   and the failed call is repeated once.
// - A join the server answers with 202 leaves the session in no room, waiting for a host:
//   `waitingFor` names the room until room_joined (admitted: the room is loaded as for any move
//   into a room) or join_denied (onJoinDenied) ends the wait.

import { Api, ApiError, newClientId } from './api.js';
import { EventFilter } from './events.js';
import { PollTransport } from './poll-transport.js';
import { StreamTransport } from './stream-transport.js';
import { WsTransport } from './ws-transport.js';

export { ApiError, newClientId };

/* The types of the API and of the events, re-exported for the UI modules. */
/**
 * @typedef {import('./api.js').Member} Member
 * @typedef {import('./api.js').RoomInfo} RoomInfo
 * @typedef {import('./api.js').ChatMessage} ChatMessage
 * @typedef {import('./api.js').RoomState} RoomState
 * @typedef {import('./api.js').RoomSettings} RoomSettings
 * @typedef {import('./api.js').Waiting} Waiting
 * @typedef {import('./api.js').WaitingAnswer} WaitingAnswer
 * @typedef {import('./api.js').JoinOptions} JoinOptions
 * @typedef {import('./api.js').SignalKind} SignalKind
 * @typedef {import('./api.js').MediaState} MediaState
 * @typedef {import('./api.js').CallConfig} CallConfig
 * @typedef {import('./api.js').SessionInfo} SessionInfo
 * @typedef {import('./api.js').SendResult} SendResult
 * @typedef {import('./api.js').StorageLike} StorageLike
 * @typedef {import('./events.js').NoomEvent} NoomEvent
 * @typedef {import('./events.js').WelcomeData} WelcomeData
 * @typedef {import('./events.js').ByeData} ByeData
 * @typedef {import('./events.js').NicknameData} NicknameData
 * @typedef {import('./events.js').RoomChangeData} RoomChangeData
 * @typedef {import('./events.js').RoomJoinedData} RoomJoinedData
 * @typedef {import('./events.js').RoomLeftData} RoomLeftData
 * @typedef {import('./events.js').SignalData} SignalData
 * @typedef {import('./events.js').MediaData} MediaData
 * @typedef {import('./events.js').HostData} HostData
 * @typedef {import('./events.js').RoomSettingsData} RoomSettingsData
 * @typedef {import('./events.js').WaitingData} WaitingData
 * @typedef {import('./events.js').WaitingDoneData} WaitingDoneData
 * @typedef {import('./events.js').MuteRequestData} MuteRequestData
 * @typedef {import('./events.js').JoinDeniedData} JoinDeniedData
 * @typedef {import('./events.js').HandData} HandData
 * @typedef {import('./events.js').ReactionData} ReactionData
 * @typedef {import('./api.js').RaisedHand} RaisedHand
 * @typedef {import('./event-transport.js').EventTransport} EventTransport
 * @typedef {import('./event-transport.js').TransportHost} TransportHost
 * @typedef {'online'|'offline'} ConnectionState
 *
 * @typedef {object} ClientOptions
 * @property {string} apiBase  absolute URL of the API folder, ending in "/" (".../api/")
 * @property {StorageLike} [storage]  where the token lives (sessionStorage: one per tab)
 * @property {typeof fetch} [fetch]
 * @property {(url: string, data: Blob) => boolean} [sendBeacon]
 * @property {string} [wsUrl]  ws: or wss: URL of the gateway; none: long-polling only (the
 *   event stream is the gateway's too)
 * @property {TransportMode} [transport]  'auto' (default), or force one transport
 *
 * @typedef {'auto'|'websocket'|'stream'|'polling'} TransportMode
 * @typedef {import('./event-transport.js').EventTransportName|'connecting'} TransportName
 */

/** One Noom session: API calls plus the events. */
export class NoomClient {
  /** @param {ClientOptions} options */
  constructor(options) {
    this.api = new Api(options);
    this.api.onUnauthorized = () => this._renew();
    this.events = new EventFilter();
    this.events.onDeliver = (ev) => this._deliver(ev);
    this.events.onRoomList = (rooms) => this.onRoomList(rooms);
    this.events.onResync = () => this._resync();

    this._running = false;
    /** @type {Promise<void>|null} */ this._renewing = null;
    /** The room a 202 join waits to be admitted to, or null. @type {string|null} */
    this.waitingFor = null;
    /** How the current (or awaited) room was entered: its key and password, for a renewal. @type {JoinOptions} */
    this.joinOptions = {};
    /** @type {ConnectionState} */ this.connection = 'online';
    this.wsUrl = options.wsUrl ?? null;
    /** @type {TransportMode} */
    this.transportMode = options.transport ?? 'auto';
    /** Which transport carries events now. @type {TransportName} */
    this.transport = 'connecting';
    const host = this._host();
    this._poll = new PollTransport(host);
    const mode = this.transportMode;
    this._ws = this.wsUrl && (mode === 'auto' || mode === 'websocket') && typeof globalThis.WebSocket === 'function'
      ? new WsTransport(host, this.wsUrl, mode === 'websocket') : null;
    this._stream = this.wsUrl && (mode === 'auto' || mode === 'stream') && typeof globalThis.TextDecoderStream === 'function'
      ? new StreamTransport(host, mode === 'stream') : null;

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
    /** The event transport lost or regained the server. @type {(state: ConnectionState, retryInMs: number) => void} */
    this.onConnection = () => {};
    /** WebRTC signaling addressed to this session. @type {(data: SignalData, ev: NoomEvent) => void} */
    this.onSignal = () => {};
    /** A member of the room changed microphone / camera / screen state. @type {(data: MediaData, ev: NoomEvent) => void} */
    this.onMedia = () => {};
    /** A member of the room became a host. @type {(data: HostData, ev: NoomEvent) => void} */
    this.onHost = () => {};
    /** A host changed the room's settings. @type {(data: RoomSettingsData, ev: NoomEvent) => void} */
    this.onRoomSettings = () => {};
    /** (Hosts) someone waits to be admitted. @type {(data: WaitingData, ev: NoomEvent) => void} */
    this.onWaiting = () => {};
    /** (Hosts) a waiting joiner was admitted, denied or gave up. @type {(data: WaitingDoneData, ev: NoomEvent) => void} */
    this.onWaitingDone = () => {};
    /** A host asks this session (or everyone) to mute the microphone. @type {(data: MuteRequestData, ev: NoomEvent) => void} */
    this.onMuteRequest = () => {};
    /** The room this session waited for refused it (denied, or the meeting ended). @type {(data: JoinDeniedData, ev: NoomEvent) => void} */
    this.onJoinDenied = () => {};
    /** A member's hand went up or down. @type {(data: HandData, ev: NoomEvent) => void} */
    this.onHand = () => {};
    /** A member reacted (shown on their tile for a few seconds). @type {(data: ReactionData, ev: NoomEvent) => void} */
    this.onReaction = () => {};
    /** The transport carrying events changed. @type {(transport: TransportName) => void} */
    this.onTransport = () => {};
  }

  /** Absolute URL of the API folder, ending in "/". */
  get apiBase() { return this.api.apiBase; }
  /** @returns {string|null} */
  get token() { return this.api.token; }
  /** @returns {number|null} */
  get session() { return this.api.session; }
  get nickname() { return this.api.nickname; }
  /** Where the token lives. */
  get storage() { return this.api.storage; }
  /** Last event sequence number processed. */
  get cursor() { return this.events.cursor; }
  /** Public room list, newest known. @returns {RoomInfo[]} */
  get rooms() { return this.events.rooms; }
  /** The room this session is in, or is joining; null on the home page. @returns {string|null} */
  get room() { return this.events.room; }
  set room(room) { this.events.room = room; }

  // ---- session --------------------------------------------------------------------------

  /**
   * Restores the session kept in storage if the server still knows it, else creates one.
   * Returns the session and the room the server says it is in.
   * @param {string} [nickname]  for a new session
   * @returns {Promise<SessionInfo & {room: string|null}>}
   */
  async start(nickname) {
    if (this.api.useSaved()) {
      try {
        const { room } = await this.api.loadSession();
        /* A restored session has no cursor we can trust: start from the room list's. */
        await this.listRooms(this.events.roomsQuery);
        this.events.cursor = Math.max(this.events.cursor, this.events.roomsSeq);
        this.onSession({ session: this.session ?? 0, nickname: this.nickname, renewed: false });
        return { session: this.session ?? 0, nickname: this.nickname, renewed: false, room };
      } catch (err) {
        if (!(err instanceof ApiError) || err.status !== 401) throw err;
        this.api.token = null;
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
    const res = await this.api.newSession(nickname);
    this.events.reset(res.cursor);
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
    const res = await this.api.write('POST', 'nickname', { nickname });
    this.api.setNickname(res.nickname);
    return this.nickname;
  }

  /* Replaces an expired session by a new one with the same nickname, back in the same room. */
  _renew() {
    if (!this._renewing) {
      this._renewing = (async () => {
        const room = this.room;
        const res = await this.api.newSession(this.nickname);
        this.events.reset(res.cursor);
        this._restartTransport();
        this.onSession({ session: res.session, nickname: res.nickname, renewed: true });
        if (room !== null) {
          this.room = null;
          /* No renewal inside the renewal: a fresh token refused twice is a server fault. */
          await this._join(room, false, this.joinOptions).catch(() => {
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

  // ---- rooms ----------------------------------------------------------------------------

  /**
   * Loads the public room list (GET api/rooms): the busiest rooms first, those whose name holds
   * query if one is given, `limit` of them; also reported through onRoomList(). Room changes
   * keep it current afterwards.
   * @param {string} [query]
   * @param {number} [limit]
   * @returns {Promise<{rooms: RoomInfo[], more: boolean}>}
   */
  async listRooms(query = '', limit = 50) {
    const q = new URLSearchParams({ limit: String(limit) });
    if (query) q.set('q', query);
    const res = await this.api.request('GET', `rooms?${q}`);
    this.events.roomsQuery = query;
    this.events.roomsSeq = -1;
    this.events.setRooms(res.rooms, res.cursor);
    return { rooms: this.rooms, more: Boolean(res.more) };
  }

  /**
   * Enters a room (POST api/join), leaving the current one. onRoomState() gets the snapshot
   * before any event that follows it. A WaitingAnswer (202) means the session waits for a
   * host and is in no room meanwhile. Refusals are ApiErrors (403 room_locked,
   * password_required, wrong_password, removed; 429 rate_limited).
   * @param {string} room
   * @param {JoinOptions} [options]
   * @returns {Promise<RoomState|WaitingAnswer>}
   */
  async join(room, options = {}) {
    return this._join(room, true, options);
  }

  /**
   * @param {string} room
   * @param {boolean} renew  whether a 401 may renew the session (not while renewing)
   * @param {JoinOptions} options
   * @returns {Promise<RoomState|WaitingAnswer>}
   */
  async _join(room, renew, options) {
    const previous = this.room;
    this.room = room;
    this.waitingFor = null;
    this.events.hold();
    try {
      /** @type {{room: string} & JoinOptions} */
      const body = { room };
      if (options.unlisted && !options.key) body.unlisted = true;
      if (options.key) body.key = options.key;
      if (options.password) body.password = options.password;
      const state = await this.api.write('POST', 'join', body, renew, !body.password);
      /* The key of a room opened unlisted comes with the answer; a renewal must find the
       * same room again, never open a new one. */
      const key = state.key ?? options.key;
      this.joinOptions = { ...(key ? { key } : {}), ...(options.password ? { password: options.password } : {}) };
      /* `waiting` is true in a 202 answer, and a host's list of waiting joiners (an array, empty
       * or not) in a room state: only the first means "wait". */
      if (state.waiting === true) {
        /* Joining left the previous room: this session is in none until a host admits it. */
        this.room = null;
        this.waitingFor = state.room;
        return /** @type {WaitingAnswer} */ (state);
      }
      if (state.nickname && state.nickname !== this.nickname) {
        /* Another member has this name: the server gave us "Name (2)" in this room. */
        this.api.setNickname(state.nickname);
        this.onSession({ session: this.session ?? 0, nickname: state.nickname, renewed: false });
      }
      /* The call configuration comes with the answer: the call starts without GET api/call. */
      if (state.call) state.call = callConfigOf(state.call);
      this._applyRoomState(state);
      return state;
    } catch (err) {
      if (this.room === room) this.room = previous;
      throw err;
    } finally {
      this.events.release();
    }
  }

  /**
   * Reloads the current room (GET api/room); null when the session is in no room.
   * @returns {Promise<RoomState|null>}
   */
  async fetchRoom() {
    this.events.hold();
    try {
      try {
        const state = await this.api.request('GET', 'room');
        this._applyRoomState(state);
        return state;
      } catch (err) {
        if (!(err instanceof ApiError) || err.code !== 'not_in_room') throw err;
        this.room = null;
        this.onRoomState(null);
        return null;
      }
    } finally {
      this.events.release();
    }
  }

  /** @param {RoomState} state */
  _applyRoomState(state) {
    this.events.applyRoomState(state);
    this.onRoomState(state);
  }

  /** Leaves the current room, or stops waiting for one (POST api/leave). */
  async leave() {
    this.room = null;
    this.waitingFor = null;
    await this.api.write('POST', 'leave', {});
  }

  // ---- host actions -----------------------------------------------------------------------
  //
  // Each is refused with 403 not_host unless this session is a host of its room; what they do
  // comes back as events to the room (or to the member concerned), as for every other page.
  // Not retried: a host who sees no effect clicks again, and a repeat after a lost answer would
  // only be refused (the member is gone already).

  /**
   * Changes the room's settings (POST api/room/settings); a password of null or '' clears it.
   * @param {{locked?: boolean, waiting_room?: boolean, password?: string|null}} change
   * @returns {Promise<RoomSettings>}
   */
  async setRoomSettings(change) {
    const res = await this.api.request('POST', 'room/settings', change);
    return res.settings;
  }

  /**
   * One host action on one member or waiting joiner: make them a host, remove them, ask them
   * to mute, admit or deny them.
   * @param {'host'|'remove'|'mute'|'admit'|'deny'} action
   * @param {number} session
   */
  async moderate(action, session) {
    await this.api.request('POST', `room/${action}`, { session });
  }

  /** Asks every member but oneself to mute the microphone (POST api/room/mute, all). */
  async muteAll() {
    await this.api.request('POST', 'room/mute', { all: true });
  }

  /** Ends the meeting for everyone (POST api/room/end): members go home, the room closes. */
  async endMeeting() {
    await this.api.request('POST', 'room/end', {});
  }

  /**
   * Leaves the current room from a closing page: navigator.sendBeacon with the token in the
   * body, since a beacon cannot carry an Authorization header. Falls back to a keepalive fetch.
   * @returns {boolean} whether the request was queued
   */
  leaveBeacon() {
    if (!this.token) return false;
    this.room = null;
    this.waitingFor = null;
    return this.api.beacon('leave');
  }

  // ---- chat -----------------------------------------------------------------------------

  /**
   * Posts a chat message to the current room. The same client_id is used for every retry, so
   * the server stores it once whatever gets lost on the way.
   * @param {string} text
   * @param {string} [clientId]  to resend a message the UI already shows as pending
   * @param {number|null} [to]  a member's session: a private message to them (404 not_member
   *   when they are not in the room)
   * @returns {Promise<SendResult>}
   */
  async send(text, clientId = newClientId(), to = null) {
    /** @type {{text: string, client_id: string, to?: number}} */
    const body = { text, client_id: clientId };
    if (to !== null) body.to = to;
    const res = await this.api.write('POST', 'messages', body);
    return { id: res.id, ts: res.ts, duplicate: !!res.duplicate, client_id: clientId };
  }

  // ---- in the meeting -------------------------------------------------------------------

  /**
   * Raises or lowers one's own hand (POST api/hand); a host may lower another member's
   * (`session`; 403 not_host otherwise). Idempotent, so retried like the other writes. The
   * room's `hand` event follows.
   * @param {boolean} raised
   * @param {number|null} [session]  another member (lowering only)
   * @returns {Promise<RaisedHand & {raised: boolean}>}
   */
  async raiseHand(raised, session = null) {
    /** @type {{raised: boolean, session?: number}} */
    const body = { raised };
    if (session !== null) body.session = session;
    return this.api.write('POST', 'hand', body);
  }

  /**
   * Sends a reaction to the room (POST api/reaction). Not retried: a reaction that comes late
   * means nothing, and a 429 (the session's allowance) is for the user to see.
   * @param {string} emoji  one of 👍 👏 😂 ❤️ 🎉 😮
   */
  async react(emoji) {
    await this.api.request('POST', 'reaction', { emoji });
  }

  // ---- call -----------------------------------------------------------------------------

  /**
   * The call configuration for the current room (GET api/call): ICE servers with fresh TURN
   * credentials, the mesh size, and whether this session is in the call or chat-only.
   * @returns {Promise<CallConfig>}
   */
  async callConfig() {
    return callConfigOf(await this.api.request('GET', 'call'));
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
    await this.signals([{ to, kind, data }]);
  }

  /**
   * Sends several signals in one request (POST api/signal with `signals`), in order, all or
   * none: a peer's candidates gathered while the previous request was out leave together.
   * The request starts before this returns its promise.
   * @param {{to: number, kind: SignalKind, data?: any}[]} list  1 to SIGNAL_BATCH
   * @returns {Promise<void>}
   */
  async signals(list) {
    const out = list.map(({ to, kind, data }) => (data === undefined || data === null ? { to, kind } : { to, kind, data }));
    await this.api.write('POST', 'signal', out.length === 1 ? out[0] : { signals: out }, false);
  }

  /**
   * Publishes this session's media state to its room (POST api/media).
   * @param {Partial<MediaState>} state
   * @returns {Promise<MediaState>}
   */
  async setMedia(state) {
    const res = await this.api.write('POST', 'media', state);
    return { audio: !!res.audio, video: !!res.video, screen: !!res.screen };
  }

  // ---- events ---------------------------------------------------------------------------

  /** Starts receiving events (once): the highest transport allowed (WebSocket, stream, polling). */
  startPolling() {
    if (this._running) return;
    this._running = true;
    (this._ws ?? this._stream ?? this._poll).start();
  }

  /** Stops receiving events; an outstanding poll is aborted, the WebSocket closed. */
  stopPolling() {
    this._running = false;
    this._poll.stop();
    this._ws?.stop();
    this._stream?.stop();
  }

  /**
   * `from` cannot carry events: unless another transport carries them already, the next one
   * down does (the stream after the WebSocket, unless it failed lately; else long-polling).
   * @param {EventTransport} from
   */
  _fallback(from) {
    if (this.transport !== 'connecting' && this.transport !== from.name) return;
    if (from === this._ws && this._stream && !this._stream.failing) this._stream.start();
    else this._poll.start();
  }

  /**
   * What the transports may see and do of this client.
   * @returns {TransportHost}
   */
  _host() {
    return {
      apiBase: this.api.apiBase,
      fetch: this.api.fetch,
      token: () => this.api.token,
      cursor: () => this.events.cursor,
      generation: () => this.api.generation,
      running: () => this._running,
      current: () => this.transport,
      live: (transport) => {
        this._setTransport(transport.name);
        /* The ones below it stop; a higher one keeps being tried in the background. */
        /** @type {(EventTransport|null)[]} */
        const ladder = [this._ws, this._stream, this._poll];
        for (const other of ladder.slice(ladder.indexOf(transport) + 1)) other?.stop();
        this._setConnection('online', 0);
      },
      fallback: (from) => this._fallback(from),
      setTransport: (name) => this._setTransport(name),
      connection: () => this.connection,
      setConnection: (state, retryInMs) => this._setConnection(state, retryInMs),
      consume: (body) => this._consume(body),
      renew: () => this._renew(),
      resync: () => this._resync(),
    };
  }

  /* The token changed: what is out for the old one is dropped, events resume from the new
   * cursor (a socket speaks for one token, so a new one is opened). */
  _restartTransport() {
    this._poll.restart();
    this._ws?.restart();
    this._stream?.restart();
  }

  /**
   * Applies one answer of any transport (events.js), unless the session changed or events
   * were stopped before its turn.
   * @param {any} body
   * @returns {Promise<void>}
   */
  _consume(body) {
    const generation = this.api.generation;
    return this.events.consume(body, () => generation === this.api.generation && this._running);
  }

  /* Reloads room state and room list after the server dropped our cursor. */
  async _resync() {
    try {
      await this.listRooms(this.events.roomsQuery);
      if (this.room !== null) await this.fetchRoom();
    } finally {
      this.onResync();
    }
  }

  /**
   * One event that passed the filter, to its typed callback.
   * @param {NoomEvent} ev
   */
  _deliver(ev) {
    const data = ev.data || {};
    try {
      this.onEvent(ev);
      switch (ev.type) {
      case 'welcome': this.onWelcome(data, ev); break;
      case 'bye': this.onBye(data, ev); break;
      case 'new_message': this.onMessage(data, ev); break;
      case 'nickname':
        if (data.session === this.session) this.api.nickname = data.nickname;
        this.onNickname(data, ev);
        break;
      case 'room_change': this.events.applyRoomChanges(data.rooms || [], ev.seq); break;
      case 'signal': this.onSignal(data, ev); break;
      case 'media': this.onMedia(data, ev); break;
      case 'host': this.onHost(data, ev); break;
      case 'room_settings': this.onRoomSettings(data, ev); break;
      case 'waiting': this.onWaiting(data, ev); break;
      case 'waiting_done': this.onWaitingDone(data, ev); break;
      case 'mute_request': this.onMuteRequest(data, ev); break;
      case 'hand': this.onHand(data, ev); break;
      case 'reaction': this.onReaction(data, ev); break;
      case 'join_denied':
        if (data.room === this.waitingFor) {
          this.waitingFor = null;
          this.onJoinDenied(data, ev);
        }
        break;
      case 'room_joined':
        if (data.room !== this.room) {
          /* A host admitted this waiting session, or another request moved it: load the room,
           * holding its events back. */
          this.room = data.room;
          this.waitingFor = null;
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

  /** @param {TransportName} name */
  _setTransport(name) {
    if (this.transport === name) return;
    this.transport = name;
    this.api.transport = name;
    try {
      this.onTransport(name);
    } catch (err) {
      console.error('noom: onTransport failed', err);
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
}

/**
 * A call configuration as the server sent it (GET api/call, a join answer's `call`), checked.
 * @param {any} res
 * @returns {CallConfig}
 */
function callConfigOf(res) {
  return {
    iceServers: Array.isArray(res.iceServers) ? res.iceServers : [],
    /* 'relay' when the server wants media through TURN only (hides addresses, or the network
     * lets nothing else through); anything else is the browser's default. */
    iceTransportPolicy: res.iceTransportPolicy === 'relay' ? 'relay' : 'all',
    ttl: Number(res.ttl) || 0,
    mesh_max: Number(res.mesh_max) || 0,
    in_call: !!res.in_call,
    /* 'sfu': the call runs on Janus (sfu.js), with what the page needs there. */
    mode: res.mode === 'sfu' && res.sfu ? 'sfu' : 'mesh',
    sfu_available: !!res.sfu_available,
    sfu: res.mode === 'sfu' && res.sfu ? {
      path: String(res.sfu.path), room: Number(res.sfu.room), feed: Number(res.sfu.feed),
      screen: Number(res.sfu.screen), token: String(res.sfu.token), join: String(res.sfu.join),
    } : undefined,
  };
}
