// Noom events: the bookkeeping between the event transports and the UI callbacks (docs/API.md).
// The cursor, exactly-once delivery, holding events back while a room snapshot is on its way,
// the room filter, the newest public room list, and resync. No DOM access, no network: the
// transports hand in answers, transport.js routes what passes to the typed callbacks.
//
// Invariants kept here:
// - Every answer of any transport ({cursor, events} or {resync, cursor}) is applied in arrival
//   order, one after another. An event whose seq is not above the cursor is never delivered
//   again, so answers that overlap (a retried poll, a switch of transport) cannot duplicate
//   anything; the cursor only moves forward after the events of an answer have been delivered.
// - While a request that returns room state (join, GET api/room) is in flight (hold()), events
//   are held back. Once it has been applied (applyRoomState(), then release()), the held
//   events are delivered minus those the snapshot contains (seq <= its cursor).
// - Room events (welcome, bye, new_message (a private one too), nickname, hand, reaction, and
//   the host's: host, room_settings, waiting, waiting_done, mute_request) are only delivered
//   for the room this session is in; stale ones for a room already left are dropped. A
//   `media` event (it names no room) is delivered only while in a room and when newer than the room snapshot.
//   `signal` events are addressed to this session and always delivered.
// - The public room list goes out (onRoomList) only when it is newer than the last one.

/**
 * @typedef {import('./api.js').RoomInfo} RoomInfo
 * @typedef {import('./api.js').RoomState} RoomState
 * @typedef {import('./api.js').SignalKind} SignalKind
 * @typedef {import('./api.js').MediaState} MediaState
 *
 * @typedef {{seq: number, type: string, data: any}} NoomEvent
 * @typedef {{room: string, session: number, nickname: string, count: number,
 *            host?: boolean}} WelcomeData
 * @typedef {{room: string, session: number, nickname: string, count: number,
 *            reason: string}} ByeData
 * @typedef {{room: string, session: number, old: string, nickname: string}} NicknameData
 * @typedef {{rooms: RoomInfo[]}} RoomChangeData
 * @typedef {{room: string}} RoomJoinedData
 * @typedef {{room: string, reason: string}} RoomLeftData
 * @typedef {{from: number, nickname: string, kind: SignalKind, data: any}} SignalData
 * @typedef {MediaState & {session: number}} MediaData
 * @typedef {{room: string, session: number, nickname: string,
 *            reason: 'made'|'handover'}} HostData  a member became a host
 * @typedef {{room: string, settings: import('./api.js').RoomSettings, by: number}} RoomSettingsData
 * @typedef {{room: string, session: number, nickname: string}} WaitingData  (to hosts)
 * @typedef {{room: string, session: number,
 *            outcome: 'admitted'|'denied'|'left'}} WaitingDoneData  (to hosts)
 * @typedef {{room: string, by: number, nickname: string, all?: boolean}} MuteRequestData
 *            nickname: the host's
 * @typedef {{room: string, reason: 'denied'|'ended'}} JoinDeniedData  to a waiting session
 * @typedef {{room: string, session: number, nickname: string, raised: boolean, at: number,
 *            by: number}} HandData  a hand went up or down (by: who moved it)
 * @typedef {{room: string, session: number, nickname: string, emoji: string}} ReactionData
 */

const ROOM_EVENTS = new Set(['welcome', 'bye', 'new_message', 'nickname', 'hand', 'reaction',
  'host', 'room_settings', 'waiting', 'waiting_done', 'mute_request']);

