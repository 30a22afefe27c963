// Browser tests of the three event transports (static/js/ws-transport.js, stream-transport.js,
// poll-transport.js): the WebSocket to the gateway noom-ws (PREFIX/ws), the gateway's event
// stream (GET api/stream) and long-polling (GET api/poll), against the real stack (noom-run:
// nginx + noom-worker + noom-ws) in real Chromium (through playwright-core).
//
//  1. The same short chat + call scenario four ways: both people with ?transport=websocket,
//     both with ?transport=stream, both with ?transport=polling, and one on the WebSocket and
//     one polling. Two people join one room through the home
//     page, see each other arrive (notice, member list, room-count 2), chat both ways (each line
//     exactly once) and see each other's video play. body[data-transport] is the forced one, and
//     a forced page uses no other transport. The call set-up time of each mode goes out as a
//     diagnostic.
//  2. Auto mode (the default) with the gateway: the page ends up on the WebSocket.
//  3. Auto mode with a socket that opens but never sends a frame (page.routeWebSocket with no
//     server behind it): the page is on the event stream within WS_FALLBACK_MS (3 s) and chats.
//  4. Resume across transports: Ann (auto, on the WebSocket) gets a numbered burst of Bea's
//     messages while her socket goes dark (frames from the gateway are swallowed) and is then
//     closed from the server side (1001). She falls back to the event stream from her cursor; every
//     message is in her chat log exactly once, in order. About 10 s later her client tries the
//     socket again (WS_RETRY_MIN_MS) and switches back, while a second burst is being sent:
//     again exactly once, in order. A draft Ann was typing is still in her message box after
//     each switch. The socket is cut with page.routeWebSocket (the real
//     gateway stays behind it) rather than by killing noom-ws: noom-run stops the whole stack
//     when the gateway dies, and does not restart it.
//  5. Through office proxies on loopback (tests/lib/proxy.js), in auto mode: squid, which
//     refuses the CONNECT a WebSocket needs but passes a streamed response, leaves the page on
//     the event stream; a proxy that holds each response until it ends pushes it down to
//     long-polling within two steps of 3 s. Both chat, and the squid pages hold a call; the time
//     each step took goes out as a diagnostic.
//  6. A stack without the gateway (NOOM_WS=0: no PREFIX/ws location): auto mode falls back to
//     long-polling (the time from navigation goes out as a diagnostic) and chats normally.
//
// Every wait is bounded (WAIT). Skipped, with the reason, when playwright-core or Chromium is
// missing.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startStack, newSession, join as apiJoin, say as apiSay } from '../lib/stack.js';
import { chromium, skip, CHROMIUM, sleep, waitUntil, FAKE_MEDIA_ARGS } from '../lib/browser.js';
import { startSquid, startBufferingProxy, squidMissing } from '../lib/proxy.js';

const WAIT = 20000;
const DESKTOP = { width: 1280, height: 800 };
/* From static/js/ws-transport.js. */
const WS_FALLBACK_MS = 3000;
const WS_RETRY_MIN_MS = 10000;
/* From static/js/stream-transport.js. */
const STREAM_FALLBACK_MS = 3000;
const LAUNCH_ARGS = FAKE_MEDIA_ARGS;

const seconds = (/** @type {number} */ ms) => `${(ms / 1000).toFixed(2)} s`;

/**
 * Polls `probe` until `ok(value)` holds; throws after `timeout` with the last value seen.
 * @template T
 * @param {string} what
 * @param {() => Promise<T>} probe
 * @param {(value: T) => boolean} ok
 * @returns {Promise<{value: T, ms: number}>}
 */
const until = (what, probe, ok, timeout = WAIT, every = 100) => waitUntil(what, probe, ok, timeout, every);

// ---- in the page ---------------------------------------------------------------------------

/* Init script: records every value body[data-transport] takes, with performance.now() (ms since
 * the navigation started), in window.__transportLog. */
