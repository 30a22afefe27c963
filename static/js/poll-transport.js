// Noom long-polling: the event transport that works through any HTTP proxy (GET api/poll).
// Implements EventTransport (event-transport.js). No DOM access.
//
// A lost answer (network error, 502, 504, client-side timeout) is retried with the SAME cursor,
// with a backoff of 250 ms doubling to 5 s; the server then re-sends the same events. The loop
// runs while the client is running and long-polling carries its events.

import { BACKOFF_MIN_MS, BACKOFF_MAX_MS, sleep } from './api.js';

/** @typedef {import('./event-transport.js').EventTransport} EventTransport */
/** @typedef {import('./event-transport.js').TransportHost} TransportHost */

/* The server answers a poll within 25 s; past this the connection is presumed dead. */
const POLL_ABORT_MS = 45000;

/** @implements {EventTransport} */
export class PollTransport {
  /** @param {TransportHost} host */
  constructor(host) {
    this.host = host;
    /** @type {'polling'} */
    this.name = 'polling';
    /** Whether the loop is running. */
    this.polling = false;
    /** @type {AbortController|null} */ this._abort = null;
  }

  /** Starts the loop (once) and makes long-polling the carrying transport. */
  start() {
    if (this.polling || !this.host.running()) return;
    this.polling = true;
    this.host.setTransport('polling');
    this._loop().finally(() => {
      this.polling = false;
    });
  }

  /* The loop ends at once: it sees that it no longer carries the events. */
  stop() {
    this._abort?.abort();
  }

  /* The outstanding poll is for the old token: the loop polls again with the new one. */
  restart() {
    this._abort?.abort();
  }

  /* Runs while no other transport carries the events. */
  async _loop() {
    const host = this.host;
    let backoff = BACKOFF_MIN_MS;
    while (host.running() && host.current() === 'polling') {
      const generation = host.generation();
      const cursor = host.cursor();
      const abort = new AbortController();
      this._abort = abort;
      const timer = setTimeout(() => abort.abort(), POLL_ABORT_MS);
      /** @type {any} */
      let body;
      let status = 0;
      try {
        const res = await host.fetch(host.apiBase + 'poll?cursor=' + cursor, {
          method: 'GET',
          headers: { Authorization: 'Bearer ' + host.token(), Accept: 'application/json' },
          cache: 'no-store',
          signal: abort.signal,
        });
        status = res.status;
        body = await res.json().catch(() => null);
      } catch {
        status = 0;
      } finally {
        clearTimeout(timer);
      }
      if (!host.running() || host.current() !== 'polling') break;
      if (generation !== host.generation()) {
        /* The session changed while this poll was out: its answer is for the old token. */
        continue;
      }
      if (status === 200 && body && typeof body.cursor === 'number') {
        if (backoff !== BACKOFF_MIN_MS || host.connection() !== 'online') host.setConnection('online', 0);
        backoff = BACKOFF_MIN_MS;
        await host.consume(body);
        continue;
      }
      if (status === 401) {
        try {
          await host.renew();
          continue;
        } catch {
          /* server unreachable while renewing: back off below */
        }
      } else if (status === 400 && body && body.error === 'bad_cursor') {
        /* Cannot happen with our own cursors; recover like a resync from the list's cursor. */
        await host.resync().catch(() => {});
        continue;
      }
      host.setConnection('offline', backoff);
      await sleep(backoff);
      backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
    }
  }
}
