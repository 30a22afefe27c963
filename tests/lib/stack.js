// Test helper: starts the real Noom stack (noom-run → nginx + noom-worker) on a free
// loopback port with a throw-away state folder, and small HTTP helpers for the API.
//
//   const stack = await startStack({prefix: '/noom', workerArgs: ['--poll-timeout', '2']});
//   const ann = await newSession(stack, 'Ann');
//   await api(stack, 'POST', 'api/join', {token: ann.token, body: {room: 'lobby'}});
//   await stack.stop();
//
// Paths given to api() are relative to stack.baseUrl ('api/rooms' → http://127.0.0.1:P/noom/api/rooms);
// a path starting with '/' is taken from the server root (to test what is outside the prefix).

import {spawn} from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/* noom-run gives up after NOOM_START_TIMEOUT (30 s); this only catches a launcher that hangs. */
const START_TIMEOUT_MS = 45_000;
const STOP_TIMEOUT_MS = 10_000;
const LOG_LIMIT = 256 * 1024;

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves with the promise's value, or null after ms (without keeping a timer alive). */
export function within(promise, ms) {
  let timer;
  return Promise.race([promise, new Promise((resolve) => (timer = setTimeout(() => resolve(null), ms)))]).finally(() => clearTimeout(timer));
}

// ---------------------------------------------------------------------------------------------
// Process bookkeeping: every stack still running when this process exits is killed (by PID).

const running = new Set();

function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

function readPidFile(file) {
  try {
    return fs.readFileSync(file, 'utf8').split(/\s+/).filter((s) => /^\d+$/.test(s)).map(Number);
  } catch {
    return [];
  }
}

function cmdline(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

// PIDs from the state folder that still belong to this stack's nginx / noom-worker processes
// (the command line is checked so that a recycled PID is never killed).
function leftoverPids(stateDir) {
  const pids = [
    ...readPidFile(path.join(stateDir, 'worker.pid')),
    ...readPidFile(path.join(stateDir, 'workers.pids')),
    ...readPidFile(path.join(stateDir, 'ws.pid')),
    ...readPidFile(path.join(stateDir, 'nginx.pid')),
    ...readPidFile(path.join(stateDir, 'nginx', 'nginx.pid')),
    ...readPidFile(path.join(stateDir, 'janus', 'janus.pid')),
  ];
  return [...new Set(pids)].filter((pid) => {
    const cmd = cmdline(pid);
    return cmd.includes('noom-worker') || (cmd.includes('noom-ws') && cmd.includes(stateDir)) || (cmd.includes('nginx') && cmd.includes(stateDir)) || (cmd.includes('janus') && cmd.includes(stateDir));
  });
}

function killSync(stack) {
  for (const pid of [stack.pid, ...leftoverPids(stack.stateDir)]) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
  if (!process.env.NOOM_KEEP_STATE) {
    try {
      fs.rmSync(stack.tmpDir, {recursive: true, force: true});
    } catch {}
  }
}

process.on('exit', () => {
  for (const stack of running) killSync(stack);
});
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    for (const stack of running) killSync(stack);
    process.exit(128 + os.constants.signals[sig]);
  });
}

// ---------------------------------------------------------------------------------------------

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const {port} = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export function noomRunPath() {
  if (process.env.NOOM_RUN) return process.env.NOOM_RUN;
  return path.join(process.env.NOOM_BUILDDIR || repoRoot, 'noom-run');
}

function escapeRe(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/*
 * noom-worker --config lines for tests that stand for a crowd from one address (every test client
 * is 127.0.0.1): the per-client limits (docs/API.md) raised out of the way. Tests of the limits
 * themselves run with the defaults.
 */
export const CROWD_LIMITS = [
  'limit_sessions = 1000000/100000',
  'limit_rooms = 1000000/100000',
  'limit_joins = 1000000/100000',
  'limit_chat = 1000000/100000',
].join('\n') + '\n';

/**
 * Starts noom-run on a free port with a state folder of its own, and resolves once it prints
 * "Noom is running at …".
 * config: text of a noom-worker --config file, written to a folder of its own (NOOM_CONFIG;
 * env.NOOM_CONFIG wins).
 * sfu: run Janus beside it when installed (true; "always": every call on Janus); otherwise
 * NOOM_SFU=0, the behaviour without Janus (mesh_max in the call, the rest chat-only).
 * prepareState(dir), if given, is called with the new temporary folder before noom-run starts:
 * it may put files in it (the folder is then the state folder), or return another path to use
 * as the state folder (inside dir, which is removed at the end), e.g. one noom-run must make.
 * command: words to run noom-run under (e.g. setpriv and its options), if any.
 * @returns {Promise<{baseUrl, origin, prefix, port, stateDir, dbPath, pid, workerPids, masterPid,
 *                    nginxPid, logs, stop}>}
 */
export async function startStack({prefix = '', workers = 2, workerArgs = [], env = {}, config, prepareState, sfu = false, command = []} = {}) {
  if (config !== undefined && env.NOOM_CONFIG === undefined) {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'noom-conf-'));
    const file = path.join(dir, 'noom.conf');
    await fsp.writeFile(file, config, {mode: 0o600});
    env = {...env, NOOM_CONFIG: file};
  }
  if (prefix && (!prefix.startsWith('/') || prefix.endsWith('/'))) {
    throw new Error(`prefix must look like "/noom" (got ${JSON.stringify(prefix)})`);
  }
  let lastError;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce({prefix, workers, workerArgs, env, prepareState, sfu, command});
    } catch (e) {
      lastError = e;
      // Another process may have taken the port between freePort() and nginx's bind: retry.
      if (!/address already in use/i.test(e.message)) throw e;
    }
  }
  throw lastError;
}

