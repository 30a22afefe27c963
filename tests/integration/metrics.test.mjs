// The operator's metrics (docs/API.md, "Metrics"): PREFIX/metrics in the Prometheus text format,
// checked by promtool; counters that move with traffic and add up across the worker processes
// and the gateway, and survive a worker's restart; gauges per process; loopback only.
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {spawnSync} from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import {startStack, api, newSession, join, say, poll, sleep, within, getFrom} from '../lib/stack.js';

// A TURN server the workers make credentials for (nothing listens there: none is used), and
// two rooms per client address a minute, so that a third room is refused.
const CONFIG = 'turn = turn:127.0.0.1:3478?transport=udp\nturn_secret = metrics-test\nlimit_rooms = 2/0.01\n';

let stack;
before(async () => {
  stack = await startStack({prefix: '/noom', workers: 2, workerArgs: ['--poll-timeout', '2'], config: CONFIG});
});
after(async () => {
  await stack?.stop();
});

/** The samples of an exposition: [{name, labels, value}]. */
function parse(text) {
  const samples = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `not a sample line: ${line}`);
    const labels = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/([a-z_]+)="([^"]*)"/g)) labels[k] = v;
    samples.push({name: m[1], labels, value: Number(m[3])});
  }
  return samples;
}

/** GET PREFIX/metrics, parsed; with the raw text. */
async function scrape() {
  const r = await api(stack, 'GET', 'metrics');
  assert.equal(r.status, 200, r.text);
  return {text: r.text, samples: parse(r.text), headers: r.headers};
}

