// Logs an operator can use: --log-format json gives one JSON object a line; a request line names
// method, route, status, latency and the page's transport, never the token, the query's values
// nor a room's name from the path; log_level in --config is read again on SIGHUP.
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import {startStack, api, newSession, join, say, poll, sleep} from '../lib/stack.js';

let stack;
before(async () => {
  stack = await startStack({workers: 1, workerArgs: ['--log-format', 'json', '--poll-timeout', '1'], config: 'log_level = info\n'});
});
after(async () => {
  await stack?.stop();
});

/** The JSON lines noom-worker wrote so far (other programs' lines are skipped). */
function lines() {
  return stack.logs().split('\n').filter((l) => l.startsWith('{') && l.includes('"ident":"noom-worker"')).map((l) => JSON.parse(l));
}

test('json lines: request lines name the route and transport, and carry no secret', {timeout: 30_000}, async () => {
  const secretRoom = `plans-${process.pid}`;
  const ann = await newSession(stack, 'Ann');
  const j = await join(stack, ann.token, secretRoom);
  await say(stack, ann.token, 'hello');
  await api(stack, 'GET', `room/${encodeURIComponent(secretRoom)}`, {});
  await api(stack, 'GET', 'api/rooms?q=plans', {token: ann.token, headers: {'X-Noom-Transport': 'websocket'}});
  await poll(stack, ann.token, j.cursor);
  await sleep(300);
  const all = lines();
  assert.ok(all.length > 0, 'JSON lines');
  for (const l of all) {
    assert.match(l.ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.ok(['debug', 'info', 'warn', 'fatal'].includes(l.level));
    assert.equal(typeof l.pid, 'number');
  }
  const requests = all.filter((l) => l.func === 'request');
  const routes = requests.map((l) => `${l.method} ${l.route} ${l.status}`);
  for (const want of ['POST /api/session 201', 'POST /api/join 200', 'POST /api/messages 201', 'GET /room/* 200', 'GET /api/rooms 200', 'GET /api/poll 200']) {
    assert.ok(routes.includes(want), `${want} in ${JSON.stringify(routes)}`);
  }
  for (const l of requests) assert.ok(Number.isInteger(l.ms) && l.ms >= 0);
  assert.equal(requests.find((l) => l.route === '/api/rooms' && l.status === 200).transport, 'websocket');
  assert.equal(requests.find((l) => l.route === '/api/poll').transport, 'polling');
  assert.equal(requests.find((l) => l.route === '/api/join').transport, '-');
  const text = JSON.stringify(all);
  assert.ok(!text.includes(ann.token), 'no token');
  assert.ok(!text.includes(secretRoom), 'no room name from a path');
  assert.ok(!text.includes('plans'), 'no query value');
});

test('log_level = warn on SIGHUP silences request lines; info brings them back', {timeout: 30_000}, async () => {
  const ann = await newSession(stack, 'Ann');
  fs.writeFileSync(stack.configPath, 'log_level = warn\n');
  process.kill(stack.masterPid(), 'SIGHUP');
  await sleep(500);
  const before = lines().length;
  for (let i = 0; i < 5; i++) await api(stack, 'GET', 'api/session', {token: ann.token});
  await sleep(300);
  assert.equal(lines().filter((l) => l.func === 'request').length, lines().slice(0, before).filter((l) => l.func === 'request').length, 'no request line at warn');
  fs.writeFileSync(stack.configPath, 'log_level = info\n');
  process.kill(stack.masterPid(), 'SIGHUP');
  await sleep(500);
  await api(stack, 'GET', 'api/session', {token: ann.token});
  await sleep(300);
  assert.ok(lines().slice(before).some((l) => l.func === 'request' && l.route === '/api/session'), 'request lines again at info');
});
