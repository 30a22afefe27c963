// Deployment under a URL prefix (/noom) next to other sites, and the unprefixed default.
import {test, before, after, describe} from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {startStack, api, newSession, join, say, pollUntil, ofType, repoRoot} from '../lib/stack.js';

const cssPath = path.join(repoRoot, 'static', 'css', 'app.css');

async function get(stack, p) {
  const res = await fetch(new URL(p, stack.baseUrl), {redirect: 'manual', signal: AbortSignal.timeout(10_000)});
  return {status: res.status, headers: res.headers, text: await res.text()};
}

for (const prefix of ['/noom', '']) {
  describe(`prefix "${prefix}"`, () => {
    let stack;
    before(async () => {
      stack = await startStack({prefix, workerArgs: ['--poll-timeout', '2']});
    });
    after(async () => {
      await stack?.stop();
    });

    test(`GET ${prefix}/ is the app shell with <base href="${prefix}/">`, async () => {
      assert.equal(stack.baseUrl, `${stack.origin}${prefix}/`);
      const r = await get(stack, `${prefix}/`);
      assert.equal(r.status, 200, r.text.slice(0, 300));
      assert.match(r.headers.get('content-type') ?? '', /^text\/html/);
      assert.ok(r.text.includes(`<base href="${prefix}/">`), `base href in ${r.text.slice(0, 600)}`);
      assert.ok(!r.text.includes('{{'), 'every template placeholder substituted');
    });

    test(`GET ${prefix}/room/<name> is the same shell, with the room name escaped`, async () => {
      const ok = await get(stack, `${prefix}/room/lobby`);
      assert.equal(ok.status, 200);
      assert.match(ok.headers.get('content-type') ?? '', /^text\/html/);
      assert.ok(ok.text.includes(`<base href="${prefix}/">`));
      const evil = await get(stack, `${prefix}/room/${encodeURIComponent('<script>alert(1)</script>"\'&')}`);
      assert.equal(evil.status, 200);
      assert.ok(!evil.text.includes('<script>alert(1)</script>'), 'room name not inserted raw');
      assert.ok(!evil.text.includes('"\'&'), 'quotes and ampersand escaped');
      assert.ok(!evil.text.includes('{{'));
    });

    test(`static assets under ${prefix}/static/`, async (t) => {
      if (!fs.existsSync(cssPath)) return t.skip('static/css/app.css not in the tree yet');
      const r = await get(stack, `${prefix}/static/css/app.css`);
      assert.equal(r.status, 200);
      assert.match(r.headers.get('content-type') ?? '', /text\/css/);
      assert.equal(r.text, fs.readFileSync(cssPath, 'utf8'));
    });

    test(`the API works under ${prefix}/api/`, async () => {
      const ann = await newSession(stack, 'Ann');
      const bob = await newSession(stack, 'Bob');
      await join(stack, ann.token, 'lobby');
      const bj = await join(stack, bob.token, 'lobby');
      const rooms = await api(stack, 'GET', `${prefix}/api/rooms`, {token: ann.token}); // absolute path
      assert.equal(rooms.status, 200);
      assert.deepEqual(rooms.json.rooms.find((r) => r.name === 'lobby'), {name: 'lobby', count: 2});
      const sent = await say(stack, ann.token, `hello under "${prefix}"`);
      const {events} = await pollUntil(stack, bob.token, bj.cursor, (ev) => ofType(ev, 'new_message').length > 0);
      assert.equal(ofType(events, 'new_message')[0].data.id, sent.json.id);
      const nf = await api(stack, 'GET', `${prefix}/api/nope`, {token: ann.token});
      assert.equal(nf.status, 404);
      assert.equal(nf.json?.error, 'not_found');
      // Without a token, the API answers 401 JSON (what noom-run waits for).
      const no = await api(stack, 'GET', `${prefix}/api/rooms`);
      assert.equal(no.status, 401);
      assert.equal(no.json?.error, 'unauthorized');
    });

    if (prefix) {
      test('paths outside the prefix are not the app', async () => {
        for (const p of ['/api/rooms', '/api/session', `${prefix}x/api/rooms`, `/x${prefix}/api/rooms`]) {
          const r = await api(stack, 'GET', p);
          assert.ok(r.status !== 200 && r.status !== 401, `${p} → ${r.status} ${r.text.slice(0, 200)}`);
          assert.notEqual(r.json?.error, 'unauthorized', `${p} answered by the app`);
        }
        const root = await get(stack, '/');
        assert.ok(!root.text.includes(`<base href="${prefix}/">`), '/ is not the app shell');
        const s = await api(stack, 'POST', '/api/session', {body: {nickname: 'x'}});
        assert.notEqual(s.status, 201, 'no session created outside the prefix');
      });
    }
  });
}
