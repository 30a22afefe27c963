// The event stream (GET api/stream, Server-Sent Events answered inside nginx by its module and
// by noom-ws behind nginx, the same tests for each), read with a
// raw node HTTP request so that every header and line is ours: the answer's headers (an event
// stream, not cached, not compressed, delivered as it happens), poll-shaped events whose id is
// the cursor, Last-Event-ID and the explicit cursor, resync, the bounded lifetime and volume,
// the keepalive comment, errors before the stream starts, the limits per address and session,
// and every event exactly once and in order across stream ends, a worker's kill -9, an nginx
// reload and Last-Event-ID reconnects.
import {test, describe, before, after} from 'node:test';
import fs from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';
import http from 'node:http';
import {performance} from 'node:perf_hooks';
import {startStack, api, newSession, join, say, poll, sleep, within} from '../lib/stack.js';

const LIFETIME_S = 1.5;
const KEEPALIVE_S = 0.3;
const BYTES = 4096;
const PER_CLIENT = 4;

// Who answers the stream: nginx itself when its module was built (nginx/), and noom-ws through
// nginx; the same tests for both (NOOM_STREAM, noom-run).
const MODULE = path.join(process.env.NOOM_BUILDDIR ?? '.', 'nginx', 'ngx_http_noom_module.so');
// NOOM_STREAM_SERVERS narrows it (tests/valgrind.sh runs the module's part with nginx under
// valgrind).
const SERVERS = (process.env.NOOM_STREAM_SERVERS?.split(' ') ?? ['nginx', 'gateway'])
  .filter((s) => s !== 'nginx' || fs.existsSync(MODULE));

// ---------------------------------------------------------------------------------------------
// A minimal SSE reader.

/** Parses one SSE block ("id: 1\ndata: {...}") into {id, event, data, comment}. */
function parseBlock(block) {
  const out = {id: null, event: 'message', data: null, comment: null};
  const data = [];
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) out.comment = line.slice(1).trim();
    else if (line.startsWith('id: ')) out.id = Number(line.slice(4));
    else if (line.startsWith('event: ')) out.event = line.slice(7);
    else if (line.startsWith('data: ')) data.push(line.slice(6));
  }
  if (data.length) out.data = JSON.parse(data.join('\n'));
  return out;
}

/**
 * GET api/stream on s. Resolves {status, headers, json} for an error, or for a 200 {status,
 * headers, next(), ended, blocks, bytes, req}: next() resolves the next event with data (comments
 * and retry lines are counted in blocks), or null once the stream has ended; ended resolves when
 * the response ends.
 */
