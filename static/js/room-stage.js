// The stage of the room page: one tile per member (video or avatar, name, muted / camera-off
// indicators, connection state, a "Host" badge, a raised hand, a passing reaction, a pin
// button), oneself first, for the first TILE_MAX members of the roster.
//
// Tiles are kept per member and updated in place (never redrawn wholesale), so that a playing
// <video> survives joins, leaves and renames of others. A tile carries the member's media state
// as data-audio / data-video / data-screen ("on" | "off"), and data-speaking="true" while the
// member speaks (speaking.js measures it).
//
// Two layouts: the grid, and speaker view (one tile large, the others in a strip). Which tile
// is large: a screen share (another member's before our own), else the tile pinned in this
// page, else the dominant speaker, else the first other member. Speaker view only changes
// classes and the CSS order of the tiles: moving a <video> in the document would pause it.
// The pin is this browser's choice per room, kept in localStorage as the member's session id
// (a session id survives the member's reloads, and ours: the pin is still there after one).
// A pinned member who is not on the stage (gone, or not arrived yet) stays pinned: they are
// large again if they come back.

import { el, role, initials, avatar, icon, HAND_ICON } from './dom.js';

/**
 * @typedef {import('./roster.js').Roster} Roster
 *
 * @typedef {object} Tile
 * @property {HTMLLIElement} node
 * @property {HTMLElement} avatar
 * @property {HTMLElement} name
 * @property {HTMLVideoElement|null} video
 * @property {HTMLElement} muted
 * @property {HTMLElement} cameraOff
 * @property {HTMLElement} conn
 * @property {HTMLElement} host  the "Host" badge
 * @property {HTMLElement|null} hand  the raised-hand indicator, while the hand is up
 * @property {HTMLElement|null} reaction  the reaction shown now
 * @property {ReturnType<typeof setTimeout>|null} reactionTimer
 * @property {HTMLButtonElement} pin
 *
 * @typedef {'grid'|'speaker'} StageView
 */

/* A reaction stays on its tile this long. */
export const REACTION_MS = 4000;

/* The stage has a tile for this many members, oneself and the earliest (the call is among
   them: at most 16). */
const TILE_MAX = 25;

/* The pinned member per room, per browser: PIN_KEY + room → session id. */
const PIN_KEY = 'noom.pin:';

/**
 * The member this browser pinned in a room, or null.
 * @param {string} room
 * @returns {number|null}
 */
function loadPin(room) {
  try {
    const saved = Number(localStorage.getItem(PIN_KEY + room));
    return Number.isInteger(saved) && saved > 0 ? saved : null;
  } catch {
    return null;
  }
}

/**
 * @param {string} room
 * @param {number|null} session
 */
function savePin(room, session) {
  try {
    if (session === null) localStorage.removeItem(PIN_KEY + room);
    else localStorage.setItem(PIN_KEY + room, String(session));
  } catch {
    /* private mode: the pin lasts as long as the page */
  }
}

export class Stage {
  /**
   * @param {HTMLElement} root  the #room-view element
   * @param {Roster} roster
   */
  constructor(root, roster) {
    this.roster = roster;
    this.tiles = role(root, 'tiles');
    /** @type {Map<number, Tile>} session → its tile on the stage */
    this.tileMap = new Map();
    /** @type {Map<number, MediaStream>} remote streams, kept while the tile is redrawn */
    this.streams = new Map();
    /** @type {MediaStream|null} */ this.localStream = null;
    /** @type {StageView} */ this.view = 'grid';
    /** The room shown, whose pin is remembered. */ this.room = '';
    /** The tile pinned in this page, or null. @type {number|null} */ this.pinned = null;
    /** The dominant speaker (speaking.js), or null. @type {number|null} */ this.dominant = null;
    /** The members speaking now. @type {Set<number>} */ this.speaking = new Set();

    this.tiles.addEventListener('click', (e) => {
      const button = /** @type {HTMLElement} */ (e.target).closest('[data-testid="tile-pin"]');
      const tile = /** @type {HTMLElement|null} */ (button?.closest('[data-session]') ?? null);
      if (!button || !tile) return;
      const session = Number(tile.dataset.session);
      this.setPinned(this.pinned === session ? null : session);
    });
  }

