// A call on the SFU: Janus's VideoRoom instead of the mesh, for rooms past the mesh size
// (docs/DESIGN.md "Calls past the mesh"; the server side is fcgi/sfu.c). Signaling is Janus's
// own HTTP API, request and long-poll, through the page's nginx at PREFIX/janus, with Janus's
// janus.js (the Debian package, served as static/vendor/janus.js and loaded only when a call
// needs it).
//
// SfuCall has the Call interface (call.js) that the page uses, so app.js swaps one for the
// other: start(), replaceTrack(), remove(), hangup(), close(), peers, and the on* callbacks with
// the Noom session ids the stage knows (a publisher's display is its session id; the server
// kicks anyone who publishes under another's).
//
// - One publisher handle: joins the VideoRoom with the join token and the feed id GET api/call
//   gave, publishes the microphone and the camera (simulcast: three layers when the camera's
//   picture is big enough), and hears of the other publishers (joined, left, talking). A
//   microphone or camera that was not there at the start (none found, permission granted later)
//   is added to it by a renegotiation.
// - A second publisher handle while sharing the screen: the screen alone, under the screen feed
//   id GET api/call gave, display "SID:screen" (the server kicks a display that does not match
//   its id), no simulcast. The camera keeps going on the first.
// - One subscriber handle for every other publisher (multistream): joined once with the join
//   token and our private_id, then changed with "update" requests, one at a time.
//   A member's screen feed goes to the page as that member's video while it lasts (the page
//   shows one tile per member, and its media state says screen: the large tile in speaker
//   view); their camera is still received, and shows again when the share stops.
// - Quality: the HIGH_MAX most recent speakers (Janus's talking events, and whom the page itself
//   hears speaking: heard()) get the top simulcast layer, everyone else the lowest, so that a
//   big room does not download every camera in HD.
//   Screens are not simulcast: always full quality.
// - Device switches replace the track on the publisher's sender, as in the mesh; mute and
//   camera-off states go through Noom's own media events, as in the mesh.

import { CallEvents } from './call.js';

/** @typedef {import('./transport.js').CallConfig} CallConfig */
/** @typedef {import('./call.js').LocalTracks} LocalTracks */
/** @typedef {import('./call.js').PeerState} PeerState */

/* A join token lives two minutes (fcgi/sfu.c): one older than this is renewed before a join. */
const JOIN_FRESH_MS = 60000;
/* After a failed subscription, try again this much later. */
const RETRY_MS = 2000;
/* How many recent speakers are received in high quality. */
const HIGH_MAX = 4;
/* Simulcast layers (substreams) as Janus numbers them. */
const LAYER_LOW = 0;
const LAYER_HIGH = 2;
const PLUGIN = 'janus.plugin.videoroom';
/* A screen publisher's display: the session id, then this (fcgi/sfu.c). */
const SCREEN = ':screen';

/**
 * Hands `track` to janus.js, which otherwise stops the tracks it sent when a handle goes
 * (a restart, the end of a share): the page owns them.
 * @param {MediaStreamTrack} track
 */
function lend(track) {
  /** @type {any} */ (track).dontStop = true;
  return track;
}

/**
 * @typedef {object} SfuPeer  a member we receive
 * @property {number} feed  its camera and microphone feed (0: none published)
 * @property {number} screen  its screen feed (0: not sharing)
 * @property {Map<string, MediaStreamTrack>} tracks  by mid, from its camera feed
 * @property {Map<string, MediaStreamTrack>} shared  by mid, from its screen feed
 */

/** @type {Promise<any>|null} */
let janusLoaded = null;

/**
 * Loads janus.js once and initialises it. Resolves with the Janus constructor.
 * @returns {Promise<any>}
 */
