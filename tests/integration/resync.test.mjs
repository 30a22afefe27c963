// Resync: with --retention 1 the worker trims events after ~1 s (its periodic trim runs every few
// seconds); a cursor older than what is kept gets {resync: true, cursor, events: []}.
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {performance} from 'node:perf_hooks';
import {startStack, api, newSession, join, say, poll, pollUntil, sleep, ofType} from '../lib/stack.js';

let stack;
before(async () => {
  stack = await startStack({workerArgs: ['--retention', '1', '--poll-timeout', '2']});
});
after(async () => {
  await stack?.stop();
});

test('a cursor older than the kept events gets a resync answer; the new cursor works', {timeout: 60_000}, async (t) => {
  const ann = await newSession(stack, 'Ann');
  const bob = await newSession(stack, 'Bob');
  await join(stack, ann.token, 'resync');
  await join(stack, bob.token, 'resync');
  await say(stack, ann.token, 'old message');
  const posted = performance.now();

  // Wait (bounded) for the periodic trim to drop the old events.
  let res;
  for (;;) {
    res = await poll(stack, bob.token, 0);
    if (res.json.resync) break;
    assert.ok(performance.now() - posted < 15_000, `no resync for cursor 0 within 15 s of the post (retention 1 s): ${res.text.slice(0, 300)}`);
    await sleep(500);
  }
  t.diagnostic(`resync for cursor 0 after ${((performance.now() - posted) / 1000).toFixed(1)} s`);
  assert.equal(res.status, 200);
  assert.equal(res.json.resync, true);
  assert.deepEqual(res.json.events, []);
  assert.ok(Number.isInteger(res.json.cursor) && res.json.cursor > 0);
  assert.match(res.headers.get('cache-control') ?? '', /no-store/);

  // Bob's own first cursor (from session creation) is as old: resync as well.
  const again = await poll(stack, bob.token, bob.cursor);
  assert.equal(again.json.resync, true, again.text);

  // The client reloads state as API.md says…
  const room = await api(stack, 'GET', 'api/room', {token: bob.token});
  assert.equal(room.status, 200, room.text);
  assert.equal(room.json.room, 'resync');
  assert.equal(room.json.count, 2);
  const rooms = await api(stack, 'GET', 'api/rooms', {token: bob.token});
  assert.equal(rooms.status, 200);
  assert.equal(rooms.json.rooms.find((r) => r.name === 'resync')?.count, 2);

  // …and continues from the resync cursor: the next message arrives normally.
  const waiting = pollUntil(stack, bob.token, res.json.cursor, (ev) => ofType(ev, 'new_message').length > 0, 10_000);
  await sleep(300);
  const sent = await say(stack, ann.token, 'new message');
  const got = await waiting;
  const msgs = ofType(got.events, 'new_message');
  assert.deepEqual(msgs.map((m) => m.data.text), ['new message']);
  assert.equal(msgs[0].data.id, sent.json.id);
});

test('a cursor that missed nothing is not resynced, even after its own event was trimmed', {timeout: 60_000}, async () => {
  const cat = await newSession(stack, 'Cat');
  const cj = await join(stack, cat.token, 'quiet');
  // From the join's cursor (nothing missed), stay quiet for longer than the retention plus a trim
  // period; the empty answers' cursors must never turn into a resync.
  let cur = cj.cursor;
  const until = performance.now() + 8000;
  while (performance.now() < until) {
    const r = await poll(stack, cat.token, cur); // keeps Cat present; empty answers every 2 s
    assert.notEqual(r.json.resync, true, `spurious resync for an up-to-date cursor ${cur}: ${r.text}`);
    cur = r.json.cursor;
  }
});