function recordTransport() {
  /** @type {{v: string, t: number}[]} */
  const log = [];
  // @ts-ignore
  window.__transportLog = log;
  const look = () => {
    const v = document.body?.dataset.transport;
    if (v && log[log.length - 1]?.v !== v) log.push({ v, t: performance.now() });
  };
  new MutationObserver(look).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-transport'] });
}

/** @param {import('playwright-core').Page} page @returns {Promise<{v: string, t: number}[]>} */
function transportLog(page) {
  // @ts-ignore
  return page.evaluate(() => window.__transportLog ?? []);
}

/** @param {import('playwright-core').Page} page */
function transportNow(page) {
  return page.evaluate(() => document.body.dataset.transport ?? '');
}

/** @param {import('playwright-core').Page} page @returns {Promise<string[]>} */
function chatLines(page) {
  return page.evaluate(() => Array.from(
    document.querySelector('[data-testid="chat-log"]')?.children ?? [],
    (c) => c.textContent?.trim() ?? ''));
}

/** Remote videos: who, size, time, frames. @param {import('playwright-core').Page} page */
function remoteVideos(page) {
  return page.evaluate(() => Array.from(
    document.querySelectorAll('[data-role="tiles"] video[data-testid="remote-video"]'), (node) => {
      const v = /** @type {HTMLVideoElement} */ (node);
      return {
        peer: v.dataset.peer ?? '', width: v.videoWidth, time: v.currentTime,
        frames: v.getVideoPlaybackQuality().totalVideoFrames, paused: v.paused,
      };
    }));
}

// ---- people --------------------------------------------------------------------------------

/**
 * @typedef {object} User
 * @property {string} name
 * @property {import('playwright-core').BrowserContext} context
 * @property {import('playwright-core').Page} page
 * @property {string} session
 * @property {number} polls  GET api/poll requests the page made
 * @property {number} sockets  WebSockets the page opened
 * @property {number} streams  GET api/stream requests the page made
 */

/** Uncaught page errors, checked at the end of each suite. */
const pageErrors = /** @type {string[]} */ ([]);

/**
 * @param {import('playwright-core').Browser} browser
 * @param {string} name
 * @returns {Promise<User>}
 */
async function newUser(browser, name) {
  const context = await browser.newContext({ viewport: DESKTOP });
  context.setDefaultTimeout(WAIT);
  context.setDefaultNavigationTimeout(WAIT);
  await context.addInitScript(recordTransport);
  const page = await context.newPage();
  /** @type {User} */
  const user = { name, context, page, session: '', polls: 0, sockets: 0, streams: 0 };
  page.on('pageerror', (err) => pageErrors.push(`${name}: ${err.message}`));
  page.on('request', (req) => {
    if (/\/api\/poll\?/.test(req.url())) user.polls++;
    if (/\/api\/stream\?/.test(req.url())) user.streams++;
  });
  page.on('websocket', () => user.sockets++);
  return user;
}

/**
 * Opens the home page (with `query`) and sets the nickname.
 * @param {User} user
 * @param {string} baseUrl
 * @param {string} [query]
 */
async function openHome(user, baseUrl, query = '') {
  const { page } = user;
  const res = await page.goto(baseUrl + query);
  assert.equal(res?.status(), 200);
  await page.waitForFunction(() => document.body.dataset.ready === 'true', undefined, { timeout: WAIT });
  const nickname = page.getByTestId('nickname-input');
  await nickname.fill(user.name);
  await nickname.press('Enter');
}

/**
 * Joins `room` from the home page (room field, Join, the pre-join screen's Join) and waits
 * until the page is in it.
 * @param {User} user
 * @param {string} room
 */
async function joinRoom(user, room) {
  const { page } = user;
  await page.getByTestId('room-input').fill(room);
  await page.getByTestId('join-button').click();
  await page.getByTestId('prejoin-join').click();
  const { value } = await until(`${user.name} in ${room}`,
    () => page.evaluate(() => document.body.dataset.session ?? ''), (s) => /^\d+$/.test(s));
  user.session = value;
  await waitNotice(user, `You joined ${room}`);
}

/**
 * @param {User} user
 * @param {number} n
 */
