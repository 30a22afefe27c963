// Room list: counts up and down (GET api/rooms, busiest first, and the room_change events that
// say what changed), empty rooms disappear, switching rooms, no-op re-join, sendBeacon leave,
// and no cross-session leaks.
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {startStack, api, newSession, join, leave, say, pollUntil, drain, ofType, who} from '../lib/stack.js';

let stack;
before(async () => {
  stack = await startStack({workerArgs: ['--poll-timeout', '2']});
});
after(async () => {
  await stack?.stop();
});

async function rooms(token) {
  const r = await api(stack, 'GET', 'api/rooms', {token});
  assert.equal(r.status, 200, r.text);
  assert.match(r.headers.get('cache-control') ?? '', /no-store/);
  assert.ok(Number.isInteger(r.json.cursor));
  const counts = r.json.rooms.map((x) => x.count);
  assert.deepEqual(counts, [...counts].sort((a, b) => b - a), 'busiest rooms first');
  assert.equal(typeof r.json.more, 'boolean');
  for (const x of r.json.rooms) assert.ok(x.count >= 1, `open rooms only: ${JSON.stringify(x)}`);
  return r.json;
}
const countOf = (list, name) => list.find((x) => x.name === name)?.count ?? 0;

// A lobby reader's view: room_change events say what changed (a room and its count, 0: gone),
// folded here into name -> count. Waits until that view satisfies pred; returns {cursor}.
const lobby = new Map();
async function roomChange(token, cursor, pred) {
  const view = () => [...lobby].map(([name, count]) => ({name, count}));
  const r = await pollUntil(stack, token, cursor, (ev) => {
    for (const e of ofType(ev, 'room_change')) {
      for (const x of e.data.rooms) {
        assert.deepEqual(Object.keys(x).sort(), ['count', 'name']);
        if (x.count > 0) lobby.set(x.name, x.count);
        else lobby.delete(x.name);
      }
      assert.ok(JSON.stringify(e.data).length < 200, `what changed, not the whole list: ${JSON.stringify(e.data)}`);
    }
    return pred(view());
  });
  return {cursor: r.cursor, events: r.events};
}

