// Presence from polling: a member that stops polling leaves with bye reason "timeout";
// members that keep polling stay. A crowd on open event streams (more than one presence
// transaction's batch) stays too, with the stream answered inside nginx and by noom-ws.
import {test, before, after} from 'node:test';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import assert from 'node:assert/strict';
import {performance} from 'node:perf_hooks';
import {startStack, api, newSession, join, say, poll, pollUntil, ofType, who, CROWD_LIMITS} from '../lib/stack.js';

const PRESENCE_S = 3;
const POLL_S = 2;
const SLACK_S = 7; // sweep interval + scheduling

let stack;
before(async () => {
  stack = await startStack({workerArgs: ['--presence-timeout', String(PRESENCE_S), '--poll-timeout', String(POLL_S)]});
});
after(async () => {
  await stack?.stop();
});

async function countIn(token, room) {
  const r = await api(stack, 'GET', 'api/rooms', {token});
  assert.equal(r.status, 200);
  return r.json.rooms.find((x) => x.name === room)?.count ?? 0;
}

test('a member that stops polling leaves with bye reason timeout, seen by the other member', {timeout: 60_000}, async (t) => {
  const room = 'presence';
  const ann = await newSession(stack, 'Ann');
  const bob = await newSession(stack, 'Bob');
  const aj = await join(stack, ann.token, room);
  const bj = await join(stack, bob.token, room);
  const bobLastSeen = performance.now();
  assert.equal(bj.count, 2);

  // Ann keeps polling; Bob never polls.
  const r = await pollUntil(stack, ann.token, aj.cursor, (ev) => ev.some((e) => e.type === 'bye' && e.data.session === bob.session), (PRESENCE_S + SLACK_S) * 1000);
  const after = (performance.now() - bobLastSeen) / 1000;
  const bye = r.events.find((e) => e.type === 'bye' && e.data.session === bob.session);
  assert.deepEqual(bye.data, {room, session: bob.session, nickname: 'Bob', count: 1, reason: 'timeout'});
  console.log(`presence: Bob's timeout bye seen by Ann ${after.toFixed(1)} s after his last request (presence timeout ${PRESENCE_S} s)`);
  assert.ok(after >= PRESENCE_S - 0.5, `not before the presence timeout (${after.toFixed(1)} s)`);
  assert.equal(ofType(r.events, 'bye').filter((e) => e.data.session === ann.session).length, 0, 'Ann, who polls, stays');

  assert.equal(await countIn(ann.token, room), 1);
  const state = await api(stack, 'GET', 'api/room', {token: ann.token});
  assert.equal(state.status, 200);
  assert.deepEqual(who(state.json.members), [{session: ann.session, nickname: 'Ann'}]);

  // Bob comes back: his mailbox says why he left, and he can join again with the same token.
  const br = await pollUntil(stack, bob.token, bj.cursor, (ev) => ofType(ev, 'room_left').length > 0);
  assert.deepEqual(ofType(br.events, 'room_left')[0].data, {room, reason: 'timeout'});
  const me = await api(stack, 'GET', 'api/session', {token: bob.token});
  assert.equal(me.status, 200);
  assert.equal(me.json.room, null);
  const again = await join(stack, bob.token, room);
  assert.equal(again.count, 2);
});

test('members that keep polling stay in the room past several presence timeouts', {timeout: 60_000}, async () => {
  const room = 'stay';
  const cat = await newSession(stack, 'Cat');
  const dan = await newSession(stack, 'Dan');
  const cj = await join(stack, cat.token, room);
  const dj = await join(stack, dan.token, room);
  const until = performance.now() + 3 * PRESENCE_S * 1000;
  const keepPolling = async (s, cursor) => {
    const events = [];
    let cur = cursor;
    while (performance.now() < until) {
      const res = await poll(stack, s.token, cur);
      events.push(...res.json.events);
      cur = res.json.cursor;
    }
    return events;
  };
  const [ce, de] = await Promise.all([keepPolling(cat, cj.cursor), keepPolling(dan, dj.cursor)]);
  for (const ev of [ce, de]) assert.deepEqual(ofType(ev, 'bye').filter((e) => e.data.room === room), [], JSON.stringify(ev));
  assert.equal(await countIn(cat.token, room), 2);
  const s = await say(stack, dan.token, 'still here');
  assert.equal(s.status, 201);
});

