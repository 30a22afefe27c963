// Limits per client address as well as per session (docs/API.md "Limits"): sessions, rooms,
// joins and chat from one address meet 429 + Retry-After past their bucket and recover; a proxy
// is believed about X-Forwarded-For only when the operator trusts it; at most two polls of one
// session wait, and a cap on the polls one address holds waiting; cross-site requests refused.
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {startStack, api, newSession, join, say, poll, sleep, clientId} from '../lib/stack.js';

let stack;     // the default limits, no trusted proxy
let proxied;   // one worker process; 127.0.0.1 is a trusted proxy; a small cap on waiting polls
before(async () => {
  [stack, proxied] = await Promise.all([
    startStack({workerArgs: ['--poll-timeout', '3']}),
    startStack({workers: 1, workerArgs: ['--poll-timeout', '3', '--waiting-per-client', '3'],
      config: 'trusted_proxy = 127.0.0.1\ntrusted_proxy = 10.0.0.0/8\n'}),
  ]);
});
after(async () => {
  await Promise.all([stack?.stop(), proxied?.stop()]);
});

const create = (s, headers = {}) => api(s, 'POST', 'api/session', {body: {nickname: 'n'}, headers});

// Each test spends the buckets of an address of its own: through the trusted proxy a test names
// its address in X-Forwarded-For; 127.0.0.1 itself is spent last.
test('hundreds of sessions from one address in seconds meet 429 with Retry-After, then recover', {timeout: 120_000}, async () => {
  const office = {'X-Forwarded-For': '192.0.2.50'};
  const all = [];
  for (let i = 0; i < 300; i += 25) {
    all.push(...await Promise.all(Array.from({length: 25}, () => create(proxied, office))));
  }
  const ok = all.filter((r) => r.status === 201).length;
  const refused = all.filter((r) => r.status === 429);
  assert.ok(ok >= 200 && ok < 260, `${ok} created: the burst (200) and what refilled meanwhile`);
  assert.ok(refused.length > 40, `${refused.length} refused`);
  const r = refused[0];
  assert.equal(r.json.error, 'rate_limited');
  assert.equal(r.json.scope, 'client');
  const retry = Number(r.headers.get('retry-after'));
  assert.ok(retry >= 1 && retry <= 2, `Retry-After ${retry}`);
  assert.equal(r.json.retry_after, retry);
  assert.equal((await create(proxied, {'X-Forwarded-For': '192.0.2.51'})).status, 201, 'other addresses are not hurt');
  await sleep(retry * 1000 + 100);
  assert.equal((await create(proxied, office)).status, 201, 'recovers after Retry-After');
});

test('a trusted proxy names the client; an untrusted X-Forwarded-For changes nothing', {timeout: 120_000}, async () => {
  // Through the trusted proxy, 300 offices of one person each all get in.
  const viaProxy = [];
  for (let i = 0; i < 300; i += 50) {
    viaProxy.push(...await Promise.all(Array.from({length: 50}, (_, j) =>
      create(proxied, {'X-Forwarded-For': `203.0.113.${(i + j) % 250}, 10.1.2.${j}`}))));
  }
  assert.deepEqual(viaProxy.filter((r) => r.status !== 201).map((r) => r.status), []);
  // One address behind the trusted proxy is still one client.
  const one = [];
  for (let i = 0; i < 240; i += 40) {
    one.push(...await Promise.all(Array.from({length: 40}, () =>
      create(proxied, {'X-Forwarded-For': '192.0.2.7'}))));
  }
  assert.ok(one.some((r) => r.status === 429), 'one office address is limited');
});

test('room creation, joins and chat are limited per address; the session limits still hold', {timeout: 120_000}, async () => {
  const s = await newSession(stack, 'Rooms');
  const opened = [];
  let last = '';
  for (let i = 0; i < 24; i++) {
    opened.push((await api(stack, 'POST', 'api/join', {token: s.token, body: {room: `limit-room-${i}`}})).status);
    if (opened.at(-1) === 429) break;
    last = `limit-room-${i}`;
  }
  // The session's own bucket (30) is larger than the rooms' (20): the client limit answers.
  const refused = await api(stack, 'POST', 'api/join', {token: s.token, body: {room: 'limit-room-x'}});
  assert.equal(refused.status, 429, refused.text);
  assert.equal(refused.json.scope, 'client');
  assert.ok(opened.filter((x) => x === 200).length >= 20);
  // Joining a room that exists is a join, not a new room: still allowed.
  const other = await newSession(stack, 'Other');
  assert.equal((await api(stack, 'POST', 'api/join', {token: other.token, body: {room: last}})).status, 200);

  // Chat: 100 at once from the address, whichever sessions send them.
  const talkers = await Promise.all(Array.from({length: 6}, (_, i) => newSession(stack, `t${i}`)));
  for (const t of talkers) await join(stack, t.token, last);
  const sent = [];
  for (let round = 0; round < 25; round++) {
    sent.push(...await Promise.all(talkers.map((t) => api(stack, 'POST', 'api/messages',
      {token: t.token, body: {text: 'x', client_id: clientId()}}))));
  }
  const chatRefused = sent.filter((r) => r.status === 429);
  assert.ok(chatRefused.length > 10, `${chatRefused.length} of ${sent.length} refused`);
  assert.ok(chatRefused.some((r) => r.json.scope === 'client'), 'the address bucket answers');
  const kept = (await api(stack, 'GET', 'api/room', {token: talkers[0].token})).json.history.length;
  assert.ok(kept <= 50);
});