/** The sum of the samples of name whose labels include labels (0 if none). */
function value(samples, name, labels = {}) {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

function promtool() {
  for (const dir of (process.env.PATH ?? '').split(':').concat('/usr/bin')) {
    const p = path.join(dir, 'promtool');
    if (dir && fs.existsSync(p)) return p;
  }
  return null;
}

test('PREFIX/metrics is the Prometheus text format, and promtool finds nothing wrong', async (t) => {
  const {text, samples, headers} = await scrape();
  assert.equal(headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  for (const name of ['noom_sessions', 'noom_rooms', 'noom_call_members', 'noom_waiting_polls', 'noom_open_websockets',
    'noom_events_written_total', 'noom_events_delivered_total', 'noom_events_delivered_by_type_total', 'noom_http_requests_total',
    'noom_poll_wait_seconds_count', 'noom_db_write_transaction_seconds_bucket', 'noom_db_busy_retries_total',
    'noom_doorbell_rings_total', 'noom_worker_restarts_total', 'noom_rate_limited_total',
    'noom_turn_credentials_total']) {
    assert.ok(samples.some((s) => s.name === name), `${name} is missing`);
  }
  assert.deepEqual(samples.filter((s) => s.name === 'noom_waiting_polls').map((s) => s.labels.process), ['worker-1', 'worker-2']);
  assert.deepEqual(samples.filter((s) => s.name === 'noom_open_websockets').map((s) => s.labels.process), ['gateway']);
  const tool = promtool();
  if (!tool) {
    t.skip('promtool not found (Debian: apt-get install prometheus): the format was not checked by it');
    return;
  }
  const run = spawnSync(tool, ['check', 'metrics'], {input: text, encoding: 'utf8'});
  assert.equal(run.status, 0, `promtool check metrics:\n${run.stdout}${run.stderr}`);
  assert.equal(`${run.stdout}${run.stderr}`.trim(), '', 'promtool has remarks');
});

test('counters and gauges move with traffic', {timeout: 30_000}, async () => {
  const before = (await scrape()).samples;
  const ann = await newSession(stack, 'Ann');
  const bob = await newSession(stack, 'Bob');
  await join(stack, ann.token, 'metrics');
  const joined = await join(stack, bob.token, 'metrics');
  await say(stack, ann.token, 'hello');
  const answer = await poll(stack, bob.token, joined.cursor);
  assert.ok(answer.json.events.length >= 1);
  const call = await api(stack, 'GET', 'api/call', {token: ann.token});
  assert.equal(call.status, 200, call.text);
  // An unlisted room, then a third room from the same address, over limit_rooms.
  const carl = await newSession(stack, 'Carl');
  const secret = await api(stack, 'POST', 'api/join', {token: carl.token, body: {room: 'secret', unlisted: true}});
  assert.equal(secret.status, 200, secret.text);
  const refused = await api(stack, 'POST', 'api/join', {token: carl.token, body: {room: 'another'}});
  assert.equal(refused.status, 429, refused.text);

  const now = (await scrape()).samples;
  const moved = (name, labels) => value(now, name, labels) - value(before, name, labels);
  assert.equal(moved('noom_sessions'), 3);
  assert.equal(value(now, 'noom_rooms', {visibility: 'listed'}), 1);
  assert.equal(value(now, 'noom_rooms', {visibility: 'unlisted'}), 1);
  assert.equal(value(now, 'noom_call_members', {mode: 'mesh'}), 3);
  assert.equal(value(now, 'noom_call_members', {mode: 'chat-only'}), 0);
  assert.equal(moved('noom_events_written_total', {type: 'new_message'}), 1);
  assert.equal(moved('noom_events_written_total', {type: 'welcome'}), 3);
  assert.equal(moved('noom_events_written_total', {type: 'room_joined'}), 3);
  assert.ok(moved('noom_events_delivered_total', {transport: 'poll'}) >= answer.json.events.length);
  // Delivered by type, whatever the transport: at least what Bob's answer carried of each.
  for (const type of new Set(answer.json.events.map((e) => e.type))) {
    assert.ok(moved('noom_events_delivered_by_type_total', {type}) >= answer.json.events.filter((e) => e.type === type).length, type);
  }
  assert.ok(moved('noom_events_delivered_by_type_total', {type: 'new_message'}) >= 1);
  assert.equal(moved('noom_http_requests_total', {route: 'session_create', status: '201'}), 3);
  assert.equal(moved('noom_http_requests_total', {route: 'join', status: '200'}), 3);
  assert.equal(moved('noom_http_requests_total', {route: 'join', status: '429'}), 1);
  assert.equal(moved('noom_http_requests_total', {route: 'messages', status: '201'}), 1);
  assert.equal(moved('noom_http_request_duration_seconds_count', {route: 'messages'}), 1);
  assert.ok(moved('noom_http_request_duration_seconds_sum', {route: 'messages'}) > 0);
  assert.ok(moved('noom_doorbell_rings_total') >= 3, 'two joins and a message ring');
  assert.ok(moved('noom_db_write_transaction_seconds_count') >= 6, 'three sessions, two joins, a message');
  assert.equal(moved('noom_rate_limited_total', {scope: 'client', kind: 'rooms'}), 1);
  // One per join answer (each carries the call configuration) and one for GET api/call.
  assert.equal(moved('noom_turn_credentials_total', {recipient: 'member'}), 4);
  assert.equal(moved('noom_turn_credentials_total', {recipient: 'janus'}), 0);
  // Histograms: cumulative buckets, the last one the count.
  const buckets = now.filter((s) => s.name === 'noom_http_request_duration_seconds_bucket' && s.labels.route === 'messages');
  for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i].value >= buckets[i - 1].value);
  assert.equal(buckets.at(-1).labels.le, '+Inf');
  assert.equal(buckets.at(-1).value, value(now, 'noom_http_request_duration_seconds_count', {route: 'messages'}));
});

test('a parked poll is a gauge of its worker process, then a wait in the histogram', {timeout: 30_000}, async () => {
  const dee = await newSession(stack, 'Dee');
  const before = (await scrape()).samples;
  const parked = poll(stack, dee.token, dee.cursor);
  let during;
  for (let i = 0; i < 40; i++) {
    await sleep(50);
    during = (await scrape()).samples;
    if (value(during, 'noom_waiting_polls') >= 1) break;
  }
  assert.ok(value(during, 'noom_waiting_polls') >= 1, 'the poll waits in a worker');
  await parked; // --poll-timeout 2: answered empty
  const now = (await scrape()).samples;
  assert.equal(value(now, 'noom_waiting_polls'), 0);
  assert.ok(value(now, 'noom_poll_wait_seconds_count') > value(before, 'noom_poll_wait_seconds_count'));
  assert.ok(value(now, 'noom_poll_wait_seconds_sum') - value(before, 'noom_poll_wait_seconds_sum') >= 1.5);
});

