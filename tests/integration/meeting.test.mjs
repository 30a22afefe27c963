// Meetings a host runs: unlisted rooms and their keys, hosts and hand-over, lock, password (with
// guesses limited per client), waiting room (admit, deny, leave), removal until the meeting
// ends, mute requests, end meeting, and that signalling and TURN follow membership.
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {startStack, api, newSession, join, leave, pollUntil, ofType, CROWD_LIMITS} from '../lib/stack.js';

let stack;
before(async () => {
  // Every client here is 127.0.0.1: raise the other per-client limits, keep the password one
  // small so that its test reaches it.
  stack = await startStack({
    workerArgs: ['--poll-timeout', '2'],
    config: CROWD_LIMITS + 'limit_passwords = 4/0.01\nturn = turn:127.0.0.1:3478\nturn_secret = s3cret-for-tests\n',
  });
});
after(async () => {
  await stack?.stop();
});

let roomSeq = 0;
const fresh = (tag) => `${tag} ${process.pid}-${++roomSeq}`;

const post = (token, path, body = {}) => api(stack, 'POST', path, {token, body});
async function ok(token, path, body) {
  const r = await post(token, path, body);
  assert.equal(r.status, 200, `${path} ${JSON.stringify(body)}: ${r.text}`);
  return r.json;
}
async function people(...names) {
  return Promise.all(names.map((n) => newSession(stack, n)));
}
/** Joins with a full body ({room, key?, unlisted?, password?}); returns the raw answer. */
const enter = (token, body) => api(stack, 'POST', 'api/join', {token, body});
/** Polls token's mailbox from cursor until an event of type matching pred arrives; returns it. */
async function waitFor(token, cursor, type, pred = () => true) {
  const r = await pollUntil(stack, token, cursor, (ev) => ofType(ev, type).some((e) => pred(e.data)));
  return {event: ofType(r.events, type).find((e) => pred(e.data)), events: r.events, cursor: r.cursor};
}
const listed = async (token) => (await api(stack, 'GET', 'api/rooms?limit=200', {token})).json.rooms.map((x) => x.name);

test('an unlisted room: never listed, not in lobby events, entered only with its key', {timeout: 60_000}, async () => {
  const [host, guest, watcher, prober] = await people('Host', 'Guest', 'Watcher', 'Prober');
  const name = fresh('secret plans');
  const opened = await enter(host.token, {room: name, unlisted: true});
  assert.equal(opened.status, 200, opened.text);
  const key = opened.json.key;
  assert.match(key, /^[A-Za-z0-9_-]{22}$/, '128 bits, base64url');
  assert.equal(opened.json.unlisted, true);
  assert.equal(opened.json.host, true);
  assert.deepEqual(opened.json.settings, {unlisted: true, locked: false, password: false, waiting_room: false});
  assert.equal(opened.json.members[0].host, true);

  // Not in the list, and the lobby hears nothing of it.
  assert.ok(!(await listed(watcher.token)).includes(name));
  const g = await enter(guest.token, {room: name, key});
  assert.equal(g.status, 200, g.text);
  assert.equal(g.json.count, 2);
  assert.equal(g.json.host, false);
  assert.equal(g.json.key, key);
  const lobby = await pollUntil(stack, watcher.token, watcher.cursor, () => false, 2500).catch((e) => e);
  assert.ok(!JSON.stringify(lobby.events).includes(name), 'no lobby event names the unlisted room');

  // The name alone: the same answer as for a room that does not exist (a new listed room).
  const byName = await enter(prober.token, {room: name});
  const nothing = await enter(watcher.token, {room: fresh('never existed')});
  for (const r of [byName, nothing]) {
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.count, 1);
    assert.equal(r.json.host, true);
    assert.equal(r.json.unlisted, false);
    assert.equal(r.json.key, undefined);
    assert.deepEqual(Object.keys(r.json).sort(), Object.keys(nothing.json).sort());
  }
  assert.notEqual(byName.json.members[0].session, host.session, 'a listed room of the same name, without meeting');
  assert.ok((await listed(watcher.token)).includes(name), 'the listed namesake shows');
  // A wrong key opens another unlisted room: again nothing to tell.
  const wrong = await enter(prober.token, {room: name, key: 'A'.repeat(22)});
  assert.equal(wrong.status, 200);
  assert.equal(wrong.json.count, 1);

  // Keys are checked for form.
  for (const key of ['short', 'has space in it here', 'x'.repeat(65), 12]) {
    const r = await enter(prober.token, {room: name, key});
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.field, 'key');
  }
});

