// Secrets at rest (docs/DESIGN.md): session tokens are not on disk, only their SHA-256; the
// state folder is 0700 and every file in it 0600, the sockets exactly their --socket-mode;
// noom-run refuses a state folder others could plant links in, never writes through a link it
// finds there, and warns about a readable TURN secret; a database that cannot be written stops
// the start with the file named.
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {execFileSync, spawn} from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {startStack, api, newSession, join, say, within, freePort, noomRunPath, sleep} from '../lib/stack.js';

const isRoot = process.getuid?.() === 0;
const mode = (p) => (fs.statSync(p).mode & 0o7777).toString(8).padStart(4, '0');
const sha256 = (s) => crypto.createHash('sha256').update(s).digest('hex');

// Every regular file under dir (links are not followed).
function filesUnder(dir) {
  const out = [];
  for (const e of fs.readdirSync(dir, {withFileTypes: true})) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

// How many times the bytes of s occur in the file (as `grep -c` on the raw file would find them).
function occurrences(file, s) {
  const data = fs.readFileSync(file);
  let n = 0;
  for (let i = data.indexOf(s); i !== -1; i = data.indexOf(s, i + 1)) n++;
  return n;
}

/**
 * Runs noom-run on state with env until it exits, or until it says it is running (then it is
 * stopped with SIGTERM). Resolves {code, out, started}. cmd: a program that runs noom-run
 * (setpriv ...), as [program, ...args].
 */
async function runNoom(state, env = {}, cmd = []) {
  const port = await freePort();
  const argv = [...cmd, noomRunPath()];
  // A process group of its own: should noom-run not stop in time, the group (nginx and the
  // workers with it) is killed, and nothing is left holding this test's pipes open.
  const child = spawn(argv[0], argv.slice(1), {
    env: {...process.env, NOOM_PORT: String(port), NOOM_STATE_DIR: state, ...env},
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  let started = false;
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  const onData = (d) => {
    out += d;
    if (!started && /Noom is running/.test(out)) {
      started = true;
      child.kill('SIGTERM');
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  let code = await within(exited, 30_000);
  if (code === null) {
    out += '\n(runNoom: noom-run did not stop within 30 s; its process group was killed)';
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {}
    code = await exited;
  }
  /* Whatever it started is gone with it (stop_all), or was killed with its group above. */
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {}
  child.stdout.destroy();
  child.stderr.destroy();
  return {code, out, started};
}

test('no session token is on disk: only its SHA-256, and the token still works', {timeout: 60_000}, async () => {
  const stack = await startStack();
  try {
    const ann = await newSession(stack, 'Ann');
    const bob = await newSession(stack, 'Bob');
    await join(stack, ann.token, 'secrets');
    await join(stack, bob.token, 'secrets');
    await say(stack, ann.token, 'hello');
    // Both in the WAL and, after a checkpoint (every 250 ms), in the database file.
    await sleep(1000);
    for (const s of [ann, bob]) {
      const r = await api(stack, 'GET', 'api/session', {token: s.token});
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.session, s.session);
    }
    const dump = execFileSync('sqlite3', [stack.dbPath, '.dump'], {encoding: 'utf8'});
    for (const s of [ann, bob]) {
      assert.equal(dump.split(s.token).length - 1, 0, 'sqlite3 noom.db .dump | grep -c <token>');
      assert.ok(dump.includes(sha256(s.token)), 'the dump holds the hash of the token');
    }
    const files = filesUnder(stack.stateDir);
    for (const f of ['noom.db', 'noom.db-wal']) {
      assert.ok(files.includes(path.join(stack.stateDir, f)), `${f} exists`);
    }
    for (const f of files) {
      for (const s of [ann, bob]) assert.equal(occurrences(f, s.token), 0, `${f} holds a token`);
    }
  } finally {
    await stack.stop();
  }
});

test('the state folder noom-run makes is 0700, every file in it 0600, the socket its --socket-mode', {timeout: 60_000}, async () => {
  const stack = await startStack({
    prepareState: (dir) => path.join(dir, 'state'), // noom-run makes it
    workerArgs: ['--socket-mode', '0660'],
  });
  try {
    const ann = await newSession(stack, 'Ann');
    await join(stack, ann.token, 'modes');
    await say(stack, ann.token, 'hello');
    await sleep(1500); // nginx flushes its access log every second
    const st = stack.stateDir;
    assert.equal(mode(st), '0700', 'the state folder');
    assert.equal(mode(path.join(st, 'nginx')), '0700', 'nginx/');
    const want = ['noom.db', 'noom.db-wal', 'noom.db-shm', 'doorbell', 'worker.pid', 'workers.pids',
      'ws.pid', 'nginx.pid', 'nginx/nginx.conf', 'nginx/noom-nginx.conf', 'nginx/access.log',
      'nginx/error.log'];
    for (const f of want) assert.equal(mode(path.join(st, f)), '0600', f);
    for (const f of filesUnder(st)) assert.equal(mode(f), '0600', f);
    assert.ok(fs.statSync(path.join(st, 'nginx', 'access.log')).size > 0, 'nginx logged the requests');
    assert.equal(mode(path.join(st, 'noom.sock')), '0660', 'the worker socket has --socket-mode');
    assert.equal(mode(path.join(st, 'noom-ws.sock')), '0600', 'the gateway socket has its default mode');
  } finally {
    await stack.stop();
  }
});

test('noom-run refuses a state folder others may write to, or another user owns', {timeout: 120_000}, async (t) => {
  const top = fs.mkdtempSync(path.join(os.tmpdir(), 'noom-refuse-'));
  try {
    const cases = [
      {name: 'writable by all', prep: (d) => fs.chmodSync(d, 0o777), why: /writable by group or others \(mode 777\)/},
      {name: 'writable by its group', prep: (d) => fs.chmodSync(d, 0o770), why: /writable by group or others \(mode 770\)/},
      {name: 'nginx/ a symbolic link', prep: (d) => fs.symlinkSync(top, path.join(d, 'nginx')), why: /nginx is a symbolic link/},
    ];
    if (isRoot) {
      cases.push({name: 'owned by nobody', prep: (d) => fs.chownSync(d, 65534, 65534), why: /owned by \S+ \(uid 65534\)/});
    } else {
      t.diagnostic('not root: the folder owned by another user is not tried');
    }
    for (const c of cases) {
      const state = fs.mkdtempSync(path.join(top, 'state-'));
      c.prep(state);
      const before = fs.readdirSync(state);
      const r = await runNoom(state);
      assert.equal(r.started, false, `${c.name}: started anyway: ${r.out}`);
      assert.notEqual(r.code, 0, `${c.name}: exit code`);
      assert.match(r.out, new RegExp(`refusing the state folder ${state.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`), c.name);
      assert.match(r.out, c.why, c.name);
      assert.deepEqual(fs.readdirSync(state), before, `${c.name}: nothing was written in the folder`);
    }
    // The same folder made private is taken.
    const state = fs.mkdtempSync(path.join(top, 'state-'));
    fs.chmodSync(state, 0o755); // readable, not writable, by others: taken (and its files 0600)
    const r = await runNoom(state);
    assert.equal(r.started, true, r.out);
    assert.equal(r.code, 0, r.out);
  } finally {
    fs.rmSync(top, {recursive: true, force: true});
  }
});

test('noom-run never writes through a symbolic link planted in the state folder', {timeout: 60_000}, async () => {
  const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'noom-outside-'));
  const victim = path.join(outside, 'victim');
  fs.writeFileSync(victim, 'precious\n', {mode: 0o644});
  fs.chmodSync(victim, 0o644);
  // The fixed names the writes went through before, and the files themselves.
  const planted = ['nginx/nginx.conf.tmp', 'nginx/noom-nginx.conf.tmp', 'nginx/nginx.conf',
    'nginx/noom-nginx.conf', 'worker.pid', 'ws.pid.tmp', 'ws.pid', 'workers.pids.tmp'];
  let stack;
  try {
    stack = await startStack({
      prepareState: (dir) => {
        fs.mkdirSync(path.join(dir, 'nginx'), {mode: 0o700});
        for (const p of planted) fs.symlinkSync(victim, path.join(dir, p));
      },
    });
    const ann = await newSession(stack, 'Ann');
    assert.equal((await api(stack, 'GET', 'api/rooms', {token: ann.token})).status, 200);
    assert.equal(fs.readFileSync(victim, 'utf8'), 'precious\n', 'the file outside is unchanged');
    assert.equal(mode(victim), '0644', 'and so is its mode');
    for (const f of ['nginx/nginx.conf', 'nginx/noom-nginx.conf', 'worker.pid', 'ws.pid', 'workers.pids']) {
      assert.ok(fs.lstatSync(path.join(stack.stateDir, f)).isFile(), `${f} is a file of its own now`);
    }
    assert.match(fs.readFileSync(path.join(stack.stateDir, 'nginx', 'nginx.conf'), 'utf8'), /worker_processes/);
  } finally {
    await stack?.stop();
    fs.rmSync(outside, {recursive: true, force: true});
  }
});

test('noom-run warns when NOOM_CONFIG holds turn_secret and others may read it', {timeout: 60_000}, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'noom-conf-'));
  const conf = path.join(dir, 'noom.conf');
  fs.writeFileSync(conf, 'turn = turn:127.0.0.1:3478?transport=udp\nturn_secret = not-for-everyone\n');
  const warning = new RegExp(`warning: ${conf.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} holds a secret \\(turn_secret, janus_secret or turn_rest_key\\) and is readable by others \\(mode 644`);
  try {
    fs.chmodSync(conf, 0o644);
    let r = await runNoom(path.join(dir, 'state-a'), {NOOM_CONFIG: conf});
    assert.equal(r.started, true, r.out);
    assert.match(r.out, warning);
    assert.equal(r.out.split("holds a secret").length - 1, 1, 'said once');
    fs.chmodSync(conf, 0o600);
    r = await runNoom(path.join(dir, 'state-b'), {NOOM_CONFIG: conf});
    assert.equal(r.started, true, r.out);
    assert.doesNotMatch(r.out, /holds a secret/);
  } finally {
    fs.rmSync(dir, {recursive: true, force: true});
  }
});