  /**
   * Grid or speaker view.
   * @param {StageView} view
   */
  setView(view) {
    this.view = view;
    this.tiles.dataset.view = view;
    this._layout();
  }

  /**
   * Pins a member's tile (it is the large one in speaker view), or unpins (null).
   * @param {number|null} session
   */
  setPinned(session) {
    this.pinned = session;
    if (this.room) savePin(this.room, session);
    for (const [s, tile] of this.tileMap) {
      const on = s === session;
      tile.pin.setAttribute('aria-pressed', on ? 'true' : 'false');
      const label = `${on ? 'Unpin' : 'Pin'} ${this.roster.nickname(s)}`;
      tile.pin.title = label;
      tile.pin.setAttribute('aria-label', label);
    }
    this._layout();
  }

  /**
   * Who speaks now, and the dominant speaker (speaker view's choice).
   * @param {Set<number>} speaking
   * @param {number|null} dominant
   */
  setSpeaking(speaking, dominant) {
    this.speaking = speaking;
    this.dominant = dominant;
    for (const [session, tile] of this.tileMap) {
      if (speaking.has(session)) tile.node.dataset.speaking = 'true';
      else delete tile.node.dataset.speaking;
    }
    if (this.view === 'speaker') this._layout();
  }

  /**
   * Shows a reaction on a member's tile for REACTION_MS (a newer one replaces it).
   * @param {number} session
   * @param {string} emoji
   */
  showReaction(session, emoji) {
    const tile = this.tileMap.get(session);
    if (!tile) return;
    if (tile.reactionTimer) clearTimeout(tile.reactionTimer);
    tile.reaction?.remove();
    const node = el('span', {
      className: 'tile-reaction', text: emoji,
      attrs: { 'data-testid': 'tile-reaction', 'data-emoji': emoji, role: 'img', 'aria-label': `${this.roster.nickname(session)} reacted ${emoji}` },
    });
    tile.node.append(node);
    tile.reaction = node;
    tile.reactionTimer = setTimeout(() => {
      node.remove();
      if (tile.reaction === node) tile.reaction = null;
      tile.reactionTimer = null;
    }, REACTION_MS);
  }

  /* Speaker view: marks the large tile (is-main), the others form the strip. */
  _layout() {
    const main = this.view === 'speaker' ? this._mainTile() : null;
    for (const [session, tile] of this.tileMap) tile.node.classList.toggle('is-main', session === main);
    this.tiles.dataset.main = main === null ? '' : String(main);
  }

  /** @returns {number|null} the member shown large in speaker view */
  _mainTile() {
    const self = this.roster.self;
    const tiled = Array.from(this.tileMap.keys());
    const sharing = tiled.filter((s) => this.roster.mediaOf(s).screen);
    const share = sharing.find((s) => s !== self) ?? sharing[0];
    if (share !== undefined) return share;
    if (this.pinned !== null && this.tileMap.has(this.pinned)) return this.pinned;
    if (this.dominant !== null && this.tileMap.has(this.dominant)) return this.dominant;
    return tiled.find((s) => s !== self) ?? tiled[0] ?? null;
  }

  /**
   * Forgets every stream, for a room being joined; takes up the pin this browser left there.
   * @param {string} room
   */
  clear(room) {
    this.streams.clear();
    this.localStream = null;
    this.room = room;
    this.pinned = loadPin(room);
  }

  /**
   * Shows this tab's camera (or screen) in its own tile; null shows the avatar.
   * @param {MediaStream|null} stream
   */
  setLocalStream(stream) {
    this.localStream = stream;
    if (this.roster.self !== null) this._syncVideo(this.roster.self);
  }

  /**
   * Shows a peer's media in its tile (a new stream object when its tracks changed).
   * @param {number} session
   * @param {MediaStream} stream
   */
  setRemoteStream(session, stream) {
    this.streams.set(session, stream);
    this._syncVideo(session);
  }

  /**
   * The connection to a peer is gone: its tile shows the avatar again.
   * @param {number} session
   */
  removeRemoteStream(session) {
    this.streams.delete(session);
    this._syncVideo(session);
  }