test('at most two polls of one session wait: a third answers the oldest at once', {timeout: 30_000}, async () => {
  // One worker process: the rule holds per process (docs/API.md).
  const ann = await newSession(proxied, 'Ann');
  const started = Date.now();
  const p1 = poll(proxied, ann.token, ann.cursor);
  await sleep(200);
  const p2 = poll(proxied, ann.token, ann.cursor);
  await sleep(200);
  const p3 = poll(proxied, ann.token, ann.cursor);
  const first = await Promise.race([p1.then(() => 'p1'), p2.then(() => 'p2'), p3.then(() => 'p3')]);
  const early = Date.now() - started;
  assert.equal(first, 'p1', 'the oldest is the one answered');
  assert.ok(early < 1500, `answered at once when the third came (${early} ms)`);
  const answers = await Promise.all([p1, p2, p3]);
  for (const a of answers) {
    assert.equal(a.status, 200, a.text);
    assert.equal(a.json.cursor, ann.cursor);
    assert.deepEqual(a.json.events, []);
  }
  assert.ok(Date.now() - started >= 2500, 'the two newest waited their time');
});

test('one address holds a bounded number of waiting polls; the rest are answered 429', {timeout: 30_000}, async () => {
  const sessions = await Promise.all(Array.from({length: 10}, (_, i) => newSession(proxied, `w${i}`)));
  const answers = await Promise.all(sessions.map((s) => api(proxied, 'GET', `api/poll?cursor=${s.cursor}`,
    {token: s.token})));
  const refused = answers.filter((a) => a.status === 429);
  // --waiting-per-client 3, one worker process: three wait, seven are refused.
  assert.equal(refused.length, 7, answers.map((a) => a.status).join(' '));
  assert.equal(refused[0].json.error, 'rate_limited');
  assert.equal(refused[0].headers.get('retry-after'), '1');
  for (const a of answers.filter((x) => x.status === 200)) assert.deepEqual(a.json.events, []);
});

test('cross-site writes are refused; a new session must declare a JSON body', {timeout: 30_000}, async () => {
  const ann = await newSession(stack, 'Ann');
  const evil = await api(stack, 'POST', 'api/join', {token: ann.token, body: {room: 'x'}, headers: {Origin: 'http://evil.example'}});
  assert.equal(evil.status, 403, evil.text);
  assert.equal(evil.json.error, 'cross_origin');
  const nullOrigin = await api(stack, 'POST', 'api/leave', {token: ann.token, headers: {Origin: 'null'}});
  assert.equal(nullOrigin.status, 403);
  const own = await api(stack, 'POST', 'api/join', {token: ann.token, body: {room: 'own-origin'},
    headers: {Origin: `http://127.0.0.1:${stack.port}`}});
  assert.equal(own.status, 200, own.text);
  const form = await api(stack, 'POST', 'api/session', {rawBody: 'nickname=x',
    headers: {'Content-Type': 'application/x-www-form-urlencoded'}});
  assert.equal(form.status, 415, form.text);
  assert.equal(form.json.error, 'unsupported_media_type');
  const plain = await api(stack, 'POST', 'api/session', {rawBody: '{}', headers: {'Content-Type': 'text/plain'}});
  assert.equal(plain.status, 415);
  // Reads are not state changes: a GET from anywhere is answered as usual.
  const get = await api(stack, 'GET', 'api/session', {token: ann.token, headers: {Origin: 'http://evil.example'}});
  assert.equal(get.status, 200);
});

test('an X-Forwarded-For from an untrusted client changes nothing', {timeout: 120_000}, async () => {
  const all = [];
  for (let i = 0; i < 300; i += 25) {
    all.push(...await Promise.all(Array.from({length: 25}, (_, j) =>
      create(stack, {'X-Forwarded-For': `198.51.100.${(i + j) % 250}`}))));
  }
  const refused = all.filter((r) => r.status === 429).length;
  assert.ok(refused > 40, `${refused} refused: every request counted against 127.0.0.1`);
});
