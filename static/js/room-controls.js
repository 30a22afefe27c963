// The call controls of the room page: the mute, camera and screen-share buttons, the camera and
// microphone selects, and the call status line. They only report the user's intent through
// callbacks; app.js acts on it and calls setControls() with the outcome. The pre-join screen
// (prejoin.js) draws its own toggles and selects with the same two helpers.

import { el, testid } from './dom.js';

/**
 * @typedef {import('./media.js').DeviceLists} DeviceLists
 *
 * @typedef {object} ControlCallbacks
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
    /** @type {ControlState} */
    this.state = { muted: false, cameraOff: false, sharing: false, hasAudio: false, hasVideo: false, canShare: false };

    this.muteButton.addEventListener('click', () => callbacks.onMute(!this.state.muted));
    this.cameraButton.addEventListener('click', () => callbacks.onCamera(!this.state.cameraOff));
    this.screenButton.addEventListener('click', () => callbacks.onScreen(!this.state.sharing));
    this.cameraSelect.addEventListener('change', () => callbacks.onDevice('video', this.cameraSelect.value));
    this.micSelect.addEventListener('change', () => callbacks.onDevice('audio', this.micSelect.value));
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