async function waitRoomCount(user, n) {
  await until(`${user.name}'s room-count shows ${n}`,
    () => user.page.getByTestId('room-count').textContent(), (t) => Number(t?.match(/\d+/)?.[0]) === n);
}

/** @param {User} user @param {string} text  a chat-log line equal to this */
async function waitNotice(user, text) {
  await until(`${user.name}'s chat log shows the notice "${text}"`, () => chatLines(user.page),
    (lines) => lines.includes(text));
}

/** @param {User} user @param {string} text  a chat-log line containing this */
async function waitChat(user, text) {
  await until(`${user.name}'s chat log shows "${text}"`, () => chatLines(user.page),
    (lines) => lines.some((l) => l.includes(text)));
}

/** How many chat-log lines of `user` contain `text`. @param {User} user @param {string} text */
async function countChat(user, text) {
  return (await chatLines(user.page)).filter((l) => l.includes(text)).length;
}

/** Sends with Enter; waits until the input is empty. @param {User} user @param {string} text */
async function say(user, text) {
  const input = user.page.getByTestId('chat-input');
  await input.fill(text);
  await input.press('Enter');
  await until(`${user.name}'s chat input emptied`, () => input.inputValue(), (v) => v === '');
}

/** @param {User} user @param {string} want */
async function waitTransport(user, want, timeout = WAIT) {
  return until(`${user.name}'s body[data-transport] = ${want}`, () => transportNow(user.page), (v) => v === want, timeout, 50);
}

/**
 * Waits until `user` shows `peer`'s remote video with a picture; then until it plays (frames
 * and currentTime advance over one second).
 * @param {User} user
 * @param {string} peer
 */
async function waitPicture(user, peer) {
  return until(`${user.name} gets a picture from ${peer}`, () => remoteVideos(user.page),
    (vs) => vs.some((v) => v.peer === peer && v.width > 0), WAIT, 50);
}

/** @param {User} user @param {string} peer */
async function waitPlaying(user, peer) {
  const start = Date.now();
  for (;;) {
    const before = (await remoteVideos(user.page)).find((v) => v.peer === peer);
    await sleep(1000);
    const now = (await remoteVideos(user.page)).find((v) => v.peer === peer);
    if (before && now && now.width > 0 && !now.paused && now.time - before.time > 0.3 && now.frames > before.frames) return now;
    if (Date.now() - start > WAIT) {
      throw new Error(`${user.name}: the video of ${peer} does not play: ${JSON.stringify({ before, now })}`);
    }
  }
}

/** @param {User|undefined} user */
async function closeUser(user) {
  await user?.context.close().catch(() => {});
}

// ---- with the gateway ----------------------------------------------------------------------