export function loadJanus() {
  if (janusLoaded) return janusLoaded;
  janusLoaded = new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = new URL('static/vendor/janus.js', document.baseURI).href;
    script.onerror = () => {
      janusLoaded = null;
      reject(new Error('janus.js could not be loaded'));
    };
    script.onload = () => {
      const Janus = /** @type {any} */ (globalThis).Janus;
      const ua = navigator.userAgent;
      const browser = /Firefox\//.test(ua) ? 'firefox' : /Version\/.*Safari\//.test(ua) ? 'safari' : 'chrome';
      const version = Number((/(?:Chrome|Firefox|Version)\/(\d+)/.exec(ua) ?? [])[1]) || 0;
      Janus.init({
        debug: false,
        dependencies: Janus.useDefaultDependencies({ adapter: { browserDetails: { browser, version } } }),
        callback: () => resolve(Janus),
      });
    };
    document.head.append(script);
  });
  return janusLoaded;
}

/**
 * @typedef {object} SfuOptions
 * @property {number} self  this session's id
 * @property {() => Promise<CallConfig>} refreshConfig  a fresh call configuration (GET api/call),
 *   for a new join token
 */

export class SfuCall extends CallEvents {
  /** @param {SfuOptions} options */
  constructor(options) {
    super('noom sfu:');
    this.self = options.self;
    this.refreshConfig = options.refreshConfig;
    /** When config's join token was made (Date.now()). */
    this.configAt = 0;
    /** The subscriber handle has joined the room. */
    this._subJoined = false;
    /** Sessions whose media we receive. @type {Map<number, SfuPeer>} */
    this.peers = new Map();
    /** What we send. @type {LocalTracks} */
    this.tracks = { audio: null, video: null };
    this.started = false;
    this.ended = false;
    /** @type {any} */ this.janus = null;
    /** @type {any} */ this.pub = null;
    /** @type {any} */ this.sub = null;
    /** @type {CallConfig|null} */ this.config = null;
    /** Our publisher's private id (subscriptions are tied to it). @type {number} */
    this.privateId = 0;
    /** Publishers of the room: feed → session. @type {Map<number, number>} */
    this.feeds = new Map();
    /** Those of them that are screens. @type {Set<number>} */
    this.screens = new Set();
    /** The screen we share (null: none). @type {MediaStreamTrack|null} */
    this.screenTrack = null;
    /** Our screen's publisher handle while sharing (handle null until attached). @type {{handle: any}|null} */
    this.screenPub = null;
    /** Janus's session is up. */
    this.connected = false;
    /** Feeds subscribed (or asked for). @type {Set<number>} */
    this.subscribed = new Set();
    /** Subscriber streams by mid. @type {Map<string, {feed: number, type: string}>} */
    this.mids = new Map();
    /** Feeds to add and drop with the next "update". */
    this._add = new Set();
    /** Streams a subscribed feed added later (a camera turned on): {feed, mid} to add. @type {{feed: number, mid: string}[]} */
    this._addMids = [];
    /** The publisher mids of each subscribed feed. @type {Map<number, Set<string>>} */
    this.feedMids = new Map();
    this._drop = new Set();
    /** An update (or the first join) is being negotiated. */
    this._busy = false;
    /** Feeds by how recently they spoke, most recent first. @type {number[]} */
    this.speakers = [];
    /** The layer each subscribed video mid was last asked for. @type {Map<string, number>} */
    this.layers = new Map();

    /** The SFU is gone for good (we were kicked, or Janus went away). @type {(why: string) => void} */
    this.onEnded = () => {};
  }

  /**
   * Joins the VideoRoom and publishes `tracks`.
   * @param {CallConfig} config  with mode 'sfu' and its sfu part
   * @param {LocalTracks} tracks
   */
  start(config, tracks) {
    if (this.ended || this.started || !config.sfu) return;
    this.started = true;
    this.config = config;
    this.configAt = Date.now();
    this.tracks = { audio: tracks.audio ?? null, video: tracks.video ?? null };
    const sfu = config.sfu;
    loadJanus().then((Janus) => {
      if (this.ended) return;
      this.janus = new Janus({
        server: new URL(sfu.path, document.baseURI).href,
        token: sfu.token,
        iceServers: config.iceServers,
        iceTransportPolicy: config.iceTransportPolicy,
        success: () => {
          this.connected = true;
          this._attachPublisher();
          if (this.screenTrack) this._attachScreen();
        },
        error: (/** @type {unknown} */ err) => this._fail('Janus', err),
        destroyed: () => {},
      });
    }, (err) => this._fail('janus.js', err));
  }