test('everyone but a host gets 403 not_host for every host action; in no room 409', {timeout: 60_000}, async () => {
  const [host, member, outsider] = await people('Host', 'Member', 'Outsider');
  const room = fresh('guarded');
  await join(stack, host.token, room);
  await join(stack, member.token, room);
  const actions = [
    ['api/room/settings', {locked: true}], ['api/room/host', {session: member.session}],
    ['api/room/remove', {session: host.session}], ['api/room/mute', {all: true}],
    ['api/room/admit', {session: host.session}], ['api/room/deny', {session: host.session}],
    ['api/room/end', {}],
  ];
  for (const [path, body] of actions) {
    const r = await post(member.token, path, body);
    assert.equal(r.status, 403, `${path}: ${r.text}`);
    assert.equal(r.json.error, 'not_host');
    const o = await post(outsider.token, path, body);
    assert.equal(o.status, 409, `${path}: ${o.text}`);
    const anon = await post(undefined, path, body);
    assert.equal(anon.status, 401);
  }
  // Nothing changed.
  const state = (await api(stack, 'GET', 'api/room', {token: host.token})).json;
  assert.equal(state.count, 2);
  assert.equal(state.settings.locked, false);
  assert.deepEqual(state.members.map((m) => m.host), [true, false]);
  assert.equal(state.waiting.length, 0, 'a host sees the waiting list');
  const mine = (await api(stack, 'GET', 'api/room', {token: member.token})).json;
  assert.equal(mine.waiting, undefined, 'a member does not');
  // Bad bodies are 400 with the field.
  for (const [path, body, field] of [['api/room/remove', {session: 'x'}, 'session'],
    ['api/room/settings', {locked: 'yes'}, 'locked'], ['api/room/settings', {password: 'x'.repeat(65)}, 'password']]) {
    const r = await post(host.token, path, body);
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.field, field);
  }
  const gone = await post(host.token, 'api/room/remove', {session: outsider.session});
  assert.equal(gone.status, 404);
  assert.equal(gone.json.error, 'not_member');
});

test('lock: nobody new enters; members see the setting; unlock lets them in', {timeout: 60_000}, async () => {
  const [host, member, late] = await people('Host', 'Member', 'Late');
  const room = fresh('locked');
  await join(stack, host.token, room);
  const m = await join(stack, member.token, room);
  assert.deepEqual(await ok(host.token, 'api/room/settings', {locked: true}),
    {settings: {unlisted: false, locked: true, password: false, waiting_room: false}});
  const ev = await waitFor(member.token, m.cursor, 'room_settings');
  assert.equal(ev.event.data.settings.locked, true);
  assert.equal(ev.event.data.by, host.session);
  const refused = await enter(late.token, {room});
  assert.equal(refused.status, 403);
  assert.equal(refused.json.error, 'room_locked');
  assert.equal((await api(stack, 'GET', 'api/session', {token: late.token})).json.room, null);
  await ok(host.token, 'api/room/settings', {locked: false});
  assert.equal((await enter(late.token, {room})).status, 200);
});

