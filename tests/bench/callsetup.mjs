// Call set-up time: from the second user's click on "Join" to both users seeing the other's
// video playing (videoWidth > 0 and time advancing), in Debian's headless Chromium with fake
// camera and microphone, on 127.0.0.1. Noom is measured against its real stack (noom-run: nginx +
// workers + noom-ws); the anchor is the Socket.IO course app (tests/bench/course/, the classic
// "Zoom clone" call rebuilt minimally: node + socket.io 4 + one RTCPeerConnection), measured in
// the same run with the same browser, flags, start and stop points. Prints every run, and a
// table of medians with the ratios Noom ÷ course.
//
//   node tests/bench/callsetup.mjs [RUNS] [MODE ...]      (make bench-call: 5 runs, all modes)
//
//   polling         Noom, long-polling          course-polling  course app, transports: ['polling']
//   websocket       Noom, WebSocket             course          course app, Socket.IO's default
//                                                               (polling, then upgrade to WebSocket)
//   default: polling websocket course-polling course
//   before-polling  before-websocket: with CALLSETUP_BEFORE=<another build's noom-run>, that
//                   build too, in the same run (the change and the code before it)
//
// Environment as for `make check` (NOOM_RUN, NOOM_SRCDIR, NOOM_BUILDDIR, NODE_PATH), and for the
// course modes socket.io in $BENCH_DEPS (default ~/.cache/chat-bench, from the shared bench's
// setup.sh). A benchmark, not a test: nothing is asserted about the time. Each run uses a new
// room and new browser contexts, so no connection or cache is reused between runs; the browser
// and the servers are shared. The modes take turns run by run (run 1 of every mode, then run 2
// ...), so a change in the machine's load falls on all of them alike.
//
// Start and stop points, the same for every mode: Ann opens the page, joins and has her local
// video; Bob opens the page and waits until it is connected on the mode's transport (for
// `websocket` and `course`: until it is on WebSocket); t0 = Bob's click on Join; stop = both
// pages show a remote video with videoWidth > 0, currentTime > 0 and not paused. In Noom the
// home page's Join opens the pre-join screen, whose camera preview plays before the measured
// click on its own Join (the course app opens the camera at its one click). Then, Noom only
// (the course app's call has one connection), Cleo joins the call of two: t0 = her click on
// Join, stop = all three pages play both others' videos ("third member").
// CALLSETUP_TRACE=1 prints, per run, what each page did when (see traceScript below), and when
// the pages themselves saw the stop condition.

import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startStack, within } from '../lib/stack.js';

/* CALLSETUP_BEFORE=<another build's noom-run>: that build too, as before-polling and
 * before-websocket, so that two versions of Noom are compared in one run. */
const BEFORE = process.env.CALLSETUP_BEFORE || '';
const BEFORE_MODES = BEFORE ? ['before-polling', 'before-websocket'] : [];
const NOOM_MODES = ['polling', 'websocket', ...BEFORE_MODES];
const COURSE_MODES = ['course-polling', 'course'];
const ALL_MODES = [...NOOM_MODES, ...COURSE_MODES];

const RUNS = Math.max(1, Math.min(50, Number(process.argv[2]) || 5));
const MODES = process.argv.slice(3);
for (const m of MODES) {
  if (!ALL_MODES.includes(m)) {
    console.error(`callsetup: unknown mode ${JSON.stringify(m)} (modes: ${ALL_MODES.join(' ')})`);
    process.exit(2);
  }
}
if (MODES.length === 0) MODES.push(...ALL_MODES);
const WAIT = 30000;
const { chromium } = createRequire(import.meta.url)('playwright-core');
const here = path.dirname(fileURLToPath(import.meta.url));

const args = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
  '--autoplay-policy=no-user-gesture-required',
];

// ---------------------------------------------------------------------------------------------
// The course app's server: a child process, killed by its PID at the end, also on failure.

let courseChild = null;
process.on('exit', () => {
  if (courseChild && courseChild.exitCode === null && courseChild.signalCode === null) {
    try { process.kill(courseChild.pid, 'SIGKILL'); } catch {}
  }
});
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => process.exit(128 + os.constants.signals[sig]));
}

/** Starts tests/bench/course/server.js; resolves with its base URL once it listens. */
function startCourse() {
  const child = spawn(process.execPath, [path.join(here, 'course', 'server.js')], {
    env: process.env, stdio: ['ignore', 'pipe', 'pipe'],
  });
  courseChild = child;
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (c) => { out += c; });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`course app did not start within 20 s:\n${out}`)), 20000);
    child.stdout.on('data', (c) => {
      out += c;
      const m = /course app at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`course app exited (code ${code}, signal ${signal}):\n${out}`));
    });
  });
}

