// Bad input: each request gets the right status and a JSON error, and changes nothing.
// Then rate limiting, literal storage of SQL-looking names, and a sound database at the end.
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {execFileSync} from 'node:child_process';
import {performance} from 'node:perf_hooks';
import {startStack, api, newSession, join, say, pollUntil, sleep, ofType, clientId} from '../lib/stack.js';

let stack;
const ctx = {};
before(async () => {
  // A long presence timeout: Ann never polls, and must stay in her room while the table runs.
  stack = await startStack({workerArgs: ['--poll-timeout', '2', '--presence-timeout', '600']});
  ctx.ann = await newSession(stack, 'Ann');
  await join(stack, ctx.ann.token, 'bad');
  await say(stack, ctx.ann.token, 'the only message');
});
after(async () => {
  await stack?.stop();
});

// Everything a bad request could have changed, as seen through the API.
async function snapshot() {
  const T = ctx.ann.token;
  const rooms = await api(stack, 'GET', 'api/rooms', {token: T});
  const room = await api(stack, 'GET', 'api/room', {token: T});
  const me = await api(stack, 'GET', 'api/session', {token: T});
  assert.equal(rooms.status, 200);
  assert.equal(room.status, 200);
  assert.equal(me.status, 200);
  const {cursor: _c, ...roomState} = room.json;
  return {rooms: rooms.json, room: roomState, me: me.json};
}

const utf8 = (...parts) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));
const T = () => ctx.ann.token;
const msg = (text) => ({text, client_id: clientId('bad')});
const pad = (n) => '{"text":"' + 'a'.repeat(n - '{"text":"","client_id":"big"}'.length) + '","client_id":"big"}';

