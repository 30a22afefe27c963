// nginx's own errors are JSON: when no worker can be reached the API answers
// 502 {"error": "unavailable", ...}; and noom-run cleans up when the worker master dies.
//
// noom-run stops nginx when the worker master exits (by design, see its header), so the 502 is
// produced by making the socket unreachable instead: the socket file is renamed away (nginx's
// connect() fails) and renamed back afterwards. That needs nginx to connect for every request,
// as it does behind the operator snippet: the stack runs with NOOM_KEEPALIVE=0 (with keep-alive,
// requests would go on over connections opened before the rename).
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {startStack, api, newSession, sleep, within} from '../lib/stack.js';

let stack;
before(async () => {
  stack = await startStack({workerArgs: ['--poll-timeout', '2'], env: {NOOM_KEEPALIVE: '0'}});
});
after(async () => {
  await stack?.stop();
});

const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return !/^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
};

test('with no worker reachable, API calls get 502 with a JSON body; service resumes after', {timeout: 60_000}, async () => {
  const ann = await newSession(stack, 'Ann');
  const ok = await api(stack, 'GET', 'api/rooms', {token: ann.token});
  assert.equal(ok.status, 200);

  const sock = path.join(stack.stateDir, 'noom.sock');
  const away = `${sock}.away`;
  fs.renameSync(sock, away);
  try {
    for (const [method, p, opts] of [
      ['GET', 'api/rooms', {token: ann.token}],
      ['GET', 'api/poll?cursor=0', {token: ann.token}],
      ['POST', 'api/messages', {token: ann.token, body: {text: 'hi', client_id: 'u-1'}}],
      ['POST', 'api/session', {body: {nickname: 'Bob'}}],
    ]) {
      const r = await api(stack, method, p, {...opts, timeoutMs: 15_000});
      assert.equal(r.status, 502, `${method} ${p}: ${r.status} ${r.text.slice(0, 200)}`);
      assert.ok(r.json, `${method} ${p}: JSON body, got ${r.headers.get('content-type')} ${r.text.slice(0, 200)}`);
      assert.equal(r.json.error, 'unavailable');
      assert.equal(typeof r.json.message, 'string');
      assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
      assert.match(r.headers.get('cache-control') ?? '', /no-store/);
    }
  } finally {
    fs.renameSync(away, sock);
  }
  const back = await api(stack, 'GET', 'api/rooms', {token: ann.token});
  assert.equal(back.status, 200, back.text);
});

test('SIGKILL of the worker master: noom-run stops nginx and the workers, and exits', {timeout: 60_000}, async () => {
  const master = stack.masterPid();
  const workers = stack.workerPids();
  const nginx = stack.nginxPid();
  assert.ok(Number.isInteger(master) && alive(master), `worker.pid holds the live master PID (${master})`);
  assert.equal(workers.length, 2);
  assert.ok(Number.isInteger(nginx) && alive(nginx), `nginx.pid holds the live nginx PID (${nginx})`);

  process.kill(master, 'SIGKILL');
  const end = Date.now() + 15_000;
  while (!stack.exited() && Date.now() < end) await sleep(100);
  assert.ok(stack.exited(), 'noom-run exited after its worker master died');
  assert.equal(stack.exited().code, 1);
  await within(sleep(500), 1000);
  const left = [nginx, ...workers].filter(alive);
  assert.deepEqual(left, [], `no process left behind: ${left}`);
});
