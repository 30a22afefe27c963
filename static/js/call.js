// Noom call: a WebRTC mesh, one RTCPeerConnection per other member, signaled through the
// mailbox (POST api/signal out, `signal` events in). No DOM access here; the UI learns about
// remote streams and connection states through typed on* callbacks.
//
// Negotiation is "perfect negotiation" (W3C WebRTC 1.0 §10.7, webrtc/samples): either side may
// make an offer at any time (tracks added, ICE restart); when two offers cross, the polite side
// (the one with the larger session id) rolls its own back and answers, the impolite side
// ignores the offer it received. Nothing else needs to know who "called" whom.
//
// Who creates a connection: a member that enters the call creates one for every member already
// in it and offers (connect()); an existing member creates its side when the first offer
// arrives. Signals that arrive before start() (the call configuration is still loading) are
// queued and replayed in order.
//
// Invariants:
// - Signals leave one request at a time, in order, so an offer leaves before its candidates;
//   what queues while a request is out leaves together in the next (SEND_BATCH at most).
//   Candidates that arrive anyway before the remote description is set are buffered and added
//   right after it (after our answer has left, when it was an offer). Incoming signals of one
//   peer are handled one after another too.
// - An offer is answered before the page is handed its media: the answer leaves first.
// - Every peer sends the same local tracks (this.tracks). Switching camera or microphone, and
//   screen sharing, go through replaceTrack(): RTCRtpSender.replaceTrack() swaps what is sent
//   without a new offer. Only a kind that was not sent before (a camera plugged in after
//   joining without one) renegotiates, and perfect negotiation takes care of that too.
// - A peer whose connection 'failed', or stayed 'disconnected' for DISCONNECT_GRACE_MS, gets an
//   ICE restart (restartIce() → negotiationneeded → an offer with new ICE credentials); it is
//   retried every RESTART_RETRY_MS while the connection is not back.
// - A peer is removed on remove() (the member left: `bye`), on a `hangup` signal, and on
//   hangup() (we leave; every peer gets a hangup first).

/** @typedef {import('./transport.js').SignalKind} SignalKind */

/**
 * @typedef {{to: number, kind: SignalKind, data?: any}} OutSignal
 * @typedef {object} Signaling  how signals leave (NoomClient.signals): one request for the
 *   list, in order, started before send() returns
 * @property {(signals: OutSignal[]) => Promise<void>} send
 *
 * @typedef {'new'|'connecting'|'connected'|'reconnecting'|'closed'} PeerState
 *
 * @typedef {object} CallOptions
 * @property {number} self  this session's id
 * @property {Signaling} signaling
 * @property {typeof RTCPeerConnection} [RTCPeerConnection]  (tests may wrap it)
 * @property {() => Promise<CallConfigLike>} [refreshConfig]  fresh ICE servers (TURN
 *   credentials expire: an ICE restart after their lifetime needs new ones)
 *
 * @typedef {object} CallConfigLike
 * @property {RTCIceServer[]} iceServers
 * @property {RTCIceTransportPolicy} [iceTransportPolicy]  'relay': TURN only
 * @property {number} [ttl]  seconds the TURN credentials in iceServers are valid
 *
 * @typedef {{audio: MediaStreamTrack|null, video: MediaStreamTrack|null}} LocalTracks
 */

/* How long 'disconnected' may last before an ICE restart (it often heals by itself). */
const DISCONNECT_GRACE_MS = 4000;
/* While not connected after a restart, restart again this often. */
const RESTART_RETRY_MS = 12000;
/* Signals kept while the call is not started yet (a set-up sends a few dozen per peer). */
const QUEUE_MAX = 500;
/* Peers restarting together share one configuration request made within this time. */
const REFRESH_SHARE_MS = 10000;
/* TURN credentials are renewed when this share of their lifetime has passed. */
const RENEW_AT = 0.75;

/* Signals in one request (the server takes 32), and their bytes (the body limit is 64 KiB). */
const SEND_BATCH = 32;
const SEND_BYTES = 48 * 1024;

/** @type {('audio'|'video')[]} */
const KINDS = ['audio', 'video'];