async function stopCourse() {
  const child = courseChild;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', () => resolve(true)));
  try { process.kill(child.pid, 'SIGTERM'); } catch {}
  if ((await within(exited, 5000)) === null) {
    try { process.kill(child.pid, 'SIGKILL'); } catch {}
    await within(exited, 2000);
  }
  child.stdout.destroy();
  child.stderr.destroy();
}

// ---------------------------------------------------------------------------------------------

/** Resolves once the page shows `n` remote videos that are playing, with when the page saw it. */
async function remotePlaying(page, n = 1) {
  const seen = await page.waitForFunction((n) => {
    const vs = /** @type {HTMLVideoElement[]} */ (Array.from(document.querySelectorAll('[data-testid="remote-video"]')));
    return vs.filter((v) => v.videoWidth > 0 && v.currentTime > 0 && !v.paused).length >= n && Date.now();
  }, n, { timeout: WAIT, polling: 10 });
  return /** @type {number} */ (await seen.jsonValue());
}

/** Resolves once Noom's pre-join preview plays (the camera is open before the click). */
function previewPlaying(page) {
  return page.waitForFunction(() => {
    const v = /** @type {HTMLVideoElement|null} */ (document.querySelector('[data-testid="prejoin-preview"]'));
    return !!v && v.videoWidth > 0 && v.currentTime > 0 && !v.paused;
  }, null, { timeout: WAIT, polling: 10 });
}

/**
 * Noom: the home page's Join opens the pre-join screen, whose camera preview must play before
 * the measured click (a user reads it before joining); the course app has no such screen.
 * Returns the selector of the button that joins.
 */
async function toJoinButton(page) {
  if (!(await page.$('[data-testid="nickname-input"]'))) return '[data-testid="join-button"]';
  await page.click('[data-testid="join-button"]');
  await previewPlaying(page);
  return '[data-testid="prejoin-join"]';
}

/** Where each mode's page is, and the transport its page must be on before t0. */
function target(mode, urls) {
  switch (mode) {
    case 'polling': return { url: `${urls.noom}?transport=polling`, transport: 'polling' };
    case 'websocket': return { url: `${urls.noom}?transport=websocket`, transport: 'websocket' };
    case 'before-polling': return { url: `${urls.before}?transport=polling`, transport: 'polling' };
    case 'before-websocket': return { url: `${urls.before}?transport=websocket`, transport: 'websocket' };
    case 'course-polling': return { url: `${urls.course}?transport=polling`, transport: 'polling' };
    case 'course': return { url: urls.course, transport: 'websocket' };
  }
  throw new Error(mode);
}

