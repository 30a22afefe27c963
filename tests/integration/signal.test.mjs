// Call signaling over the HTTP API: addressed signals reach only their target, cross-room,
// unjoined and out-of-call targets are refused, oversize data is refused with 413, media state
// reaches the room, and the TURN credential is coturn's REST scheme for the configured lifetime.
// The join answer carries the call configuration; a batch of signals follows the same rules,
// all or none, and draws one allowance per signal.
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {startStack, api, newSession, join, leave, pollUntil, drain, ofType} from '../lib/stack.js';

const SECRET = crypto.randomBytes(18).toString('hex');
const TTL = 600;
let stack, confDir;

before(async () => {
  confDir = fs.mkdtempSync(path.join(os.tmpdir(), 'noom-signal-'));
  const conf = path.join(confDir, 'noom.conf');
  fs.writeFileSync(conf, [
    '# test configuration',
    'stun = stun:127.0.0.1:3478',
    'turn = turn:127.0.0.1:3478?transport=udp',
    'turn = turn:127.0.0.1:3478?transport=tcp',
    `turn_secret = ${SECRET}`,
    `turn_ttl = ${TTL}`,
    'mesh_max = 3',
  ].join('\n') + '\n');
  stack = await startStack({workerArgs: ['--poll-timeout', '2'], env: {NOOM_CONFIG: conf}});
});
after(async () => {
  await stack?.stop();
  if (confDir) fs.rmSync(confDir, {recursive: true, force: true});
});

async function member(nick, room) {
  const s = await newSession(stack, nick);
  if (room) await join(stack, s.token, room);
  const d = await drain(stack, s.token, s.cursor);
  s.cursor = d.cursor;
  return s;
}

const signal = (from, body) => api(stack, 'POST', 'api/signal', {token: from.token, body});

test('an offer reaches its target alone, with the sender named', async () => {
  const ann = await member('Ann', 'call-1');
  const bob = await member('Bob', 'call-1');
  const cat = await member('Cat', 'call-1');
  ann.cursor = (await drain(stack, ann.token, ann.cursor)).cursor;
  bob.cursor = (await drain(stack, bob.token, bob.cursor)).cursor;

  const sdp = {type: 'offer', sdp: 'v=0\r\n' + 'a=x\r\n'.repeat(200)};
  const r = await signal(ann, {to: bob.session, kind: 'offer', data: sdp});
  assert.equal(r.status, 202, r.text);
  assert.ok(Number.isInteger(r.json.seq));

  const got = await pollUntil(stack, bob.token, bob.cursor, (ev) => ofType(ev, 'signal').length > 0);
  const sig = ofType(got.events, 'signal')[0];
  assert.deepEqual(sig.data, {from: ann.session, nickname: 'Ann', kind: 'offer', data: sdp});
  bob.cursor = got.cursor;

  // Neither the sender nor the third member sees it.
  for (const s of [ann, cat]) {
    const d = await drain(stack, s.token, s.cursor);
    assert.equal(ofType(d.events, 'signal').length, 0, `${s.nickname} saw someone else's signal`);
    s.cursor = d.cursor;
  }

  // Candidates and hangup go the same way; hangup needs no data.
  assert.equal((await signal(bob, {to: ann.session, kind: 'candidate', data: {candidate: 'candidate:1 1 udp 1 127.0.0.1 9 typ host', sdpMid: '0'}})).status, 202);
  assert.equal((await signal(bob, {to: ann.session, kind: 'hangup'})).status, 202);
  const a = await pollUntil(stack, ann.token, ann.cursor, (ev) => ofType(ev, 'signal').length === 2);
  assert.deepEqual(ofType(a.events, 'signal').map((e) => e.data.kind), ['candidate', 'hangup']);
});

