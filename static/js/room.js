// The room page: header (name, count, leave), a stage with one tile per member (video, name,
// muted / camera-off indicators), a control bar (mute, camera, screen, device choice) and a side
// panel with the people list and the chat.
//
// This module only draws and reports user intent through callbacks; app.js talks to the server
// and owns the call. Each chat-log child is one line: a notice (<div class="notice">, its text
// is exactly the notice, the time lives in an attribute) or a message (sender, time, text).
//
// Tiles are kept per member and updated in place (never redrawn wholesale), so that a playing
// <video> survives joins, leaves and renames of others. A tile carries the member's media state
// as data-audio / data-video / data-screen ("on" | "off").

import { el, role, testid, formatTime, people, initials, hue, showError } from './dom.js';
import { nicknameProblem } from './home.js';

/** @typedef {import('./transport.js').RoomState} RoomState */
/** @typedef {import('./transport.js').ChatMessage} ChatMessage */
/** @typedef {import('./transport.js').Member} Member */

/** @typedef {import('./media.js').MediaState} MediaState */
/** @typedef {import('./media.js').DeviceLists} DeviceLists */

/**
 * @typedef {object} RoomCallbacks
 * @property {(text: string, clientId?: string) => void} onSend  text is not empty
 * @property {() => void} onLeave
 * @property {(nickname: string) => void} onRename
 * @property {(muted: boolean) => void} onMute
 * @property {(off: boolean) => void} onCamera
 * @property {(share: boolean) => void} onScreen
 * @property {(kind: 'audio'|'video', deviceId: string) => void} onDevice
 *
 * @typedef {object} ControlState
 * @property {boolean} muted
 * @property {boolean} cameraOff
 * @property {boolean} sharing
 * @property {boolean} hasAudio  a microphone is open
 * @property {boolean} hasVideo  a camera is open
 * @property {boolean} canShare  getDisplayMedia exists
 *
 * @typedef {object} Tile
 * @property {HTMLLIElement} node
 * @property {HTMLElement} avatar
 * @property {HTMLElement} name
 * @property {HTMLVideoElement|null} video
 * @property {HTMLElement} muted
 * @property {HTMLElement} cameraOff
 * @property {HTMLElement} conn
 */

/* Consecutive messages of one sender within this time are drawn as one group. */
const GROUP_MS = 5 * 60 * 1000;
/* The log keeps at most this many lines; older ones are dropped from the page. */
const LOG_MAX = 500;
/* "Near the bottom": new lines scroll the log only if the reader has not scrolled up. */
const STICKY_PX = 80;
/* The member list shows this many members (the server's join answer lists as many); the rest
   are counted. */
const MEMBER_LIST_MAX = 200;
/* The stage has a tile for this many members, oneself and the earliest (the call is among
   them: at most 16). */
const TILE_MAX = 25;

