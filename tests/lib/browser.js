// Test helper for the browser suites: finds playwright-core and Debian's Chromium, and says why
// a suite must be skipped when either is missing; the launch flags every suite starts from; a
// fake microphone that plays a continuous tone (toneAudioArgs); the folder screenshots go to;
// waiting for a page to get somewhere (waitUntil, sleep).
//
//   import { chromium, skip, BASE_ARGS, screenshotsDir, waitUntil } from '../lib/browser.js';
//   const browser = await chromium.launch({ executablePath: CHROMIUM, args: [...BASE_ARGS, ...] });
//
// Content-Security-Policy: every browser launched through `chromium` here records the policy
// violations of all its pages (a securitypolicyviolation listener in every document, also kept
// in the page as window.__cspViolations), prints each one as it comes, and the test during
// which one came fails: importing this file adds an afterEach (and an after, for what came
// after the last test) that calls assertNoCspViolations(). Tests may call it themselves too.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { after, afterEach } from 'node:test';

export const CHROMIUM = process.env.NOOM_CHROMIUM || '/usr/bin/chromium';

/* Headless Chromium as root in a sandbox with no network but loopback: no sandbox, no GPU, and
 * nothing that phones home (its connections would be refused, many at a time). */
export const BASE_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/* A page in a call: fake camera (10 frames a second) and microphone, no permission prompt, media
 * that plays without a gesture, and timers that run at full pace in pages not in front. */
export const FAKE_MEDIA_ARGS = [
  ...BASE_ARGS,
  '--autoplay-policy=no-user-gesture-required',
  '--disable-background-timer-throttling', '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',
  '--use-fake-device-for-media-stream=fps=10', '--use-fake-ui-for-media-stream',
];

/** @type {import('playwright-core').BrowserType|null} */
let found = null;
/** Why the browser suites cannot run here, or false. @type {string|false} */
let why = false;
try {
  ({ chromium: found } = await import('playwright-core'));
} catch (err) {
  try {
    /* ES modules ignore NODE_PATH (which make check sets); require() honours it. */
    ({ chromium: found } = createRequire(import.meta.url)('playwright-core'));
  } catch {
    why = `playwright-core is not installed (npm install): ${err.code || err.message}`;
  }
}
if (!why && !fs.existsSync(CHROMIUM)) why = `no Chromium at ${CHROMIUM} (set NOOM_CHROMIUM)`;

/**
 * @typedef {object} CspViolation
 * @property {string} directive  the directive that blocked it (effectiveDirective)
 * @property {string} blocked    the URL, or "inline" / "eval" / "data" ...
 * @property {string} source     the file and line that caused it, when known
 * @property {string} page       the page's URL
 */

/** Violations seen since the last assertNoCspViolations(). @type {CspViolation[]} */
const violations = [];

/** In every document, before its own scripts: report each CSP violation to the test. */
function listenForCspViolations() {
  const w = /** @type {any} */ (window);
  w.__cspViolations = [];
  document.addEventListener('securitypolicyviolation', (e) => {
    const v = {
      directive: e.effectiveDirective || e.violatedDirective,
      blocked: e.blockedURI || '(none)',
      source: e.sourceFile ? `${e.sourceFile}:${e.lineNumber}:${e.columnNumber}` : '',
      page: location.href,
    };
    w.__cspViolations.push(v);
    if (typeof w.__noomCspViolation === 'function') w.__noomCspViolation(v).catch(() => {});
  }, true);
}

/** @param {CspViolation} v */
const describeViolation = (v) => `${v.directive} blocked ${v.blocked}${v.source ? ` at ${v.source}` : ''} on ${v.page}`;

/**
 * Every context of this browser (and so every page, browser.newPage() makes its context with
 * newContext()) records its pages' CSP violations here.
 * @param {import('playwright-core').Browser} browser
 */
function recordCspViolations(browser) {
  const newContext = browser.newContext.bind(browser);
  browser.newContext = async (options) => {
    const context = await newContext(options);
    await context.exposeBinding('__noomCspViolation', (_source, /** @type {CspViolation} */ v) => {
      violations.push(v);
      console.error(`Content-Security-Policy violation: ${describeViolation(v)}`);
    });
    await context.addInitScript(listenForCspViolations);
    return context;
  };
  return browser;
}