  /**
   * Connection state of a peer, shown on its tile while not connected.
   * @param {number} session
   * @param {string} state  new | connecting | connected | reconnecting | closed
   */
  setPeerState(session, state) {
    const tile = this.tileMap.get(session);
    if (!tile) return;
    tile.node.dataset.conn = state;
    const text = state === 'connecting' || state === 'new' ? 'Connecting…' : state === 'reconnecting' ? 'Reconnecting…' : '';
    tile.conn.textContent = text;
    tile.conn.hidden = text === '';
  }

  /* Brings the tiles in line with the roster: a tile for each of the first TILE_MAX members,
   * updated in place. */
  render() {
    const entries = this.roster.ordered(TILE_MAX);
    const tiled = new Set(entries.map(([session]) => session));
    for (const session of Array.from(this.tileMap.keys())) {
      if (!tiled.has(session)) {
        this.tileMap.get(session)?.node.remove();
        this.tileMap.delete(session);
      }
    }
    /* Re-appending existing nodes in order moves them without restarting their videos. */
    for (const [session] of entries) {
      let tile = this.tileMap.get(session);
      if (!tile) {
        tile = this._newTile(session);
        this.tileMap.set(session, tile);
      }
      this.update(session);
      if (this.tiles.children[entries.findIndex(([s]) => s === session)] !== tile.node) {
        this.tiles.append(tile.node);
        /* A media element taken out of the document pauses. */
        if (tile.video?.paused) tile.video.play().catch(() => {});
      }
    }
    this.tiles.dataset.n = String(Math.min(entries.length, 9));
    this._layout();
  }

  /**
   * Brings one tile in line with the member's name, media state and stream.
   * @param {number} session
   */
  update(session) {
    const tile = this.tileMap.get(session);
    if (!tile) return;
    const me = session === this.roster.self;
    const nickname = this.roster.nickname(session);
    const state = this.roster.mediaOf(session);
    tile.node.classList.toggle('is-self', me);
    tile.name.textContent = me ? `${nickname} (you)` : nickname;
    tile.avatar.textContent = initials(nickname);
    tile.node.dataset.audio = state.audio ? 'on' : 'off';
    tile.node.dataset.video = state.video ? 'on' : 'off';
    tile.node.dataset.screen = state.screen ? 'on' : 'off';
    tile.muted.hidden = state.audio;
    tile.cameraOff.hidden = state.video;
    tile.host.hidden = !this.roster.isHost(session);
    this._syncHand(session, tile);
    const pinLabel = `${this.pinned === session ? 'Unpin' : 'Pin'} ${nickname}`;
    tile.pin.title = pinLabel;
    tile.pin.setAttribute('aria-label', pinLabel);
    this._syncVideo(session);
  }

  /**
   * A member's media state changed: their tile, and the large tile (a screen share takes it).
   * @param {number} session
   */
  mediaChanged(session) {
    this.update(session);
    this._layout();
  }

  /**
   * The raised-hand indicator: present while the member's hand is up, absent otherwise.
   * @param {number} session
   * @param {Tile} tile
   */
  _syncHand(session, tile) {
    const up = this.roster.hands.has(session);
    if (up && !tile.hand) {
      tile.hand = el('span', {
        className: 'tile-hand',
        attrs: { 'data-testid': 'hand-raised', role: 'img', 'aria-label': 'Hand raised', title: 'Hand raised' },
      }, [icon(HAND_ICON, 18)]);
      tile.node.append(tile.hand);
    } else if (!up && tile.hand) {
      tile.hand.remove();
      tile.hand = null;
    }
  }

