// Security headers (docs/API.md, "Security headers"; conf/noom-headers.conf.in): every kind of
// answer nginx gives for the app carries them with the right values, with and without a
// prefix: the pages, static JavaScript and CSS, API JSON and API errors, nginx's own 404, 413
// and 502, the redirect of the bare prefix and, under a prefix, the stand-in page of "the
// existing site" at /.
//
// The stack runs with NOOM_KEEPALIVE=0, as behind the operator snippet: nginx then connects to
// the workers for every request, so renaming their socket away gives nginx's own 502.
import {test, before, after, describe} from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {startStack, api, newSession} from '../lib/stack.js';

/** "a b; c d e" → {a: ['b'], c: ['d', 'e']} (sources sorted); a repeated directive fails. */
function parseCsp(value) {
  const out = {};
  for (const part of value.split(';')) {
    const [name, ...sources] = part.trim().split(/\s+/);
    if (!name) continue;
    assert.ok(!(name in out), `directive ${name} given twice in ${value}`);
    out[name.toLowerCase()] = sources.sort();
  }
  return out;
}

/** The policy every answer must carry for a page served from host (127.0.0.1:PORT). */
function expectedCsp(host) {
  return {
    'default-src': ["'self'"],
    'script-src': ["'self'"],
    'style-src': ["'self'"],
    'img-src': ["'self'", 'blob:', 'data:'].sort(),
    'media-src': ["'self'", 'blob:', 'mediastream:'].sort(),
    'font-src': ["'self'"],
    'object-src': ["'none'"],
    'base-uri': ["'self'"],
    'form-action': ["'self'"],
    'frame-ancestors': ["'none'"],
    'connect-src': ["'self'", `ws://${host}`, `wss://${host}`].sort(),
  };
}

/** Camera, microphone and screen capture for the app itself, every other feature for nobody. */
function checkPermissionsPolicy(value, what) {
  const features = {};
  for (const item of value.split(',')) {
    const m = /^\s*([a-z-]+)=(\(.*\))\s*$/.exec(item);
    assert.ok(m, `${what}: Permissions-Policy item "${item}" in ${value}`);
    features[m[1]] = m[2];
  }
  for (const f of ['camera', 'microphone', 'display-capture']) {
    assert.equal(features[f], '(self)', `${what}: Permissions-Policy ${f}=(self) in ${value}`);
  }
  assert.equal(features.geolocation, '()', `${what}: Permissions-Policy geolocation=() in ${value}`);
  for (const [f, allow] of Object.entries(features)) {
    if (!['camera', 'microphone', 'display-capture'].includes(f)) {
      assert.equal(allow, '()', `${what}: Permissions-Policy grants ${f}=${allow}`);
    }
  }
}

/** Asserts the five security headers of one answer. */
function checkHeaders(res, host, what) {
  const h = res.headers;
  const csp = h.get('content-security-policy');
  assert.ok(csp, `${what}: Content-Security-Policy missing (status ${res.status})`);
  assert.deepEqual(parseCsp(csp), expectedCsp(host), `${what}: Content-Security-Policy ${csp}`);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/, `${what}: nothing loose in ${csp}`);
  assert.equal(h.get('x-frame-options'), 'DENY', `${what}: X-Frame-Options`);
  assert.equal(h.get('x-content-type-options'), 'nosniff', `${what}: X-Content-Type-Options`);
  assert.equal(h.get('referrer-policy'), 'no-referrer', `${what}: Referrer-Policy`);
  const pp = h.get('permissions-policy');
  assert.ok(pp, `${what}: Permissions-Policy missing`);
  checkPermissionsPolicy(pp, what);
}

async function get(stack, p, init = {}) {
  const res = await fetch(new URL(p, stack.origin), {redirect: 'manual', signal: AbortSignal.timeout(15_000), ...init});
  return {status: res.status, headers: res.headers, text: await res.text()};
}

