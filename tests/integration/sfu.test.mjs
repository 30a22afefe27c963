// Calls past the mesh on Janus (fcgi/sfu.c), with a real Janus that noom-run starts on loopback
// behind the stack's own nginx: the call of a room moves onto a VideoRoom once it has more than
// mesh_max members; the tokens Noom issues let its members in and nobody else; a member who
// leaves, or publishes under another's name, is kicked; the VideoRoom goes with the last member.
// A screen share is a second publisher under the member's own screen id, display "SID:screen".
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import {startStack, api, newSession, join, leave, sleep} from '../lib/stack.js';
import {JanusClient, janusInstalled} from '../lib/janus.js';

const skip = janusInstalled() ? false : 'janus is not installed (apt-get install janus libjs-janus-gateway): SFU tests skipped';
if (skip) console.log(`# ${skip}`);

let stack;
before(async () => {
  if (skip) return;
  stack = await startStack({workerArgs: ['--mesh-max', '2', '--poll-timeout', '2'], sfu: true});
});
after(async () => {
  await stack?.stop();
});

async function member(nick, room) {
  const s = await newSession(stack, nick);
  await join(stack, s.token, room);
  return s;
}

async function callConfig(s) {
  const res = await api(stack, 'GET', 'api/call', {token: s.token});
  assert.equal(res.status, 200, res.text);
  return res.json;
}

/* Publish-side join of member s (as its page does) on a fresh Janus session. */
async function joinAsPublisher(s, cfg, {display = String(s.session), id = cfg.sfu.feed} = {}) {
  const jc = new JanusClient(stack.baseUrl, cfg.sfu.token);
  assert.equal(await jc.open(), null);
  const answer = await jc.ask({request: 'join', ptype: 'publisher', room: cfg.sfu.room, id, display, token: cfg.sfu.join});
  return {jc, answer};
}

async function participants(jc, room) {
  const data = await jc.ask({request: 'listparticipants', room});
  return (data.participants ?? []).map((p) => p.id);
}

async function until(what, fn, ms = 15_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(200);
  }
}