  /** Nothing to do on the SFU: everyone publishes to Janus. */
  connect() {}

  /** Mesh signals are not for us (a page still on the mesh, a moment longer). */
  handleSignal() {}

  /** @param {number} session */
  has(session) {
    return this.peers.has(session);
  }

  /**
   * Sends `track` as our `kind` (a device switch): replaceTrack on the publisher's sender, no
   * renegotiation; a kind not published yet (no such device at the start) is added to the
   * publisher, or published, so that the others start receiving it.
   * @param {'audio'|'video'} kind
   * @param {MediaStreamTrack|null} track
   */
  async replaceTrack(kind, track) {
    this.tracks[kind] = track;
    /** @type {RTCPeerConnection|undefined} */
    const pc = this.pub?.webrtcStuff?.pc;
    if (!pc) {
      /* Joined with nothing to send (before the join, _publish sends what there is then). */
      if (track && this.privateId) this._publish();
      return;
    }
    let sender = false;
    for (const t of pc.getTransceivers()) {
      if (t.sender && t.receiver.track?.kind === kind && (t.direction === 'sendonly' || t.direction === 'sendrecv')) {
        sender = true;
        await t.sender.replaceTrack(track).catch((err) => this.onWarning(`replaceTrack ${kind}`, err));
      }
    }
    if (!sender && track) this._publish(false, [{ type: kind, capture: lend(track), recv: false, add: true, simulcast: kind === 'video' }]);
  }

  /**
   * Shares `track` as our screen, on a publisher of its own (the camera stays on the first),
   * or stops sharing (null): that publisher leaves and the others see our camera again.
   * @param {MediaStreamTrack|null} track
   */
  shareScreen(track) {
    if (track === this.screenTrack) return;
    this.screenTrack = track;
    if (this.ended || !this.connected) return; /* start() shares it once Janus is up */
    if (!track) {
      this._unshare();
      return;
    }
    /** @type {RTCPeerConnection|undefined} */
    const pc = this.screenPub?.handle?.webrtcStuff?.pc;
    const sender = pc?.getSenders().find((s) => s.track?.kind === 'video' || s.track === null);
    if (sender) sender.replaceTrack(lend(track)).catch((err) => this.onWarning('replaceTrack screen', err));
    else if (!this.screenPub) this._attachScreen();
  }

  /**
   * A member left: stop receiving it.
   * @param {number} session
   */
  remove(session) {
    for (const [feed, s] of this.feeds) {
      if (s === session) this._unpublished(feed);
    }
  }

  /** We leave: Janus hears it at once. @returns {Promise<void>} */
  hangup() {
    this.close();
    return Promise.resolve();
  }

  close() {
    if (this.ended) return;
    this.ended = true;
    this.screenPub = null;
    const janus = this.janus;
    this.janus = null;
    for (const session of Array.from(this.peers.keys())) this._dropPeer(session);
    try {
      if (janus) janus.destroy({ cleanupHandles: true, notifyDestroyed: false });
    } catch (err) {
      this.onWarning('destroy', err);
    }
  }

  // ---- publisher ----------------------------------------------------------------------

  _attachPublisher() {
    const sfu = /** @type {NonNullable<CallConfig['sfu']>} */ (this.config?.sfu);
    this.janus.attach({
      plugin: PLUGIN,
      success: (/** @type {any} */ handle) => {
        if (this.ended) return;
        this.pub = handle;
        handle.send({
          message: {
            request: 'join', ptype: 'publisher', room: sfu.room, id: sfu.feed,
            display: String(this.self), token: sfu.join,
          },
        });
      },
      error: (/** @type {unknown} */ err) => this._fail('attach', err),
      onmessage: (/** @type {any} */ msg, /** @type {any} */ jsep) => this._onPublisherMessage(msg, jsep),
      iceState: (/** @type {string} */ state) => {
        /* ICE gave up: publish again with new ICE credentials. */
        if (state === 'failed' && !this.ended) this._publish(true);
      },
      onlocaltrack: () => {},
      onremotetrack: () => {},
      oncleanup: () => {},
    });
  }

