// Browser test of a call past the mesh: N people (NOOM_SFU_USERS, 8 by default, 4 to 12) in
// headless Chromium (fake cameras at 160x120, 5 frames a second) meet in one room through Janus,
// behind the stack's own nginx, with nothing but HTTP for signaling.
//
//  1. Three join: a mesh (mesh_max 3, to keep the mesh cheap on two CPUs). Each page records,
//     every 100 ms, when each remote video last got a new frame.
//  2. N - 3 more join: the call crosses the mesh size while running and moves onto the SFU.
//     Every page ends with N - 1 remote-video elements (data-peer = the other members) decoding frames;
//     the longest time any page went without a new frame from a member who was there before
//     is printed (the cost of the move).
//  3. One member switches camera (the publisher sends the new track; the others keep getting
//     frames) and mutes (the others' tiles say so).
//  4. One member shares the screen: it goes to Janus as a second feed, video only, without
//     simulcast; every other page shows it as that member's video (larger than a camera; the tile says
//     data-screen="on") while the sharer's camera keeps arriving (one more video decoding on
//     each page); stopping brings the camera back.
//  5. One member leaves: their video disappears from every other page.
//  6. They come back with no camera (getUserMedia gives no video track), then pick one: the
//     publisher adds the camera by a renegotiation and every page gets their frames.
//
// Skipped, with the reason, when Chromium or janus is missing.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { startStack } from '../lib/stack.js';
import { chromium, skip as noBrowser, CHROMIUM, BASE_ARGS, toneAudioArgs } from '../lib/browser.js';

function janusMissing() {
  try {
    execFileSync('sh', ['-c', 'command -v janus'], { stdio: 'ignore' });
    return fs.existsSync('/usr/share/javascript/janus-gateway/janus.js') ? false : 'libjs-janus-gateway is not installed';
  } catch {
    return 'janus is not installed (apt-get install janus libjs-janus-gateway)';
  }
}
const skip = noBrowser || janusMissing();
if (skip) console.log(`# SFU browser test skipped: ${skip}`);

const WAIT = 120000;
/* Eight people, as the issue asks: at 160x120 and 5 frames a second two CPUs carry their 8
 * encoders and 56 decoders (the whole test takes about 30 s). NOOM_SFU_USERS=N (4 to 12) runs
 * the same with N people. */
const COUNT = Math.min(12, Math.max(4, Number(process.env.NOOM_SFU_USERS) || 8));
const NAMES = ['Ada', 'Ben', 'Cleo', 'Dan', 'Eve', 'Finn', 'Gus', 'Hana', 'Ivo', 'Jo', 'Kim', 'Lea'].slice(0, COUNT);
const ROOM = 'all hands';
const ARGS = [
  ...BASE_ARGS,
  '--autoplay-policy=no-user-gesture-required',
  '--disable-background-timer-throttling', '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',
  '--use-fake-device-for-media-stream=device-count=3,fps=5',
  /* Everyone's microphone plays a tone: every page hears the others speaking, which brings
   * the latest speakers in at the top layer. */
  ...(skip ? [] : toneAudioArgs()),
  '--use-fake-ui-for-media-stream',
];

const sleep = (/** @type {number} */ ms) => new Promise((resolve) => setTimeout(resolve, ms));
const seconds = (/** @type {number} */ ms) => `${(ms / 1000).toFixed(1)} s`;

/* In every page: small cameras (two CPUs carry eight encoders and 56 decoders), and a watch of
 * each remote video's frames: __frames.last[peer] (when it last advanced), __frames.gap[peer]
 * (the longest wait between two new frames since the watch was reset). */