test('room counts go up and down, empty rooms disappear, switching gives bye and welcome', {timeout: 90_000}, async () => {
  const watcher = await newSession(stack, 'Watcher'); // never joins: sees only global events
  const ann = await newSession(stack, 'Ann');
  const bob = await newSession(stack, 'Bob');
  let wcur = watcher.cursor;

  assert.equal(countOf((await rooms(watcher.token)).rooms, 'alpha'), 0);

  const aj = await join(stack, ann.token, 'alpha');
  assert.equal(countOf((await rooms(watcher.token)).rooms, 'alpha'), 1);
  ({cursor: wcur} = await roomChange(watcher.token, wcur, (l) => countOf(l, 'alpha') === 1));

  await join(stack, bob.token, 'alpha');
  assert.equal(countOf((await rooms(watcher.token)).rooms, 'alpha'), 2);
  ({cursor: wcur} = await roomChange(watcher.token, wcur, (l) => countOf(l, 'alpha') === 2));

  // Bob switches to beta while in alpha.
  const bobBefore = (await api(stack, 'GET', 'api/session', {token: bob.token})).json;
  assert.equal(bobBefore.room, 'alpha');
  const bj = await join(stack, bob.token, 'beta');
  assert.equal(bj.room, 'beta');
  assert.equal(bj.count, 1);
  assert.deepEqual(who(bj.members), [{session: bob.session, nickname: 'Bob'}]);
  {
    const l = (await rooms(watcher.token)).rooms;
    assert.equal(countOf(l, 'alpha'), 1);
    assert.equal(countOf(l, 'beta'), 1);
  }
  ({cursor: wcur} = await roomChange(watcher.token, wcur, (l) => countOf(l, 'alpha') === 1 && countOf(l, 'beta') === 1));

  // Ann (in alpha) sees Bob's bye; Bob's mailbox has room_left alpha, room_joined beta, welcome in beta.
  {
    const r = await pollUntil(stack, ann.token, aj.cursor, (ev) => ev.some((e) => e.type === 'bye' && e.data.session === bob.session));
    const bye = r.events.find((e) => e.type === 'bye' && e.data.session === bob.session);
    assert.deepEqual(bye.data, {room: 'alpha', session: bob.session, nickname: 'Bob', count: 1, reason: 'leave'});
    assert.equal(r.events.filter((e) => e.type === 'welcome' && e.data.room === 'beta').length, 0, 'Ann does not see beta');
  }
  {
    const r = await pollUntil(stack, bob.token, bob.cursor, (ev) => ev.some((e) => e.type === 'welcome' && e.data.room === 'beta'));
    const left = ofType(r.events, 'room_left');
    assert.equal(left.length, 1, JSON.stringify(r.events));
    assert.equal(left[0].data.room, 'alpha');
    // API.md lists leave / switch / timeout as room_left reasons; a switch is reported as 'switch'.
    assert.equal(left[0].data.reason, 'switch');
    assert.deepEqual(ofType(r.events, 'room_joined').map((e) => e.data.room), ['alpha', 'beta']);
    const w = r.events.find((e) => e.type === 'welcome' && e.data.room === 'beta');
    assert.deepEqual(w.data, {room: 'beta', session: bob.session, nickname: 'Bob', count: 1, host: true});
    // Order: bye in alpha / room_left before the welcome in beta.
    assert.ok(left[0].seq < w.seq);
  }

  // Last member leaves: the room disappears.
  await leave(stack, ann.token);
  {
    const l = (await rooms(watcher.token)).rooms;
    assert.equal(l.find((x) => x.name === 'alpha'), undefined, `alpha gone: ${JSON.stringify(l)}`);
    assert.equal(countOf(l, 'beta'), 1);
  }
  ({cursor: wcur} = await roomChange(watcher.token, wcur, (l) => !l.some((x) => x.name === 'alpha')));

  await leave(stack, bob.token);
  ({cursor: wcur} = await roomChange(watcher.token, wcur, (l) => !l.some((x) => x.name === 'beta')));
  const final = (await rooms(watcher.token)).rooms;
  assert.ok(!final.some((x) => x.name === 'alpha' || x.name === 'beta'), JSON.stringify(final));
});

test('re-joining the current room is a no-op returning the same state', {timeout: 30_000}, async () => {
  const ann = await newSession(stack, 'Ann');
  const bob = await newSession(stack, 'Bob');
  await join(stack, ann.token, 'gamma');
  const first = await join(stack, bob.token, 'gamma');
  await say(stack, ann.token, 'one');
  const {cursor} = await drain(stack, ann.token, first.cursor);
  const again = await join(stack, bob.token, 'gamma');
  assert.equal(again.room, 'gamma');
  assert.equal(again.count, 2);
  assert.equal(again.members.length, 2);
  assert.deepEqual(again.history.map((m) => m.text), ['one']);
  // Nothing new in the room: no bye, no second welcome.
  const r = await drain(stack, ann.token, cursor);
  assert.deepEqual(r.events.filter((e) => e.data.room === 'gamma'), [], JSON.stringify(r.events));
  assert.equal(countOf((await rooms(ann.token)).rooms, 'gamma'), 2);
});

test('leave with the token in the body (sendBeacon)', {timeout: 30_000}, async () => {
  const ann = await newSession(stack, 'Ann');
  await join(stack, ann.token, 'beacon');
  assert.equal(countOf((await rooms(ann.token)).rooms, 'beacon'), 1);
  // sendBeacon sends text/plain; the body is still JSON.
  const r = await api(stack, 'POST', 'api/leave', {rawBody: JSON.stringify({token: ann.token}), headers: {'Content-Type': 'text/plain;charset=UTF-8'}});
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, {room: null});
  assert.equal(countOf((await rooms(ann.token)).rooms, 'beacon'), 0);
  // A wrong token in the body is refused.
  const bad = await api(stack, 'POST', 'api/leave', {body: {token: '0'.repeat(32)}});
  assert.equal(bad.status, 401, bad.text);
  assert.equal(bad.json?.error, 'unauthorized');
});

