// Noom local media: the camera and microphone of this tab, device lists, mute / camera off and
// screen sharing. No DOM access and no networking: the UI shows `stream`, the call sends
// `tracks()`, and both learn about changes through typed on* callbacks.
//
// Decisions:
// - Mute and camera off disable the track (track.enabled = false) instead of removing it: the
//   peer connection keeps its sender, the far side gets silence / black frames at almost no
//   bandwidth, and turning it back on needs no renegotiation.
// - A device switch opens the new device first and stops the old track only after that
//   succeeded, so a failing switch leaves the call as it was. The new track inherits the
//   muted / camera-off state.
// - Screen sharing replaces the video track to send (the camera keeps running, so that the way
//   back is instant; the SFU even sends it, on a feed of its own). The browser's own "Stop
//   sharing" ends the display track: `ended` brings the camera back exactly as the screen
//   button does.
// - Opening asks for both kinds, then for each kind alone: a laptop without a camera still
//   talks, and a denied permission is reported once with a sentence the UI can show.

/**
 * @typedef {'audio'|'video'} Kind
 * @typedef {{deviceId: string, label: string}} Device
 * @typedef {{audio: Device[], video: Device[]}} DeviceLists
 * @typedef {{audio: boolean, video: boolean, screen: boolean}} MediaState
 *   what the others should be told: audio = a live, unmuted microphone, video = a camera or
 *   screen being sent, screen = the screen is being sent.
 */

/** @type {MediaTrackConstraints} */
const VIDEO_CONSTRAINTS = { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 24 } };
/** @type {MediaTrackConstraints} */
const AUDIO_CONSTRAINTS = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };

export class LocalMedia {
  /** @param {MediaDevices|undefined} [devices]  navigator.mediaDevices (tests may pass another) */
  constructor(devices = globalThis.navigator?.mediaDevices) {
    this.devices = devices ?? null;
    /** The microphone. @type {MediaStreamTrack|null} */ this.audio = null;
    /** The camera (kept while sharing the screen). @type {MediaStreamTrack|null} */ this.camera = null;
    /** The shared screen. @type {MediaStreamTrack|null} */ this.screen = null;
    this.muted = false;
    this.cameraOff = false;
    /** What the preview shows: the microphone and the camera or the screen. */
    this.stream = new MediaStream();
    /** Why media is missing (a sentence), or '' when camera and microphone are both there. */
    this.problem = '';
    this.closed = false;
    this._onDeviceChange = () => this._devicesChanged();

    /** A track changed (device switch, screen share): `track` is the one of that kind to send
     * now (the camera and the screen are both here, for the SFU). @type {(kind: Kind, track: MediaStreamTrack|null) => void} */
    this.onTrack = () => {};
    /** What others should be told changed. @type {(state: MediaState) => void} */
    this.onState = () => {};
    /** The device lists changed (plugged in, permission granted). @type {(lists: DeviceLists) => void} */
    this.onDevices = () => {};
  }

  /** Whether this browser can capture at all (a page over plain HTTP off localhost cannot). */
  get supported() {
    return !!this.devices && typeof this.devices.getUserMedia === 'function';
  }

  /** Whether the screen can be shared here (no getDisplayMedia on phones). */
  get canShareScreen() {
    return !!this.devices && typeof this.devices.getDisplayMedia === 'function';
  }