describe('browser: transports, with the gateway', { skip }, () => {
  /** @type {Awaited<ReturnType<typeof startStack>>} */
  let stack;
  /** @type {import('playwright-core').Browser} */
  let browser;

  before(async () => {
    stack = await startStack();
    browser = await /** @type {NonNullable<typeof chromium>} */ (chromium).launch({
      executablePath: CHROMIUM, headless: true, args: LAUNCH_ARGS, timeout: WAIT,
    });
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await stack?.stop();
  });

  for (const [modeA, modeB] of /** @type {const} */ ([
    ['websocket', 'websocket'], ['stream', 'stream'], ['polling', 'polling'], ['websocket', 'polling'],
  ])) {
    const label = modeA === modeB ? `both ${modeA}` : `Ann ${modeA}, Bob ${modeB}`;
    it(`chat and call, ${label}`, { timeout: 120000 }, async (t) => {
      const room = `transport ${modeA}-${modeB}`;
      const ann = await newUser(browser, 'Ann');
      const bob = await newUser(browser, 'Bob');
      try {
        await Promise.all([
          openHome(ann, stack.baseUrl, `?transport=${modeA}`),
          openHome(bob, stack.baseUrl, `?transport=${modeB}`),
        ]);
        await waitTransport(ann, modeA);
        await waitTransport(bob, modeB);

        await joinRoom(ann, room);
        await waitRoomCount(ann, 1);
        const joinClicked = Date.now();
        await joinRoom(bob, room);
        /* Ann sees Bob arrive; Bob, who joins second, finds Ann in the room's member list. */
        await waitNotice(ann, 'Bob joined');
        await waitRoomCount(ann, 2);
        await waitRoomCount(bob, 2);
        const members = await bob.page.getByTestId('member-list').textContent();
        assert.match(members ?? '', /Ann/);

        /* The call: each gets a picture from the other, then it plays. */
        const [a, b] = await Promise.all([waitPicture(ann, bob.session), waitPicture(bob, ann.session)]);
        const setup = Date.now() - joinClicked;
        await Promise.all([waitPlaying(ann, bob.session), waitPlaying(bob, ann.session)]);
        const line = `${label}: ${seconds(setup)} from Bob's join click to both pictures ` +
          `(Ann ${seconds(a.ms)}, Bob ${seconds(b.ms)} waiting for it)`;
        t.diagnostic(`call set-up, ${line}`);

        /* Chat both ways, each line once on both pages. */
        const fromAnn = `hello Bob over ${modeA}`;
        const fromBob = `hi Ann over ${modeB}`;
        await say(ann, fromAnn);
        await waitChat(bob, fromAnn);
        await say(bob, fromBob);
        await waitChat(ann, fromBob);
        await sleep(300); /* a duplicate would arrive right behind */
        for (const user of [ann, bob]) {
          assert.equal(await countChat(user, fromAnn), 1, `${user.name} shows Ann's line once`);
          assert.equal(await countChat(user, fromBob), 1, `${user.name} shows Bob's line once`);
          assert.equal(await countChat(user, 'Bob joined'), user === ann ? 1 : 0);
        }

        /* The forced transport was the only one used. */
        for (const [user, mode] of /** @type {const} */ ([[ann, modeA], [bob, modeB]])) {
          assert.equal(await transportNow(user.page), mode, `${user.name}'s body[data-transport]`);
          const seen = (await transportLog(user.page)).map((e) => e.v);
          assert.ok(seen.every((v) => v === mode || v === 'connecting'),
            `${user.name} never used another transport: ${seen.join(' → ')}`);
          const used = { websocket: user.sockets, stream: user.streams, polling: user.polls };
          for (const [name, n] of Object.entries(used)) {
            if (name === mode) assert.ok(n >= 1, `${user.name} (forced ${mode}) used it`);
            else assert.equal(n, 0, `${user.name} (forced ${mode}) never used ${name}`);
          }
        }
      } finally {
        await closeUser(ann);
        await closeUser(bob);
      }
    });
  }

  it('auto mode ends up on the WebSocket', { timeout: 30000 }, async (t) => {
    const cleo = await newUser(browser, 'Cleo');
    try {
      await openHome(cleo, stack.baseUrl);
      const { ms } = await waitTransport(cleo, 'websocket');
      const log = await transportLog(cleo.page);
      t.diagnostic(`auto: ${log.map((e) => `${e.v} at ${seconds(e.t)}`).join(', ')} after navigation (${seconds(ms)} after the page was ready)`);
      assert.ok(!log.some((e) => e.v === 'polling' || e.v === 'stream'), `no detour: ${JSON.stringify(log)}`);
      assert.ok(cleo.sockets >= 1);
    } finally {
      await closeUser(cleo);
    }
  });

  it('auto mode falls back to the event stream when the socket opens but says nothing', { timeout: 30000 }, async (t) => {
    const dora = await newUser(browser, 'Dora');
    const eli = await newUser(browser, 'Eli');
    try {
      /* A socket that nothing answers (no server behind the route): no first frame ever. */
      let routed = 0;
      await dora.page.routeWebSocket(/\/ws$/, () => { routed++; });
      await openHome(dora, stack.baseUrl);
      await waitTransport(dora, 'stream', WS_FALLBACK_MS + WAIT);
      const log = await transportLog(dora.page);
      const nav = await dora.page.evaluate(() => {
        const n = /** @type {PerformanceNavigationTiming} */ (performance.getEntriesByType('navigation')[0]);
        return { dcl: n.domContentLoadedEventEnd, load: n.loadEventEnd };
      });
      const at = log.find((e) => e.v === 'stream')?.t ?? -1;
      t.diagnostic(`silent socket: 'stream' ${seconds(at)} after navigation (page loaded at ${seconds(nav.load)})`);
      assert.ok(routed >= 1, 'the page tried the WebSocket');
      assert.ok(at >= WS_FALLBACK_MS - 100, `not before the ${WS_FALLBACK_MS} ms of grace (${at} ms)`);
      assert.ok(at <= nav.dcl + WS_FALLBACK_MS + 500, `within ${WS_FALLBACK_MS} ms + 0.5 s of the page load (${at} ms, DOMContentLoaded ${nav.dcl} ms)`);

      /* And it works: chat with Eli (auto, real WebSocket). */
      await openHome(eli, stack.baseUrl);
      await waitTransport(eli, 'websocket');
      await joinRoom(dora, 'silent socket');
      await joinRoom(eli, 'silent socket');
      await waitNotice(dora, 'Eli joined');
      await say(eli, 'can you hear me?');
      await waitChat(dora, 'can you hear me?');
      await say(dora, 'loud and clear');
      await waitChat(eli, 'loud and clear');
      assert.equal(await countChat(dora, 'can you hear me?'), 1);
      assert.equal(await countChat(eli, 'loud and clear'), 1);
      assert.equal(await transportNow(dora.page), 'stream');
    } finally {
      await closeUser(dora);
      await closeUser(eli);
    }
  });

  it('a socket cut mid-burst resumes over the event stream and back, no loss, no duplicate', { timeout: 75000 }, async (t) => {
    const ROOM = 'resume';
    const ann = await newUser(browser, 'Ann');
    try {
      /* Ann's WebSockets go through this route to the real gateway; the test can swallow the
       * gateway's frames (a dead connection) and close the page's side (code 1001). */
      /** @type {{ws: import('playwright-core').WebSocketRoute, server: import('playwright-core').WebSocketRoute, dark: boolean, forwarded: number, dropped: number}[]} */
      const sockets = [];
      await ann.page.routeWebSocket(/\/ws$/, (ws) => {
        const server = ws.connectToServer();
        const entry = { ws, server, dark: false, forwarded: 0, dropped: 0 };
        server.onMessage((msg) => {
          if (entry.dark) {
            entry.dropped++;
            return;
          }
          entry.forwarded++;
          ws.send(msg);
        });
        sockets.push(entry);
      });
      await openHome(ann, stack.baseUrl);
      await waitTransport(ann, 'websocket');
      await joinRoom(ann, ROOM);

      const bea = await newSession(stack, 'Bea');
      await apiJoin(stack, bea.token, ROOM);
      await waitNotice(ann, 'Bea joined');

      /** Bea's messages in Ann's chat log, in order (tokens like "a-007"). */
      const seenTokens = async () => (await chatLines(ann.page)).flatMap((l) => l.match(/\b[ab]-\d{3}\b/g) ?? []);
      /** @type {string[]} */
      const sent = [];
      const send = async (/** @type {string} */ token) => {
        await apiSay(stack, bea.token, `Bea's message ${token}`);
        sent.push(token);
      };
      const tokenOf = (/** @type {string} */ p, /** @type {number} */ i) => `${p}-${String(i).padStart(3, '0')}`;

      /* Ann is typing: the transport switches below must leave her draft alone. */
      const draft = 'half-typed, across the switch';
      const input = ann.page.getByTestId('chat-input');
      await input.fill(draft);

      /* Burst 1: 40 messages, 80 ms apart; after the 15th the socket goes dark, after the
       * 20th it is closed from the server side. */
      const burst1 = 40;
      let cutAt = 0;
      /** @type {Promise<{ms: number}>|null} */
      let fellBack = null;
      for (let i = 1; i <= burst1; i++) {
        await send(tokenOf('a', i));
        if (i === 15) sockets[0].dark = true;
        if (i === 20) {
          /* Both sides: the page gets a server-side close, the gateway connection ends. */
          await sockets[0].ws.close({ code: 1001, reason: 'going away' });
          await sockets[0].server.close({ code: 1000 }).catch(() => {});
          cutAt = Date.now();
          fellBack = waitTransport(ann, 'stream');
        }
        await sleep(80);
      }
      const { ms: fallbackMs } = await /** @type {Promise<{ms: number}>} */ (fellBack);
      await until('Ann shows burst 1', seenTokens, (seen) => sent.every((s) => seen.includes(s)));
      await sleep(300);
      let seen = await seenTokens();
      assert.deepEqual(seen, sent, 'burst 1: every message once, in order');
      assert.ok(sockets[0].dropped >= 1, `frames were lost on the dark socket (${sockets[0].dropped} dropped)`);
      t.diagnostic(`burst 1: ${sockets[0].forwarded} frames delivered, ${sockets[0].dropped} swallowed before the cut; ` +
        `'stream' ${seconds(fallbackMs)} after the cut`);
      assert.ok(fallbackMs < WS_FALLBACK_MS, 'a socket that dies after working hands over to the stream at once');
      assert.equal(await input.inputValue(), draft, 'the draft survives the fall back to the event stream');

      /* Burst 2: 150 ms apart until the client is back on the WebSocket (it retries after
       * WS_RETRY_MIN_MS), then 10 more. */
      const deadline = cutAt + WS_RETRY_MIN_MS + WAIT;
      let backAt = 0;
      let after = 0;
      for (let i = 1; after < 10; i++) {
        assert.ok(Date.now() < deadline, `back on the WebSocket within ${seconds(WS_RETRY_MIN_MS + WAIT)} of the cut`);
        await send(tokenOf('b', i));
        if (backAt) after++;
        else if (await transportNow(ann.page) === 'websocket') backAt = Date.now();
        await sleep(150);
      }
      await until('Ann shows burst 2', seenTokens, (s) => sent.every((x) => s.includes(x)));
      await sleep(300);
      seen = await seenTokens();
      assert.deepEqual(seen, sent, 'both bursts: every message once, in order');
      const log = (await transportLog(ann.page)).map((e) => e.v);
      assert.deepEqual(log.filter((v) => v !== 'connecting'), ['websocket', 'stream', 'websocket'], `transports: ${log.join(' → ')}`);
      assert.equal(sockets.length, 2, 'one new socket after the cut');
      assert.ok(backAt - cutAt >= WS_RETRY_MIN_MS - 500, `the socket was retried after ${seconds(backAt - cutAt)}`);
      assert.equal(await input.inputValue(), draft, 'the draft survives the way back to the WebSocket');
      t.diagnostic(`back on the WebSocket ${seconds(backAt - cutAt)} after the cut; ${sent.length} messages, each shown once, in order`);
    } finally {
      await closeUser(ann);
    }
  });

  it('no page raised an uncaught error', () => {
    assert.deepEqual(pageErrors, []);
  });
});