test('a database that cannot be written stops the start, naming the file', {timeout: 90_000}, async (t) => {
  // root writes read-only files anyway: noom-run then runs without CAP_DAC_OVERRIDE.
  let cmd = [];
  if (isRoot) {
    try {
      execFileSync('setpriv', ['--bounding-set=-dac_override', '--inh-caps=-dac_override', 'true']);
    } catch {
      t.skip('root, and setpriv cannot drop CAP_DAC_OVERRIDE');
      return;
    }
    cmd = ['setpriv', '--bounding-set=-dac_override', '--inh-caps=-dac_override'];
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'noom-ro-'));
  const state = path.join(dir, 'state');
  try {
    let r = await runNoom(state);
    assert.equal(r.started, true, `first start: ${r.out}`);
    const db = path.join(state, 'noom.db');
    fs.chmodSync(db, 0o444);
    r = await runNoom(state, {}, cmd);
    assert.equal(r.started, false, r.out);
    assert.notEqual(r.code, 0, r.out);
    assert.doesNotMatch(r.out, /Noom is running/);
    // The file and the reason are named; the hint after them ("(the file: Permission denied)")
    // comes from access(2), which some sandboxes answer differently under setpriv.
    assert.match(r.out, new RegExp(`database not writable: ${db.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .*readonly`));
    assert.match(r.out, /noom-worker exited during start-up/);
    // Writable again: it starts. (The failed start may have made the WAL and its index anew,
    // read-only like the database it found: they are part of "the database" too.)
    for (const f of [db, `${db}-wal`, `${db}-shm`]) if (fs.existsSync(f)) fs.chmodSync(f, 0o600);
    r = await runNoom(state, {}, cmd);
    assert.equal(r.started, true, r.out);
    assert.equal(r.code, 0, r.out);
  } finally {
    fs.rmSync(dir, {recursive: true, force: true});
  }
});
