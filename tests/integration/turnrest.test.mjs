// TURN credentials for Janus (PREFIX/api/turn-rest, fcgi/call.c): with TURN configured, noom-run
// points Janus's turn_rest_api at the workers through nginx with a key of its own; the endpoint
// gives the right key the same kind of credential a page gets, refuses any other key, and is
// closed to every address but loopback; Janus really asks it when it sets up a PeerConnection;
// and the key is in no log. (Without TURN: tests/integration/sfu.test.mjs.)
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {startStack, api, newSession, join, sleep, getFrom} from '../lib/stack.js';
import {JanusClient, janusInstalled} from '../lib/janus.js';

const skip = janusInstalled() ? false : 'janus is not installed (apt-get install janus libjs-janus-gateway): TURN REST tests skipped';
if (skip) console.log(`# ${skip}`);

// A TURN server nobody runs: Janus only has to ask for credentials, not to reach it.
const TURN_URL = 'turn:127.0.0.1:3478?transport=udp';
const TURN_SECRET = 'turn-rest-test-secret';

let stack;
let key;
before(async () => {
  if (skip) return;
  stack = await startStack({
    prefix: '/noom',
    workerArgs: ['--mesh-max', '2', '--poll-timeout', '2'],
    config: `turn = ${TURN_URL}\nturn_secret = ${TURN_SECRET}\n`,
    sfu: true,
  });
  key = /^turn_rest_key = (\S+)$/m.exec(fs.readFileSync(path.join(stack.stateDir, 'janus', 'noom-janus.conf'), 'utf8'))?.[1];
});
after(async () => {
  await stack?.stop();
});

const restPath = (query) => `api/turn-rest?${new URLSearchParams(query)}`;

/* The coturn REST-API password of username: base64(HMAC-SHA1(turn_secret, username)). */
const password = (username) => crypto.createHmac('sha1', TURN_SECRET).update(username).digest('base64');

function checkCredential(json) {
  const m = /^(\d+):janus$/.exec(json.username);
  assert.ok(m, `username "<expiry>:janus", got ${json.username}`);
  const expiry = Number(m[1]);
  const now = Math.floor(Date.now() / 1000);
  assert.ok(expiry >= now + 600 - 5 && expiry <= now + 600 + 5, 'valid turn_ttl (600 s) from now');
  assert.equal(json.password, password(json.username));
  assert.equal(json.ttl, 600);
  assert.deepEqual(json.uris, [TURN_URL]);
}

test('noom-run points Janus at the endpoint, with a key only it and the workers know', {skip}, () => {
  assert.match(key ?? '', /^[A-Za-z0-9]{32,}$/, 'noom-janus.conf has a turn_rest_key');
  const core = fs.readFileSync(path.join(stack.stateDir, 'janus', 'janus.jcfg'), 'utf8');
  const nat = /^nat: \{([^}]*)\}/m.exec(core)?.[1] ?? '';
  assert.match(nat, new RegExp(`^\\s*turn_rest_api = "http://127\\.0\\.0\\.1:${stack.port}/noom/api/turn-rest"$`, 'm'));
  assert.match(nat, new RegExp(`^\\s*turn_rest_api_key = "${key}"$`, 'm'));
  assert.match(nat, /^\s*turn_rest_api_method = "GET"$/m);
  for (const f of ['janus.jcfg', 'noom-janus.conf']) {
    assert.equal(fs.statSync(path.join(stack.stateDir, 'janus', f)).mode & 0o777, 0o600, `${f} holds the key: owner only`);
  }
});

test('the right key gets a TURN credential as a page does; any other key a 403', {skip}, async () => {
  // What Janus sends (src/turnrest.c): the key twice, as api and as key, and a username of its own.
  const ok = await api(stack, 'GET', restPath({service: 'turn', api: key, key, username: 'someone-else'}));
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.headers.get('cache-control'), 'no-store');
  checkCredential(ok.json);

  // POST, the parameters in a form body.
  const post = await api(stack, 'POST', 'api/turn-rest', {
    rawBody: new URLSearchParams({service: 'turn', key}).toString(),
    headers: {'Content-Type': 'application/x-www-form-urlencoded'},
  });
  assert.equal(post.status, 200, post.text);
  checkCredential(post.json);

  for (const query of [{service: 'turn', key: `${key}x`}, {service: 'turn', key: key.slice(1)}, {service: 'turn'}, {service: 'turn', api: key}]) {
    const res = await api(stack, 'GET', restPath(query));
    assert.equal(res.status, 403, JSON.stringify(query));
    assert.equal(res.json.error, 'forbidden');
    assert.equal(res.json.password, undefined);
  }
  const stun = await api(stack, 'GET', restPath({service: 'stun', key}));
  assert.equal(stun.status, 400);
  assert.equal(stun.json.field, 'service');
  const put = await api(stack, 'PUT', restPath({service: 'turn', key}));
  assert.equal(put.status, 405);
});