// ---- through office proxies ----------------------------------------------------------------

/** Where body[data-transport] went, with when (ms after navigation), as one line. @param {{v: string, t: number}[]} log */
const steps = (log) => log.map((e) => `${e.v} at ${seconds(e.t)}`).join(' → ');

describe('browser: transports through office proxies', { skip: skip || squidMissing() }, () => {
  /** @type {Awaited<ReturnType<typeof startStack>>} */
  let stack;
  /** @type {Awaited<ReturnType<typeof startSquid>>} */
  let squid;
  /** @type {Awaited<ReturnType<typeof startBufferingProxy>>} */
  let buffering;
  /** @type {import('playwright-core').Browser} */
  let viaSquid;
  /** @type {import('playwright-core').Browser} */
  let viaBuffering;

  before(async () => {
    [stack, squid, buffering] = await Promise.all([startStack(), startSquid(), startBufferingProxy()]);
    /* Chromium never sends loopback through a proxy unless told to. */
    const launch = (/** @type {{url: string}} */ proxy) => /** @type {NonNullable<typeof chromium>} */ (chromium).launch({
      executablePath: CHROMIUM, headless: true, timeout: WAIT,
      args: [...LAUNCH_ARGS, `--proxy-server=${proxy.url}`, '--proxy-bypass-list=<-loopback>'],
    });
    [viaSquid, viaBuffering] = await Promise.all([launch(squid), launch(buffering)]);
  });

  after(async () => {
    await viaSquid?.close().catch(() => {});
    await viaBuffering?.close().catch(() => {});
    await Promise.all([stack?.stop(), squid?.stop(), buffering?.stop()]);
  });

  it('squid refuses the WebSocket: the pages stay on the event stream, chat and call', { timeout: 120000 }, async (t) => {
    const ann = await newUser(viaSquid, 'Ann');
    const bob = await newUser(viaSquid, 'Bob');
    try {
      await Promise.all([openHome(ann, stack.baseUrl), openHome(bob, stack.baseUrl)]);
      await waitTransport(ann, 'stream', WS_FALLBACK_MS + WAIT);
      await waitTransport(bob, 'stream', WS_FALLBACK_MS + WAIT);
      t.diagnostic(`squid: Ann ${steps(await transportLog(ann.page))} after navigation`);
      assert.ok(ann.sockets >= 1, 'the page tried the WebSocket first');

      await joinRoom(ann, 'behind squid');
      const joinClicked = Date.now();
      await joinRoom(bob, 'behind squid');
      await waitNotice(ann, 'Bob joined');
      await say(ann, 'through squid');
      await waitChat(bob, 'through squid');
      await say(bob, 'streamed back');
      await waitChat(ann, 'streamed back');
      await Promise.all([waitPicture(ann, bob.session), waitPicture(bob, ann.session)]);
      t.diagnostic(`squid: ${seconds(Date.now() - joinClicked)} from Bob's join click to both pictures`);
      await Promise.all([waitPlaying(ann, bob.session), waitPlaying(bob, ann.session)]);
      await sleep(300);
      for (const user of [ann, bob]) {
        assert.equal(await countChat(user, 'through squid'), 1);
        assert.equal(await countChat(user, 'streamed back'), 1);
        const log = await transportLog(user.page);
        assert.equal(await transportNow(user.page), 'stream', `${user.name}: ${steps(log)}`);
        assert.ok(!log.some((e) => e.v === 'polling'), `${user.name} never went down to polling: ${steps(log)}`);
      }
    } finally {
      await closeUser(ann);
      await closeUser(bob);
    }
  });

  it('a proxy that buffers responses until they end pushes the pages down to long-polling', { timeout: 120000 }, async (t) => {
    const cleo = await newUser(viaBuffering, 'Cleo');
    const dan = await newUser(viaBuffering, 'Dan');
    try {
      await Promise.all([openHome(cleo, stack.baseUrl), openHome(dan, stack.baseUrl)]);
      const limit = WS_FALLBACK_MS + STREAM_FALLBACK_MS + WAIT;
      await waitTransport(cleo, 'polling', limit);
      await waitTransport(dan, 'polling', limit);
      const log = await transportLog(cleo.page);
      const dcl = await cleo.page.evaluate(() =>
        /** @type {PerformanceNavigationTiming} */ (performance.getEntriesByType('navigation')[0]).domContentLoadedEventEnd);
      t.diagnostic(`buffering proxy: Cleo ${steps(log)} after navigation (DOMContentLoaded ${seconds(dcl)})`);
      assert.ok(cleo.sockets >= 1, 'the page tried the WebSocket first');
      assert.ok(cleo.streams >= 1, 'then the event stream');
      assert.ok(!log.some((e) => e.v === 'stream'), `a held stream never carried events: ${steps(log)}`);

      await joinRoom(cleo, 'behind a buffer');
      await joinRoom(dan, 'behind a buffer');
      await waitNotice(cleo, 'Dan joined');
      await say(cleo, 'polling gets through');
      await waitChat(dan, 'polling gets through');
      await say(dan, 'so it does');
      await waitChat(cleo, 'so it does');
      await sleep(300);
      for (const user of [cleo, dan]) {
        assert.equal(await countChat(user, 'polling gets through'), 1);
        assert.equal(await countChat(user, 'so it does'), 1);
        assert.equal(await transportNow(user.page), 'polling');
      }
      assert.ok(buffering.responses > 0, 'the pages went through the buffering proxy');
      assert.deepEqual(pageErrors, []);
    } finally {
      await closeUser(cleo);
      await closeUser(dan);
    }
  });
});