test('password: asked for, wrong refused, right admitted, guesses limited per client', {timeout: 60_000}, async () => {
  const [host, guest, guesser] = await people('Host', 'Guest', 'Guesser');
  const room = fresh('pw');
  await join(stack, host.token, room);
  const s = await ok(host.token, 'api/room/settings', {password: 'open sesame'});
  assert.equal(s.settings.password, true);
  const state = (await api(stack, 'GET', 'api/room', {token: host.token})).json;
  assert.equal(JSON.stringify(state).includes('sesame'), false, 'the password is never shown');

  const none = await enter(guest.token, {room});
  assert.equal(none.status, 403);
  assert.equal(none.json.error, 'password_required');
  const wrong = await enter(guest.token, {room, password: 'open barley'});
  assert.equal(wrong.status, 403);
  assert.equal(wrong.json.error, 'wrong_password');
  const right = await enter(guest.token, {room, password: 'open sesame'});
  assert.equal(right.status, 200, right.text);

  // The bucket (4 here) is per client address: wrong guesses use it up, then even the right
  // password waits (429) — the guess is never checked.
  let limited;
  for (let i = 0; i < 6 && !limited; i++) {
    const r = await enter(guesser.token, {room, password: `guess ${i}`});
    if (r.status === 429) limited = r;
    else assert.equal(r.json.error, 'wrong_password');
  }
  assert.ok(limited, 'guessing is rate-limited');
  assert.equal(limited.json.error, 'rate_limited');
  assert.ok(Number(limited.headers.get('retry-after')) >= 1);
  assert.equal((await enter(guesser.token, {room, password: 'open sesame'})).status, 429);

  // Clearing the password opens the door.
  await ok(host.token, 'api/room/settings', {password: null});
  assert.equal((await enter(guesser.token, {room})).status, 200);
  const db = await import('node:fs').then((fs) => fs.readFileSync(stack.dbPath));
  assert.equal(db.includes('open sesame'), false, 'the password is stored hashed');
});

test('waiting room: hosts see who waits, admit and deny; waiting sessions cannot signal or get TURN', {timeout: 60_000}, async () => {
  const [host, cohost, ann, bob, cid] = await people('Host', 'Cohost', 'Ann', 'Bob', 'Cid');
  const room = fresh('lobby');
  const h = await join(stack, host.token, room);
  await join(stack, cohost.token, room);
  await ok(host.token, 'api/room/host', {session: cohost.session});
  const settings = await ok(host.token, 'api/room/settings', {waiting_room: true});
  assert.equal(settings.settings.waiting_room, true);

  const a = await enter(ann.token, {room});
  assert.equal(a.status, 202, a.text);
  assert.equal(a.json.waiting, true);
  assert.ok(Number.isInteger(a.json.cursor));
  const b = await enter(bob.token, {room});
  assert.equal(b.status, 202);
  const w = await waitFor(host.token, h.cursor, 'waiting', (d) => d.session === bob.session);
  assert.equal(w.event.data.nickname, 'Bob');
  const hostState = (await api(stack, 'GET', 'api/room', {token: host.token})).json;
  assert.deepEqual(hostState.waiting.map((x) => x.nickname), ['Ann', 'Bob']);
  assert.equal(hostState.count, 2, 'those waiting are not members');

  // Waiting gives nothing of the room: no state, no call, no signal.
  assert.equal((await api(stack, 'GET', 'api/room', {token: ann.token})).status, 409);
  assert.equal((await api(stack, 'GET', 'api/call', {token: ann.token})).status, 409);
  const sig = await post(ann.token, 'api/signal', {to: host.session, kind: 'offer', data: {sdp: 'x'}});
  assert.ok([403, 409].includes(sig.status), sig.text);

  // Admit Ann (by the co-host), deny Bob.
  assert.deepEqual(await ok(cohost.token, 'api/room/admit', {session: ann.session}), {admitted: ann.session});
  const joined = await waitFor(ann.token, a.json.cursor, 'room_joined');
  assert.equal(joined.event.data.room, room);
  const inside = (await api(stack, 'GET', 'api/room', {token: ann.token})).json;
  assert.equal(inside.count, 3);
  assert.equal(inside.host, false);
  await ok(host.token, 'api/room/deny', {session: bob.session});
  const denied = await waitFor(bob.token, b.json.cursor, 'join_denied');
  assert.equal(denied.event.data.reason, 'denied');
  const done = await waitFor(host.token, w.cursor, 'waiting_done', (d) => d.session === bob.session);
  assert.equal(done.event.data.outcome, 'denied');
  assert.equal((await post(host.token, 'api/room/admit', {session: bob.session})).status, 404);
  // A denied session gets nothing of the room either: no call configuration, no signal.
  const deniedCall = await api(stack, 'GET', 'api/call', {token: bob.token});
  assert.deepEqual([deniedCall.status, deniedCall.json.error], [409, 'not_in_room']);
  const deniedSig = await post(bob.token, 'api/signal', {to: host.session, kind: 'offer', data: {sdp: 'x'}});
  assert.deepEqual([deniedSig.status, deniedSig.json.error], [409, 'not_in_room']);

  // Leaving while waiting tells the hosts.
  const c = await enter(cid.token, {room});
  assert.equal(c.status, 202);
  await leave(stack, cid.token);
  const left = await waitFor(host.token, done.cursor, 'waiting_done', (d) => d.session === cid.session);
  assert.equal(left.event.data.outcome, 'left');

  // Turning the waiting room off lets in whoever waits.
  const again = await enter(bob.token, {room});
  assert.equal(again.status, 202);
  await ok(host.token, 'api/room/settings', {waiting_room: false});
  await waitFor(bob.token, again.json.cursor, 'room_joined');
  assert.equal((await api(stack, 'GET', 'api/room', {token: host.token})).json.count, 4);
});