// [name, method, path, request options (function of ctx), status, error code(s), field, extra check]
const cases = [
  // bodies that are not a JSON object
  ['malformed JSON', 'POST', 'api/messages', () => ({token: T(), rawBody: '{"text": "hi", "client_id": "x1"'}), 400, 'bad_json'],
  ['JSON with trailing garbage', 'POST', 'api/messages', () => ({token: T(), rawBody: '{"text":"hi","client_id":"x2"} xyz'}), 400, 'bad_json'],
  ['JSON array', 'POST', 'api/messages', () => ({token: T(), rawBody: '["hi"]'}), 400, 'bad_json'],
  ['JSON string', 'POST', 'api/join', () => ({token: T(), rawBody: '"bad"'}), 400, 'bad_json'],
  ['JSON null', 'POST', 'api/nickname', () => ({token: T(), rawBody: 'null'}), 400, 'bad_json'],
  ['empty body where one is needed', 'POST', 'api/messages', () => ({token: T(), rawBody: ''}), 400, 'bad_json'],
  ['malformed JSON creating a session', 'POST', 'api/session', () => ({rawBody: '{nickname: "x"}'}), 400, 'bad_json'],
  ['raw control byte inside a JSON string', 'POST', 'api/messages', () => ({token: T(), rawBody: utf8('{"text":"a', [0x01], 'b","client_id":"x3"}')}), 400, ['bad_json', 'bad_field']],

  // wrong or missing fields
  ['number as nickname', 'POST', 'api/nickname', () => ({token: T(), body: {nickname: 42}}), 400, 'bad_field', 'nickname'],
  ['null nickname', 'POST', 'api/nickname', () => ({token: T(), body: {nickname: null}}), 400, 'bad_field', 'nickname'],
  ['missing nickname', 'POST', 'api/nickname', () => ({token: T(), body: {}}), 400, 'bad_field', 'nickname'],
  ['number as nickname for a new session', 'POST', 'api/session', () => ({body: {nickname: 42}}), 400, 'bad_field', 'nickname'],
  ['missing text', 'POST', 'api/messages', () => ({token: T(), body: {client_id: 'x4'}}), 400, 'bad_field', 'text'],
  ['number as text', 'POST', 'api/messages', () => ({token: T(), body: {text: 5, client_id: 'x5'}}), 400, 'bad_field', 'text'],
  ['array as text', 'POST', 'api/messages', () => ({token: T(), body: {text: ['hi'], client_id: 'x6'}}), 400, 'bad_field', 'text'],
  ['number as room', 'POST', 'api/join', () => ({token: T(), body: {room: 5}}), 400, 'bad_field', 'room'],
  ['missing room', 'POST', 'api/join', () => ({token: T(), body: {}}), 400, 'bad_field', 'room'],
  ['client_id with bad characters', 'POST', 'api/messages', () => ({token: T(), body: {text: 'hi', client_id: 'a b!'}}), 400, 'bad_field', 'client_id'],
  ['client_id of 65 characters', 'POST', 'api/messages', () => ({token: T(), body: {text: 'hi', client_id: 'c'.repeat(65)}}), 400, 'bad_field', 'client_id'],
  ['empty client_id', 'POST', 'api/messages', () => ({token: T(), body: {text: 'hi', client_id: ''}}), 400, 'bad_field', 'client_id'],
  ['number as client_id', 'POST', 'api/messages', () => ({token: T(), body: {text: 'hi', client_id: 7}}), 400, 'bad_field', 'client_id'],

  // lengths
  ['empty nickname', 'POST', 'api/nickname', () => ({token: T(), body: {nickname: ''}}), 400, 'bad_field', 'nickname'],
  ['nickname of spaces only', 'POST', 'api/nickname', () => ({token: T(), body: {nickname: '    '}}), 400, 'bad_field', 'nickname'],
  ['nickname of 33 characters', 'POST', 'api/nickname', () => ({token: T(), body: {nickname: 'n'.repeat(33)}}), 400, 'bad_field', 'nickname'],
  ['nickname of 33 two-byte characters', 'POST', 'api/nickname', () => ({token: T(), body: {nickname: 'é'.repeat(33)}}), 400, 'bad_field', 'nickname'],
  ['nickname of 33 emoji', 'POST', 'api/nickname', () => ({token: T(), body: {nickname: '😀'.repeat(33)}}), 400, 'bad_field', 'nickname'],
  ['new session with a 33-character nickname', 'POST', 'api/session', () => ({body: {nickname: 'n'.repeat(33)}}), 400, 'bad_field', 'nickname'],
  ['empty room name', 'POST', 'api/join', () => ({token: T(), body: {room: ''}}), 400, 'bad_field', 'room'],
  ['room name of spaces only', 'POST', 'api/join', () => ({token: T(), body: {room: '   '}}), 400, 'bad_field', 'room'],
  ['room name of 65 characters', 'POST', 'api/join', () => ({token: T(), body: {room: 'r'.repeat(65)}}), 400, 'bad_field', 'room'],
  ['room name of 65 three-byte characters', 'POST', 'api/join', () => ({token: T(), body: {room: '日'.repeat(65)}}), 400, 'bad_field', 'room'],
  ['empty message', 'POST', 'api/messages', () => ({token: T(), body: msg('')}), 400, 'bad_field', 'text'],
  ['message of 2001 characters', 'POST', 'api/messages', () => ({token: T(), body: msg('m'.repeat(2001))}), 400, 'bad_field', 'text'],
  ['message of 2001 emoji', 'POST', 'api/messages', () => ({token: T(), body: msg('😀'.repeat(2001))}), 400, 'bad_field', 'text'],
  ['body of 64 KiB + 1 byte', 'POST', 'api/messages', () => ({token: T(), rawBody: pad(65537)}), 413, 'too_large', undefined, (r) => assert.equal(r.json.limit, 65536)],
  ['body of 1 MiB', 'POST', 'api/messages', () => ({token: T(), rawBody: pad(1 << 20)}), 413, 'too_large'],
  ['body of 2 MiB (past nginx\'s default limit too)', 'POST', 'api/messages', () => ({token: T(), rawBody: pad(2 << 20)}), 413, 'too_large'],
  ['body of exactly 64 KiB (not too large; the text is)', 'POST', 'api/messages', () => ({token: T(), rawBody: pad(65536)}), 400, 'bad_field', 'text'],

  // invalid UTF-8: JSON text must be UTF-8 (RFC 8259 8.1), so the parser refuses the whole
  // body as bad_json (docs/API.md); control characters are refused per field.
  ['invalid UTF-8 byte 0xFF in text', 'POST', 'api/messages', () => ({token: T(), rawBody: utf8('{"text":"a', [0xff], 'b","client_id":"u1"}')}), 400, 'bad_json'],
  ['truncated UTF-8 sequence in nickname', 'POST', 'api/nickname', () => ({token: T(), rawBody: utf8('{"nickname":"a', [0xc3, 0x28], '"}')}), 400, 'bad_json'],
  ['overlong UTF-8 encoding in room', 'POST', 'api/join', () => ({token: T(), rawBody: utf8('{"room":"a', [0xc0, 0xaf], '"}')}), 400, 'bad_json'],
  ['UTF-8 encoded surrogate in text', 'POST', 'api/messages', () => ({token: T(), rawBody: utf8('{"text":"a', [0xed, 0xa0, 0x80], '","client_id":"u2"}')}), 400, 'bad_json'],
  ['UTF-8 sequence cut at the end of text', 'POST', 'api/messages', () => ({token: T(), rawBody: utf8('{"text":"a', [0xe2, 0x82], '","client_id":"u3"}')}), 400, 'bad_json'],
  ['code point above U+10FFFF in text', 'POST', 'api/messages', () => ({token: T(), rawBody: utf8('{"text":"a', [0xf4, 0x90, 0x80, 0x80], '","client_id":"u4"}')}), 400, 'bad_json'],
  ['lone surrogate escape \\ud800 in text', 'POST', 'api/messages', () => ({token: T(), rawBody: '{"text":"a\\ud800b","client_id":"u5"}'}), 400, 'bad_json'],
  ['NUL (\\u0000) in text', 'POST', 'api/messages', () => ({token: T(), body: msg('a\u0000b')}), 400, 'bad_field', 'text'],
  ['NUL (\\u0000) in room name', 'POST', 'api/join', () => ({token: T(), body: {room: 'bad\u0000x'}}), 400, 'bad_field', 'room'],
  ['U+0001 in text', 'POST', 'api/messages', () => ({token: T(), body: msg('a\u0001b')}), 400, 'bad_field', 'text'],
  ['ESC in text', 'POST', 'api/messages', () => ({token: T(), body: msg('\u001b[31mred')}), 400, 'bad_field', 'text'],
  ['carriage return in text', 'POST', 'api/messages', () => ({token: T(), body: msg('a\r\nb')}), 400, 'bad_field', 'text'],
  ['DEL (U+007F) in text', 'POST', 'api/messages', () => ({token: T(), body: msg('a\u007fb')}), 400, 'bad_field', 'text'],
  ['C1 control (U+0085) in text', 'POST', 'api/messages', () => ({token: T(), body: msg('a\u0085b')}), 400, 'bad_field', 'text'],
  ['newline in nickname', 'POST', 'api/nickname', () => ({token: T(), body: {nickname: 'a\nb'}}), 400, 'bad_field', 'nickname'],
  ['tab in nickname', 'POST', 'api/nickname', () => ({token: T(), body: {nickname: 'a\tb'}}), 400, 'bad_field', 'nickname'],
  ['bell in new session nickname', 'POST', 'api/session', () => ({body: {nickname: 'a\u0007'}}), 400, 'bad_field', 'nickname'],
  ['newline in room name', 'POST', 'api/join', () => ({token: T(), body: {room: 'a\nb'}}), 400, 'bad_field', 'room'],

  // cursor
  ['poll with cursor=abc', 'GET', 'api/poll?cursor=abc', () => ({token: T()}), 400, 'bad_cursor'],
  ['poll with cursor=-1', 'GET', 'api/poll?cursor=-1', () => ({token: T()}), 400, 'bad_cursor'],

  // routes and methods
  ['unknown API route', 'GET', 'api/nope', () => ({token: T()}), 404, 'not_found'],
  ['unknown API sub-route', 'POST', 'api/messages/1', () => ({token: T(), body: msg('x')}), 404, 'not_found'],
  ['unknown API route without a token', 'GET', 'api/nope', () => ({}), 404, 'not_found'],
  ['GET on messages', 'GET', 'api/messages', () => ({token: T()}), 405, 'method_not_allowed', undefined, allow('POST')],
  ['DELETE on rooms', 'DELETE', 'api/rooms', () => ({token: T()}), 405, 'method_not_allowed', undefined, allow('GET')],
  ['POST on poll', 'POST', 'api/poll?cursor=0', () => ({token: T(), body: {}}), 405, 'method_not_allowed', undefined, allow('GET')],
  ['GET on join', 'GET', 'api/join', () => ({token: T()}), 405, 'method_not_allowed', undefined, allow('POST')],
  ['GET on leave', 'GET', 'api/leave', () => ({token: T()}), 405, 'method_not_allowed', undefined, allow('POST')],
  ['GET on nickname', 'GET', 'api/nickname', () => ({token: T()}), 405, 'method_not_allowed', undefined, allow('POST')],
  ['POST on room', 'POST', 'api/room', () => ({token: T(), body: {}}), 405, 'method_not_allowed', undefined, allow('GET')],
  ['PUT on session', 'PUT', 'api/session', () => ({token: T(), body: {}}), 405, 'method_not_allowed', undefined, allow('GET', 'POST')],

  // authentication
  ...[['GET', 'api/rooms'], ['GET', 'api/room'], ['GET', 'api/session'], ['GET', 'api/poll?cursor=0'], ['POST', 'api/join'], ['POST', 'api/messages'], ['POST', 'api/nickname'], ['POST', 'api/leave']].map(
    ([m, p]) => [`missing token: ${m} ${p}`, m, p, () => (m === 'POST' ? {body: p === 'api/join' ? {room: 'bad'} : p === 'api/nickname' ? {nickname: 'Mallory'} : p === 'api/messages' ? msg('no token') : {}} : {}), 401, 'unauthorized'],
  ),
  ['unknown token', 'GET', 'api/rooms', () => ({token: '0123456789abcdef0123456789abcdef'}), 401, 'unauthorized'],
  ['malformed token', 'GET', 'api/rooms', () => ({token: 'xyz'}), 401, 'unauthorized'],
  ['token with one character more', 'GET', 'api/session', () => ({token: T() + '0'}), 401, 'unauthorized'],
  ['token in upper case (tokens are lowercase hex)', 'GET', 'api/session', () => ({token: T().toUpperCase()}), 401, 'unauthorized'],
  ['token with the Basic scheme', 'GET', 'api/session', () => ({headers: {Authorization: `Basic ${T()}`}}), 401, 'unauthorized'],
  ['token in the query string', 'GET', () => `api/session?token=${T()}`, () => ({}), 401, 'unauthorized'],
  ['unknown token posting', 'POST', 'api/messages', () => ({token: 'f'.repeat(32), body: msg('as nobody')}), 401, 'unauthorized'],
  ['unknown token in a beacon leave', 'POST', 'api/leave', () => ({body: {token: 'e'.repeat(32)}}), 401, 'unauthorized'],
];

