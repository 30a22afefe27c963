// Browser tests: real Chromium (through playwright-core) against the real stack (noom-run:
// nginx + noom-worker), at "/" and under the prefix "/noom".
//
// One scenario, run once per prefix: Ann (desktop) and Bob (phone-sized window) set their names
// and meet in a room whose name needs URL-encoding, while Carol watches the live room list on
// the home page. They see each other's join notices and the member count, chat both ways, Bob
// renames himself, Ann leaves and comes back, both leave and the room disappears from the live
// lists. Then deep links, closing a tab (sendBeacon leave), the back button and a reload.
// Every way into a room (Join, the room list, a deep link, the forward button) goes through the
// pre-join screen, whose Join enters; a reload of the room one is in goes straight back in.
//
// Pages run in the default transport mode (WebSocket first, long-polling as a fallback), and
// the tests check they end up on the WebSocket (body[data-transport]). The two tests that
// intercept GET api/poll (lost poll answers, resync) are tests of the long-poll transport: the
// page whose polls they intercept is opened with ?transport=polling.
//
// Every wait is bounded (WAIT). Screenshots go to $NOOM_BUILDDIR/tests/browser/screenshots/
// (or a fresh temporary folder), named after the prefix.
//
// Skipped, with the reason, when playwright-core or Chromium is missing.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startStack } from '../lib/stack.js';
import { chromium, skip, CHROMIUM, BASE_ARGS, screenshotsDir } from '../lib/browser.js';

const WAIT = 15000;
const LAUNCH_ARGS = [
  ...BASE_ARGS,
  '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
];



// ---- page helpers (every wait bounded by WAIT) ---------------------------------------------

/**
 * Waits until a child of the chat log has exactly this text (a notice).
 * @param {import('playwright-core').Page} page
 * @param {string} text
 */
async function waitNotice(page, text) {
  await page.waitForFunction((t) => {
    const log = document.querySelector('[data-testid="chat-log"]');
    return !!log && Array.from(log.children).some((c) => c.textContent?.trim() === t);
  }, text, { timeout: WAIT }).catch(async (err) => {
    throw new Error(`notice "${text}" not shown; chat log: ${JSON.stringify(await chatLines(page))}\n${err.message}`);
  });
}

/**
 * Waits until a child of the chat log contains both the sender's nickname and the text.
 * @param {import('playwright-core').Page} page
 * @param {string} nickname
 * @param {string} text
 */
async function waitMessage(page, nickname, text) {
  await page.waitForFunction(([n, t]) => {
    const log = document.querySelector('[data-testid="chat-log"]');
    return !!log && Array.from(log.children).some((c) => {
      const s = c.textContent ?? '';
      return s.includes(n) && s.includes(t);
    });
  }, [nickname, text], { timeout: WAIT }).catch(async (err) => {
    throw new Error(`message "${text}" from ${nickname} not shown; chat log: ` +
      `${JSON.stringify(await chatLines(page))}\n${err.message}`);
  });
}

/**
 * Waits until body[data-transport] is `want` ('websocket' | 'polling').
 * @param {import('playwright-core').Page} page
 * @param {string} want
 */
async function waitTransport(page, want) {
  await page.waitForFunction((w) => document.body.dataset.transport === w, want, { timeout: WAIT })
    .catch(async (err) => {
      const now = await page.evaluate(() => document.body.dataset.transport).catch(() => '?');
      throw new Error(`body[data-transport] never became "${want}" (it is "${now}")\n${err.message}`);
    });
}

/** @param {import('playwright-core').Page} page */
function chatLines(page) {
  return page.evaluate(() => Array.from(
    document.querySelector('[data-testid="chat-log"]')?.children ?? [],
    (c) => c.textContent?.trim()));
}

/**
 * Waits until the first number in room-count is n.
 * @param {import('playwright-core').Page} page
 * @param {number} n
 */
