// Big rooms: a join answer lists the first 200 members in join order with the whole count (a
// join in a room of thousands stays a small answer); the counts stay right through joins,
// switches, leaves and timeouts (rooms.members, kept by triggers); and in a room above 50
// members, notices (welcome, bye, room_change) may wait up to 1 s for company in one poll
// answer, while chat never waits and every event still comes exactly once, in order.
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {startStack, CROWD_LIMITS, api, newSession, join, leave, say, poll, pollUntil, ofType, sleep} from '../lib/stack.js';

const MEMBERS_MAX = 200; // NOOM_MEMBERS_MAX
const HOLD_MS = 1000; // NOOM_NOTICE_HOLD_MS

let stack;
before(async () => {
  stack = await startStack({workerArgs: ['--poll-timeout', '5'], config: CROWD_LIMITS});
});
after(async () => {
  await stack?.stop();
});

/** n new sessions, created a few at a time. */
async function sessions(n, tag) {
  const out = [];
  for (let i = 0; i < n; i += 20) {
    const batch = [];
    for (let j = i; j < Math.min(n, i + 20); j++) batch.push(newSession(stack, `${tag}${j}`));
    out.push(...await Promise.all(batch));
  }
  return out;
}

async function roomCount(token, name) {
  const r = await api(stack, 'GET', 'api/rooms', {token});
  assert.equal(r.status, 200, r.text);
  return r.json.rooms.find((x) => x.name === name)?.count ?? 0;
}

const people = [];

test('a room of 230: the first 200 members in join order, and the whole count', {timeout: 180_000}, async () => {
  people.push(...await sessions(230, 'm'));
  let last;
  for (const p of people) last = await join(stack, p.token, 'hall'); // one at a time: join order is people's order
  assert.equal(last.count, 230);
  assert.equal(last.members.length, MEMBERS_MAX);
  assert.deepEqual(last.members.map((m) => m.session), people.slice(0, MEMBERS_MAX).map((p) => p.session),
    'the earliest members, in join order (the call is among them)');
  for (const m of last.members) assert.deepEqual(Object.keys(m).sort(), ['audio', 'hand', 'host', 'nickname', 'screen', 'session', 'video']);
  const again = await api(stack, 'GET', 'api/room', {token: people[5].token});
  assert.equal(again.status, 200, again.text);
  assert.equal(again.json.count, 230);
  assert.equal(again.json.members.length, MEMBERS_MAX);
  assert.equal(await roomCount(people[0].token, 'hall'), 230);
  // The answer is small whatever the room's size.
  assert.ok(JSON.stringify(last).length < 40_000, `join answer of ${JSON.stringify(last).length} bytes`);
});

test('counts follow leaves and switches, and the list fills up again from later joiners', {timeout: 60_000}, async () => {
  for (const p of people.slice(0, 10)) await leave(stack, p.token);
  for (const p of people.slice(10, 15)) await join(stack, p.token, 'annex');
  await join(stack, people[15].token, 'hall'); // a no-op re-join changes nothing
  assert.equal(await roomCount(people[20].token, 'hall'), 215);
  assert.equal(await roomCount(people[20].token, 'annex'), 5);
  const r = await api(stack, 'GET', 'api/room', {token: people[20].token});
  assert.equal(r.json.count, 215);
  assert.deepEqual(r.json.members.map((m) => m.session), people.slice(15, 15 + MEMBERS_MAX).map((p) => p.session));
  for (const p of people.slice(10, 15)) await leave(stack, p.token);
  assert.equal(await roomCount(people[20].token, 'annex'), 0, 'an emptied room leaves the list');
});

test('in a big room, a poll that finds only member notices waits for company', {timeout: 60_000}, async () => {
  const watcher = people[30];
  // Read up to now, then let two newcomers join: only notices are new.
  const now = (await api(stack, 'GET', 'api/rooms', {token: watcher.token})).json.cursor;
  const [x, y] = await sessions(2, 'late');
  await join(stack, x.token, 'hall');
  await join(stack, y.token, 'hall');
  const t0 = Date.now();
  const res = await poll(stack, watcher.token, now);
  const waited = Date.now() - t0;
  const welcomes = ofType(res.json.events, 'welcome').map((e) => e.data.session);
  assert.deepEqual(welcomes, [x.session, y.session], 'both notices in one answer');
  assert.ok(waited >= HOLD_MS - 200, `a notice-only answer waited ${waited} ms (held for ${HOLD_MS})`);
  assert.equal(ofType(res.json.events, 'welcome')[1].data.count, 217);
  // Re-polling with the same cursor gives the same events: holding loses nothing.
  const same = await poll(stack, watcher.token, now);
  assert.deepEqual(same.json.events.map((e) => e.seq), res.json.events.map((e) => e.seq));
});

test('in a big room, chat does not wait, and brings the held notices along in order', {timeout: 60_000}, async () => {
  const watcher = people[31];
  const now = (await api(stack, 'GET', 'api/rooms', {token: watcher.token})).json.cursor;
  const [z] = await sessions(1, 'later');
  await join(stack, z.token, 'hall');
  await say(stack, people[40].token, 'hello hall');
  const res = await poll(stack, watcher.token, now);
  const types = res.json.events.map((e) => e.type);
  const w = types.indexOf('welcome');
  const m = types.indexOf('new_message');
  assert.ok(w >= 0 && m > w, `welcome, then the message, in one answer: ${types.join(',')}`);
  assert.equal(res.json.events[m].data.text, 'hello hall');
});

test('a parked poll gets joins that arrive together in few answers, each exactly once', {timeout: 90_000}, async () => {
  const watcher = people[32];
  const newcomers = await sessions(8, 'wave');
  let cursor = (await api(stack, 'GET', 'api/rooms', {token: watcher.token})).json.cursor;
  // The watcher is parked before the wave starts.
  const collected = pollUntil(stack, watcher.token, cursor,
    (evs) => newcomers.every((n) => ofType(evs, 'welcome').some((e) => e.data.session === n.session)), 30_000);
  await sleep(200);
  const t0 = Date.now();
  for (const n of newcomers) await join(stack, n.token, 'hall');
  const elapsed = Date.now() - t0;
  const {events, answers} = await collected;
  const seqs = events.map((e) => e.seq);
  assert.equal(new Set(seqs).size, seqs.length, 'no event twice');
  assert.deepEqual(ofType(events, 'welcome').map((e) => e.data.session), newcomers.map((n) => n.session), 'in join order');
  // One answer per hold period at most (plus the one the last join may start).
  assert.ok(answers <= Math.ceil(elapsed / HOLD_MS) + 2,
    `${answers} answers for ${newcomers.length} joins over ${elapsed} ms`);
  if (elapsed < HOLD_MS / 2) assert.ok(answers < newcomers.length, `batched: ${answers} answers`);
});