  /**
   * @param {any} msg
   * @param {any} jsep
   */
  _onPublisherMessage(msg, jsep) {
    if (this.ended) return;
    if (jsep) this.pub.handleRemoteJsep({ jsep });
    const kind = msg.videoroom;
    if (msg.error) {
      this._fail('VideoRoom', new Error(`${msg.error_code}: ${msg.error}`));
      return;
    }
    if (kind === 'joined') {
      this.privateId = msg.private_id;
      this._publish();
    }
    if (kind === 'talking') this._spoke(Number(msg.id));
    if (msg.leaving === 'ok' && msg.reason === 'kicked') {
      this._fail('kicked', new Error('removed from the call'));
      return;
    }
    if (Array.isArray(msg.publishers)) {
      for (const p of msg.publishers) this._published(p);
    }
    const gone = msg.unpublished ?? msg.leaving;
    if (typeof gone === 'number') this._unpublished(gone);
  }

  /**
   * Publishes our tracks (or renegotiates: `add`, tracks to add to a running publisher).
   * @param {boolean} [iceRestart]  again, with new ICE credentials
   * @param {any[]} [add]
   */
  _publish(iceRestart = false, add = undefined) {
    /** @type {any[]} */
    const tracks = add ?? [];
    if (!add && this.tracks.audio) tracks.push({ type: 'audio', capture: lend(this.tracks.audio), recv: false });
    if (!add && this.tracks.video) tracks.push({ type: 'video', capture: lend(this.tracks.video), recv: false, simulcast: true });
    if (!tracks.length) return;
    this.pub.createOffer({
      tracks: iceRestart ? undefined : tracks,
      iceRestart,
      success: (/** @type {any} */ jsep) => {
        this.pub.send({ message: { request: 'configure', audio: !!this.tracks.audio, video: !!this.tracks.video }, jsep });
      },
      error: (/** @type {unknown} */ err) => this._fail('publish', err),
    });
  }

  // ---- our screen ---------------------------------------------------------------------

  /** A second publisher for the screen: joins under our screen id, then publishes it. */
  async _attachScreen() {
    const sfu = /** @type {NonNullable<CallConfig['sfu']>} */ (this.config?.sfu);
    /** @type {{handle: any}} */
    const rec = { handle: null };
    this.screenPub = rec;
    let token = sfu.join;
    try {
      token = await this._joinToken();
    } catch (err) {
      this.onWarning('refresh the join token', err);
    }
    if (this.screenPub !== rec || this.ended) return;
    this.janus.attach({
      plugin: PLUGIN,
      success: (/** @type {any} */ handle) => {
        rec.handle = handle;
        if (this.screenPub !== rec || this.ended) {
          this._detach(rec);
          return;
        }
        handle.send({
          message: {
            request: 'join', ptype: 'publisher', room: sfu.room, id: sfu.screen,
            display: `${this.self}${SCREEN}`, token,
          },
        });
      },
      error: (/** @type {unknown} */ err) => {
        if (this.screenPub === rec) this.screenPub = null;
        this.onWarning('attach the screen', err);
      },
      onmessage: (/** @type {any} */ msg, /** @type {any} */ jsep) => {
        if (this.screenPub !== rec || this.ended) return;
        if (jsep) rec.handle.handleRemoteJsep({ jsep });
        if (msg.error) this.onWarning('screen', new Error(`${msg.error_code}: ${msg.error}`));
        else if (msg.videoroom === 'joined') this._publishScreen(rec);
      },
      iceState: (/** @type {string} */ state) => {
        /* ICE gave up: share again on a new handle. */
        if (state !== 'failed' || this.screenPub !== rec || this.ended) return;
        this._unshare();
        if (this.screenTrack) this._attachScreen();
      },
      onlocaltrack: () => {},
      onremotetrack: () => {},
      oncleanup: () => {},
    });
  }

