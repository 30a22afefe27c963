// Under load, on the real stack with 2 workers: many pollers re-polling while many members post
// (every message reaches every poller exactly once, in order, across both workers), and the
// store's write-ahead log stays bounded while writes never pause (the checkpointer restarts it).
// Bounded in count and time; no timing is asserted.
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import {startStack, CROWD_LIMITS, newSession, join, say, poll, ofType, sleep} from '../lib/stack.js';

let stack;
before(async () => {
  stack = await startStack({workers: 2, workerArgs: ['--poll-timeout', '5'], config: CROWD_LIMITS});
});
after(async () => {
  await stack?.stop();
});

/** Poll from cursor until stop() says so; returns every event seen, in order of arrival. */
async function pollLoop(token, cursor, stop) {
  const seen = [];
  while (!stop(seen)) {
    const res = await poll(stack, token, cursor);
    seen.push(...res.json.events);
    cursor = res.json.cursor;
  }
  return seen;
}

test('20 pollers, 10 posters at once: each poller gets all 300 messages once, in order', {timeout: 120_000}, async () => {
  const room = 'load-fanout';
  const posters = await Promise.all(Array.from({length: 10}, (_, i) => newSession(stack, `P${i}`)));
  const pollers = await Promise.all(Array.from({length: 20}, (_, i) => newSession(stack, `L${i}`)));
  for (const p of posters) await join(stack, p.token, room);
  const cursors = [];
  for (const l of pollers) cursors.push((await join(stack, l.token, room)).cursor);

  const total = 10 * 30;
  const mine = (events) => ofType(events, 'new_message').filter((e) => e.data.text.startsWith('m '));
  const deadline = Date.now() + 90_000;
  const loops = pollers.map((l, i) =>
    pollLoop(l.token, cursors[i], (seen) => mine(seen).length >= total || Date.now() > deadline));
  // Each poster sends its 30 (the burst its rate limit allows) as fast as answers come back.
  await Promise.all(posters.map(async (p, i) => {
    for (let k = 0; k < 30; k++) await say(stack, p.token, `m ${i} ${k}`);
  }));
  const results = await Promise.all(loops);

  for (const [i, seen] of results.entries()) {
    const got = mine(seen);
    assert.equal(got.length, total, `poller ${i} got ${got.length} of ${total}`);
    const seqs = got.map((e) => e.seq);
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), `poller ${i}: in seq order`);
    assert.equal(new Set(seqs).size, total, `poller ${i}: each once`);
    // Every poster's own messages arrive in the order it sent them.
    for (let p = 0; p < 10; p++) {
      const ks = got.filter((e) => e.data.text.startsWith(`m ${p} `)).map((e) => Number(e.data.text.split(' ')[2]));
      assert.deepEqual(ks, Array.from({length: 30}, (_, k) => k), `poller ${i}, poster ${p}`);
    }
  }
});

test('the write-ahead log stays bounded while pollers read and posts never stop', {timeout: 180_000}, async (t) => {
  const room = 'load-wal';
  const wal = `${stack.dbPath}-wal`;
  // 200 members post 30 messages each (6000 in all, ~20 KB of log each: about 120 MB if the log
  // only grew), 16 at a time; 20 members keep polling, so that some reader is nearly always
  // inside the log, which is what keeps SQLite from ever starting it over by itself.
  const posters = [];
  for (let i = 0; i < 200; i += 20) {
    posters.push(...await Promise.all(Array.from({length: 20}, (_, k) => newSession(stack, `W${i + k}`))));
  }
  for (const p of posters) await join(stack, p.token, room);
  const pollers = await Promise.all(Array.from({length: 20}, (_, i) => newSession(stack, `R${i}`)));
  const cursors = [];
  for (const l of pollers) cursors.push((await join(stack, l.token, room)).cursor);

  let done = false;
  let largest = 0;
  const sampler = (async () => {
    while (!done) {
      try {
        largest = Math.max(largest, fs.statSync(wal).size);
      } catch { /* not there between a truncation and the next write */ }
      await sleep(50);
    }
  })();
  const loops = pollers.map((l, i) => pollLoop(l.token, cursors[i], () => done));
  let next = 0;
  let sent = 0;
  await Promise.all(Array.from({length: 16}, async () => {
    while (next < posters.length * 30) {
      const n = next++;
      await say(stack, posters[n % posters.length].token, `w ${n}`);
      sent++;
    }
  }));
  done = true;
  await sampler;
  await Promise.all(loops);

  assert.equal(sent, 6000);
  const mb = largest / (1 << 20);
  t.diagnostic(`largest write-ahead log: ${mb.toFixed(1)} MiB`);
  // The checkpointer restarts the log once it holds 16 MiB; what a quarter second of posts adds
  // on top stays far below 48 MiB.
  assert.ok(mb < 48, `the log grew to ${mb.toFixed(1)} MiB`);
});
