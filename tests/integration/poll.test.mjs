// Long-polling: answer shape and timeout, cursor resume (exactly once per cursor), ordering,
// and cross-worker wake-up latency with 2 workers.
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import {performance} from 'node:perf_hooks';
import {startStack, api, newSession, join, say, poll, pollUntil, ofType, sleep} from '../lib/stack.js';

const POLL_TIMEOUT_S = 5;
let stack;
before(async () => {
  stack = await startStack({workers: 2, workerArgs: ['--poll-timeout', String(POLL_TIMEOUT_S)]});
});
after(async () => {
  await stack?.stop();
});

const texts = (events) => ofType(events, 'new_message').map((e) => e.data.text);

test('an idle poll waits the poll timeout and answers an empty list, no-store', {timeout: 30_000}, async () => {
  const ann = await newSession(stack, 'Ann');
  const t0 = performance.now();
  // Anything already visible (global room_change events of other tests) comes at once; then it parks.
  let cur = ann.cursor;
  let res;
  for (let i = 0; i < 20; i++) {
    const s = performance.now();
    res = await poll(stack, ann.token, cur);
    cur = res.json.cursor;
    if (res.json.events.length === 0) {
      const waited = (performance.now() - s) / 1000;
      assert.ok(waited >= POLL_TIMEOUT_S - 0.5 && waited < POLL_TIMEOUT_S + 3, `empty answer after ${waited.toFixed(2)} s (poll timeout ${POLL_TIMEOUT_S} s)`);
      break;
    }
  }
  assert.deepEqual(res.json.events, []);
  assert.ok(res.json.cursor >= ann.cursor);
  assert.match(res.headers.get('cache-control'), /no-store/);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  assert.ok(performance.now() - t0 < 25_000);
});

test('cursor resume: re-polling an old cursor returns the same events in the same order, then nothing repeats', {timeout: 60_000}, async () => {
  const ann = await newSession(stack, 'Ann');
  const bob = await newSession(stack, 'Bob');
  await join(stack, ann.token, 'resume');
  const bj = await join(stack, bob.token, 'resume');
  const sent = [];
  for (let i = 0; i < 5; i++) sent.push((await say(stack, ann.token, `r${i}`)).json.id);

  // Wait until all five are visible, so that one poll with the old cursor returns them at once.
  const all = await pollUntil(stack, bob.token, bj.cursor, (ev) => texts(ev).length === 5);
  assert.deepEqual(texts(all.events), ['r0', 'r1', 'r2', 'r3', 'r4']);
  assert.deepEqual(ofType(all.events, 'new_message').map((e) => e.data.id), sent);

  const t = performance.now();
  const a = await poll(stack, bob.token, bj.cursor); // "the answer that was lost"
  assert.ok(performance.now() - t < 1000, 'events already there are answered at once');
  const b = await poll(stack, bob.token, bj.cursor); // the retry with the old cursor
  assert.deepEqual(b.json, a.json, 'same cursor → same answer');
  assert.deepEqual(texts(a.json.events), ['r0', 'r1', 'r2', 'r3', 'r4']);
  assert.deepEqual(a.json.events, all.events, 'same events as the first time, same order');

  // From the middle: the suffix, same seqs.
  const mid = a.json.events.find((e) => e.type === 'new_message' && e.data.text === 'r2').seq;
  const c = await poll(stack, bob.token, mid);
  assert.deepEqual(c.json.events, a.json.events.filter((e) => e.seq > mid));

  // With the new cursor: nothing already seen comes back; the next message comes alone.
  const nextSend = sleep(500).then(() => say(stack, ann.token, 'r5'));
  const d = await pollUntil(stack, bob.token, a.json.cursor, (ev) => texts(ev).includes('r5'));
  await nextSend;
  assert.deepEqual(texts(d.events), ['r5']);
  const seen = new Set(a.json.events.map((e) => e.seq));
  assert.ok(d.events.every((e) => !seen.has(e.seq) && e.seq > a.json.cursor), 'no event repeated');
});

test('ordering: a burst of messages arrives complete, seq and id strictly increasing', {timeout: 60_000}, async () => {
  const ann = await newSession(stack, 'Ann');
  const bob = await newSession(stack, 'Bob');
  await join(stack, ann.token, 'order');
  const bj = await join(stack, bob.token, 'order');
  const want = Array.from({length: 25}, (_, i) => `o${i}`);
  const collector = pollUntil(stack, bob.token, bj.cursor, (ev) => texts(ev).length >= want.length, 30_000);
  for (const t of want) await say(stack, ann.token, t);
  const {events} = await collector;
  assert.deepEqual(texts(events), want);
  const seqs = events.map((e) => e.seq);
  const ids = ofType(events, 'new_message').map((e) => e.data.id);
  for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i] > seqs[i - 1]);
  for (let i = 1; i < ids.length; i++) assert.ok(ids[i] > ids[i - 1]);
});