function openStream(s, {token, cursor, lastEventId, query, method = 'GET', headers = {}} = {}) {
  const q = query ?? (cursor === undefined ? '' : `?cursor=${cursor}`);
  const url = new URL(`api/stream${q}`, s.baseUrl);
  const h = {...headers};
  if (token) h.Authorization = `Bearer ${token}`;
  if (lastEventId !== undefined) h['Last-Event-ID'] = String(lastEventId);
  return new Promise((resolve, reject) => {
    const req = http.request(url, {method, headers: h, agent: false}, (res) => {
      res.setEncoding('utf8');
      if (res.statusCode !== 200) {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({status: res.statusCode, headers: res.headers, json: JSON.parse(text)}));
        return;
      }
      let buf = '';
      const queue = [];
      const waiters = [];
      const blocks = [];
      let done = false;
      const st = {status: 200, headers: res.headers, blocks, bytes: 0, chunks: 0, req, res};
      const push = (ev) => {
        const w = waiters.shift();
        if (w) w(ev);
        else queue.push(ev);
      };
      res.on('data', (chunk) => {
        st.bytes += Buffer.byteLength(chunk);
        st.chunks++;
        buf += chunk;
        let i;
        while ((i = buf.indexOf('\n\n')) !== -1) {
          // When it arrived, and in which read (blocks written together may share one).
          const b = {...parseBlock(buf.slice(0, i)), at: performance.now(), chunk: st.chunks};
          buf = buf.slice(i + 2);
          blocks.push(b);
          if (b.data !== null) push(b);
        }
      });
      st.ended = new Promise((r) => {
        const end = () => {
          if (done) return;
          done = true;
          for (const w of waiters.splice(0)) w(null);
          r();
        };
        res.on('end', end);
        res.on('close', end);
        res.on('error', end);
      });
      st.next = () => (queue.length ? Promise.resolve(queue.shift()) : done ? Promise.resolve(null) : new Promise((r) => waiters.push(r)));
      st.close = () => req.destroy();
      resolve(st);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Reads events from st until one satisfies pred (or the stream ends: null); returns it. */
async function nextUntil(st, pred, ms = 10_000) {
  const end = performance.now() + ms;
  for (;;) {
    const left = end - performance.now();
    assert.ok(left > 0, 'the awaited event came in time');
    const ev = await within(st.next(), left);
    if (ev === null || ev === undefined) return null;
    if (pred(ev)) return ev;
  }
}

const texts = (ev) => ev.data.events.filter((e) => e.type === 'new_message').map((e) => e.data.text);

// ---------------------------------------------------------------------------------------------

for (const server of SERVERS) describe(`the stream answered by ${server}`, () => {
  let stack; // short lifetime and keepalive
  let quick; // short retention; a small byte bound; few streams per address
  before(async () => {
    [stack, quick] = await Promise.all([
      startStack({
        workerArgs: ['--poll-timeout', '5'],
        env: {NOOM_STREAM: server, NOOM_WS_ARGS: `--stream-lifetime ${LIFETIME_S} --stream-keepalive ${KEEPALIVE_S}`},
      }),
      startStack({
        workerArgs: ['--poll-timeout', '2', '--retention', '2'],
        env: {NOOM_STREAM: server, NOOM_WS_ARGS: `--stream-bytes ${BYTES} --streams-per-client ${PER_CLIENT}`},
      }),
    ]);
  });
  after(async () => {
    await Promise.all([stack?.stop(), quick?.stop()]);
  });

  test('the answer is an unbuffered event stream; each event is a poll answer whose id is its cursor', {timeout: 30_000}, async () => {
    const ann = await newSession(stack, 'Ann');
    const j = await join(stack, ann.token, 'st-basic');
    const st = await openStream(stack, {token: ann.token, cursor: j.cursor, headers: {'Accept-Encoding': 'gzip, br'}});
    assert.equal(st.status, 200);
    assert.match(st.headers['content-type'], /^text\/event-stream/);
    assert.match(st.headers['cache-control'], /no-store/);
    assert.equal(st.headers['content-encoding'], undefined, 'not compressed');
    assert.equal(st.headers['content-length'], undefined, 'no length: it streams');
    assert.equal(st.headers['x-noom-transport'], 'stream');
    const first = await st.next();
    assert.equal(first.id, j.cursor);
    assert.deepEqual(first.data, {cursor: j.cursor, events: []});
    // An event posted now arrives on the open response (nothing holds it back).
    const t0 = performance.now();
    await say(stack, ann.token, 'hello stream');
    const got = await nextUntil(st, (ev) => texts(ev).includes('hello stream'));
    console.log(`stream: a chat message arrived ${(performance.now() - t0).toFixed(0)} ms after its POST was sent`);
    assert.equal(got.id, got.data.cursor);
    assert.ok(got.data.events.every((e) => e.seq > j.cursor && e.seq <= got.data.cursor));
    // The same answer a poll from the same cursor gets.
    const p = await poll(stack, ann.token, j.cursor);
    assert.deepEqual(texts({data: p.json}), ['hello stream']);
    st.close();
  });

  test('the stream ends by itself after its lifetime, with keepalive comments while idle', {timeout: 30_000}, async () => {
    const ann = await newSession(stack, 'Ann');
    const t0 = performance.now();
    const st = await openStream(stack, {token: ann.token, cursor: 0});
    assert.equal(st.status, 200);
    const ended = await within(st.ended.then(() => true), LIFETIME_S * 1000 + 10_000);
    assert.ok(ended, 'the stream ended by itself');
    console.log(`stream: ended by itself after ${(performance.now() - t0).toFixed(0)} ms (lifetime ${LIFETIME_S} s)`);
    assert.ok(st.blocks.some((b) => b.comment === 'keepalive'), 'a keepalive comment was sent');
  });

  test('keepalive comments only on an idle stream: none while events keep coming', {timeout: 30_000}, async () => {
    const ann = await newSession(stack, 'Ann');
    const j = await join(stack, ann.token, 'st-keepalive');
    const st = await openStream(stack, {token: ann.token, cursor: j.cursor});
    assert.equal(st.status, 200);
    // A message every 80 ms (well inside the keepalive interval) until the stream ends by itself.
    let posting = true;
    const poster = (async () => {
      for (let i = 0; posting; i++) {
        await say(stack, ann.token, `tick ${i}`);
        await sleep(80);
      }
    })();
    await within(st.ended, LIFETIME_S * 1000 + 10_000);
    posting = false;
    await poster;
    const events = st.blocks.filter((b) => b.data !== null).length;
    const comments = st.blocks.filter((b) => b.comment === 'keepalive');
    console.log(`stream: ${events} events and ${comments.length} keepalive comments while a message came every 80 ms (keepalive ${KEEPALIVE_S} s)`);
    assert.ok(events >= 3, 'messages came on the stream');
    // A comment only follows a silence of the keepalive interval (half of it as the slack for a
    // client that read late; a comment read together with the block before it proves nothing).
    for (const c of comments) {
      const prev = st.blocks[st.blocks.indexOf(c) - 1];
      if (prev && prev.chunk !== c.chunk)
        assert.ok(c.at - prev.at >= (KEEPALIVE_S * 1000) / 2, `a comment ${(c.at - prev.at).toFixed(0)} ms after the block before it`);
    }
  });

  test('the stream ends by itself after its volume; the client resumes from the last id', {timeout: 30_000}, async () => {
    const ann = await newSession(quick, 'Ann');
    const j = await join(quick, ann.token, 'st-bytes');
    const st = await openStream(quick, {token: ann.token, cursor: j.cursor});
    let last = (await st.next()).id;
    // One message at a time, each read before the next is sent, so that each answer carries one
    // (a loaded machine would otherwise batch them all into one answer, which the bound cannot
    // cut): the stream ends once its answers pass BYTES, and the later messages wait for the next.
    const sent = [];
    const got = [];
    let open = true;
    const read = async (until) => {
      while (open && !got.includes(until)) {
        const ev = await within(st.next(), 10_000);
        if (!ev) {
          open = false;
          break;
        }
        got.push(...texts(ev));
        last = ev.id;
      }
    };
    for (let i = 0; i < 10; i++) {
      sent.push(`v${i} ${'x'.repeat(900)}`);
      await say(quick, ann.token, sent[i]);
      await read(sent[i]);
    }
    await read(null);
    assert.ok(st.bytes >= BYTES, `ended after ${st.bytes} bytes, bound ${BYTES}`);
    assert.ok(got.length < sent.length, 'the bound cut the stream before the last message');
    const again = await openStream(quick, {token: ann.token, lastEventId: last});
    while (got.length < sent.length) {
      const ev = await within(again.next(), 10_000);
      assert.ok(ev, 'the next stream carries the rest');
      got.push(...texts(ev));
    }
    assert.deepEqual(got, sent, 'every message once, in order, across the end');
    again.close();
  });

  test('Last-Event-ID resumes; an explicit cursor wins over it', {timeout: 30_000}, async () => {
    const ann = await newSession(stack, 'Ann');
    const j = await join(stack, ann.token, 'st-resume');
    await say(stack, ann.token, 'one');
    const mid = (await poll(stack, ann.token, j.cursor)).json.cursor;
    await say(stack, ann.token, 'two');
    const byId = await openStream(stack, {token: ann.token, lastEventId: mid});
    assert.deepEqual(texts(await byId.next()), ['two']);
    byId.close();
    const both = await openStream(stack, {token: ann.token, cursor: j.cursor, lastEventId: mid});
    assert.deepEqual(texts(await both.next()), ['one', 'two']);
    both.close();
  });

  test('a cursor not in the kept log gets the resync answer', {timeout: 40_000}, async () => {
    const ann = await newSession(quick, 'Ann');
    const far = await openStream(quick, {token: ann.token, cursor: 1e12});
    const f = await far.next();
    assert.equal(f.data.resync, true, JSON.stringify(f.data));
    assert.equal(f.id, f.data.cursor);
    far.close();
    await join(quick, ann.token, 'st-resync');
    await say(quick, ann.token, 'old');
    const t0 = performance.now();
    while (!(await poll(quick, ann.token, 0)).json.resync) {
      assert.ok(performance.now() - t0 < 20_000, 'trimmed within 20 s');
      await sleep(500);
    }
    const st = await openStream(quick, {token: ann.token, cursor: 0});
    const first = await st.next();
    assert.equal(first.data.resync, true);
    await say(quick, ann.token, 'new');
    const got = await nextUntil(st, (ev) => texts(ev).includes('new'));
    assert.ok(got.data.events.every((e) => e.seq > first.data.cursor));
    st.close();
  });

  test('errors come before the stream, as JSON with their status', {timeout: 30_000}, async () => {
    const ann = await newSession(stack, 'Ann');
    const cases = [
      [{cursor: 0}, 401, 'unauthorized'],
      [{cursor: 0, token: 'f'.repeat(32)}, 401, 'unauthorized'],
      [{token: ann.token}, 400, 'bad_cursor'],
      [{token: ann.token, query: '?cursor=-1'}, 400, 'bad_cursor'],
      [{token: ann.token, query: '?cursor=12abc'}, 400, 'bad_cursor'],
      [{token: ann.token, lastEventId: 'nope'}, 400, 'bad_cursor'],
      [{token: ann.token, cursor: 0, method: 'POST'}, 405, 'method_not_allowed'],
    ];
    for (const [opts, status, error] of cases) {
      const r = await openStream(stack, opts);
      assert.equal(r.status, status, JSON.stringify(opts));
      assert.equal(r.json.error, error, JSON.stringify(opts));
      assert.match(r.headers['content-type'], /^application\/json/);
    }
    // The gateway still serves.
    const st = await openStream(stack, {token: ann.token, cursor: 0});
    assert.equal(st.status, 200);
    st.close();
  });

  test('limits: streams per client address (429), per session (the oldest is replaced)', {timeout: 30_000}, async () => {
    const users = await Promise.all([1, 2, 3, 4, 5].map((i) => newSession(quick, `U${i}`)));
    const open = [];
    for (const u of users.slice(0, PER_CLIENT)) {
      const st = await openStream(quick, {token: u.token, cursor: 0});
      assert.equal(st.status, 200);
      await st.next();
      open.push(st);
    }
    const refused = await openStream(quick, {token: users[4].token, cursor: 0});
    assert.equal(refused.status, 429);
    assert.equal(refused.json.error, 'rate_limited');
    const m = await api(quick, 'GET', 'metrics');
    assert.match(m.text, /noom_rate_limited_total\{[^}]*kind="streams"[^}]*\} [1-9]/);
    assert.match(m.text, new RegExp(`noom_open_streams\\{process="${server}"\\} [1-9]`));
    for (const st of open.splice(0)) {
      st.close();
      await st.ended;
    }
    // The server hears of those closes a moment later (the gateway through nginx): wait until
    // it counts none.
    const t0 = performance.now();
    const none = new RegExp(`noom_open_streams\\{process="${server}"\\} 0\\b`);
    while (!none.test((await api(quick, 'GET', 'metrics')).text)) {
      assert.ok(performance.now() - t0 < 15_000, `the closed streams are gone from ${server} within 15 s`);
      await sleep(100);
    }
    // One session, three streams: the third replaces the first (close event 4409).
    const u = users[0];
    const a = await openStream(quick, {token: u.token, cursor: 0});
    await a.next();
    const b = await openStream(quick, {token: u.token, cursor: 0});
    await b.next();
    const c = await openStream(quick, {token: u.token, cursor: 0});
    await c.next();
    await within(a.ended, 5000);
    const close = a.blocks.find((x) => x.event === 'close');
    assert.equal(close?.data.code, 4409, JSON.stringify(a.blocks));
    b.close();
    c.close();
  });

  if (server === 'nginx') {
    test('an nginx reload ends each stream whole with 1001, and the client resumes from its last id', {timeout: 30_000}, async () => {
      const ann = await newSession(stack, 'Ann');
      const j = await join(stack, ann.token, 'st-reload');
      await say(stack, ann.token, 'before');
      const st = await openStream(stack, {token: ann.token, cursor: j.cursor});
      const first = await nextUntil(st, (ev) => texts(ev).includes('before'));
      const t0 = performance.now();
      process.kill(stack.nginxPid(), 'SIGHUP');
      assert.ok(await within(st.ended.then(() => true), 10_000), 'the old worker process ended the stream');
      console.log(`stream: ended ${(performance.now() - t0).toFixed(0)} ms after the reload`);
      // Ended whole (its last chunk, not cut) after a "going away" close event.
      assert.equal(st.res.complete, true, 'the response was complete');
      const close = st.blocks.find((x) => x.event === 'close');
      assert.equal(close?.data.code, 1001, JSON.stringify(st.blocks.slice(-3)));
      await say(stack, ann.token, 'after');
      const again = await openStream(stack, {token: ann.token, lastEventId: first.id});
      const got = await nextUntil(again, (ev) => texts(ev).includes('after'));
      assert.deepEqual(texts(got), ['after'], 'resumed after the last id, nothing repeated');
      again.close();
    });
  }

  /**
   * The open-streams gauge of the process that answers them, once it reads want (null: as it is).
   * A request may fail once on a kept-alive connection whose nginx worker process was killed.
   */
  async function openGauge(s, want = null, ms = 10_000) {
    const end = performance.now() + ms;
    for (;;) {
      const m = await api(s, 'GET', 'metrics').catch((e) => {
        if (performance.now() > end) throw e;
        return {text: ''};
      });
      const v = Number(m.text.match(new RegExp(`^noom_open_streams\\{process="${server === 'nginx' ? 'nginx' : 'gateway'}"\\} (\\d+)$`, 'm'))?.[1]);
      if (want === null || v === want || performance.now() > end) return v;
      await sleep(100);
    }
  }

  test('the open-streams gauge follows the streams, and forgets those of a killed nginx worker process', {timeout: 40_000}, async (t) => {
    const users = await Promise.all([1, 2].map((i) => newSession(quick, `G${i}`)));
    const base = await openGauge(quick, 0);
    assert.equal(base, 0, 'no stream open before');
    const open = [];
    for (const u of users) {
      const st = await openStream(quick, {token: u.token, cursor: 0});
      assert.equal(st.status, 200);
      await st.next();
      open.push(st);
    }
    assert.equal(await openGauge(quick, 2), 2);
    // Under valgrind (tests/valgrind.sh) no nginx process is killed: memcheck could check none.
    if (server !== 'nginx' || process.env.NOOM_TEST_NGINX_NO_KILL) {
      for (const st of open) st.close();
      assert.equal(await openGauge(quick, 0), 0);
      return;
    }
    // Every nginx worker process killed with the streams open: nginx starts new ones.
    const master = quick.nginxPid();
    const workers = () => fs.readFileSync(`/proc/${master}/task/${master}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    const victims = workers();
    for (const pid of victims) process.kill(pid, 'SIGKILL');
    t.diagnostic(`SIGKILL nginx workers ${victims.join(' ')}`);
    for (const st of open) assert.equal(await within(st.ended.then(() => true), 10_000), true, 'the stream ended');
    assert.equal(await openGauge(quick, 0), 0, 'the killed processes\' streams are not counted');
    const again = await openStream(quick, {token: users[0].token, cursor: 0});
    assert.equal(again.status, 200);
    await again.next();
    assert.equal(await openGauge(quick, 1), 1, 'a stream on the new processes is');
    again.close();
    assert.equal(await openGauge(quick, 0), 0);
  });

  test('every event exactly once, in order, across stream ends, a worker kill -9, an nginx reload and Last-Event-ID reconnects', {timeout: 90_000}, async (t) => {
    const room = 'st-once';
    const poster = await newSession(stack, 'Poster');
    const reader = await newSession(stack, 'Reader');
    await join(stack, poster.token, room);
    const rj = await join(stack, reader.token, room);
    const N = 50;
    const acked = [];
    let stop = false;
    t.after(() => (stop = true));
    const posting = (async () => {
      for (let i = 0; i < N && !stop; i++) {
        const body = {text: `m${String(i).padStart(3, '0')}`, client_id: `st-once-${i}`};
        for (let attempt = 0; attempt < 50 && !stop; attempt++) {
          const res = await api(stack, 'POST', 'api/messages', {token: poster.token, body, timeoutMs: 5000}).catch(() => null);
          if (res && (res.status === 201 || res.status === 200)) {
            acked.push(body.text);
            break;
          }
          await sleep(res?.status === 429 ? 300 : 100);
        }
        await sleep(120);
      }
    })();
    // The reader: a stream, reconnected at once from its last id (as EventSource does) whenever
    // it ends; connection errors are retried with the same id.
    const received = [];
    let last = rj.cursor;
    let streams = 0;
    const reading = (async () => {
      while (!stop && !(acked.length === N && received.length >= N)) {
        let st;
        try {
          st = await openStream(stack, {token: reader.token, lastEventId: last});
        } catch {
          await sleep(100);
          continue;
        }
        if (st.status !== 200) {
          await sleep(100);
          continue;
        }
        streams++;
        for (let ev; (ev = await within(st.next(), 3000)); ) {
          if (ev.event === 'close') continue; // "going away" (a reload), the stream ends next
          assert.ok(ev.id >= last, `ids never go back (${ev.id} after ${last})`);
          received.push(...texts(ev));
          last = ev.id;
          if (acked.length === N && received.length >= N) break;
        }
        st.close();
      }
    })();
    const waitAcked = async (n) => {
      while (acked.length < n) await sleep(50);
    };
    await waitAcked(15);
    const [victim] = stack.workerPids();
    process.kill(victim, 'SIGKILL');
    t.diagnostic(`SIGKILL worker ${victim} after ${acked.length} messages`);
    await waitAcked(30);
    process.kill(stack.nginxPid(), 'SIGHUP');
    t.diagnostic(`nginx reloaded after ${acked.length} messages`);
    const done = await within(Promise.all([posting, reading]).then(() => true), 70_000);
    stop = true;
    assert.ok(done, `finished: acked ${acked.length}, received ${received.length}`);
    await sleep(500);
    console.log(`stream: ${N} messages over ${streams} streams (lifetime ${LIFETIME_S} s, a kill -9, an nginx reload)`);
    assert.ok(streams >= 2, 'the reader went through several streams');
    assert.deepEqual(received, acked, 'every message exactly once, in order');
    assert.equal(new Set(received).size, N);
    const m = await api(stack, 'GET', 'metrics');
    assert.match(m.text, /noom_events_delivered_total\{transport="stream"\} [1-9]/);
  });
});