/** One other member of the call and our connection to it. */
class Peer {
  /**
   * @param {Call} call
   * @param {number} session
   * @param {boolean} initiator  we make the first offer (we are the newcomer)
   * @param {WarmOffer|null} [warm]  a connection whose offer is made already (initiator only)
   */
  constructor(call, session, initiator, warm = null) {
    this.call = call;
    this.session = session;
    /* The polite peer yields when offers collide; the larger session id is polite. */
    this.polite = call.self > session;
    this.makingOffer = false;
    this.ignoreOffer = false;
    this.settingRemoteAnswer = false;
    /** Candidates that came before the remote description. @type {RTCIceCandidateInit[]} */
    this.pendingCandidates = [];
    /** Tail of the incoming signal queue. @type {Promise<void>} */
    this.inbox = Promise.resolve();
    /** What the remote sends us; a new MediaStream object each time a track is added. */
    this.stream = new MediaStream();
    /** Remote tracks whose mute/unmute we listen to. @type {WeakSet<MediaStreamTrack>} */
    this.watched = new WeakSet();
    /** @type {PeerState} */
    this.state = 'new';
    this.closed = false;
    /** @type {ReturnType<typeof setTimeout>|null} */ this.graceTimer = null;
    /** @type {ReturnType<typeof setTimeout>|null} */ this.retryTimer = null;
    this.restarts = 0;
    /* While an offer is being answered, its remote media is kept for the page until the answer
     * has left: the track events fire inside setRemoteDescription, and drawing the tile there
     * would hold the answer back. */
    this.answering = false;
    this.streamDue = false;

    const Ctor = call.RTCPeerConnection;
    /** @type {RTCConfiguration} */
    const config = { iceServers: call.iceServers };
    if (call.iceTransportPolicy) config.iceTransportPolicy = call.iceTransportPolicy;
    /* A warm connection gathers nothing before its offer is set: its ICE servers come now. */
    const pc = warm ? warm.pc : new Ctor(config);
    if (warm) pc.setConfiguration({ ...pc.getConfiguration(), ...config });
    this.pc = pc;

    pc.onnegotiationneeded = () => this._negotiate();
    pc.onicecandidate = (e) => {
      /* null is end-of-candidates: the other side does not need it for trickle to work. */
      if (e.candidate && e.candidate.candidate) this.send('candidate', e.candidate.toJSON());
    };
    pc.ontrack = (e) => this._onTrack(e);
    pc.onconnectionstatechange = () => this._onConnectionState();

    /* Tracks go in before any remote description: on the answering side, addTrack()'s
     * transceivers are then matched to the offer's m-lines, and the answer already sends. */
    if (warm && warm.offer) {
      /* Incoming signals (the answer) wait until the offer is set. */
      this.inbox = this._offerWarm(warm.offer);
      return;
    }
    for (const kind of KINDS) {
      const track = call.tracks[kind];
      if (track) pc.addTrack(track, call.localStream);
      else if (initiator) pc.addTransceiver(kind, { direction: 'recvonly' });
    }
    /* The newcomer offers now rather than on negotiationneeded, a task later: the browser makes
     * the offer while the page draws the room. (negotiationneeded then finds nothing to do.) */
    if (initiator) this._negotiate();
  }

  // ---- signaling out ---------------------------------------------------------------------

  /**
   * Queues one signal to this peer (Call._send).
   * @param {SignalKind} kind
   * @param {any} [data]
   */
  send(kind, data) {
    this.call._send({ to: this.session, kind, data });
  }

  async _negotiate() {
    const pc = this.pc;
    try {
      this.makingOffer = true;
      await pc.setLocalDescription();
      const desc = pc.localDescription;
      if (this.closed || !desc || desc.type !== 'offer') return;
      this.send('offer', { type: desc.type, sdp: desc.sdp });
    } catch (err) {
      if (!this.closed) this.call._warn(`offer to ${this.session} failed`, err);
    } finally {
      this.makingOffer = false;
    }
  }

  /**
   * Sends the offer made before the join answer (WarmOffer) at once, then sets it: the
   * browser gathers candidates and the page draws the room while the offer travels.
   * @param {RTCSessionDescriptionInit} offer
   */
  async _offerWarm(offer) {
    this.makingOffer = true;
    this.send('offer', { type: 'offer', sdp: offer.sdp });
    try {
      await this.pc.setLocalDescription(offer);
    } catch (err) {
      if (!this.closed) this.call._warn(`offer to ${this.session} failed`, err);
    } finally {
      this.makingOffer = false;
    }
  }

  // ---- signaling in ----------------------------------------------------------------------

