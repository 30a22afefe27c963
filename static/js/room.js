// The room page: header (name, count, leave), a stage with member tiles (video comes later)
// and a side panel with the people list and the chat.
//
// This module only draws and reports user intent through callbacks; app.js talks to the server.
// Each chat-log child is one line: a notice (<div class="notice">, its text is exactly the
// notice, the time lives in an attribute) or a message (sender, time, text).

import { el, role, testid, formatTime, people, initials, hue, showError } from './dom.js';
import { nicknameProblem } from './home.js';

/** @typedef {import('./transport.js').RoomState} RoomState */
/** @typedef {import('./transport.js').ChatMessage} ChatMessage */
/** @typedef {import('./transport.js').Member} Member */

/**
 * @typedef {object} RoomCallbacks
 * @property {(text: string, clientId?: string) => void} onSend  text is not empty
 * @property {() => void} onLeave
 * @property {(nickname: string) => void} onRename
 */

/* Consecutive messages of one sender within this time are drawn as one group. */
const GROUP_MS = 5 * 60 * 1000;
/* The log keeps at most this many lines; older ones are dropped from the page. */
const LOG_MAX = 500;
/* "Near the bottom": new lines scroll the log only if the reader has not scrolled up. */
const STICKY_PX = 80;

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

    /** @type {string|null} */ this.room = null;
    /** @type {number|null} */ this.self = null;
    /** @type {Map<number, string>} session → nickname, in join order */
    this.members = new Map();
    this.count = 0;
    /** @type {Set<number>} message ids already in the log */
    this.seen = new Set();
    /** @type {Map<string, HTMLElement>} client_id → line of a message not yet confirmed */
    this.pending = new Map();

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
    this.log.replaceChildren();
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
   */
  setState(state, self) {
    this.room = state.room;
    this.self = self;
    this.nameNode.textContent = state.room;
    this.members.clear();
    for (const m of state.members) this.members.set(m.session, m.nickname);
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

  /* Redraws the member list and the stage tiles from this.members. */
  _renderMembers() {
    const entries = Array.from(this.members.entries());
    /* Oneself first, then in join order. */
    entries.sort((a, b) => Number(b[0] === this.self) - Number(a[0] === this.self));
    this.memberList.replaceChildren(...entries.map(([session, nickname]) => {
      const me = session === this.self;
      return el('li', { className: `member${me ? ' is-self' : ''}`, data: { session: String(session) } }, [
        this._avatar(session, nickname, 'avatar-small'),
        el('span', { className: 'member-name', text: nickname }),
        me ? el('span', { className: 'member-you', text: 'you' }) : null,
      ]);
    }));
    this.tiles.replaceChildren(...entries.map(([session, nickname]) => {
      const me = session === this.self;
      return el('li', { className: `tile${me ? ' is-self' : ''}`, data: { session: String(session) } }, [
        this._avatar(session, nickname, 'avatar-large'),
        el('span', { className: 'tile-name', text: me ? `${nickname} (you)` : nickname }),
      ]);
    }));
    this.tiles.dataset.n = String(Math.min(entries.length, 9));
    if (this.self !== null && this.members.has(this.self)) {
      this.setSelfNickname(this.members.get(this.self) ?? '');
    }
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
