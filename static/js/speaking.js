// Who is speaking: the audio level of each member's stream (the remote streams of the call and
// our own microphone), measured in this page with WebAudio. Nothing of it goes to the server:
// every page measures what it receives. No DOM access; the room page shows the outcome.
//
// Decisions:
// - One AudioContext for the page and one AnalyserNode per audio track (not per stream: the
//   call hands a new MediaStream object whenever a peer's tracks change, while the audio track
//   stays the same). The analyser is not connected to the speakers: the tile's <video> plays
//   the sound. Chromium delivers a remote WebRTC track to WebAudio only while a media element
//   plays it too, which the tile does.
// - Levels are read every TICK_MS over the last ~85 ms of samples (fftSize 4096 at 48 kHz):
//   a window longer than a tick, so consecutive reads overlap and no sound falls between two
//   of them even when a timer fires late. A member speaks while their level went over
//   THRESHOLD within the last HOLD_MS: speech has pauses between words, and a tile that blinks
//   with every syllable helps nobody. Speaking starts on the first loud tick, within ~50 ms.
// - Muting is gated at once, unmuting is not waited for. When the member's media state says
//   the microphone went off (isMuted), their loud ticks are forgotten and sound is ignored
//   until both MUTE_TAIL_MS have passed and the track has been heard quiet once: what was in
//   flight when they muted (a jitter buffer that a loaded machine or a poor network stretches
//   past any fixed tail) plays out first. After that, a muted track carries silence, so sound
//   means the member unmuted: it is trusted without waiting for their media event, which
//   travels through the server and would delay the highlight by a round trip. A muted member
//   is never highlighted: the highlight needs sound heard after the mute's tail and silence.
// - The dominant speaker (for speaker view) is the loudest of those speaking, and stays so
//   while they speak: another member takes over only once the current one stopped, or is
//   clearly louder (DOMINANT_RATIO) for a while, so that the big tile does not flap.
// - An AudioContext made before any user gesture may start suspended: it is resumed on the
//   first pointer or key press, and when a remote <video> starts playing (resume()): a page
//   that went straight back into its room after a reload may see no gesture for a while.

/* How often levels are read. */
const TICK_MS = 50;
/* RMS level (0..1) over which a tick counts as speech; room noise after noise suppression sits
 * well under it. */
const THRESHOLD = 0.01;
/* A member still speaks this long after the last loud tick. */
const HOLD_MS = 900;
/* A louder speaker takes the dominant place after being this much louder for DOMINANT_MS. */
const DOMINANT_RATIO = 2;
const DOMINANT_MS = 600;
/* Samples per read: ~85 ms at 48 kHz, longer than TICK_MS (see above). */
const WINDOW = 4096;
/* Sound heard this long after a mute became known is what was in flight (the jitter buffer,
 * which a poor network stretches to a few hundred ms, and the analyser window), not speech.
 * Only an unmute this soon after a mute waits for the member's media event. */
const MUTE_TAIL_MS = 500;

/**
 * @typedef {object} Watched
 * @property {MediaStreamTrack} track
 * @property {MediaStreamAudioSourceNode} source
 * @property {AnalyserNode} analyser
 * @property {number} level  smoothed level of the last ticks
 * @property {number} loudAt  when the level was last over THRESHOLD (ms), 0 never
 * @property {boolean} muted  whether the member's media state said muted at the last look
 * @property {number} mutedAt  when that mute became known (ms), 0 never
 * @property {boolean} quiet  the track was heard quiet since the mute became known
 */

export class SpeakingDetector {
  /**
   * @param {(session: number) => boolean} isMuted  whether the member's media state says the
   *   microphone is off
   */
  constructor(isMuted) {
    this.isMuted = isMuted;
    /** @type {Map<number, Watched>} */
    this.watched = new Map();
    /** Who speaks now. @type {Set<number>} */
    this.speaking = new Set();
    /** The dominant speaker, or null. @type {number|null} */
    this.dominant = null;
    /** Since when a challenger has been clearly louder than the dominant one. */
    this._challengeSince = 0;
    /** @type {AudioContext|null} */ this._ctx = null;
    /** @type {ReturnType<typeof setInterval>|null} */ this._timer = null;
    /** @type {Float32Array<ArrayBuffer>} */ this._buf = new Float32Array(WINDOW);
    this._resume = () => { this._ctx?.resume().catch(() => {}); };

    /** Who speaks changed. @type {(speaking: Set<number>, dominant: number|null) => void} */
    this.onChange = () => {};
  }

  /**
   * Measures the audio of a member's stream (null, or a stream without audio, stops it).
   * @param {number} session
   * @param {MediaStream|null} stream
   */
  watch(session, stream) {
    const track = stream?.getAudioTracks().find((t) => t.readyState === 'live') ?? null;
    const old = this.watched.get(session);
    if (old && old.track === track) return;
    if (old) this._disconnect(session);
    if (!track) {
      this._update();
      return;
    }
    const ctx = this._context();
    if (!ctx) return;
    try {
      const source = ctx.createMediaStreamSource(new MediaStream([track]));
      const analyser = ctx.createAnalyser();
      analyser.fftSize = this._buf.length;
      source.connect(analyser);
      const muted = this.isMuted(session);
      this.watched.set(session, { track, source, analyser, level: 0, loudAt: 0, muted, mutedAt: muted ? performance.now() : 0, quiet: false });
    } catch (err) {
      console.error('noom: cannot measure the audio of', session, err);
      return;
    }
    if (!this._timer) this._timer = setInterval(() => this._tick(), TICK_MS);
  }