async function waitRoomCount(page, n) {
  await page.waitForFunction((want) => {
    const node = document.querySelector('[data-testid="room-count"]');
    const m = node?.textContent?.match(/\d+/);
    return !!node && node.getClientRects().length > 0 && !!m && Number(m[0]) === want;
  }, n, { timeout: WAIT }).catch(async (err) => {
    const text = await page.getByTestId('room-count').textContent().catch(() => null);
    throw new Error(`room-count never showed ${n} (it shows ${JSON.stringify(text)})\n${err.message}`);
  });
}

/**
 * Waits until the home page's room list shows `room` with `count` people (null: not listed).
 * @param {import('playwright-core').Page} page
 * @param {string} room
 * @param {number|null} count
 */
async function waitListed(page, room, count) {
  await page.waitForFunction(([name, want]) => {
    const list = document.querySelector('[data-testid="room-list"]');
    if (!list || list.getClientRects().length === 0) return false;
    const item = Array.from(list.children).find((c) => c.getAttribute('data-room') === name);
    if (want === null) return !item;
    return !!item && item.getAttribute('data-count') === String(want);
  }, [room, count], { timeout: WAIT }).catch(async (err) => {
    throw new Error(`room list never showed ${JSON.stringify(room)} with count ${count}; it shows ` +
      `${JSON.stringify(await listed(page))}\n${err.message}`);
  });
}

/** @param {import('playwright-core').Page} page */
function listed(page) {
  return page.evaluate(() => Array.from(
    document.querySelector('[data-testid="room-list"]')?.children ?? [],
    (c) => [c.getAttribute('data-room'), c.getAttribute('data-count')]));
}

/**
 * Waits until the home page is on screen (after leaving a room).
 * @param {import('playwright-core').Page} page
 */
async function waitHome(page) {
  await page.getByTestId('nickname-input').waitFor({ state: 'visible', timeout: WAIT });
  await page.getByTestId('room-list').waitFor({ state: 'attached', timeout: WAIT });
}

/**
 * Sets the nickname on the home page (Enter saves it) and waits until the field shows it.
 * @param {import('playwright-core').Page} page
 * @param {string} nickname
 */
async function setNickname(page, nickname) {
  const input = page.getByTestId('nickname-input');
  await input.fill(nickname);
  await input.press('Enter');
}

/**
 * Types a message and sends it.
 * @param {import('playwright-core').Page} page
 * @param {string} text  "\n" is typed as Shift+Enter
 * @param {'enter'|'button'} how
 */
async function say(page, text, how) {
  const input = page.getByTestId('chat-input');
  await input.click();
  const parts = text.split('\n');
  for (let i = 0; i < parts.length; i++) {
    if (i > 0) await input.press('Shift+Enter');
    await input.pressSequentially(parts[i]);
  }
  if (how === 'enter') await input.press('Enter');
  else await page.getByTestId('chat-send').click();
  await page.waitForFunction(
    () => /** @type {HTMLTextAreaElement} */ (document.querySelector('[data-testid="chat-input"]')).value === '',
    undefined, { timeout: WAIT });
}

/**
 * Clicks a room in the home page's list, then the pre-join screen's Join.
 * @param {import('playwright-core').Page} page
 * @param {string} room
 */
async function clickRoom(page, room) {
  await page.locator(`[data-testid="room-list"] > [data-room="${room.replace(/["\\]/g, '\\$&')}"]`)
    .locator('button').click({ timeout: WAIT });
  await prejoinJoin(page);
}

/**
 * Enters the room from its pre-join screen (what opening a room's address, the home page's Join
 * and the room list lead to).
 * @param {import('playwright-core').Page} page
 */
async function prejoinJoin(page) {
  await page.getByTestId('prejoin-join').click({ timeout: WAIT });
}

// ---- the scenario, once per prefix ---------------------------------------------------------

