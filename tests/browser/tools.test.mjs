// Browser tests of the tools in a meeting: real Chromium (through playwright-core) with fake
// cameras and microphones (each fake microphone plays a continuous 440 Hz tone from a WAV file:
// Chromium's own beeps only 20 ms every half second), against the real stack (noom-run: nginx +
// noom-worker). One stack, one browser, one room; Ann (who opens it, so its host), Bob and Cid
// each have a browser context of their own:
//  1. Hands go up in the order Bob, Cid, Ann: every page shows them first in the people list,
//     numbered 1, 2, 3, with a hand on each tile; the host lowers Bob's, the others move up.
//  2. Cid reacts: Ann and Bob see the emoji on Cid's tile, and it goes away after a few seconds.
//  3. Ann writes to Bob privately (the recipient select), Bob answers through the people list's
//     "Message" button: the two see the lines marked private, Cid sees neither. An address in a
//     message is a link that opens a new tab without opener or referrer.
//  3b. Unread: Ann closes her chat (chat-toggle); Bob's two lines show as 2 on the toggle's badge
//     and in chat-unread; opening clears both. With her log scrolled up, Bob's next line counts 1;
//     chat-unread takes her to the end and clears it. On a phone-sized page the closed chat gives
//     its room to the stage.
//  4. Who is speaking: with everyone muted no tile is highlighted; Bob unmutes and his tile is,
//     on the other pages (three unmutes, each timed in the pages: the click stamps Date.now(), a
//     MutationObserver on each other page stamps the highlight; the delays are printed, not
//     asserted: docs/BENCHMARKS.md has them beside the issue's ~300 ms); muted again, it is not.
//  5. Speaker view: with nothing pinned the speaker (Bob, the one unmuted) is the large tile; a
//     screen share (Cid's) takes precedence over him; Ann pins Cid, whose tile is the large one;
//     after a reload (straight back in) the view is still speaker view and Cid still pinned
//     (remembered in this browser), the message box still holds her draft, and her raised hand
//     is still up in its place in the queue on every page.
// The page's API calls say which transport carries the events (X-Noom-Transport).
//
// Screenshots, in $NOOM_BUILDDIR/tests/browser/screenshots/ (or a fresh temporary folder):
// tools-grid.png (raised hands and a reaction), tools-speaker.png (speaker view, Cid pinned),
// tools-speaker-active.png (speaker view following the speaker, Bob), tools-chat.png (a private
// line and a link), tools-phone-chat-closed.png (a phone-sized page with the chat closed).
//
// Skipped, with the reason, when playwright-core or Chromium is missing.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startStack } from '../lib/stack.js';
import { chromium, skip, CHROMIUM, BASE_ARGS, screenshotsDir, toneAudioArgs, sleep, waitUntil } from '../lib/browser.js';

const WAIT = 20000;
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 800 };
/* Unmutes timed, each delay printed. */
const TRIES = 3;
const LAUNCH_ARGS = [
  ...BASE_ARGS,
  '--autoplay-policy=no-user-gesture-required',
  '--disable-background-timer-throttling', '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',
  '--use-fake-device-for-media-stream=fps=10', '--use-fake-ui-for-media-stream',
];
const ROOM = 'Weekly sync';

/**
 * Polls `probe` until `ok(value)` holds; throws after `wait` ms with the last value seen.
 * @template T
 * @param {string} what
 * @param {() => Promise<T>} probe
 * @param {(value: T) => boolean} ok
 * @param {number} [wait]
 * @returns {Promise<T>}
 */
const until = async (what, probe, ok, wait = WAIT) => (await waitUntil(what, probe, ok, wait)).value;

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
 * The member shown large in speaker view on the viewer's page (0: none).
 * @param {User} viewer
 */
function mainTile(viewer) {
  return viewer.page.evaluate(() => Number(/** @type {HTMLElement|null} */ (document.querySelector('[data-testid="video-tile"].is-main'))?.dataset.session ?? 0));
}

/**
 * Asserts that the member's tile is much larger than the others, which form a strip under it.
 * @param {User} viewer
 * @param {User} member
 */
