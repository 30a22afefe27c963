// Browser tests of the tools in a meeting: real Chromium (through playwright-core) with fake
// cameras and microphones (the fake microphone beeps), against the real stack (noom-run: nginx +
// noom-worker). One stack, one browser, one room; Ann (who opens it, so its host), Bob and Cid
// each have a browser context of their own:
//  1. Hands go up in the order Bob, Cid, Ann: every page shows them first in the people list,
//     numbered 1, 2, 3, with a hand on each tile; the host lowers Bob's, the others move up.
//  2. Cid reacts: Ann and Bob see the emoji on Cid's tile, and it goes away after a few seconds.
//  3. Ann writes to Bob privately (the recipient select), Bob answers through the people list's
//     "Message" button: the two see the lines marked private, Cid sees neither. An address in a
//     message is a link that opens a new tab without opener or referrer.
//  4. Who is speaking: with everyone muted no tile is highlighted; Bob unmutes and his tile is,
//     on the other pages; muted again, it is not.
//  5. Speaker view: Ann pins Cid, whose tile is the large one; after a reload the view is still
//     speaker view (remembered in this browser) and the message box still holds her draft.
// The page's API calls say which transport carries the events (X-Noom-Transport).
//
// Screenshots, in $NOOM_BUILDDIR/tests/browser/screenshots/ (or a fresh temporary folder):
// tools-grid.png (raised hands and a reaction), tools-speaker.png (speaker view, Cid pinned),
// tools-chat.png (a private line and a link).
//
// Skipped, with the reason, when playwright-core or Chromium is missing.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startStack } from '../lib/stack.js';
import { chromium, skip, CHROMIUM, BASE_ARGS, screenshotsDir } from '../lib/browser.js';

const WAIT = 20000;
const DESKTOP = { width: 1280, height: 800 };
const LAUNCH_ARGS = [
  ...BASE_ARGS,
  '--autoplay-policy=no-user-gesture-required',
  '--disable-background-timer-throttling', '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',
  '--use-fake-device-for-media-stream=fps=10', '--use-fake-ui-for-media-stream',
];
const ROOM = 'Weekly sync';

const sleep = (/** @type {number} */ ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls `probe` until `ok(value)` holds; throws after `wait` ms with the last value seen.
 * @template T
 * @param {string} what
 * @param {() => Promise<T>} probe
 * @param {(value: T) => boolean} ok
 * @param {number} [wait]
 * @returns {Promise<T>}
 */
async function until(what, probe, ok, wait = WAIT) {
  const start = Date.now();
  for (;;) {
    const value = await probe();
    if (ok(value)) return value;
    if (Date.now() - start > wait) throw new Error(`${what}: not within ${wait} ms; last seen: ${JSON.stringify(value)}`);
    await sleep(100);
  }
}

/**
 * @typedef {object} User
 * @property {string} name
 * @property {import('playwright-core').BrowserContext} context
 * @property {import('playwright-core').Page} page
 * @property {number} session
 * @property {Set<string>} transports  X-Noom-Transport values seen on API calls
 */

/** Uncaught page errors, checked at the end. @type {string[]} */
const pageErrors = [];

/**
 * A new person with a browser context of their own, in the room.
 * @param {import('playwright-core').Browser} browser
 * @param {string} baseUrl
 * @param {string} name
 * @returns {Promise<User>}
 */
async function enter(browser, baseUrl, name) {
  const context = await browser.newContext({ viewport: DESKTOP });
  context.setDefaultTimeout(WAIT);
  context.setDefaultNavigationTimeout(WAIT);
  const page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(`${name}: ${err.message}`));
  /** @type {Set<string>} */
  const transports = new Set();
  page.on('request', (req) => {
    if (!new URL(req.url()).pathname.includes('/api/')) return;
    const said = req.headers()['x-noom-transport'];
    if (said) transports.add(said);
  });
  await page.goto(new URL(`room/${encodeURIComponent(ROOM)}`, baseUrl).href);
  await page.getByTestId('prejoin-nickname').fill(name);
  await page.getByTestId('prejoin-join').click();
  await until(`${name} is in the room`, () => page.evaluate(() => !document.getElementById('room-view')?.hidden), (v) => v);
  const session = Number(await page.evaluate(() => document.body.dataset.session));
  return { name, context, page, session, transports };
}

/**
 * @param {User} user
 * @param {number} count
 */
function waitCount(user, count) {
  return until(`${user.name}'s room has ${count} people`,
    async () => (await user.page.getByTestId('room-count').textContent())?.trim() ?? '',
    (text) => text.startsWith(`${count} `));
}

/**
 * The people list as a viewer sees it: each entry's nickname and hand position ('' for none).
 * @param {User} viewer
 */