if (found) {
  const launch = found.launch.bind(found);
  found.launch = async (options) => recordCspViolations(await launch(options));
}

/**
 * Throws, listing them, if a page broke the Content-Security-Policy since the last call.
 * @param {string} [when]
 */
export function assertNoCspViolations(when = '') {
  const seen = violations.splice(0);
  if (seen.length) {
    throw new Error(`${seen.length} Content-Security-Policy violation(s)${when ? ` ${when}` : ''}:\n` +
      seen.map((v) => `  ${describeViolation(v)}`).join('\n'));
  }
}

afterEach(() => assertNoCspViolations('during this test'));
after(() => assertNoCspViolations('after the last test'));

export const chromium = found;
export const skip = why;

/**
 * Flags that make every fake microphone of the browser play a continuous sine tone (a WAV file
 * written here, which Chromium loops) instead of its default: a 20 ms beep every 500 ms, which
 * a speaking detector may catch only by luck and never within a set time. Add them after
 * --use-fake-device-for-media-stream.
 * @param {number} [hz]
 * @returns {string[]}
 */
export function toneAudioArgs(hz = 440) {
  const rate = 48000;
  const seconds = 2;
  const samples = rate * seconds;
  const wav = Buffer.alloc(44 + samples * 2);
  wav.write('RIFF', 0, 'ascii');
  wav.writeUInt32LE(36 + samples * 2, 4);
  wav.write('WAVEfmt ', 8, 'ascii');
  wav.writeUInt32LE(16, 16); /* PCM header size */
  wav.writeUInt16LE(1, 20); /* PCM */
  wav.writeUInt16LE(1, 22); /* mono */
  wav.writeUInt32LE(rate, 24);
  wav.writeUInt32LE(rate * 2, 28); /* bytes a second */
  wav.writeUInt16LE(2, 32); /* bytes a frame */
  wav.writeUInt16LE(16, 34); /* bits a sample */
  wav.write('data', 36, 'ascii');
  wav.writeUInt32LE(samples * 2, 40);
  /* A whole number of periods in the file (440 Hz: 880 of them), so the loop does not click. */
  for (let i = 0; i < samples; i++) wav.writeInt16LE(Math.round(0.3 * 32767 * Math.sin(2 * Math.PI * hz * i / rate)), 44 + 2 * i);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'noom-tone-'));
  const file = path.join(dir, `tone-${hz}.wav`);
  fs.writeFileSync(file, wav);
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return [`--use-file-for-fake-audio-capture=${file}`];
}

export const sleep = (/** @type {number} */ ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Calls probe() every `every` ms until ok() accepts its value: that value, and how long it took.
 * Past timeout ms, fails naming `what` and the last value seen (its first 3000 characters).
 * @template T
 * @param {string} what
 * @param {() => Promise<T>|T} probe
 * @param {(value: T) => boolean} ok
 * @param {number} timeout
 * @param {number} [every]
 * @returns {Promise<{value: T, ms: number}>}
 */
export async function waitUntil(what, probe, ok, timeout, every = 100) {
  const start = Date.now();
  for (;;) {
    const value = await probe();
    if (ok(value)) return { value, ms: Date.now() - start };
    if (Date.now() - start > timeout) {
      throw new Error(`${what}: not within ${(timeout / 1000).toFixed(1)} s; last seen: ${JSON.stringify(value)?.slice(0, 3000)}`);
    }
    await sleep(every);
  }
}

let shotsDir = '';
/** Where screenshots go: $NOOM_BUILDDIR/tests/browser/screenshots, else a fresh temporary folder. */
export function screenshotsDir() {
  if (!shotsDir) {
    shotsDir = process.env.NOOM_BUILDDIR
      ? path.join(process.env.NOOM_BUILDDIR, 'tests', 'browser', 'screenshots')
      : fs.mkdtempSync(path.join(os.tmpdir(), 'noom-screenshots-'));
    fs.mkdirSync(shotsDir, { recursive: true });
  }
  return shotsDir;
}