test('room names are trimmed', {timeout: 30_000}, async () => {
  const ann = await newSession(stack, 'Ann');
  const j = await join(stack, ann.token, '  spaced out  ');
  assert.equal(j.room, 'spaced out');
  assert.equal(countOf((await rooms(ann.token)).rooms, 'spaced out'), 1);
  await leave(stack, ann.token);
});

test('no cross-session access: addressed events and other rooms stay private', {timeout: 60_000}, async () => {
  const cat = await newSession(stack, 'Cat');
  const dan = await newSession(stack, 'Dan');
  const late = await newSession(stack, 'Late'); // joins X only after messages were posted there

  const dj = await join(stack, dan.token, 'room-y');
  await join(stack, cat.token, 'room-x');
  await say(stack, cat.token, 'secret in x');
  await join(stack, cat.token, 'room-x2'); // switch: room_left + room_joined for Cat
  await leave(stack, cat.token);
  await join(stack, cat.token, 'room-x');
  await say(stack, cat.token, 'second secret in x');
  await join(stack, late.token, 'room-x');

  // Dan's mailbox, everything after his join (the writes above are all committed).
  const mine = await drain(stack, dan.token, dj.cursor);
  const events = mine.events;
  assert.deepEqual(ofType(events, 'room_change'), [], 'the room list\'s changes are the lobby\'s, not a room member\'s');
  assert.deepEqual(ofType(events, 'room_joined'), [], 'Dan sees nobody else\'s room_joined');
  assert.deepEqual(ofType(events, 'room_left'), [], 'Dan sees nobody else\'s room_left');
  assert.deepEqual(events.filter((e) => e.data.room && e.data.room !== 'room-y' && e.type !== 'room_change'), [], 'Dan sees no event of other rooms');
  for (const s of [cat, dan, late]) assert.ok(!JSON.stringify(events).includes(s.token), 'tokens never appear in events');

  // Late polls from the cursor it got at session creation: no room event from before its join.
  const lr = await pollUntil(stack, late.token, late.cursor, (ev) => ev.some((e) => e.type === 'welcome' && e.data.session === late.session));
  const lmore = await drain(stack, late.token, lr.cursor);
  const lev = [...lr.events, ...lmore.events];
  assert.deepEqual(ofType(lev, 'new_message'), [], 'messages posted before Late joined are history, not events');
  assert.deepEqual(lev.filter((e) => e.type === 'welcome' || e.type === 'bye').map((e) => e.data.session), [late.session]);
  assert.deepEqual(ofType(lev, 'room_joined').map((e) => e.data.room), ['room-x']);
  assert.ok(!JSON.stringify(lev).includes(cat.token));

  // A session cannot post to a room it is not in, whatever it claims.
  // (API.md does not say whether unknown fields are ignored or refused: both are accepted here.)
  const spoof = await api(stack, 'POST', 'api/messages', {token: dan.token, body: {text: 'spoof', client_id: 'spoof-1', room: 'room-x', session: cat.session}});
  assert.ok(spoof.status === 201 || spoof.status === 400, spoof.text);
  const lastX = await api(stack, 'GET', 'api/room', {token: late.token});
  assert.ok(!lastX.json.history.some((m) => m.text === 'spoof'), 'extra fields cannot redirect a message');
  if (spoof.status === 201) {
    const lastY = await api(stack, 'GET', 'api/room', {token: dan.token});
    const sp = lastY.json.history.find((m) => m.text === 'spoof');
    assert.equal(sp.session, dan.session);
    assert.equal(sp.room, 'room-y');
  }
});