/** A WebSocket to PREFIX/ws, authenticated; resolves {next(), close()} after its first frame. */
function websocket(token, cursor) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(stack.port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let upgraded = false;
    const waiters = [];
    const frames = [];
    const deliver = (f) => (waiters.length ? waiters.shift()(f) : frames.push(f));
    const client = {
      next: (ms = 5000) => (frames.length ? Promise.resolve(frames.shift()) : within(new Promise((r) => waiters.push(r)), ms)),
      close: () => sock.destroy(),
    };
    sock.on('error', reject);
    sock.on('connect', () => {
      sock.write(`GET ${stack.prefix}/ws HTTP/1.1\r\nHost: 127.0.0.1:${stack.port}\r\nUpgrade: websocket\r\n` +
        `Connection: Upgrade\r\nSec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}\r\n` +
        'Sec-WebSocket-Version: 13\r\n\r\n');
    });
    sock.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      if (!upgraded) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        if (!/^HTTP\/1\.1 101/.test(buf.toString('latin1', 0, end))) return reject(new Error(buf.toString()));
        upgraded = true;
        buf = buf.subarray(end + 4);
        const data = Buffer.from(JSON.stringify({token, cursor}));
        const key = crypto.randomBytes(4);
        const masked = Buffer.from(data.map((b, i) => b ^ key[i & 3]));
        sock.write(Buffer.concat([Buffer.from([0x81, 0x80 | data.length]), key, masked]));
        client.next().then((f) => (f ? resolve(client) : reject(new Error('no first frame'))));
      }
      // The server's frames: text answers (7- or 16-bit lengths) and pings, which are skipped.
      for (;;) {
        if (buf.length < 2) return;
        let len = buf[1] & 0x7f;
        let off = 2;
        if (len === 126) {
          if (buf.length < 4) return;
          len = buf.readUInt16BE(2);
          off = 4;
        }
        if (buf.length < off + len) return;
        const op = buf[0] & 0x0f;
        const payload = buf.subarray(off, off + len).toString();
        buf = buf.subarray(off + len);
        if (op === 1) deliver(JSON.parse(payload));
      }
    });
  });
}

test('open WebSockets are the gateway\'s gauge, and what they get is counted', {timeout: 30_000}, async () => {
  const eve = await newSession(stack, 'Eve');
  const joined = await join(stack, eve.token, 'metrics');
  const before = (await scrape()).samples;
  const ws = await websocket(eve.token, joined.cursor);
  try {
    assert.ok(value((await scrape()).samples, 'noom_open_websockets', {process: 'gateway'}) >= 1);
    await say(stack, eve.token, 'over the socket');
    let got = null;
    while (!got) {
      const f = await ws.next();
      if (!f) break;
      got = f.events.find((e) => e.type === 'new_message');
    }
    assert.ok(got, 'the message came over the WebSocket');
    const now = (await scrape()).samples;
    assert.ok(value(now, 'noom_events_delivered_total', {transport: 'websocket'}) >
      value(before, 'noom_events_delivered_total', {transport: 'websocket'}));
    assert.ok(value(now, 'noom_events_delivered_by_type_total', {type: 'new_message'}) >
      value(before, 'noom_events_delivered_by_type_total', {type: 'new_message'}), 'counted by type over a WebSocket too');
  } finally {
    ws.close();
  }
  for (let i = 0; i < 40; i++) {
    if (value((await scrape()).samples, 'noom_open_websockets', {process: 'gateway'}) === 0) break;
    await sleep(50);
  }
  assert.equal(value((await scrape()).samples, 'noom_open_websockets', {process: 'gateway'}), 0);
});