test('removal: out with the reason, no way back (nor signal, nor TURN) until the meeting ends', {timeout: 60_000}, async () => {
  const [host, pest, other] = await people('Host', 'Pest', 'Other');
  const room = fresh('removal');
  await join(stack, host.token, room);
  const p = await join(stack, pest.token, room);
  const o = await join(stack, other.token, room);
  assert.equal((await api(stack, 'GET', 'api/call', {token: pest.token})).json.iceServers.some((s) => s.credential), true);
  const self = await post(host.token, 'api/room/remove', {session: host.session});
  assert.equal(self.status, 400);
  await ok(host.token, 'api/room/remove', {session: pest.session});
  const out = await waitFor(pest.token, p.cursor, 'room_left');
  assert.equal(out.event.data.reason, 'removed');
  const bye = await waitFor(other.token, o.cursor, 'bye', (d) => d.session === pest.session);
  assert.equal(bye.event.data.reason, 'removed');

  const back = await enter(pest.token, {room});
  assert.equal(back.status, 403);
  assert.equal(back.json.error, 'removed');
  assert.equal((await api(stack, 'GET', 'api/call', {token: pest.token})).status, 409);
  const sig = await post(pest.token, 'api/signal', {to: host.session, kind: 'offer', data: {sdp: 'x'}});
  assert.ok([403, 409].includes(sig.status));

  // The meeting ends when the room empties; then the same name is a new meeting.
  await leave(stack, other.token);
  await leave(stack, host.token);
  const fresh2 = await enter(pest.token, {room});
  assert.equal(fresh2.status, 200, fresh2.text);
  assert.equal(fresh2.json.host, true);
});

test('host hand-over: the member present longest becomes host when the last host leaves', {timeout: 60_000}, async () => {
  const [host, first, second, late] = await people('Host', 'First', 'Second', 'Late');
  const room = fresh('handover');
  await join(stack, host.token, room);
  const f = await join(stack, first.token, room);
  await join(stack, second.token, room);
  await leave(stack, host.token);
  const ev = await waitFor(second.token, f.cursor, 'host');
  assert.deepEqual({s: ev.event.data.session, r: ev.event.data.reason}, {s: first.session, r: 'handover'});
  const state = (await api(stack, 'GET', 'api/room', {token: first.token})).json;
  assert.equal(state.host, true);
  assert.deepEqual(state.members.map((m) => [m.nickname, m.host]), [['First', true], ['Second', false]]);
  await ok(first.token, 'api/room/settings', {locked: true});

  // A reload (leave, then join again within a minute) goes straight back in, lock or not, and a
  // host is a host again.
  await leave(stack, first.token);
  const back = await enter(first.token, {room});
  assert.equal(back.status, 200, back.text);
  assert.equal(back.json.host, true);
  const refused = await enter(late.token, {room});
  assert.equal(refused.status, 403, 'the lock holds for others');
  // The first host left a moment ago too, as a host: back in past the lock, a host again.
  const returning = await enter(host.token, {room});
  assert.equal(returning.status, 200);
  assert.equal(returning.json.host, true);
});

