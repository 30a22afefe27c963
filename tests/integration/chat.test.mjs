// Two sessions chatting in a room: delivery, ids, duplicates (client_id), notices, history.
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {startStack, api, newSession, join, leave, say, pollUntil, ofType, clientId, who} from '../lib/stack.js';

let stack;
before(async () => {
  stack = await startStack({workerArgs: ['--poll-timeout', '3']});
});
after(async () => {
  await stack?.stop();
});

const hasMessage = (text) => (events) => events.some((e) => e.type === 'new_message' && e.data.text === text);

test('two sessions chat: both get the message with id, nickname, ts; a retried client_id is stored once', {timeout: 60_000}, async () => {
  const ann = await newSession(stack, 'Ann');
  const bob = await newSession(stack, 'Bob');
  assert.match(ann.token, /^[0-9a-f]{32}$/);
  assert.ok(Number.isInteger(ann.session) && Number.isInteger(bob.session) && ann.session !== bob.session);
  assert.equal(ann.nickname, 'Ann');
  assert.ok(Number.isInteger(ann.cursor));

  const room = 'chat-1';
  const annJoin = await join(stack, ann.token, room);
  const bobJoin = await join(stack, bob.token, room);
  assert.equal(bobJoin.count, 2);

  const cid = clientId('hello');
  const before = Date.now();
  const first = await api(stack, 'POST', 'api/messages', {token: ann.token, body: {text: 'hello Bob', client_id: cid}});
  const afterPost = Date.now();
  assert.equal(first.status, 201, first.text);
  assert.ok(Number.isInteger(first.json.id), first.text);
  assert.equal(first.json.duplicate, false);
  assert.ok(Number.isInteger(first.json.ts) && first.json.ts >= before - 2000 && first.json.ts <= afterPost + 2000, `ts ${first.json.ts} not near now`);
  assert.match(first.headers.get('cache-control') ?? '', /no-store/);

  // The retry (same client_id, same session): 200, the first answer, duplicate: true.
  const retry = await api(stack, 'POST', 'api/messages', {token: ann.token, body: {text: 'hello Bob', client_id: cid}});
  assert.equal(retry.status, 200, retry.text);
  assert.deepEqual(retry.json, {...first.json, duplicate: true});

  // A marker after the retry: once a poller has it, anything the duplicate produced is there too.
  const marker = await say(stack, ann.token, 'marker after retry');

  for (const [who, from] of [[bob, bobJoin.cursor], [ann, annJoin.cursor]]) {
    const {events} = await pollUntil(stack, who.token, from, hasMessage('marker after retry'));
    const msgs = ofType(events, 'new_message');
    const hello = msgs.filter((e) => e.data.text === 'hello Bob');
    assert.equal(hello.length, 1, `${who.nickname} sees the message once: ${JSON.stringify(msgs)}`);
    assert.deepEqual(hello[0].data, {
      id: first.json.id,
      room,
      session: ann.session,
      nickname: 'Ann',
      text: 'hello Bob',
      ts: first.json.ts,
      client_id: cid,
    });
    assert.deepEqual(msgs.map((e) => e.data.text), ['hello Bob', 'marker after retry']);
    assert.ok(msgs[1].data.id > msgs[0].data.id, 'message ids increase');
    assert.equal(msgs[1].data.id, marker.json.id);
  }

  // A newcomer's history has it once as well.
  const cat = await newSession(stack, 'Cat');
  const catJoin = await join(stack, cat.token, room);
  assert.deepEqual(catJoin.history.map((m) => m.text), ['hello Bob', 'marker after retry']);
  assert.equal(catJoin.history[0].id, first.json.id);
  assert.equal(catJoin.history[0].nickname, 'Ann');
  assert.equal(catJoin.history[0].ts, first.json.ts);

  // Same client_id from another session is another message.
  const bobSame = await api(stack, 'POST', 'api/messages', {token: bob.token, body: {text: 'mine', client_id: cid}});
  assert.equal(bobSame.status, 201, bobSame.text);
  assert.equal(bobSame.json.duplicate, false);
  assert.notEqual(bobSame.json.id, first.json.id);
});

