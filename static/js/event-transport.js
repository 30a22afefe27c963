// Noom event transports: the interface every way of receiving events implements, and what a
// transport may ask of the client that runs it (transport.js). Types only, nothing runs here.
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

export {};