  /** @param {{handle: any}} rec */
  _publishScreen(rec) {
    const track = this.screenTrack;
    if (!track) return;
    rec.handle.createOffer({
      tracks: [{ type: 'video', capture: lend(track), recv: false }],
      success: (/** @type {any} */ jsep) => {
        rec.handle.send({ message: { request: 'configure', audio: false, video: true }, jsep });
      },
      error: (/** @type {unknown} */ err) => this.onWarning('publish the screen', err),
    });
  }

  /** The screen publisher leaves: Janus tells the others it unpublished. */
  _unshare() {
    const rec = this.screenPub;
    this.screenPub = null;
    if (rec) this._detach(rec);
  }

  /** @param {{handle: any}} rec */
  _detach(rec) {
    try { rec.handle?.detach(); } catch { /* gone with the session */ }
  }

  // ---- the others' feeds --------------------------------------------------------------

  /**
   * A publisher of the room: its display is the Noom session, with SCREEN after it for a screen.
   * @param {any} p
   */
  _published(p) {
    const feed = Number(p.id);
    const display = String(p.display ?? '');
    const screen = display.endsWith(SCREEN);
    const session = Number(screen ? display.slice(0, -SCREEN.length) : display);
    if (!Number.isSafeInteger(session) || session <= 0 || session === this.self) return;
    this.feeds.set(feed, session);
    if (screen) this.screens.add(feed);
    const mids = Array.isArray(p.streams) ? p.streams.filter((/** @type {any} */ st) => !st.disabled).map((/** @type {any} */ st) => String(st.mid)) : [];
    if (this.subscribed.has(feed)) {
      /* A stream it added since we subscribed (Janus does not add it to subscriptions). */
      const known = this.feedMids.get(feed) ?? new Set();
      this.feedMids.set(feed, known);
      for (const mid of mids.filter((/** @type {string} */ m) => !known.has(m))) {
        known.add(mid);
        this._addMids.push({ feed, mid });
      }
      this._update();
      return;
    }
    this.feedMids.set(feed, new Set(mids));
    this.subscribed.add(feed);
    this._drop.delete(feed);
    this._add.add(feed);
    let peer = this.peers.get(session);
    const added = !peer;
    if (!peer) {
      peer = { feed: 0, screen: 0, tracks: new Map(), shared: new Map() };
      this.peers.set(session, peer);
    }
    if (screen) peer.screen = feed;
    else peer.feed = feed;
    if (added) this.onPeerAdded(session);
    this._update();
  }

  /** @param {number} feed */
  _unpublished(feed) {
    const session = this.feeds.get(feed);
    this.feeds.delete(feed);
    this.screens.delete(feed);
    this.speakers = this.speakers.filter((f) => f !== feed);
    this.feedMids.delete(feed);
    this._addMids = this._addMids.filter((a) => a.feed !== feed);
    if (this.subscribed.delete(feed)) {
      this._add.delete(feed);
      this._drop.add(feed);
      this._update();
    }
    const peer = session === undefined ? undefined : this.peers.get(session);
    if (session === undefined || !peer) return;
    if (peer.screen === feed) {
      peer.screen = 0;
      peer.shared.clear();
    }
    if (peer.feed === feed) {
      peer.feed = 0;
      peer.tracks.clear();
    }
    if (!peer.feed && !peer.screen) this._dropPeer(session);
    else this._show(session, peer);
  }

  /**
   * The page gets a member's microphone, and their screen while they share it, else their camera.
   * @param {number} session
   * @param {SfuPeer} peer
   */
  _show(session, peer) {
    const screen = Array.from(peer.shared.values()).find((t) => t.kind === 'video');
    const tracks = Array.from(peer.tracks.values()).filter((t) => !screen || t.kind !== 'video');
    if (screen) tracks.push(screen);
    this.onRemoteStream(session, new MediaStream(tracks));
  }

