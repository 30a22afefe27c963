// Browser tests of private meetings run by a host: real Chromium (through playwright-core) with
// fake cameras and microphones, against the real stack (noom-run: nginx + noom-worker).
//
// One meeting, one stack, one browser; every person has a browser context of their own:
//  1. Hana opens an unlisted meeting from the home page (room-unlisted): the pre-join screen
//     first, then the room, whose address and invite link carry "#key=…"; the room stays off
//     the others' room lists. Ivan and Jo open the invite link, pass the pre-join screen and are
//     in. Everyone sees Hana's host badge (people list and tile); only Hana has the host
//     controls and the buttons in the others' entries. Copy works, and falls back to selecting
//     the link when there is no clipboard. A reload goes straight back in, host included.
//  2. Hana locks the meeting: Kai, with the link, is refused with the notice; unlocked again.
//  3. Hana asks Ivan to mute (his mute button shows it, the notice says why, he may unmute) and
//     removes Jo (sent home with the notice; the link no longer lets him in).
//  4. The waiting room: Lea and Max wait ("Waiting for the host to let you in"); Hana sees
//     both, admits Lea (she is in) and denies Max (home, with the notice).
//  5. Mute everyone: every member but Hana is muted and told.
//  6. A password: Nia is asked for it, a wrong one is refused on the pre-join screen, the
//     right one lets her in; Otto keeps guessing until the limit, which the notice reports.
//  7. Hana ends the meeting (confirmed in the page): everyone goes home with the notice.
//
// Screenshots, in $NOOM_BUILDDIR/tests/browser/screenshots/ (or a fresh temporary folder):
// meeting-prejoin.png (the pre-join screen), meeting-host-people.png (the host's people list
// with the waiting list), meeting-waiting.png (a joiner's waiting screen).
//
// Skipped, with the reason, when playwright-core or Chromium is missing.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startStack } from '../lib/stack.js';
import { chromium, skip, CHROMIUM, screenshotsDir, sleep, waitUntil, FAKE_MEDIA_ARGS } from '../lib/browser.js';

const WAIT = 20000;
const DESKTOP = { width: 1280, height: 800 };
const LAUNCH_ARGS = FAKE_MEDIA_ARGS;
const ROOM = 'Board meeting';
/* Every page here is 127.0.0.1, one client address: a small password-guess bucket, so that the
 * limit is reached in a few guesses (each one is a PBKDF2 check on the server). */
const CONFIG = 'limit_passwords = 4/0.01\n';

/**
 * Polls `probe` until `ok(value)` holds; throws after WAIT with the last value seen.
 * @template T
 * @param {string} what
 * @param {() => Promise<T>} probe
 * @param {(value: T) => boolean} ok
 * @returns {Promise<T>}
 */
const until = async (what, probe, ok) => (await waitUntil(what, probe, ok, WAIT, 150)).value;

/**
 * @typedef {object} User
 * @property {string} name
 * @property {import('playwright-core').BrowserContext} context
 * @property {import('playwright-core').Page} page
 */

/** Uncaught page errors, checked at the end. @type {string[]} */
const pageErrors = [];

/**
 * A new person with a browser context of their own (own sessionStorage and localStorage).
 * @param {import('playwright-core').Browser} browser
 * @param {string} name
 * @returns {Promise<User>}
 */
async function newUser(browser, name) {
  const context = await browser.newContext({ viewport: DESKTOP });
  context.setDefaultTimeout(WAIT);
  context.setDefaultNavigationTimeout(WAIT);
  const page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(`${name}: ${err.message}`));
  return { name, context, page };
}

/**
 * Which view is on screen: home, prejoin, waiting or room.
 * @param {User} user
 */
function viewOf(user) {
  return user.page.evaluate(() => {
    const shown = (/** @type {string} */ id) => !document.getElementById(id)?.hidden;
    if (shown('room-view')) return 'room';
    if (shown('prejoin-view')) {
      return document.querySelector('[data-testid="waiting-screen"]')?.hasAttribute('hidden') ? 'prejoin' : 'waiting';
    }
    return shown('home-view') ? 'home' : 'none';
  });
}

/**
 * @param {User} user
 * @param {string} want
 */
function waitView(user, want) {
  return until(`${user.name} sees the ${want} view`, () => viewOf(user), (v) => v === want);
}

/**
 * Waits until the user is in the room with `count` people (the room page, its count).
 * @param {User} user
 * @param {number} count
 */
