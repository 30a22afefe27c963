// In-meeting tools on the mailbox: raised hands as a queue in the room's state (a host lowers
// anyone's; a member back within the rejoin grace keeps its place), reactions (room events, limited per session, never in the history), private
// messages (seen by the two only, refused outside the room, not in a newcomer's history,
// exactly once across a resume).
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {startStack, api, newSession, join, say, poll, pollUntil, ofType, sleep, CROWD_LIMITS} from '../lib/stack.js';

let stack;
before(async () => {
  stack = await startStack({workerArgs: ['--poll-timeout', '2'], config: CROWD_LIMITS});
});
after(async () => {
  await stack?.stop();
});

let seq = 0;
const fresh = (tag) => `${tag} ${process.pid}-${++seq}`;
const post = (token, p, body) => api(stack, 'POST', p, {token, body});
const state = async (token) => (await api(stack, 'GET', 'api/room', {token})).json;

test('raised hands: a queue by time, in the state, lowered by oneself or a host', {timeout: 60_000}, async () => {
  const room = fresh('hands');
  const [host, ann, bob, cid] = await Promise.all(['Host', 'Ann', 'Bob', 'Cid'].map((n) => newSession(stack, n)));
  const h = await join(stack, host.token, room);
  for (const s of [ann, bob, cid]) await join(stack, s.token, room);
  for (const s of [bob, ann, cid]) {
    const r = await post(s.token, 'api/hand', {raised: true});
    assert.equal(r.status, 200, r.text);
    assert.ok(r.json.at > 0);
    await sleep(5);
  }
  // Raising again keeps the place.
  const again = await post(bob.token, 'api/hand', {raised: true});
  assert.equal(again.status, 200);
  const st = await state(host.token);
  assert.deepEqual(st.hands.map((x) => x.nickname), ['Bob', 'Ann', 'Cid']);
  assert.equal(st.members.find((m) => m.nickname === 'Host').hand, 0);
  assert.ok(st.members.find((m) => m.nickname === 'Bob').hand > 0);
  const ev = await pollUntil(stack, host.token, h.cursor, (e) => ofType(e, 'hand').length >= 3);
  assert.deepEqual(ofType(ev.events, 'hand').map((e) => [e.data.nickname, e.data.raised]), [['Bob', true], ['Ann', true], ['Cid', true]]);

  // Ann lowers her own; Cid may not lower Bob's; the host may, but not raise it.
  assert.equal((await post(ann.token, 'api/hand', {raised: false})).status, 200);
  const notHost = await post(cid.token, 'api/hand', {raised: false, session: bob.session});
  assert.equal(notHost.status, 403);
  assert.equal(notHost.json.error, 'not_host');
  assert.equal((await post(host.token, 'api/hand', {raised: true, session: bob.session})).status, 400);
  assert.equal((await post(host.token, 'api/hand', {raised: false, session: bob.session})).status, 200);
  assert.deepEqual((await state(cid.token)).hands.map((x) => x.nickname), ['Cid']);
  const lowered = await pollUntil(stack, cid.token, ev.cursor, (e) => ofType(e, 'hand').some((x) => x.data.session === bob.session && !x.data.raised));
  assert.equal(ofType(lowered.events, 'hand').find((x) => x.data.session === bob.session).data.by, host.session);
  // Leaving and coming back within the rejoin grace (a reload) keeps the hand in its place:
  // Cid's, raised before Bob's new one, stays ahead of it, and the room is told.
  const cidAt = (await state(cid.token)).hands[0].at;
  assert.equal((await post(bob.token, 'api/hand', {raised: true})).status, 200);
  const beforeReload = (await poll(stack, host.token, lowered.cursor)).json.cursor;
  assert.equal((await post(cid.token, 'api/leave', {})).status, 200);
  assert.deepEqual((await state(host.token)).hands.map((x) => x.nickname), ['Bob'], 'a member who left has no hand in the queue');
  const back = await join(stack, cid.token, room);
  assert.deepEqual(back.hands.map((x) => [x.nickname, x.at]), [['Cid', cidAt], ['Bob', (await state(bob.token)).hands[1].at]]);
  assert.deepEqual((await state(host.token)).hands.map((x) => x.nickname), ['Cid', 'Bob']);
  const told = await pollUntil(stack, host.token, beforeReload, (e) => ofType(e, 'hand').some((x) => x.data.session === cid.session));
  assert.deepEqual(ofType(told.events, 'hand').map((x) => [x.data.session, x.data.raised, x.data.at]), [[cid.session, true, cidAt]]);
  // Going to another room puts it down: back in, the hand is down.
  await join(stack, cid.token, fresh('elsewhere'));
  await join(stack, cid.token, room);
  assert.deepEqual((await state(host.token)).hands.map((x) => x.nickname), ['Bob']);
  assert.equal((await post(cid.token, 'api/hand', {})).status, 400);
});