  /** @param {number} session */
  _dropPeer(session) {
    if (!this.peers.delete(session)) return;
    this.onPeerRemoved(session);
  }

  // ---- subscriber ---------------------------------------------------------------------

  /** Sends the subscriptions waiting, unless a negotiation is under way. */
  _update() {
    if (this.ended || this._busy || (!this._add.size && !this._addMids.length && !this._drop.size)) return;
    /** @type {{feed: number, mid?: string}[]} */
    const subscribe = [...Array.from(this._add, (feed) => ({ feed })), ...this._addMids];
    this._addMids = [];
    const unsubscribe = Array.from(this._drop, (feed) => ({ feed }));
    this._add.clear();
    this._drop.clear();
    this._busy = true;
    if (!this.sub) {
      if (!subscribe.length) {
        this._busy = false;
        return;
      }
      this._attachSubscriber(subscribe);
      return;
    }
    /** @type {any} */
    const message = { request: 'update' };
    if (subscribe.length) message.subscribe = subscribe;
    if (unsubscribe.length) message.unsubscribe = unsubscribe;
    this.sub.send({ message });
  }

  /**
   * A join token young enough for a join now (the one GET api/call gave at the start may be
   * minutes old when the first other member publishes).
   * @returns {Promise<string>}
   */
  async _joinToken() {
    const sfu = /** @type {NonNullable<CallConfig['sfu']>} */ (this.config?.sfu);
    if (Date.now() - this.configAt < JOIN_FRESH_MS) return sfu.join;
    const fresh = await this.refreshConfig();
    if (fresh.sfu && fresh.sfu.room === sfu.room) {
      sfu.join = fresh.sfu.join;
      this.configAt = Date.now();
    }
    return sfu.join;
  }

  /** @param {{feed: number}[]} streams */
  async _attachSubscriber(streams) {
    const sfu = /** @type {NonNullable<CallConfig['sfu']>} */ (this.config?.sfu);
    let token = sfu.join;
    try {
      token = await this._joinToken();
    } catch (err) {
      this.onWarning('refresh the join token', err);
    }
    if (this.ended) return;
    this.janus.attach({
      plugin: PLUGIN,
      success: (/** @type {any} */ handle) => {
        if (this.ended) return;
        this.sub = handle;
        handle.send({
          message: {
            request: 'join', ptype: 'subscriber', room: sfu.room, private_id: this.privateId,
            streams, token,
          },
        });
      },
      error: (/** @type {unknown} */ err) => this._fail('attach', err),
      onmessage: (/** @type {any} */ msg, /** @type {any} */ jsep) => this._onSubscriberMessage(msg, jsep),
      onremotetrack: (/** @type {MediaStreamTrack} */ track, /** @type {string} */ mid, /** @type {boolean} */ on) => this._onRemoteTrack(track, mid, on),
      onlocaltrack: () => {},
      oncleanup: () => {},
      webrtcState: (/** @type {boolean} */ up) => {
        for (const session of this.peers.keys()) this.onPeerState(session, up ? 'connected' : 'reconnecting');
      },
      iceState: (/** @type {string} */ state) => {
        /* ICE gave up (a network change, a starved machine): the same feeds on a new handle. */
        if (state === 'failed' && !this.ended) this._resubscribe();
      },
    });
  }

  /** Drops the subscriber handle and subscribes to every feed again on a new one, shortly. */
  _resubscribe() {
    const sub = this.sub;
    this.sub = null;
    this._subJoined = false;
    this._busy = true;
    this.layers.clear();
    try { sub?.detach(); } catch { /* gone with the session */ }
    for (const feed of this.subscribed) this._add.add(feed);
    this._addMids = [];
    this._drop.clear();
    setTimeout(() => {
      this._busy = false;
      this._update();
    }, RETRY_MS);
  }

