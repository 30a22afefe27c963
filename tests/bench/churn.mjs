// churn.mjs — the churn attack, replayed against a real stack on 127.0.0.1, and what it costs
// the people who are not attacking (docs/BENCHMARKS.md, "Churn").
//
//   node tests/bench/churn.mjs            (from a configured build folder: NOOM_BUILDDIR, or
//                                           NOOM_RUN=<build>/noom-run for another build)
//
// The scene: ROOMS open rooms with one member each (their owners come from addresses of their
// own, X-Forwarded-For through a trusted proxy), LOBBY idle sessions long-polling the lobby,
// and two members of a room "talk" chatting, one message every 50 ms, the other long-polling
// and timing each message from post to receipt. Then one attacker address creates sessions
// that join and leave rooms as fast as WIDTH concurrent loops allow, for SECONDS seconds, at
// the rate the limits let through (each refused call waits its Retry-After).
//
// CHURN_ROOMS (500), CHURN_LOBBY (200), CHURN_SECONDS (20), CHURN_WIDTH (20), CHURN_CONFIG.
// Printed, before the attack and during it: chat latency p50 / p99 between the two members,
// the bytes each idle lobby poller received, the largest answer, and the attacker's calls
// (done / refused). Asserts nothing. Stops by itself; every server it starts is stopped.
import {performance} from 'node:perf_hooks';
import {startStack, api, newSession, join, leave, sleep} from '../lib/stack.js';

const ROOMS = Number(process.env.CHURN_ROOMS ?? 500);
const LOBBY = Number(process.env.CHURN_LOBBY ?? 200);
const SECONDS = Number(process.env.CHURN_SECONDS ?? 20);
const WIDTH = Number(process.env.CHURN_WIDTH ?? 20);
const QUIET = 10; // seconds of chat before the attack

const pct = (xs, p) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

/** Long-polls token's mailbox until stop(), counting bytes and handing events to onEvents. */
function pollLoop(stack, token, cursor, stats, onEvents = () => {}) {
  let running = true;
  const done = (async () => {
    while (running) {
      let r;
      try {
        r = await api(stack, 'GET', `api/poll?cursor=${cursor}`, {token, timeoutMs: 40_000});
      } catch {
        continue;
      }
      if (r.status !== 200) {
        await sleep(200);
        continue;
      }
      stats.bytes += r.text.length;
      stats.largest = Math.max(stats.largest, r.text.length);
      cursor = r.json.cursor;
      onEvents(r.json.events);
    }
  })();
  return {stop: () => { running = false; return done; }};
}

async function scene(stack) {
  const owners = Array.from({length: ROOMS}, (_, i) => i);
  for (let i = 0; i < owners.length; i += 25) {
    await Promise.all(owners.slice(i, i + 25).map(async (n) => {
      const hdr = {'X-Forwarded-For': `198.18.${n >> 8}.${n & 255}`};
      const s = await api(stack, 'POST', 'api/session', {body: {nickname: `owner${n}`}, headers: hdr});
      await api(stack, 'POST', 'api/join', {token: s.json.token, body: {room: `room-${n}`}, headers: hdr});
    }));
  }
  const lobby = [];
  for (let i = 0; i < LOBBY; i += 25) {
    lobby.push(...await Promise.all(Array.from({length: Math.min(25, LOBBY - i)}, (_, j) =>
      api(stack, 'POST', 'api/session', {body: {nickname: `idle${i + j}`},
        headers: {'X-Forwarded-For': `198.19.${(i + j) >> 8}.${(i + j) & 255}`}}).then((r) => r.json))));
  }
  return lobby;
}