/** The event cursor and what may pass it. */
export class EventFilter {
  constructor() {
    /** Last event sequence number processed. */
    this.cursor = 0;
    /** The room this session is in, or is joining; null on the home page. @type {string|null} */
    this.room = null;
    /** Public room list, newest known. @type {RoomInfo[]} */
    this.rooms = [];
    /** Sequence number this.rooms is valid at (-1: none yet). */
    this.roomsSeq = -1;
    /** The search the list is filtered by ('' for none): changes of other rooms stay out. */
    this.roomsQuery = '';

    /* Events with seq <= this are contained in the last room snapshot. */
    this._roomBaseline = 0;
    /* While > 0, events are queued instead of delivered. */
    this._hold = 0;
    /** @type {NoomEvent[]} */ this._held = [];
    /** Answers are applied one after another (a resync in one holds the next). @type {Promise<void>} */
    this._inbox = Promise.resolve();

    /** An event that passed the filter, in order. @type {(ev: NoomEvent) => void} */
    this.onDeliver = () => {};
    /** @type {(rooms: RoomInfo[]) => void} */
    this.onRoomList = () => {};
    /** The server no longer had our cursor (already moved to the answer's): reload state. @type {() => Promise<void>} */
    this.onResync = async () => {};
  }

  /**
   * A new session: its first cursor, and no room snapshot yet.
   * @param {number} cursor
   */
  reset(cursor) {
    this.cursor = cursor;
    this._roomBaseline = 0;
  }

  /**
   * Applies one answer of a transport: delivers the events past the cursor, in order, then
   * moves the cursor. Answers are applied one after another; one that is no longer current
   * when its turn comes (the session changed, events stopped) is dropped.
   * @param {any} body  {cursor, events} or {resync: true, cursor}
   * @param {() => boolean} current
   * @returns {Promise<void>}
   */
  consume(body, current) {
    this._inbox = this._inbox.then(async () => {
      if (!current()) return;
      if (body.resync) {
        this.cursor = body.cursor;
        await this.onResync();
        return;
      }
      for (const ev of body.events || []) {
        if (typeof ev.seq !== 'number' || ev.seq <= this.cursor) continue; /* seen already */
        this.dispatch(ev);
        this.cursor = ev.seq;
      }
      this.cursor = Math.max(this.cursor, body.cursor);
    }).catch((err) => console.error('noom: cannot apply events', err));
    return this._inbox;
  }

  /**
   * Delivers one event unless it is held back or filtered out.
   * @param {NoomEvent} ev
   */
  dispatch(ev) {
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
    this.onDeliver(ev);
  }

  /** Holds events back until release(): a room snapshot is on its way. */
  hold() {
    this._hold++;
  }

  /** Ends one hold(); after the last, the held events are delivered (or dropped). */
  release() {
    this._hold--;
    if (this._hold > 0) return;
    const held = this._held;
    this._held = [];
    for (const ev of held) this.dispatch(ev);
  }

  /**
   * A room snapshot arrived: the events it contains will not be delivered.
   * @param {RoomState} state
   */
  applyRoomState(state) {
    this.room = state.room;
    this._roomBaseline = Math.max(this._roomBaseline, state.cursor);
  }

  /**
   * @param {RoomInfo[]} rooms
   * @param {number} seq  the sequence number the list is valid at
   */
  setRooms(rooms, seq) {
    if (seq < this.roomsSeq) return;
    this.roomsSeq = seq;
    this.rooms = rooms;
    this._reportRooms();
  }

  /**
   * Applies a room_change event: what changed (a room and its new count; 0: it is gone) on top
   * of the list. The list stays busiest first, as the server orders it: a room whose count
   * changed goes before the others of the same count (it was the most recently active).
   * @param {RoomInfo[]} changes
   * @param {number} seq
   */
  applyRoomChanges(changes, seq) {
    if (seq <= this.roomsSeq) return;
    this.roomsSeq = seq;
    const changed = new Set(changes.map((r) => r.name));
    const kept = this.rooms.filter((r) => !changed.has(r.name));
    const now = changes.filter((r) => r.count > 0 &&
      (!this.roomsQuery || r.name.toLowerCase().includes(this.roomsQuery.toLowerCase())));
    this.rooms = [...now, ...kept].sort((a, b) => b.count - a.count);
    this._reportRooms();
  }

  _reportRooms() {
    try {
      this.onRoomList(this.rooms);
    } catch (err) {
      console.error('noom: onRoomList failed', err);
    }
  }
}