test('a call past mesh_max moves onto a VideoRoom; Noom tokens let its members in, nobody else', {skip}, async () => {
  const a = await member('Ada', 'sfu-team');
  const b = await member('Bob', 'sfu-team');
  let cfg = await callConfig(a);
  assert.equal(cfg.mode, 'mesh', 'two members: still the mesh');
  assert.equal(cfg.sfu_available, true);
  assert.equal(cfg.sfu, undefined);

  const c = await member('Cy', 'sfu-team');
  const cc = await callConfig(c);
  assert.equal(cc.mode, 'sfu');
  assert.equal(cc.in_call, true, 'on the SFU the third member is in the call');
  assert.equal(cc.sfu.path, 'janus');
  assert.ok(Number.isSafeInteger(cc.sfu.room) && cc.sfu.room > 0);
  assert.ok(!JSON.stringify(cc).includes('secret'), 'no room secret in the answer');
  const ac = await callConfig(a);
  assert.equal(ac.mode, 'sfu', 'the members already there move too');
  assert.equal(ac.sfu.room, cc.sfu.room, 'one VideoRoom for the room');
  assert.notEqual(ac.sfu.feed, cc.sfu.feed);
  const bc = await callConfig(b);

  // Janus refuses requests without a token, and tokens Noom did not sign.
  const anon = new JanusClient(stack.baseUrl, null);
  assert.equal((await anon.open()).error.code, 403);
  const [exp, sig] = ac.sfu.token.split(':');
  const forged = new JanusClient(stack.baseUrl, `${exp}:${Buffer.from(crypto.randomBytes(20)).toString('base64')}`);
  assert.ok(sig.length > 0);
  assert.equal((await forged.open()).error.code, 403);

  // Members publish with their join tokens.
  const pa = await joinAsPublisher(a, ac);
  assert.equal(pa.answer.videoroom, 'joined', JSON.stringify(pa.answer));
  const pc = await joinAsPublisher(c, cc);
  assert.equal(pc.answer.videoroom, 'joined', JSON.stringify(pc.answer));
  assert.deepEqual((await participants(pa.jc, ac.sfu.room)).sort(), [ac.sfu.feed, cc.sfu.feed].sort());

  // A session token alone does not open the room: the join token names it, and only Noom signs.
  const noJoin = new JanusClient(stack.baseUrl, bc.sfu.token);
  assert.equal(await noJoin.open(), null);
  const refused = await noJoin.ask({request: 'join', ptype: 'publisher', room: ac.sfu.room, display: String(b.session)});
  assert.equal(refused.error_code, 433, JSON.stringify(refused));

  // A member of another room gets no token for this one (its own call is a mesh).
  const d = await member('Dee', 'sfu-elsewhere');
  const dc = await callConfig(d);
  assert.equal(dc.mode, 'mesh');
  assert.equal(dc.sfu, undefined);
  const outsider = await newSession(stack, 'Out');
  assert.equal((await api(stack, 'GET', 'api/call', {token: outsider.token})).status >= 400, true);

  // Someone publishing under another member's name is kicked by the next maintenance pass.
  const fake = await joinAsPublisher(b, bc, {display: String(a.session) });
  assert.equal(fake.answer.videoroom, 'joined');
  await until('the impostor is kicked', async () => !(await participants(pa.jc, ac.sfu.room)).includes(bc.sfu.feed));

  // A member who leaves the Noom room is kicked out of the VideoRoom, and gets no new token.
  await leave(stack, c.token);
  await until('the member who left is kicked', async () => !(await participants(pa.jc, ac.sfu.room)).includes(cc.sfu.feed));
  assert.deepEqual(await participants(pa.jc, ac.sfu.room), [ac.sfu.feed]);
  assert.equal((await api(stack, 'GET', 'api/call', {token: c.token})).status >= 400, true);
  // Back in with the old join token: kicked again.
  const back = await joinAsPublisher(c, cc);
  if (back.answer.videoroom === 'joined') {
    await until('the returning ex-member is kicked again', async () => !(await participants(pa.jc, ac.sfu.room)).includes(cc.sfu.feed));
  }

  // The room shrinking below the mesh size keeps its call on the SFU until it empties.
  assert.equal((await callConfig(a)).mode, 'sfu');

  // The last members leave: the VideoRoom is destroyed, and the next call starts as a mesh.
  await leave(stack, a.token);
  await leave(stack, b.token);
  const probe = new JanusClient(stack.baseUrl, ac.sfu.token);
  assert.equal(await probe.open(), null);
  await until('the VideoRoom is destroyed', async () => {
    const r = await probe.ask({request: 'exists', room: ac.sfu.room});
    return r.exists === false;
  });
  const e = await member('Eve', 'sfu-team');
  assert.equal((await callConfig(e)).mode, 'mesh');
});