  /**
   * A new, empty tile for a member.
   * @param {number} session
   * @returns {Tile}
   */
  _newTile(session) {
    const nickname = this.roster.nickname(session);
    const face = avatar(session, nickname, 'avatar-large');
    const name = el('span', { className: 'tile-name-text' });
    const muted = el('span', {
      className: 'tile-flag flag-muted', text: '', attrs: { 'data-testid': 'muted-indicator', title: 'Muted', role: 'img', 'aria-label': 'Muted' },
    }, [micOffIcon()]);
    const cameraOff = el('span', {
      className: 'tile-flag flag-camera-off', attrs: { 'data-testid': 'camera-off-indicator', title: 'Camera off', role: 'img', 'aria-label': 'Camera off' },
    }, [cameraOffIcon()]);
    const conn = el('span', { className: 'tile-conn', attrs: { 'aria-live': 'polite' } });
    conn.hidden = true;
    const host = el('span', { className: 'host-badge tile-host', text: 'Host', attrs: { 'data-testid': 'tile-host-badge' } });
    host.hidden = true;
    const pin = el('button', {
      className: 'tile-pin', attrs: { type: 'button', 'data-testid': 'tile-pin', 'aria-pressed': this.pinned === session ? 'true' : 'false' },
    }, [pinIcon()]);
    const node = el('li', {
      className: 'tile', attrs: { 'data-testid': 'video-tile' }, data: { session: String(session) },
    }, [face, conn, host, pin, el('span', { className: 'tile-name' }, [muted, cameraOff, name])]);
    if (this.speaking.has(session)) node.dataset.speaking = 'true';
    return { node, avatar: face, name, video: null, muted, cameraOff, conn, host, hand: null, reaction: null, reactionTimer: null, pin };
  }

  /**
   * Puts the member's stream (ours: the local preview) into its tile's <video>, creating or
   * removing the element as needed. The element is reused so that it keeps playing.
   * @param {number} session
   */
  _syncVideo(session) {
    const tile = this.tileMap.get(session);
    if (!tile) return;
    const me = session === this.roster.self;
    const stream = me ? this.localStream : this.streams.get(session) ?? null;
    if (!stream) {
      tile.video?.remove();
      tile.video = null;
      tile.node.classList.remove('has-video');
      return;
    }
    if (!tile.video) {
      const video = el('video', {
        className: 'tile-video',
        attrs: me ? { 'data-testid': 'local-video' } : { 'data-testid': 'remote-video', 'data-peer': String(session) },
      });
      video.autoplay = true;
      video.playsInline = true;
      /* Our own microphone must never play back (echo); remote audio plays from the video. */
      video.muted = me;
      tile.video = video;
      tile.node.prepend(video);
    }
    const video = tile.video;
    if (video.srcObject !== stream) {
      video.srcObject = stream;
      video.play().catch(() => {
        /* Autoplay with sound refused (no click on this page yet): play muted, unmute on the
         * next user gesture anywhere on the page. */
        if (me || video.muted) return;
        video.muted = true;
        video.play().catch(() => {});
        document.addEventListener('pointerdown', () => { video.muted = false; }, { once: true });
      });
    }
    tile.node.classList.toggle('is-mirrored', me && !(this.roster.media.get(session)?.screen));
    tile.node.classList.add('has-video');
  }
}

function micOffIcon() {
  return icon('M19 11h-1.7c0 .74-.16 1.43-.43 2.05l1.23 1.23c.56-.98.9-2.09.9-3.28zm-4.02.17c0-.06.02-.11.02-.17V5c0-1.66-1.34-3-3-3S9 3.34 9 5v.18l5.98 5.99zM4.27 3 3 4.27l6.01 6.01V11c0 1.66 1.33 3 2.99 3 .22 0 .44-.03.65-.08l1.66 1.66c-.71.33-1.5.52-2.31.52-2.76 0-5.3-2.1-5.3-5.1H5c0 3.41 2.72 6.23 6 6.72V21h2v-3.28c.91-.13 1.77-.45 2.54-.9L19.73 21 21 19.73 4.27 3z');
}

function pinIcon() {
  return icon('M16 9V4h1c.55 0 1-.45 1-1s-.45-1-1-1H7c-.55 0-1 .45-1 1s.45 1 1 1h1v5c0 1.66-1.34 3-3 3v2h5.97v7l1 1 1-1v-7H19v-2c-1.66 0-3-1.34-3-3z');
}

function cameraOffIcon() {
  return icon('M21 6.5l-4 4V7c0-.55-.45-1-1-1H9.82L21 17.18V6.5zM3.27 2 2 3.27 4.73 6H4c-.55 0-1 .45-1 1v10c0 .55.45 1 1 1h12c.21 0 .39-.08.54-.18L19.73 21 21 19.73 3.27 2z');
}
