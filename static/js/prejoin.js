// The pre-join screen: before entering a room the user sees the camera preview, picks the camera
// and microphone, turns them on or off, sets the name, and types the room's password when the
// server asks for one; the join button enters with those choices. For a room with a waiting
// room the same view then shows "Waiting for the host to let you in".
//
// This module only draws and reports user intent through callbacks; app.js opens the devices
// (the LocalMedia the call will send, so the stream shown here is the one the others get), talks
// to the server and says what to show.

import { role, testid, showError, afterSignals } from './dom.js';
import { nicknameProblem } from './home.js';
import { pressed, fillSelect } from './room-controls.js';

/**
 * @typedef {import('./media.js').DeviceLists} DeviceLists
 *
 * @typedef {object} PrejoinChoice
 * @property {string} nickname  trimmed, checked
 * @property {string} password  '' when the room asked for none
 *
 * @typedef {object} PrejoinCallbacks
 * @property {(choice: PrejoinChoice) => void} onJoin
 * @property {(muted: boolean) => void} onMute
 * @property {(off: boolean) => void} onCamera
 * @property {(kind: 'audio'|'video', deviceId: string) => void} onDevice
 * @property {() => void} onCancelWait  the user stops waiting for the host
 *
 * @typedef {object} PreviewControls
 * @property {boolean} muted
 * @property {boolean} cameraOff
 * @property {boolean} hasAudio  a microphone is open
 * @property {boolean} hasVideo  a camera is open
 * @property {boolean} opening  the browser is still being asked for them
 */

