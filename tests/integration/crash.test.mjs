// kill -9 of workers under a steady message stream: the poller, retrying with the same cursor,
// gets every acknowledged message exactly once and in order; the master restarts the workers.
// SIGTERM of the workers (one, then both at once) under the same stream: the same, and no poll
// gets anything but a 200. A restart of the worker master and the gateway (noom-run's SIGUSR2,
// what `systemctl restart noom-worker noom-ws` does): the same, the poller retrying through the
// moment no master listens.
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {performance} from 'node:perf_hooks';
import {startStack, api, newSession, join, poll, sleep, within} from '../lib/stack.js';

let stack;
before(async () => {
  stack = await startStack({workers: 2, workerArgs: ['--poll-timeout', '2']});
});
after(async () => {
  await stack?.stop();
});

const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function waitFor(what, fn, ms = 10_000) {
  const end = performance.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/*
 * A round of stream(): the workers that pick(pids) names get `signal`, and the master starts new
 * ones in their place. Resolves with the workers signalled.
 */
function signalWorkers(signal, pick) {
  return async (t, acked) => {
    const pids = pick(stack.workerPids());
    for (const pid of pids) process.kill(pid, signal);
    t.diagnostic(`${signal} to worker(s) ${pids.join(', ')} after ${acked} acknowledged messages`);
    // The master starts new ones: new pids appear in workers.pids.
    const now = await waitFor('restarted workers in workers.pids', () => {
      const p = stack.workerPids();
      return p.length === 2 && pids.every((pid) => !p.includes(pid)) && p.every(alive) ? p : null;
    });
    t.diagnostic(`workers now ${now.join(', ')}`);
    return pids;
  };
}

/*
 * A round of stream(): noom-run restarts the worker master and the gateway (SIGUSR2). Resolves
 * with the processes that were replaced, once new ones serve.
 */
async function restartServices(t, acked) {
  const old = [stack.masterPid(), ...stack.workerPids()];
  process.kill(stack.pid, 'SIGUSR2');
  t.diagnostic(`SIGUSR2 to noom-run after ${acked} acknowledged messages (master ${old[0]})`);
  const master = await waitFor('a new worker master with 2 workers', () => {
    const m = stack.masterPid();
    const p = stack.workerPids();
    return m && m !== old[0] && alive(m) && p.length === 2 && p.every((pid) => !old.includes(pid) && alive(pid)) ? m : null;
  }, 20_000);
  t.diagnostic(`master now ${master}, workers ${stack.workerPids().join(', ')}`);
  return old;
}

/*
 * A steady message stream from a poster to a reader while, at each of `rounds` marks (after so
 * many acknowledged messages), a round runs (signalWorkers, restartServices): it disturbs the
 * server and resolves with the PIDs it replaced. A failed POST is retried with its client_id;
 * the reader polls again from its cursor after any error. Returns what was acknowledged,
 * received and failed.
 */
async function stream(t, room, label, rounds) {
  const poster = await newSession(stack, 'Poster');
  const reader = await newSession(stack, 'Reader');
  await join(stack, poster.token, room);
  const rj = await join(stack, reader.token, room);

  const N = 60;
  const INTERVAL_MS = 120; // under the 10/s refill of the rate limit
  const acked = []; // texts that got a 2xx
  const errors = {post: [], poll: []};
  let posting = true;
  let abort = false; // set when the test ends, so that no loop outlives it
  t.after(() => {
    abort = true;
  });

  // Poster: one message at a time; a failed POST is retried with the same client_id.
  const posterLoop = (async () => {
    for (let i = 0; i < N && !abort; i++) {
      const text = `k${String(i).padStart(3, '0')}`;
      const body = {text, client_id: `${room}-${i}`};
      for (let attempt = 0; attempt < 50 && !abort; attempt++) {
        let res;
        try {
          res = await api(stack, 'POST', 'api/messages', {token: poster.token, body, timeoutMs: 5000});
        } catch (e) {
          errors.post.push(`${text}: ${e.cause?.code ?? e.message}`);
          await sleep(100);
          continue;
        }
        if (res.status === 201 || res.status === 200) {
          acked.push(text);
          break;
        }
        errors.post.push(`${text}: ${res.status} ${res.json?.error ?? res.text.slice(0, 80)}`);
        if (res.status === 429) await sleep(300);
        else await sleep(100);
      }
      await sleep(INTERVAL_MS);
    }
    posting = false;
  })();

  // Reader: polls continuously, retrying with the same cursor after any error.
  const received = [];
  let cursor = rj.cursor;
  const readerLoop = (async () => {
    const deadline = () => !posting && received.length >= acked.length;
    let quietUntil = null;
    while (!abort) {
      if (deadline()) {
        // One more short round to catch anything stored but not acknowledged, or duplicated.
        quietUntil ??= performance.now() + 3000;
        if (performance.now() > quietUntil) break;
      }
      let res;
      try {
        res = await poll(stack, reader.token, cursor, {timeoutMs: 10_000});
      } catch (e) {
        if (e.invariant) throw e;
        errors.poll.push(e.response ? `${e.response.status}` : (e.cause?.code ?? e.message));
        await sleep(100);
        continue;
      }
      for (const ev of res.json.events) if (ev.type === 'new_message') received.push(ev.data.text);
      cursor = res.json.cursor;
    }
  })();

  const signalled = [];
  for (const [k, round] of rounds.entries()) {
    const mark = Math.round(((k + 1) * N) / (rounds.length + 1));
    await waitFor(`${mark} acknowledged messages`, () => acked.length >= mark || !posting, 60_000);
    signalled.push(...(await round(t, acked.length)));
  }

  const finished = await within(Promise.all([posterLoop, readerLoop]).then(() => true), 90_000);
  assert.ok(finished, `stream did not finish: acked ${acked.length}, received ${received.length}`);

  const info = `acked ${acked.length}/${N}, received ${received.length}; POST errors: ${errors.post.length} [${errors.post.slice(0, 8).join('; ')}]; poll errors: ${errors.poll.length} [${errors.poll.slice(0, 8).join('; ')}]`;
  t.diagnostic(info);
  console.log(`${label}: ${info}`);

  assert.equal(acked.length, N, 'every message eventually acknowledged (retried with its client_id)');
  const dupes = received.filter((x, i) => received.indexOf(x) !== i);
  assert.deepEqual(dupes, [], 'no message received twice');
  assert.deepEqual(received, [...received].sort(), 'received in order');
  for (const a of acked) assert.ok(received.includes(a), `acknowledged ${a} was received`);
  assert.deepEqual(received, acked);

  const finalPids = stack.workerPids();
  assert.equal(finalPids.length, 2);
  for (const pid of signalled) assert.ok(!finalPids.includes(pid));
  assert.ok(finalPids.every(alive));

  // The room history agrees: each message stored once.
  const h = await api(stack, 'GET', 'api/room', {token: reader.token});
  assert.equal(h.status, 200);
  assert.deepEqual(h.json.history.map((m) => m.text), acked.slice(-50));
  return {acked, received, errors};
}

test('kill -9 of each worker during a message stream: every acknowledged message exactly once, in order', {timeout: 120_000}, async (t) => {
  assert.equal(stack.workerPids().length, 2, `2 workers: ${stack.workerPids()}`);
  await stream(t, 'crash', 'SIGKILL', [signalWorkers('SIGKILL', (p) => [p[0]]), signalWorkers('SIGKILL', (p) => [p[1]])]);
});

test('SIGTERM of the workers, one and then both, during a message stream: no poll fails, every message once, in order', {timeout: 120_000}, async (t) => {
  // A stopping worker stops accepting, answers its waiting polls with their cursor and what it
  // has on its way, and closes the connections nginx kept: a poll is never left to a 502.
  const {errors} = await stream(t, 'graceful', 'SIGTERM',
    [(p) => [p[0]], (p) => [p[1]], (p) => p].map((pick) => signalWorkers('SIGTERM', pick)));
  assert.deepEqual(errors.poll, [], 'every poll answered 200');
});

test('a restart of the worker master and the gateway, twice, during a message stream: every message once, in order', {timeout: 120_000}, async (t) => {
  // Nothing listens for the moment between the old master's exit and the new one's start: those
  // requests get nginx's 503 and are retried, the POSTs with their client_id.
  const {errors} = await stream(t, 'restart', 'restart', [restartServices, restartServices]);
  for (const e of errors.poll) assert.match(e, /^(502|503|ECONNRESET|UND_ERR_SOCKET)/, `a poll failed only while no master listened: ${e}`);
  const log = stack.logs();
  assert.match(log, /SIGUSR2: restarting noom-worker and noom-ws/);
  assert.equal((log.match(/restarted: noom-worker/g) ?? []).length, 2, 'two restarts');
});