test('a host makes a co-host (event reason made); no hand-over while a host remains', {timeout: 60_000}, async () => {
  const [host, co, member] = await people('Host', 'Co', 'Member');
  const room = fresh('cohost');
  await join(stack, host.token, room);
  await join(stack, co.token, room);
  const m = await join(stack, member.token, room);
  // Co joined before Member: with no host left, Co would be the heir anyway; make Member a
  // co-host so that a hand-over would show as a change.
  await ok(host.token, 'api/room/host', {session: member.session});
  const made = await waitFor(co.token, m.cursor, 'host', (d) => d.session === member.session);
  assert.deepEqual({r: made.event.data.reason, by: made.event.data.by, n: made.event.data.nickname},
    {r: 'made', by: host.session, n: 'Member'});
  await leave(stack, host.token);
  await waitFor(co.token, made.cursor, 'bye', (d) => d.session === host.session);
  const after = await api(stack, 'GET', 'api/room', {token: member.token});
  assert.deepEqual(after.json.members.map((x) => [x.nickname, x.host]), [['Co', false], ['Member', true]],
    'the co-host is the host; nobody was handed the room');
  // Every event since: no host event at all.
  const since = await pollUntil(stack, co.token, made.cursor, (ev) => ofType(ev, 'bye').length > 0);
  assert.deepEqual(ofType(since.events, 'host'), [], 'no hand-over while a co-host remains');
});

test('mute requests go to the member, or to everyone but the host', {timeout: 60_000}, async () => {
  const [host, ann, bob] = await people('Host', 'Ann', 'Bob');
  const room = fresh('mute');
  const h = await join(stack, host.token, room);
  const a = await join(stack, ann.token, room);
  const b = await join(stack, bob.token, room);
  await ok(host.token, 'api/room/mute', {session: ann.session});
  const one = await waitFor(ann.token, a.cursor, 'mute_request');
  assert.deepEqual(one.event.data, {room, by: host.session, nickname: 'Host'});
  await ok(host.token, 'api/room/mute', {all: true});
  const all = await waitFor(bob.token, b.cursor, 'mute_request');
  assert.equal(all.event.data.all, true, 'Bob got only the request to all');
  const hostSees = await waitFor(host.token, h.cursor, 'mute_request');
  assert.equal(hostSees.event.data.by, host.session, 'the host is told it was asked by itself: its page ignores it');
});

test('end meeting: every member goes home, those waiting are told, the room closes', {timeout: 60_000}, async () => {
  const [host, ann, bob, waiter, watcher] = await people('Host', 'Ann', 'Bob', 'Waiter', 'Watcher');
  const room = fresh('the end');
  const h = await join(stack, host.token, room);
  const a = await join(stack, ann.token, room);
  const b = await join(stack, bob.token, room);
  await ok(host.token, 'api/room/settings', {waiting_room: true});
  const w = await enter(waiter.token, {room});
  assert.equal(w.status, 202);
  assert.ok((await listed(watcher.token)).includes(room));
  await ok(host.token, 'api/room/end');
  for (const [who, cur] of [[host, h.cursor], [ann, a.cursor], [bob, b.cursor]]) {
    const ev = await waitFor(who.token, cur, 'room_left');
    assert.equal(ev.event.data.reason, 'ended');
    assert.equal(ofType(ev.events, 'bye').length, 0, 'no goodbye storm');
    assert.equal((await api(stack, 'GET', 'api/session', {token: who.token})).json.room, null);
  }
  const told = await waitFor(waiter.token, w.json.cursor, 'join_denied');
  assert.equal(told.event.data.reason, 'ended');
  assert.ok(!(await listed(watcher.token)).includes(room));
  // Ending is not removing: anyone may open the room again.
  assert.equal((await enter(ann.token, {room})).status, 200);
});
