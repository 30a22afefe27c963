// Noom event stream: the event transport over one long HTTP response (GET api/stream, Server-Sent
// Events from the gateway), for networks whose proxies strip the WebSocket upgrade but pass a
// streamed response. Implements EventTransport (event-transport.js). No DOM.
//
// Read with fetch() and a ReadableStream rather than EventSource, so that the token goes in the
// Authorization header (a URL ends up in logs) and a refused request (401, 400) is seen with its
// status. Each SSE event's data is a poll answer; its id is the cursor, which the client keeps
// itself (events.js), so a reconnect names the cursor explicitly.
//
// The gateway sends a stream's first answer at once (empty if nothing is there), so a stream
// whose first answer has not arrived within STREAM_FALLBACK_MS is held by something on the way
// (a proxy that buffers responses until they end): long-polling takes over (host.fallback())
// and the stream is tried again in the background, STREAM_RETRY_MIN_MS doubling to
// STREAM_RETRY_MAX_MS. A stream that ends after working (the gateway ends each after a bounded
// time or volume) is opened again at once from the cursor. When the stream is forced
// (?transport=stream) there is no fallback: it is retried every BACKOFF_MAX_MS.

import { UpperTransport } from './event-transport.js';

/** @typedef {import('./event-transport.js').EventTransport} EventTransport */
/** @typedef {import('./event-transport.js').TransportHost} TransportHost */

/* The stream must deliver its first answer within this, else long-polling takes over. */
export const STREAM_FALLBACK_MS = 3000;
/* While long-polling, the stream is tried again after this, doubling up to the maximum. */
const STREAM_RETRY_MIN_MS = 10000;
const STREAM_RETRY_MAX_MS = 120000;
/* The gateway writes a comment every 15 s and an answer every 25 s: past this, it is dead. */
const STREAM_SILENCE_MS = 45000;
/* A stream that worked for less than this before ending counts as failed (no reconnect loop). */
const STREAM_MIN_LIFE_MS = 1000;

/**
 * One SSE block ("id: 3\nevent: close\ndata: {...}") as {event, data}; data is the joined data
 * lines, null when there are none (a comment, a retry line).
 * @param {string} block
 * @returns {{event: string, data: string|null}}
 */
function parseBlock(block) {
  let event = 'message';
  /** @type {string[]} */
  const data = [];
  for (const line of block.split('\n')) {
    const colon = line.indexOf(':');
    if (colon === 0) continue; /* a comment */
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  return { event, data: data.length ? data.join('\n') : null };
}

/** @implements {EventTransport} */
export class StreamTransport extends UpperTransport {
  /**
   * @param {TransportHost} host
   * @param {boolean} forced  no long-polling meanwhile: retry soon instead
   */
  constructor(host, forced) {
    super(host, forced, STREAM_RETRY_MIN_MS, STREAM_RETRY_MAX_MS);
    /** @type {'stream'} */
    this.name = 'stream';
    /** The request out now, or null. @type {AbortController|null} */
    this._abort = null;
  }

  /* Tried again only while something lower carries the events (not the WebSocket). */
  _mayRetry() {
    return this.host.current() !== 'websocket';
  }

  /* The stream speaks for one token: a new one is opened from the cursor. */
  restart() {
    if (!this._abort) return;
    this._close();
    this._open();
  }

  _close() {
    const abort = this._abort;
    this._abort = null;
    abort?.abort();
  }

  _open() {
    const host = this.host;
    if (!host.running() || this._abort) return;
    const abort = new AbortController();
    this._abort = abort;
    this._read(abort).then((outcome) => this._after(abort, outcome));
  }

  /**
   * Reads one stream until it ends; what happened: 'ended' (it worked, then ended), 'failed',
   * 'renew' (the token was refused), 'resync' (the cursor was refused).
   * @param {AbortController} abort
   * @returns {Promise<'ended'|'failed'|'renew'|'resync'>}
   */
  async _read(abort) {
    const host = this.host;
    const generation = host.generation();
    let live = 0; /* when the first answer came */
    /** @type {ReturnType<typeof setTimeout>|undefined} */
    let timer;
    const arm = (/** @type {number} */ ms) => {
      clearTimeout(timer);
      timer = setTimeout(() => abort.abort(), ms);
    };
    arm(STREAM_FALLBACK_MS);
    try {
      const res = await host.fetch(host.apiBase + 'stream?cursor=' + host.cursor(), {
        method: 'GET',
        headers: { Authorization: 'Bearer ' + host.token(), Accept: 'text/event-stream' },
        cache: 'no-store',
        signal: abort.signal,
      });
      if (res.status === 401) return 'renew';
      if (res.status === 400) return 'resync';
      if (res.status !== 200 || !res.body || !/^text\/event-stream/.test(res.headers.get('Content-Type') || '')) {
        return 'failed';
      }
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done || abort.signal.aborted) break;
        if (live) arm(STREAM_SILENCE_MS);
        buf += value;
        let end;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const block = parseBlock(buf.slice(0, end));
          buf = buf.slice(end + 2);
          if (block.data === null) continue;
          /** @type {any} */
          let body = null;
          try {
            body = JSON.parse(block.data);
          } catch {
            /* not ours: ignore */
          }
          // 4401: the session is gone; 1001: the server is going away (a reload or a
          // restart: the next stream goes to the new one at once); else a failure.
          if (block.event === 'close') return body?.code === 4401 ? 'renew' : body?.code === 1001 ? 'ended' : 'failed';
          if (!body || typeof body.cursor !== 'number' || generation !== host.generation()) continue;
          if (!live) {
            live = Date.now();
            arm(STREAM_SILENCE_MS);
            this._worked();
            host.live(this);
          }
          await host.consume(body);
          if (this._abort !== abort) return 'ended';
        }
      }
    } catch {
      /* aborted (no first answer in time, silence, stopped) or the network failed */
    } finally {
      clearTimeout(timer);
    }
    return live && Date.now() - live >= STREAM_MIN_LIFE_MS ? 'ended' : 'failed';
  }

  /**
   * A stream ended: open the next one at once, or renew, resync, or fall back.
   * @param {AbortController} abort
   * @param {'ended'|'failed'|'renew'|'resync'} outcome
   */
  _after(abort, outcome) {
    if (this._abort !== abort) return; /* stopped or restarted meanwhile */
    this._abort = null;
    const host = this.host;
    if (!host.running()) return;
    if (outcome === 'ended') this._open();
    else if (outcome === 'renew') host.renew().then(() => this._open(), () => this._failed());
    else if (outcome === 'resync') host.resync().then(() => this._open(), () => this._failed());
    else this._failed();
  }
}
