// What a call past the mesh costs: N fake-camera users (160x120, 5 fps) in one room, on the
// mesh or on Janus's VideoRoom, in one headless Chromium on this machine.
//
//   node tests/bench/sfu-bench.mjs MODE N     MODE: mesh | sfu
//
// Prints one line: upload per member (kB/s, from getStats outbound-rtp over WINDOW_S), the
// Chromium CPU per member (all its processes, % of one core over the same window), Janus's CPU
// (% of one core) and resident memory, and the newcomer's join time (from the pre-join screen's
// Join to every other member's picture decoding on its page). docs/BENCHMARKS.md has the table.
import fs from 'node:fs';
import { startStack } from '../lib/stack.js';
import { chromium, CHROMIUM, BASE_ARGS } from '../lib/browser.js';

const [mode = 'sfu', nArg = '8'] = process.argv.slice(2);
const N = Number(nArg);
const WINDOW_S = 10;
const ARGS = [...BASE_ARGS, '--autoplay-policy=no-user-gesture-required',
  '--disable-background-timer-throttling', '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',
  '--use-fake-device-for-media-stream=fps=5', '--use-fake-ui-for-media-stream'];
const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));

function smallCamera() {
  const md = navigator.mediaDevices;
  const gum = md.getUserMedia.bind(md);
  md.getUserMedia = (c) => gum(c && c.video ? { ...c, video: { width: { exact: 160 }, height: { exact: 120 }, frameRate: { ideal: 5 } } } : c);
  const w = /** @type {any} */ (window);
  w.__pcs = [];
  const PC = window.RTCPeerConnection;
  w.RTCPeerConnection = class extends PC {
    constructor(/** @type {RTCConfiguration} */ c) {
      super(c);
      w.__pcs.push(this);
    }
  };
}

/**
 * CPU ticks (user+system) of root and its descendants, or only of those descendants whose
 * command starts with `comm` (Chromium's processes under this script, not the stack's).
 */
function treeTicks(/** @type {number} */ root, comm = '') {
  const procs = new Map();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const st = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      const name = st.slice(st.indexOf('(') + 1, st.lastIndexOf(')'));
      procs.set(Number(d), { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]), name });
    } catch { /* gone */ }
  }
  const under = (/** @type {number} */ pid) => {
    for (let p = pid; p; p = procs.get(p)?.ppid) if (p === root) return true;
    return false;
  };
  let total = 0;
  for (const [pid, p] of procs) {
    if (under(pid) && (!comm || p.name.startsWith(comm))) total += p.ticks;
  }
  return total;
}

async function remotePlaying(/** @type {import('playwright-core').Page} */ page) {
  return page.evaluate(() => Array.from(document.querySelectorAll('video[data-testid="remote-video"]'),
    (v) => /** @type {HTMLVideoElement} */ (v).getVideoPlaybackQuality().totalVideoFrames));
}

async function join(/** @type {import('playwright-core').Browser} */ browser, /** @type {string} */ base, /** @type {string} */ name) {
  const context = await browser.newContext({ viewport: { width: 800, height: 600 } });
  context.setDefaultTimeout(180000);
  await context.addInitScript(smallCamera);
  const page = await context.newPage();
  await page.goto(base);
  await page.getByTestId('nickname-input').fill(name);
  await page.getByTestId('nickname-input').press('Enter');
  await page.getByTestId('room-input').fill('bench');
  await page.getByTestId('join-button').click();
  return page;
}

/* A page that does not show every peer playing within this is a failed run, not a figure. */
const PLAYING_MS = 150000;

async function untilAllPlaying(/** @type {import('playwright-core').Page} */ page, /** @type {number} */ peers) {
  const end = Date.now() + PLAYING_MS;
  let b = /** @type {number[]} */ ([]);
  while (Date.now() < end) {
    const a = await remotePlaying(page);
    await sleep(500);
    b = await remotePlaying(page);
    if (b.length === peers && b.every((f, i) => f > (a[i] ?? Infinity))) return;
  }
  throw new Error(`not every one of ${peers} peers playing within ${PLAYING_MS / 1000} s (frames: ${b.join(' ')})`);
}

const stack = await startStack({
  sfu: mode === 'sfu' ? 'always' : false,
  workerArgs: ['--mesh-max', '16'],
});
const browser = await /** @type {NonNullable<typeof chromium>} */ (chromium).launch({ executablePath: CHROMIUM, args: ARGS });
try {
  const pages = [];
  for (let i = 0; i < N - 1; i++) {
    const p = await join(browser, stack.baseUrl, `m${i}`);
    await p.getByTestId('prejoin-join').click();
    pages.push(p);
  }
  await Promise.all(pages.map((p) => untilAllPlaying(p, N - 2)));
  /* The newcomer. */
  const last = await join(browser, stack.baseUrl, 'newcomer');
  await sleep(2000); /* its preview is up */
  const t0 = Date.now();
  await last.getByTestId('prejoin-join').click();
  await untilAllPlaying(last, N - 1);
  const joinMs = Date.now() - t0;
  pages.push(last);
  await Promise.all(pages.map((p) => untilAllPlaying(p, N - 1)));
  await sleep(3000);

  const sent = () => Promise.all(pages.map((p) => p.evaluate(async () => {
    let bytes = 0;
    for (const pc of /** @type {RTCPeerConnection[]} */ ((/** @type {any} */ (window)).__pcs)) {
      if (pc.connectionState === 'closed') continue;
      (await pc.getStats()).forEach((r) => { if (r.type === 'outbound-rtp') bytes += r.bytesSent; });
    }
    return bytes;
  })));
  const janusPid = Number(fs.existsSync(`${stack.stateDir}/janus/janus.pid`) ? fs.readFileSync(`${stack.stateDir}/janus/janus.pid`, 'utf8') : 0);
  const hz = 100;
  const s0 = await sent();
  const c0 = treeTicks(process.pid, 'chrom');
  const j0 = janusPid ? treeTicks(janusPid) : 0;
  await sleep(WINDOW_S * 1000);
  const s1 = await sent();
  const c1 = treeTicks(process.pid, 'chrom');
  const j1 = janusPid ? treeTicks(janusPid) : 0;
  const upload = s1.reduce((a, b, i) => a + (b - s0[i]), 0) / N / WINDOW_S / 1000;
  const cpu = ((c1 - c0) / hz / WINDOW_S * 100) / N;
  const jcpu = janusPid ? (j1 - j0) / hz / WINDOW_S * 100 : 0;
  const jrss = janusPid ? Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${janusPid}/status`, 'utf8'))?.[1] ?? 0) / 1024 : 0;
  console.log(`${mode} N=${N}: upload ${upload.toFixed(1)} kB/s per member, Chromium CPU ${cpu.toFixed(1)} % per member, ` +
    `Janus CPU ${jcpu.toFixed(1)} %, Janus RSS ${jrss.toFixed(1)} MB, newcomer join ${(joinMs / 1000).toFixed(1)} s`);
} finally {
  await browser.close();
  await stack.stop();
}