/** The attacker: WIDTH loops of new session → join → leave, from one address, until `until`. */
async function attack(stack, until, calls) {
  const loop = async (w) => {
    let s = null;
    for (let i = 0; performance.now() < until; i++) {
      const step = s === null ?
        api(stack, 'POST', 'api/session', {body: {nickname: '!'}}) :
        i % 2 ? api(stack, 'POST', 'api/join', {token: s.token, body: {room: `!flood-${w}-${i % 40}`}}) :
          api(stack, 'POST', 'api/leave', {token: s.token});
      let r;
      try {
        r = await step;
      } catch {
        continue;
      }
      if (r.status === 429) {
        calls.refused++;
        await sleep(Math.min(1000 * Number(r.headers.get('retry-after') ?? 1), until - performance.now()));
        continue;
      }
      calls.done++;
      if (s === null && r.status === 201) s = r.json;
      if (s !== null && i % 50 === 49) s = null; // a fresh session now and then
    }
  };
  await Promise.all(Array.from({length: WIDTH}, (_, w) => loop(w)));
}

async function main() {
  // The owners' and idle users' own addresses come through 127.0.0.1 as a trusted proxy.
  // CHURN_CONFIG= (empty) for a build that has no such setting (it then ignores the header).
  const config = process.env.CHURN_CONFIG ?? 'trusted_proxy = 127.0.0.1\n';
  const stack = await startStack({workerArgs: ['--poll-timeout', '25', '--presence-timeout', '600'],
    config: config === '' ? undefined : config});
  try {
    const t0 = performance.now();
    const lobby = await scene(stack);
    console.log(`scene: ${ROOMS} rooms, ${LOBBY} lobby pollers in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const ann = await newSession(stack, 'Ann');
    const bob = await newSession(stack, 'Bob');
    await join(stack, ann.token, 'talk');
    const bj = await join(stack, bob.token, 'talk');

    const sent = new Map();
    let phase = 'quiet';
    const lat = {quiet: [], attack: []};
    const chatStats = {bytes: 0, largest: 0};
    const bobLoop = pollLoop(stack, bob.token, bj.cursor, chatStats, (evs) => {
      const now = performance.now();
      for (const e of evs) {
        const at = e.type === 'new_message' ? sent.get(e.data.text) : undefined;
        if (at !== undefined) lat[phase].push(now - at);
      }
    });
    const lobbyStats = lobby.map(() => ({bytes: 0, largest: 0}));
    const loops = lobby.map((s, i) => pollLoop(stack, s.token, s.cursor, lobbyStats[i]));
    let n = 0;
    const talk = setInterval(() => {
      const text = `m${n++}`;
      sent.set(text, performance.now());
      api(stack, 'POST', 'api/messages', {token: ann.token, body: {text}}).catch(() => {});
    }, 50);

    await sleep(QUIET * 1000);
    const before = lobbyStats.map((s) => s.bytes);
    phase = 'attack';
    const calls = {done: 0, refused: 0};
    await attack(stack, performance.now() + SECONDS * 1000, calls);
    clearInterval(talk);
    await sleep(1500);
    const during = lobbyStats.map((s, i) => s.bytes - before[i]);
    await Promise.all([bobLoop.stop(), ...loops.map((l) => l.stop())].map((p) => Promise.race([p, sleep(100)])));

    const ms = (x) => `${x.toFixed(1)} ms`;
    console.log(`chat p50/p99 quiet: ${ms(pct(lat.quiet, 50))} / ${ms(pct(lat.quiet, 99))} (${lat.quiet.length} messages)`);
    console.log(`chat p50/p99 under attack: ${ms(pct(lat.attack, 50))} / ${ms(pct(lat.attack, 99))} (${lat.attack.length} messages)`);
    console.log(`bytes per idle lobby poller during the attack: median ${pct(during, 50)}, max ${Math.max(...during)}`);
    console.log(`largest answer to a lobby poller: ${Math.max(...lobbyStats.map((s) => s.largest))} bytes`);
    console.log(`attacker calls in ${SECONDS} s: ${calls.done} done, ${calls.refused} refused (429)`);
    console.log(JSON.stringify({rooms: ROOMS, lobby: LOBBY, seconds: SECONDS,
      chat_p99_quiet_ms: pct(lat.quiet, 99), chat_p99_attack_ms: pct(lat.attack, 99),
      lobby_bytes_median: pct(during, 50), calls}));
  } finally {
    await stack.stop();
  }
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
