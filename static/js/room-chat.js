// The chat panel of the room page: the log, the composer and the chat error line.
//
// Each chat-log child is one line: a notice (<div class="notice">, its text is exactly the
// notice, the time lives in an attribute) or a message (sender, time, text). Our own messages
// show at once, greyed (is-pending) until the server confirms them; a message that could not be
// sent gets a Retry button. User text only enters the page as text (dom.js el()).

import { el, role, testid, formatTime, hue, showError } from './dom.js';

/** @typedef {import('./transport.js').ChatMessage} ChatMessage */
/** @typedef {import('./roster.js').Roster} Roster */

/* Consecutive messages of one sender within this time are drawn as one group. */
const GROUP_MS = 5 * 60 * 1000;
/* The log keeps at most this many lines; older ones are dropped from the page. */
const LOG_MAX = 500;
/* "Near the bottom": new lines scroll the log only if the reader has not scrolled up. */
const STICKY_PX = 80;

export class ChatPanel {
  /**
   * @param {HTMLElement} root  the #room-view element
   * @param {Roster} roster  who is who (own messages are drawn differently)
   * @param {(text: string, clientId?: string) => void} onSend  text is not empty; clientId
   *   when a failed message is sent again
   */
  constructor(root, roster, onSend) {
    this.roster = roster;
    this.onSend = onSend;
    this.log = testid(root, 'chat-log');
    this.error = role(root, 'chat-error');
    this.composer = /** @type {HTMLFormElement} */ (role(root, 'composer'));
    this.input = /** @type {HTMLTextAreaElement} */ (testid(root, 'chat-input'));
    this.sendButton = /** @type {HTMLButtonElement} */ (testid(root, 'chat-send'));
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
    this.log.addEventListener('click', (e) => this._retry(e));
  }

  /** An empty log, for a room being joined. */
  clear() {
    this.seen.clear();
    this.pending.clear();
    this.log.replaceChildren();
  }

  /**
   * The composer works once the room is joined.
   * @param {boolean} enabled
   */
  setEnabled(enabled) {
    this.input.disabled = !enabled;
    this.sendButton.disabled = !enabled;
  }

  focus() {
    this.input.focus({ preventScroll: true });
  }

  /** @param {string} message  empty hides the error line */
  showError(message) {
    showError(this.error, message);
  }

  /**
   * A notice line. Its text is exactly `text`; the time is kept in attributes only.
   * @param {string} text
   * @param {string} kind  join | leave | rename | info | self
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
   * A message, unless the log has it already; replaces our own pending copy when there is one.
   * @param {ChatMessage} msg
   */
  addMessage(msg) {
    if (this.seen.has(msg.id)) return;
    const pending = msg.session === this.roster.self ? this.pending.get(msg.client_id) : undefined;
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
   * Shows our own message at once, greyed until the server's event confirms it.
   * @param {string} text
   * @param {string} clientId
   * @param {string} nickname
   * @param {string} room
   */
  addPending(text, clientId, nickname, room) {
    const line = this._messageLine({
      id: 0, room, session: this.roster.self ?? 0, nickname, text, ts: Date.now(),
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

  /** Whether the reader is at (or near) the end of the log. */
  nearBottom() {
    return this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < STICKY_PX;
  }

  scrollToEnd() {
    this.log.scrollTop = this.log.scrollHeight;
  }

  // ---- internals ------------------------------------------------------------------------

  _send() {
    const text = this.input.value.replace(/\s+$/u, '');
    if (!text.trim() || this.input.disabled) return;
    showError(this.error, '');
    this.input.value = '';
    this._autosize();
    this.onSend(text);
  }

  /**
   * A click in the log: the Retry button of a failed message sends it again, same client_id.
   * @param {MouseEvent} e
   */
  _retry(e) {
    const retry = /** @type {HTMLElement} */ (e.target).closest('[data-retry]');
    if (!retry) return;
    const line = /** @type {HTMLElement|null} */ (retry.closest('[data-client-id]'));
    if (!line) return;
    const text = line.querySelector('.msg-text')?.textContent ?? '';
    line.classList.remove('is-failed');
    line.classList.add('is-pending');
    retry.remove();
    this.onSend(text, line.dataset.clientId);
  }

  /**
   * @param {ChatMessage} msg
   * @param {HTMLElement} [before]  the line this one replaces (for grouping)
   */
  _messageLine(msg, before) {
    const prev = /** @type {HTMLElement|null} */ (before ? before.previousElementSibling : this.log.lastElementChild);
    const own = msg.session === this.roster.self;
    const grouped = !!prev && prev.classList.contains('msg') &&
      prev.dataset.session === String(msg.session) &&
      msg.ts - Number(prev.dataset.ts || 0) < GROUP_MS;
    const line = el('div', {
      className: `line msg${own ? ' is-own' : ''}${grouped ? ' is-grouped' : ''}`,
      data: { session: String(msg.session), ts: String(msg.ts), clientId: msg.client_id },
    }, [
      el('div', { className: 'msg-meta' }, [
        nick(msg.nickname, own ? null : hue(msg.session)),
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
    const stick = force || this.nearBottom();
    this.log.append(line);
    while (this.log.childElementCount > LOG_MAX) this.log.firstElementChild?.remove();
    if (stick) this.scrollToEnd();
  }

  _autosize() {
    this.input.style.height = 'auto';
    this.input.style.height = `${Math.min(this.input.scrollHeight, 160)}px`;
  }
}

/**
 * The sender's name on a message.
 * @param {string} nickname
 * @param {number|null} nickHue  the sender's hue, null for the default color
 */
function nick(nickname, nickHue) {
  const node = el('span', { className: 'msg-nick', text: nickname });
  if (nickHue !== null) node.style.setProperty('--nick-hue', String(nickHue));
  return node;
}
