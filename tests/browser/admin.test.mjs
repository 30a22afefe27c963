// Browser test of the admin page: real Chromium against the real stack with admin_password set.
// The page refuses a wrong password and, from another site, any login; with the right one it
// lists a room with its two members (live: the second member appears without a reload); a third
// member removed goes home with the notice while the others stay; and closing the room sends both
// remaining members home with the notice.
// Screenshot: admin.png (the page with the room). Skipped, with the reason, when playwright-core
// or Chromium is missing.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { startStack, api } from '../lib/stack.js';
import { chromium, skip, CHROMIUM, BASE_ARGS, screenshotsDir } from '../lib/browser.js';

const WAIT = 20000;
const PASSWORD = 'operator on duty';
const ROOM = 'Weekly sync';
const LAUNCH_ARGS = [...BASE_ARGS, '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'];
const worker = path.join(process.env.NOOM_BUILDDIR ?? '.', 'fcgi', 'noom-worker');

/**
 * Joins ROOM from the home page, through the pre-join screen.
 * @param {import('playwright-core').Page} page
 * @param {string} base
 * @param {string} name
 */
async function joinRoom(page, base, name) {
  await page.goto(base);
  await page.waitForFunction(() => document.body.dataset.ready === 'true', null, { timeout: WAIT });
  await page.getByTestId('nickname-input').fill(name);
  await page.getByTestId('nickname-input').press('Enter');
  await page.getByTestId('room-input').fill(ROOM);
  await page.getByTestId('join-button').click();
  await page.getByTestId('prejoin-join').click({ timeout: WAIT });
  await page.waitForFunction(() => !document.getElementById('room-view')?.hidden, null, { timeout: WAIT });
}

/** @param {import('playwright-core').Page} page */
const roomsShown = (page) => page.evaluate(() => Array.from(
  document.querySelectorAll('[data-testid="admin-rooms"] > [data-room]'),
  (el) => ({ room: /** @type {HTMLElement} */ (el).dataset.room, count: /** @type {HTMLElement} */ (el).dataset.count,
    members: Array.from(el.querySelectorAll('[data-nickname]'), (m) => /** @type {HTMLElement} */ (m).dataset.nickname) })));

