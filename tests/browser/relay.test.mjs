// Browser test: a call through TURN only, as on a locked-down network. A real coturn on
// 127.0.0.1 (use-auth-secret, TCP), the real stack configured with the same secret and
// ice_transport_policy = relay, and two Chromium pages (two contexts, i.e. two users) that run
// the app's own modules, transport.js (session, room, signaling over the mailbox) and call.js
// (the WebRTC mesh), with fake camera and microphone.
//
// Checks: GET api/call says iceTransportPolicy "relay" and hands out a coturn REST credential
// "<expiry>:<session>"; both peers get to 'connected', the selected candidate pair is relay on
// both ends (through coturn over TCP), and each side decodes the other's video. Then the
// negative: with a wrong secret on the Noom side coturn refuses the credential, and the
// relay-only call does not connect within a few seconds.
//
// Every wait is bounded; coturn, nginx and the workers are stopped by PID, on failure too.
// Skipped, with the reason, when playwright-core, Chromium or turnserver (coturn) is missing.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startStack, freePort, within, sleep } from '../lib/stack.js';
import { chromium, skip as browserSkip, CHROMIUM, BASE_ARGS } from '../lib/browser.js';

const WAIT = 15000;
/* How long the relay-only call may take to connect (it takes well under a second here). */
const CONNECT_WAIT = 20000;
/* How long the call with a refused credential is watched for not connecting. */
const REFUSED_WAIT = 8000;
const LAUNCH_ARGS = [
  ...BASE_ARGS,
  '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
];

/** @param {string} file */
function executable(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The first executable `name` in PATH (or /usr/sbin, /usr/bin), else null. */
function which(name) {
  const dirs = [...(process.env.PATH || '').split(':'), '/usr/sbin', '/usr/bin'];
  return dirs.filter(Boolean).map((dir) => path.join(dir, name)).find(executable) ?? null;
}

let skip = browserSkip;
const TURNSERVER = process.env.NOOM_TURNSERVER || which('turnserver');
if (!skip && !(TURNSERVER && executable(TURNSERVER))) {
  skip = `no turnserver ${TURNSERVER ? `at ${TURNSERVER} ` : ''}(Debian: apt-get install coturn, or ` +
    'scripts/deps.sh --test; NOOM_TURNSERVER names another)';
}

// ---- coturn ----------------------------------------------------------------------------------

/* coturn still running when this process exits is killed by PID. */
const turnPids = new Set();
process.on('exit', () => {
  for (const pid of turnPids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
});

/** Resolves true once something accepts TCP connections on 127.0.0.1:port. */
function tcpOpen(port) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    sock.setTimeout(1000);
    sock.once('connect', () => { sock.destroy(); resolve(true); });
    sock.once('timeout', () => { sock.destroy(); resolve(false); });
    sock.once('error', () => resolve(false));
  });
}

/**
 * Starts coturn on 127.0.0.1 only, with everything it writes in a fresh temporary folder.
 * @param {string} secret  the static-auth-secret
 */
async function startTurn(secret) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'noom-turn-'));
  const port = await freePort();
  const log = path.join(dir, 'turnserver.log');
  const args = [
    '-n', /* no /etc/turnserver.conf: only what is below */
    '--listening-ip', '127.0.0.1', '--relay-ip', '127.0.0.1',
    '--listening-port', String(port),
    '--use-auth-secret', '--static-auth-secret', secret, '--realm', 'noom.test',
    /* Both browsers' relay addresses are on 127.0.0.1: coturn refuses loopback peers unless told. */
    '--allow-loopback-peers',
    '--no-tls', '--no-dtls', '--no-cli', '--no-rfc5780', '--fingerprint',
    '--pidfile', path.join(dir, 'turnserver.pid'), '--db', path.join(dir, 'turndb'),
    '--log-file', log, '--simple-log', '--no-stdout-log', '--verbose',
  ];
  let output = '';
  const child = spawn(/** @type {string} */ (TURNSERVER), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.setEncoding('utf8').on('data', (s) => { output = (output + s).slice(-16384); });
  child.stderr.setEncoding('utf8').on('data', (s) => { output = (output + s).slice(-16384); });
  let exited = null;
  const exit = new Promise((resolve) => child.on('exit', (code, signal) => resolve(exited = { code, signal })));
  child.on('error', () => {});
  if (child.pid) turnPids.add(child.pid);

  const turn = {
    port,
    pid: child.pid,
    log: () => {
      let text = output;
      try { text += `\n--- ${log} ---\n${fs.readFileSync(log, 'utf8').slice(-16384)}`; } catch {}
      return text;
    },
    stop: async () => {
      if (!exited && child.pid) {
        try { process.kill(child.pid, 'SIGTERM'); } catch {}
        if (!(await within(exit, 5000))) {
          try { process.kill(child.pid, 'SIGKILL'); } catch {}
          await within(exit, 2000);
        }
      }
      if (child.pid) turnPids.delete(child.pid);
      child.stdout.destroy();
      child.stderr.destroy();
      if (!process.env.NOOM_KEEP_STATE) fs.rmSync(dir, { recursive: true, force: true });
    },
  };

  /* Ready when its TCP listener accepts (UDP and TCP listeners open together). */
  const deadline = Date.now() + WAIT;
  while (!exited && Date.now() < deadline && !(await tcpOpen(port))) await sleep(100);
  if (exited || Date.now() >= deadline) {
    const why = exited ? `exited (${JSON.stringify(exited)})` : `did not listen on 127.0.0.1:${port} within ${WAIT / 1000} s`;
    const text = turn.log();
    await turn.stop();
    throw new Error(`turnserver ${why}\n${text}`);
  }
  return turn;
}