function pageSetup() {
  const md = navigator.mediaDevices;
  const w = /** @type {any} */ (window);
  const gum = md.getUserMedia.bind(md);
  /* window.__noCamera: the camera gives nothing (a member without one). */
  md.getUserMedia = async (c) => {
    if (c && c.video) {
      const v = typeof c.video === 'object' ? c.video : {};
      c = { ...c, video: { ...v, width: { exact: 160 }, height: { exact: 120 }, frameRate: { ideal: 5 } } };
    }
    const stream = await gum(c);
    if (w.__noCamera) {
      for (const t of stream.getVideoTracks()) {
        t.stop();
        stream.removeTrack(t);
      }
      if (!stream.getTracks().length) throw new DOMException('Requested device not found', 'NotFoundError');
    }
    return stream;
  };
  /* A small screen (Chromium's fake one is 1280x720 here or 4:3 elsewhere), still larger than
   * the 160x120 cameras. */
  const gdm = md.getDisplayMedia.bind(md);
  md.getDisplayMedia = (c) => {
    const v = c && typeof c.video === 'object' ? c.video : {};
    return gdm({ ...c, video: { ...v, width: { max: 320 }, height: { max: 180 }, frameRate: { ideal: 5 } } });
  };
  /* Every RTCPeerConnection the page makes (the publisher's tells what it sends). */
  w.__pcs = [];
  const PC = window.RTCPeerConnection;
  w.RTCPeerConnection = class extends PC {
    constructor(/** @type {RTCConfiguration} */ c) {
      super(c);
      w.__pcs.push(this);
    }
  };
  w.__frames = { last: {}, gap: {}, seen: {} };
  setInterval(() => {
    const now = performance.now();
    for (const node of document.querySelectorAll('video[data-testid="remote-video"]')) {
      const v = /** @type {HTMLVideoElement} */ (node);
      const peer = v.dataset.peer ?? '';
      const key = `${v.getVideoPlaybackQuality().totalVideoFrames}/${v.currentTime}`;
      if (w.__frames.seen[peer] !== key) {
        w.__frames.seen[peer] = key;
        w.__frames.last[peer] = now;
      }
    }
    for (const peer of Object.keys(w.__frames.last)) {
      w.__frames.gap[peer] = Math.max(w.__frames.gap[peer] ?? 0, now - w.__frames.last[peer]);
    }
  }, 100);
}

/**
 * @typedef {{name: string, page: import('playwright-core').Page, context: import('playwright-core').BrowserContext, session: string,
 *   layers: Map<string, number>}} User  layers: the simulcast layer the page last asked Janus for, by subscribed mid
 */

/* sfu.js: the HIGH_MAX most recent speakers come at the top layer, everyone else's at the lowest. */
const HIGH_MAX = 4;
const LAYER_LOW = 0;
const LAYER_HIGH = 2;

/** Notes in `layers` every simulcast layer a page asks Janus for (a VideoRoom "configure"). */
function watchLayers(/** @type {import('playwright-core').Page} */ page, /** @type {Map<string, number>} */ layers) {
  page.on('request', (req) => {
    if (req.method() !== 'POST' || !req.url().includes('/janus/')) return;
    /** @type {any} */
    let msg = null;
    try {
      msg = JSON.parse(req.postData() ?? '');
    } catch {
      return;
    }
    if (msg?.body?.request !== 'configure' || !Array.isArray(msg.body.streams)) return;
    for (const st of msg.body.streams) if (typeof st.substream === 'number') layers.set(String(st.mid), st.substream);
  });
}

/** The page's remote videos: who, and whether frames advance over a second. */
async function playing(/** @type {User} */ user) {
  const snap = () => user.page.evaluate(() => Array.from(
    document.querySelectorAll('[data-role="tiles"] video[data-testid="remote-video"]'), (node) => {
      const v = /** @type {HTMLVideoElement} */ (node);
      return { peer: v.dataset.peer ?? '', frames: v.getVideoPlaybackQuality().totalVideoFrames, width: v.videoWidth };
    }));
  const a = await snap();
  await sleep(1000);
  const b = await snap();
  const before = new Map(a.map((v) => [v.peer, v.frames]));
  return b.map((v) => ({ peer: v.peer, ok: v.width > 0 && v.frames > (before.get(v.peer) ?? Infinity) }));
}

