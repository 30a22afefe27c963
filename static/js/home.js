// The home page: nickname, room name + Join (listed, or a new unlisted meeting), and the live
// list of open rooms.
//
// This module only draws and reports user intent through callbacks; app.js talks to the server.

import { el, role, testid, people, showError } from './dom.js';

/** @typedef {import('./transport.js').RoomInfo} RoomInfo */

/**
 * @typedef {object} HomeCallbacks
 * @property {(room: string, unlisted: boolean) => void} onJoin  the user asked to enter a room
 *   (already trimmed); unlisted: to open a new unlisted meeting of that name
 * @property {(nickname: string) => void} onRename  the nickname field changed (already trimmed)
 * @property {(query: string, limit: number) => void} onListRooms  the room search or the page size changed
 */

/** Rooms the list shows at first, and how many more "Show more rooms" adds. */
export const ROOMS_PAGE = 50;

export const NICKNAME_MAX = 32;
export const ROOM_MAX = 64;

/**
 * Length in code points, as the server counts it.
 * @param {string} s
 */
export function codePoints(s) {
  return Array.from(s).length;
}

/**
 * Why a nickname is refused, or '' when it is fine.
 * @param {string} name  trimmed
 */
export function nicknameProblem(name) {
  if (!name) return 'Please enter a name.';
  if (codePoints(name) > NICKNAME_MAX) return `Names are at most ${NICKNAME_MAX} characters.`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/u.test(name)) return 'Names cannot contain control characters.';
  return '';
}

/**
 * Why a room name is refused, or '' when it is fine.
 * @param {string} name  trimmed
 */
export function roomProblem(name) {
  if (!name) return 'Please enter a room name.';
  if (codePoints(name) > ROOM_MAX) return `Room names are at most ${ROOM_MAX} characters.`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/u.test(name)) return 'Room names cannot contain control characters.';
  return '';
}