test('signals outside the sender\'s room or call are refused', async () => {
  const ann = await member('Ann', 'room-a');
  const bob = await member('Bob', 'room-b');
  const loner = await member('Loner');
  const before = (await api(stack, 'GET', 'api/rooms', {token: ann.token})).json.cursor;

  for (const [who, body, status, error] of [
    [ann, {to: bob.session, kind: 'offer', data: {sdp: 'x'}}, 403, 'forbidden'],        // other room
    [ann, {to: loner.session, kind: 'offer', data: {sdp: 'x'}}, 403, 'forbidden'],      // in no room
    [ann, {to: 99999999, kind: 'offer', data: {sdp: 'x'}}, 403, 'forbidden'],           // no such session
    [ann, {to: ann.session, kind: 'offer', data: {sdp: 'x'}}, 403, 'forbidden'],        // oneself
    [loner, {to: ann.session, kind: 'offer', data: {sdp: 'x'}}, 409, 'not_in_room'],    // sender unjoined
    [ann, {to: bob.session, kind: 'gossip', data: {}}, 400, 'bad_field'],
    [ann, {to: 'bob', kind: 'offer', data: {}}, 400, 'bad_field'],
    [ann, {to: bob.session, kind: 'offer', data: 'sdp as a string'}, 400, 'bad_field'],
    [ann, {to: bob.session, kind: 'offer', data: {sdp: 'x'.repeat(17 * 1024)}}, 413, 'too_large'],
  ]) {
    const r = await signal(who, body);
    assert.equal(r.status, status, `${JSON.stringify(body).slice(0, 80)}: ${r.text}`);
    assert.equal(r.json.error, error);
  }
  const after = (await api(stack, 'GET', 'api/rooms', {token: ann.token})).json.cursor;
  assert.equal(after, before, 'refused signals wrote no event');
  const d = await drain(stack, bob.token, bob.cursor);
  assert.equal(ofType(d.events, 'signal').length, 0);
});

test('beyond mesh_max a member is chat-only and cannot signal', async () => {
  const ms = [];
  for (const n of ['M1', 'M2', 'M3', 'M4']) ms.push(await member(n, 'full-room'));
  const calls = await Promise.all(ms.map((m) => api(stack, 'GET', 'api/call', {token: m.token})));
  assert.deepEqual(calls.map((c) => c.json.in_call), [true, true, true, false]);
  assert.equal(calls[0].json.mesh_max, 3);
  assert.equal((await signal(ms[3], {to: ms[0].session, kind: 'offer', data: {}})).status, 403);
  assert.equal((await signal(ms[0], {to: ms[3].session, kind: 'offer', data: {}})).status, 403);
  assert.equal((await signal(ms[0], {to: ms[1].session, kind: 'offer', data: {}})).status, 202);
  // TURN is for the call: the chat-only member gets STUN but no relay credential.
  const turnOf = (c) => c.json.iceServers.filter((e) => e.username !== undefined);
  assert.deepEqual(calls.map((c) => turnOf(c).length), [1, 1, 1, 0]);
  assert.deepEqual(calls[3].json.iceServers, [{urls: ['stun:127.0.0.1:3478']}]);
  // When a member leaves, the first chat-only member is admitted, and gets one.
  await leave(stack, ms[0].token);
  const later = await api(stack, 'GET', 'api/call', {token: ms[3].token});
  assert.equal(later.json.in_call, true);
  assert.equal(turnOf(later).length, 1);
});