/** Waits until `user` shows exactly `peers`, each decoding frames. */
async function waitPeers(/** @type {User} */ user, /** @type {string[]} */ peers) {
  const want = [...peers].sort().join(',');
  const start = Date.now();
  let last = /** @type {any} */ (null);
  while (Date.now() - start < WAIT) {
    last = await playing(user);
    if (last.map((/** @type {any} */ v) => v.peer).sort().join(',') === want && last.every((/** @type {any} */ v) => v.ok)) {
      return Date.now() - start;
    }
  }
  throw new Error(`${user.name}: wanted ${want} playing, got ${JSON.stringify(last)}`);
}

/**
 * How many videos the page decodes (inbound video streams whose decoded frames advance over a
 * second and a half), on all its connections.
 */
async function decodingVideos(/** @type {User} */ user) {
  const snap = () => user.page.evaluate(async () => {
    const w = /** @type {any} */ (window);
    /** @type {Record<string, number>} */
    const out = {};
    for (const [i, pc] of /** @type {RTCPeerConnection[]} */ (w.__pcs).entries()) {
      if (pc.connectionState === 'closed') continue;
      (await pc.getStats()).forEach((r) => {
        if (r.type === 'inbound-rtp' && r.kind === 'video') out[`${i}/${r.id}`] = r.framesDecoded ?? 0;
      });
    }
    return out;
  });
  const a = await snap();
  await sleep(1500);
  const b = await snap();
  return Object.keys(b).filter((k) => b[k] > (a[k] ?? Infinity)).length;
}

/** The live video tracks the page sends, per open connection: [{screen, encodings}]. */
function sentVideos(/** @type {User} */ user) {
  return user.page.evaluate(() => {
    const w = /** @type {any} */ (window);
    return /** @type {RTCPeerConnection[]} */ (w.__pcs).filter((pc) => pc.connectionState !== 'closed')
      .flatMap((pc) => pc.getSenders()).filter((s) => s.track?.kind === 'video' && s.track.readyState === 'live')
      .map((s) => ({ screen: !s.track?.getSettings().deviceId || s.track?.getSettings().displaySurface !== undefined, encodings: s.getParameters().encodings.length }));
  });
}

/* Every camera is 160x120 (pageSetup), and the screen larger. */
const CAMERA_WIDTH = 160;

/** Whether `peer`'s picture on `user`'s page is larger than a camera's, and whether frames advance. */
async function pictureOf(/** @type {User} */ user, /** @type {string} */ peer) {
  const snap = () => user.page.evaluate((p) => {
    const v = /** @type {HTMLVideoElement|null} */ (document.querySelector(`[data-role="tiles"] video[data-testid="remote-video"][data-peer="${p}"]`));
    return v ? { w: v.videoWidth, h: v.videoHeight, frames: v.getVideoPlaybackQuality().totalVideoFrames } : null;
  }, peer);
  const a = await snap();
  await sleep(1000);
  const b = await snap();
  return { screen: !!b && b.w > CAMERA_WIDTH, playing: !!a && !!b && b.w > 0 && b.frames > a.frames, size: `${b?.w}x${b?.h}` };
}