test('notices: welcome, nickname, bye with counts; members in the join answer', {timeout: 60_000}, async () => {
  const room = 'notices';
  const ann = await newSession(stack, 'Ann');
  const bob = await newSession(stack, 'Bob');

  const annJoin = await join(stack, ann.token, room);
  assert.equal(annJoin.room, room);
  assert.equal(annJoin.count, 1);
  assert.deepEqual(who(annJoin.members), [{session: ann.session, nickname: 'Ann'}]);
  assert.deepEqual(annJoin.history, []);
  assert.ok(Number.isInteger(annJoin.cursor));

  // Ann's own welcome, room_joined, room_change (from her session cursor).
  {
    const {events} = await pollUntil(stack, ann.token, ann.cursor, (ev) => ofType(ev, 'welcome').length >= 1 && ofType(ev, 'room_joined').length >= 1);
    assert.deepEqual(ofType(events, 'welcome')[0].data, {room, session: ann.session, nickname: 'Ann', count: 1, host: true});
    assert.deepEqual(ofType(events, 'room_joined')[0].data, {room});
  }

  const bobJoin = await join(stack, bob.token, room);
  assert.equal(bobJoin.count, 2);
  const byId = (a, b) => a.session - b.session;
  assert.deepEqual(who(bobJoin.members).sort(byId), [{session: ann.session, nickname: 'Ann'}, {session: bob.session, nickname: 'Bob'}].sort(byId));

  let cur = annJoin.cursor;
  {
    const r = await pollUntil(stack, ann.token, cur, (ev) => ev.some((e) => e.type === 'welcome' && e.data.session === bob.session));
    const w = r.events.find((e) => e.type === 'welcome' && e.data.session === bob.session);
    assert.deepEqual(w.data, {room, session: bob.session, nickname: 'Bob', count: 2, host: false});
    cur = r.cursor;
  }

  const nick = await api(stack, 'POST', 'api/nickname', {token: bob.token, body: {nickname: 'Bobby'}});
  assert.equal(nick.status, 200, nick.text);
  assert.deepEqual(nick.json, {nickname: 'Bobby'});
  {
    const r = await pollUntil(stack, ann.token, cur, (ev) => ofType(ev, 'nickname').length > 0);
    assert.deepEqual(ofType(r.events, 'nickname')[0].data, {room, session: bob.session, old: 'Bob', nickname: 'Bobby'});
    cur = r.cursor;
  }
  const me = await api(stack, 'GET', 'api/session', {token: bob.token});
  assert.equal(me.status, 200);
  assert.deepEqual(me.json, {session: bob.session, nickname: 'Bobby', room});

  // Messages carry the new nickname.
  await say(stack, bob.token, 'as Bobby');
  {
    const r = await pollUntil(stack, ann.token, cur, hasMessage('as Bobby'));
    assert.equal(ofType(r.events, 'new_message')[0].data.nickname, 'Bobby');
    cur = r.cursor;
  }

  const left = await leave(stack, bob.token);
  assert.deepEqual(left, {room: null});
  {
    const r = await pollUntil(stack, ann.token, cur, (ev) => ofType(ev, 'bye').length > 0);
    assert.deepEqual(ofType(r.events, 'bye')[0].data, {room, session: bob.session, nickname: 'Bobby', count: 1, reason: 'leave'});
  }
  {
    const r = await pollUntil(stack, bob.token, bobJoin.cursor, (ev) => ofType(ev, 'room_left').length > 0);
    assert.deepEqual(ofType(r.events, 'room_left')[0].data, {room, reason: 'leave'});
  }
  const bobNow = await api(stack, 'GET', 'api/session', {token: bob.token});
  assert.equal(bobNow.json.room, null);

  // Leaving again is a no-op.
  assert.deepEqual(await leave(stack, bob.token), {room: null});
  // Posting outside a room: 409 not_in_room.
  const out = await api(stack, 'POST', 'api/messages', {token: bob.token, body: {text: 'nobody hears', client_id: clientId()}});
  assert.equal(out.status, 409, out.text);
  assert.equal(out.json?.error, 'not_in_room');
  const roomState = await api(stack, 'GET', 'api/room', {token: bob.token});
  assert.equal(roomState.status, 409, roomState.text);
  assert.equal(roomState.json?.error, 'not_in_room');
});

test('a newcomer gets the last 50 messages, oldest first', {timeout: 90_000}, async () => {
  const room = 'history';
  const ann = await newSession(stack, 'Ann');
  await join(stack, ann.token, room);
  const ids = [];
  for (let i = 0; i < 55; i++) {
    const r = await say(stack, ann.token, `m${i}`);
    ids.push(r.json.id);
  }
  const cat = await newSession(stack, 'Cat');
  const j = await join(stack, cat.token, room);
  assert.equal(j.history.length, 50);
  assert.deepEqual(j.history.map((m) => m.text), Array.from({length: 50}, (_, i) => `m${i + 5}`));
  assert.deepEqual(j.history.map((m) => m.id), ids.slice(5));
  for (const m of j.history) {
    assert.equal(m.room, room);
    assert.equal(m.session, ann.session);
    assert.equal(m.nickname, 'Ann');
    assert.ok(Number.isInteger(m.ts));
    assert.equal(typeof m.client_id, 'string');
  }
  // GET api/room has the same state.
  const state = await api(stack, 'GET', 'api/room', {token: cat.token});
  assert.equal(state.status, 200, state.text);
  assert.deepEqual(state.json.history, j.history);
  assert.equal(state.json.room, room);
  assert.equal(state.json.count, 2);
  assert.equal(state.json.members.length, 2);
  assert.match(state.headers.get('cache-control') ?? '', /no-store/);
});

test('text keeps newlines, tabs, quotes, HTML and emoji exactly', {timeout: 30_000}, async () => {
  const room = 'exact-text';
  const ann = await newSession(stack, 'Ann');
  const bob = await newSession(stack, 'Bob');
  await join(stack, ann.token, room);
  const bj = await join(stack, bob.token, room);
  const text = 'line 1\n\tline 2 "quoted" \\ <b>bold</b> & ünïcödé 😀 日本語';
  const sent = await say(stack, ann.token, text);
  const {events} = await pollUntil(stack, bob.token, bj.cursor, hasMessage(text));
  assert.equal(ofType(events, 'new_message')[0].data.id, sent.json.id);
  const max = 'x'.repeat(1999) + '😀'; // 2000 code points, 2001 UTF-16 units
  const r = await api(stack, 'POST', 'api/messages', {token: ann.token, body: {text: max, client_id: clientId()}});
  assert.equal(r.status, 201, r.text.slice(0, 300));
});
