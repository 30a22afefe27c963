// kill -9 of workers under a steady message stream: the poller, retrying with the same cursor,
// gets every acknowledged message exactly once and in order; the master restarts the workers.
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

test('kill -9 of each worker during a message stream: every acknowledged message exactly once, in order', {timeout: 120_000}, async (t) => {
  const original = stack.workerPids();
  assert.equal(original.length, 2, `2 workers: ${original}`);

  const room = 'crash';
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
      const body = {text, client_id: `crash-${i}`};
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

  // Kill each original worker once, at a third and at two thirds of the stream.
  const killed = [];
  for (const [k, pid] of original.entries()) {
    await waitFor(`${(k + 1) * 20} acknowledged messages`, () => acked.length >= (k + 1) * 20 || !posting, 60_000);
    process.kill(pid, 'SIGKILL');
    killed.push(pid);
    t.diagnostic(`SIGKILL worker ${pid} after ${acked.length} acknowledged messages`);
    // The master restarts it: a new pid appears in workers.pids.
    const now = await waitFor('a restarted worker in workers.pids', () => {
      const p = stack.workerPids();
      return p.length === 2 && !p.includes(pid) && p.every(alive) ? p : null;
    });
    t.diagnostic(`workers now ${now.join(', ')}`);
  }

  const finished = await within(Promise.all([posterLoop, readerLoop]).then(() => true), 90_000);
  assert.ok(finished, `stream did not finish: acked ${acked.length}, received ${received.length}`);

  const info = `acked ${acked.length}/${N}, received ${received.length}; POST errors: ${errors.post.length} [${errors.post.slice(0, 8).join('; ')}]; poll errors: ${errors.poll.length} [${errors.poll.slice(0, 8).join('; ')}]`;
  t.diagnostic(info);
  console.log(`kill -9: ${info}`);

  assert.equal(acked.length, N, 'every message eventually acknowledged (retried with its client_id)');
  const dupes = received.filter((x, i) => received.indexOf(x) !== i);
  assert.deepEqual(dupes, [], 'no message received twice');
  assert.deepEqual(received, [...received].sort(), 'received in order');
  for (const a of acked) assert.ok(received.includes(a), `acknowledged ${a} was received`);
  assert.deepEqual(received, acked);

  const finalPids = stack.workerPids();
  assert.equal(finalPids.length, 2);
  for (const pid of killed) assert.ok(!finalPids.includes(pid));
  assert.ok(finalPids.every(alive));

  // The room history agrees: each message stored once.
  const h = await api(stack, 'GET', 'api/room', {token: reader.token});
  assert.equal(h.status, 200);
  assert.deepEqual(h.json.history.map((m) => m.text), acked.slice(-50));
});