function allow(...methods) {
  return (r) => {
    const h = r.headers.get('allow');
    assert.ok(h, 'Allow header present');
    const listed = h.split(',').map((s) => s.trim().toUpperCase());
    for (const m of methods) assert.ok(listed.includes(m), `Allow "${h}" lists ${m}`);
  };
}

// Sends the request; a 429 (rate limit, a separate concern) is waited out and retried.
async function send(method, path, opts, expectStatus) {
  for (let i = 0; ; i++) {
    const r = await api(stack, method, path, opts);
    if (r.status !== 429 || expectStatus === 429 || i > 20) return r;
    await sleep(Math.max(200, 1000 * Number(r.headers.get('retry-after') || 0)));
  }
}

for (const [name, method, path, opts, status, error, field, extra] of cases) {
  test(`${name} → ${status} ${[error].flat().join('|')}`, {timeout: 30_000}, async () => {
    const before = await snapshot();
    const url = typeof path === 'function' ? path() : path;
    const r = await send(method, url, opts(), status);
    assert.equal(r.status, status, `${method} ${url}: ${r.status} ${r.text.slice(0, 300)}`);
    assert.ok(r.json && typeof r.json === 'object', `JSON body: ${r.text.slice(0, 300)}`);
    assert.ok([error].flat().includes(r.json.error), `error ${JSON.stringify(r.json)}`);
    assert.equal(typeof r.json.message, 'string', 'a human message');
    if (field && r.json.error === 'bad_field') assert.equal(r.json.field, field);
    assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
    assert.match(r.headers.get('cache-control') ?? '', /no-store/);
    if (extra) extra(r);
    assert.deepEqual(await snapshot(), before, 'nothing changed');
  });
}