async function startOnce({prefix, workers, workerArgs, env, prepareState, sfu, command}) {
  const port = await freePort();
  const tmpDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'noom-test-'));
  const stateDir = (prepareState && (await prepareState(tmpDir))) || tmpDir;
  const origin = `http://127.0.0.1:${port}`;
  const baseUrl = `${origin}${prefix}/`;
  const noomRun = noomRunPath();

  let output = ''; // stdout and stderr, interleaved, capped
  const append = (chunk) => {
    output += chunk;
    if (output.length > LOG_LIMIT) output = output.slice(-LOG_LIMIT);
  };

  const argv = [...command, noomRun];
  const child = spawn(argv[0], argv.slice(1), {
    cwd: repoRoot,
    env: {
      ...process.env,
      NOOM_PORT: String(port),
      NOOM_STATE_DIR: stateDir,
      NOOM_PREFIX: prefix,
      NOOM_WORKERS: String(workers),
      NOOM_WORKER_ARGS: workerArgs.join(' '),
      // Janus only for the stacks that ask (sfu: true or 'always'; it starts when installed),
      // on a port of its own: stacks run side by side.
      NOOM_SFU: sfu === 'always' ? 'always' : sfu ? '1' : '0',
      NOOM_JANUS_PORT: String(await freePort()),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');

  let exited = null; // {code, signal} once noom-run has exited
  const exitPromise = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      exited = {code, signal};
      resolve(exited);
    });
  });

  const stack = {
    baseUrl,
    origin,
    prefix,
    port,
    stateDir,
    tmpDir,
    dbPath: path.join(stateDir, 'noom.db'),
    /** The --config file the workers read (and read again on SIGHUP), if any. */
    configPath: env.NOOM_CONFIG,
    pid: child.pid,
    /** PIDs of the worker processes (not the master), from $STATE/workers.pids. */
    workerPids: () => readPidFile(path.join(stateDir, 'workers.pids')),
    /** PID of the noom-worker master, from $STATE/worker.pid. */
    masterPid: () => readPidFile(path.join(stateDir, 'worker.pid'))[0],
    nginxPid: () => readPidFile(path.join(stateDir, 'nginx.pid'))[0] ?? readPidFile(path.join(stateDir, 'nginx', 'nginx.pid'))[0],
    /** noom-run's stdout+stderr so far, plus nginx's error log if there is one. */
    logs: () => diagnostics(stateDir, output),
    exited: () => exited,
    stop: async () => {
      if (!running.has(stack)) return;
      running.delete(stack);
      if (!exited) {
        try {
          process.kill(child.pid, 'SIGTERM');
        } catch {}
        const done = await within(exitPromise, STOP_TIMEOUT_MS);
        if (!done) {
          process.stderr.write(`[stack] noom-run (pid ${child.pid}) ignored SIGTERM for ${STOP_TIMEOUT_MS / 1000} s: SIGKILL\n`);
          try {
            process.kill(child.pid, 'SIGKILL');
          } catch {}
          await within(exitPromise, 2000);
        }
      }
      // noom-run stops nginx and the worker master itself; anything left over is a bug of
      // noom-run, but must not outlive the test run.
      const left = leftoverPids(stateDir).filter(pidAlive);
      if (left.length) {
        await sleep(500);
        for (const pid of leftoverPids(stateDir).filter(pidAlive)) {
          process.stderr.write(`[stack] process ${pid} (${cmdline(pid).trim()}) still alive after noom-run exited: SIGKILL\n`);
          try {
            process.kill(pid, 'SIGKILL');
          } catch {}
        }
      }
      child.stdout.destroy();
      child.stderr.destroy();
      if (!process.env.NOOM_KEEP_STATE) await fsp.rm(tmpDir, {recursive: true, force: true});
      else process.stderr.write(`[stack] state kept in ${stateDir}\n`);
    },
  };
  running.add(stack);

  const readyRe = new RegExp(`Noom is running at (${escapeRe(origin)}\\S*)`);
  let stdoutBuf = '';
  const ready = new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      append(chunk);
      stdoutBuf += chunk;
      const m = readyRe.exec(stdoutBuf);
      if (m) resolve(m[1]);
    });
    child.stderr.on('data', append);
    child.on('error', (e) => reject(new Error(`cannot start ${noomRun}: ${e.message}`)));
    exitPromise.then(({code, signal}) => reject(new Error(`noom-run exited early (code ${code}, signal ${signal})`)));
    setTimeout(() => reject(new Error(`noom-run did not print "Noom is running at ${baseUrl}" within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS).unref();
  });

  try {
    const url = await ready;
    if (url !== baseUrl) throw new Error(`noom-run announced ${url}, expected ${baseUrl}`);
  } catch (e) {
    const diag = diagnostics(stateDir, output);
    await stack.stop();
    const err = new Error(`${e.message}\n--- noom-run (${noomRun}) output ---\n${diag}\n--- end ---`);
    process.stderr.write(`[stack] ${err.message}\n`);
    throw err;
  }
  return stack;
}

function diagnostics(stateDir, output) {
  let text = output;
  for (const f of ['nginx/error.log', 'error.log', 'nginx/logs/error.log', 'worker.log']) {
    try {
      const log = fs.readFileSync(path.join(stateDir, f), 'utf8');
      if (log.trim()) text += `\n--- ${f} ---\n${log.slice(-16384)}`;
    } catch {}
  }
  return text;
}

// ---------------------------------------------------------------------------------------------
// HTTP helpers

/**
 * One HTTP request. Returns {status, headers, json, text}; json is null when the body is not JSON.
 * Options: token (Bearer), body (sent as JSON), rawBody (string/Buffer sent as is, with
 * Content-Type application/json unless headers say otherwise), headers, timeoutMs (default 40 s).
 */
export async function api(stack, method, urlPath, {token, body, rawBody, headers = {}, timeoutMs = 40_000} = {}) {
  const url = new URL(urlPath, stack.baseUrl);
  const h = {...headers};
  if (token !== undefined && token !== null) h.Authorization = `Bearer ${token}`;
  let payload;
  if (rawBody !== undefined) payload = rawBody;
  else if (body !== undefined) payload = JSON.stringify(body);
  if (payload !== undefined && !Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) {
    h['Content-Type'] = 'application/json';
  }
  const res = await fetch(url, {method, headers: h, body: payload, signal: AbortSignal.timeout(timeoutMs)});
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {}
  return {status: res.status, headers: res.headers, json, text};
}

function fail(msg, res) {
  const err = new Error(`${msg}: got ${res.status} ${res.text.slice(0, 500)}`);
  err.response = res;
  return err;
}

/**
 * GET urlPath (absolute, prefix included) of the stack's nginx from localAddress: 127.0.0.2 is
 * loopback, but not an address the loopback-only locations allow. {status, type, body}.
 */
export function getFrom(stack, localAddress, urlPath) {
  return new Promise((resolve, reject) => {
    const req = http.get({host: '127.0.0.1', port: stack.port, path: urlPath, localAddress}, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({status: res.statusCode, type: res.headers['content-type'], body}));
    });
    req.on('error', reject);
  });
}

/** POST api/session; returns the answer ({token, session, nickname, cursor}). */
export async function newSession(stack, nickname) {
  const res = await api(stack, 'POST', 'api/session', {body: nickname === undefined ? {} : {nickname}});
  if (res.status !== 201) throw fail('POST api/session', res);
  return res.json;
}

/** POST api/join; returns the join answer. */
export async function join(stack, token, room) {
  const res = await retry429(() => api(stack, 'POST', 'api/join', {token, body: {room}}));
  if (res.status !== 200) throw fail(`POST api/join ${room}`, res);
  return res.json;
}

/** POST api/leave; returns the answer. */
export async function leave(stack, token) {
  const res = await retry429(() => api(stack, 'POST', 'api/leave', {token}));
  if (res.status !== 200) throw fail('POST api/leave', res);
  return res.json;
}

let clientIdCounter = 0;
export function clientId(tag = 'c') {
  return `${tag}-${process.pid}-${++clientIdCounter}`;
}

/**
 * POST api/messages, waiting and retrying (same client_id) when rate limited.
 * Returns the full response ({status, headers, json}); throws unless 200/201.
 */
export async function say(stack, token, text, cid = clientId()) {
  const res = await retry429(() => api(stack, 'POST', 'api/messages', {token, body: {text, client_id: cid}}));
  if (res.status !== 201 && res.status !== 200) throw fail(`POST api/messages ${JSON.stringify(text)}`, res);
  return res;
}

async function retry429(fn, deadlineMs = 20_000) {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const res = await fn();
    if (res.status !== 429 || Date.now() > end) return res;
    const ra = Number(res.headers.get('retry-after'));
    await sleep(Number.isFinite(ra) && ra > 0 ? Math.min(ra * 1000, 1000) : 150);
  }
}

/** GET api/poll?cursor=N once; checks the answer's invariants; returns the response. */
export async function poll(stack, token, cursor, {timeoutMs = 40_000} = {}) {
  const res = await api(stack, 'GET', `api/poll?cursor=${cursor}`, {token, timeoutMs});
  if (res.status !== 200) throw fail(`GET api/poll?cursor=${cursor}`, res);
  checkPollAnswer(res, cursor);
  return res;
}

/** Asserts what every poll answer must satisfy (no-store, events ordered and after the cursor). */
export function checkPollAnswer(res, cursor) {
  try {
    checkPollAnswerInner(res, cursor);
  } catch (e) {
    e.invariant = true; // not a transient failure: callers that retry must not retry this
    throw e;
  }
}

function checkPollAnswerInner(res, cursor) {
  const cc = res.headers.get('cache-control') || '';
  if (!/\bno-store\b/i.test(cc)) throw fail(`poll answer without Cache-Control: no-store (got "${cc}")`, res);
  const j = res.json;
  if (!j || !Array.isArray(j.events) || !Number.isInteger(j.cursor)) throw fail('poll answer is not {cursor, events}', res);
  if (j.resync) {
    if (j.events.length) throw fail('resync answer with events', res);
    return;
  }
  if (j.cursor < Number(cursor)) throw fail(`poll cursor went backwards (${cursor} → ${j.cursor})`, res);
  let prev = Number(cursor);
  for (const ev of j.events) {
    if (!Number.isInteger(ev.seq) || typeof ev.type !== 'string' || typeof ev.data !== 'object' || ev.data === null) {
      throw fail(`malformed event ${JSON.stringify(ev)}`, res);
    }
    if (ev.seq <= prev) throw fail(`event seq ${ev.seq} not greater than ${prev} (cursor ${cursor})`, res);
    prev = ev.seq;
  }
  if (j.cursor < prev) throw fail(`answer cursor ${j.cursor} is before its last event ${prev}`, res);
}

/**
 * Polls from `cursor` until predicate(allEventsSoFar) is true, accumulating events.
 * Resolves {events, cursor, answers}; rejects (with .events) after timeoutMs or on a resync
 * answer (unless {allowResync: true}, then it resolves with resync: true).
 */
export async function pollUntil(stack, token, cursor, predicate, timeoutMs = 10_000, {allowResync = false} = {}) {
  const end = Date.now() + timeoutMs;
  const events = [];
  let answers = 0;
  let cur = cursor;
  for (;;) {
    if (predicate(events)) return {events, cursor: cur, answers};
    const left = end - Date.now();
    if (left <= 0) break;
    let res;
    try {
      res = await poll(stack, token, cur, {timeoutMs: left});
    } catch (e) {
      if (e.name === 'TimeoutError' || e.name === 'AbortError') break;
      e.events = events;
      throw e;
    }
    answers++;
    if (res.json.resync) {
      if (allowResync) return {events, cursor: res.json.cursor, answers, resync: true};
      const err = new Error(`unexpected resync answer for cursor ${cur}: ${res.text}`);
      err.events = events;
      throw err;
    }
    events.push(...res.json.events);
    cur = res.json.cursor;
  }
  const err = new Error(`pollUntil: condition not met within ${timeoutMs} ms; events: ${JSON.stringify(events).slice(0, 3000)}`);
  err.events = events;
  throw err;
}

/** Polls until no event arrives for one whole poll; returns {events, cursor}. (Needs a short --poll-timeout.) */
export async function drain(stack, token, cursor, timeoutMs = 30_000) {
  const end = Date.now() + timeoutMs;
  const events = [];
  let cur = cursor;
  while (Date.now() < end) {
    const res = await poll(stack, token, cur, {timeoutMs: Math.max(1, end - Date.now())});
    if (res.json.resync) throw new Error(`unexpected resync in drain: ${res.text}`);
    events.push(...res.json.events);
    cur = res.json.cursor;
    if (res.json.events.length === 0) return {events, cursor: cur};
  }
  throw new Error('drain: events kept coming');
}

export const ofType = (events, type) => events.filter((e) => e.type === type);

/** Who is in a room: members also carry media state (audio/video/screen), not compared by this. */
export const who = (members) => members.map(({session, nickname}) => ({session, nickname}));