/** Polls `fn` until it is true (WAIT at most). */
async function until(/** @type {string} */ what, /** @type {() => Promise<boolean>} */ fn, /** @type {() => Promise<unknown>} */ state = async () => '') {
  const deadline = Date.now() + WAIT;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what} ${JSON.stringify(await state())}`);
    await sleep(200);
  }
}

describe('a call past the mesh, on Janus', { skip }, () => {
  /** @type {Awaited<ReturnType<typeof startStack>>} */ let stack;
  /** @type {import('playwright-core').Browser} */ let browser;
  /** @type {User[]} */ const users = [];
  /** @type {string[]} */ const errors = [];

  before(async () => {
    stack = await startStack({ sfu: true, workerArgs: ['--mesh-max', '3'] });
    browser = await /** @type {NonNullable<typeof chromium>} */ (chromium).launch({ executablePath: CHROMIUM, args: ARGS });
  });
  after(async () => {
    await browser?.close();
    await stack?.stop();
  });

  async function newUser(/** @type {string} */ name, { noCamera = false } = {}) {
    const context = await browser.newContext({ viewport: { width: 960, height: 640 } });
    context.setDefaultTimeout(WAIT);
    await context.addInitScript(pageSetup);
    if (noCamera) await context.addInitScript(() => { /** @type {any} */ (window).__noCamera = true; });
    const page = await context.newPage();
    page.on('pageerror', (err) => errors.push(`${name}: ${err.message}`));
    /* NOOM_SFU_LOG=1 prints the pages' warnings (sfu.js reports Janus's refusals there). */
    if (process.env.NOOM_SFU_LOG) page.on('console', (m) => { if (m.type() !== 'log' && m.type() !== 'debug') console.log(`# ${name}: ${m.text()}`); });
    /** @type {User} */
    const user = { name, page, context, session: '', layers: new Map() };
    watchLayers(page, user.layers);
    /* Plain HTTP for every bit of signalling: Noom's events by long-polling, Janus's by its
     * own HTTP long-poll behind the stack's nginx. */
    await page.goto(`${stack.baseUrl}?transport=polling`);
    await page.getByTestId('nickname-input').fill(name);
    await page.getByTestId('nickname-input').press('Enter');
    await page.getByTestId('room-input').fill(ROOM);
    await page.getByTestId('join-button').click();
    await page.getByTestId('prejoin-join').click();
    await page.locator('[data-role="tiles"] li.tile.is-self').waitFor();
    user.session = await page.evaluate(() => document.body.dataset.session ?? '');
    assert.equal(await page.evaluate(() => document.body.dataset.transport), 'polling', `${name} long-polls`);
    users.push(user);
    return user;
  }

  const others = (/** @type {User} */ u, /** @type {User[]} */ group) => group.filter((o) => o !== u).map((o) => o.session);

  it(`${COUNT} people: a mesh of three moves onto the SFU, everyone sees everyone`, { timeout: 600_000 }, async (t) => {
    for (const name of NAMES.slice(0, 3)) await newUser(name);
    await Promise.all(users.map((u) => waitPeers(u, others(u, users))));
    t.diagnostic('three in a mesh, each decoding two');
    const mesh = users.slice();
    await Promise.all(mesh.map((u) => u.page.evaluate(() => {
      const w = /** @type {any} */ (window);
      w.__frames.gap = {};
    })));

    const crossing = Date.now();
    for (const name of NAMES.slice(3)) await newUser(name);
    const times = await Promise.all(users.map((u) => waitPeers(u, others(u, users))));
    t.diagnostic(`${COUNT} on the SFU, each decoding ${COUNT - 1}, ${seconds(Date.now() - crossing)} after the 4th joined (slowest page ${seconds(Math.max(...times))} after the joins)`);
    for (const u of users) {
      const onJanus = await u.page.evaluate(() => typeof (/** @type {any} */ (window)).Janus === 'function');
      assert.ok(onJanus, `${u.name}'s page uses Janus`);
    }
    /* Past HIGH_MAX others, a page asks for the top layer of at most HIGH_MAX of them (the
     * latest speakers: with the tone, everyone speaks) and the lowest of the rest. */
    if (COUNT - 1 > HIGH_MAX) {
      for (const u of users) {
        const count = (/** @type {number} */ layer) => [...u.layers.values()].filter((l) => l === layer).length;
        const deadline = Date.now() + WAIT;
        while ((count(LAYER_HIGH) === 0 || count(LAYER_LOW) < COUNT - 1 - HIGH_MAX) && Date.now() < deadline) await sleep(200);
        const seen = JSON.stringify([...u.layers]);
        assert.ok(count(LAYER_HIGH) >= 1, `${u.name} asks for the top layer of a speaker: ${seen}`);
        assert.ok(count(LAYER_HIGH) <= HIGH_MAX, `${u.name} asks for at most ${HIGH_MAX} top layers: ${seen}`);
        assert.ok(count(LAYER_LOW) >= COUNT - 1 - HIGH_MAX, `${u.name} asks for the lowest layer of the rest: ${seen}`);
      }
      t.diagnostic(`layers asked by ${users[0].name} (mid, substream): ${JSON.stringify([...users[0].layers])}`);
    }
    /* The move's cost: the longest time a page of the mesh went without a new frame from a
     * member it already saw. */
    let worst = 0;
    for (const u of mesh) {
      const gaps = await u.page.evaluate((peers) => {
        const w = /** @type {any} */ (window);
        return peers.map((p) => w.__frames.gap[p] ?? 0);
      }, others(u, mesh));
      worst = Math.max(worst, ...gaps);
    }
    console.log(`# crossing the mesh size (3 -> ${COUNT}) while the call runs: longest picture loss ${seconds(worst)}`);
    assert.equal(errors.length, 0, errors.join('\n'));
  });

  it('a camera switch and a mute are seen by the others', { timeout: 300_000 }, async () => {
    const [ada, ...rest] = users;
    const select = ada.page.getByTestId('camera-select');
    const options = await select.locator('option').evaluateAll((os) => os.map((o) => ({
      value: /** @type {HTMLOptionElement} */ (o).value, text: o.textContent ?? '',
    })));
    const current = await select.inputValue();
    const other = options.find((o) => o.text.includes('fake_device_2') && o.value !== current) ?? options.find((o) => o.value !== current);
    assert.ok(other, 'a second camera');
    await select.selectOption(other.value);
    const sent = () => ada.page.evaluate(() => {
      const v = /** @type {HTMLVideoElement|null} */ (document.querySelector('video[data-testid="local-video"]'));
      const track = v?.srcObject instanceof MediaStream ? v.srcObject.getVideoTracks()[0] : null;
      return track?.getSettings().deviceId ?? '';
    });
    const deadline = Date.now() + WAIT;
    while ((await sent()) !== other.value && Date.now() < deadline) await sleep(200);
    assert.equal(await sent(), other.value, 'Ada sends the other camera');
    /* Ada's publisher sends the new camera, and the others keep decoding her picture. */
    const sentDevices = () => ada.page.evaluate(() => {
      const w = /** @type {any} */ (window);
      return /** @type {RTCPeerConnection[]} */ (w.__pcs).filter((pc) => pc.connectionState !== 'closed')
        .flatMap((pc) => pc.getSenders()).filter((s) => s.track?.kind === 'video' && s.track.readyState === 'live')
        .map((s) => s.track?.getSettings().deviceId ?? '');
    });
    const sentBy = Date.now() + WAIT;
    while (!(await sentDevices()).includes(other.value) && Date.now() < sentBy) await sleep(200);
    assert.deepEqual(await sentDevices(), [other.value], 'the SFU publisher (one connection) sends the new camera');
    for (const u of rest) {
      let ok = false;
      for (let i = 0; i < 20 && !ok; i++) ok = !!(await playing(u)).find((v) => v.peer === ada.session)?.ok;
      assert.ok(ok, `${u.name} gets frames from Ada after the switch`);
    }
    await ada.page.getByTestId('mute-button').click();
    for (const u of rest) {
      await u.page.locator(`[data-role="tiles"] li.tile[data-session="${ada.session}"][data-audio="off"]`).waitFor({ timeout: WAIT });
    }
  });

  it('a screen share is a second feed: the others see the screen, the camera keeps coming', { timeout: 300_000 }, async () => {
    const ben = users[1];
    const rest = users.filter((u) => u !== ben);
    await ben.page.getByTestId('screen-button').click();
    await ben.page.locator('[data-testid="screen-button"][aria-pressed="true"]').waitFor();
    /* Two publishers: the camera (simulcast) and the screen alone, in one encoding. */
    await until('Ben sends his camera and his screen', async () => (await sentVideos(ben)).length === 2);
    const sent = await sentVideos(ben);
    assert.equal(sent.filter((v) => v.screen).length, 1, JSON.stringify(sent));
    assert.equal(sent.find((v) => v.screen)?.encodings, 1, 'the screen is not simulcast');
    assert.ok((sent.find((v) => !v.screen)?.encodings ?? 0) > 1, 'the camera still is');
    for (const u of rest) {
      await u.page.locator(`[data-role="tiles"] li.tile[data-session="${ben.session}"][data-screen="on"]`).waitFor({ timeout: WAIT });
      await until(`${u.name} shows Ben's screen`, async () => {
        const p = await pictureOf(u, ben.session);
        return p.screen && p.playing;
      }, () => pictureOf(u, ben.session));
    }
    /* Every page decodes the others' cameras, Ben's among them, and Ben's screen. */
    for (const u of rest) {
      await until(`${u.name} decodes ${users.length} videos`, async () => (await decodingVideos(u)) >= users.length);
    }
    {
      await ben.page.getByTestId('screen-button').click();
      for (const u of rest) {
        await u.page.locator(`[data-role="tiles"] li.tile[data-session="${ben.session}"][data-screen="off"]`).waitFor({ timeout: WAIT });
        await until(`${u.name} shows Ben's camera again`, async () => {
          const p = await pictureOf(u, ben.session);
          return !p.screen && p.playing;
        });
      }
      await until('Ben sends his camera alone', async () => (await sentVideos(ben)).length === 1);
      assert.equal((await sentVideos(ben))[0].screen, false);
    }
    assert.equal(errors.length, 0, errors.join('\n'));
  });

  it('a member who leaves disappears from every page', { timeout: 300_000 }, async () => {
    const hana = /** @type {User} */ (users.pop());
    await hana.page.getByTestId('leave-button').click();
    await Promise.all(users.map((u) => u.page.locator(`video[data-testid="remote-video"][data-peer="${hana.session}"]`)
      .waitFor({ state: 'detached', timeout: WAIT })));
    await Promise.all(users.map((u) => waitPeers(u, others(u, users))));
    assert.equal(errors.length, 0, errors.join('\n'));
  });

  it('a member who joined without a camera picks one: the others get her picture', { timeout: 300_000 }, async () => {
    const hana = await newUser(NAMES[COUNT - 1], { noCamera: true });
    const rest = users.filter((u) => u !== hana);
    await Promise.all(rest.map((u) => u.page.locator(`[data-role="tiles"] li.tile[data-session="${hana.session}"][data-video="off"]`)
      .waitFor({ timeout: WAIT })));
    /* She is in the call (she sees everyone) and sends no video yet. */
    await waitPeers(hana, others(hana, users));
    assert.equal((await sentVideos(hana)).length, 0, 'no camera published at the start');
    await hana.page.evaluate(() => { /** @type {any} */ (window).__noCamera = false; });
    const select = hana.page.getByTestId('camera-select');
    const options = await select.locator('option').evaluateAll((os) => os.map((o) => ({
      value: /** @type {HTMLOptionElement} */ (o).value, text: o.textContent ?? '',
    })));
    const camera = options.find((o) => o.text.includes('fake_device_2')) ?? options.find((o) => o.text.includes('fake_device_0'));
    assert.ok(camera, JSON.stringify(options));
    /* The first option shows without being in use: another one first, if it is that one. */
    if ((await select.inputValue()) === camera.value) {
      const first = options.find((o) => o.value !== camera.value && !o.text.includes('fake_device_1'));
      assert.ok(first);
      await select.selectOption(first.value);
      await until('Hana has a camera', async () => (await sentVideos(hana)).length === 1);
    } else {
      await select.selectOption(camera.value);
    }
    await until('Hana sends a camera', async () => (await sentVideos(hana)).length === 1);
    await Promise.all(users.map((u) => waitPeers(u, others(u, users))));
    await Promise.all(rest.map((u) => u.page.locator(`[data-role="tiles"] li.tile[data-session="${hana.session}"][data-video="on"]`)
      .waitFor({ timeout: WAIT })));
    assert.equal(errors.length, 0, errors.join('\n'));
  });
});