for (const prefix of ['', '/noom']) {
  const label = prefix ? prefix.slice(1) : 'root';

  describe(`browser: chat at "${prefix || '/'}"`, { skip }, () => {
    /** @type {Awaited<ReturnType<typeof startStack>>} */
    let stack;
    /** @type {import('playwright-core').Browser} */
    let browser;
    /** @type {Record<string, import('playwright-core').Page>} */
    const pages = {};
    /** Uncaught page errors, checked at the end. @type {string[]} */
    const pageErrors = [];
    const ROOM = 'Daily standup #1';
    let roomUrl = '';

    /** @param {string} name @param {{width: number, height: number}} viewport */
    async function openPage(name, viewport) {
      const context = await browser.newContext({ viewport });
      context.setDefaultTimeout(WAIT);
      context.setDefaultNavigationTimeout(WAIT);
      const page = await context.newPage();
      page.on('pageerror', (err) => pageErrors.push(`${name}: ${err.message}`));
      pages[name] = page;
      return page;
    }

    before(async () => {
      stack = await startStack({ prefix });
      assert.ok(stack.baseUrl.endsWith('/'), 'baseUrl ends with /');
      roomUrl = `${stack.baseUrl}room/${encodeURIComponent(ROOM)}`;
      browser = await /** @type {NonNullable<typeof chromium>} */ (chromium).launch({
        executablePath: CHROMIUM, headless: true, args: LAUNCH_ARGS, timeout: WAIT,
      });
      await openPage('ann', { width: 1280, height: 800 });
      await openPage('bob', { width: 390, height: 844 }); /* a phone */
      await openPage('carol', { width: 1280, height: 800 });
    });

    after(async () => {
      await browser?.close().catch(() => {});
      await stack?.stop();
    });

    it('serves the home page with its styles, script and base URL', { timeout: 60000 }, async () => {
      for (const page of Object.values(pages)) {
        const res = await page.goto(stack.baseUrl);
        assert.equal(res?.status(), 200);
        await waitHome(page);
      }
      /* Default (auto) mode with the gateway running: every page carries its events over the
       * WebSocket. */
      for (const page of Object.values(pages)) await waitTransport(page, 'websocket');
      const { ann } = pages;
      assert.equal(await ann.evaluate(() => document.baseURI), stack.baseUrl);
      /* The app filled the nickname from the session once it started. */
      await ann.waitForFunction(() => document.body.dataset.ready === 'true', undefined, { timeout: WAIT });
      assert.notEqual(await ann.getByTestId('nickname-input').inputValue(), '');
      /* The stylesheet applied (the brand is laid out by app.css, not the UA sheet). */
      const display = await ann.evaluate(() => getComputedStyle(document.querySelector('.topbar')).display);
      assert.equal(display, 'flex');
      /* The favicon and logo load under the prefix too. */
      const logo = await ann.request.get(new URL('static/img/logo.svg', stack.baseUrl).href);
      assert.equal(logo.status(), 200);
    });

    it('two users set nicknames and join the same room', { timeout: 60000 }, async () => {
      const { ann, bob, carol } = pages;
      await setNickname(ann, 'Ann');
      await ann.getByTestId('room-input').fill(ROOM);
      await ann.getByTestId('join-button').click();
      await prejoinJoin(ann);
      await waitRoomCount(ann, 1);
      assert.equal(ann.url(), roomUrl);
      assert.equal(await ann.title(), `${ROOM} · Noom`);

      /* Carol's home page learns about the new room without reloading. */
      await waitListed(carol, ROOM, 1);

      /* Bob joins from the live list on his home page. */
      await setNickname(bob, 'Bob');
      await waitListed(bob, ROOM, 1);
      await clickRoom(bob, ROOM);
      await waitRoomCount(bob, 2);
      await waitRoomCount(ann, 2);
      await waitNotice(ann, 'Bob joined');
      const members = await bob.getByTestId('member-list').textContent();
      assert.match(members ?? '', /Ann/);
      assert.match(members ?? '', /Bob/);
      await waitListed(carol, ROOM, 2);
    });

    it('they chat both ways', { timeout: 60000 }, async () => {
      const { ann, bob, carol } = pages;
      await say(ann, 'Hello Bob <b>not bold</b>', 'enter');
      await waitMessage(bob, 'Ann', 'Hello Bob <b>not bold</b>');
      await waitMessage(ann, 'Ann', 'Hello Bob <b>not bold</b>');
      /* User text is text: no element was made from it. */
      assert.equal(await bob.locator('[data-testid="chat-log"] b').count(), 0);

      await say(bob, 'Hi Ann!\nSecond line', 'button');
      await waitMessage(ann, 'Bob', 'Hi Ann!\nSecond line');
      await say(ann, 'Good morning, everyone. Today: release notes, the poll loop and the new logo.', 'enter');
      await waitMessage(bob, 'Ann', 'release notes');

      /* Own messages are marked as such; others' are not. */
      const own = await ann.locator('[data-testid="chat-log"] > .is-own').count();
      const othersOwn = await ann.locator('[data-testid="chat-log"] > .is-own', { hasText: 'Second line' }).count();
      assert.ok(own >= 2, 'Ann sees her own messages marked');
      assert.equal(othersOwn, 0, "Bob's message is not marked as Ann's");

      const dir = screenshotsDir();
      await ann.screenshot({ path: path.join(dir, `room-${label}.png`) });
      await bob.screenshot({ path: path.join(dir, `room-phone-${label}.png`) });
      await carol.screenshot({ path: path.join(dir, `home-${label}.png`) });
    });

    it('a rename is announced to the room', { timeout: 60000 }, async () => {
      const { ann, bob } = pages;
      const input = bob.getByTestId('room-nickname-input');
      /* On Bob's phone the people panel (with the name field) starts folded. */
      if (!(await input.isVisible())) await bob.locator('.people-summary').click();
      await input.fill('Bobby');
      await input.press('Enter');
      await waitNotice(ann, 'Bob is now Bobby');
      await waitNotice(bob, 'Bob is now Bobby');
    });

    it('leaving announces it and the live list follows, also after coming back home', { timeout: 60000 }, async () => {
      const { ann, bob, carol } = pages;
      await ann.getByTestId('leave-button').click();
      await waitHome(ann);
      assert.equal(ann.url(), stack.baseUrl);
      await waitNotice(bob, 'Ann left');
      await waitRoomCount(bob, 1);
      await waitListed(carol, ROOM, 1);
      await waitListed(ann, ROOM, 1);

      /* Ann comes back through the list: Bob now sees her join notice too. */
      await clickRoom(ann, ROOM);
      await waitRoomCount(ann, 2);
      await waitNotice(bob, 'Ann joined');
      await waitRoomCount(bob, 2);
      await waitListed(carol, ROOM, 2);
      /* The history came with the join. */
      await waitMessage(ann, 'Ann', 'Hello Bob');
      await waitMessage(ann, 'Bob', 'Second line');

      /* Bob leaves: count drops to 1 everywhere, and his home list is live. */
      await bob.getByTestId('leave-button').click();
      await waitHome(bob);
      await waitNotice(ann, 'Bobby left');
      await waitRoomCount(ann, 1);
      await waitListed(carol, ROOM, 1);
      await waitListed(bob, ROOM, 1);

      /* The last one out closes the room: it disappears from both home pages live. */
      await ann.getByTestId('leave-button').click();
      await waitHome(ann);
      await waitListed(carol, ROOM, null);
      await waitListed(bob, ROOM, null);
      await waitListed(ann, ROOM, null);
    });

    it('a deep link joins at load; closing the tab leaves the room', { timeout: 60000 }, async () => {
      const { carol } = pages;
      const deep = 'deep/link ü';
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      try {
        const dave = await context.newPage();
        dave.on('pageerror', (err) => pageErrors.push(`dave: ${err.message}`));
        const url = `${stack.baseUrl}room/${encodeURIComponent(deep)}`;
        const res = await dave.goto(url, { timeout: WAIT });
        assert.equal(res?.status(), 200);
        await prejoinJoin(dave);
        await waitRoomCount(dave, 1);
        assert.equal(await dave.locator('[data-role="room-name"]').textContent(), deep);
        await waitListed(carol, deep, 1);
        await dave.close({ runBeforeUnload: true }); /* pagehide → sendBeacon leave */
        await waitListed(carol, deep, null);
      } finally {
        await context.close();
      }
    });

    it('the back button leaves the room; a reload keeps the session', { timeout: 60000 }, async () => {
      const { ann, carol } = pages;
      await ann.getByTestId('room-input').fill('back button');
      await ann.getByTestId('join-button').click();
      await prejoinJoin(ann);
      await waitRoomCount(ann, 1);
      await waitListed(carol, 'back button', 1);
      await ann.goBack();
      await waitHome(ann);
      await waitListed(carol, 'back button', null);
      await ann.goForward();
      await prejoinJoin(ann);
      await waitRoomCount(ann, 1);
      await waitListed(carol, 'back button', 1);

      /* A reload of the room page keeps the session (same name) and the room. */
      await ann.reload();
      await waitRoomCount(ann, 1);
      await ann.waitForFunction(() => document.body.dataset.ready === 'true', undefined, { timeout: WAIT });
      assert.equal(await ann.getByTestId('room-nickname-input').inputValue(), 'Ann');
      await waitListed(carol, 'back button', 1);
      await ann.getByTestId('leave-button').click();
      await waitHome(ann);
      assert.equal(await ann.getByTestId('nickname-input').inputValue(), 'Ann');
      await waitListed(carol, 'back button', null);
    });

    it('lost answers are retried without loss or duplicates', { timeout: 60000 }, async () => {
      const { ann, bob } = pages;
      const FLAKY = 'flaky network';
      /* A test of the long-poll transport: Ann's page is reopened with ?transport=polling (same
       * tab, same session) so that her events come through GET api/poll, which is intercepted
       * below. Bob stays in the default mode (his intercepted request is a write, HTTP anyway). */
      await ann.goto(`${stack.baseUrl}?transport=polling`);
      await waitHome(ann);
      await ann.waitForFunction(() => document.body.dataset.ready === 'true', undefined, { timeout: WAIT });
      await waitTransport(ann, 'polling');
      await waitTransport(bob, 'websocket');
      /* Ann's browser loses the first poll answer that carries Bob's welcome: the server has
       * sent it, the page never sees it. The client must re-poll with the same cursor. */
      let droppedPoll = false;
      await ann.route(/\/api\/poll\?/, async (route) => {
        const res = await route.fetch({ timeout: 40000 }).catch(() => null);
        if (!res) return route.abort('failed').catch(() => {});
        const body = await res.json().catch(() => null);
        if (!droppedPoll && body?.events?.some((e) => e.type === 'welcome' && e.data?.nickname === 'Bobby')) {
          droppedPoll = true;
          return route.abort('connectionreset').catch(() => {});
        }
        return route.fulfill({ response: res, json: body ?? undefined }).catch(() => {});
      });
      /* Bob's browser loses the answer to his first message: the server stored it. The client
       * must retry with the same client_id, and the server must not store it twice. */
      let droppedSend = false;
      await bob.route(/\/api\/messages$/, async (route) => {
        if (droppedSend) return route.continue();
        droppedSend = true;
        await route.fetch();
        return route.abort('connectionreset');
      });
      try {
        await ann.getByTestId('room-input').fill(FLAKY);
        await ann.getByTestId('join-button').click();
        await prejoinJoin(ann);
        await waitRoomCount(ann, 1);
        await waitListed(bob, FLAKY, 1);
        await clickRoom(bob, FLAKY);
        await waitRoomCount(bob, 2);
        await waitNotice(ann, 'Bobby joined');
        assert.ok(droppedPoll, 'a poll answer was dropped');
        await say(bob, 'only once, please', 'enter');
        await waitMessage(ann, 'Bobby', 'only once, please');
        assert.ok(droppedSend, 'a send answer was dropped');
        /* Once Bob's client has its answer (no line pending), a later message of his is
         * stored after any duplicate would have been: count when it has arrived. */
        await bob.waitForFunction(() => !document.querySelector('[data-testid="chat-log"] .is-pending'),
          undefined, { timeout: WAIT });
        await say(bob, 'checkpoint', 'enter');
        await waitMessage(ann, 'Bobby', 'checkpoint');
        await bob.waitForFunction(() => !document.querySelector('[data-testid="chat-log"] .is-pending'),
          undefined, { timeout: WAIT });
        const count = (page, text) => page.evaluate((t) => Array.from(
          document.querySelector('[data-testid="chat-log"]')?.children ?? [],
        ).filter((c) => (c.textContent ?? '').includes(t)).length, text);
        assert.equal(await count(ann, 'Bobby joined'), 1, 'the welcome is shown once');
        assert.equal(await count(ann, 'only once, please'), 1, 'the message is stored once');
        assert.equal(await count(bob, 'only once, please'), 1, 'the sender sees it once');
        assert.equal(await bob.locator('[data-testid="chat-log"] .is-failed').count(), 0);
        /* Forced polling stays polling (no WebSocket attempt in the background). */
        assert.equal(await ann.evaluate(() => document.body.dataset.transport), 'polling');
      } finally {
        await ann.unrouteAll({ behavior: 'ignoreErrors' });
        await bob.unrouteAll({ behavior: 'ignoreErrors' });
      }

      /* A message the server refuses (not retryable) shows an error line and a Retry button. */
      await bob.route(/\/api\/messages$/, (route) => route.fulfill({
        status: 400, json: { error: 'bad_field', field: 'text', message: 'The text is not acceptable.' },
      }));
      await say(bob, 'refused at first', 'enter');
      const error = bob.locator('[data-role="chat-error"]');
      await error.waitFor({ state: 'visible', timeout: WAIT });
      assert.match(await error.textContent() ?? '', /not sent.*not acceptable/i);
      await bob.unrouteAll({ behavior: 'ignoreErrors' });
      await bob.locator('[data-testid="chat-log"] [data-retry]').click();
      await waitMessage(ann, 'Bobby', 'refused at first');
      await bob.waitForFunction(() => !document.querySelector('[data-testid="chat-log"] .is-failed, [data-testid="chat-log"] .is-pending'),
        undefined, { timeout: WAIT });

      await bob.getByTestId('leave-button').click();
      await waitNotice(ann, 'Bobby left');
      await ann.getByTestId('leave-button').click();
      await waitHome(ann);
      await waitListed(bob, FLAKY, null);
    });

    it('no page raised an uncaught error', (t) => {
      t.diagnostic(`screenshots in ${screenshotsDir()}`);
      assert.deepEqual(pageErrors, []);
    });
  });
}

