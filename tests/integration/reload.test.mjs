// Reload and graceful stop: SIGHUP re-reads the configuration in every worker (TURN servers,
// limits and the admin password included) and in the gateway without answering or dropping
// waiting polls (a wrong file changes nothing); SIGTERM to a worker or to the master answers each
// waiting poll at once with its cursor (not a 502), so clients poll again and miss nothing. In
// both cases every event reaches every client exactly once.
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {execFileSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {performance} from 'node:perf_hooks';
import {startStack, api, newSession, join, say, poll, pollUntil, ofType, sleep, within} from '../lib/stack.js';

const CONFIG = (ttl) => `turn = turn:127.0.0.1:3478\nturn_secret = reload-test-secret\nturn_ttl = ${ttl}\n`;
let stack;
before(async () => {
  stack = await startStack({workers: 2, workerArgs: ['--poll-timeout', '20'], config: CONFIG(600)});
});
after(async () => {
  await stack?.stop();
});

/** The TURN ttl as many requests see it (they spread over both workers). */
async function ttls(token, n = 12) {
  const seen = new Set();
  for (let i = 0; i < n; i++) seen.add((await api(stack, 'GET', 'api/call', {token})).json.ttl);
  return [...seen];
}

/** The gateway's PID (noom-run writes it). */
const wsPid = () => Number(fs.readFileSync(`${stack.stateDir}/ws.pid`, 'utf8'));

/** Starts a long poll and reports whether it has answered yet. */
function parked(token, cursor) {
  const p = {settled: false};
  p.answer = poll(stack, token, cursor, {timeoutMs: 30_000}).then((r) => {
    p.settled = true;
    return r;
  }, (e) => {
    p.settled = true;
    throw e;
  });
  return p;
}

test('SIGHUP: the new configuration in every worker, waiting polls still waiting; a bad file changes nothing', {timeout: 60_000}, async () => {
  const host = await newSession(stack, 'Host');
  await join(stack, host.token, 'reload');
  assert.deepEqual(await ttls(host.token), [600]);

  // Six waiting polls of six sessions (a session keeps at most two): both workers hold some.
  const guests = [];
  for (let i = 0; i < 6; i++) {
    guests.push(await newSession(stack, `Guest ${i}`));
    await join(stack, guests[i].token, 'reload');
  }
  // Everyone's cursor after every join: nothing is waiting for them yet.
  const waiting = [];
  for (const guest of guests) {
    const state = (await api(stack, 'GET', 'api/room', {token: guest.token})).json;
    waiting.push(parked(guest.token, state.cursor));
  }
  await sleep(300);
  fs.writeFileSync(stack.configPath, CONFIG(120));
  process.kill(stack.masterPid(), 'SIGHUP');
  const t0 = performance.now();
  let seen;
  while ((seen = await ttls(host.token)).join() !== '120' && performance.now() - t0 < 5000) await sleep(100);
  assert.deepEqual(seen, [120], 'every worker reads the new file');
  // The gateway reads the same file again for its log level (systemctl reload noom-ws).
  process.kill(wsPid(), 'SIGHUP');
  for (let i = 0; i < 50 && !/noom-ws\[\d+\]: info: .*configuration reloaded/.test(stack.logs()); i++) await sleep(100);
  assert.match(stack.logs(), /noom-ws\[\d+\]: info: .*configuration reloaded/);
  console.log(`reload: new configuration in force ${(performance.now() - t0).toFixed(0)} ms after SIGHUP`);
  assert.equal(waiting.filter((p) => p.settled).length, 0, 'no waiting poll was answered by the reload');

  // A wrong file: logged, the running configuration stays.
  fs.writeFileSync(stack.configPath, CONFIG(120) + 'no_such_key = 1\n');
  process.kill(stack.masterPid(), 'SIGHUP');
  await sleep(1000);
  assert.deepEqual(await ttls(host.token), [120]);
  assert.match(stack.logs(), /reload: .*unknown key.*running configuration stays/);
  process.kill(wsPid(), 'SIGHUP');
  for (let i = 0; i < 50 && !/noom-ws\[\d+\]: warn: .*unknown key/.test(stack.logs()); i++) await sleep(100);
  assert.match(stack.logs(), /noom-ws\[\d+\]: warn: .*unknown key.*running configuration stays/);
  assert.equal(waiting.filter((p) => p.settled).length, 0);

  // The next event reaches every waiting poll, once.
  await say(stack, host.token, 'after the reload');
  for (const p of waiting) {
    const r = await within(p.answer, 5000);
    assert.ok(r, 'answered');
    assert.deepEqual(ofType(r.json.events, 'new_message').map((e) => e.data.text), ['after the reload']);
  }
  fs.writeFileSync(stack.configPath, CONFIG(600));
  process.kill(stack.masterPid(), 'SIGHUP');
});

test('SIGTERM to the workers: waiting polls answered at once with their cursor; nothing lost or repeated', {timeout: 60_000}, async () => {
  const host = await newSession(stack, 'Host');
  const guests = await Promise.all([1, 2, 3, 4].map((i) => newSession(stack, `Guest ${i}`)));
  await join(stack, host.token, 'restart');
  const cursors = [];
  for (const g of guests) cursors.push((await join(stack, g.token, 'restart')).cursor);
  await say(stack, host.token, 'before');
  const waiting = guests.map((g, i) => parked(g.token, cursors[i]));
  // Each first answer carries 'before'; poll again from there and wait.
  const next = [];
  for (const [i, p] of waiting.entries()) {
    const r = await within(p.answer, 5000);
    cursors[i] = r.json.cursor;
    next.push(parked(guests[i].token, cursors[i]));
  }
  await sleep(300);

  const pids = stack.workerPids();
  const t0 = performance.now();
  for (const pid of pids) process.kill(pid, 'SIGTERM');
  for (const [i, p] of next.entries()) {
    const r = await within(p.answer, 3000);
    assert.ok(r, 'answered, not left hanging');
    assert.equal(r.status, 200, 'an answer, not a 502');
    assert.deepEqual(r.json.events, []);
    assert.equal(r.json.cursor, cursors[i], 'its own cursor: poll again from there');
  }
  console.log(`graceful stop: ${next.length} waiting polls answered within ${(performance.now() - t0).toFixed(0)} ms of SIGTERM`);
  // The workers log 'stopped' once they have answered: the line may reach us after the answers.
  for (let i = 0; i < 60 && !/stopped/.test(stack.logs()); i++) await sleep(50);
  assert.match(stack.logs(), /stopped/);

  // The master starts new workers; whatever is said meanwhile arrives once, in order.
  let sent = 0;
  const t1 = performance.now();
  while (performance.now() - t1 < 10_000) {
    const r = await api(stack, 'POST', 'api/messages', {token: host.token, body: {text: `after ${sent}`, client_id: `r-${process.pid}-${sent}`}});
    if (r.status === 201) sent++;
    if (sent === 3) break;
    await sleep(100);
  }
  assert.equal(sent, 3);
  for (const [i, g] of guests.entries()) {
    const r = await pollUntil(stack, g.token, cursors[i], (ev) => ofType(ev, 'new_message').length >= 3);
    assert.deepEqual(ofType(r.events, 'new_message').map((e) => e.data.text), ['after 0', 'after 1', 'after 2']);
  }
  assert.notDeepEqual(stack.workerPids(), pids, 'new workers');
});

test('SIGHUP puts in force new TURN servers, a tighter limit and an admin password', {timeout: 60_000}, async () => {
  const worker = path.join(process.env.NOOM_BUILDDIR ?? '.', 'fcgi', 'noom-worker');
  const password = 'reload the admin password';
  const hashLine = execFileSync(worker, ['--hash-password'], {input: `${password}\n`}).toString().trim();
  const urls = async (token) => (await api(stack, 'GET', 'api/call', {token})).json.iceServers.flatMap((s) => [s.urls].flat());
  /** What each of n requests (they spread over both workers) answers for GET admin. */
  const adminPage = async (n = 12) => {
    const seen = new Set();
    for (let i = 0; i < n; i++) seen.add((await api(stack, 'GET', 'admin')).status);
    return [...seen];
  };
  const host = await newSession(stack, 'Host');
  await join(stack, host.token, 'reload-limits');
  assert.ok(!(await urls(host.token)).includes('turn:127.0.0.2:3479'));
  assert.deepEqual(await adminPage(), [404], 'no admin page without admin_password');
  // Under the built-in limit_rooms (a burst of 20), a new room opens.
  const mover = await newSession(stack, 'Mover');
  assert.equal((await api(stack, 'POST', 'api/join', {token: mover.token, body: {room: 'before-reload'}})).status, 200);

  fs.writeFileSync(stack.configPath, CONFIG(600).replace('turn:127.0.0.1:3478', 'turn:127.0.0.2:3479') +
    'limit_rooms = 1/0.001\n' + hashLine + '\n');
  process.kill(stack.masterPid(), 'SIGHUP');
  const t0 = performance.now();
  let seen;
  while ((seen = await adminPage()).join() !== '200' && performance.now() - t0 < 5000) await sleep(100);
  assert.deepEqual(seen, [200], 'every worker serves the admin page');

  // The new TURN server in the call configuration, the old one gone.
  const now = await urls(host.token);
  assert.ok(now.includes('turn:127.0.0.2:3479'), JSON.stringify(now));
  assert.ok(!now.includes('turn:127.0.0.1:3478'), JSON.stringify(now));
  // The admin password opens the admin API.
  const login = await api(stack, 'POST', 'api/admin/login', {body: {password}});
  assert.equal(login.status, 200, login.text);
  const cookie = login.headers.get('set-cookie').split(';')[0];
  assert.equal((await api(stack, 'GET', 'api/admin/rooms', {headers: {Cookie: cookie}})).status, 200);
  // A burst of one room: of two new rooms, the second at least is refused.
  const a = await api(stack, 'POST', 'api/join', {token: mover.token, body: {room: 'after-reload-a'}});
  const b = await api(stack, 'POST', 'api/join', {token: mover.token, body: {room: 'after-reload-b'}});
  assert.equal(b.status, 429, b.text);
  assert.equal(b.json.error, 'rate_limited');
  assert.ok(Number(b.headers.get('retry-after')) >= 1);
  assert.ok([200, 429].includes(a.status), a.text);

  fs.writeFileSync(stack.configPath, CONFIG(600));
  process.kill(stack.masterPid(), 'SIGHUP');
  while ((seen = await adminPage()).join() !== '404' && performance.now() - t0 < 10_000) await sleep(100);
  assert.deepEqual(seen, [404], 'and off again once the password is gone');
});

// Last: it ends the stack. SIGTERM to the master stops its workers gracefully (main.c stop_all):
// each waiting poll is answered 200 with its own cursor before the master and nginx go.
test('SIGTERM to the master: waiting polls answered 200 with their cursor', {timeout: 60_000}, async () => {
  const guests = await Promise.all([1, 2, 3, 4].map((i) => newSession(stack, `Leaver ${i}`)));
  const cursors = [];
  for (const g of guests) cursors.push((await join(stack, g.token, 'master-stop')).cursor);
  // Everyone's cursor after every join, so that each poll waits.
  for (const [i, g] of guests.entries()) cursors[i] = (await api(stack, 'GET', 'api/room', {token: g.token})).json.cursor;
  const waiting = guests.map((g, i) => parked(g.token, cursors[i]));
  await sleep(300);
  assert.equal(waiting.filter((p) => p.settled).length, 0, 'the polls wait');
  process.kill(stack.masterPid(), 'SIGTERM');
  for (const [i, p] of waiting.entries()) {
    const r = await within(p.answer, 5000);
    assert.ok(r, 'answered, not left hanging');
    assert.equal(r.status, 200, 'an answer, not a 502');
    assert.deepEqual(r.json.events, []);
    assert.equal(r.json.cursor, cursors[i], 'its own cursor: poll again from there');
  }
});