function peopleList(viewer) {
  return viewer.page.evaluate(() => Array.from(document.querySelectorAll('[data-testid="member-list"] [data-testid="member"]'),
    (li) => {
      const entry = /** @type {HTMLElement} */ (li);
      const hand = /** @type {HTMLElement|null} */ (entry.querySelector('[data-testid="hand-raised"]'));
      return `${entry.dataset.nickname}:${hand?.dataset.order ?? ''}`;
    }));
}

/**
 * The tile of a member as a viewer sees it.
 * @param {User} viewer
 * @param {User} member
 */
function tile(viewer, member) {
  return viewer.page.locator(`[data-testid="video-tile"][data-session="${member.session}"]`);
}

/**
 * Members whose tile has a raised hand on the viewer's page.
 * @param {User} viewer
 */
function tileHands(viewer) {
  return viewer.page.evaluate(() => Array.from(document.querySelectorAll('[data-testid="video-tile"]'))
    .filter((t) => t.querySelector('[data-testid="hand-raised"]'))
    .map((t) => Number(/** @type {HTMLElement} */ (t).dataset.session)).sort((a, b) => a - b));
}

/**
 * Sessions whose tile says it is speaking, on the viewer's page.
 * @param {User} viewer
 */
function speakingTiles(viewer) {
  return viewer.page.evaluate(() => Array.from(document.querySelectorAll('[data-testid="video-tile"][data-speaking="true"]'),
    (t) => Number(/** @type {HTMLElement} */ (t).dataset.session)));
}

/**
 * Mutes or unmutes from the control bar, and waits until the page says so.
 * @param {User} user
 * @param {boolean} muted
 */
async function setMuted(user, muted) {
  const button = user.page.getByTestId('mute-button');
  if ((await button.getAttribute('aria-pressed')) !== String(muted)) await button.click();
  await until(`${user.name} muted=${muted}`, () => button.getAttribute('aria-pressed'), (v) => v === String(muted));
}