  /**
   * Queues one incoming signal; they are handled one after another.
   * @param {SignalKind} kind
   * @param {any} data
   */
  receive(kind, data) {
    this.inbox = this.inbox.then(() => this._receive(kind, data)).catch((err) => {
      if (!this.closed) this.call._warn(`${kind} from ${this.session} failed`, err);
    });
    return this.inbox;
  }

  /**
   * @param {SignalKind} kind
   * @param {any} data
   */
  async _receive(kind, data) {
    if (this.closed) return;
    if (kind === 'offer' || kind === 'answer') {
      if (!data || typeof data.sdp !== 'string') return;
      await this._description({ type: kind, sdp: data.sdp });
    } else if (kind === 'candidate') {
      if (!data || typeof data.candidate !== 'string') return;
      await this._candidate(data);
    }
  }

  /** @param {RTCSessionDescriptionInit} desc */
  async _description(desc) {
    const pc = this.pc;
    /* An answer to our offer may be on its way in while we are already stable again
     * (settingRemoteAnswer): then an offer is not a collision. */
    const readyForOffer = !this.makingOffer &&
      (pc.signalingState === 'stable' || this.settingRemoteAnswer);
    const collision = desc.type === 'offer' && !readyForOffer;
    this.ignoreOffer = !this.polite && collision;
    if (this.ignoreOffer) return;
    if (desc.type === 'answer' && pc.signalingState !== 'have-local-offer') {
      return; /* a duplicate (retried POST) or an answer to an offer we rolled back */
    }
    this.settingRemoteAnswer = desc.type === 'answer';
    this.answering = desc.type === 'offer';
    try {
      try {
        /* On a collision the polite side rolls its own offer back implicitly here. */
        await pc.setRemoteDescription(desc);
      } finally {
        this.settingRemoteAnswer = false;
      }
      this.call._checkAnswered();
      if (desc.type === 'offer') {
        /* The answer leaves as soon as it is made; setting it (which starts gathering our
         * candidates, sent after it) takes the browser a few ms more. */
        const answer = await pc.createAnswer();
        if (!this.closed) this.send('answer', { type: 'answer', sdp: answer.sdp });
        await pc.setLocalDescription(answer);
      }
    } finally {
      this._releaseStream();
    }
    /* Candidates that came early need only the remote description: they go in after the
     * answer has left. */
    await this._flushCandidates();
  }

  /* Hands the remote media kept while answering to the page. */
  _releaseStream() {
    this.answering = false;
    if (!this.streamDue || this.closed) return;
    this.streamDue = false;
    this.call.onRemoteStream(this.session, this.stream);
  }

  /** @param {RTCIceCandidateInit} candidate */
  async _candidate(candidate) {
    if (!this.pc.remoteDescription) {
      this.pendingCandidates.push(candidate);
      return;
    }
    await this._addCandidate(candidate);
  }

  async _flushCandidates() {
    const list = this.pendingCandidates;
    this.pendingCandidates = [];
    for (const c of list) await this._addCandidate(c);
  }

  /** @param {RTCIceCandidateInit} candidate */
  async _addCandidate(candidate) {
    try {
      await this.pc.addIceCandidate(candidate);
    } catch (err) {
      /* Candidates of an offer we ignored, or of an ICE generation already gone, fail here. */
      if (!this.ignoreOffer && !this.closed) this.call._warn(`candidate from ${this.session} refused`, err);
    }
  }

  // ---- media -----------------------------------------------------------------------------

  /** @param {RTCTrackEvent} e */
  _onTrack(e) {
    const track = e.track;
    const tracks = this.stream.getTracks().filter((t) => t.kind !== track.kind || t === track);
    if (!tracks.includes(track)) tracks.push(track);
    /* A new stream object, so that a <video> showing the old one notices the change. */
    this.stream = new MediaStream(tracks);
    if (this.answering) this.streamDue = true;
    else this.call.onRemoteStream(this.session, this.stream);
    if (!this.watched.has(track)) {
      this.watched.add(track);
      track.addEventListener('unmute', () => this.call.onRemoteTrack(this.session, track));
      track.addEventListener('mute', () => this.call.onRemoteTrack(this.session, track));
    }
  }

