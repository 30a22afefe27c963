// Browser tests of the pre-join screen's devices: real Chromium (through playwright-core) with
// fake cameras and microphones, against the real stack (noom-run: nginx + noom-worker).
//
//  1. A browser that refuses camera and microphone (getUserMedia rejects with NotAllowedError,
//     made so by an init script, as a user's "Block" would) shows why on the pre-join screen,
//     and its join button still enters the room.
//  2. A browser without a camera (getUserMedia rejects any video with NotFoundError; the
//     microphone works) says the others will hear but not see you.
//  3. Microphone and camera turned off on the pre-join screen are off in the room: the room's
//     mute and camera buttons are pressed, and another member sees both off on the tile.
//
// Skipped, with the reason, when playwright-core or Chromium is missing.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack } from '../lib/stack.js';
import { chromium, skip, CHROMIUM, sleep, waitUntil, FAKE_MEDIA_ARGS } from '../lib/browser.js';

const WAIT = 20000;
const DESKTOP = { width: 1280, height: 800 };
const LAUNCH_ARGS = FAKE_MEDIA_ARGS;
const ROOM = 'Devices';

/**
 * Polls `probe` until `ok(value)` holds; throws after WAIT with the last value seen.
 * @template T
 * @param {string} what
 * @param {() => Promise<T>} probe
 * @param {(value: T) => boolean} ok
 * @returns {Promise<T>}
 */
const until = async (what, probe, ok) => (await waitUntil(what, probe, ok, WAIT)).value;

/** Uncaught page errors, checked at the end. @type {string[]} */
const pageErrors = [];

/**
 * A page of its own context on the room's pre-join screen, getUserMedia changed by `init` if given.
 * @param {import('playwright-core').Browser} browser
 * @param {string} baseUrl
 * @param {string} name
 * @param {(() => void)|null} init  runs in the page before its scripts
 */
async function atPrejoin(browser, baseUrl, name, init) {
  const context = await browser.newContext({ viewport: DESKTOP });
  context.setDefaultTimeout(WAIT);
  if (init) await context.addInitScript(init);
  const page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(`${name}: ${err.message}`));
  await page.goto(new URL(`room/${encodeURIComponent(ROOM)}`, baseUrl).href);
  await page.getByTestId('prejoin-nickname').fill(name);
  return { name, context, page };
}

/**
 * Joins from the pre-join screen and waits for the room page; returns the session id.
 * @param {import('playwright-core').Page} page
 */
async function joinNow(page) {
  await page.getByTestId('prejoin-join').click();
  await until('in the room', () => page.evaluate(() => !document.getElementById('room-view')?.hidden), (v) => v);
  return Number(await page.evaluate(() => document.body.dataset.session));
}

/** getUserMedia refused, as after the user blocked camera and microphone. */
function refuseDevices() {
  MediaDevices.prototype.getUserMedia = () => Promise.reject(new DOMException('Permission denied', 'NotAllowedError'));
}

/** No camera: any request with video fails as on a machine without one; audio alone works. */
function noCamera() {
  const real = MediaDevices.prototype.getUserMedia;
  MediaDevices.prototype.getUserMedia = function (constraints) {
    if (constraints?.video) return Promise.reject(new DOMException('Requested device not found', 'NotFoundError'));
    return real.call(this, constraints);
  };
}

