// noom-run's nginx: one worker process per CPU by default, with the clients spread over them by
// the kernel, so that the descriptor limit, which is per process, is not all reached by one of
// them (conf/nginx.conf.in): 10,000 waiting clients need 20,000 descriptors in nginx. And a
// second noom-run on a port that is taken is refused before it starts anything.
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {execFileSync, spawn} from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {startStack, CROWD_LIMITS, api, newSession, within, noomRunPath} from '../lib/stack.js';

let stack;
before(async () => {
  stack = await startStack({config: CROWD_LIMITS});
});
after(async () => {
  await stack?.stop();
});

// The processes whose parent is pid, from /proc (as noom-run's children_of does; no ps needed).
const childrenOf = (pid) => fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d)).filter((d) => {
  try {
    const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid;
  } catch {
    return false; // gone meanwhile
  }
}).map(Number);

// Sockets a process holds: its descriptors that are sockets.
const sockets = (pid) => fs.readdirSync(`/proc/${pid}/fd`).filter((fd) => {
  try {
    return fs.readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:');
  } catch {
    return false; // closed meanwhile
  }
}).length;

test('nginx runs one worker process per CPU, and new clients are spread over them', {timeout: 60_000}, async () => {
  const cpus = Number(execFileSync('getconf', ['_NPROCESSORS_ONLN'], {encoding: 'utf8'}).trim());
  const workers = childrenOf(stack.nginxPid());
  assert.equal(workers.length, cpus, `nginx worker processes: ${workers.join(' ')}`);
  const conf = fs.readFileSync(path.join(stack.stateDir, 'nginx', 'nginx.conf'), 'utf8');
  assert.match(conf, /^worker_processes auto;$/m);
  if (cpus < 2) return; // nothing to spread over

  // 200 idle clients, connecting together as a crowd does: nginx accepts each and waits for its
  // request line.
  const before = workers.map(sockets);
  const clients = [];
  try {
    clients.push(...await Promise.all(Array.from({length: 200}, () => new Promise((resolve, reject) => {
      const s = net.connect(stack.port, '127.0.0.1', () => resolve(s));
      s.on('error', reject);
    }))));
    let gained = [];
    for (let i = 0; i < 50; i++) { // accepted within a moment
      gained = workers.map((pid, k) => sockets(pid) - before[k]);
      if (gained.reduce((a, b) => a + b, 0) >= 200) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(gained.reduce((a, b) => a + b, 0) >= 200, `accepted: ${gained.join(' + ')}`);
    // The kernel wakes one waiting worker process per new client (EPOLLEXCLUSIVE), usually the
    // same one while it keeps up, so the split is uneven (15 and 185 seen), but never all on one.
    for (const g of gained) {
      assert.ok(g >= 200 / cpus / 20, `each worker process takes a share: ${gained.join(', ')}`);
    }
  } finally {
    for (const s of clients) s.destroy();
  }
  // And the app still answers through all of them.
  const ann = await newSession(stack, 'Ann');
  for (let i = 0; i < 20; i++) {
    const r = await api(stack, 'GET', 'api/rooms', {token: ann.token});
    assert.equal(r.status, 200, r.text);
  }
});

test('NOOM_NGINX_WORKERS sets the number of nginx worker processes', {timeout: 60_000}, async () => {
  const one = await startStack({env: {NOOM_NGINX_WORKERS: '1'}});
  try {
    assert.equal(childrenOf(one.nginxPid()).length, 1);
    const ann = await newSession(one, 'Ann');
    assert.equal((await api(one, 'GET', 'api/rooms', {token: ann.token})).status, 200);
  } finally {
    await one.stop();
  }
});

test('a second noom-run on the same port is refused, and the first keeps serving', {timeout: 60_000}, async () => {
  const state = await fsp.mkdtemp(path.join(os.tmpdir(), 'noom-test-second-'));
  try {
    const child = spawn(noomRunPath(), [], {
      env: {...process.env, NOOM_PORT: String(stack.port), NOOM_STATE_DIR: state},
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const code = await within(new Promise((resolve) => child.on('exit', resolve)), 30_000);
    if (code === null) child.kill('SIGTERM'); // it started: stop it by its PID
    assert.equal(code, 1, `second noom-run: ${out}`);
    assert.match(out, /already taken/);
    assert.ok(!fs.existsSync(path.join(state, 'nginx.pid')), 'no nginx was started');
  } finally {
    fs.rmSync(state, {recursive: true, force: true});
  }
  const ann = await newSession(stack, 'Ann');
  for (let i = 0; i < 20; i++) {
    const r = await api(stack, 'GET', 'api/rooms', {token: ann.token});
    assert.equal(r.status, 200, r.text);
  }
});