test('valid edge lengths are accepted: 32 multibyte nickname, 64-char room, 2000-char message', {timeout: 30_000}, async () => {
  const s = await newSession(stack, 'Edge');
  const nick = 'ü'.repeat(16) + '😀'.repeat(16); // 32 code points, 80 bytes
  const r1 = await api(stack, 'POST', 'api/nickname', {token: s.token, body: {nickname: nick}});
  assert.equal(r1.status, 200, r1.text);
  assert.deepEqual(r1.json, {nickname: nick});
  const s2 = await newSession(stack, '日'.repeat(32));
  assert.equal(s2.nickname, '日'.repeat(32));
  const trimmed = await newSession(stack, '  Tim  ');
  assert.equal(trimmed.nickname, 'Tim');
  const anon = await newSession(stack);
  assert.equal(anon.nickname, 'Anonymous');
  const room = 'R'.repeat(63) + 'é';
  const j = await join(stack, s.token, room);
  assert.equal(j.room, room);
  const m = await api(stack, 'POST', 'api/messages', {token: s.token, body: msg('x'.repeat(2000))});
  assert.equal(m.status, 201, m.text.slice(0, 300));
  const tabs = await api(stack, 'POST', 'api/messages', {token: s.token, body: msg('a\tb\nc')});
  assert.equal(tabs.status, 201, tabs.text);
  const me = await api(stack, 'GET', 'api/session', {token: s.token});
  assert.deepEqual(me.json, {session: s.session, nickname: nick, room});
});

