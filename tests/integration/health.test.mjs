// Health and readiness for load balancers and service managers (docs/API.md): healthz says the
// process answers; readyz checks the store, the doorbell, the workers and the gateway, and says
// 503 with the failing check when one fails.
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {startStack, api, sleep} from '../lib/stack.js';

let stack;
before(async () => {
  stack = await startStack({workerArgs: ['--poll-timeout', '2']});
});
after(async () => {
  await stack?.stop();
});

test('healthz answers without a session', async () => {
  const r = await api(stack, 'GET', 'healthz');
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, {status: 'ok'});
  assert.match(r.headers.get('cache-control') ?? '', /no-store/);
  const head = await fetch(new URL('healthz', stack.baseUrl), {method: 'HEAD'});
  assert.equal(head.status, 200);
});

test('readyz: every check ok, then 503 naming the gateway while its socket is gone', {timeout: 30_000}, async () => {
  let r = await api(stack, 'GET', 'readyz');
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, {status: 'ready', checks: {store: 'ok', doorbell: 'ok', workers: 'ok', gateway: 'ok'}});
  const sock = path.join(stack.stateDir, 'noom-ws.sock');
  fs.renameSync(sock, `${sock}.away`);
  try {
    r = await api(stack, 'GET', 'readyz');
    assert.equal(r.status, 503, r.text);
    assert.equal(r.json.status, 'not_ready');
    assert.match(r.json.checks.gateway, /noom-ws\.sock: No such file/);
    assert.equal(r.json.checks.store, 'ok');
  } finally {
    fs.renameSync(`${sock}.away`, sock);
  }
  r = await api(stack, 'GET', 'readyz');
  assert.equal(r.status, 200, r.text);
});

test('readyz counts the worker processes the master lists', {timeout: 30_000}, async () => {
  const pids = fs.readFileSync(path.join(stack.stateDir, 'workers.pids'), 'utf8').trim().split('\n');
  assert.equal(pids.length, 2);
  // A worker killed is started again by the master; readyz is ready again once it is.
  process.kill(Number(pids[0]), 'SIGKILL');
  let r;
  for (let i = 0; i < 50; i++) {
    r = await api(stack, 'GET', 'readyz');
    if (r.status === 200) break;
    assert.match(r.json.checks.workers, /of 2 worker processes alive/);
    await sleep(100);
  }
  assert.equal(r.status, 200, r.text);
});

test('without a gateway readyz says so and is ready', {timeout: 30_000}, async () => {
  const plain = await startStack({env: {NOOM_WS: '0'}});
  try {
    const r = await api(plain, 'GET', 'readyz');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.checks.gateway, 'not configured');
  } finally {
    await plain.stop();
  }
});