  /**
   * Opens the camera and microphone (each optional). Never throws: what is missing is in
   * `problem`. Resolves with the tracks to send.
   * @returns {Promise<{audio: MediaStreamTrack|null, video: MediaStreamTrack|null}>}
   */
  async open() {
    if (!this.supported) {
      this.problem = 'This browser cannot use a camera or microphone here (it needs HTTPS).';
      return this.tracks();
    }
    this.devices?.addEventListener?.('devicechange', this._onDeviceChange);
    /** @type {unknown} */
    let firstError = null;
    /** @type {MediaStream|null} */
    let got = null;
    for (const want of [{ audio: true, video: true }, { audio: true, video: false }, { audio: false, video: true }]) {
      try {
        got = await this.devices.getUserMedia({
          audio: want.audio ? AUDIO_CONSTRAINTS : false,
          video: want.video ? VIDEO_CONSTRAINTS : false,
        });
        break;
      } catch (err) {
        firstError ??= err;
        /* Denied means denied for both: asking again for one kind only would fail the same. */
        if (errorName(err) === 'NotAllowedError' || errorName(err) === 'SecurityError') break;
      }
    }
    if (this.closed) {
      got?.getTracks().forEach((t) => t.stop());
      return this.tracks();
    }
    this.audio = got?.getAudioTracks()[0] ?? null;
    this.camera = got?.getVideoTracks()[0] ?? null;
    /* Mute and camera off may be chosen before the devices answer (the pre-join screen). */
    if (this.audio) this.audio.enabled = !this.muted;
    if (this.camera) this.camera.enabled = !this.cameraOff;
    this.problem = describeProblem(this.audio, this.camera, firstError);
    this._watchEnd(this.audio, 'audio');
    this._watchEnd(this.camera, 'video');
    this._rebuildStream();
    this._devicesChanged();
    return this.tracks();
  }

  /** The tracks to send: the microphone, and the screen or else the camera. */
  tracks() {
    return { audio: this.audio, video: this.screen ?? this.camera };
  }

  /** @returns {MediaState} */
  state() {
    return {
      audio: !!this.audio && this.audio.readyState === 'live' && !this.muted,
      video: !!this.screen || (!!this.camera && this.camera.readyState === 'live' && !this.cameraOff),
      screen: !!this.screen,
    };
  }

  /** @param {boolean} muted */
  setMuted(muted) {
    this.muted = muted;
    if (this.audio) this.audio.enabled = !muted;
    this.onState(this.state());
  }

  /** @param {boolean} off */
  setCameraOff(off) {
    this.cameraOff = off;
    if (this.camera) this.camera.enabled = !off;
    this.onState(this.state());
  }

  /**
   * The cameras and microphones, labelled (labels are empty before a permission was granted).
   * @returns {Promise<DeviceLists>}
   */
  async listDevices() {
    /** @type {DeviceLists} */
    const lists = { audio: [], video: [] };
    if (!this.devices?.enumerateDevices) return lists;
    let all = [];
    try {
      all = await this.devices.enumerateDevices();
    } catch {
      return lists;
    }
    for (const d of all) {
      const kind = d.kind === 'audioinput' ? 'audio' : d.kind === 'videoinput' ? 'video' : null;
      if (!kind || !d.deviceId) continue;
      const n = lists[kind].length + 1;
      lists[kind].push({ deviceId: d.deviceId, label: d.label || (kind === 'audio' ? `Microphone ${n}` : `Camera ${n}`) });
    }
    return lists;
  }

  /** The device id of the track of `kind` in use, or ''. @param {Kind} kind */
  currentDevice(kind) {
    const track = kind === 'audio' ? this.audio : this.camera;
    return track?.getSettings?.().deviceId ?? '';
  }

  /**
   * Switches the microphone or camera to another device. The old track is stopped only once the
   * new one is open; throws (and changes nothing) when the device cannot be opened.
   * @param {Kind} kind
   * @param {string} deviceId
   */
  async switchDevice(kind, deviceId) {
    if (!this.supported || !deviceId || deviceId === this.currentDevice(kind)) return;
    const base = kind === 'audio' ? AUDIO_CONSTRAINTS : VIDEO_CONSTRAINTS;
    const got = await /** @type {MediaDevices} */ (this.devices).getUserMedia({
      [kind]: { ...base, deviceId: { exact: deviceId } },
    });
    const track = kind === 'audio' ? got.getAudioTracks()[0] : got.getVideoTracks()[0];
    if (!track) throw new Error('The device gave no track.');
    if (this.closed) {
      track.stop();
      return;
    }
    const old = kind === 'audio' ? this.audio : this.camera;
    if (kind === 'audio') {
      track.enabled = !this.muted;
      this.audio = track;
    } else {
      track.enabled = !this.cameraOff;
      this.camera = track;
    }
    this._watchEnd(track, kind);
    this._rebuildStream();
    /* While the screen is shared the camera is not what tracks() sends, but the SFU sends it. */
    this.onTrack(kind, kind === 'audio' ? track : this.tracks().video);
    old?.stop();
    this.problem = describeProblem(this.audio, this.camera, null);
    this.onState(this.state());
  }