// CALLSETUP_TRACE=1: where the time goes. Each page records (Date.now(), same clock as t0)
// getUserMedia, the peer connection's offer/answer steps, ICE and the first remote track, and
// the HTTP requests it sends (long-poll GETs left out); printed per run relative to t0.
const TRACE = !!process.env.CALLSETUP_TRACE;
function traceScript() {
  const w = /** @type {any} */ (window);
  w.__trace = [];
  const mark = (what) => w.__trace.push([what, Date.now()]);
  const gum = MediaDevices.prototype.getUserMedia;
  MediaDevices.prototype.getUserMedia = function (...a) {
    mark('gUM');
    return gum.apply(this, a).then((st) => { mark('gUM ok'); return st; });
  };
  const PC = window.RTCPeerConnection;
  for (const m of ['setLocalDescription', 'setRemoteDescription']) {
    const f = PC.prototype[m];
    PC.prototype[m] = function (d, ...a) {
      const tag = (m === 'setLocalDescription' ? 'sLD' : 'sRD') + (d && d.type ? ' ' + d.type : '');
      mark(tag);
      return f.call(this, d, ...a);
    };
  }
  let cands = 0;
  const add = PC.prototype.addIceCandidate;
  PC.prototype.addIceCandidate = function (...a) {
    if (cands++ === 0) mark('addIce#1');
    return add.apply(this, a);
  };
  w.RTCPeerConnection = class extends PC {
    constructor(...a) {
      super(...a);
      mark('pc');
      let tracks = 0, local = 0;
      this.addEventListener('icecandidate', (e) => { if (e.candidate && local++ === 0) mark('icecand#1'); });
      this.addEventListener('track', () => { if (tracks++ === 0) mark('track'); });
      this.addEventListener('iceconnectionstatechange', () => mark('ice ' + this.iceConnectionState));
      this.addEventListener('connectionstatechange', () => { if (this.connectionState === 'connected') mark('dtls'); });
    }
  };
  /* Signals as the page itself sends and receives them (Playwright's request events come late):
   * "→offer" when a request or frame carrying an offer leaves, "←offer" when one arrives. */
  const kinds = (text) => {
    const s = String(text);
    return ['offer', 'answer', 'candidate'].filter((k) => s.includes(`"kind":"${k}"`)).join('+');
  };
  const fetch0 = window.fetch;
  window.fetch = function (input, init) {
    if (String(input).includes('api/signal') && init && init.body) mark('→' + kinds(init.body));
    return fetch0.call(this, input, init);
  };
  const WS = window.WebSocket;
  const send0 = WS.prototype.send;
  WS.prototype.send = function (data) {
    const k = kinds(data);
    if (k) mark('→ws ' + k);
    return send0.call(this, data);
  };
  w.WebSocket = class extends WS {
    constructor(...a) {
      super(...a);
      this.addEventListener('message', (e) => { const k = kinds(e.data); if (k) mark('←' + k); });
    }
  };
  /* The main thread's long stretches: a 2-ms timer that fires late by over 10 ms marks
   * "busy N" (N ms late) where it finally ran. */
  let last = performance.now();
  const tick = () => {
    const now = performance.now();
    if (now - last > 12) w.__trace.push([`busy ${Math.round(now - last - 2)}`, Date.now()]);
    last = now;
    setTimeout(tick, 2);
  };
  setTimeout(tick, 2);
  document.addEventListener('playing', (e) => {
    const v = /** @type {HTMLElement} */ (e.target);
    if (v.dataset && v.dataset.testid === 'remote-video') mark('remote playing');
  }, true);
}