// ---- resync: the server trimmed the events a page had not fetched yet -------------------------

describe('browser: resync after the server dropped our cursor', { skip }, () => {
  /** @type {Awaited<ReturnType<typeof startStack>>} */
  let stack;
  /** @type {import('playwright-core').Browser} */
  let browser;

  before(async () => {
    /* Events are kept 1 s, so a page whose polls are held back for a few seconds is behind. */
    stack = await startStack({ workerArgs: ['--retention', '1', '--poll-timeout', '2'] });
    browser = await /** @type {NonNullable<typeof chromium>} */ (chromium).launch({
      executablePath: CHROMIUM, headless: true, args: LAUNCH_ARGS, timeout: WAIT,
    });
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await stack?.stop();
  });

  it('reloads the room (members, missed messages) and keeps going', { timeout: 90000 }, async () => {
    const pageErrors = [];
    /** @param {string} nickname @param {string} [query] */
    const user = async (nickname, query = '') => {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      context.setDefaultTimeout(WAIT);
      const page = await context.newPage();
      page.on('pageerror', (err) => pageErrors.push(`${nickname}: ${err.message}`));
      await page.goto(stack.baseUrl + query);
      await waitHome(page);
      await setNickname(page, nickname);
      return page;
    };
    /* Ann's polls are held back below: a test of the long-poll transport, so her page forces
     * it. Bob is in the default mode (WebSocket). */
    const ann = await user('Ann', '?transport=polling');
    const bob = await user('Bob');
    await waitTransport(ann, 'polling');
    await waitTransport(bob, 'websocket');
    await ann.getByTestId('room-input').fill('resync');
    await ann.getByTestId('join-button').click();
    await prejoinJoin(ann);
    await waitRoomCount(ann, 1);
    await bob.getByTestId('room-input').fill('resync');
    await bob.getByTestId('join-button').click();
    await prejoinJoin(bob);
    await waitRoomCount(bob, 2);
    await waitNotice(ann, 'Bob joined');

    /* From now on Ann's polls are held back until `release` is called. */
    /** @type {() => void} */
    let release = () => {};
    const released = new Promise((resolve) => { release = () => resolve(undefined); });
    /** @type {string[]} */
    const heldUrls = [];
    let resyncSeen = false;
    await ann.route(/\/api\/poll\?/, async (route) => {
      heldUrls.push(route.request().url());
      await released;
      const res = await route.fetch({ timeout: 40000 }).catch(() => null);
      if (!res) return route.abort('failed').catch(() => {});
      const body = await res.json().catch(() => null);
      if (body?.resync) resyncSeen = true;
      return route.fulfill({ response: res, json: body ?? undefined }).catch(() => {});
    });
    try {
      /* The poll that was already out comes back within the 2 s poll timeout; the next waits. */
      const deadline = Date.now() + WAIT;
      while (heldUrls.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      assert.ok(heldUrls.length > 0, 'a poll of Ann was held');
      const cursor = Number(new URL(heldUrls[0]).searchParams.get('cursor'));

      await say(bob, 'missed while away', 'enter');
      await waitMessage(bob, 'Bob', 'missed while away');
      await bob.getByTestId('room-nickname-input').fill('Robert');
      await bob.getByTestId('room-nickname-input').press('Enter');
      await waitNotice(bob, 'Bob is now Robert');

      /* Wait (bounded) until the server has trimmed past Ann's cursor, asking with her token
       * from here (the page's own requests are held by the route). */
      const token = await ann.evaluate(() => JSON.parse(sessionStorage.getItem('noom.session') ?? '{}').token);
      const trimmedBy = Date.now() + 20000;
      for (;;) {
        const res = await fetch(new URL(`api/poll?cursor=${cursor}`, stack.baseUrl), {
          headers: { Authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(WAIT),
        });
        const body = await res.json();
        if (body.resync === true) break;
        assert.ok(Date.now() < trimmedBy, 'the server never trimmed the events after Ann\'s cursor');
        await new Promise((r) => setTimeout(r, 500));
      }
      release();
      /* Ann's page reloads the room: the missed message (history) and the new name are there. */
      await waitMessage(ann, 'Bob', 'missed while away');
      await ann.waitForFunction(() => (document.querySelector('[data-testid="member-list"]')?.textContent ?? '').includes('Robert'),
        undefined, { timeout: WAIT });
      assert.ok(resyncSeen, 'Ann got a resync answer');
      await waitRoomCount(ann, 2);
    } finally {
      release();
      await ann.unrouteAll({ behavior: 'ignoreErrors' });
    }
    /* And the mailbox works on from the new cursor. */
    await say(bob, 'after the resync', 'enter');
    await waitMessage(ann, 'Robert', 'after the resync');
    await say(ann, 'back in sync', 'enter');
    await waitMessage(bob, 'Ann', 'back in sync');
    assert.equal(await ann.evaluate(() => document.body.dataset.transport), 'polling');
    assert.deepEqual(pageErrors, []);
  });
});