test('reactions: a room event, limited per session, never in the history', {timeout: 60_000}, async () => {
  const room = fresh('reactions');
  const [ann, bob] = await Promise.all(['Ann', 'Bob'].map((n) => newSession(stack, n)));
  await join(stack, ann.token, room);
  const b = await join(stack, bob.token, room);
  assert.equal((await post(ann.token, 'api/reaction', {emoji: '👍'})).status, 200);
  const got = await pollUntil(stack, bob.token, b.cursor, (e) => ofType(e, 'reaction').length > 0);
  assert.deepEqual(ofType(got.events, 'reaction')[0].data, {room, session: ann.session, nickname: 'Ann', emoji: '👍'});
  for (const emoji of ['💩', 'like', '']) {
    const r = await post(ann.token, 'api/reaction', {emoji});
    assert.equal(r.status, 400, emoji);
    assert.equal(r.json.field, 'emoji');
  }
  let limited;
  for (let i = 0; i < 10 && !limited; i++) {
    const r = await post(ann.token, 'api/reaction', {emoji: '🎉'});
    if (r.status === 429) limited = r;
  }
  assert.ok(limited, 'rate-limited');
  assert.equal(limited.json.scope, 'session');
  // Chat still works for her: reactions have their own allowance.
  await say(stack, ann.token, 'still talking');
  const newcomer = await newSession(stack, 'New');
  const n = await join(stack, newcomer.token, room);
  assert.deepEqual(n.history.map((m) => m.text), ['still talking']);
});

test('private messages: only the two see one; refused outside the room; not in the history; exactly once', {timeout: 60_000}, async () => {
  const room = fresh('private');
  const [ann, bob, cid, out] = await Promise.all(['Ann', 'Bob', 'Cid', 'Out'].map((n) => newSession(stack, n)));
  const a = await join(stack, ann.token, room);
  const b = await join(stack, bob.token, room);
  const c = await join(stack, cid.token, room);
  await join(stack, out.token, fresh('elsewhere'));

  const sent = await post(ann.token, 'api/messages', {text: 'just for you', client_id: 'pm-1', to: bob.session});
  assert.equal(sent.status, 201, sent.text);
  await say(stack, ann.token, 'for everyone');
  // A retry with the same client_id is the same message.
  const retry = await post(ann.token, 'api/messages', {text: 'just for you', client_id: 'pm-1', to: bob.session});
  assert.equal(retry.status, 200);
  assert.equal(retry.json.id, sent.json.id);

  const bobSees = await pollUntil(stack, bob.token, b.cursor, (e) => ofType(e, 'new_message').length >= 2);
  const pm = ofType(bobSees.events, 'new_message').find((e) => e.data.private);
  assert.deepEqual({text: pm.data.text, to: pm.data.to, to_nickname: pm.data.to_nickname, from: pm.data.session},
    {text: 'just for you', to: bob.session, to_nickname: 'Bob', from: ann.session});
  const annSees = await pollUntil(stack, ann.token, a.cursor, (e) => ofType(e, 'new_message').length >= 2);
  assert.equal(ofType(annSees.events, 'new_message').filter((e) => e.data.private).length, 1, 'the sender gets it once too');
  const cidSees = await pollUntil(stack, cid.token, c.cursor, (e) => ofType(e, 'new_message').length >= 1);
  await sleep(300);
  const cidAll = [...cidSees.events, ...(await poll(stack, cid.token, cidSees.cursor)).json.events];
  assert.deepEqual(ofType(cidAll, 'new_message').map((e) => e.data.text), ['for everyone'], 'the third sees only the room message');

  // Exactly once across a resume: polling again from the same cursor gives the same events.
  const again = await pollUntil(stack, bob.token, b.cursor, (e) => ofType(e, 'new_message').length >= 2);
  assert.deepEqual(ofType(again.events, 'new_message').map((e) => e.seq), ofType(bobSees.events, 'new_message').map((e) => e.seq));

  // Refused outside the room, to oneself, to nobody; the same answer whether the session exists.
  for (const to of [out.session, ann.session, 999999]) {
    const r = await post(ann.token, 'api/messages', {text: 'x', to});
    assert.equal(r.status, 404, `to ${to}: ${r.text}`);
    assert.equal(r.json.error, 'not_member');
  }
  assert.equal((await post(ann.token, 'api/messages', {text: 'x', to: 'bob'})).status, 400);
  // Not in a newcomer's history.
  const newcomer = await newSession(stack, 'New');
  const n = await join(stack, newcomer.token, room);
  assert.deepEqual(n.history.map((m) => m.text), ['for everyone']);
});
