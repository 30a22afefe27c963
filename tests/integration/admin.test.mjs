// The admin API: off without admin_password; a login sets an HttpOnly, SameSite=Strict cookie
// (wrong passwords are refused and limited per client, a foreign Origin is refused); the rooms
// list shows every room, unlisted too, with members, transports and the call; the wait wakes on
// any event; closing a room and removing a member reach the members, and are logged.
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {execFileSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {startStack, api, newSession, join, say, pollUntil, ofType, sleep, within, CROWD_LIMITS} from '../lib/stack.js';

const PASSWORD = 'correct horse battery staple';
const worker = path.join(process.env.NOOM_BUILDDIR ?? '.', 'fcgi', 'noom-worker');
const hashLine = execFileSync(worker, ['--hash-password'], {input: `${PASSWORD}\n`}).toString().trim();

let stack;
before(async () => {
  stack = await startStack({config: CROWD_LIMITS + hashLine + '\nlimit_admin_logins = 4/0.01\n'});
});
after(async () => {
  await stack?.stop();
});

/** The admin cookie pair from a login answer ("noom_admin=…"). */
const cookieOf = (res) => res.headers.get('set-cookie')?.split(';')[0];
async function login() {
  const r = await api(stack, 'POST', 'api/admin/login', {body: {password: PASSWORD}});
  assert.equal(r.status, 200, r.text);
  return cookieOf(r);
}
const admin = (cookie, method, p, body) => api(stack, method, `api/admin/${p}`, {body, headers: {Cookie: cookie}});

test('--hash-password: a salted hash, never the password', () => {
  assert.match(hashLine, /^admin_password = pbkdf2-sha256\$\d+\$[0-9a-f]{32}\$[0-9a-f]{64}$/);
  assert.ok(!hashLine.includes(PASSWORD));
  const again = execFileSync(worker, ['--hash-password'], {input: `${PASSWORD}\n`}).toString().trim();
  assert.notEqual(again, hashLine, 'salted');
});

test('login: the cookie is HttpOnly, SameSite=Strict, scoped to the admin API; nothing opens without it', {timeout: 30_000}, async () => {
  const r = await api(stack, 'POST', 'api/admin/login', {body: {password: PASSWORD}});
  assert.equal(r.status, 200);
  const sc = r.headers.get('set-cookie');
  assert.match(sc, /^noom_admin=[0-9a-f]{32}; Path=\/api\/admin\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/);
  assert.ok(!/Secure/.test(sc), 'not Secure over plain HTTP');
  const cookie = cookieOf(r);
  assert.equal((await admin(cookie, 'GET', 'rooms')).status, 200);
  for (const [m, p] of [['GET', 'rooms'], ['GET', 'wait?cursor=0'], ['POST', 'close'], ['POST', 'remove']]) {
    const none = await api(stack, m, `api/admin/${p}`, {body: m === 'POST' ? {} : undefined});
    assert.equal(none.status, 401, `${m} ${p}: ${none.text}`);
    assert.equal(none.json.error, 'unauthorized');
  }
  // A user's token is no admin session.
  const user = await newSession(stack, 'User');
  assert.equal((await api(stack, 'GET', 'api/admin/rooms', {token: user.token, headers: {Cookie: `noom_admin=${user.token}`}})).status, 401);
  // A foreign page cannot log in or act, even with the cookie.
  const foreign = await api(stack, 'POST', 'api/admin/login', {body: {password: PASSWORD}, headers: {Origin: 'https://evil.example'}});
  assert.equal(foreign.status, 403);
  assert.equal(foreign.json.error, 'cross_origin');
  const foreignAct = await api(stack, 'POST', 'api/admin/close', {body: {room: 1}, headers: {Cookie: cookie, Origin: 'https://evil.example'}});
  assert.equal(foreignAct.status, 403);
  // Logout ends it.
  const out = await admin(cookie, 'POST', 'logout', {});
  assert.equal(out.status, 200);
  assert.match(out.headers.get('set-cookie'), /Max-Age=0/);
  assert.equal((await admin(cookie, 'GET', 'rooms')).status, 401);
  const db = fs.readFileSync(stack.dbPath);
  assert.ok(!db.includes(cookie.split('=')[1]), 'the admin token is stored hashed');
});

test('wrong passwords are refused, then limited per client', {timeout: 30_000}, async () => {
  let limited;
  for (let i = 0; i < 6 && !limited; i++) {
    const r = await api(stack, 'POST', 'api/admin/login', {body: {password: `guess ${i}`}});
    if (r.status === 429) limited = r;
    else {
      assert.equal(r.status, 403);
      assert.equal(r.json.error, 'wrong_password');
    }
  }
  assert.ok(limited, 'rate-limited');
  assert.equal((await api(stack, 'POST', 'api/admin/login', {body: {password: PASSWORD}})).status, 429);
  assert.match(stack.logs(), /admin: wrong password from 127\.0\.0\.1/);
});

test('rooms: listed and unlisted, members with transport and call; the wait wakes on any event; close and remove', {timeout: 60_000}, async () => {
  // A fresh stack: the login bucket above is spent.
  const s2 = await startStack({config: CROWD_LIMITS + hashLine + '\nmesh_max = 2\n'});
  try {
    const r = await api(s2, 'POST', 'api/admin/login', {body: {password: PASSWORD}});
    const cookie = cookieOf(r);
    const adm = (m, p, body) => api(s2, m, `api/admin/${p}`, {body, headers: {Cookie: cookie}});
    const [ann, bob, cid, dan] = await Promise.all(['Ann', 'Bob', 'Cid', 'Dan'].map((n) => newSession(s2, n)));
    const a = await join(s2, ann.token, 'open room');
    const b = await join(s2, bob.token, 'open room');
    await join(s2, cid.token, 'open room');
    const secret = await api(s2, 'POST', 'api/join', {token: dan.token, body: {room: 'hidden', unlisted: true}});
    assert.equal(secret.status, 200);
    // Ann polls once: her transport is written with her seen time, within a second or two.
    await api(s2, 'GET', `api/poll?cursor=${a.cursor}`, {token: ann.token});
    let rooms;
    for (let i = 0; i < 50; i++) {
      rooms = (await adm('GET', 'rooms')).json;
      if (rooms.rooms.find((x) => x.name === 'open room')?.members[0].transport === 'polling') break;
      await sleep(100);
    }
    const open = rooms.rooms.find((x) => x.name === 'open room');
    const hidden = rooms.rooms.find((x) => x.name === 'hidden');
    assert.ok(open && hidden, JSON.stringify(rooms));
    assert.equal(hidden.unlisted, true);
    assert.equal(open.count, 3);
    assert.deepEqual(open.call, {mode: 'mesh', size: 2});
    assert.deepEqual(open.members.map((m) => [m.nickname, m.host, m.call]), [['Ann', true, 'mesh'], ['Bob', false, 'mesh'], ['Cid', false, 'chat-only']]);
    assert.equal(open.members[0].transport, 'polling', 'Ann polled');
    assert.ok(open.members.every((m) => Number.isInteger(m.connected_s)));
    assert.ok(!JSON.stringify(rooms).includes(secret.json.key), 'no key');

    // The wait parks, then wakes on a chat line in any room.
    const waiting = adm('GET', `wait?cursor=${rooms.cursor}`);
    assert.equal(await within(waiting, 500), null, 'parked');
    await say(s2, dan.token, 'hi');
    const woke = await within(waiting, 5000);
    assert.equal(woke.status, 200);
    assert.ok(woke.json.events.length >= 1 && woke.json.cursor > rooms.cursor);

    // Remove Bob; close the room: every member is told.
    assert.equal((await adm('POST', 'remove', {session: bob.session})).status, 200);
    const bl = await pollUntil(s2, bob.token, b.cursor, (ev) => ofType(ev, 'room_left').length > 0);
    assert.equal(ofType(bl.events, 'room_left')[0].data.reason, 'removed');
    assert.equal((await api(s2, 'POST', 'api/join', {token: bob.token, body: {room: 'open room'}})).status, 403);
    assert.equal((await adm('POST', 'close', {room: open.id})).status, 200);
    const al = await pollUntil(s2, ann.token, a.cursor, (ev) => ofType(ev, 'room_left').length > 0);
    assert.equal(ofType(al.events, 'room_left')[0].data.reason, 'closed');
    const after = (await adm('GET', 'rooms')).json.rooms.map((x) => x.name);
    assert.deepEqual(after, ['hidden']);
    assert.equal((await adm('POST', 'close', {room: open.id})).status, 404);
    assert.equal((await adm('POST', 'remove', {session: ann.session})).status, 404);
    // The last hour's figures: the master's first sample is taken as it starts.
    const stats = (await adm('GET', 'stats')).json;
    assert.equal(stats.interval_s, 60);
    assert.ok(stats.at.length >= 2, `the start's sample and now: ${JSON.stringify(stats)}`);
    assert.equal(stats.sessions.at(-1), 4, 'now: Ann, Bob, Cid, Dan');
    for (const k of ['sessions', 'rooms', 'in_call', 'waiting_polls', 'websockets', 'streams', 'requests', 'errors', 'events_written', 'delivered']) {
      assert.equal(stats[k].length, stats.at.length, k);
      assert.ok(stats[k].every(Number.isInteger), k);
    }
    assert.deepEqual(stats.totals, ['requests', 'errors', 'events_written', 'delivered']);
    assert.equal((await api(s2, 'GET', 'api/admin/stats', {})).status, 401);
    await sleep(200);
    assert.match(s2.logs(), /admin: session \d+ \(127\.0\.0\.1\) removed session \d+ from room \d+/);
    assert.match(s2.logs(), /admin: session \d+ \(127\.0\.0\.1\) closed room \d+/);
  } finally {
    await s2.stop();
  }
});

test('off without admin_password: 404 for the page and the API', {timeout: 30_000}, async () => {
  const plain = await startStack({});
  try {
    for (const [m, p] of [['GET', 'admin'], ['POST', 'api/admin/login'], ['GET', 'api/admin/rooms']]) {
      const r = await api(plain, m, p, {body: m === 'POST' ? {password: PASSWORD} : undefined});
      assert.equal(r.status, 404, `${m} ${p}`);
    }
    // On with the password (reload.test.mjs puts one in force with SIGHUP).
    const page = await api(stack, 'GET', 'admin', {});
    assert.equal(page.status, 200);
    assert.match(page.text, /data-testid="admin-login"/);
  } finally {
    await plain.stop();
  }
});