test('a screen share is a second feed: the member\'s own screen id is let in, nobody else\'s', {skip}, async () => {
  const a = await member('Ann', 'sfu-screens');
  const b = await member('Ben', 'sfu-screens');
  const c = await member('Col', 'sfu-screens');
  const [ac, bc, cc] = [await callConfig(a), await callConfig(b), await callConfig(c)];
  assert.equal(ac.mode, 'sfu');
  for (const cfg of [ac, bc, cc]) {
    assert.ok(Number.isSafeInteger(cfg.sfu.screen) && cfg.sfu.screen > 0);
    assert.equal(cfg.sfu.screen % 2, 1, 'screen ids are odd, camera ids even: they never meet');
    assert.equal(cfg.sfu.feed % 2, 0);
    assert.notEqual(cfg.sfu.screen, cfg.sfu.feed + 1, 'the screen id does not follow from the camera id');
  }
  assert.equal(new Set([ac, bc, cc].map((cfg) => cfg.sfu.screen)).size, 3);
  assert.equal((await callConfig(a)).sfu.screen, ac.sfu.screen, 'the same id every time');

  // Ann publishes her camera and her screen: both stay.
  const camera = await joinAsPublisher(a, ac);
  assert.equal(camera.answer.videoroom, 'joined', JSON.stringify(camera.answer));
  const screen = await joinAsPublisher(a, ac, {id: ac.sfu.screen, display: `${a.session}:screen`});
  assert.equal(screen.answer.videoroom, 'joined', JSON.stringify(screen.answer));

  // Ben's screen id under Ann's name, Ben's screen id as a camera, Ben's camera id as a screen,
  // and a screen under a made-up display: each is kicked by the next maintenance pass.
  const impostors = [
    {s: b, id: bc.sfu.screen, display: `${a.session}:screen`},
    {s: b, id: bc.sfu.feed + 2, display: `${b.session}:screen`},
    {s: c, id: cc.sfu.screen, display: String(c.session)},
    {s: c, id: cc.sfu.screen + 2, display: `${c.session}:desk`},
  ];
  for (const {s, id, display} of impostors) {
    const cfg = s === b ? bc : cc;
    const j = await joinAsPublisher(s, cfg, {id, display});
    assert.equal(j.answer.videoroom, 'joined', JSON.stringify(j.answer));
  }
  const ids = impostors.map((i) => i.id);
  await until('every wrong screen is kicked', async () => {
    const now = await participants(camera.jc, ac.sfu.room);
    return !ids.some((id) => now.includes(id));
  });
  assert.deepEqual((await participants(camera.jc, ac.sfu.room)).sort(), [ac.sfu.feed, ac.sfu.screen].sort(),
    'Ann\'s camera and screen are still there');

  // Col's own screen is fine while he is a member; once he has left it is kicked.
  const own = await joinAsPublisher(c, cc, {id: cc.sfu.screen, display: `${c.session}:screen`});
  assert.equal(own.answer.videoroom, 'joined', JSON.stringify(own.answer));
  await leave(stack, c.token);
  await until('the screen of a member who left is kicked', async () => !(await participants(camera.jc, ac.sfu.room)).includes(cc.sfu.screen));
  assert.deepEqual((await participants(camera.jc, ac.sfu.room)).sort(), [ac.sfu.feed, ac.sfu.screen].sort());
  await leave(stack, a.token);
  await leave(stack, b.token);
});

test('the Janus API behind nginx: loopback only, the admin API and WebSocket transport closed', {skip}, async () => {
  const conf = fs.readFileSync(`${stack.stateDir}/janus/janus.transport.http.jcfg`, 'utf8');
  assert.match(conf, /ip = "127\.0\.0\.1"/);
  assert.match(conf, /admin_http = false/);
  const core = fs.readFileSync(`${stack.stateDir}/janus/janus.jcfg`, 'utf8');
  assert.match(core, /libjanus_websockets\.so/);
  for (const f of ['janus.jcfg', 'janus.plugin.videoroom.jcfg', 'noom-janus.conf']) {
    const mode = fs.statSync(`${stack.stateDir}/janus/${f}`).mode & 0o777;
    assert.equal(mode, 0o600, `${f} holds the secret: owner only`);
  }
  const info = await fetch(new URL('janus/info', stack.baseUrl));
  assert.equal(info.status, 404, 'only session paths and the root reach Janus');
  const js = await fetch(new URL('static/vendor/janus.js', stack.baseUrl));
  assert.equal(js.status, 200);
  assert.match(js.headers.get('content-type'), /javascript/);
  // Without TURN in the configuration Janus is not told to ask Noom for TURN credentials, and
  // the endpoint it would ask is not there (turnrest.test.mjs has the stack with TURN).
  assert.doesNotMatch(core, /^\s*turn_rest_api/m);
  assert.doesNotMatch(fs.readFileSync(`${stack.stateDir}/janus/noom-janus.conf`, 'utf8'), /turn_rest_key/);
  const rest = await api(stack, 'GET', 'api/turn-rest?service=turn&key=anything-at-all-here');
  assert.equal(rest.status, 404);
  assert.equal(rest.json.error, 'not_found');
  // Nothing of the secret in the logs.
  const secret = /janus_secret = (\S+)/.exec(fs.readFileSync(`${stack.stateDir}/janus/noom-janus.conf`, 'utf8'))[1];
  assert.ok(!stack.logs().includes(secret));
});