// Number of sockets a process holds (parked polls hold their FastCGI connection open).
function socketCount(pid) {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).filter((fd) => {
      try {
        return fs.readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:');
      } catch {
        return false;
      }
    }).length;
  } catch {
    return NaN;
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

test('a post through one worker wakes polls parked in both workers at once', {timeout: 120_000}, async (t) => {
  const pids = stack.workerPids();
  assert.equal(pids.length, 2, `workers.pids lists 2 workers: ${pids}`);
  for (const pid of pids) assert.doesNotThrow(() => process.kill(pid, 0), `worker ${pid} alive`);

  const LISTENERS = 12;
  const ROUNDS = 5;
  const room = 'wake';
  const poster = await newSession(stack, 'Poster');
  await join(stack, poster.token, room);
  const listeners = [];
  for (let i = 0; i < LISTENERS; i++) {
    const s = await newSession(stack, `L${i}`);
    await join(stack, s.token, room);
    listeners.push(s);
  }
  // Every listener starts after all the joins (the rooms cursor is the newest seq).
  const start = (await api(stack, 'GET', 'api/rooms', {token: poster.token})).json.cursor;
  for (const l of listeners) l.cur = start;

  const baseline = pids.map(socketCount);
  const latencies = [];
  const perWorkerParked = [];
  for (let round = 0; round < ROUNDS; round++) {
    const text = `wake-${round}`;
    let t0 = Infinity;
    const waits = listeners.map(async (l) => {
      for (;;) {
        const res = await poll(stack, l.token, l.cur, {timeoutMs: 30_000});
        l.cur = res.json.cursor;
        if (texts(res.json.events).includes(text)) return performance.now();
        if (performance.now() - t0 > 10_000) throw new Error(`${l.nickname} never got ${text}`);
      }
    });
    await sleep(1000); // let every poll reach a worker and park
    perWorkerParked.push(pids.map((pid, i) => socketCount(pid) - baseline[i]));
    t0 = performance.now();
    const post = await say(stack, poster.token, text);
    assert.equal(post.status, 201);
    const done = await Promise.all(waits);
    for (const t1 of done) latencies.push(t1 - t0);
  }

  const fmt = (ms) => `${ms.toFixed(1)} ms`;
  const summary = `wake latency (POST start → poll answer), ${LISTENERS} parked polls × ${ROUNDS} rounds, 2 workers: ` +
    `median ${fmt(median(latencies))}, max ${fmt(Math.max(...latencies))}, min ${fmt(Math.min(...latencies))}; ` +
    `extra sockets per worker while parked (≈ parked polls): ${perWorkerParked.map((x) => x.join('/')).join(', ')}`;
  console.log(summary);
  assert.ok(Math.max(...latencies) < 1000, `every parked poll answered well before the ${POLL_TIMEOUT_S} s timeout: ${latencies.map((x) => x.toFixed(0)).join(' ')}`);
});

test('poll refuses a bad cursor', {timeout: 10_000}, async () => {
  const ann = await newSession(stack, 'Ann');
  for (const c of ['abc', '-1', '1.5', '', '12abc', '0x10']) {
    const r = await api(stack, 'GET', `api/poll?cursor=${c}`, {token: ann.token});
    assert.equal(r.status, 400, `cursor=${c}: ${r.text}`);
    assert.equal(r.json?.error, 'bad_cursor', `cursor=${c}`);
  }
  const none = await api(stack, 'GET', 'api/poll', {token: ann.token});
  assert.equal(none.status, 400, `no cursor: ${none.text}`);
  assert.equal(none.json?.error, 'bad_cursor');
});

// A re-poll from the cursor the waker just answered waits without reading the session from the
// store (fcgi/repoll.c). One worker process, so that the re-poll meets the waker that answered.
test('a session that moves between two polls: the re-poll from its last answer stops at the move, then sees only its new room', {timeout: 60_000}, async () => {
  const one = await startStack({workers: 1, workerArgs: ['--poll-timeout', String(POLL_TIMEOUT_S)]});
  try {
    const ann = await newSession(one, 'Ann');
    const bob = await newSession(one, 'Bob');
    const carl = await newSession(one, 'Carl');
    await join(one, ann.token, 'move-a');
    await join(one, carl.token, 'move-b');
    const bj = await join(one, bob.token, 'move-a');
    // Bob waits, and the waker answers him with a1: that answer's cursor is noted.
    const sending = sleep(300).then(() => say(one, ann.token, 'a1'));
    const first = await pollUntil(one, bob.token, bj.cursor, (ev) => texts(ev).includes('a1'));
    await sending;
    // Between his polls Bob goes to the other room; then each room gets a message.
    await join(one, bob.token, 'move-b');
    await say(one, ann.token, 'a2');
    await say(one, carl.token, 'b1');
    // A token never issued is refused, from that cursor as from any.
    const stranger = await api(one, 'GET', `api/poll?cursor=${first.cursor}`, {token: 'f'.repeat(32)});
    assert.equal(stranger.status, 401, stranger.text);
    const got = [];
    let cur = first.cursor;
    for (let i = 0; i < 4 && !texts(got).includes('b1'); i++) {
      const r = await poll(one, bob.token, cur);
      got.push(...r.json.events);
      cur = r.json.cursor;
    }
    const types = got.map((e) => e.type);
    assert.ok(types.includes('room_left') && types.includes('room_joined'), types.join(','));
    assert.ok(types.indexOf('room_left') < types.indexOf('room_joined'), types.join(','));
    assert.deepEqual(texts(got), ['b1'], 'only the new room\'s message, and it once');
  } finally {
    await one.stop();
  }
});