  /**
   * The transceiver that carries `kind` to this peer: ours from addTrack/addTransceiver, or the
   * one the remote offer created.
   * @param {'audio'|'video'} kind
   */
  _transceiver(kind) {
    const list = this.pc.getTransceivers().filter((t) => t.currentDirection !== 'stopped' && t.direction !== 'stopped');
    return list.find((t) => t.sender.track?.kind === kind) ??
      list.find((t) => t.receiver.track?.kind === kind) ?? null;
  }

  /**
   * Sends `track` instead of what was sent so far; renegotiates only when nothing of this kind
   * was being sent at all.
   * @param {'audio'|'video'} kind
   * @param {MediaStreamTrack|null} track
   */
  async replaceTrack(kind, track) {
    if (this.closed) return;
    const t = this._transceiver(kind);
    if (!t) {
      if (track) this.pc.addTrack(track, this.call.localStream);
      return;
    }
    await t.sender.replaceTrack(track);
    if (track && (t.direction === 'recvonly' || t.direction === 'inactive')) {
      /* The sender had no track when negotiated: it must now be announced (stream id too). */
      t.sender.setStreams?.(this.call.localStream);
      t.direction = 'sendrecv';
    }
  }

  // ---- connection state and ICE restart -------------------------------------------------

  _onConnectionState() {
    const s = this.pc.connectionState;
    if (s === 'connected') {
      this._clearTimers();
      this.restarts = 0;
      this._setState('connected');
    } else if (s === 'disconnected') {
      this._setState('reconnecting');
      if (!this.graceTimer) {
        this.graceTimer = setTimeout(() => {
          this.graceTimer = null;
          if (this.pc.connectionState === 'disconnected') this.restartIce();
        }, DISCONNECT_GRACE_MS);
      }
    } else if (s === 'failed') {
      this._setState('reconnecting');
      this.restartIce();
    } else if (s === 'connecting' || s === 'new') {
      if (this.state !== 'reconnecting') this._setState('connecting');
    }
  }

  /**
   * New ICE servers (renewed TURN credentials) for this connection, and new candidates gathered
   * with them: an ICE restart, without the retries of restartIce (nothing is broken).
   * @param {RTCIceServer[]} servers
   */
  renew(servers) {
    if (this.closed) return;
    try {
      this.pc.setConfiguration({ ...this.pc.getConfiguration(), iceServers: servers });
      this.pc.restartIce();
    } catch (err) {
      this.call._warn('cannot renew the ICE servers', err);
    }
  }

  /** Starts an ICE restart now, and again later while the connection is not back. */
  restartIce() {
    if (this.closed) return;
    this.restarts++;
    this.call.onIceRestart(this.session, this.restarts);
    /* New TURN credentials first: the ones from the start of the call may have expired, and
     * coturn checks them at every allocation. Restart either way. */
    this.call._freshIceServers().then((servers) => {
      if (this.closed || !servers) return;
      try {
        this.pc.setConfiguration({ ...this.pc.getConfiguration(), iceServers: servers });
      } catch (err) {
        this.call._warn('cannot update the ICE servers', err);
      }
    }).finally(() => {
      if (!this.closed) this.pc.restartIce();
    });
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.closed && this.pc.connectionState !== 'connected') this.restartIce();
    }, RESTART_RETRY_MS);
  }

  /** @param {PeerState} state */
  _setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.call.onPeerState(this.session, state);
  }

  _clearTimers() {
    if (this.graceTimer) clearTimeout(this.graceTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.graceTimer = null;
    this.retryTimer = null;
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    this._clearTimers();
    this.pc.onnegotiationneeded = null;
    this.pc.onicecandidate = null;
    this.pc.ontrack = null;
    this.pc.onconnectionstatechange = null;
    this.pc.close();
    this.state = 'closed';
  }
}

/**
 * A connection with the local tracks and its offer, made before the peer is known (on the
 * pre-join screen, the camera being open): the newcomer's first offer then leaves as soon as the
 * join answer names the member to send it to, without waiting for the browser to make it.
 * createOffer() gathers no candidates, so the ICE servers of the join answer still apply.
 */