test('nginx answers the endpoint to loopback only', {skip}, async () => {
  const conf = fs.readFileSync(path.join(stack.stateDir, 'nginx', 'noom-nginx.conf'), 'utf8');
  const loc = /location = \/noom\/api\/turn-rest \{([^}]*)\}/.exec(conf);
  assert.ok(loc, 'the snippet has a location for /noom/api/turn-rest');
  assert.match(loc[1], /allow 127\.0\.0\.1;\s*allow ::1;\s*deny all;/);
  // Even with the right key, a foreign address is refused, in the API's JSON shape.
  const foreign = await getFrom(stack, '127.0.0.2', `/noom/${restPath({service: 'turn', key})}`);
  assert.equal(foreign.status, 403);
  assert.match(foreign.type, /application\/json/);
  assert.equal(JSON.parse(foreign.body).error, 'forbidden');
  assert.doesNotMatch(foreign.body, /password/);
  const local = await getFrom(stack, '127.0.0.1', `/noom/${restPath({service: 'turn', key})}`);
  assert.equal(local.status, 200);
});

/* An SDP offer of one audio stream, as a browser would send (what Janus needs to set up ICE). */
function audioOffer() {
  const fingerprint = crypto.randomBytes(32).toString('hex').toUpperCase().match(/../g).join(':');
  return [
    'v=0', `o=- ${Date.now()} 2 IN IP4 127.0.0.1`, 's=-', 't=0 0', 'a=group:BUNDLE 0', 'a=msid-semantic: WMS',
    'm=audio 9 UDP/TLS/RTP/SAVPF 111', 'c=IN IP4 0.0.0.0', 'a=rtcp:9 IN IP4 0.0.0.0',
    `a=ice-ufrag:${crypto.randomBytes(4).toString('hex')}`, `a=ice-pwd:${crypto.randomBytes(12).toString('hex')}`,
    'a=ice-options:trickle', `a=fingerprint:sha-256 ${fingerprint}`, 'a=setup:actpass', 'a=mid:0', 'a=sendonly',
    'a=rtcp-mux', 'a=rtpmap:111 opus/48000/2', 'a=ssrc:1234 cname:noom-test', '',
  ].join('\r\n');
}

const turnRestLines = () => stack.logs().split('\n').filter((l) => /info: request: GET \/api\/turn-rest \d+/.test(l));

/* noom_turn_credentials_total{recipient} now. */
async function issued(recipient) {
  const metrics = await api(stack, 'GET', 'metrics');
  assert.equal(metrics.status, 200);
  const m = new RegExp(`^noom_turn_credentials_total\\{recipient="${recipient}"\\} (\\d+)$`, 'm').exec(metrics.text);
  assert.ok(m, `noom_turn_credentials_total{recipient="${recipient}"}`);
  return Number(m[1]);
}

test('Janus asks the endpoint when it sets up a PeerConnection, and is answered 200', {skip}, async () => {
  const before = turnRestLines().length;
  const issuedBefore = await issued('janus');
  const membersBefore = await issued('member');
  const members = [];
  for (const nick of ['Ada', 'Bob', 'Cy']) {
    const s = await newSession(stack, nick);
    await join(stack, s.token, 'turn-team');
    members.push(s);
  }
  const cfg = (await api(stack, 'GET', 'api/call', {token: members[2].token})).json;
  assert.equal(cfg.mode, 'sfu', 'three members with mesh_max 2: the call is on Janus');
  const jc = new JanusClient(stack.baseUrl, cfg.sfu.token);
  assert.equal(await jc.open(), null);
  const joined = await jc.ask({request: 'join', ptype: 'publisher', room: cfg.sfu.room, id: cfg.sfu.feed, display: String(members[2].session), token: cfg.sfu.join});
  assert.equal(joined.videoroom, 'joined', JSON.stringify(joined));
  // Publishing: Janus sets up ICE for the offer, asking for TURN credentials first.
  const configured = await jc.ask({request: 'configure', audio: true, video: false}, {type: 'offer', sdp: audioOffer()});
  assert.equal(configured.configured, 'ok', JSON.stringify(configured));
  assert.equal(configured.jsep?.type, 'answer');
  // Counted apart from the credentials of members: one in each of the three join answers (they
  // carry the call configuration) and one for Cy's GET api/call above.
  assert.ok(await issued('janus') > issuedBefore, 'Janus got a credential');
  assert.equal(await issued('member'), membersBefore + 4);
  const deadline = Date.now() + 10_000;
  while (turnRestLines().length === before && Date.now() < deadline) await sleep(100);
  const asked = turnRestLines().slice(before);
  assert.ok(asked.length >= 1, 'the worker log shows the requests to /api/turn-rest');
  assert.ok(asked.every((l) => / 200 /.test(l)), asked.join('\n'));
});

test('the key is in no log: not nginx\'s, the workers\', nor Janus\'s', {skip}, () => {
  const logs = [stack.logs()];
  for (const f of ['nginx/access.log', 'nginx/error.log', 'janus/janus.log', 'janus/janus.out']) {
    try {
      logs.push(fs.readFileSync(path.join(stack.stateDir, f), 'utf8'));
    } catch {}
  }
  assert.ok(logs.join('').includes('/api/turn-rest'), 'the requests are logged, by route');
  for (const text of logs) assert.ok(!text.includes(key));
});