/**
 * A Noom configuration file: TURN over TCP on coturn's port, relay only.
 * @param {string} dir
 * @param {string} name
 * @param {number} port
 * @param {string} secret
 */
function writeConfig(dir, name, port, secret, ttl = 600) {
  const file = path.join(dir, name);
  fs.writeFileSync(file, [
    '# relay.test.mjs',
    `turn = turn:127.0.0.1:${port}?transport=tcp`,
    `turn_secret = ${secret}`,
    `turn_ttl = ${ttl}`,
    'ice_transport_policy = relay',
  ].join('\n') + '\n');
  return file;
}

// ---- in the page -----------------------------------------------------------------------------

/**
 * Runs in the page: a session of its own (not the app's: a private storage), the room, the
 * call configuration, fake media, and a started Call wired to the mailbox. State is kept in
 * window.__relay for the later steps.
 * @param {{room: string, nickname: string}} arg
 */
async function setUpInPage({ room, nickname }) {
  const base = document.baseURI;
  const { NoomClient } = await import(new URL('static/js/transport.js', base).href);
  const { Call } = await import(new URL('static/js/call.js', base).href);
  const kept = new Map();
  const storage = {
    getItem: (/** @type {string} */ k) => kept.get(k) ?? null,
    setItem: (/** @type {string} */ k, /** @type {string} */ v) => { kept.set(k, v); },
    removeItem: (/** @type {string} */ k) => { kept.delete(k); },
  };
  const client = new NoomClient({ apiBase: new URL('api/', base).href, storage });
  await client.start(nickname);
  const joined = await client.join(room);
  const config = await client.callConfig();
  /* The raw answer too: what the server says, whatever transport.js passes on. */
  const res = await fetch(client.apiBase + 'call', {
    headers: { Authorization: 'Bearer ' + client.token }, cache: 'no-store',
  });
  const raw = await res.json();
  const media = await navigator.mediaDevices.getUserMedia({
    audio: true, video: { width: 320, height: 240, frameRate: 15 },
  });
  const call = new Call({
    self: client.session,
    signaling: { send: (signals) => client.signals(signals) },
    refreshConfig: () => client.callConfig(),
  });
  const t = {
    client, call, media, states: /** @type {string[]} */ ([]), warnings: /** @type {string[]} */ ([]),
    startedAt: 0, connectedAt: 0,
  };
  /** @type {any} */ (window).__relay = t;
  call.onPeerState = (session, state) => {
    t.states.push(state);
    if (state === 'connected' && !t.connectedAt) t.connectedAt = Date.now();
  };
  call.onWarning = (message, err) => { t.warnings.push(`${message}: ${err}`); };
  client.onSignal = (data) => call.handleSignal(data.from, data.kind, data.data);
  client.startPolling();
  t.startedAt = Date.now();
  call.start({
    iceServers: config.iceServers,
    iceTransportPolicy: config.iceTransportPolicy ?? raw.iceTransportPolicy,
    ttl: config.ttl,
  }, { audio: media.getAudioTracks()[0] ?? null, video: media.getVideoTracks()[0] ?? null });
  return {
    session: client.session,
    members: joined.members.map((/** @type {{session: number}} */ m) => m.session),
    config, raw,
  };
}

