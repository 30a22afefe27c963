// Nicknames cannot impersonate: no text-direction controls, something visible, and no two members
// of a room that read the same (case and Unicode normalisation aside). A joiner whose name is
// taken in the room gets "Name (2)", shown to everyone; renaming to a taken name is refused.
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {startStack, api, newSession, join, pollUntil, ofType} from '../lib/stack.js';

let stack;
before(async () => {
  stack = await startStack({workerArgs: ['--poll-timeout', '2']});
});
after(async () => {
  await stack?.stop();
});

test('names that show nothing or turn the text around are refused', {timeout: 30_000}, async () => {
  for (const nickname of ['\u202eAdmin', 'a\u2066b', '\u200b', ' \u00a0\u3000', '\u3164', '\ufeff']) {
    const r = await api(stack, 'POST', 'api/session', {body: {nickname}});
    assert.equal(r.status, 400, `${JSON.stringify(nickname)}: ${r.text}`);
    assert.equal(r.json.error, 'bad_field');
    assert.equal(r.json.field, 'nickname');
  }
  const ok = await newSession(stack, 'Zoë \u2665');
  const r = await api(stack, 'POST', 'api/nickname', {token: ok.token, body: {nickname: '\u202dAdmin'}});
  assert.equal(r.status, 400);
  const room = await api(stack, 'POST', 'api/join', {token: ok.token, body: {room: '\u202estandup'}});
  assert.equal(room.status, 400, 'room names too');
  assert.equal(room.json.field, 'room');
});

test('a joiner whose name another member holds gets the next free suffix, seen by all', {timeout: 30_000}, async () => {
  const ann = await newSession(stack, 'Ann');
  const aj = await join(stack, ann.token, 'names');
  assert.equal(aj.nickname, 'Ann');
  const other = await newSession(stack, 'ANN');
  const oj = await join(stack, other.token, 'names');
  assert.equal(oj.nickname, 'ANN (2)');
  assert.deepEqual(oj.members.map((m) => m.nickname), ['Ann', 'ANN (2)']);
  // Composed and decomposed forms read the same: "Élodie" twice.
  const e1 = await newSession(stack, '\u00c9lodie');
  await join(stack, e1.token, 'names');
  const e2 = await newSession(stack, 'E\u0301lodie');
  const e2j = await join(stack, e2.token, 'names');
  assert.equal(e2j.nickname, 'E\u0301lodie (2)');
  const third = await newSession(stack, 'ann');
  assert.equal((await join(stack, third.token, 'names')).nickname, 'ann (3)');
  // Everyone sees the names the room gave.
  const r = await pollUntil(stack, ann.token, aj.cursor, (ev) => ofType(ev, 'welcome').length >= 4);
  assert.deepEqual(ofType(r.events, 'welcome').map((e) => e.data.nickname),
    ['ANN (2)', '\u00c9lodie', 'E\u0301lodie (2)', 'ann (3)']);
  const me = await api(stack, 'GET', 'api/session', {token: other.token});
  assert.equal(me.json.nickname, 'ANN (2)');
  // The same name in another room is nobody's business.
  const elsewhere = await newSession(stack, 'Ann');
  assert.equal((await join(stack, elsewhere.token, 'names-elsewhere')).nickname, 'Ann');
});

test('renaming oneself to a name another member holds is refused, naming the clash', {timeout: 30_000}, async () => {
  const bob = await newSession(stack, 'Bob');
  const cat = await newSession(stack, 'Cat');
  await join(stack, bob.token, 'rename-clash');
  await join(stack, cat.token, 'rename-clash');
  const r = await api(stack, 'POST', 'api/nickname', {token: cat.token, body: {nickname: 'BOB'}});
  assert.equal(r.status, 409, r.text);
  assert.equal(r.json.error, 'nickname_taken');
  assert.match(r.json.message, /BOB/);
  assert.equal((await api(stack, 'GET', 'api/session', {token: cat.token})).json.nickname, 'Cat');
  // Renaming to one's own name in another case is no clash.
  const self = await api(stack, 'POST', 'api/nickname', {token: bob.token, body: {nickname: 'BOB'}});
  assert.equal(self.status, 200, self.text);
});
