// Noom event transports: the interface every way of receiving events implements, what a
// transport may ask of the client that runs it (transport.js), and the retry rule the two
// transports above long-polling share (UpperTransport). No DOM.
//
// A transport carries the answers of the server's mailbox ({cursor, events} or
// {resync: true, cursor}) from the client's cursor on, and hands each to host.consume(); the
// event filter (events.js) makes the overlap around a switch of transport harmless. Writes
// never go through a transport: they are plain API requests (api.js). Three exist, tried in this
// order (transport.js): ws-transport.js (a WebSocket to the gateway), stream-transport.js (an
// HTTP event stream from the gateway) and poll-transport.js (long-polling).

/**
 * @typedef {'websocket'|'stream'|'polling'} EventTransportName
 *
 * @typedef {object} EventTransport
 * @property {EventTransportName} name  what body[data-transport] shows while it carries events
 * @property {() => void} start  starts receiving (a no-op when running already)
 * @property {() => void} stop  stops receiving; what is out is dropped
 * @property {() => void} restart  the token changed: drop what is out for the old one and go on
 *   with the new token from the cursor
 *
 * @typedef {object} TransportHost
 * @property {string} apiBase  absolute URL of the API folder, ending in "/"
 * @property {typeof fetch} fetch
 * @property {() => string|null} token
 * @property {() => number} cursor  where to resume
 * @property {() => number} generation  changes with the session: an answer for an older one is
 *   not consumed
 * @property {() => boolean} running  whether the client wants events at all
 * @property {() => EventTransportName|'connecting'} current  the transport carrying events now
 * @property {(transport: EventTransport) => void} live  the transport delivered its first answer:
 *   it now carries the events (the ones below it stop; a higher one may still be retried)
 * @property {(from: EventTransport) => void} fallback  `from` cannot carry events (now): the
 *   next transport down carries them meanwhile, unless another one carries them already
 * @property {(name: EventTransportName) => void} setTransport  announces the carrying transport
 * @property {() => 'online'|'offline'} connection  as last announced
 * @property {(state: 'online'|'offline', retryInMs: number) => void} setConnection  announces it
 * @property {(body: any) => Promise<void>} consume  applies an answer, in order
 * @property {() => Promise<void>} renew  the token was refused: a new session
 * @property {() => Promise<void>} resync  the cursor was refused: reload state
 */

import { BACKOFF_MAX_MS } from './api.js';

/**
 * A transport above long-polling (the WebSocket, the event stream): after a failure, the next
 * transport down carries the events (host.fallback()) and this one is tried again in the
 * background, retryMinMs doubling to retryMaxMs; once forced (?transport=...), there is nothing
 * below it and it is retried every BACKOFF_MAX_MS. Subclasses open and close the connection.
 */
export class UpperTransport {
  /**
   * @param {TransportHost} host
   * @param {boolean} forced  no long-polling meanwhile: retry soon instead
   * @param {number} retryMinMs
   * @param {number} retryMaxMs
   */
  constructor(host, forced, retryMinMs, retryMaxMs) {
    this.host = host;
    this.forced = forced;
    this._retryMinMs = retryMinMs;
    this._retryMaxMs = retryMaxMs;
    this._retryMs = retryMinMs;
    /** @type {ReturnType<typeof setTimeout>|null} */ this._retryTimer = null;
  }

  /** Whether it failed lately and waits to be tried again (a step down skips it meanwhile). */
  get failing() {
    return this._retryTimer !== null;
  }

  start() {
    this._open();
  }

  stop() {
    if (this._retryTimer) clearTimeout(this._retryTimer);
    this._retryTimer = null;
    this._close();
  }

  /** Opens the connection unless one is open (subclasses). */
  _open() {}

  /** Drops the connection, quietly (subclasses). */
  _close() {}

  /** Whether a retry that comes due may open a connection now. */
  _mayRetry() {
    return true;
  }

  /* It delivered: the next failure is retried soon again. */
  _worked() {
    this._retryMs = this._retryMinMs;
  }

  /* Not (or no longer) usable: the transport below carries the events; try again later. */
  _failed() {
    const host = this.host;
    if (!host.running()) return;
    if (!this.forced) host.fallback(/** @type {EventTransport} */ (/** @type {unknown} */ (this)));
    else host.setConnection('offline', this._retryMs);
    if (this._retryTimer) return;
    const delay = this.forced ? BACKOFF_MAX_MS : this._retryMs;
    this._retryMs = Math.min(this._retryMs * 2, this._retryMaxMs);
    this._retryTimer = setTimeout(() => {
      this._retryTimer = null;
      if (this._mayRetry()) this._open();
    }, delay);
  }
}