/** Runs in the page: the newcomer offers to the member who was there first. */
function connectInPage(/** @type {number} */ other) {
  const t = /** @type {any} */ (window).__relay;
  t.startedAt = Date.now();
  t.call.connect(other);
}

/** Runs in the page: the connection state and what getStats() says about the path and video. */
async function statsInPage() {
  const t = /** @type {any} */ (window).__relay;
  const peer = [...t.call.peers.values()][0];
  if (!peer) return { state: 'no peer', warnings: t.warnings };
  const stats = await peer.pc.getStats();
  /** @type {any} */ let transport = null;
  let frames = 0;
  let localRelay = 0;
  stats.forEach((/** @type {any} */ r) => {
    if (r.type === 'transport' && r.selectedCandidatePairId) transport = r;
    if (r.type === 'inbound-rtp' && r.kind === 'video') frames = Math.max(frames, r.framesDecoded ?? 0);
    if (r.type === 'local-candidate' && r.candidateType === 'relay') localRelay++;
  });
  const cand = (/** @type {any} */ c) => c && {
    candidateType: c.candidateType, address: c.address, port: c.port, protocol: c.protocol,
    relayProtocol: c.relayProtocol, url: c.url,
  };
  const pair = transport ? stats.get(transport.selectedCandidatePairId) : null;
  return {
    state: peer.pc.connectionState,
    ice: peer.pc.iceConnectionState,
    hasRemote: !!peer.pc.remoteDescription,
    pairState: pair?.state ?? null,
    local: cand(pair && stats.get(pair.localCandidateId)),
    remote: cand(pair && stats.get(pair.remoteCandidateId)),
    frames,
    localRelay,
    startedAt: t.startedAt,
    connectedAt: t.connectedAt,
    states: t.states,
    warnings: t.warnings,
  };
}

/** Runs in the page: hang up, stop polling and the camera. */
async function tearDownInPage() {
  const t = /** @type {any} */ (window).__relay;
  if (!t) return;
  await Promise.race([t.call.hangup(), new Promise((r) => setTimeout(r, 2000))]);
  t.client.stopPolling();
  for (const track of t.media.getTracks()) track.stop();
}

// ---- the tests -------------------------------------------------------------------------------

/* The skip is on each test, not on the suite: node counts a skipped suite as no test at all,
 * and make check should say that these were skipped. */