async function assertLarge(viewer, member) {
  const sizes = await viewer.page.evaluate(() => Array.from(document.querySelectorAll('[data-testid="video-tile"]'), (n) => {
    const r = n.getBoundingClientRect();
    return { session: Number(/** @type {HTMLElement} */ (n).dataset.session), area: r.width * r.height, top: r.top };
  }));
  const big = sizes.find((s) => s.session === member.session);
  for (const other of sizes.filter((s) => s.session !== member.session)) {
    assert.ok(big && big.area > 4 * other.area, `${member.name}'s tile is much larger than ${other.session}'s`);
    assert.ok(big && big.top < other.top, 'the strip is under the large tile');
  }
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
      executablePath: CHROMIUM, headless: true, args: [...LAUNCH_ARGS, ...toneAudioArgs()], timeout: WAIT,
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

  it('unread lines are counted while the chat is closed or scrolled up, and cleared', { timeout: 90000 }, async (t) => {
    const { page } = Ann;
    const toggle = page.getByTestId('chat-toggle');
    const badge = page.getByTestId('chat-toggle-count');
    const unread = page.getByTestId('chat-unread');
    const counts = async () => [await badge.getAttribute('data-count'), await badge.isVisible(), await unread.getAttribute('data-count')];
    /** Bob says `text`; Ann has it in her log. */
    const bobSays = async (/** @type {string} */ text) => {
      await Bob.page.getByTestId('chat-input').fill(text);
      await Bob.page.getByTestId('chat-input').press('Enter');
      await until(`Ann has "${text}"`, () => page.locator('[data-testid="chat-log"] .msg', { hasText: text }).count(), (n) => n === 1);
    };
    assert.equal(await toggle.getAttribute('aria-pressed'), 'true', 'the chat is open');
    assert.deepEqual(await counts(), ['0', false, '0']);

    await toggle.click();
    assert.equal(await toggle.getAttribute('aria-pressed'), 'false');
    assert.equal(await page.getByTestId('chat-log').isVisible(), false, 'the closed chat is out of sight');
    await bobSays('Are you there?');
    await bobSays('Ann?');
    assert.deepEqual(await counts(), ['2', true, '2'], 'two unread while the chat is closed');
    assert.equal(await badge.textContent(), '2');
    await toggle.click();
    assert.equal(await page.getByTestId('chat-log').isVisible(), true);
    assert.deepEqual(await counts(), ['0', false, '0'], 'opening the chat clears the count');
    assert.equal(await unread.isVisible(), false);

    /* Scrolled up: a short window makes the log scroll; Bob fills it if need be. */
    await page.setViewportSize({ width: DESKTOP.width, height: 480 });
    try {
      const overflow = () => page.getByTestId('chat-log').evaluate((n) => n.scrollHeight - n.clientHeight);
      for (let i = 1; (await overflow()) < 200 && i <= 12; i++) await bobSays(`filler ${i}`);
      assert.ok((await overflow()) >= 200, 'the log scrolls');
      await page.getByTestId('chat-log').evaluate((n) => { n.scrollTop = 0; });
      await sleep(200);
      await bobSays('Scroll down, Ann');
      assert.deepEqual(await counts(), ['1', true, '1'], 'one unread with the log scrolled up');
      assert.equal(await unread.isVisible(), true);
      assert.equal(await unread.textContent(), '1 new message');
      await unread.click();
      assert.deepEqual(await counts(), ['0', false, '0'], 'the end of the log clears the count');
      assert.ok(await page.getByTestId('chat-log').evaluate((n) => n.scrollHeight - n.scrollTop - n.clientHeight < 80), 'at the end');

      /* On a phone a closed chat gives its room to the stage. */
      await page.setViewportSize(PHONE);
      const stageHeight = async () => (await page.locator('.stage').boundingBox())?.height ?? 0;
      const open = await stageHeight();
      await toggle.click();
      const closed = await until('the stage grows', stageHeight, (h) => h > open + 100);
      t.diagnostic(`phone: the stage is ${Math.round(open)} px high with the chat open, ${Math.round(closed)} px with it closed`);
      const shot = path.join(screenshotsDir(), 'tools-phone-chat-closed.png');
      await page.screenshot({ path: shot });
      t.diagnostic(`screenshot ${shot}`);
      await toggle.click();
      assert.equal(await page.getByTestId('chat-log').isVisible(), true);
    } finally {
      await page.setViewportSize(DESKTOP);
    }
  });

  it('the speaker\'s tile is highlighted on the other pages, never while muted', { timeout: 90000 }, async (t) => {
    for (const user of users) await setMuted(user, true);
    for (const viewer of users) {
      await until(`${viewer.name}: nobody speaks while all are muted`, () => speakingTiles(viewer), (s) => s.length === 0, 5000);
    }
    await sleep(1500);
    for (const viewer of users) assert.deepEqual(await speakingTiles(viewer), [], `${viewer.name}: still nobody`);

    /* Timed in the pages, on the one clock of the machine: each other page notes when Bob's tile
     * is highlighted (a MutationObserver; __bobSpeakingAt is reset before each try), Bob's page
     * when his unmute was clicked. TRIES unmutes, every delay printed: how fast is a figure for
     * docs/BENCHMARKS.md, not an assertion (on shared CPUs a try now and then loses a few
     * hundred ms to a stalled process, which says nothing of the page). */
    for (const viewer of [Ann, Cid]) {
      await viewer.page.evaluate((bob) => {
        const w = /** @type {any} */ (window);
        w.__bobSpeakingAt = 0;
        const mark = () => {
          if (!w.__bobSpeakingAt && document.querySelector(`[data-testid="video-tile"][data-session="${bob}"][data-speaking="true"]`)) {
            w.__bobSpeakingAt = Date.now();
          }
        };
        new MutationObserver(mark).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-speaking'] });
      }, Bob.session);
    }
    /** @type {number[][]} per viewer (Ann, Cid), the delay of each try */
    const delays = [[], []];
    for (let i = 0; i < TRIES; i++) {
      if (i > 0) {
        await setMuted(Bob, true);
        for (const viewer of [Ann, Cid]) {
          await until(`${viewer.name} no longer sees Bob speaking`, () => speakingTiles(viewer), (s) => !s.includes(Bob.session), 5000);
        }
        await sleep(1000);
      }
      for (const viewer of [Ann, Cid]) await viewer.page.evaluate(() => { /** @type {any} */ (window).__bobSpeakingAt = 0; });
      const unmutedAt = await Bob.page.evaluate(() => {
        const at = Date.now();
        /** @type {HTMLButtonElement} */ (document.querySelector('[data-testid="mute-button"]')).click();
        return at;
      });
      const seenAt = await Promise.all([Ann, Cid].map((viewer) => until(`${viewer.name} sees Bob speaking`,
        () => viewer.page.evaluate(() => /** @type {any} */ (window).__bobSpeakingAt), (at) => at > 0, 10000)));
      seenAt.forEach((at, v) => delays[v].push(at - unmutedAt));
      for (const viewer of [Ann, Cid]) assert.deepEqual(await speakingTiles(viewer), [Bob.session], `${viewer.name}: only Bob`);
    }
    const median = (/** @type {number[]} */ xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const figures = `Bob's tile highlighted after his unmute click: Ann's page ${delays[0].join(', ')} ms, ` +
      `Cid's page ${delays[1].join(', ')} ms (medians ${median(delays[0])} and ${median(delays[1])} ms)`;
    t.diagnostic(figures);
    console.log(`# ${figures}`);
    await until('Bob\'s page says he is unmuted', () => Bob.page.getByTestId('mute-button').getAttribute('aria-pressed'), (v) => v === 'false');
    await setMuted(Bob, true);
    for (const viewer of [Ann, Cid]) {
      await until(`${viewer.name} no longer sees Bob speaking`, () => speakingTiles(viewer), (s) => !s.includes(Bob.session), 5000);
    }
    await sleep(1500);
    for (const viewer of [Ann, Cid]) assert.deepEqual(await speakingTiles(viewer), [], `${viewer.name}: Bob muted, nobody speaks`);
  });

  it('speaker view: the speaker large, a screen share before him, the pinned member before both; remembered', { timeout: 120000 }, async (t) => {
    const { page } = Ann;
    /* Only Bob's microphone is on (everyone was muted above): he is the speaker. */
    await setMuted(Bob, false);
    for (const viewer of [Ann, Cid]) {
      await until(`${viewer.name} sees Bob speaking`, () => speakingTiles(viewer), (s) => s.includes(Bob.session), 10000);
    }
    await page.getByTestId('view-toggle').click();
    assert.equal(await page.getByTestId('view-toggle').getAttribute('aria-pressed'), 'true');
    assert.equal(await page.locator('[data-testid="tile-pin"][aria-pressed="true"]').count(), 0, 'nothing pinned');
    await until('with nothing pinned, the speaker (Bob) is the large tile', () => mainTile(Ann), (s) => s === Bob.session);
    await assertLarge(Ann, Bob);
    await sleep(500);
    const activeShot = path.join(screenshotsDir(), 'tools-speaker-active.png');
    await page.screenshot({ path: activeShot });
    t.diagnostic(`screenshot ${activeShot}`);

    /* A screen share takes precedence over the speaker; stopped, the speaker is back. */
    await Cid.page.getByTestId('screen-button').click();
    await until('Cid shares his screen', () => tile(Ann, Cid).getAttribute('data-screen'), (v) => v === 'on');
    await until('Cid\'s screen is the large tile though Bob speaks', () => mainTile(Ann), (s) => s === Cid.session);
    assert.ok((await speakingTiles(Ann)).includes(Bob.session), 'Bob still speaks');
    await Cid.page.getByTestId('screen-button').click();
    await until('Cid stopped sharing', () => tile(Ann, Cid).getAttribute('data-screen'), (v) => v === 'off');
    await until('the speaker is the large tile again', () => mainTile(Ann), (s) => s === Bob.session);

    /* A pinned member is large whoever speaks. */
    await tile(Ann, Cid).hover();
    await tile(Ann, Cid).getByTestId('tile-pin').click();
    assert.equal(await tile(Ann, Cid).getByTestId('tile-pin').getAttribute('aria-pressed'), 'true');
    await until('Cid\'s tile is the large one', () => mainTile(Ann), (s) => s === Cid.session);
    await assertLarge(Ann, Cid);
    await sleep(500);
    const shot = path.join(screenshotsDir(), 'tools-speaker.png');
    await page.screenshot({ path: shot });
    t.diagnostic(`screenshot ${shot}`);

    /* Unpinned, the speaker is large again; pinned back for the reload. */
    await tile(Ann, Cid).getByTestId('tile-pin').click();
    assert.equal(await tile(Ann, Cid).getByTestId('tile-pin').getAttribute('aria-pressed'), 'false');
    await until('unpinned: the speaker is large', () => mainTile(Ann), (s) => s === Bob.session);
    await tile(Ann, Cid).hover();
    await tile(Ann, Cid).getByTestId('tile-pin').click();
    await until('Cid pinned again', () => mainTile(Ann), (s) => s === Cid.session);

    /* Ann's hand is up, after Cid's (the first test): the queue is the same on every page. */
    const queue = ['Cid:1', 'Ann:2'];
    for (const viewer of users) {
      assert.deepEqual((await peopleList(viewer)).slice(0, 2), queue, `${viewer.name}: the queue before the reload`);
    }

    /* A reload goes straight back in: the draft, the view, the pin and the hand survive it. */
    await page.getByTestId('chat-input').fill('half a thought');
    await page.reload();
    await waitCount(Ann, 3);
    assert.equal(Number(await page.evaluate(() => document.body.dataset.session)), Ann.session, 'the same session');
    assert.equal(await page.getByTestId('view-toggle').getAttribute('aria-pressed'), 'true', 'speaker view remembered');
    assert.equal(await page.getByTestId('chat-input').inputValue(), 'half a thought', 'the draft is kept');
    await until('Cid is still pinned and large after the reload', () => mainTile(Ann), (s) => s === Cid.session);
    assert.equal(await tile(Ann, Cid).getByTestId('tile-pin').getAttribute('aria-pressed'), 'true', 'the pin remembered');
    await until('Ann\'s raise-hand is still pressed', () => page.getByTestId('raise-hand').getAttribute('aria-pressed'), (v) => v === 'true');
    for (const viewer of users) {
      await until(`${viewer.name} sees Ann's hand in its place after her reload`, () => peopleList(viewer),
        (l) => queue.every((x, i) => l[i] === x));
      await until(`${viewer.name} sees a hand on Ann's tile`, () => tileHands(viewer), (h) => h.includes(Ann.session));
    }
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
