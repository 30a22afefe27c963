// The chat panel of the room page: the log, the composer (with its recipient: the room or one
// member, privately), the unread count, the chat error line, and the control bar's chat toggle,
// which closes the panel (the stage and the people list get its room) and opens it again.
//
// Unread: messages of others that came while the reader could not see the end of the log (the
// panel closed, the log scrolled up, the tab hidden). The count shows as "N new messages" over
// the log and as a badge on the chat toggle; opening the panel or reaching the end of the log
// clears it. The panel is open on every load: a closed chat that stayed closed would hide what
// was said during a reload.
//
// Each chat-log child is one line: a notice (<div class="notice">, its text is exactly the
// notice, the time lives in an attribute) or a message (sender, time, text). Our own messages
// show at once, greyed (is-pending) until the server confirms them; a message that could not be
// sent gets a Retry button. A private message (only its sender and recipient get it: the
// server sees to that) is marked and says "to <name>" or "from <name> (private)".
//
// User text only enters the page as text (dom.js el()): the http(s) addresses in a message
// become links (new tab, no opener, no referrer), built as elements around text nodes.
//
// The message box is never cleared by a redraw: a reconnect, a transport switch or a resync
// redraws the log and the members, not the draft. The draft is also kept in sessionStorage per
// room, so that it survives a reload.

import { el, role, testid, formatTime, hue, showError } from './dom.js';

/** @typedef {import('./transport.js').ChatMessage} ChatMessage */
/** @typedef {import('./roster.js').Roster} Roster */

