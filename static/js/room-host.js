// What a host sees beyond the others on the room page: who waits to be admitted (with Admit and
// Deny), and the host controls: mute everyone, lock the meeting, the waiting room, the meeting
// password, and "End meeting for all" (confirmed by an in-page button, never a browser dialog).
// Also, for everyone, the room's flags in the header ("Unlisted", "Locked").
//
// The server enforces every rule; this only shows what the room state allows and reports the
// host's intent through callbacks. app.js makes the request and the room event that follows
// (room_settings, waiting, waiting_done) brings every host's page in line, this one included.

import { el, role, testid, avatar, showError } from './dom.js';

/**
 * @typedef {import('./api.js').RoomSettings} RoomSettings
 * @typedef {import('./api.js').Waiting} Waiting
 *
 * @typedef {object} SettingsChange
 * @property {boolean} [locked]
 * @property {boolean} [waiting_room]
 * @property {string|null} [password]  null clears it
 *
 * @typedef {object} HostCallbacks
 * @property {(change: SettingsChange) => Promise<unknown>} onSettings
 * @property {() => Promise<unknown>} onMuteAll
 * @property {() => Promise<unknown>} onEnd
 * @property {(action: 'admit'|'deny', session: number) => Promise<unknown>} onWaiting
 */

/** @type {RoomSettings} */
const NO_SETTINGS = { unlisted: false, locked: false, password: false, waiting_room: false };

export class HostPanel {
  /**
   * @param {HTMLElement} root  the #room-view element
   * @param {HostCallbacks} callbacks
   */
  constructor(root, callbacks) {
    this.callbacks = callbacks;
    this.panel = role(root, 'host-panel');
    this.people = /** @type {HTMLElement} */ (this.panel.closest('.people'));
    this.flags = role(root, 'room-flags');
    this.muteAllButton = /** @type {HTMLButtonElement} */ (testid(root, 'mute-all'));
    this.lockToggle = /** @type {HTMLButtonElement} */ (testid(root, 'lock-toggle'));
    this.waitingToggle = /** @type {HTMLButtonElement} */ (testid(root, 'waiting-toggle'));
    this.passwordForm = /** @type {HTMLFormElement} */ (role(root, 'password-form'));
    this.passwordInput = /** @type {HTMLInputElement} */ (testid(root, 'password-set'));
    this.passwordStatus = role(root, 'password-status');
    this.endButton = /** @type {HTMLButtonElement} */ (testid(root, 'end-meeting'));
    this.endConfirm = role(root, 'end-confirm');
    this.confirmButton = /** @type {HTMLButtonElement} */ (testid(root, 'confirm'));
    this.error = role(root, 'host-error');
    this.waitingSection = role(root, 'waiting-section');
    this.waitingCount = role(root, 'waiting-count');
    this.waitingList = testid(root, 'waiting-list');

    /** Whether this tab's session is a host. */
    this.isHost = false;
    /** @type {RoomSettings} */
    this.settings = { ...NO_SETTINGS };
    /** @type {Map<number, string>} session → nickname of those waiting, in arrival order */
    this.waiting = new Map();

    this.muteAllButton.addEventListener('click', () => this._run(this.muteAllButton, () => callbacks.onMuteAll()));
    this.lockToggle.addEventListener('click', () =>
      this._run(this.lockToggle, () => callbacks.onSettings({ locked: !this.settings.locked })));
    this.waitingToggle.addEventListener('click', () =>
      this._run(this.waitingToggle, () => callbacks.onSettings({ waiting_room: !this.settings.waiting_room })));
    this.passwordForm.addEventListener('submit', (e) => {
      e.preventDefault();
      const password = this.passwordInput.value;
      this._run(/** @type {HTMLButtonElement} */ (testid(this.passwordForm, 'password-save')), async () => {
        await callbacks.onSettings({ password: password === '' ? null : password });
        this.passwordInput.value = '';
      });
    });
    this.endButton.addEventListener('click', () => this._confirmEnd(true));
    role(root, 'end-cancel').addEventListener('click', () => this._confirmEnd(false));
    this.confirmButton.addEventListener('click', () => this._run(this.confirmButton, () => callbacks.onEnd()));
    this.waitingList.addEventListener('click', (e) => {
      const button = /** @type {HTMLButtonElement|null} */ (
        /** @type {HTMLElement} */ (e.target).closest('button[data-action]'));
      const item = /** @type {HTMLElement|null} */ (button?.closest('[data-session]') ?? null);
      if (!button || !item) return;
      const action = button.dataset.action === 'admit' ? 'admit' : 'deny';
      this._run(button, () => callbacks.onWaiting(action, Number(item.dataset.session)));
    });
  }

