// The call controls of the room page: the mute, camera and screen-share buttons, raise hand,
// the reaction picker, the grid / speaker view toggle, the camera and microphone selects, the
// call status line and a short-lived note (a reaction refused for going too fast). They only
// report the user's intent through callbacks; app.js acts on it and calls setControls() and
// setHand() with the outcome. The view choice is this browser's, kept in localStorage. The pre-join screen
// (prejoin.js) draws its own toggles and selects with the same two helpers.

import { el, role, testid } from './dom.js';

/* The view choice, per browser. */
const VIEW_KEY = 'noom.view';
/* How long a note under the controls stays. */
const NOTE_MS = 3000;

/** The view this browser chose last (grid by default). @returns {import('./room-stage.js').StageView} */
function loadView() {
  try {
    return localStorage.getItem(VIEW_KEY) === 'speaker' ? 'speaker' : 'grid';
  } catch {
    return 'grid';
  }
}

/**
 * @typedef {import('./media.js').DeviceLists} DeviceLists
 *
 * @typedef {object} ControlCallbacks
 * @property {(muted: boolean) => void} onMute
 * @property {(off: boolean) => void} onCamera
 * @property {(share: boolean) => void} onScreen
 * @property {(kind: 'audio'|'video', deviceId: string) => void} onDevice
 * @property {(raised: boolean) => void} onHand  raise or lower one's own hand
 * @property {(emoji: string) => void} onReact
 * @property {(view: import('./room-stage.js').StageView) => void} onView  grid or speaker view
 *
 * @typedef {object} ControlState
 * @property {boolean} muted
 * @property {boolean} cameraOff
 * @property {boolean} sharing
 * @property {boolean} hasAudio  a microphone is open
 * @property {boolean} hasVideo  a camera is open
 * @property {boolean} canShare  getDisplayMedia exists
 */

export class CallControls {
  /**
   * @param {HTMLElement} root  the #room-view element
   * @param {ControlCallbacks} callbacks
   */
  constructor(root, callbacks) {
    this.muteButton = /** @type {HTMLButtonElement} */ (testid(root, 'mute-button'));
    this.cameraButton = /** @type {HTMLButtonElement} */ (testid(root, 'camera-button'));
    this.screenButton = /** @type {HTMLButtonElement} */ (testid(root, 'screen-button'));
    this.cameraSelect = /** @type {HTMLSelectElement} */ (testid(root, 'camera-select'));
    this.micSelect = /** @type {HTMLSelectElement} */ (testid(root, 'mic-select'));
    this.callStatus = testid(root, 'call-status');
    this.handButton = /** @type {HTMLButtonElement} */ (testid(root, 'raise-hand'));
    this.reactionButton = /** @type {HTMLButtonElement} */ (testid(root, 'reaction-button'));
    this.picker = role(root, 'reaction-picker');
    this.viewButton = /** @type {HTMLButtonElement} */ (testid(root, 'view-toggle'));
    this.note = role(root, 'control-note');
    /** @type {ReturnType<typeof setTimeout>|null} */ this.noteTimer = null;
    this.raised = false;
    /** @type {import('./room-stage.js').StageView} */
    this.view = loadView();
    /** @type {ControlState} */
    this.state = { muted: false, cameraOff: false, sharing: false, hasAudio: false, hasVideo: false, canShare: false };

    this.muteButton.addEventListener('click', () => callbacks.onMute(!this.state.muted));
    this.cameraButton.addEventListener('click', () => callbacks.onCamera(!this.state.cameraOff));
    this.screenButton.addEventListener('click', () => callbacks.onScreen(!this.state.sharing));
    this.cameraSelect.addEventListener('change', () => callbacks.onDevice('video', this.cameraSelect.value));
    this.micSelect.addEventListener('change', () => callbacks.onDevice('audio', this.micSelect.value));
    this.handButton.addEventListener('click', () => callbacks.onHand(!this.raised));
    this.reactionButton.addEventListener('click', () => this._showPicker(this.picker.hidden !== false));
    this.picker.addEventListener('click', (e) => {
      const button = /** @type {HTMLElement} */ (e.target).closest('[data-emoji]');
      if (!(button instanceof HTMLElement)) return;
      this._showPicker(false);
      callbacks.onReact(button.dataset.emoji ?? '');
    });
    this.picker.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') {
        this._showPicker(false);
        this.reactionButton.focus();
      }
    });
    document.addEventListener('pointerdown', (e) => {
      const target = /** @type {Node} */ (e.target);
      if (!this.picker.hidden && !this.picker.contains(target) && !this.reactionButton.contains(target)) this._showPicker(false);
    });
    this.viewButton.addEventListener('click', () => {
      this.setView(this.view === 'grid' ? 'speaker' : 'grid');
      callbacks.onView(this.view);
    });
    this.setHand(false);
    this.setView(this.view);
  }

  /**
   * Whether one's own hand is up (the button's pressed state).
   * @param {boolean} raised
   */
  setHand(raised) {
    this.raised = raised;
    pressed(this.handButton, raised, raised ? 'Lower hand' : 'Raise hand');
  }

  /**
   * Grid or speaker view: the toggle shows it and this browser remembers it.
   * @param {import('./room-stage.js').StageView} view
   */
  setView(view) {
    this.view = view;
    pressed(this.viewButton, view === 'speaker', view === 'speaker' ? 'Grid view' : 'Speaker view');
    try {
      localStorage.setItem(VIEW_KEY, view);
    } catch {
      /* private mode: the choice lasts as long as the page */
    }
  }

  /**
   * A short note under the controls for a few seconds ('' hides it at once).
   * @param {string} text
   */
  showNote(text) {
    if (this.noteTimer) clearTimeout(this.noteTimer);
    this.noteTimer = null;
    this.note.textContent = text;
    this.note.hidden = text === '';
    if (text) this.noteTimer = setTimeout(() => this.showNote(''), NOTE_MS);
  }

  /** @param {boolean} open */
  _showPicker(open) {
    this.picker.hidden = !open;
    this.reactionButton.setAttribute('aria-expanded', open ? 'true' : 'false');
    if (open) /** @type {HTMLElement|null} */ (this.picker.querySelector('button'))?.focus();
  }

  /**
   * Pressed states, and what is available at all.
   * @param {ControlState} controls
   */
  set(controls) {
    this.state = { ...controls };
    const c = this.state;
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
  setStatus(text) {
    this.callStatus.textContent = text;
    this.callStatus.hidden = text === '';
  }
}

/**
 * Shows a toggle's state (aria-pressed) and the label of what a click does next.
 * @param {HTMLButtonElement} button
 * @param {boolean} on
 * @param {string} label
 */
export function pressed(button, on, label) {
  button.setAttribute('aria-pressed', on ? 'true' : 'false');
  button.title = label;
  const text = button.querySelector('.control-label');
  if (text) text.textContent = label;
}

/**
 * Fills a device select: one option per device, the one in use selected.
 * @param {HTMLSelectElement} select
 * @param {{deviceId: string, label: string}[]} devices
 * @param {string} current
 * @param {string} none  the text when there is no device
 */
export function fillSelect(select, devices, current, none) {
  const options = devices.map((d) => el('option', { text: d.label, attrs: { value: d.deviceId } }));
  if (options.length === 0) options.push(el('option', { text: none, attrs: { value: '' } }));
  select.replaceChildren(...options);
  select.disabled = devices.length < 2;
  if (current && devices.some((d) => d.deviceId === current)) select.value = current;
}