export class WarmOffer {
  /**
   * @param {LocalTracks} tracks
   * @param {MediaStream} stream  groups the tracks on the far side (every connection of a call
   *   uses the same one)
   * @param {typeof RTCPeerConnection} [Ctor]
   */
  constructor(tracks, stream, Ctor = globalThis.RTCPeerConnection) {
    this.tracks = { audio: tracks.audio ?? null, video: tracks.video ?? null };
    this.stream = stream;
    this.pc = new Ctor();
    for (const kind of KINDS) {
      const track = this.tracks[kind];
      if (track) this.pc.addTrack(track, this.stream);
      else this.pc.addTransceiver(kind, { direction: 'recvonly' });
    }
    /** The offer, once made. @type {RTCSessionDescriptionInit|null} */
    this.offer = null;
    this.used = false;
    this.pc.createOffer().then((offer) => { this.offer = offer; }, () => {});
  }

  /**
   * Whether a call sending `tracks` can use it now (the offer is made, nothing changed).
   * @param {LocalTracks} tracks
   */
  fits(tracks) {
    return this.offer !== null && this.sends(tracks);
  }

  /**
   * Whether it is not taken and sends `tracks` (its offer may still be on its way).
   * @param {LocalTracks} tracks
   */
  sends(tracks) {
    return !this.used && this.tracks.audio === (tracks.audio ?? null) && this.tracks.video === (tracks.video ?? null);
  }

  /** Closes the connection unless a peer took it. */
  close() {
    if (this.used) return;
    this.used = true;
    this.pc.close();
  }

  /**
   * n of them, for a room with n members in the call before us.
   * @param {LocalTracks} tracks
   * @param {number} n
   * @returns {WarmOffer[]}
   */
  static make(tracks, n) {
    const stream = new MediaStream();
    return Array.from({ length: n }, () => new WarmOffer(tracks, stream));
  }
}

/**
 * What a call tells the room page, the same for the mesh (Call) and the SFU (SfuCall, sfu.js):
 * each callback is optional; replace them after construction.
 */
export class CallEvents {
  /** @param {string} label  how warnings are marked in the console */
  constructor(label) {
    /** A peer's remote media (a new stream object when tracks were added). @type {(session: number, stream: MediaStream) => void} */
    this.onRemoteStream = () => {};
    /** A remote track was muted or unmuted (no media flowing / flowing again). @type {(session: number, track: MediaStreamTrack) => void} */
    this.onRemoteTrack = () => {};
    /** @type {(session: number, state: PeerState) => void} */
    this.onPeerState = () => {};
    /** A peer was created (by connect() or an incoming offer). @type {(session: number) => void} */
    this.onPeerAdded = () => {};
    /** A peer is gone (left, hung up). @type {(session: number) => void} */
    this.onPeerRemoved = () => {};
    /** @type {(session: number, attempt: number) => void} */
    this.onIceRestart = () => {};
    /** Something went wrong that the call survives. @type {(message: string, err: unknown) => void} */
    this.onWarning = (message, err) => console.warn(label, message, err);
  }
}

/** The mesh: one Peer per other member of the call. */
export class Call extends CallEvents {
  /** @param {CallOptions} options */
  constructor(options) {
    super('noom call:');
    this.self = options.self;
    this.signaling = options.signaling;
    this.RTCPeerConnection = options.RTCPeerConnection ?? globalThis.RTCPeerConnection;
    this.refreshConfig = options.refreshConfig ?? null;
    /** @type {{at: number, servers: Promise<RTCIceServer[]|null>}|null} */
    this._refresh = null;
    /** Seconds the current TURN credentials are valid (0: none to renew). */
    this.ttl = 0;
    /** @type {ReturnType<typeof setTimeout>|null} */
    this._renewTimer = null;
    /** Renewals of the TURN credentials so far. */
    this.renewals = 0;
    /** @type {RTCIceServer[]} */ this.iceServers = [];
    /** @type {RTCIceTransportPolicy|undefined} */ this.iceTransportPolicy = undefined;
    /** What every peer is sent. @type {LocalTracks} */
    this.tracks = { audio: null, video: null };
    /** Groups our tracks on the far side (its id is the msid in our SDP). */
    this.localStream = new MediaStream();
    /** @type {Map<number, Peer>} */
    this.peers = new Map();
    this.started = false;
    this.ended = false;
    /** Signals received before start(). @type {{from: number, kind: SignalKind, data: any}[]} */
    this._queue = [];
    /** Connections made before the join answer, for connect() to take. @type {WarmOffer[]} */
    this._warm = [];
    /** While set, signals queue without a request (connectAll sends its offers in one). */
    this._corked = false;
    /** Signals waiting for the request out to finish. @type {OutSignal[]} */
    this._outbox = [];
    this._sending = false;
    /** Waiting for every connection's remote description (answered()). @type {(() => void)[]} */
    this._answerWaiters = [];
  }