test('a joiner that stops polling while it waits at the door stops waiting; the host is told', {timeout: 60_000}, async () => {
  const room = 'presence door';
  const host = await newSession(stack, 'Host');
  const guest = await newSession(stack, 'Guest');
  const h = await join(stack, host.token, room);
  assert.equal((await api(stack, 'POST', 'api/room/settings', {token: host.token, body: {waiting_room: true}})).status, 200);
  const w = await api(stack, 'POST', 'api/join', {token: guest.token, body: {room}});
  assert.equal(w.status, 202, w.text);
  // The guest's tab is gone: it never polls. The host keeps polling.
  const r = await pollUntil(stack, host.token, h.cursor, (ev) => ofType(ev, 'waiting_done').some((e) => e.data.session === guest.session), (PRESENCE_S + SLACK_S) * 1000);
  assert.equal(ofType(r.events, 'waiting_done')[0].data.outcome, 'left');
  assert.deepEqual((await api(stack, 'GET', 'api/room', {token: host.token})).json.waiting, []);
});

// More streams than one presence transaction refreshes (NOOM_TOUCH_BATCH, 32): the readers of a
// process refresh their sessions a batch at a time, the rest a few ms later.
const CROWD = 40;
const MODULE = path.join(process.env.NOOM_BUILDDIR ?? '.', 'nginx', 'ngx_http_noom_module.so');
const SERVERS = ['nginx', 'gateway'].filter((s) => s !== 'nginx' || fs.existsSync(MODULE));

/** GET api/stream for token, its bytes read and dropped; resolves the request once it answered 200. */
function holdStream(s, token) {
  return new Promise((resolve, reject) => {
    const req = http.get(new URL('api/stream?cursor=0', s.baseUrl), {headers: {Authorization: `Bearer ${token}`}, agent: false}, (res) => {
      res.resume();
      if (res.statusCode === 200) resolve(req);
      else reject(new Error(`stream: ${res.statusCode}`));
    });
    req.on('error', reject);
  });
}

for (const server of SERVERS) {
  test(`a crowd of ${CROWD} on open event streams (${server}) stays past several presence timeouts`, {timeout: 90_000}, async () => {
    const s = await startStack({
      workerArgs: ['--presence-timeout', String(PRESENCE_S), '--poll-timeout', String(POLL_S)],
      config: CROWD_LIMITS,
      env: {NOOM_STREAM: server},
    });
    const streams = [];
    try {
      const room = 'crowd';
      const ann = await newSession(s, 'Ann');
      const aj = await join(s, ann.token, room);
      const crowd = await Promise.all(Array.from({length: CROWD}, (_, i) => newSession(s, `M${i}`)));
      for (const m of crowd) {
        await join(s, m.token, room);
        streams.push(await holdStream(s, m.token)); // they never poll
      }
      // Ann long-polls for three presence timeouts: nobody of the crowd leaves.
      const until = performance.now() + 3 * PRESENCE_S * 1000;
      let cur = aj.cursor;
      const seen = [];
      while (performance.now() < until) {
        const r = await poll(s, ann.token, cur);
        seen.push(...r.json.events);
        cur = r.json.cursor;
      }
      assert.deepEqual(ofType(seen, 'bye').map((e) => e.data.nickname), [], 'nobody on a stream left');
      const rooms = await api(s, 'GET', 'api/rooms', {token: ann.token});
      assert.equal(rooms.json.rooms.find((x) => x.name === room)?.count, CROWD + 1);
    } finally {
      for (const r of streams) r.destroy();
      await s.stop();
    }
  });
}
