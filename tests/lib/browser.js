// Test helper for the browser suites: finds playwright-core and Debian's Chromium, and says why
// a suite must be skipped when either is missing; the launch flags every suite starts from; the
// folder screenshots go to.
//
//   import { chromium, skip, BASE_ARGS, screenshotsDir } from '../lib/browser.js';
//   const browser = await chromium.launch({ executablePath: CHROMIUM, args: [...BASE_ARGS, ...] });

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

export const CHROMIUM = process.env.NOOM_CHROMIUM || '/usr/bin/chromium';

/* Headless Chromium as root in a sandbox with no network but loopback: no sandbox, no GPU, and
 * nothing that phones home (its connections would be refused, many at a time). */
export const BASE_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
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

export const chromium = found;
export const skip = why;

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