describe('browser: hands, reactions, private messages, who speaks, speaker view', { skip }, () => {
  /** @type {Awaited<ReturnType<typeof startStack>>} */
  let stack;
  /** @type {import('playwright-core').Browser} */
  let browser;
  /** @type {User[]} */
  const users = [];
  /** @type {User} */ let Ann;
  /** @type {User} */ let Bob;
  /** @type {User} */ let Cid;

  before(async () => {
    stack = await startStack();
    browser = await /** @type {NonNullable<typeof chromium>} */ (chromium).launch({
      executablePath: CHROMIUM, headless: true, args: LAUNCH_ARGS, timeout: WAIT,
    });
    Ann = await enter(browser, stack.baseUrl, 'Ann');
    users.push(Ann);
    await waitCount(Ann, 1);
    Bob = await enter(browser, stack.baseUrl, 'Bob');
    Cid = await enter(browser, stack.baseUrl, 'Cid');
    users.push(Bob, Cid);
    for (const user of users) await waitCount(user, 3);
    /* Everyone's call is up: each page plays the two others' video. */
    for (const user of users) {
      await until(`${user.name} plays two remote videos`, () => user.page.evaluate(() =>
        Array.from(document.querySelectorAll('[data-testid="remote-video"]'))
          .filter((v) => /** @type {HTMLVideoElement} */ (v).videoWidth > 0).length), (n) => n === 2, 30000);
    }
  });

  after(async () => {
    for (const user of users) await user.context.close().catch(() => {});
    await browser?.close().catch(() => {});
    await stack?.stop();
  });

  it('hands go up in order, everyone sees the queue; the host lowers one', { timeout: 90000 }, async () => {
    for (const [i, user] of [Bob, Cid, Ann].entries()) {
      await user.page.getByTestId('raise-hand').click();
      await until(`${user.name}'s raise-hand is pressed`, () => user.page.getByTestId('raise-hand').getAttribute('aria-pressed'), (v) => v === 'true');
      /* Each hand is seen everywhere before the next goes up: the order is the server's. */
      for (const viewer of users) {
        await until(`${viewer.name} sees ${i + 1} hands`, () => tileHands(viewer), (s) => s.length === i + 1);
      }
    }
    const queue = ['Bob:1', 'Cid:2', 'Ann:3'];
    for (const viewer of users) {
      const list = await until(`${viewer.name}'s people list starts with the queue`, () => peopleList(viewer),
        (l) => queue.every((x, i) => l[i] === x));
      assert.deepEqual(list, queue, `${viewer.name}: the raised hands first, in the order they went up`);
      assert.deepEqual(await tileHands(viewer), [Ann.session, Bob.session, Cid.session].sort((a, b) => a - b));
    }
    /* The host (Ann, who opened the room) lowers Bob's hand; the others may not. */
    assert.equal(await Bob.page.getByTestId('member-lower-hand').count(), 0, 'Bob is no host');
    const bobEntry = Ann.page.locator(`[data-testid="member"][data-session="${Bob.session}"]`);
    await bobEntry.getByTestId('member-lower-hand').click();
    for (const viewer of users) {
      await until(`${viewer.name} sees Cid and Ann in the queue`, () => peopleList(viewer),
        (l) => l[0] === 'Cid:1' && l[1] === 'Ann:2' && !l.some((x) => x.startsWith('Bob:') && x !== 'Bob:'));
    }
    await until('Bob\'s raise-hand is no longer pressed', () => Bob.page.getByTestId('raise-hand').getAttribute('aria-pressed'), (v) => v === 'false');
  });

  it('a reaction shows on the sender\'s tile for the others, then goes', { timeout: 60000 }, async (t) => {
    await Cid.page.getByTestId('reaction-button').click();
    const choices = await Cid.page.getByTestId('reaction').evaluateAll((nodes) => nodes.map((n) => /** @type {HTMLElement} */ (n).dataset.emoji));
    assert.deepEqual(choices, ['👍', '👏', '😂', '❤️', '🎉', '😮']);
    await Cid.page.locator('[data-testid="reaction"][data-emoji="🎉"]').click();
    for (const viewer of [Ann, Bob, Cid]) {
      await until(`${viewer.name} sees Cid's 🎉`, () => tile(viewer, Cid).locator('[data-testid="tile-reaction"]').getAttribute('data-emoji', { timeout: 500 }).catch(() => null),
        (v) => v === '🎉', 8000);
    }
    await sleep(700); /* the reaction has risen into view */
    const shot = path.join(screenshotsDir(), 'tools-grid.png');
    await Ann.page.screenshot({ path: shot });
    t.diagnostic(`screenshot ${shot}`);
    assert.equal(await tile(Ann, Bob).locator('[data-testid="tile-reaction"]').count(), 0, 'only on the sender\'s tile');
    await until('the reaction goes away', () => tile(Bob, Cid).locator('[data-testid="tile-reaction"]').count(), (n) => n === 0, 8000);
  });

  it('a private message reaches its recipient only', { timeout: 60000 }, async (t) => {
    /* The recipient select lists the two others by name, with their session ids. */
    const options = await until('Ann\'s recipients', () => Ann.page.getByTestId('private-to').locator('option').evaluateAll((nodes) =>
      nodes.map((n) => `${/** @type {HTMLOptionElement} */ (n).value}=${n.textContent}`)), (o) => o.length === 3);
    assert.deepEqual(options, ['=Everyone', `${Bob.session}=Bob`, `${Cid.session}=Cid`]);

    await Ann.page.getByTestId('private-to').selectOption(String(Bob.session));
    await Ann.page.getByTestId('chat-input').fill('Just between us: https://example.com/plan?x=1.');
    await Ann.page.getByTestId('chat-send').click();
    const bobLine = Bob.page.locator('[data-testid="chat-log"] [data-testid="chat-private"]', { hasText: 'Just between us' });
    await until('Bob gets the private line', () => bobLine.count(), (n) => n === 1);
    assert.match(await bobLine.innerText(), /from Ann \(private\)/);
    const link = bobLine.locator('a');
    assert.equal(await link.getAttribute('href'), 'https://example.com/plan?x=1');
    assert.equal(await link.getAttribute('target'), '_blank');
    assert.equal(await link.getAttribute('rel'), 'noopener noreferrer');
    assert.equal(await link.textContent(), 'https://example.com/plan?x=1');
    const annLine = Ann.page.locator('[data-testid="chat-log"] [data-testid="chat-private"]', { hasText: 'Just between us' });
    await until('Ann sees her line confirmed', () => annLine.evaluate((n) => !n.classList.contains('is-pending')), (v) => v);
    assert.match(await annLine.innerText(), /to Bob/);

    /* Bob answers from the people list. */
    await Bob.page.locator(`[data-testid="member"][data-session="${Ann.session}"]`).getByTestId('member-message').click();
    assert.equal(await Bob.page.getByTestId('private-to').inputValue(), String(Ann.session));
    await Bob.page.getByTestId('chat-input').fill('Got it, Ann');
    await Bob.page.getByTestId('chat-input').press('Enter');
    await until('Ann gets Bob\'s answer', () => Ann.page.locator('[data-testid="chat-private"]', { hasText: 'Got it, Ann' }).count(), (n) => n === 1);
    /* A public line after them, so that Cid's log has surely caught up. */
    await Cid.page.getByTestId('chat-input').fill('Anything new?');
    await Cid.page.getByTestId('chat-input').press('Enter');
    for (const user of [Ann, Bob]) {
      await until(`${user.name} sees Cid's public line`, () => user.page.locator('[data-testid="chat-log"] .msg', { hasText: 'Anything new?' }).count(), (n) => n === 1);
    }
    const cidLog = await Cid.page.getByTestId('chat-log').innerText();
    assert.ok(!cidLog.includes('Just between us') && !cidLog.includes('Got it, Ann'), 'Cid sees no private line');
    assert.equal(await Cid.page.locator('[data-testid="chat-private"]').count(), 0);
    const shot = path.join(screenshotsDir(), 'tools-chat.png');
    await Bob.page.screenshot({ path: shot });
    t.diagnostic(`screenshot ${shot}`);
    for (const user of [Ann, Bob]) {
      await user.page.getByTestId('private-to').selectOption('');
    }
  });

  it('the speaker\'s tile is highlighted on the other pages, never while muted', { timeout: 90000 }, async (t) => {
    for (const user of users) await setMuted(user, true);
    for (const viewer of users) {
      await until(`${viewer.name}: nobody speaks while all are muted`, () => speakingTiles(viewer), (s) => s.length === 0, 5000);
    }
    await sleep(1500);
    for (const viewer of users) assert.deepEqual(await speakingTiles(viewer), [], `${viewer.name}: still nobody`);

    const unmuted = Date.now();
    await setMuted(Bob, false);
    for (const viewer of [Ann, Cid]) {
      await until(`${viewer.name} sees Bob speaking`, () => speakingTiles(viewer), (s) => s.includes(Bob.session), 10000);
      t.diagnostic(`${viewer.name} saw Bob speak ${Date.now() - unmuted} ms after his unmute click`);
      assert.deepEqual(await speakingTiles(viewer), [Bob.session], `${viewer.name}: only Bob`);
    }
    await setMuted(Bob, true);
    for (const viewer of [Ann, Cid]) {
      await until(`${viewer.name} no longer sees Bob speaking`, () => speakingTiles(viewer), (s) => !s.includes(Bob.session), 5000);
    }
    await sleep(1500);
    for (const viewer of [Ann, Cid]) assert.deepEqual(await speakingTiles(viewer), [], `${viewer.name}: Bob muted, nobody speaks`);
    for (const user of users) await setMuted(user, false);
  });

  it('speaker view shows the pinned member large, and is remembered', { timeout: 90000 }, async (t) => {
    const { page } = Ann;
    await page.getByTestId('view-toggle').click();
    assert.equal(await page.getByTestId('view-toggle').getAttribute('aria-pressed'), 'true');
    await tile(Ann, Cid).hover();
    await tile(Ann, Cid).getByTestId('tile-pin').click();
    assert.equal(await tile(Ann, Cid).getByTestId('tile-pin').getAttribute('aria-pressed'), 'true');
    await until('Cid\'s tile is the large one', () => tile(Ann, Cid).evaluate((n) => n.classList.contains('is-main')), (v) => v);
    const sizes = await page.evaluate(() => Array.from(document.querySelectorAll('[data-testid="video-tile"]'), (n) => {
      const r = n.getBoundingClientRect();
      return { session: Number(/** @type {HTMLElement} */ (n).dataset.session), area: r.width * r.height, top: r.top };
    }));
    const big = sizes.find((s) => s.session === Cid.session);
    for (const other of sizes.filter((s) => s.session !== Cid.session)) {
      assert.ok(big && big.area > 4 * other.area, `Cid's tile is much larger than ${other.session}'s`);
      assert.ok(big && big.top < other.top, 'the strip is under the large tile');
    }
    await sleep(500);
    const shot = path.join(screenshotsDir(), 'tools-speaker.png');
    await page.screenshot({ path: shot });
    t.diagnostic(`screenshot ${shot}`);

    /* Unpinned, the large tile is someone else's again; pinned back for the reload. */
    await tile(Ann, Cid).getByTestId('tile-pin').click();
    assert.equal(await tile(Ann, Cid).getByTestId('tile-pin').getAttribute('aria-pressed'), 'false');

    /* A draft and the view both survive a reload. */
    await page.getByTestId('chat-input').fill('half a thought');
    await page.reload();
    await waitCount(Ann, 3);
    assert.equal(await page.getByTestId('view-toggle').getAttribute('aria-pressed'), 'true', 'speaker view remembered');
    assert.equal(await page.getByTestId('chat-input').inputValue(), 'half a thought', 'the draft is kept');
    await until('one tile is large after the reload', () => page.locator('[data-testid="video-tile"].is-main').count(), (n) => n === 1);
    await page.getByTestId('view-toggle').click();
    assert.equal(await page.locator('[data-testid="video-tile"].is-main').count(), 0, 'grid view again');
  });

  it('API calls say which transport carries the events', () => {
    for (const user of users) {
      assert.ok(user.transports.size > 0, `${user.name} sent X-Noom-Transport`);
      for (const said of user.transports) assert.ok(['websocket', 'stream', 'polling'].includes(said), said);
    }
    assert.deepEqual(pageErrors, []);
  });
});