  /**
   * Resolves once every connection has the other side's description (the offers of our
   * connect() are answered), or the call ended.
   * @returns {Promise<void>}
   */
  answered() {
    if (this._allAnswered()) return Promise.resolve();
    return new Promise((resolve) => this._answerWaiters.push(resolve));
  }

  _allAnswered() {
    return this.ended || Array.from(this.peers.values()).every((p) => p.closed || p.pc.remoteDescription !== null);
  }

  /* A remote description was set, or a connection closed: wakes answered() when all are in. */
  _checkAnswered() {
    if (this._answerWaiters.length === 0 || !this._allAnswered()) return;
    const waiters = this._answerWaiters;
    this._answerWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /**
   * Starts the call with the ICE configuration and the tracks to send; replays the signals
   * that came in before. connect() takes the `warm` connections that fit the tracks, one
   * each (the caller closes them afterwards: a no-op once taken).
   * @param {CallConfigLike} config
   * @param {LocalTracks} tracks
   * @param {WarmOffer[]} [warm]
   */
  start(config, tracks, warm = []) {
    if (this.ended || this.started) return;
    this.iceServers = config.iceServers ?? [];
    this.iceTransportPolicy = config.iceTransportPolicy;
    this.tracks = { audio: tracks.audio ?? null, video: tracks.video ?? null };
    this._warm = warm.filter((w) => w.fits(this.tracks));
    if (this._warm.length) this.localStream = this._warm[0].stream;
    this.started = true;
    this._scheduleRenewal(config.ttl ?? 0);
    const queued = this._queue;
    this._queue = [];
    for (const s of queued) this.handleSignal(s.from, s.kind, s.data);
  }

  /**
   * Connects to a member that was in the call before us: we create the connection and offer.
   * Nothing happens if a connection to it exists already.
   * @param {number} session
   */
  connect(session) {
    if (!this.started || this.ended || session === this.self || this.peers.has(session)) return;
    const warm = this._warm.shift() ?? null;
    if (warm) warm.used = true;
    this._add(session, true, warm);
  }

  /**
   * Connects to several members at once; their offers (those made already) leave together.
   * @param {number[]} sessions
   */
  connectAll(sessions) {
    this._corked = true;
    try {
      for (const session of sessions) this.connect(session);
    } finally {
      this._corked = false;
    }
    if (!this._sending) this._flush();
  }

  /** @param {number} session */
  has(session) {
    return this.peers.has(session);
  }

  /**
   * An incoming `signal` event.
   * @param {number} from
   * @param {SignalKind} kind
   * @param {any} data
   */
  handleSignal(from, kind, data) {
    if (this.ended || from === this.self) return;
    if (!this.started) {
      if (this._queue.length < QUEUE_MAX) this._queue.push({ from, kind, data });
      return;
    }
    if (kind === 'hangup') {
      this.remove(from);
      return;
    }
    let peer = this.peers.get(from);
    if (!peer) {
      /* Only an offer opens a connection; a stray candidate or answer belongs to one that
       * is gone (we hung up on it, or it was replaced). */
      if (kind !== 'offer') return;
      peer = this._add(from, false);
    }
    peer.receive(kind, data);
  }

  /**
   * Sends `track` as this call's `kind` to every peer (device switch, screen share, a track
   * that ended). No renegotiation unless the kind was not sent at all before.
   * @param {'audio'|'video'} kind
   * @param {MediaStreamTrack|null} track
   */
  async replaceTrack(kind, track) {
    this.tracks[kind] = track;
    const work = [];
    for (const peer of this.peers.values()) {
      work.push(peer.replaceTrack(kind, track).catch((err) => this._warn(`replaceTrack to ${peer.session}`, err)));
    }
    await Promise.all(work);
  }

  /**
   * Closes the connection to a member (it left).
   * @param {number} session
   */
  remove(session) {
    const peer = this.peers.get(session);
    if (!peer) return;
    this.peers.delete(session);
    peer.close();
    this.onPeerRemoved(session);
    this._checkAnswered();
  }

  /**
   * We leave: every peer gets a hangup, then all connections close. Resolves when the hangups
   * have been sent (or failed); the connections are closed at once.
   * @returns {Promise<void>}
   */
  hangup() {
    /** @type {OutSignal[]} */
    const hangups = Array.from(this.peers.keys(), (to) => ({ to, kind: 'hangup' }));
    this._outbox = [];
    this.close();
    return hangups.length ? this.signaling.send(hangups).catch(() => {}) : Promise.resolve();
  }

  /**
   * Queues a signal. One request is out at a time; what queues meanwhile (a set-up's
   * candidates, to one peer or several) leaves together in the next, in order.
   * @param {OutSignal} signal
   */
  _send(signal) {
    if (this.ended) return;
    this._outbox.push(signal);
    if (!this._sending && !this._corked) this._flush();
  }

  /* Sends what is queued, up to SEND_BATCH signals and SEND_BYTES; again when it is done. */
  _flush() {
    let bytes = 0;
    let n = 0;
    while (n < this._outbox.length && n < SEND_BATCH) {
      bytes += JSON.stringify(this._outbox[n].data ?? null).length;
      if (n > 0 && bytes > SEND_BYTES) break;
      n++;
    }
    const batch = this._outbox.splice(0, n);
    this._sending = batch.length > 0;
    if (!this._sending) return;
    this.signaling.send(batch).catch((err) => {
      if (!this.ended) this._warn(`cannot send ${batch.map((s) => `${s.kind} to ${s.to}`).join(', ')}`, err);
    }).then(() => this._flush());
  }

  /**
   * TURN credentials expire (the server hands them out for `ttl` seconds, 10 minutes by
   * default) and coturn checks them whenever a relay is allocated or refreshed: before they do,
   * fetch fresh ones and let every peer gather new relays with them (an ICE restart, which
   * keeps media flowing on the old path until the new one is chosen). A call longer than the
   * credentials' lifetime keeps its media.
   * @param {number} ttl
   */
  _scheduleRenewal(ttl) {
    if (this._renewTimer) clearTimeout(this._renewTimer);
    this._renewTimer = null;
    this.ttl = ttl;
    const turn = this.iceServers.some((s) => s.credential);
    if (this.ended || !this.refreshConfig || !turn || !(ttl > 0)) return;
    this._renewTimer = setTimeout(() => this._renew(), Math.max(5, ttl * RENEW_AT) * 1000);
  }

  _renew() {
    this._renewTimer = null;
    if (this.ended) return;
    this._refresh = null; /* a fresh request, not one shared with an earlier restart */
    this._freshIceServers().then((servers) => {
      if (this.ended) return;
      if (servers) {
        this.renewals++;
        for (const peer of this.peers.values()) peer.renew(servers);
      }
      this._scheduleRenewal(servers ? this.ttl : Math.max(10, this.ttl / 4));
    });
  }

  /** Closes every connection without telling anyone (the session is gone anyway). */
  close() {
    if (this._renewTimer) clearTimeout(this._renewTimer);
    this._renewTimer = null;
    this.ended = true;
    this._queue = [];
    for (const session of Array.from(this.peers.keys())) this.remove(session);
    this._checkAnswered();
  }

  /**
   * @param {number} session
   * @param {boolean} initiator
   * @param {WarmOffer|null} [warm]
   */
  _add(session, initiator, warm = null) {
    const peer = new Peer(this, session, initiator, warm);
    this.peers.set(session, peer);
    this.onPeerAdded(session);
    return peer;
  }

  /**
   * Fresh ICE servers from refreshConfig (shared by peers asking within REFRESH_SHARE_MS), or
   * null when there is no way to get them or the request failed.
   * @returns {Promise<RTCIceServer[]|null>}
   */
  _freshIceServers() {
    const refresh = this.refreshConfig;
    if (!refresh) return Promise.resolve(null);
    const now = Date.now();
    if (!this._refresh || now - this._refresh.at > REFRESH_SHARE_MS) {
      const servers = refresh().then((config) => {
        this.iceServers = config.iceServers ?? [];
        if (config.ttl) this.ttl = config.ttl;
        return this.iceServers;
      }, (err) => {
        this._warn('cannot refresh the ICE servers', err);
        return null;
      });
      this._refresh = { at: now, servers };
    }
    return this._refresh.servers;
  }

  /**
   * @param {string} message
   * @param {unknown} err
   */
  _warn(message, err) {
    try {
      this.onWarning(message, err);
    } catch {
      /* a UI bug must not break the call */
    }
  }
}
