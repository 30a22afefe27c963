// Call set-up time: from the second user's click on "Join" to both users seeing the other's
// video playing (videoWidth > 0 and time advancing), in Debian's headless Chromium with fake
// camera and microphone, against the real stack (noom-run: nginx + workers + noom-ws) on
// 127.0.0.1. Prints every run and the median, for each transport asked for.
//
//   node tests/bench/callsetup.mjs [RUNS] [polling|websocket ...]
//       (make bench-call: 5 runs, long-polling then WebSocket)
//
// Environment as for `make check` (NOOM_RUN, NOOM_SRCDIR, NOOM_BUILDDIR, NODE_PATH). A benchmark,
// not a test: nothing is asserted about the time. Each run uses a new room and new browser
// contexts, so no connection or cache is reused between runs; the browser and stack are shared.

import { createRequire } from 'node:module';
import { startStack } from '../lib/stack.js';

const RUNS = Math.max(1, Math.min(50, Number(process.argv[2]) || 5));
const MODES = process.argv.slice(3).filter((m) => m === 'polling' || m === 'websocket');
if (MODES.length === 0) MODES.push('polling');
const WAIT = 30000;
const { chromium } = createRequire(import.meta.url)('playwright-core');

const args = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
  '--autoplay-policy=no-user-gesture-required',
];

/** Resolves once the page shows one remote video that is playing. */
function remotePlaying(page) {
  return page.waitForFunction(() => {
    const v = /** @type {HTMLVideoElement|null} */ (document.querySelector('[data-testid="remote-video"]'));
    return !!v && v.videoWidth > 0 && v.currentTime > 0 && !v.paused;
  }, null, { timeout: WAIT, polling: 10 });
}

async function joinPage(browser, stack, nickname, roomName, mode) {
  const ctx = await browser.newContext({ viewport: { width: 1024, height: 700 } });
  const page = await ctx.newPage();
  await page.goto(`${stack.baseUrl}?transport=${mode}`);
  await page.waitForSelector('body[data-ready="true"]', { timeout: WAIT });
  await page.fill('[data-testid="nickname-input"]', nickname);
  await page.fill('[data-testid="room-input"]', roomName);
  return { ctx, page };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const stack = await startStack({});
const browser = await chromium.launch({ executablePath: process.env.NOOM_CHROMIUM || '/usr/bin/chromium', args });
/** The median set-up time over RUNS calls with both users on `mode`. */
async function measure(mode) {
  const times = [];
  for (let i = 1; i <= RUNS; i++) {
    const roomName = `setup-${mode}-${process.pid}-${i}`;
    const a = await joinPage(browser, stack, 'Ann', roomName, mode);
    await a.page.click('[data-testid="join-button"]');
    /* Ann is in the room with her camera on before Bob arrives, as in a real meeting. */
    await a.page.waitForSelector('[data-testid="local-video"]', { timeout: WAIT });
    const b = await joinPage(browser, stack, 'Bob', roomName, mode);
    await b.page.waitForFunction((m) => document.body.dataset.transport === m, mode, { timeout: WAIT });
    const t0 = Date.now();
    await b.page.click('[data-testid="join-button"]');
    await Promise.all([remotePlaying(a.page), remotePlaying(b.page)]);
    const ms = Date.now() - t0;
    times.push(ms);
    console.log(`${mode} run ${i}: ${ms} ms`);
    await a.ctx.close();
    await b.ctx.close();
  }
  console.log(`call set-up, ${mode}, median of ${RUNS}: ${median(times)} ms ` +
    `(min ${Math.min(...times)}, max ${Math.max(...times)})`);
}

try {
  for (const mode of MODES) await measure(mode);
} finally {
  await browser.close();
  await stack.stop();
}