test('requests add up across both worker processes and survive a worker\'s restart', {timeout: 60_000}, async () => {
  const route = {route: 'healthz', status: '200'};
  const start = value((await scrape()).samples, 'noom_http_requests_total', route);
  const lineRe = /noom-worker\[(\d+)\]: info: request: GET \/healthz 200 /g;
  const servedBy = () => {
    const n = new Map();
    for (const [, pid] of stack.logs().matchAll(lineRe)) n.set(pid, (n.get(pid) ?? 0) + 1);
    return n;
  };
  // Concurrent requests make nginx open several connections. The workers accept with
  // EPOLLEXCLUSIVE, so an idle process first in the socket's queue may take them all: after a
  // while, the one that answered everything is killed outright (its counts must stay), and the
  // other process, or the one started in its place, answers the rest.
  let sent = 0;
  let killed = false;
  while (servedBy().size < 2 && sent < 2000) {
    const batch = await Promise.all(Array.from({length: 20}, () => api(stack, 'GET', 'healthz')));
    for (const r of batch) assert.equal(r.status, 200);
    sent += batch.length;
    if (!killed && sent >= 200 && servedBy().size === 1) {
      await sleep(300); // its last log lines, and any of the other process's that were late
      if (servedBy().size > 1) break;
      const [only] = servedBy().keys();
      killed = true;
      process.kill(Number(only), 'SIGKILL');
      for (let i = 0; i < 100 && (stack.workerPids().length < 2 || stack.workerPids().includes(Number(only))); i++) await sleep(50);
    }
  }
  await sleep(300); // the last log lines
  const served = servedBy();
  // Two processes, or three when one was killed above and its replacement answered too.
  assert.ok(served.size >= 2, `both worker processes answered (${JSON.stringify([...served])})`);
  let total = value((await scrape()).samples, 'noom_http_requests_total', route);
  assert.equal(total - start, sent, 'the sum over the processes is every request');
  assert.equal([...served.values()].reduce((a, b) => a + b, 0), sent + start);

  // A worker killed outright: the master starts another in its slot, nothing counted is lost.
  const pids = stack.workerPids();
  assert.equal(pids.length, 2);
  const restarts = value((await scrape()).samples, 'noom_worker_restarts_total');
  assert.equal(restarts, killed ? 1 : 0, 'the worker killed above was counted');
  process.kill(pids[0], 'SIGKILL');
  for (let i = 0; i < 100; i++) {
    const now = stack.workerPids();
    if (now.length === 2 && !now.includes(pids[0])) break;
    await sleep(50);
  }
  const after = (await scrape()).samples;
  assert.equal(value(after, 'noom_worker_restarts_total'), restarts + 1);
  total = value(after, 'noom_http_requests_total', route);
  assert.equal(total - start, sent, 'the counts of the dead worker are still there');
  assert.deepEqual(after.filter((s) => s.name === 'noom_waiting_polls').map((s) => s.labels.process), ['worker-1', 'worker-2']);
});

test('only loopback reads the metrics, and only under the prefix', async () => {
  const conf = fs.readFileSync(path.join(stack.stateDir, 'nginx', 'noom-nginx.conf'), 'utf8');
  const loc = /location = \/noom\/metrics \{([^}]*)\}/.exec(conf);
  assert.ok(loc, 'the snippet has a location for /noom/metrics');
  assert.match(loc[1], /allow 127\.0\.0\.1;\s*allow ::1;\s*deny all;/);
  // 127.0.0.2 is loopback too, but not an address the snippet allows: a foreign client.
  const foreign = await getFrom(stack, '127.0.0.2', '/noom/metrics');
  assert.equal(foreign.status, 403);
  assert.doesNotMatch(foreign.body, /noom_/);
  const local = await getFrom(stack, '127.0.0.1', '/noom/metrics');
  assert.equal(local.status, 200);
  // The other paths are for everyone, from any address.
  assert.equal((await getFrom(stack, '127.0.0.2', '/noom/healthz')).status, 200);
  // Outside the prefix there are no metrics.
  const outside = await api(stack, 'GET', '/metrics');
  assert.equal(outside.status, 404);
  assert.doesNotMatch(outside.text, /noom_/);
  // The route takes GET only.
  const post = await api(stack, 'POST', 'metrics', {body: {}});
  assert.equal(post.status, 405);
});