test('rate limit: a burst of 60 posts gets 429 rate_limited with Retry-After after ~30; refused posts are not stored', {timeout: 60_000}, async () => {
  const s = await newSession(stack, 'Rita');
  await join(stack, s.token, 'rate');
  const t0 = performance.now();
  const results = await Promise.all(Array.from({length: 60}, (_, i) => api(stack, 'POST', 'api/messages', {token: s.token, body: {text: `burst ${i}`, client_id: `burst-${i}`}})));
  const elapsed = (performance.now() - t0) / 1000;
  const ok = results.filter((r) => r.status === 201);
  const limited = results.filter((r) => r.status === 429);
  assert.equal(ok.length + limited.length, 60, `only 201 and 429: ${results.map((r) => r.status).join(' ')}`);
  assert.ok(limited.length > 0, 'some posts are refused');
  // 30 tokens of burst (creating the session and joining may have used two), plus 10/s of refill.
  assert.ok(ok.length >= 28 && ok.length <= 31 + Math.ceil(10 * elapsed), `${ok.length} accepted in ${elapsed.toFixed(2)} s`);
  for (const r of limited) {
    assert.equal(r.json?.error, 'rate_limited');
    assert.match(r.headers.get('retry-after') ?? '', /^\d+$/);
    assert.match(r.headers.get('cache-control') ?? '', /no-store/);
  }
  const state = await api(stack, 'GET', 'api/room', {token: s.token});
  const stored = state.json.history.map((m) => m.text);
  const accepted = new Set(results.map((r, i) => (r.status === 201 ? `burst ${i}` : null)).filter(Boolean));
  assert.equal(stored.length, Math.min(50, accepted.size));
  for (const t of stored) assert.ok(accepted.has(t), `${t} was stored but refused`);

  // Reads are not write calls: not limited.
  const reads = await Promise.all(Array.from({length: 40}, () => api(stack, 'GET', 'api/rooms', {token: s.token})));
  assert.deepEqual([...new Set(reads.map((r) => r.status))], [200]);

  // The allowance refills at 10/s.
  await sleep(1500);
  const later = await api(stack, 'POST', 'api/messages', {token: s.token, body: msg('after the pause')});
  assert.equal(later.status, 201, later.text);
});

