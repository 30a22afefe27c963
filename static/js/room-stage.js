// The stage of the room page: one tile per member (video or avatar, name, muted / camera-off
// indicators, connection state, a "Host" badge), oneself first, for the first TILE_MAX members
// of the roster.
//
// Tiles are kept per member and updated in place (never redrawn wholesale), so that a playing
// <video> survives joins, leaves and renames of others. A tile carries the member's media state
// as data-audio / data-video / data-screen ("on" | "off").

import { el, role, initials, avatar } from './dom.js';

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
 */

/* The stage has a tile for this many members, oneself and the earliest (the call is among
   them: at most 16). */
const TILE_MAX = 25;

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
  }

  /** Forgets every stream, for a room being joined. */
  clear() {
    this.streams.clear();
    this.localStream = null;
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
    this._syncVideo(session);
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
    const node = el('li', {
      className: 'tile', attrs: { 'data-testid': 'video-tile' }, data: { session: String(session) },
    }, [face, conn, host, el('span', { className: 'tile-name' }, [muted, cameraOff, name])]);
    return { node, avatar: face, name, video: null, muted, cameraOff, conn, host };
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

const SVG = 'http://www.w3.org/2000/svg';

/** @param {string} d  path data */
function icon(d) {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('width', '14');
  svg.setAttribute('height', '14');
  svg.setAttribute('aria-hidden', 'true');
  const path = document.createElementNS(SVG, 'path');
  path.setAttribute('fill', 'currentColor');
  path.setAttribute('d', d);
  svg.append(path);
  return svg;
}

function micOffIcon() {
  return icon('M19 11h-1.7c0 .74-.16 1.43-.43 2.05l1.23 1.23c.56-.98.9-2.09.9-3.28zm-4.02.17c0-.06.02-.11.02-.17V5c0-1.66-1.34-3-3-3S9 3.34 9 5v.18l5.98 5.99zM4.27 3 3 4.27l6.01 6.01V11c0 1.66 1.33 3 2.99 3 .22 0 .44-.03.65-.08l1.66 1.66c-.71.33-1.5.52-2.31.52-2.76 0-5.3-2.1-5.3-5.1H5c0 3.41 2.72 6.23 6 6.72V21h2v-3.28c.91-.13 1.77-.45 2.54-.9L19.73 21 21 19.73 4.27 3z');
}

function cameraOffIcon() {
  return icon('M21 6.5l-4 4V7c0-.55-.45-1-1-1H9.82L21 17.18V6.5zM3.27 2 2 3.27 4.73 6H4c-.55 0-1 .45-1 1v10c0 .55.45 1 1 1h12c.21 0 .39-.08.54-.18L19.73 21 21 19.73 3.27 2z');
}