  /**
   * Starts sharing the screen (the browser asks which). Resolves false when the user cancelled.
   * Must be called from a user gesture (a click).
   */
  async startScreen() {
    if (!this.canShareScreen || this.screen) return !!this.screen;
    /** @type {MediaStream} */
    let got;
    try {
      got = await /** @type {MediaDevices} */ (this.devices).getDisplayMedia({ video: { frameRate: { ideal: 15 } }, audio: false });
    } catch (err) {
      if (errorName(err) === 'NotAllowedError' || errorName(err) === 'AbortError') return false;
      throw err;
    }
    const track = got.getVideoTracks()[0];
    if (!track || this.closed) {
      got.getTracks().forEach((t) => t.stop());
      return false;
    }
    /* Text on a screen matters more than motion. */
    try { track.contentHint = 'detail'; } catch { /* older browsers */ }
    this.screen = track;
    track.addEventListener('ended', () => {
      if (this.screen === track) this.stopScreen();
    });
    this._rebuildStream();
    this.onTrack('video', track);
    this.onState(this.state());
    return true;
  }

  /** Stops sharing the screen and sends the camera again. */
  stopScreen() {
    const track = this.screen;
    if (!track) return;
    this.screen = null;
    track.stop();
    this._rebuildStream();
    this.onTrack('video', this.camera);
    this.onState(this.state());
  }

  /** Stops every track (leaving the room). */
  close() {
    this.closed = true;
    this.devices?.removeEventListener?.('devicechange', this._onDeviceChange);
    for (const t of [this.audio, this.camera, this.screen]) t?.stop();
    this.audio = this.camera = this.screen = null;
    this.stream = new MediaStream();
  }

  // ---- internals ------------------------------------------------------------------------

  /* A new stream object, so that a <video> showing the old one notices the change. */
  _rebuildStream() {
    const video = this.screen ?? this.camera;
    this.stream = new MediaStream([this.audio, video].filter((t) => t !== null));
  }

  /**
   * A device unplugged (or its permission revoked) ends its track: tell the others.
   * @param {MediaStreamTrack|null} track
   * @param {Kind} kind
   */
  _watchEnd(track, kind) {
    track?.addEventListener('ended', () => {
      const current = kind === 'audio' ? this.audio : this.camera;
      if (current !== track || this.closed) return;
      this.problem = kind === 'audio' ? 'The microphone stopped.' : 'The camera stopped.';
      this.onState(this.state());
      this._devicesChanged();
    });
  }

  async _devicesChanged() {
    const lists = await this.listDevices();
    if (!this.closed) this.onDevices(lists);
  }
}

/** @param {unknown} err */
function errorName(err) {
  return err && typeof err === 'object' && 'name' in err ? String(err.name) : '';
}

/**
 * A sentence for what is missing, or ''.
 * @param {MediaStreamTrack|null} audio
 * @param {MediaStreamTrack|null} video
 * @param {unknown} err  the first getUserMedia error, if any
 */
function describeProblem(audio, video, err) {
  if (audio && video) return '';
  const name = errorName(err);
  if (!audio && !video) {
    if (name === 'NotAllowedError' || name === 'SecurityError') {
      return 'Camera and microphone are blocked. You can still chat and see and hear the others; allow them in the browser\u2019s site settings and rejoin to be seen.';
    }
    if (name === 'NotReadableError') return 'Camera and microphone are in use by another program. You can still chat and see and hear the others.';
    return 'No camera or microphone found. You can still chat and see and hear the others.';
  }
  return audio ? 'No camera found: the others hear you but cannot see you.' : 'No microphone found: the others see you but cannot hear you.';
}