export class RoomView {
  /**
   * @param {HTMLElement} root  the #room-view element
   * @param {RoomCallbacks} callbacks
   */
  constructor(root, callbacks) {
    this.root = root;
    this.callbacks = callbacks;
    this.nameNode = role(root, 'room-name');
    this.countNode = testid(root, 'room-count');
    this.peopleCount = role(root, 'people-count');
    this.memberList = role(root, 'member-list');
    this.tiles = role(root, 'tiles');
    this.log = testid(root, 'chat-log');
    this.error = role(root, 'chat-error');
    this.composer = /** @type {HTMLFormElement} */ (role(root, 'composer'));
    this.input = /** @type {HTMLTextAreaElement} */ (testid(root, 'chat-input'));
    this.sendButton = /** @type {HTMLButtonElement} */ (testid(root, 'chat-send'));
    this.leaveButton = /** @type {HTMLButtonElement} */ (testid(root, 'leave-button'));
    this.nicknameInput = /** @type {HTMLInputElement} */ (role(root, 'room-nickname'));
    this.muteButton = /** @type {HTMLButtonElement} */ (testid(root, 'mute-button'));
    this.cameraButton = /** @type {HTMLButtonElement} */ (testid(root, 'camera-button'));
    this.screenButton = /** @type {HTMLButtonElement} */ (testid(root, 'screen-button'));
    this.cameraSelect = /** @type {HTMLSelectElement} */ (testid(root, 'camera-select'));
    this.micSelect = /** @type {HTMLSelectElement} */ (testid(root, 'mic-select'));
    this.callStatus = testid(root, 'call-status');

    /** @type {string|null} */ this.room = null;
    /** @type {number|null} */ this.self = null;
    /** @type {Map<number, string>} session → nickname, in join order */
    this.members = new Map();
    this.count = 0;
    /** member list redraw queued for the end of this batch of events */
    this.listQueued = false;
    /** @type {Set<number>} message ids already in the log */
    this.seen = new Set();
    /** @type {Map<string, HTMLElement>} client_id → line of a message not yet confirmed */
    this.pending = new Map();
    /** @type {Map<number, MediaState>} session → media state as last announced */
    this.media = new Map();
    /** @type {Map<number, Tile>} session → its tile on the stage */
    this.tileMap = new Map();
    /** @type {Map<number, MediaStream>} remote streams, kept while the tile is redrawn */
    this.streams = new Map();
    /** @type {MediaStream|null} */ this.localStream = null;
    /** @type {ControlState} */
    this.controls = { muted: false, cameraOff: false, sharing: false, hasAudio: false, hasVideo: false, canShare: false };

    this.muteButton.addEventListener('click', () => this.callbacks.onMute(!this.controls.muted));
    this.cameraButton.addEventListener('click', () => this.callbacks.onCamera(!this.controls.cameraOff));
    this.screenButton.addEventListener('click', () => this.callbacks.onScreen(!this.controls.sharing));
    this.cameraSelect.addEventListener('change', () => this.callbacks.onDevice('video', this.cameraSelect.value));
    this.micSelect.addEventListener('change', () => this.callbacks.onDevice('audio', this.micSelect.value));

    this.composer.addEventListener('submit', (e) => {
      e.preventDefault();
      this._send();
    });
    this.input.addEventListener('keydown', (e) => {
      /* Enter sends, Shift+Enter is a new line; leave IME composition alone. */
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        this._send();
      }
    });
    this.input.addEventListener('input', () => this._autosize());
    this.leaveButton.addEventListener('click', () => this.callbacks.onLeave());
    this.nicknameInput.addEventListener('change', () => this._commitNickname());
    this.nicknameInput.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') {
        e.preventDefault();
        this._commitNickname();
        this.input.focus();
      }
    });
    this.log.addEventListener('click', (e) => {
      const retry = /** @type {HTMLElement} */ (e.target).closest('[data-retry]');
      if (!retry) return;
      const line = /** @type {HTMLElement|null} */ (retry.closest('[data-client-id]'));
      if (!line) return;
      const text = line.querySelector('.msg-text')?.textContent ?? '';
      line.classList.remove('is-failed');
      line.classList.add('is-pending');
      retry.remove();
      this.callbacks.onSend(text, line.dataset.clientId);
    });
  }

  /**
   * Shows the page for a room being joined: empty log, no members yet.
   * @param {string} room
   * @param {number|null} self  this tab's session id
   */
  open(room, self) {
    this.room = room;
    this.self = self;
    this.members.clear();
    this.seen.clear();
    this.pending.clear();
    this.media.clear();
    this.streams.clear();
    this.localStream = null;
    this.log.replaceChildren();
    this.setCallStatus('');
    this.nameNode.textContent = room;
    this._setCount(0);
    this._renderMembers();
    showError(this.error, '');
    this.root.hidden = false;
    /* On a phone the people list starts folded so that the chat gets the room. */
    const people = this.memberList.closest('details');
    if (people) people.open = !window.matchMedia('(max-width: 820px)').matches;
    this.root.classList.add('is-joining');
    this.input.disabled = true;
    this.sendButton.disabled = true;
  }

  hide() {
    this.root.hidden = true;
  }

  /**
   * Draws a room snapshot (join answer, GET api/room). Lines already in the log stay (after a
   * resync the history overlaps them; message ids keep it free of duplicates).
   * @param {RoomState} state
   * @param {number|null} self
   * @param {string} [selfNickname]  for a big room, whose snapshot lists only its earliest members
   */
  setState(state, self, selfNickname = '') {
    this.room = state.room;
    this.self = self;
    this.nameNode.textContent = state.room;
    this.members.clear();
    for (const m of state.members) {
      this.members.set(m.session, m.nickname);
      this.media.set(m.session, { audio: m.audio !== false, video: m.video !== false, screen: !!m.screen });
    }
    if (self !== null && !this.members.has(self)) this.members.set(self, selfNickname);
    this._setCount(state.count);
    this._renderMembers();
    const stick = this._nearBottom();
    const first = this.root.classList.contains('is-joining');
    for (const msg of state.history) this._appendMessage(msg);
    if (first) this.addNotice(`You joined ${state.room}`, 'self');
    this.root.classList.remove('is-joining');
    this.input.disabled = false;
    this.sendButton.disabled = false;
    if (stick || state.history.length) this._scrollToEnd();
  }

  /** @param {string} nickname */
  setSelfNickname(nickname) {
    if (document.activeElement !== this.nicknameInput) this.nicknameInput.value = nickname;
  }

  focusInput() {
    this.input.focus({ preventScroll: true });
  }

  /**
   * Someone entered the room.
   * @param {number} session
   * @param {string} nickname
   * @param {number} count  members now
   */
  memberJoined(session, nickname, count) {
    this.members.set(session, nickname);
    if (!this.media.has(session)) this.media.set(session, { audio: true, video: true, screen: false });
    this._setCount(count);
    this._renderMembers();
    this.addNotice(`${nickname} joined`, 'join');
  }

  /**
   * Someone left (or timed out).
   * @param {number} session
   * @param {string} nickname
   * @param {number} count
   */
  memberLeft(session, nickname, count) {
    this.members.delete(session);
    this.media.delete(session);
    this.streams.delete(session);
    this._setCount(count);
    this._renderMembers();
    this.addNotice(`${nickname} left`, 'leave');
  }

  /**
   * Someone changed their nickname.
   * @param {number} session
   * @param {string} old
   * @param {string} nickname
   */
  memberRenamed(session, old, nickname) {
    if (this.members.has(session)) this.members.set(session, nickname);
    this._renderMembers();
    this.addNotice(`${old} is now ${nickname}`, 'rename');
  }

  /**
   * A notice line. Its text is exactly `text`; the time is kept in attributes only.
   * @param {string} text
   * @param {string} kind  join | leave | rename | info
   */
  addNotice(text, kind) {
    const now = Date.now();
    const line = el('div', {
      className: `line notice notice-${kind}`,
      text,
      attrs: { title: formatTime(now), 'data-time': new Date(now).toISOString() },
    });
    this._append(line);
  }

  /**
   * A message from the poll; confirms our own pending copy when there is one.
   * @param {ChatMessage} msg
   */
  addMessage(msg) {
    this._appendMessage(msg);
  }

  /**
   * Shows our own message at once, greyed until the server's event confirms it.
   * @param {string} text
   * @param {string} clientId
   * @param {string} nickname
   */
  addPending(text, clientId, nickname) {
    const line = this._messageLine({
      id: 0, room: this.room ?? '', session: this.self ?? 0, nickname, text, ts: Date.now(),
      client_id: clientId,
    });
    line.classList.add('is-pending');
    this.pending.set(clientId, line);
    this._append(line, true);
  }

  /**
   * The server stored our message (the event may come before or after this answer).
   * @param {string} clientId
   * @param {number} id
   * @param {number} ts
   */
  confirmSent(clientId, id, ts) {
    const line = this.pending.get(clientId);
    if (!line) return;
    /* Still pending means the event has not drawn it yet (that replaces the pending line). */
    this.pending.delete(clientId);
    this.seen.add(id);
    line.dataset.id = String(id);
    line.classList.remove('is-pending');
    const time = line.querySelector('time');
    if (time) {
      time.dateTime = new Date(ts).toISOString();
      time.textContent = formatTime(ts);
    }
  }

  /**
   * Sending failed for good: mark the line and show why.
   * @param {string} clientId
   * @param {string} message
   */
  sendFailed(clientId, message) {
    const line = this.pending.get(clientId);
    if (line) {
      line.classList.remove('is-pending');
      line.classList.add('is-failed');
      if (!line.querySelector('[data-retry]')) {
        line.append(el('button', {
          className: 'msg-retry', text: 'Not sent · Retry', attrs: { type: 'button', 'data-retry': '' },
        }));
      }
    }
    showError(this.error, message);
  }

  /** @param {string} message  empty hides the error line */
  showError(message) {
    showError(this.error, message);
  }

  // ---- call ----------------------------------------------------------------------------

  /**
   * Shows this tab's camera (or screen) in its own tile; null shows the avatar.
   * @param {MediaStream|null} stream
   */
  setLocalStream(stream) {
    this.localStream = stream;
    if (this.self !== null) this._syncVideo(this.self);
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

  /**
   * A member's microphone / camera / screen state (a media event, or our own change).
   * @param {number} session
   * @param {MediaState} state
   */
  setMemberMedia(session, state) {
    if (!this.members.has(session)) return;
    this.media.set(session, { audio: !!state.audio, video: !!state.video, screen: !!state.screen });
    this._updateTile(session);
  }

  /**
   * The control bar: pressed states, and what is available at all.
   * @param {ControlState} controls
   */
  setControls(controls) {
    this.controls = { ...controls };
    const c = this.controls;
    pressed(this.muteButton, c.muted, c.muted ? 'Unmute' : 'Mute');
    this.muteButton.disabled = !c.hasAudio;
    pressed(this.cameraButton, c.cameraOff, c.cameraOff ? 'Start video' : 'Stop video');
    this.cameraButton.disabled = !c.hasVideo;
    pressed(this.screenButton, c.sharing, c.sharing ? 'Stop sharing' : 'Share screen');
    this.screenButton.disabled = !c.canShare;
    this.screenButton.hidden = !c.canShare;
  }

  /**
   * Fills the device selects.
   * @param {DeviceLists} lists
   * @param {string} audioId  the microphone in use
   * @param {string} videoId  the camera in use
   */
  setDevices(lists, audioId, videoId) {
    fillSelect(this.micSelect, lists.audio, audioId, 'No microphone');
    fillSelect(this.cameraSelect, lists.video, videoId, 'No camera');
  }

  /** @param {string} text  why this user is not (fully) in the call; '' hides the line */
  setCallStatus(text) {
    this.callStatus.textContent = text;
    this.callStatus.hidden = text === '';
  }

  // ---- internals ------------------------------------------------------------------------

  _send() {
    const text = this.input.value.replace(/\s+$/u, '');
    if (!text.trim() || this.input.disabled) return;
    showError(this.error, '');
    this.input.value = '';
    this._autosize();
    this.callbacks.onSend(text);
  }

  _commitNickname() {
    const name = this.nicknameInput.value.trim();
    const current = this.self !== null ? this.members.get(this.self) : undefined;
    if (name === current) return;
    const problem = nicknameProblem(name);
    if (problem) {
      showError(this.error, problem);
      return;
    }
    this.callbacks.onRename(name);
  }

  /** @param {ChatMessage} msg */
  _appendMessage(msg) {
    if (this.seen.has(msg.id)) return;
    const pending = msg.session === this.self ? this.pending.get(msg.client_id) : undefined;
    this.seen.add(msg.id);
    if (pending) {
      /* Our own message came back: the pending line becomes the real one, in place. */
      this.pending.delete(msg.client_id);
      pending.replaceWith(this._messageLine(msg, pending));
      return;
    }
    this._append(this._messageLine(msg));
  }

  /**
   * @param {ChatMessage} msg
   * @param {HTMLElement} [before]  the line this one replaces (for grouping)
   */
  _messageLine(msg, before) {
    const prev = /** @type {HTMLElement|null} */ (before ? before.previousElementSibling : this.log.lastElementChild);
    const own = msg.session === this.self;
    const grouped = !!prev && prev.classList.contains('msg') &&
      prev.dataset.session === String(msg.session) &&
      msg.ts - Number(prev.dataset.ts || 0) < GROUP_MS;
    const line = el('div', {
      className: `line msg${own ? ' is-own' : ''}${grouped ? ' is-grouped' : ''}`,
      data: { session: String(msg.session), ts: String(msg.ts), clientId: msg.client_id },
    }, [
      el('div', { className: 'msg-meta' }, [
        this._nick(msg.nickname, own ? null : hue(msg.session)),
        el('time', { className: 'msg-time', text: formatTime(msg.ts), attrs: { datetime: new Date(msg.ts).toISOString() } }),
      ]),
      el('div', { className: 'msg-text', text: msg.text }),
    ]);
    if (msg.id) line.dataset.id = String(msg.id);
    return line;
  }

  /**
   * @param {HTMLElement} line
   * @param {boolean} [force]  scroll even if the reader has scrolled up (own message)
   */
  _append(line, force = false) {
    const stick = force || this._nearBottom();
    this.log.append(line);
    while (this.log.childElementCount > LOG_MAX) this.log.firstElementChild?.remove();
    if (stick) this._scrollToEnd();
  }

  _nearBottom() {
    return this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < STICKY_PX;
  }

  _scrollToEnd() {
    this.log.scrollTop = this.log.scrollHeight;
  }

  _autosize() {
    this.input.style.height = 'auto';
    this.input.style.height = `${Math.min(this.input.scrollHeight, 160)}px`;
  }

  /** @param {number} n */
  _setCount(n) {
    this.count = n;
    this.countNode.textContent = people(n);
    this.peopleCount.textContent = String(n);
  }

  /**
   * Oneself first, then the others in join order (the call's members are the earliest): the
   * first `max` of them. this.members is in join order already, so this walks only as far as
   * it needs (a tile update in a room of thousands reads 25 entries, not all).
   * @param {number} max
   * @returns {[number, string][]}
   */
  _ordered(max) {
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

  /*
   * Brings the stage tiles in line with this.members at once, and redraws the member list once
   * per batch of events (a poll answer in a big room can carry hundreds of joins).
   */
  _renderMembers() {
    this._renderTiles();
    if (this.listQueued) return;
    this.listQueued = true;
    queueMicrotask(() => {
      this.listQueued = false;
      this._renderList();
    });
  }

  /* The member list: the first MEMBER_LIST_MAX, then how many more the room has. */
  _renderList() {
    const listed = this._ordered(MEMBER_LIST_MAX);
    const more = Math.max(this.count, this.members.size) - listed.length;
    this.memberList.replaceChildren(...listed.map(([session, nickname]) => {
      const me = session === this.self;
      return el('li', { className: `member${me ? ' is-self' : ''}`, data: { session: String(session) } }, [
        this._avatar(session, nickname, 'avatar-small'),
        el('span', { className: 'member-name', text: nickname }),
        me ? el('span', { className: 'member-you', text: 'you' }) : null,
      ]);
    }), ...(more > 0 ? [el('li', { className: 'member member-more', attrs: { 'data-testid': 'member-more' }, text: `and ${more} more` })] : []));
  }

  /* The stage: a tile for each of the first TILE_MAX members, updated in place. */
  _renderTiles() {
    const entries = this._ordered(TILE_MAX);
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
      this._updateTile(session);
      if (this.tiles.children[entries.findIndex(([s]) => s === session)] !== tile.node) {
        this.tiles.append(tile.node);
        /* A media element taken out of the document pauses. */
        if (tile.video?.paused) tile.video.play().catch(() => {});
      }
    }
    this.tiles.dataset.n = String(Math.min(entries.length, 9));
    if (this.self !== null && this.members.has(this.self)) {
      this.setSelfNickname(this.members.get(this.self) ?? '');
    }
  }

  /**
   * A new, empty tile for a member.
   * @param {number} session
   * @returns {Tile}
   */
  _newTile(session) {
    const nickname = this.members.get(session) ?? '';
    const avatar = this._avatar(session, nickname, 'avatar-large');
    const name = el('span', { className: 'tile-name-text' });
    const muted = el('span', {
      className: 'tile-flag flag-muted', text: '', attrs: { 'data-testid': 'muted-indicator', title: 'Muted', role: 'img', 'aria-label': 'Muted' },
    }, [micOffIcon()]);
    const cameraOff = el('span', {
      className: 'tile-flag flag-camera-off', attrs: { 'data-testid': 'camera-off-indicator', title: 'Camera off', role: 'img', 'aria-label': 'Camera off' },
    }, [cameraOffIcon()]);
    const conn = el('span', { className: 'tile-conn', attrs: { 'aria-live': 'polite' } });
    conn.hidden = true;
    const node = el('li', {
      className: 'tile', attrs: { 'data-testid': 'video-tile' }, data: { session: String(session) },
    }, [avatar, conn, el('span', { className: 'tile-name' }, [muted, cameraOff, name])]);
    return { node, avatar, name, video: null, muted, cameraOff, conn };
  }

  /**
   * Brings one tile in line with the member's name, media state and stream.
   * @param {number} session
   */
  _updateTile(session) {
    const tile = this.tileMap.get(session);
    if (!tile) return;
    const me = session === this.self;
    const nickname = this.members.get(session) ?? '';
    const state = this.media.get(session) ?? { audio: true, video: true, screen: false };
    tile.node.classList.toggle('is-self', me);
    tile.name.textContent = me ? `${nickname} (you)` : nickname;
    tile.avatar.textContent = initials(nickname);
    tile.node.dataset.audio = state.audio ? 'on' : 'off';
    tile.node.dataset.video = state.video ? 'on' : 'off';
    tile.node.dataset.screen = state.screen ? 'on' : 'off';
    tile.muted.hidden = state.audio;
    tile.cameraOff.hidden = state.video;
    this._syncVideo(session);
  }

  /**
   * Puts the member's stream (ours: the local preview) into its tile's <video>, creating or
   * removing the element as needed. The element is reused so that it keeps playing.
   * @param {number} session
   */
  _syncVideo(session) {
    const tile = this.tileMap.get(session);
    if (!tile) return;
    const me = session === this.self;
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
    tile.node.classList.toggle('is-mirrored', me && !(this.media.get(session)?.screen));
    tile.node.classList.add('has-video');
  }

  /**
   * @param {number} session
   * @param {string} nickname
   * @param {string} size
   */
  _avatar(session, nickname, size) {
    const node = el('span', {
      className: `avatar ${size}`,
      text: initials(nickname),
      attrs: { 'aria-hidden': 'true' },
    });
    /* Through CSSOM rather than a style attribute, so a strict CSP allows it. */
    node.style.setProperty('--avatar-hue', String(hue(session)));
    return node;
  }

  /**
   * @param {string} nickname
   * @param {number|null} nickHue  the sender's hue, null for the default color
   */
  _nick(nickname, nickHue) {
    const node = el('span', { className: 'msg-nick', text: nickname });
    if (nickHue !== null) node.style.setProperty('--nick-hue', String(nickHue));
    return node;
  }
}

/**
 * @param {HTMLButtonElement} button
 * @param {boolean} on
 * @param {string} label
 */
function pressed(button, on, label) {
  button.setAttribute('aria-pressed', on ? 'true' : 'false');
  button.title = label;
  const text = button.querySelector('.control-label');
  if (text) text.textContent = label;
}

/**
 * @param {HTMLSelectElement} select
 * @param {{deviceId: string, label: string}[]} devices
 * @param {string} current
 * @param {string} none  the text when there is no device
 */
function fillSelect(select, devices, current, none) {
  const options = devices.map((d) => el('option', { text: d.label, attrs: { value: d.deviceId } }));
  if (options.length === 0) options.push(el('option', { text: none, attrs: { value: '' } }));
  select.replaceChildren(...options);
  select.disabled = devices.length < 2;
  if (current && devices.some((d) => d.deviceId === current)) select.value = current;
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