async function waitInRoom(user, count) {
  await waitView(user, 'room');
  await until(`${user.name}'s room has ${count} people`,
    async () => (await user.page.getByTestId('room-count').textContent())?.trim() ?? '',
    (text) => text.startsWith(`${count} `));
}

/**
 * Waits until the notice banner is shown and matches.
 * @param {User} user
 * @param {RegExp} text
 */
async function waitNotice(user, text) {
  const notice = user.page.getByTestId('notice');
  return until(`${user.name}'s notice matches ${text}`,
    async () => ({ visible: await notice.isVisible(), text: (await notice.textContent())?.trim() ?? '' }),
    (n) => n.visible && text.test(n.text));
}

/**
 * The entry of a member in the people list.
 * @param {User} viewer
 * @param {string} nickname
 */
function member(viewer, nickname) {
  return viewer.page.locator(`[data-testid="member-list"] [data-testid="member"][data-nickname="${nickname}"]`);
}

/**
 * Opens an address (an invite link), sets the name on the pre-join screen and joins.
 * @param {User} user
 * @param {string} url
 */
async function joinByLink(user, url) {
  await user.page.goto(url);
  await waitView(user, 'prejoin');
  await user.page.getByTestId('prejoin-nickname').fill(user.name);
  await user.page.getByTestId('prejoin-join').click();
}

/**
 * @param {User} user
 * @param {string} testid
 * @param {'true'|'false'} value
 */
function waitPressed(user, testid, value) {
  return until(`${user.name}'s ${testid} aria-pressed="${value}"`,
    () => user.page.getByTestId(testid).getAttribute('aria-pressed'), (v) => v === value);
}

/**
 * Whether the local microphone track (the one the call sends) is enabled.
 * @param {User} user
 */
function micEnabled(user) {
  return user.page.evaluate(() => {
    const v = /** @type {HTMLVideoElement|null} */ (document.querySelector('[data-role="tiles"] video[data-testid="local-video"]'));
    const stream = v?.srcObject instanceof MediaStream ? v.srcObject : null;
    return stream?.getAudioTracks()[0]?.enabled ?? null;
  });
}