export class HomeView {
  /**
   * @param {HTMLElement} root  the #home-view element
   * @param {HomeCallbacks} callbacks
   */
  constructor(root, callbacks) {
    this.root = root;
    this.callbacks = callbacks;
    this.form = /** @type {HTMLFormElement} */ (role(root, 'join-form'));
    this.nicknameInput = /** @type {HTMLInputElement} */ (testid(root, 'nickname-input'));
    this.roomInput = /** @type {HTMLInputElement} */ (testid(root, 'room-input'));
    this.joinButton = /** @type {HTMLButtonElement} */ (testid(root, 'join-button'));
    this.unlistedBox = /** @type {HTMLInputElement} */ (testid(root, 'room-unlisted'));
    this.list = testid(root, 'room-list');
    this.empty = role(root, 'rooms-empty');
    this.search = /** @type {HTMLInputElement} */ (testid(root, 'room-search'));
    this.more = /** @type {HTMLButtonElement} */ (testid(root, 'rooms-more'));
    /** The list's search and size, as last asked of the server. */
    this.query = '';
    this.limit = ROOMS_PAGE;
    this._wireRoomList();
    this.joinError = role(root, 'join-error');
    this.nicknameStatus = role(root, 'nickname-status');
    /* The nickname the server has; the field is only "dirty" when it differs. */
    this.savedNickname = '';

    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this._submitJoin();
    });
    this.nicknameInput.addEventListener('change', () => this._commitNickname());
    this.nicknameInput.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') {
        /* Enter in the name field saves it and moves on to the room field. */
        e.preventDefault();
        this._commitNickname();
        this.roomInput.focus();
      }
    });
    this.list.addEventListener('click', (e) => {
      const item = /** @type {HTMLElement|null} */ (
        /** @type {HTMLElement} */ (e.target).closest('[data-room]'));
      if (item && this.list.contains(item)) this._join(item.dataset.room ?? '', false);
    });
  }

  /** Shows this view. */
  show() {
    this.root.hidden = false;
    showError(this.joinError, '');
    this.setBusy(false);
  }

  hide() {
    this.root.hidden = true;
  }

  /**
   * Sets the nickname the server has; the field follows unless the user is editing it.
   * @param {string} nickname
   */
  setNickname(nickname) {
    /* Keep what the user typed and has not saved yet (or is still typing). */
    const dirty = this.nicknameInput.value.trim() !== '' &&
      this.nicknameInput.value.trim() !== this.savedNickname;
    this.savedNickname = nickname;
    if (!dirty || this.nicknameInput.value.trim() === nickname) this.nicknameInput.value = nickname;
  }

  /** The name in the field, as typed (trimmed); the server may not have it yet. */
  get nickname() {
    return this.nicknameInput.value.trim();
  }

  /**
   * A short status under the nickname field ("Saved", an error).
   * @param {string} text
   * @param {boolean} [isError]
   */
  setNicknameStatus(text, isError = false) {
    this.nicknameStatus.textContent = text;
    this.nicknameStatus.classList.toggle('is-error', isError);
  }

  /** @param {string} message */
  showJoinError(message) {
    showError(this.joinError, message);
  }

  /** @param {boolean} busy */
  setBusy(busy) {
    this.joinButton.disabled = busy;
    this.joinButton.textContent = busy ? 'Joining…' : 'Join';
  }

  /**
   * Redraws the room list: one <li data-room data-count> per open room, in server order.
   * Existing items are updated in place so that focus and hover survive live updates.
   * @param {RoomInfo[]} rooms
   */
  renderRooms(rooms) {
    /** @type {Map<string, HTMLElement>} */
    const existing = new Map();
    for (const child of Array.from(this.list.children)) {
      existing.set(/** @type {HTMLElement} */ (child).dataset.room ?? '', /** @type {HTMLElement} */ (child));
    }
    /** @type {HTMLElement[]} */
    const items = [];
    for (const room of rooms) {
      let item = existing.get(room.name);
      existing.delete(room.name);
      if (!item) item = this._roomItem(room.name);
      item.dataset.count = String(room.count);
      const count = /** @type {HTMLElement} */ (item.querySelector('.room-item-count'));
      count.textContent = people(room.count);
      items.push(item);
    }
    for (const stale of existing.values()) stale.remove();
    items.forEach((item, i) => {
      if (this.list.children[i] !== item) this.list.insertBefore(item, this.list.children[i] ?? null);
    });
    this.empty.hidden = rooms.length > 0;
    this.empty.textContent = this.query ? `No open room has “${this.query}” in its name.` :
      'No open rooms yet. Start one on the left.';
  }

  /** The search box (debounced) and "Show more rooms" ask the server for another list. */
  _wireRoomList() {
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    let timer;
    this.search.addEventListener('input', () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        this.query = this.search.value.trim();
        this.limit = ROOMS_PAGE;
        this.callbacks.onListRooms(this.query, this.limit);
      }, 250);
    });
    this.more.addEventListener('click', () => {
      this.limit += ROOMS_PAGE;
      this.callbacks.onListRooms(this.query, this.limit);
    });
  }

  /**
   * Whether the server has more rooms than the list shows.
   * @param {boolean} more
   */
  setMore(more) {
    this.more.hidden = !more;
  }

  /** @param {string} name */
  _roomItem(name) {
    const button = el('button', { className: 'room-item-button', attrs: { type: 'button' } }, [
      el('span', { className: 'room-avatar', text: Array.from(name.trim())[0]?.toUpperCase() ?? '#', attrs: { 'aria-hidden': 'true' } }),
      el('span', { className: 'room-item-name', text: name }),
      el('span', { className: 'room-item-count' }),
      el('span', { className: 'room-item-join', text: 'Join', attrs: { 'aria-hidden': 'true' } }),
    ]);
    button.setAttribute('aria-label', `Join ${name}`);
    return el('li', { className: 'room-item', data: { room: name } }, [button]);
  }

  _commitNickname() {
    const name = this.nicknameInput.value.trim();
    if (name === this.savedNickname) {
      this.setNicknameStatus('');
      return true;
    }
    const problem = nicknameProblem(name);
    if (problem) {
      this.setNicknameStatus(problem, true);
      return false;
    }
    this.setNicknameStatus('Saving…');
    this.callbacks.onRename(name);
    return true;
  }

  _submitJoin() {
    this._join(this.roomInput.value.trim(), this.unlistedBox.checked);
  }

  /**
   * @param {string} name
   * @param {boolean} unlisted
   */
  _join(name, unlisted) {
    showError(this.joinError, '');
    if (!this._commitNickname()) {
      this.nicknameInput.focus();
      return;
    }
    const problem = roomProblem(name);
    if (problem) {
      showError(this.joinError, problem);
      this.roomInput.focus();
      return;
    }
    this.callbacks.onJoin(name, unlisted);
  }
}
