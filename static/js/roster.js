// Who is in the room, as the room page knows it: the members in join order with their
// nicknames, their microphone / camera / screen state, which of them are hosts, whose hand is
// raised (a queue, earliest first), the member count, and which one is this tab. No DOM: the views of room.js (stage, people list, chat)
// read it.

/** @typedef {import('./media.js').MediaState} MediaState */

/** What a member is assumed to send until told otherwise. */
const MEDIA_DEFAULT = { audio: true, video: true, screen: false };

export class Roster {
  constructor() {
    /** This tab's session id. @type {number|null} */
    this.self = null;
    /** @type {Map<number, string>} session → nickname, in join order */
    this.members = new Map();
    /** @type {Map<number, MediaState>} session → media state as last announced */
    this.media = new Map();
    /** @type {Set<number>} the members who are hosts */
    this.hosts = new Set();
    /** @type {Map<number, number>} session → when its hand went up (ms), for raised hands */
    this.hands = new Map();
    /** Members in the room (a big room's snapshot lists only its earliest ones). */
    this.count = 0;
  }

  /**
   * A hand went up (at: when, as the server says) or down.
   * @param {number} session
   * @param {boolean} raised
   * @param {number} at
   */
  setHand(session, raised, at) {
    if (raised) this.hands.set(session, at || Date.now());
    else this.hands.delete(session);
  }

  /**
   * The raised hands in the order they went up (ties by session id, as the server orders
   * them): the queue the people list shows.
   * @returns {number[]}
   */
  handQueue() {
    return Array.from(this.hands).sort((a, b) => a[1] - b[1] || a[0] - b[0]).map(([session]) => session);
  }

  /** @param {number} session */
  nickname(session) {
    return this.members.get(session) ?? '';
  }

  /**
   * @param {number} session
   * @returns {MediaState}
   */
  mediaOf(session) {
    return this.media.get(session) ?? { ...MEDIA_DEFAULT };
  }

  /** @param {number} session */
  isHost(session) {
    return this.hosts.has(session);
  }

  /** Whether this tab's session is a host of the room (and may see the host controls). */
  get selfIsHost() {
    return this.self !== null && this.hosts.has(this.self);
  }

  /** Whether this tab's own session is among the members. */
  hasSelf() {
    return this.self !== null && this.members.has(this.self);
  }

  /**
   * Oneself first, then the others in join order (the call's members are the earliest): the
   * first `max` of them. this.members is in join order already, so this walks only as far as
   * it needs (a tile update in a room of thousands reads 25 entries, not all).
   * @param {number} max
   * @returns {[number, string][]}
   */
  ordered(max) {
    /** @type {[number, string][]} */
    const out = [];
    if (this.self !== null && this.members.has(this.self)) {
      out.push([this.self, this.members.get(this.self) ?? '']);
    }
    for (const entry of this.members) {
      if (out.length >= max) break;
      if (entry[0] !== this.self) out.push(entry);
    }
    return out;
  }
}