test('SQL-looking names and texts are stored literally', {timeout: 30_000}, async () => {
  const s = await newSession(stack, "Robert'); DROP TABLE sessions;--");
  assert.equal(s.nickname, "Robert'); DROP TABLE sessions;--");
  const names = ["'; DROP TABLE rooms;--", 'a%', 'a_', '" OR 1=1 --', '../../etc/passwd', 'x?y#z&w=1'];
  for (const name of names) {
    const j = await join(stack, s.token, name);
    assert.equal(j.room, name);
    const text = `in ${name}: ' OR '1'='1`;
    await say(stack, s.token, text);
    const state = await api(stack, 'GET', 'api/room', {token: s.token});
    assert.equal(state.json.room, name);
    assert.deepEqual(state.json.history.map((m) => m.text), [text]);
    assert.equal(state.json.history[0].nickname, "Robert'); DROP TABLE sessions;--");
  }
  // The last one stays open; the others were left when switching.
  const rooms = (await api(stack, 'GET', 'api/rooms', {token: s.token})).json.rooms;
  assert.ok(rooms.some((r) => r.name === names.at(-1) && r.count === 1));
  assert.ok(!rooms.some((r) => r.name === 'a%' || r.name === 'a_'));
  assert.ok(rooms.some((r) => r.name === 'bad'), 'other rooms still there');
  await join(stack, s.token, "'; DROP TABLE rooms;--");
  const again = (await api(stack, 'GET', 'api/rooms', {token: s.token})).json.rooms;
  assert.equal(again.find((r) => r.name === "'; DROP TABLE rooms;--")?.count, 1);
  assert.ok(!again.some((r) => r.name === 'a%'), 'no LIKE-style matching');
});

test('after all that: the server answers, a normal chat works, the database is sound', {timeout: 60_000}, async () => {
  const ann = await newSession(stack, 'Ann2');
  const bob = await newSession(stack, 'Bob2');
  await join(stack, ann.token, 'after');
  const bj = await join(stack, bob.token, 'after');
  const sent = await say(stack, ann.token, 'still working');
  const {events} = await pollUntil(stack, bob.token, bj.cursor, (ev) => ofType(ev, 'new_message').length > 0);
  assert.equal(ofType(events, 'new_message')[0].data.id, sent.json.id);
  // The first room still holds exactly its one message.
  const first = await api(stack, 'GET', 'api/room', {token: ctx.ann.token});
  assert.deepEqual(first.json.history.map((m) => m.text), ['the only message']);
  assert.equal(first.json.room, 'bad');

  const integrity = execFileSync('sqlite3', [stack.dbPath, 'PRAGMA integrity_check;'], {encoding: 'utf8', timeout: 10_000}).trim();
  assert.equal(integrity, 'ok');
  const mode = execFileSync('sqlite3', [stack.dbPath, 'PRAGMA journal_mode;'], {encoding: 'utf8', timeout: 10_000}).trim();
  assert.equal(mode, 'wal');
});