for (const prefix of ['', '/noom']) {
  describe(`security headers at "${prefix || '/'}"`, () => {
    let stack;
    let host;
    before(async () => {
      stack = await startStack({prefix, workerArgs: ['--poll-timeout', '2'], env: {NOOM_KEEPALIVE: '0'}});
      host = new URL(stack.origin).host;
    });
    after(async () => {
      await stack?.stop();
    });

    test('the home page and a room page', async () => {
      for (const p of [`${prefix}/`, `${prefix}/room/x`]) {
        const r = await get(stack, p);
        assert.equal(r.status, 200, `${p}: ${r.text.slice(0, 200)}`);
        assert.match(r.headers.get('content-type') ?? '', /^text\/html/);
        checkHeaders(r, host, `GET ${p}`);
        // The policy allows no inline script or style: the shell has none.
        assert.doesNotMatch(r.text, /<script(?![^>]*\bsrc=)[^>]*>/i, `${p}: inline <script>`);
        assert.doesNotMatch(r.text, /<style\b|\sstyle=|\son[a-z]+=/i, `${p}: inline style or handler`);
      }
    });

    test('static JavaScript, CSS and a missing static file (nginx\'s own 404)', async () => {
      for (const [p, type] of [['static/js/app.js', /javascript/], ['static/css/app.css', /text\/css/]]) {
        const r = await get(stack, `${prefix}/${p}`);
        assert.equal(r.status, 200, p);
        assert.match(r.headers.get('content-type') ?? '', type, p);
        assert.equal(r.headers.get('cache-control'), 'public, max-age=300', `${p}: Cache-Control kept`);
        checkHeaders(r, host, `GET ${prefix}/${p}`);
      }
      const nf = await get(stack, `${prefix}/static/js/no-such-file.js`);
      assert.equal(nf.status, 404);
      checkHeaders(nf, host, 'nginx 404 under static/');
    });

    test('API answers and API errors (JSON)', async () => {
      const ann = await newSession(stack, 'Ann');
      const rooms = await api(stack, 'GET', 'api/rooms', {token: ann.token});
      assert.equal(rooms.status, 200, rooms.text);
      assert.match(rooms.headers.get('content-type') ?? '', /^application\/json/);
      checkHeaders(rooms, host, 'GET api/rooms');
      const unauthorized = await api(stack, 'GET', 'api/rooms');
      assert.equal(unauthorized.status, 401);
      checkHeaders(unauthorized, host, 'GET api/rooms without a token');
      const nf = await api(stack, 'GET', 'api/nope', {token: ann.token});
      assert.equal(nf.status, 404);
      assert.equal(nf.json?.error, 'not_found');
      checkHeaders(nf, host, 'GET api/nope');
      // Over 64 KiB: the worker's own 413.
      const big = await api(stack, 'POST', 'api/messages', {token: ann.token, rawBody: 'x'.repeat(65537)});
      assert.equal(big.status, 413);
      checkHeaders(big, host, 'the worker\'s 413');
    });

    test('nginx\'s own 413 and 502 JSON errors', {timeout: 60_000}, async () => {
      const ann = await newSession(stack, 'Ann');
      // Over client_max_body_size (1 MiB): nginx answers from @noom_too_large.
      const big = await api(stack, 'POST', 'api/messages', {token: ann.token, rawBody: 'x'.repeat(2 << 20)});
      assert.equal(big.status, 413);
      assert.equal(big.json?.error, 'too_large');
      assert.match(big.headers.get('cache-control') ?? '', /no-store/, 'answered by @noom_too_large');
      checkHeaders(big, host, 'nginx 413');

      const sock = path.join(stack.stateDir, 'noom.sock');
      const away = `${sock}.away`;
      fs.renameSync(sock, away);
      try {
        const r = await api(stack, 'GET', 'api/rooms', {token: ann.token, timeoutMs: 15_000});
        assert.equal(r.status, 502, r.text);
        assert.equal(r.json?.error, 'unavailable');
        checkHeaders(r, host, 'nginx 502');
      } finally {
        fs.renameSync(away, sock);
      }
      const back = await api(stack, 'GET', 'api/rooms', {token: ann.token});
      assert.equal(back.status, 200, back.text);
    });

    if (prefix) {
      test('the redirect of the bare prefix and the stand-in page at /', async () => {
        const bare = await get(stack, prefix);
        assert.equal(bare.status, 301);
        assert.equal(bare.headers.get('location'), `${prefix}/`);
        checkHeaders(bare, host, `GET ${prefix}`);

        const root = await get(stack, '/');
        assert.equal(root.status, 200);
        assert.match(root.headers.get('content-type') ?? '', /^text\/html/);
        checkHeaders(root, host, 'GET / (the stand-in page)');
        assert.doesNotMatch(root.text, /<script|<style\b|\sstyle=|\son[a-z]+=/i, 'no inline script or style');
        assert.ok(root.text.includes(`href="${prefix}/"`), 'links to the app');
      });
    }
  });
}