test('TURN credentials: coturn REST scheme, valid for the configured lifetime, secret kept', async () => {
  const ann = await member('Ann', 'turn-room');
  const lone = await newSession(stack, 'Nobody');
  assert.equal((await api(stack, 'GET', 'api/call', {token: lone.token})).status, 409, 'only members get credentials');
  assert.equal((await api(stack, 'GET', 'api/call', {})).status, 401);

  const t0 = Math.floor(Date.now() / 1000);
  const r = await api(stack, 'GET', 'api/call', {token: ann.token});
  assert.equal(r.status, 200, r.text);
  assert.match(r.headers.get('cache-control') ?? '', /no-store/);
  assert.ok(!r.text.includes(SECRET), 'the secret never reaches the browser');
  assert.equal(r.json.ttl, TTL);
  assert.equal(r.json.iceTransportPolicy, 'all', 'no ice_transport_policy configured: all');
  const [stun, turn] = r.json.iceServers;
  assert.deepEqual(stun, {urls: ['stun:127.0.0.1:3478']});
  assert.deepEqual(turn.urls, ['turn:127.0.0.1:3478?transport=udp', 'turn:127.0.0.1:3478?transport=tcp']);
  const [expiry, sid] = turn.username.split(':');
  assert.equal(Number(sid), ann.session);
  assert.ok(Math.abs(Number(expiry) - (t0 + TTL)) <= 2, `expiry ${expiry} is now + ttl`);
  const want = crypto.createHmac('sha1', SECRET).update(turn.username).digest('base64');
  assert.equal(turn.credential, want, 'credential = base64(HMAC-SHA1(secret, username))');
});

test('media state reaches the room and shows in the join answer', async () => {
  const ann = await member('Ann', 'media-room');
  const bob = await member('Bob', 'media-room');
  ann.cursor = (await drain(stack, ann.token, ann.cursor)).cursor;
  const r = await api(stack, 'POST', 'api/media', {token: bob.token, body: {audio: false, video: false}});
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, {session: bob.session, audio: false, video: false, screen: false});
  const got = await pollUntil(stack, ann.token, ann.cursor, (ev) => ofType(ev, 'media').length > 0);
  assert.deepEqual(ofType(got.events, 'media')[0].data, r.json);

  const cat = await newSession(stack, 'Cat');
  const j = await join(stack, cat.token, 'media-room');
  const b = j.members.find((m) => m.session === bob.session);
  assert.equal(b.audio, false);
  assert.equal(b.video, false);
  assert.equal((await api(stack, 'POST', 'api/media', {token: bob.token, body: {audio: 'yes'}})).status, 400);
});

test('the join answer carries the call configuration, as GET api/call gives it', async () => {
  const ann = await newSession(stack, 'Ann');
  const t0 = Math.floor(Date.now() / 1000);
  const j = await api(stack, 'POST', 'api/join', {token: ann.token, body: {room: 'config-room'}});
  assert.equal(j.status, 200, j.text);
  const g = await api(stack, 'GET', 'api/call', {token: ann.token});
  // The TURN username holds the expiry (now + ttl): the two may be a second apart.
  const turnless = (c) => ({...c, iceServers: c.iceServers.map((e) => ({urls: e.urls}))});
  assert.deepEqual(turnless(j.json.call), turnless(g.json));
  const turn = j.json.call.iceServers.find((e) => e.username !== undefined);
  const [expiry, sid] = turn.username.split(':');
  assert.equal(Number(sid), ann.session);
  assert.ok(Math.abs(Number(expiry) - (t0 + TTL)) <= 2, `expiry ${expiry} is now + ttl`);
  assert.equal(turn.credential, crypto.createHmac('sha1', SECRET).update(turn.username).digest('base64'));
  assert.ok(!j.text.includes(SECRET), 'the secret never reaches the browser');
  assert.equal(j.json.call.in_call, true);

  // Past mesh_max (3) the joiner is chat-only from its join answer on: no relay credential.
  for (const n of ['B', 'C']) await member(n, 'config-room');
  const dan = await newSession(stack, 'Dan');
  const d = await api(stack, 'POST', 'api/join', {token: dan.token, body: {room: 'config-room'}});
  assert.equal(d.json.call.in_call, false);
  assert.deepEqual(d.json.call.iceServers, [{urls: ['stun:127.0.0.1:3478']}]);
});