describe('browser: the admin page', { skip }, () => {
  /** @type {Awaited<ReturnType<typeof startStack>>} */
  let stack;
  /** @type {import('playwright-core').Browser} */
  let browser;

  before(async () => {
    const hash = execFileSync(worker, ['--hash-password'], { input: `${PASSWORD}\n` }).toString();
    stack = await startStack({ config: hash });
    browser = await /** @type {NonNullable<typeof chromium>} */ (chromium).launch({
      executablePath: CHROMIUM, headless: true, args: LAUNCH_ARGS, timeout: WAIT,
    });
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await stack?.stop();
  });

  it('refuses without the password, lists a room with two members live, closes it, and both go home', { timeout: 120000 }, async () => {
    const ctx = (/** @type {string} */ n) => browser.newContext({ viewport: { width: 1280, height: 800 } }).then(async (c) => {
      c.setDefaultTimeout(WAIT);
      return { name: n, context: c, page: await c.newPage() };
    });
    const [ann, bob, admin] = await Promise.all([ctx('Ann'), ctx('Bob'), ctx('Admin')]);

    /* A wrong password is refused on the page; the login form stays. */
    await admin.page.goto(new URL('admin', stack.baseUrl).href);
    const form = admin.page.getByTestId('admin-login');
    await form.waitFor({ state: 'visible' });
    await admin.page.locator('#admin-password').fill('not it');
    await admin.page.getByTestId('admin-login-submit').click();
    await admin.page.locator('[data-role="login-error"]').waitFor({ state: 'visible' });
    assert.match(await admin.page.locator('[data-role="login-error"]').textContent() ?? '', /wrong/i);
    assert.equal(await admin.page.getByTestId('admin-rooms').isVisible(), false);
    /* From another site's page a login is refused even with the password. */
    const foreign = await api(stack, 'POST', 'api/admin/login', { body: { password: PASSWORD }, headers: { Origin: 'https://elsewhere.example' } });
    assert.equal(foreign.status, 403);

    await admin.page.locator('#admin-password').fill(PASSWORD);
    await admin.page.getByTestId('admin-login-submit').click();
    await admin.page.locator('[data-role="dashboard"]').waitFor({ state: 'visible' });
    await admin.page.locator('[data-role="live"]').waitFor({ state: 'visible' });
    const cookies = await admin.context.cookies();
    const c = cookies.find((x) => x.name === 'noom_admin');
    assert.ok(c && c.httpOnly && c.sameSite === 'Strict', JSON.stringify(cookies));

    /* Ann opens the room; Bob joins: the admin page follows without a reload. */
    await joinRoom(ann.page, stack.baseUrl, 'Ann');
    await admin.page.waitForFunction((room) => document.querySelector(`[data-testid="admin-rooms"] > [data-room="${room}"][data-count="1"]`), ROOM, { timeout: WAIT });
    await joinRoom(bob.page, stack.baseUrl, 'Bob');
    await admin.page.waitForFunction((room) => document.querySelector(`[data-testid="admin-rooms"] > [data-room="${room}"][data-count="2"]`), ROOM, { timeout: WAIT });
    /* The last hour's charts, one per figure. */
    await admin.page.waitForFunction(() => document.querySelectorAll('[data-testid="admin-charts"] figure svg polyline').length === 9, null, { timeout: WAIT });
    const shown = await roomsShown(admin.page);
    assert.deepEqual(shown, [{ room: ROOM, count: '2', members: ['Ann', 'Bob'] }]);
    await admin.page.screenshot({ path: path.join(screenshotsDir(), 'admin.png'), fullPage: true });

    /* Cal joins, and is removed: Cal goes home with the notice, Ann and Bob stay in the room. */
    const cal = await ctx('Cal');
    await joinRoom(cal.page, stack.baseUrl, 'Cal');
    await admin.page.waitForFunction((room) => document.querySelector(`[data-testid="admin-rooms"] > [data-room="${room}"][data-count="3"]`), ROOM, { timeout: WAIT });
    await admin.page.locator(`[data-testid="admin-rooms"] > [data-room="${ROOM}"] [data-nickname="Cal"] [data-testid="admin-remove-member"]`).click();
    await cal.page.waitForFunction(() => !document.getElementById('home-view')?.hidden, null, { timeout: WAIT });
    const removed = cal.page.getByTestId('notice');
    await removed.waitFor({ state: 'visible' });
    assert.match(await removed.textContent() ?? '', /removed/i, "Cal's notice");
    await admin.page.waitForFunction((room) => document.querySelector(`[data-testid="admin-rooms"] > [data-room="${room}"][data-count="2"]`), ROOM, { timeout: WAIT });
    assert.deepEqual(await roomsShown(admin.page), [{ room: ROOM, count: '2', members: ['Ann', 'Bob'] }]);
    for (const u of [ann, bob]) {
      assert.equal(await u.page.evaluate(() => document.getElementById('room-view')?.hidden), false, `${u.name} stays in the room`);
      assert.equal(await u.page.evaluate(() => document.getElementById('home-view')?.hidden), true, `${u.name} is not sent home`);
    }
    await cal.context.close();

    /* Close it: both members go home with the notice; the list empties. */
    await admin.page.locator(`[data-testid="admin-rooms"] > [data-room="${ROOM}"] [data-testid="admin-close-room"]`).click();
    for (const u of [ann, bob]) {
      await u.page.waitForFunction(() => !document.getElementById('home-view')?.hidden, null, { timeout: WAIT });
      const notice = u.page.getByTestId('notice');
      await notice.waitFor({ state: 'visible' });
      assert.match(await notice.textContent() ?? '', /closed/i, `${u.name}'s notice`);
    }
    await admin.page.waitForFunction(() => document.querySelectorAll('[data-testid="admin-rooms"] > [data-room]').length === 0, null, { timeout: WAIT });
    for (const u of [ann, bob, admin]) await u.context.close();
  });
});
