// Noom WebSocket: the event transport through the gateway (PREFIX/ws), tried first where the
// network lets a WebSocket through. Implements EventTransport (event-transport.js). No DOM.
//
// The socket becomes the carrying transport once its first frame has arrived (host.live()).
// A socket that fails before that (upgrade refused or stripped by a proxy, nothing arriving
// within WS_FALLBACK_MS) hands over to the next transport down (host.fallback(): the event
// stream, else long-polling) and is tried again in the background, WS_RETRY_MIN_MS doubling to
// WS_RETRY_MAX_MS. A socket that dies after working hands over at once, from the cursor. When the WebSocket is
// forced (?transport=websocket) there is no fallback: it is retried every BACKOFF_MAX_MS.

import { UpperTransport } from './event-transport.js';

/** @typedef {import('./event-transport.js').EventTransport} EventTransport */
/** @typedef {import('./event-transport.js').TransportHost} TransportHost */

/* The WebSocket must deliver its first frame within this, else long-polling takes over. */
const WS_FALLBACK_MS = 3000;
/* While long-polling, the WebSocket is tried again after this, doubling up to the maximum. */
const WS_RETRY_MIN_MS = 10000;
const WS_RETRY_MAX_MS = 120000;
/* The gateway sends an answer (empty if need be) at least every 25 s; silence past this means
 * the connection is dead even if the browser has not noticed. */
const WS_SILENCE_MS = 45000;

/** @implements {EventTransport} */
export class WsTransport extends UpperTransport {
  /**
   * @param {TransportHost} host
   * @param {string} url  ws: or wss: URL of the gateway
   * @param {boolean} forced  no long-polling meanwhile: retry soon instead
   */
  constructor(host, url, forced) {
    super(host, forced, WS_RETRY_MIN_MS, WS_RETRY_MAX_MS);
    this.url = url;
    /** @type {'websocket'} */
    this.name = 'websocket';
    /** @type {WebSocket|null} */ this._ws = null;
  }

  /* A socket speaks for one token: a new one is opened, long-polling covers the gap. */
  restart() {
    if (!this._ws) return;
    this._close();
    this.host.fallback(this);
    this._open();
  }

  _open() {
    const host = this.host;
    if (!host.running() || this._ws) return;
    const generation = host.generation();
    /** @type {WebSocket} */
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch {
      this._failed();
      return;
    }
    this._ws = ws;
    let live = false;
    /** @type {ReturnType<typeof setTimeout>|null} */
    let silence = null;
    const arm = (/** @type {number} */ ms) => {
      if (silence) clearTimeout(silence);
      silence = setTimeout(() => {
        if (this._ws === ws) ws.close(4000, live ? 'silent' : 'no first frame');
        drop();
      }, ms);
    };
    const drop = () => {
      if (silence) clearTimeout(silence);
      silence = null;
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      if (this._ws !== ws) return;
      this._ws = null;
      if (!host.running()) return;
      if (live && generation === host.generation()) {
        /* It worked until now: long-polling continues from the cursor while we try again. */
        this._worked();
      }
      this._failed();
    };
    arm(WS_FALLBACK_MS);
    ws.onopen = () => {
      /* The token goes in the first frame, never in the URL (URLs end up in logs). */
      ws.send(JSON.stringify({ token: host.token(), cursor: host.cursor() }));
    };
    ws.onmessage = (e) => {
      /** @type {any} */
      let body = null;
      try {
        body = JSON.parse(String(e.data));
      } catch {
        /* not ours: ignore */
      }
      if (!body || typeof body.cursor !== 'number' || generation !== host.generation()) return;
      arm(WS_SILENCE_MS);
      if (!live) {
        live = true;
        this._worked();
        host.live(this);
      }
      host.consume(body);
    };
    ws.onclose = (e) => {
      if (e.code === 4401 && this._ws === ws && host.running()) {
        /* The gateway refused our token: renew the session, then try again at once. */
        ws.onclose = null;
        this._ws = null;
        if (silence) clearTimeout(silence);
        host.fallback(this);
        host.renew().then(() => this._open(), () => this._failed());
        return;
      }
      drop();
    };
    ws.onerror = () => {
      /* onclose follows and decides */
    };
  }

  _close() {
    const ws = this._ws;
    if (!ws) return;
    this._ws = null;
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    try {
      ws.close(1000, 'bye');
    } catch {
      /* already closing */
    }
  }
}