test('a batch of signals reaches each target in order, all or none', async () => {
  const ann = await member('Ann', 'batch-room');
  const bob = await member('Bob', 'batch-room');
  const cat = await member('Cat', 'batch-room');
  const out = await member('Out', 'batch-other');
  for (const s of [ann, bob, cat]) s.cursor = (await drain(stack, s.token, s.cursor)).cursor;
  const cand = (n) => ({candidate: `candidate:${n} 1 udp 1 127.0.0.1 ${9000 + n} typ host`, sdpMid: '0'});

  const r = await signal(ann, {signals: [
    {to: bob.session, kind: 'offer', data: {type: 'offer', sdp: 'v=0'}},
    {to: bob.session, kind: 'candidate', data: cand(1)},
    {to: cat.session, kind: 'candidate', data: cand(2)},
    {to: bob.session, kind: 'candidate', data: cand(3)},
  ]});
  assert.equal(r.status, 202, r.text);
  assert.ok(Number.isInteger(r.json.seq));
  const b = await pollUntil(stack, bob.token, bob.cursor, (ev) => ofType(ev, 'signal').length === 3);
  assert.deepEqual(ofType(b.events, 'signal').map((e) => [e.data.from, e.data.kind, e.data.data.candidate ?? e.data.data.sdp]),
    [[ann.session, 'offer', 'v=0'], [ann.session, 'candidate', cand(1).candidate], [ann.session, 'candidate', cand(3).candidate]]);
  const c = await pollUntil(stack, cat.token, cat.cursor, (ev) => ofType(ev, 'signal').length === 1);
  assert.deepEqual(ofType(c.events, 'signal')[0].data, {from: ann.session, nickname: 'Ann', kind: 'candidate', data: cand(2)});
  bob.cursor = b.cursor;
  cat.cursor = c.cursor;

  // One bad signal refuses the whole batch, naming it by index; nothing is delivered.
  const before = (await api(stack, 'GET', 'api/rooms', {token: ann.token})).json.cursor;
  const good = {to: bob.session, kind: 'candidate', data: cand(4)};
  for (const [body, status, error, index] of [
    [{signals: [good, {to: out.session, kind: 'candidate', data: cand(5)}]}, 403, 'forbidden', 1],
    [{signals: [good, good, {to: bob.session, kind: 'gossip', data: {}}]}, 400, 'bad_field', 2],
    [{signals: [good, 'candidate']}, 400, 'bad_field', 1],
    [{signals: [{to: bob.session, kind: 'offer', data: {sdp: 'x'.repeat(17 * 1024)}}, good]}, 413, 'too_large', 0],
    [{signals: []}, 400, 'bad_field', undefined],
    [{signals: good}, 400, 'bad_field', undefined],
    [{signals: Array(33).fill(good)}, 400, 'bad_field', undefined],
  ]) {
    const x = await signal(ann, body);
    assert.equal(x.status, status, `${JSON.stringify(body).slice(0, 80)}: ${x.text}`);
    assert.equal(x.json.error, error);
    assert.equal(x.json.index, index);
  }
  assert.equal((await signal(out, {signals: [good]})).status, 403, 'the sender must share the call');
  const after = (await api(stack, 'GET', 'api/rooms', {token: ann.token})).json.cursor;
  assert.equal(after, before, 'refused batches wrote no event');
  assert.equal(ofType((await drain(stack, bob.token, bob.cursor)).events, 'signal').length, 0);
});

test('a batch draws one signal allowance per signal', async () => {
  const ann = await member('Ann', 'batch-rate');
  const bob = await member('Bob', 'batch-rate');
  const batch = {signals: Array(32).fill({to: bob.session, kind: 'candidate', data: {candidate: 'c'}})};
  // The burst is 200 signals: six batches of 32 (192) pass; the next ones find 8 left and a
  // refill of 50/s, so one is refused unless each took the server half a second.
  for (let i = 0; i < 6; i++) assert.equal((await signal(ann, batch)).status, 202, `batch ${i + 1}`);
  let r;
  for (let i = 0; i < 3; i++) if ((r = await signal(ann, batch)).status !== 202) break;
  assert.equal(r.status, 429, r.text);
  assert.equal(r.json.error, 'rate_limited');
  assert.ok(r.json.retry_after >= 1);
});