  /**
   * @param {any} msg
   * @param {any} jsep
   */
  _onSubscriberMessage(msg, jsep) {
    if (this.ended) return;
    if (msg.error) {
      this.onWarning('subscription', new Error(`${msg.error_code}: ${msg.error}`));
      if (!this._subJoined) {
        /* The join failed (a feed gone meanwhile, a token too old): a new handle, later. */
        this._resubscribe();
        return;
      }
      /* A feed that left meanwhile: carry on with the rest. */
      this._busy = false;
      this._update();
      return;
    }
    if (msg.videoroom === 'attached') this._subJoined = true;
    if (Array.isArray(msg.streams)) {
      this.mids.clear();
      for (const s of msg.streams) {
        if (s.active !== false && s.feed_id) this.mids.set(String(s.mid), { feed: Number(s.feed_id), type: s.type });
      }
      for (const mid of Array.from(this.layers.keys())) if (!this.mids.has(mid)) this.layers.delete(mid);
    }
    if (!jsep) {
      if (msg.videoroom === 'updated' || msg.videoroom === 'attached') {
        this._busy = false;
        this._update();
      }
      return;
    }
    this.sub.createAnswer({
      jsep,
      tracks: [{ type: 'data' }],
      success: (/** @type {any} */ answer) => {
        this.sub.send({
          message: { request: 'start' }, jsep: answer,
          /* The next update only once Janus has the answer: requests travel in parallel. */
          success: () => {
            this._busy = false;
            this._layers();
            this._update();
          },
          error: (/** @type {unknown} */ err) => {
            this._busy = false;
            this.onWarning('start', err);
          },
        });
      },
      error: (/** @type {unknown} */ err) => {
        this._busy = false;
        this.onWarning('answer', err);
      },
    });
  }

  /**
   * @param {MediaStreamTrack} track
   * @param {string} mid
   * @param {boolean} on
   */
  _onRemoteTrack(track, mid, on) {
    const info = this.mids.get(String(mid));
    const session = info ? this.feeds.get(info.feed) : undefined;
    if (session === undefined) return;
    const peer = this.peers.get(session);
    if (!peer || !info) return;
    const from = this.screens.has(info.feed) ? peer.shared : peer.tracks;
    if (on) from.set(String(mid), track);
    else if (!from.delete(String(mid))) return;
    this.onPeerState(session, 'connected');
    this._show(session, peer);
  }

  // ---- quality ------------------------------------------------------------------------

  /**
   * Who the page hears speaking (speaking.js, from the audio Janus forwards): each becomes the
   * most recent speaker, as with Janus's own talking events, which Janus 1.1 does not always
   * send.
   * @param {Iterable<number>} sessions
   */
  heard(sessions) {
    for (const session of sessions) {
      const feed = this.peers.get(session)?.feed;
      if (feed !== undefined) this._spoke(feed);
    }
  }

  /** @param {number} feed */
  _spoke(feed) {
    if (!this.feeds.has(feed) || this.speakers[0] === feed) return;
    this.speakers = [feed, ...this.speakers.filter((f) => f !== feed)];
    this._layers();
  }

  /**
   * Asks Janus for the top simulcast layer of the HIGH_MAX most recent speakers and the lowest
   * of everyone else (all high while the room is that small).
   */
  _layers() {
    if (!this.sub) return;
    const high = new Set(this.speakers.slice(0, HIGH_MAX));
    const few = this.feeds.size - this.screens.size <= HIGH_MAX;
    /** @type {{mid: string, substream: number}[]} */
    const streams = [];
    for (const [mid, info] of this.mids) {
      if (info.type !== 'video' || this.screens.has(info.feed)) continue;
      const layer = few || high.has(info.feed) ? LAYER_HIGH : LAYER_LOW;
      if (this.layers.get(mid) === layer) continue;
      this.layers.set(mid, layer);
      streams.push({ mid, substream: layer });
    }
    if (streams.length) this.sub.send({ message: { request: 'configure', streams } });
  }

  /**
   * @param {string} what
   * @param {unknown} err
   */
  _fail(what, err) {
    this.onWarning(what, err);
    if (this.ended) return;
    this.onEnded(`${what}: ${err instanceof Error ? err.message : String(err)}`);
  }
}