async function openPage(browser, urls, nickname, roomName, mode) {
  const ctx = await browser.newContext({ viewport: { width: 1024, height: 700 } });
  const page = await ctx.newPage();
  if (TRACE) {
    await page.addInitScript(traceScript);
    page.__requests = [];
    page.on('request', (r) => {
      const u = new URL(r.url());
      if (r.method() === 'GET' && /poll|socket\.io/.test(u.pathname + u.search) && !/\.js$/.test(u.pathname)) return;
      if (r.method() === 'GET' && !/api\//.test(u.pathname)) return;
      page.__requests.push([`${r.method()} ${u.pathname.replace(/^.*\/api\//, 'api/')}`, Date.now()]);
    });
    /* The answers that matter for the order of work: the join's and the call configuration's. */
    page.on('requestfinished', (r) => {
      const u = new URL(r.url());
      if (/api\/(join|call)$/.test(u.pathname)) page.__requests.push([`done ${u.pathname.replace(/^.*\/api\//, 'api/')}`, Date.now()]);
    });
  }
  await page.goto(target(mode, urls).url);
  await page.waitForSelector('body[data-ready="true"]', { timeout: WAIT });
  /* The course app has no nickname. */
  if (await page.$('[data-testid="nickname-input"]')) await page.fill('[data-testid="nickname-input"]', nickname);
  await page.fill('[data-testid="room-input"]', roomName);
  return { ctx, page, name: nickname };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** One call in `mode`: the set-up time in ms. */
async function oneRun(browser, urls, mode, i) {
  const roomName = `setup-${mode}-${process.pid}-${i}`;
  const a = await openPage(browser, urls, 'Ann', roomName, mode);
  let b = null;
  let c = null;
  try {
    await a.page.click(await toJoinButton(a.page));
    /* Ann is in the room with her camera on before Bob arrives, as in a real meeting. */
    await a.page.waitForSelector('[data-testid="local-video"]', { timeout: WAIT });
    b = await openPage(browser, urls, 'Bob', roomName, mode);
    const ms = await timedJoin(b, [a], mode, urls);
    /* Noom only (the course app's call has one connection): Cleo joins the call of two. */
    let third = null;
    if (NOOM_MODES.includes(mode)) {
      c = await openPage(browser, urls, 'Cleo', roomName, mode);
      third = await timedJoin(c, [a, b], mode, urls);
    }
    return { ms, third };
  } finally {
    await a.ctx.close();
    if (b) await b.ctx.close();
    if (c) await c.ctx.close();
  }
}

/**
 * `joiner` clicks Join once its page is on the mode's transport (t0); resolves with the ms
 * until every page of the call plays every other member's video.
 */
async function timedJoin(joiner, members, mode, urls) {
  const button = await toJoinButton(joiner.page);
  await joiner.page.waitForFunction((t) => document.body.dataset.transport === t, target(mode, urls).transport, { timeout: WAIT });
  const n = members.length;
  const t0 = Date.now();
  await joiner.page.click(button);
  const seen = await Promise.all([remotePlaying(joiner.page, n), ...members.map((m) => remotePlaying(m.page, n))]);
  const ms = Date.now() - t0;
  if (TRACE) console.log(`  the pages saw it at +${Math.max(...seen) - t0}`);
  if (TRACE) {
    for (const who of [joiner, ...members]) {
      const marks = [...(await who.page.evaluate(() => /** @type {any} */ (window).__trace)), ...who.page.__requests]
        .filter(([, t]) => t >= t0).sort((x, y) => x[1] - y[1]);
      console.log(`  ${who.name}: ${marks.map(([w, t]) => `${w} +${t - t0}`).join(', ')}`);
    }
  }
  return ms;
}

const load = () => os.loadavg().map((x) => x.toFixed(2)).join(' ');
const loadStart = load();
const urls = {};
const times = Object.fromEntries(MODES.map((m) => [m, []]));
const thirds = Object.fromEntries(MODES.map((m) => [m, []]));
let stack = null;
let beforeStack = null;
let browser = null;
try {
  if (MODES.some((m) => NOOM_MODES.includes(m))) {
    stack = await startStack({});
    urls.noom = stack.baseUrl;
  }
  if (MODES.some((m) => BEFORE_MODES.includes(m))) {
    /* startStack runs $NOOM_RUN; the other build's noom-run finds its own programs and files. */
    const own = process.env.NOOM_RUN;
    process.env.NOOM_RUN = BEFORE;
    try {
      beforeStack = await startStack({});
    } finally {
      if (own === undefined) delete process.env.NOOM_RUN;
      else process.env.NOOM_RUN = own;
    }
    urls.before = beforeStack.baseUrl;
  }
  if (MODES.some((m) => COURSE_MODES.includes(m))) urls.course = await startCourse();
  browser = await chromium.launch({ executablePath: process.env.NOOM_CHROMIUM || '/usr/bin/chromium', args });
  console.log(`call set-up, ${RUNS} runs of ${MODES.join(', ')}; load average at start ${loadStart}`);
  for (let i = 1; i <= RUNS; i++) {
    for (const mode of MODES) {
      const { ms, third } = await oneRun(browser, urls, mode, i);
      times[mode].push(ms);
      if (third !== null) thirds[mode].push(third);
      console.log(`${mode} run ${i}: ${ms} ms${third === null ? '' : `, third member ${third} ms`}`);
    }
  }
} catch (e) {
  /* Say whether a server went away under the run (and what it said), not only the page error. */
  if (stack && stack.exited()) console.error(`noom-run exited during the run: ${JSON.stringify(stack.exited())}`);
  if (stack) console.error(`--- noom-run output ---\n${stack.logs().slice(-4000)}\n--- end ---`);
  if (courseChild && (courseChild.exitCode !== null || courseChild.signalCode !== null)) {
    console.error(`course app exited during the run (code ${courseChild.exitCode}, signal ${courseChild.signalCode})`);
  }
  throw e;
} finally {
  if (browser) await browser.close();
  if (stack) await stack.stop();
  if (beforeStack) await beforeStack.stop();
  await stopCourse();
}

console.log(`\ncall set-up time, median of ${RUNS} (min, max); load average ${loadStart} at start, ${load()} at end`);
console.log('| mode | median | min | max |');
console.log('|---|---:|---:|---:|');
for (const mode of MODES) {
  const t = times[mode];
  console.log(`| ${mode} | ${median(t)} ms | ${Math.min(...t)} ms | ${Math.max(...t)} ms |`);
}
const ratio = (n, c) => {
  if (!times[n] || !times[c]) return;
  console.log(`Noom ${n} ÷ ${c}: ${(median(times[n]) / median(times[c])).toFixed(2)}`);
};
for (const mode of MODES) {
  const t = thirds[mode];
  if (t.length) console.log(`| ${mode}, third member | ${median(t)} ms | ${Math.min(...t)} ms | ${Math.max(...t)} ms |`);
}
ratio('polling', 'course-polling');
ratio('websocket', 'course');
ratio('before-polling', 'course-polling');
ratio('before-websocket', 'course');