describe('browser: a private meeting run by a host', { skip }, () => {
  /** @type {Awaited<ReturnType<typeof startStack>>} */
  let stack;
  /** @type {import('playwright-core').Browser} */
  let browser;
  /** @type {Record<string, User>} */
  const users = {};
  /** The invite link as Hana's page shows it. */
  let invite = '';

  before(async () => {
    stack = await startStack({ config: CONFIG });
    browser = await /** @type {NonNullable<typeof chromium>} */ (chromium).launch({
      executablePath: CHROMIUM, headless: true, args: LAUNCH_ARGS, timeout: WAIT,
    });
  });

  after(async () => {
    for (const user of Object.values(users)) await user.context.close().catch(() => {});
    await browser?.close().catch(() => {});
    await stack?.stop();
  });

  it('the host opens an unlisted meeting; the others enter by its invite link', { timeout: 120000 }, async (t) => {
    const Hana = users.Hana = await newUser(browser, 'Hana');
    await Hana.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(stack.baseUrl).origin });
    const { page } = Hana;
    await page.goto(stack.baseUrl);
    await page.waitForFunction(() => document.body.dataset.ready === 'true');
    await page.getByTestId('nickname-input').fill('Hana');
    await page.getByTestId('nickname-input').press('Enter');
    await page.getByTestId('room-input').fill(ROOM);
    await page.getByTestId('room-unlisted').check();
    await page.getByTestId('join-button').click();

    /* The pre-join screen: the live preview, the devices, the name. */
    await waitView(Hana, 'prejoin');
    assert.equal(await page.getByTestId('prejoin-nickname').inputValue(), 'Hana');
    await until('the preview plays the camera', () => page.evaluate(() => {
      const v = /** @type {HTMLVideoElement} */ (document.querySelector('[data-testid="prejoin-preview"]'));
      return { width: v.videoWidth, tracks: v.srcObject instanceof MediaStream ? v.srcObject.getTracks().length : 0 };
    }), (v) => v.width > 0 && v.tracks > 0);
    assert.ok(await page.getByTestId('prejoin-camera-select').locator('option').count() >= 1);
    assert.ok(await page.getByTestId('prejoin-mic-select').locator('option').count() >= 1);
    assert.equal(await page.getByTestId('prejoin-mic-toggle').getAttribute('aria-pressed'), 'false');
    assert.equal(await page.getByTestId('prejoin-status').isVisible(), false, 'no camera problem to report');
    const shot = path.join(screenshotsDir(), 'meeting-prejoin.png');
    await page.screenshot({ path: shot });
    t.diagnostic(`screenshot ${shot}`);
    await page.getByTestId('prejoin-join').click();
    await waitInRoom(Hana, 1);

    /* The address is the invite link: the room's key in the fragment. */
    invite = await page.getByTestId('invite-link').inputValue();
    t.diagnostic(`invite link ${invite}`);
    const url = new URL(invite);
    assert.equal(page.url(), invite, 'the address bar shows the invite link');
    assert.equal(url.origin + url.pathname, new URL(`room/${encodeURIComponent(ROOM)}`, stack.baseUrl).href);
    assert.match(url.hash, /^#key=[A-Za-z0-9_-]{16,64}$/, 'the key is in the fragment');
    await page.getByTestId('invite-copy').click();
    const copied = await until('Hana\'s copy says what happened',
      async () => (await page.locator('[data-role="invite-status"]').textContent())?.trim() ?? '', (s) => s !== '');
    t.diagnostic(`copy: "${copied}"`);
    if (/copied/i.test(copied)) {
      assert.equal(await page.evaluate(() => navigator.clipboard.readText()), invite, 'the clipboard holds the link');
    } else {
      assert.equal(copied, 'Press Ctrl+C to copy');
    }

    /* The others come in by the link, through the pre-join screen. */
    for (const name of ['Ivan', 'Jo']) {
      users[name] = await newUser(browser, name);
      await joinByLink(users[name], invite);
    }
    const { Ivan, Jo } = users;
    for (const user of [Hana, Ivan, Jo]) await waitInRoom(user, 3);
    assert.equal(Ivan.page.url(), invite, 'Ivan\'s address is the same link');

    /* The meeting is unlisted: nobody's room list shows it. */
    const Kai = users.Kai = await newUser(browser, 'Kai');
    await Kai.page.goto(stack.baseUrl);
    await Kai.page.waitForFunction(() => document.body.dataset.ready === 'true');
    await sleep(500);
    assert.equal(await Kai.page.locator(`[data-testid="room-list"] > [data-room="${ROOM}"]`).count(), 0,
      'the unlisted meeting is not on the room list');

    /* Hosts: Hana's badge for everyone (list and tile); Hana alone has the controls. */
    for (const viewer of [Hana, Ivan, Jo]) {
      await until(`${viewer.name} sees three members`, () => viewer.page.getByTestId('member').count(), (n) => n === 3);
      assert.equal(await member(viewer, 'Hana').getByTestId('host-badge').count(), 1, `${viewer.name}: Hana's host badge`);
      for (const other of ['Ivan', 'Jo']) {
        assert.equal(await member(viewer, other).getByTestId('host-badge').count(), 0, `${viewer.name}: no badge for ${other}`);
      }
      const hanaSession = await member(viewer, 'Hana').getAttribute('data-session');
      assert.match(hanaSession ?? '', /^\d+$/);
      assert.ok(await viewer.page.locator(`[data-testid="video-tile"][data-session="${hanaSession}"] [data-testid="tile-host-badge"]`).isVisible(),
        `${viewer.name}: the host badge on Hana's tile`);
    }
    assert.ok(await Hana.page.getByTestId('mute-all').isVisible(), 'Hana has the host controls');
    for (const other of ['Ivan', 'Jo']) {
      for (const id of ['member-mute', 'member-remove']) {
        assert.equal(await member(Hana, other).getByTestId(id).count(), 1, `Hana: ${id} for ${other}`);
      }
    }
    assert.equal(await member(Hana, 'Hana').locator('button').count(), 0, 'no buttons in Hana\'s own entry');
    for (const user of [Ivan, Jo]) {
      assert.equal(await user.page.getByTestId('mute-all').isVisible(), false, `${user.name} has no host controls`);
      assert.equal(await user.page.getByTestId('member-remove').count(), 0, `${user.name} has no remove buttons`);
    }

    /* Without a clipboard the link is selected and the page says how to copy it. */
    await Ivan.page.evaluate(() => Object.defineProperty(navigator, 'clipboard', { value: undefined, configurable: true }));
    await Ivan.page.getByTestId('invite-copy').click();
    await until('Ivan is told to press Ctrl+C', async () => (await Ivan.page.locator('[data-role="invite-status"]').textContent())?.trim(),
      (s) => s === 'Press Ctrl+C to copy');
    const selected = await Ivan.page.evaluate(() => {
      const input = /** @type {HTMLInputElement} */ (document.activeElement);
      return input?.dataset.testid === 'invite-link' && input.selectionStart === 0 && input.selectionEnd === input.value.length;
    });
    assert.ok(selected, 'the invite link is selected');

    /* A reload goes straight back in (no pre-join screen), the host still a host. */
    for (const user of [Ivan, Hana]) {
      await user.page.reload();
      await waitInRoom(user, 3);
      assert.equal(user.page.url(), invite, `${user.name}'s address kept the key`);
      assert.equal(await user.page.getByTestId('invite-link').inputValue(), invite);
    }
    await until('Hana is host again after her reload', () => Hana.page.getByTestId('mute-all').isVisible(), (v) => v);
    assert.equal(await member(Ivan, 'Hana').getByTestId('host-badge').count(), 1);
  });

  it('a locked meeting refuses a newcomer with the notice', { timeout: 60000 }, async () => {
    const { Hana, Ivan, Kai } = users;
    await Hana.page.getByTestId('lock-toggle').click();
    await waitPressed(Hana, 'lock-toggle', 'true');
    await until('Ivan sees the meeting locked', async () => (await Ivan.page.locator('[data-role="room-flags"]').textContent()) ?? '',
      (s) => s.includes('Locked'));

    await joinByLink(Kai, invite);
    await waitNotice(Kai, /locked/i);
    assert.equal(await viewOf(Kai), 'prejoin', 'Kai stays on the pre-join screen');
    await waitInRoom(Hana, 3);

    await Hana.page.getByTestId('lock-toggle').click();
    await waitPressed(Hana, 'lock-toggle', 'false');
  });

  it('the host mutes one member and removes another', { timeout: 60000 }, async () => {
    const { Hana, Ivan, Jo } = users;
    await until('Ivan\'s microphone is on', () => micEnabled(Ivan), (v) => v === true);
    await member(Hana, 'Ivan').getByTestId('member-mute').click();
    await waitPressed(Ivan, 'mute-button', 'true');
    await waitNotice(Ivan, /host muted your microphone/i);
    assert.equal(await micEnabled(Ivan), false, 'Ivan\'s microphone track is disabled');
    const ivanSession = await member(Hana, 'Ivan').getAttribute('data-session');
    await until('Hana sees Ivan muted', () => Hana.page.locator(`[data-testid="video-tile"][data-session="${ivanSession}"]`).getAttribute('data-audio'),
      (v) => v === 'off');
    /* He may unmute. */
    await Ivan.page.getByTestId('mute-button').click();
    await waitPressed(Ivan, 'mute-button', 'false');
    assert.equal(await micEnabled(Ivan), true);

    await member(Hana, 'Jo').getByTestId('member-remove').click();
    await waitView(Jo, 'home');
    await waitNotice(Jo, /removed by the host/i);
    assert.equal(new URL(Jo.page.url()).pathname, new URL(stack.baseUrl).pathname, 'Jo is on the home page');
    for (const user of [Hana, Ivan]) await waitInRoom(user, 2);
    await until('Jo is gone from Hana\'s list', () => member(Hana, 'Jo').count(), (n) => n === 0);

    /* The link no longer lets him in. */
    await joinByLink(Jo, invite);
    await waitNotice(Jo, /removed/i);
    assert.equal(await viewOf(Jo), 'prejoin');
    await waitInRoom(Hana, 2);
  });

  it('the waiting room: the host admits one joiner and denies another', { timeout: 90000 }, async (t) => {
    const { Hana, Ivan } = users;
    await Hana.page.getByTestId('waiting-toggle').click();
    await waitPressed(Hana, 'waiting-toggle', 'true');

    for (const name of ['Lea', 'Max']) {
      users[name] = await newUser(browser, name);
      await joinByLink(users[name], invite);
      await waitView(users[name], 'waiting');
    }
    const { Lea, Max } = users;
    assert.match((await Lea.page.getByTestId('waiting-screen').textContent()) ?? '', /Waiting for the host to let you in/);
    let shot = path.join(screenshotsDir(), 'meeting-waiting.png');
    await Lea.page.screenshot({ path: shot });
    t.diagnostic(`screenshot ${shot}`);

    const waiting = Hana.page.getByTestId('waiting-list');
    await until('Hana sees Lea and Max waiting',
      () => waiting.evaluate((list) => Array.from(list.children, (c) => /** @type {HTMLElement} */ (c).dataset.nickname)),
      (names) => JSON.stringify(names) === JSON.stringify(['Lea', 'Max']));
    assert.equal(await Ivan.page.getByTestId('waiting-list').isVisible(), false, 'Ivan does not see who waits');
    shot = path.join(screenshotsDir(), 'meeting-host-people.png');
    await Hana.page.screenshot({ path: shot });
    t.diagnostic(`screenshot ${shot}`);

    await waiting.locator('[data-nickname="Lea"]').getByTestId('admit-button').click();
    await waitInRoom(Lea, 3);
    await waitInRoom(Hana, 3);
    await waitInRoom(Ivan, 3);
    await until('Lea left the waiting list', () => waiting.locator('[data-nickname="Lea"]').count(), (n) => n === 0);

    await waiting.locator('[data-nickname="Max"]').getByTestId('deny-button').click();
    await waitView(Max, 'home');
    await waitNotice(Max, /host denied your request to join/i);
    await until('the waiting list is empty', () => waiting.locator('li').count(), (n) => n === 0);

    await Hana.page.getByTestId('waiting-toggle').click();
    await waitPressed(Hana, 'waiting-toggle', 'false');
  });

  it('mute everyone mutes all members but the host', { timeout: 60000 }, async () => {
    const { Hana, Ivan, Lea } = users;
    await Hana.page.getByTestId('mute-all').click();
    for (const user of [Ivan, Lea]) {
      await waitPressed(user, 'mute-button', 'true');
      await waitNotice(user, /host muted your microphone/i);
    }
    assert.equal(await Hana.page.getByTestId('mute-button').getAttribute('aria-pressed'), 'false', 'the host keeps her microphone');
    await Ivan.page.getByTestId('mute-button').click();
    await waitPressed(Ivan, 'mute-button', 'false');
  });

  it('a password: asked for on the pre-join screen, a wrong one refused, the right one lets in', { timeout: 150000 }, async (t) => {
    const { Hana } = users;
    await Hana.page.getByTestId('password-set').fill('open sesame');
    await Hana.page.getByTestId('password-save').click();
    await until('Hana sees the password set', async () => (await Hana.page.locator('[data-role="password-status"]').textContent()) ?? '',
      (s) => /set/i.test(s));

    const Nia = users.Nia = await newUser(browser, 'Nia');
    await joinByLink(Nia, invite);
    const password = Nia.page.getByTestId('prejoin-password');
    await password.waitFor({ state: 'visible' });
    assert.equal(await viewOf(Nia), 'prejoin');
    await password.fill('open sesam');
    await Nia.page.getByTestId('prejoin-join').click();
    await until('Nia is told the password is wrong', async () => (await Nia.page.getByTestId('prejoin-error').textContent()) ?? '',
      (s) => /not the password/i.test(s));
    await password.fill('open sesame');
    await Nia.page.getByTestId('prejoin-join').click();
    await waitInRoom(Nia, 4);

    /* Guessing is limited per client address (CONFIG): Otto guesses until the server says 429,
     * which the page shows at once (no waiting it out) on the notice. */
    const Otto = users.Otto = await newUser(browser, 'Otto');
    await joinByLink(Otto, invite);
    const guess = Otto.page.getByTestId('prejoin-password');
    await guess.waitFor({ state: 'visible' });
    const join = Otto.page.getByTestId('prejoin-join');
    let guesses = 0;
    for (; guesses < 10 && !(await Otto.page.getByTestId('notice').isVisible()); guesses++) {
      await guess.fill(`guess ${guesses}`);
      await join.click();
      await until('Otto\'s guess is answered', () => join.isEnabled(), (v) => v);
    }
    t.diagnostic(`the notice came after ${guesses} guesses`);
    await waitNotice(Otto, /too many wrong passwords/i);
    assert.equal(await viewOf(Otto), 'prejoin', 'Otto stays on the pre-join screen');

    /* Cleared again: an empty save removes it. */
    await Hana.page.getByTestId('password-set').fill('');
    await Hana.page.getByTestId('password-save').click();
    await until('Hana sees no password', async () => (await Hana.page.locator('[data-role="password-status"]').textContent()) ?? '',
      (s) => /anyone/i.test(s));
  });

  it('ending the meeting sends everyone home with the notice', { timeout: 60000 }, async () => {
    const { Hana, Ivan, Lea, Nia } = users;
    await Hana.page.getByTestId('end-meeting').click();
    const confirm = Hana.page.getByTestId('confirm');
    await confirm.waitFor({ state: 'visible' });
    await confirm.click();
    await waitView(Hana, 'home');
    for (const user of [Ivan, Lea, Nia]) {
      await waitView(user, 'home');
      await waitNotice(user, /host ended the meeting/i);
    }
  });

  it('no page raised an uncaught error', () => {
    assert.deepEqual(pageErrors, []);
  });
});