describe('browser: a call through TURN only (ice_transport_policy = relay)', () => {
  const SECRET = crypto.randomBytes(18).toString('hex');
  /** @type {Awaited<ReturnType<typeof startTurn>>|undefined} */
  let turn;
  /** @type {Awaited<ReturnType<typeof startStack>>|undefined} */
  let stack;
  /** The same, but its turn_secret is not coturn's. @type {Awaited<ReturnType<typeof startStack>>|undefined} */
  let wrong;
  /** The same as stack, with TURN credentials valid 12 s. @type {Awaited<ReturnType<typeof startStack>>|undefined} */
  let brief;
  /** @type {import('playwright-core').Browser|undefined} */
  let browser;
  let confDir = '';
  /** @type {string[]} */
  const pageErrors = [];

  before(async () => {
    if (skip) return;
    confDir = fs.mkdtempSync(path.join(os.tmpdir(), 'noom-relay-'));
    turn = await startTurn(SECRET);
    stack = await startStack({
      workerArgs: ['--poll-timeout', '5'],
      env: { NOOM_CONFIG: writeConfig(confDir, 'noom.conf', turn.port, SECRET) },
    });
    /* Started here, one after the other and before Chromium: a loaded machine starts a stack
     * slowly, and the negative test should only spend its time watching. */
    wrong = await startStack({
      workerArgs: ['--poll-timeout', '5'],
      env: { NOOM_CONFIG: writeConfig(confDir, 'wrong.conf', turn.port, `${SECRET}-not`) },
    });
    brief = await startStack({
      workerArgs: ['--poll-timeout', '5'],
      env: { NOOM_CONFIG: writeConfig(confDir, 'brief.conf', turn.port, SECRET, 12) },
    });
    browser = await /** @type {NonNullable<typeof chromium>} */ (chromium).launch({
      executablePath: CHROMIUM, headless: true, args: LAUNCH_ARGS, timeout: WAIT,
    });
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await wrong?.stop();
    await brief?.stop();
    await stack?.stop();
    await turn?.stop();
    if (confDir) fs.rmSync(confDir, { recursive: true, force: true });
  });

  /**
   * Two users in two contexts on the stack's home page, both in `room` with a started call;
   * the second offers to the first. Returns the pages and what setUpInPage said.
   * @param {NonNullable<typeof stack>} on
   * @param {string} room
   * @param {Array<() => Promise<void>>} cleanups  filled with what to close afterwards
   */
  async function twoCallers(on, room, cleanups) {
    /** @type {import('playwright-core').Page[]} */
    const pages = [];
    const infos = [];
    for (const nickname of ['Ann', 'Bob']) {
      const context = await /** @type {NonNullable<typeof browser>} */ (browser).newContext();
      cleanups.push(() => context.close().catch(() => {}));
      context.setDefaultTimeout(WAIT);
      const page = await context.newPage();
      page.on('pageerror', (err) => pageErrors.push(`${nickname}: ${err.message}`));
      cleanups.push(() => within(page.evaluate(tearDownInPage).catch(() => {}), 5000).then(() => {}));
      const res = await page.goto(on.baseUrl, { timeout: WAIT });
      assert.equal(res?.status(), 200);
      infos.push(await page.evaluate(setUpInPage, { room, nickname }));
      pages.push(page);
    }
    assert.deepEqual(infos[1].members.sort(), [infos[0].session, infos[1].session].sort(),
      'both are members of the room');
    await pages[1].evaluate(connectInPage, infos[0].session);
    return { pages, infos };
  }

  /** Runs cleanups in reverse order (pages' teardown before their contexts close). */
  async function runCleanups(/** @type {Array<() => Promise<void>>} */ cleanups) {
    for (const fn of cleanups.reverse()) await fn();
  }

  it('both peers connect through the relay and decode each other\'s video', { skip, timeout: 90000 }, async (t) => {
    const s = /** @type {NonNullable<typeof stack>} */ (stack);
    const port = /** @type {NonNullable<typeof turn>} */ (turn).port;
    /** @type {Array<() => Promise<void>>} */
    const cleanups = [];
    try {
      const { pages, infos } = await twoCallers(s, 'relay only', cleanups);

      for (const info of infos) {
        assert.equal(info.raw.iceTransportPolicy, 'relay', 'GET api/call says relay');
        const turnEntry = info.raw.iceServers.find((/** @type {any} */ e) => e.username !== undefined);
        assert.ok(turnEntry, `a TURN entry in ${JSON.stringify(info.raw.iceServers)}`);
        assert.deepEqual(turnEntry.urls, [`turn:127.0.0.1:${port}?transport=tcp`]);
        assert.match(turnEntry.username, new RegExp(`^\\d+:${info.session}$`), 'username is <expiry>:<session>');
        assert.ok(Number(turnEntry.username.split(':')[0]) > Date.now() / 1000, 'the credential has not expired');
        assert.equal(typeof turnEntry.credential, 'string');
        assert.ok(!JSON.stringify(info.raw).includes(SECRET), 'the secret stays on the server');
      }
      if (infos[0].config.iceTransportPolicy === undefined) {
        t.diagnostic('transport.js callConfig() drops iceTransportPolicy: the test took it from GET api/call');
      }

      /* Both peers connected, within a bound. */
      const deadline = Date.now() + CONNECT_WAIT;
      /** @type {any[]} */
      let stats = [];
      for (;;) {
        stats = await Promise.all(pages.map((p) => p.evaluate(statsInPage)));
        if (stats.every((st) => st.state === 'connected')) break;
        if (Date.now() > deadline) {
          assert.fail(`not connected within ${CONNECT_WAIT / 1000} s: ${JSON.stringify(stats)}\n` +
            `--- coturn ---\n${turn?.log()}`);
        }
        await sleep(100);
      }
      /* From Bob's connect() (the offer) to the later of the two 'connected' (same clock). */
      const connectMs = Math.max(...stats.map((st) => st.connectedAt)) - stats[1].startedAt;
      t.diagnostic(`relay-only call connected ${connectMs} ms after the offer was started`);
      process.stderr.write(`[relay] both peers connected through coturn ${connectMs} ms after the offer\n`);

      /* Video is decoded on both sides (frames come a little after 'connected'). */
      const framesBy = Date.now() + WAIT;
      while (!stats.every((st) => st.frames > 0) && Date.now() < framesBy) {
        await sleep(250);
        stats = await Promise.all(pages.map((p) => p.evaluate(statsInPage)));
      }
      for (const [i, st] of stats.entries()) {
        const who = i === 0 ? 'Ann' : 'Bob';
        assert.equal(st.state, 'connected', `${who} is still connected`);
        assert.ok(st.local && st.remote, `${who} has a selected candidate pair: ${JSON.stringify(st)}`);
        assert.equal(st.local.candidateType, 'relay', `${who}'s local candidate is a relay: ${JSON.stringify(st.local)}`);
        assert.equal(st.remote.candidateType, 'relay', `${who}'s remote candidate is a relay: ${JSON.stringify(st.remote)}`);
        assert.equal(st.local.address, '127.0.0.1', 'relayed by our coturn');
        assert.equal(st.local.relayProtocol, 'tcp', 'browser to coturn over TCP');
        assert.ok(st.frames > 0, `${who} decoded video frames: ${JSON.stringify(st)}`);
        t.diagnostic(`${who}: ${st.local.candidateType} ${st.local.address}:${st.local.port} (${st.local.relayProtocol}) ` +
          `-> ${st.remote.candidateType} ${st.remote.address}:${st.remote.port}, ${st.frames} frames decoded`);
      }
    } finally {
      await runCleanups(cleanups);
    }
  });

  it('with a wrong TURN secret the relay-only call does not connect', { skip, timeout: 60000 }, async (t) => {
    /** @type {Array<() => Promise<void>>} */
    const cleanups = [];
    try {
      const { pages, infos } = await twoCallers(/** @type {NonNullable<typeof wrong>} */ (wrong), 'refused', cleanups);
      assert.equal(infos[0].raw.iceTransportPolicy, 'relay');
      /* Signaling works (the offer and answer travel); only the relay is refused. */
      const end = Date.now() + REFUSED_WAIT;
      /** @type {any[]} */
      let stats = [];
      while (Date.now() < end) {
        stats = await Promise.all(pages.map((p) => p.evaluate(statsInPage)));
        assert.ok(stats.every((st) => st.state !== 'connected'),
          `connected although coturn must refuse the credential: ${JSON.stringify(stats)}`);
        await sleep(250);
      }
      for (const st of stats) {
        assert.ok(st.hasRemote, `the offer and answer went through: ${JSON.stringify(st)}`);
        assert.equal(st.localRelay, 0, `coturn gave no relay address: ${JSON.stringify(st)}`);
        assert.equal(st.pairState, null, 'no candidate pair was selected');
      }
      t.diagnostic(`after ${REFUSED_WAIT / 1000} s: ${stats.map((st) => `${st.state}/${st.ice}`).join(', ')}`);
    } finally {
      await runCleanups(cleanups);
    }
  });

  it('a call longer than its TURN credentials keeps its media: they are renewed before they expire', { skip, timeout: 90000 }, async (t) => {
    /** @type {Array<() => Promise<void>>} */
    const cleanups = [];
    const TTL = 12;
    try {
      const { pages, infos } = await twoCallers(/** @type {NonNullable<typeof brief>} */ (brief), 'long call', cleanups);
      const expiry = Number(infos[0].raw.iceServers.find((/** @type {any} */ e) => e.username).username.split(':')[0]);
      assert.ok(expiry - Date.now() / 1000 <= TTL + 1, 'the first credentials are valid 12 s');
      /* Past three lifetimes of the first credentials. */
      const end = Date.now() + 3 * TTL * 1000;
      /** @type {any[]} */
      let stats = [];
      while (Date.now() < end) {
        await sleep(1000);
        stats = await Promise.all(pages.map((p) => p.evaluate(statsInPage)));
      }
      const before = stats.map((st) => st.frames);
      await sleep(2000);
      stats = await Promise.all(pages.map((p) => p.evaluate(statsInPage)));
      const renewals = await Promise.all(pages.map((p) => p.evaluate(() => /** @type {any} */ (window).__relay.call.renewals)));
      for (const [i, st] of stats.entries()) {
        const who = i === 0 ? 'Ann' : 'Bob';
        assert.equal(st.state, 'connected', `${who} is still connected after ${3 * TTL} s: ${JSON.stringify(st)}`);
        assert.equal(st.local?.candidateType, 'relay', `${who} still goes through the relay`);
        assert.ok(st.frames > before[i], `${who} still decodes video (${before[i]} -> ${st.frames} frames)`);
        assert.ok(renewals[i] >= 2, `${who} renewed its credentials ${renewals[i]} times`);
      }
      t.diagnostic(`after ${3 * TTL + 2} s with ${TTL} s credentials: renewals ${renewals.join(', ')}, ` +
        `frames ${stats.map((st) => st.frames).join(', ')}`);
    } finally {
      await runCleanups(cleanups);
    }
  });

  it('no page raised an uncaught error', { skip }, () => {
    assert.deepEqual(pageErrors, []);
  });
});