  /** A room being joined: no host powers, no settings, nobody waiting, until its state says. */
  clear() {
    this.waiting.clear();
    this.settings = { ...NO_SETTINGS };
    this.passwordInput.value = '';
    this._confirmEnd(false);
    showError(this.error, '');
    this.setHost(false);
  }

  /**
   * Whether this tab's session is a host: shows or hides everything a host has.
   * @param {boolean} host
   */
  setHost(host) {
    this.isHost = host;
    this.panel.hidden = !host;
    this.people.classList.toggle('is-host', host);
    if (!host) this._confirmEnd(false);
    this._render();
  }

  /** @param {RoomSettings} settings */
  setSettings(settings) {
    this.settings = { ...NO_SETTINGS, ...settings };
    this._render();
  }

  /**
   * The whole waiting list (a host's room state).
   * @param {Waiting[]} list
   */
  setWaiting(list) {
    this.waiting = new Map(list.map((w) => [w.session, w.nickname]));
    this._render();
  }

  /**
   * @param {number} session
   * @param {string} nickname
   */
  addWaiting(session, nickname) {
    this.waiting.set(session, nickname);
    this._render();
  }

  /** @param {number} session */
  removeWaiting(session) {
    if (this.waiting.delete(session)) this._render();
  }

  /** @param {string} message  empty hides the error line */
  showError(message) {
    showError(this.error, message);
  }

  // ---- internals ------------------------------------------------------------------------

  /* The toggles, the password line, the flags and the waiting list, from the state. */
  _render() {
    const s = this.settings;
    const flags = [];
    if (s.unlisted) flags.push('Unlisted');
    if (s.locked) flags.push('Locked');
    this.flags.replaceChildren(...flags.map((f) => el('span', { className: 'room-flag', text: f })));
    pressedToggle(this.lockToggle, s.locked, s.locked ? 'Locked: nobody new can enter. Click to unlock.' : 'Lock the meeting: nobody new can enter');
    pressedToggle(this.waitingToggle, s.waiting_room, s.waiting_room ? 'Joiners wait until a host admits them. Click to let them straight in.' : 'Joiners wait until a host admits them');
    this.passwordInput.placeholder = s.password ? 'A new one (empty: none)' : 'None';
    this.passwordStatus.textContent = s.password ? 'Set: joiners must type it.' : 'Anyone with the link can enter.';

    const show = this.isHost && (s.waiting_room || this.waiting.size > 0);
    this.waitingSection.hidden = !show;
    this.waitingCount.textContent = String(this.waiting.size);
    this.waitingList.replaceChildren(...(show ? Array.from(this.waiting, ([session, nickname]) =>
      el('li', { className: 'waiting-entry', data: { session: String(session), nickname } }, [
        avatar(session, nickname, 'avatar-small'),
        el('span', { className: 'member-name', text: nickname }),
        el('span', { className: 'member-actions' }, [
          el('button', {
            className: 'member-action', text: 'Admit',
            attrs: { type: 'button', 'data-testid': 'admit-button', 'aria-label': `Admit ${nickname}` },
            data: { action: 'admit' },
          }),
          el('button', {
            className: 'member-action is-danger', text: 'Deny',
            attrs: { type: 'button', 'data-testid': 'deny-button', 'aria-label': `Deny ${nickname}` },
            data: { action: 'deny' },
          }),
        ]),
      ])) : []));
  }

  /** @param {boolean} open  show the "End for everyone?" question */
  _confirmEnd(open) {
    this.endConfirm.hidden = !open;
    this.endButton.hidden = open;
    if (open) this.confirmButton.focus();
  }

  /**
   * Runs one host request with its button disabled meanwhile; a refusal shows on the error line.
   * @param {HTMLButtonElement} button
   * @param {() => Promise<unknown>} request
   */
  async _run(button, request) {
    showError(this.error, '');
    button.disabled = true;
    try {
      await request();
    } catch (err) {
      showError(this.error, err instanceof Error ? err.message : String(err));
    } finally {
      button.disabled = false;
    }
  }
}

/**
 * A toggle's state: aria-pressed (the dot and colour follow it), and what a click does as its
 * tooltip. The label itself stays put, so the row does not jump.
 * @param {HTMLButtonElement} button
 * @param {boolean} on
 * @param {string} title
 */
function pressedToggle(button, on, title) {
  button.setAttribute('aria-pressed', on ? 'true' : 'false');
  button.title = title;
}
