// Health and readiness for load balancers and service managers (docs/API.md): healthz says the
// process answers; readyz checks the store, the doorbell, the workers and the gateway, and says
// 503 with the failing check when one fails: a read-only database, a stopped worker, a gateway
// gone.
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {execFileSync} from 'node:child_process';
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

test('readyz: 503 naming the workers while one is stopped (SIGSTOP), ready once it runs again', {timeout: 60_000}, async () => {
  const [pid] = stack.workerPids();
  // A stopped worker is alive to kill(2) but answers nobody: its heartbeat goes stale. A
  // request nginx sends on a connection that worker holds waits, so each is given 2 s.
  const readyz = () => api(stack, 'GET', 'readyz', {timeoutMs: 2000}).catch(() => null);
  let r;
  process.kill(pid, 'SIGSTOP');
  try {
    for (let i = 0; i < 40; i++) {
      r = await readyz();
      if (r?.status === 503) break;
      await sleep(250);
    }
    assert.equal(r?.status, 503, r?.text);
    assert.equal(r.json.status, 'not_ready');
    assert.match(r.json.checks.workers, /^worker [01] silent for \d+ ms$/);
    assert.equal(r.json.checks.store, 'ok');
  } finally {
    process.kill(pid, 'SIGCONT');
  }
  for (let i = 0; i < 40; i++) {
    r = await readyz();
    if (r?.status === 200) break;
    await sleep(250);
  }
  assert.equal(r?.status, 200, r?.text);
  assert.equal(r.json.checks.workers, 'ok');
});

test('readyz counts the worker processes the master lists: ready again once a killed one is restarted', {timeout: 30_000}, async () => {
  const pids = stack.workerPids();
  assert.equal(pids.length, 2);
  process.kill(pids[0], 'SIGKILL');
  let r;
  for (let i = 0; i < 50; i++) {
    r = await api(stack, 'GET', 'readyz');
    if (r.status === 200 && !stack.workerPids().includes(pids[0])) break;
    // While it is down (the master restarts it within milliseconds): named.
    if (r.status !== 200) assert.match(r.json.checks.workers, /of 2 worker processes alive|silent/);
    await sleep(100);
  }
  assert.equal(r.status, 200, r.text);
  assert.ok(!stack.workerPids().includes(pids[0]), 'a new worker in its place');
});

test('readyz: 503 naming the store while the database is read-only, ready again once writable', {timeout: 90_000}, async (t) => {
  // The workers' connections were opened while the files were writable and keep writing
  // through them: readyz must look at the files. root writes read-only files anyway, so the
  // stack then runs without CAP_DAC_OVERRIDE (as in secrets.test.mjs).
  let command = [];
  if (process.getuid?.() === 0) {
    command = ['setpriv', '--bounding-set=-dac_override', '--inh-caps=-dac_override'];
    try {
      execFileSync(command[0], [...command.slice(1), 'true']);
    } catch {
      t.skip('root, and setpriv cannot drop CAP_DAC_OVERRIDE');
      return;
    }
  }
  const ro = await startStack({command, workerArgs: ['--poll-timeout', '2']});
  const files = [ro.dbPath, `${ro.dbPath}-wal`].filter((f) => fs.existsSync(f));
  try {
    let r = await api(ro, 'GET', 'readyz');
    assert.equal(r.status, 200, r.text);
    for (const f of files) fs.chmodSync(f, 0o444);
    r = await api(ro, 'GET', 'readyz');
    assert.equal(r.status, 503, r.text);
    assert.equal(r.json.status, 'not_ready');
    assert.match(r.json.checks.store, /^cannot write noom\.db: Permission denied$/, 'the file by its name, not its path');
    assert.equal(r.json.checks.workers, 'ok');
    for (const f of files) fs.chmodSync(f, 0o600);
    r = await api(ro, 'GET', 'readyz');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.checks.store, 'ok');
  } finally {
    for (const f of files) if (fs.existsSync(f)) fs.chmodSync(f, 0o600);
    await ro.stop();
  }
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