  /**
   * Stops measuring a member (they left, or their stream is gone).
   * @param {number} session
   */
  unwatch(session) {
    if (!this.watched.has(session)) return;
    this._disconnect(session);
    this._update();
  }

  /** Resumes a suspended AudioContext (a remote video started playing). */
  resume() {
    if (this._ctx?.state === 'suspended') this._resume();
  }

  /** A member's media state changed: a mute takes effect now, not at the next tick. */
  refresh() {
    this._update();
  }

  /** Stops everything (the room is left). */
  clear() {
    for (const session of Array.from(this.watched.keys())) this._disconnect(session);
    if (this._timer) clearInterval(this._timer);
    this._timer = null;
    this._update();
  }

  /** Reads the levels now (also called every TICK_MS). */
  _tick() {
    const now = performance.now();
    for (const [session, w] of this.watched) {
      if (w.track.readyState !== 'live') continue;
      w.analyser.getFloatTimeDomainData(this._buf);
      let sum = 0;
      for (let i = 0; i < this._buf.length; i++) sum += this._buf[i] * this._buf[i];
      const rms = Math.sqrt(sum / this._buf.length);
      this._noteMute(session, w, now);
      if (w.muted && rms <= THRESHOLD) w.quiet = true;
      if (w.muted && (now - w.mutedAt < MUTE_TAIL_MS || !w.quiet)) continue;
      w.level = Math.max(rms, w.level * 0.85);
      if (rms > THRESHOLD) w.loudAt = now;
    }
    this._update(now);
  }

  /**
   * Takes in the member's media state: a mute that just became known forgets their sound.
   * @param {number} session
   * @param {Watched} w
   * @param {number} now
   */
  _noteMute(session, w, now) {
    const muted = this.isMuted(session);
    if (muted && !w.muted) {
      w.mutedAt = now;
      w.loudAt = 0;
      w.level = 0;
      w.quiet = false;
    }
    w.muted = muted;
  }

  /** Works out who speaks and who dominates; reports a change. */
  _update(now = performance.now()) {
    /** @type {Set<number>} */
    const speaking = new Set();
    for (const [session, w] of this.watched) {
      this._noteMute(session, w, now);
      if (w.loudAt > w.mutedAt && now - w.loudAt < HOLD_MS && w.track.enabled) speaking.add(session);
    }
    let dominant = this.dominant !== null && speaking.has(this.dominant) ? this.dominant : null;
    let loudest = null;
    let loudestLevel = 0;
    for (const session of speaking) {
      const level = this.watched.get(session)?.level ?? 0;
      if (loudest === null || level > loudestLevel) {
        loudest = session;
        loudestLevel = level;
      }
    }
    if (dominant === null) {
      dominant = loudest;
      this._challengeSince = 0;
    } else if (loudest !== null && loudest !== dominant &&
               loudestLevel > DOMINANT_RATIO * (this.watched.get(dominant)?.level ?? 0)) {
      if (!this._challengeSince) this._challengeSince = now;
      if (now - this._challengeSince >= DOMINANT_MS) {
        dominant = loudest;
        this._challengeSince = 0;
      }
    } else {
      this._challengeSince = 0;
    }
    /* Speaker view keeps the last dominant speaker while nobody speaks. */
    const next = dominant ?? this.dominant;
    const changed = next !== this.dominant || speaking.size !== this.speaking.size ||
      Array.from(speaking).some((s) => !this.speaking.has(s));
    this.dominant = next;
    this.speaking = speaking;
    if (changed) {
      try {
        this.onChange(speaking, this.dominant);
      } catch (err) {
        console.error('noom: onChange failed', err);
      }
    }
  }

  /** @param {number} session */
  _disconnect(session) {
    const w = this.watched.get(session);
    this.watched.delete(session);
    if (this.dominant === session) this.dominant = null;
    try {
      w?.source.disconnect();
    } catch {
      /* already disconnected */
    }
  }

  /** The page's AudioContext, made on first use; null where WebAudio is missing. */
  _context() {
    if (this._ctx) return this._ctx;
    const Ctor = globalThis.AudioContext ?? /** @type {any} */ (globalThis).webkitAudioContext;
    if (!Ctor) return null;
    this._ctx = /** @type {AudioContext} */ (new Ctor());
    if (this._ctx.state === 'suspended') {
      globalThis.addEventListener?.('pointerdown', this._resume, { once: true, capture: true });
      globalThis.addEventListener?.('keydown', this._resume, { once: true, capture: true });
    }
    return this._ctx;
  }
}