// ---- without the gateway -------------------------------------------------------------------

describe('browser: transports, no gateway (NOOM_WS=0)', { skip }, () => {
  /** @type {Awaited<ReturnType<typeof startStack>>} */
  let stack;
  /** @type {import('playwright-core').Browser} */
  let browser;

  before(async () => {
    stack = await startStack({ env: { NOOM_WS: '0' } });
    browser = await /** @type {NonNullable<typeof chromium>} */ (chromium).launch({
      executablePath: CHROMIUM, headless: true, args: LAUNCH_ARGS, timeout: WAIT,
    });
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await stack?.stop();
  });

  it('auto mode falls back to long-polling and chats', { timeout: 45000 }, async (t) => {
    const ann = await newUser(browser, 'Ann');
    const bob = await newUser(browser, 'Bob');
    try {
      /* Nothing answers the upgrade at PREFIX/ws. */
      const probe = await new Promise((resolve) => {
        const req = http.get(new URL('ws', stack.baseUrl), {
          headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' },
          timeout: WAIT,
        }, (res) => {
          res.resume();
          resolve(res.statusCode);
        });
        req.on('upgrade', (res, socket) => {
          socket.destroy();
          resolve(res.statusCode);
        });
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', (e) => resolve(`error ${e.message}`));
      });
      assert.notEqual(probe, 101, 'no gateway behind PREFIX/ws');

      await openHome(ann, stack.baseUrl);
      await waitTransport(ann, 'polling', WS_FALLBACK_MS + WAIT);
      const log = await transportLog(ann.page);
      const nav = await ann.page.evaluate(() => {
        const n = /** @type {PerformanceNavigationTiming} */ (performance.getEntriesByType('navigation')[0]);
        return { dcl: n.domContentLoadedEventEnd, load: n.loadEventEnd };
      });
      const at = log.find((e) => e.v === 'polling')?.t ?? -1;
      const line = `no gateway (PREFIX/ws answers ${probe}): 'polling' ${seconds(at)} after navigation ` +
        `(DOMContentLoaded ${seconds(nav.dcl)}, load ${seconds(nav.load)}); transports ${log.map((e) => e.v).join(' → ')}`;
      t.diagnostic(line);
      assert.ok(at > 0 && at <= nav.dcl + WS_FALLBACK_MS + 500,
        `long-polling within 3.5 s of the page load (${at} ms, DOMContentLoaded ${nav.dcl} ms)`);
      assert.ok(ann.sockets >= 1, 'the page tried the WebSocket first');

      await openHome(bob, stack.baseUrl);
      await waitTransport(bob, 'polling', WS_FALLBACK_MS + WAIT);
      await joinRoom(ann, 'no gateway');
      await joinRoom(bob, 'no gateway');
      await waitNotice(ann, 'Bob joined');
      await waitRoomCount(ann, 2);
      await waitRoomCount(bob, 2);
      await say(ann, 'polling works');
      await waitChat(bob, 'polling works');
      await say(bob, 'it does');
      await waitChat(ann, 'it does');
      await sleep(300);
      for (const user of [ann, bob]) {
        assert.equal(await countChat(user, 'polling works'), 1);
        assert.equal(await countChat(user, 'it does'), 1);
        assert.equal(await transportNow(user.page), 'polling');
      }
      assert.deepEqual(pageErrors, []);
    } finally {
      await closeUser(ann);
      await closeUser(bob);
    }
  });
});