describe('browser: the pre-join screen and the devices', { skip }, () => {
  /** @type {Awaited<ReturnType<typeof startStack>>} */
  let stack;
  /** @type {import('playwright-core').Browser} */
  let browser;
  /** @type {import('playwright-core').BrowserContext[]} */
  const contexts = [];

  before(async () => {
    stack = await startStack();
    browser = await /** @type {NonNullable<typeof chromium>} */ (chromium).launch({
      executablePath: CHROMIUM, headless: true, args: LAUNCH_ARGS, timeout: WAIT,
    });
  });

  after(async () => {
    for (const context of contexts) await context.close().catch(() => {});
    await browser?.close().catch(() => {});
    await stack?.stop();
  });

  /**
   * The pre-join status line, once the browser has answered.
   * @param {import('playwright-core').Page} page
   */
  const status = (page) => until('the pre-join status line', async () => ({
    visible: await page.getByTestId('prejoin-status').isVisible(),
    text: (await page.getByTestId('prejoin-status').textContent())?.trim() ?? '',
  }), (s) => s.visible && s.text !== '');

  it('camera and microphone refused: the pre-join screen says so, and joining still works', { timeout: 60000 }, async () => {
    const eve = await atPrejoin(browser, stack.baseUrl, 'Eve', refuseDevices);
    contexts.push(eve.context);
    const { text } = await status(eve.page);
    assert.match(text, /^Camera and microphone are blocked\. You can still chat/);
    assert.match(text, /allow them in the browser’s site settings/);
    assert.equal(await eve.page.getByTestId('prejoin-mic-toggle').isDisabled(), true, 'no microphone to turn off');
    assert.ok((await joinNow(eve.page)) > 0, 'Eve is in the room without devices');
    await eve.context.close();
  });

  it('no camera: the pre-join screen says the others will hear but not see you', { timeout: 60000 }, async () => {
    const fay = await atPrejoin(browser, stack.baseUrl, 'Fay', noCamera);
    contexts.push(fay.context);
    const { text } = await status(fay.page);
    assert.equal(text, 'No camera found: the others hear you but cannot see you.');
    assert.equal(await fay.page.locator('[data-role="preview-off"]').textContent(), 'No camera');
    await until('Fay\'s microphone can be turned off', () => fay.page.getByTestId('prejoin-mic-toggle').isDisabled(), (v) => !v);
    await fay.context.close();
  });

  it('microphone and camera turned off before joining are off in the room, for everyone', { timeout: 90000 }, async () => {
    const bob = await atPrejoin(browser, stack.baseUrl, 'Bob', null);
    contexts.push(bob.context);
    await joinNow(bob.page);

    const ann = await atPrejoin(browser, stack.baseUrl, 'Ann', null);
    contexts.push(ann.context);
    for (const toggle of ['prejoin-mic-toggle', 'prejoin-camera-toggle']) {
      const button = ann.page.getByTestId(toggle);
      await until(`${toggle} is ready`, () => button.isDisabled(), (v) => !v);
      await button.click();
      await until(`${toggle} is pressed`, () => button.getAttribute('aria-pressed'), (v) => v === 'true');
    }
    const annSession = await joinNow(ann.page);
    for (const button of ['mute-button', 'camera-button']) {
      await until(`Ann's ${button} is pressed in the room`, () => ann.page.getByTestId(button).getAttribute('aria-pressed'), (v) => v === 'true');
    }
    /* Her own tile shows her stream once the call's first signals are handled. */
    const tracks = await until('Ann\'s own tile shows her stream', () => ann.page.evaluate(() => {
      const video = /** @type {HTMLVideoElement|null} */ (document.querySelector('[data-testid="local-video"]'));
      const stream = /** @type {MediaStream|null} */ (video?.srcObject ?? null);
      return stream ? stream.getTracks().map((t) => `${t.kind}:${t.enabled}`).sort() : [];
    }), (v) => v.length > 0);
    assert.deepEqual(tracks, ['audio:false', 'video:false'], 'Ann\'s own microphone and camera tracks are disabled');

    const annTile = bob.page.locator(`[data-testid="video-tile"][data-session="${annSession}"]`);
    await until('Bob sees Ann muted with her camera off', async () => [await annTile.getAttribute('data-audio'), await annTile.getAttribute('data-video')],
      (v) => v[0] === 'off' && v[1] === 'off');
    assert.equal(await annTile.getByTestId('muted-indicator').isVisible(), true);
    assert.equal(await annTile.getByTestId('camera-off-indicator').isVisible(), true);
  });

  it('no page raised an uncaught error', () => {
    assert.deepEqual(pageErrors, []);
  });
});