/* Consecutive messages of one sender within this time are drawn as one group. */
const GROUP_MS = 5 * 60 * 1000;
/* The log keeps at most this many lines; older ones are dropped from the page. */
const LOG_MAX = 500;
/* "Near the bottom": new lines scroll the log only if the reader has not scrolled up. */
const STICKY_PX = 80;
/* The recipient select lists this many members (as many as the people list). */
const RECIPIENTS_MAX = 200;
/* Where the draft is kept (sessionStorage, per tab like the session): {room, text}. */
const DRAFT_KEY = 'noom.draft';
/* An http(s) address in a message: up to the next space or angle bracket / quote. */
const URL_RE = /\bhttps?:\/\/[^\s<>"]+/giu;
/* Punctuation that ends a sentence rather than the address it follows. */
const URL_TRAIL_RE = /[.,;:!?'")\]}]+$/u;

export class ChatPanel {
  /**
   * @param {HTMLElement} root  the #room-view element
   * @param {Roster} roster  who is who (own messages are drawn differently)
   * @param {(text: string, clientId: string|undefined, to: number|null) => void} onSend  text
   *   is not empty; clientId when a failed message is sent again; to: the recipient of a
   *   private message, null for the room
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
    this.recipient = /** @type {HTMLSelectElement} */ (testid(root, 'private-to'));
    this.unreadButton = /** @type {HTMLButtonElement} */ (testid(root, 'chat-unread'));
    this.root = root;
    this.toggle = /** @type {HTMLButtonElement} */ (testid(root, 'chat-toggle'));
    this.toggleCount = testid(root, 'chat-toggle-count');
    /** Whether the panel is open. */
    this.open = true;
    /** Messages that came while the reader could not see the end of the log. */
    this.unread = 0;
    /** The room the draft belongs to. @type {string|null} */
    this.room = null;
    /** The log scrolls to its end at the next frame (scrollToEndSoon). */
    this.scrollDue = false;

    this.recipient.addEventListener('change', () => this._syncRecipient());
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
    this.input.addEventListener('input', () => {
      this._autosize();
      this._saveDraft();
    });
    this.log.addEventListener('click', (e) => this._retry(e));
    this.log.addEventListener('scroll', () => {
      if (this.nearBottom()) this._setUnread(0);
    }, { passive: true });
    this.unreadButton.addEventListener('click', () => {
      this.scrollToEnd();
      this._setUnread(0);
    });
    document.addEventListener('visibilitychange', () => {
      if (!document.hidden && this.open && this.nearBottom()) this._setUnread(0);
    });
    this.toggle.addEventListener('click', () => this.setOpen(!this.open));
  }

  /**
   * Opens or closes the chat panel; opening shows the end of the log and clears the count.
   * @param {boolean} open
   */
  setOpen(open) {
    this.open = open;
    this.root.classList.toggle('chat-closed', !open);
    this.toggle.setAttribute('aria-pressed', open ? 'true' : 'false');
    const label = open ? 'Hide chat' : 'Show chat';
    this.toggle.title = label;
    this.toggle.setAttribute('aria-label', this.unread ? `${label} (${this.unread} new)` : label);
    if (open) {
      this.scrollToEnd();
      this._setUnread(0);
    }
  }

  /**
   * An empty log, for a room being joined; the message box gets the draft kept for that room
   * (a reload), or keeps what it holds when it is the same room (a reconnect).
   * @param {string} room
   */
  clear(room) {
    this.seen.clear();
    this.pending.clear();
    this.log.replaceChildren();
    this._setUnread(0);
    if (room !== this.room) {
      this.room = room;
      const draft = this._loadDraft(room);
      /* Sizing the box measures the page: only when its text changes. */
      if (draft !== this.input.value) {
        this.input.value = draft;
        this._autosize();
      }
      this.recipient.value = '';
    }
  }

  /**
   * Brings the recipient select in line with the members: "Everyone", then one option per
   * other member (text: nickname, value: session id). A chosen member who left falls back to
   * everyone, with a note.
   */
  renderRecipients() {
    const roster = this.roster;
    const chosen = this.recipient.value;
    const others = roster.ordered(RECIPIENTS_MAX + 1).filter(([s]) => s !== roster.self);
    const options = [el('option', { text: 'Everyone', attrs: { value: '' } }),
      ...others.map(([session, nickname]) => el('option', { text: nickname, attrs: { value: String(session) } }))];
    const same = this.recipient.options.length === options.length &&
      options.every((o, i) => this.recipient.options[i].value === o.value && this.recipient.options[i].text === o.text);
    if (!same) this.recipient.replaceChildren(...options);
    if (chosen && !others.some(([s]) => String(s) === chosen)) {
      this.recipient.value = '';
      this._syncRecipient();
      showError(this.error, 'The person you were writing to privately has left; the message box now writes to everyone.');
    } else {
      this.recipient.value = chosen;
    }
  }

  /**
   * Writes to one member privately (the people list's "Message" button), or to everyone (null).
   * @param {number|null} session
   */
  writeTo(session) {
    this.recipient.value = session === null ? '' : String(session);
    this._syncRecipient();
    if (!this.open) this.setOpen(true);
    this.focus();
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
    const unseen = document.hidden || !this.open || !this.nearBottom();
    this._append(this._messageLine(msg));
    if (unseen && msg.session !== this.roster.self) this._setUnread(this.unread + 1);
  }

  /**
   * Shows our own message at once, greyed until the server's event confirms it.
   * @param {string} text
   * @param {string} clientId
   * @param {string} nickname
   * @param {string} room
   * @param {number|null} to  the recipient of a private message
   */
  addPending(text, clientId, nickname, room, to) {
    /** @type {ChatMessage} */
    const msg = {
      id: 0, room, session: this.roster.self ?? 0, nickname, text, ts: Date.now(),
      client_id: clientId,
    };
    if (to !== null) Object.assign(msg, { private: true, to, to_nickname: this.roster.nickname(to) });
    const line = this._messageLine(msg);
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
    if (this.scrollDue) return true;
    return this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < STICKY_PX;
  }

  scrollToEnd() {
    if (this.scrollDue) return; /* the next frame's scroll covers it */
    this.log.scrollTop = this.log.scrollHeight;
  }

  /**
   * Shows the end of the log from the next frame on, without measuring it now: a room page
   * just opened would be laid out at once for it, while its call's first signals wait. Until
   * then the log counts as at its end.
   */
  scrollToEndSoon() {
    if (this.scrollDue) return;
    this.scrollDue = true;
    requestAnimationFrame(() => {
      this.scrollDue = false;
      this.scrollToEnd();
    });
  }

  // ---- internals ------------------------------------------------------------------------

  _send() {
    const text = this.input.value.replace(/\s+$/u, '');
    if (!text.trim() || this.input.disabled) return;
    showError(this.error, '');
    this.input.value = '';
    this._autosize();
    this._saveDraft();
    const to = this.recipient.value ? Number(this.recipient.value) : null;
    this.onSend(text, undefined, to);
  }

  /* The composer shows whom it writes to (a private message is marked before it is sent). */
  _syncRecipient() {
    const to = this.recipient.value;
    this.composer.classList.toggle('is-private', to !== '');
    const name = to ? this.roster.nickname(Number(to)) : '';
    this.input.placeholder = name ? `Message ${name} privately…` : 'Write a message…';
  }

  /**
   * @param {number} n  unread messages; 0 hides the badge
   */
  _setUnread(n) {
    this.unread = n;
    this.unreadButton.hidden = n === 0;
    this.unreadButton.dataset.count = String(n);
    this.unreadButton.textContent = n === 1 ? '1 new message' : `${n} new messages`;
    this.toggleCount.hidden = n === 0;
    this.toggleCount.dataset.count = String(n);
    this.toggleCount.textContent = n > 99 ? '99+' : String(n);
    const label = this.open ? 'Hide chat' : 'Show chat';
    this.toggle.setAttribute('aria-label', n ? `${label} (${n} new)` : label);
  }

  _saveDraft() {
    try {
      if (this.input.value) sessionStorage.setItem(DRAFT_KEY, JSON.stringify({ room: this.room, text: this.input.value }));
      else sessionStorage.removeItem(DRAFT_KEY);
    } catch {
      /* storage disabled: the draft only lives in the page */
    }
  }

  /**
   * @param {string} room
   * @returns {string} the draft kept for that room, or ''
   */
  _loadDraft(room) {
    try {
      const saved = JSON.parse(sessionStorage.getItem(DRAFT_KEY) ?? 'null');
      return saved && saved.room === room && typeof saved.text === 'string' ? saved.text : '';
    } catch {
      return '';
    }
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
    this.onSend(text, line.dataset.clientId, line.dataset.to ? Number(line.dataset.to) : null);
  }

  /**
   * @param {ChatMessage} msg
   * @param {HTMLElement} [before]  the line this one replaces (for grouping)
   */
  _messageLine(msg, before) {
    const prev = /** @type {HTMLElement|null} */ (before ? before.previousElementSibling : this.log.lastElementChild);
    const own = msg.session === this.roster.self;
    const to = msg.private ? String(msg.to ?? '') : '';
    /* A private line is grouped only with private lines between the same two people. */
    const grouped = !!prev && prev.classList.contains('msg') &&
      prev.dataset.session === String(msg.session) && (prev.dataset.to ?? '') === to &&
      msg.ts - Number(prev.dataset.ts || 0) < GROUP_MS;
    const line = el('div', {
      className: `line msg${own ? ' is-own' : ''}${grouped ? ' is-grouped' : ''}${to ? ' is-private' : ''}`,
      data: { session: String(msg.session), ts: String(msg.ts), clientId: msg.client_id },
    }, [
      el('div', { className: 'msg-meta' }, [
        /* A private line names the other person instead of the sender. */
        to ? el('span', {
          className: 'msg-private',
          text: own ? `to ${msg.to_nickname ?? ''} (private)` : `from ${msg.nickname} (private)`,
        }) : nick(msg.nickname, own ? null : hue(msg.session)),
        el('time', { className: 'msg-time', text: formatTime(msg.ts), attrs: { datetime: new Date(msg.ts).toISOString() } }),
      ]),
      el('div', { className: 'msg-text' }, linkify(msg.text)),
    ]);
    if (to) {
      line.dataset.to = to;
      line.dataset.testid = 'chat-private';
    }
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
 * A message's text as nodes: the http(s) addresses in it as links, the rest as text.
 * @param {string} text
 * @returns {(Node|string)[]}
 */
export function linkify(text) {
  /** @type {(Node|string)[]} */
  const out = [];
  let last = 0;
  for (const match of text.matchAll(URL_RE)) {
    const raw = match[0].replace(URL_TRAIL_RE, '');
    const start = match.index ?? 0;
    /** @type {URL|null} */
    let url = null;
    try {
      url = new URL(raw);
    } catch {
      /* not an address after all: it stays text */
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || !url.hostname) continue;
    if (start > last) out.push(text.slice(last, start));
    out.push(el('a', {
      className: 'msg-link', text: raw,
      attrs: { href: url.href, target: '_blank', rel: 'noopener noreferrer' },
    }));
    last = start + raw.length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
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