export class PrejoinView {
  /**
   * @param {HTMLElement} root  the #prejoin-view element
   * @param {PrejoinCallbacks} callbacks
   */
  constructor(root, callbacks) {
    this.root = root;
    this.callbacks = callbacks;
    this.ready = role(root, 'prejoin-ready');
    this.roomLine = role(root, 'prejoin-room');
    this.form = /** @type {HTMLFormElement} */ (role(root, 'prejoin-form'));
    this.nicknameInput = /** @type {HTMLInputElement} */ (testid(root, 'prejoin-nickname'));
    this.cameraSelect = /** @type {HTMLSelectElement} */ (testid(root, 'prejoin-camera-select'));
    this.micSelect = /** @type {HTMLSelectElement} */ (testid(root, 'prejoin-mic-select'));
    this.passwordField = role(root, 'password-field');
    this.passwordInput = /** @type {HTMLInputElement} */ (testid(root, 'prejoin-password'));
    this.error = testid(root, 'prejoin-error');
    this.joinButton = /** @type {HTMLButtonElement} */ (testid(root, 'prejoin-join'));
    this.preview = role(root, 'preview');
    this.video = /** @type {HTMLVideoElement} */ (testid(root, 'prejoin-preview'));
    this.micToggle = /** @type {HTMLButtonElement} */ (testid(root, 'prejoin-mic-toggle'));
    this.cameraToggle = /** @type {HTMLButtonElement} */ (testid(root, 'prejoin-camera-toggle'));
    this.status = testid(root, 'prejoin-status');
    this.waiting = testid(root, 'waiting-screen');
    this.waitingRoom = role(root, 'waiting-room-name');
    /** @type {PreviewControls} */
    this.controls = { muted: false, cameraOff: false, hasAudio: false, hasVideo: false, opening: true };
    this.previewOff = role(root, 'preview-off');
    this.busy = false;
    /** Whether the user typed in the name field since the screen opened (it then stays theirs). */
    this.nicknameEdited = false;

    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this._submit();
    });
    this.nicknameInput.addEventListener('input', () => { this.nicknameEdited = true; });
    this.micToggle.addEventListener('click', () => callbacks.onMute(!this.controls.muted));
    this.cameraToggle.addEventListener('click', () => callbacks.onCamera(!this.controls.cameraOff));
    this.cameraSelect.addEventListener('change', () => callbacks.onDevice('video', this.cameraSelect.value));
    this.micSelect.addEventListener('change', () => callbacks.onDevice('audio', this.micSelect.value));
    testid(root, 'waiting-cancel').addEventListener('click', () => callbacks.onCancelWait());
  }

  /**
   * Shows the screen for a room about to be joined.
   * @param {string} room
   * @param {{nickname: string, unlisted: boolean}} how  unlisted: a new unlisted room opens
   */
  open(room, how) {
    this.roomLine.textContent = how.unlisted ? `${room} · a new unlisted meeting` : room;
    this.nicknameInput.value = how.nickname;
    this.nicknameEdited = false;
    this.passwordInput.value = '';
    this.passwordField.hidden = true;
    showError(this.error, '');
    this.setBusy(false);
    this.ready.hidden = false;
    this.waiting.hidden = true;
    this.root.hidden = false;
    this.joinButton.focus({ preventScroll: true });
  }

  hide() {
    this.root.hidden = true;
    /* Letting go of the preview's stream takes the browser a few ms: not while a call starts. */
    afterSignals(() => {
      if (this.root.hidden) this.setStream(null);
    });
  }

  /**
   * The name the session has; the field follows unless the user has typed one.
   * @param {string} nickname
   */
  setNickname(nickname) {
    if (!this.nicknameEdited && document.activeElement !== this.nicknameInput) this.nicknameInput.value = nickname;
  }

  /**
   * The preview: the stream the call will send (null: nothing to show yet).
   * @param {MediaStream|null} stream
   */
  setStream(stream) {
    const video = stream && stream.getVideoTracks().length ? stream : null;
    if (this.video.srcObject !== video) {
      this.video.srcObject = video;
      if (video) this.video.play().catch(() => {});
    }
    this._showPreview();
  }

  /** @param {PreviewControls} controls */
  setControls(controls) {
    this.controls = { ...controls };
    const c = this.controls;
    pressed(this.micToggle, c.muted, c.muted ? 'Unmute' : 'Mute');
    this.micToggle.disabled = !c.hasAudio;
    pressed(this.cameraToggle, c.cameraOff, c.cameraOff ? 'Start video' : 'Stop video');
    this.cameraToggle.disabled = !c.hasVideo;
    this._showPreview();
  }

  /**
   * @param {DeviceLists} lists
   * @param {string} audioId  the microphone in use
   * @param {string} videoId  the camera in use
   */
  setDevices(lists, audioId, videoId) {
    fillSelect(this.micSelect, lists.audio, audioId, 'No microphone');
    fillSelect(this.cameraSelect, lists.video, videoId, 'No camera');
  }

  /** @param {string} text  what is wrong with the camera or microphone; '' hides the line */
  setStatus(text) {
    this.status.textContent = text;
    this.status.hidden = text === '';
  }

  /**
   * The room wants a password: shows the field, and why the last try failed.
   * @param {string} message
   */
  askPassword(message) {
    this.setBusy(false);
    this.passwordField.hidden = false;
    showError(this.error, message);
    this.passwordInput.select();
    this.passwordInput.focus();
  }

  /** @param {string} message  empty hides the error line */
  showError(message) {
    this.setBusy(false);
    showError(this.error, message);
  }

  /** @param {boolean} busy  a join is on its way */
  setBusy(busy) {
    this.busy = busy;
    this.joinButton.disabled = busy;
    this.joinButton.textContent = busy ? 'Joining…' : 'Join now';
  }

  /**
   * The join is waiting for a host: "Waiting for the host to let you in".
   * @param {string} room
   */
  showWaiting(room) {
    this.setBusy(false);
    this.waitingRoom.textContent = `You will enter ${room} as soon as a host admits you.`;
    this.ready.hidden = true;
    this.waiting.hidden = false;
    this.root.hidden = false;
  }

  /** Back from the waiting screen to the join form (the user may try again). */
  showReady() {
    this.waiting.hidden = true;
    this.ready.hidden = false;
  }

  // ---- internals ------------------------------------------------------------------------

  /* The video when there is a live, enabled camera; else what there is instead. */
  _showPreview() {
    const c = this.controls;
    const on = this.video.srcObject !== null && c.hasVideo && !c.cameraOff;
    this.preview.classList.toggle('has-video', on);
    this.previewOff.textContent = c.opening ? 'Starting your camera…' : c.hasVideo ? 'Your camera is off' : 'No camera';
  }

  _submit() {
    if (this.busy) return;
    const nickname = this.nicknameInput.value.trim();
    const problem = nicknameProblem(nickname);
    if (problem) {
      showError(this.error, problem);
      this.nicknameInput.focus();
      return;
    }
    const password = this.passwordField.hidden ? '' : this.passwordInput.value;
    if (!this.passwordField.hidden && password === '') {
      showError(this.error, 'Please enter the meeting password.');
      this.passwordInput.focus();
      return;
    }
    showError(this.error, '');
    this.setBusy(true);
    this.callbacks.onJoin({ nickname, password });
  }
}
