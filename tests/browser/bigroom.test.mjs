// Browser test of a big room: 230 members joined over the API, then Ann joins from the page.
// Her member list shows herself and the first 199 others in join order, then "and 31 more";
// the stage has a tile for herself and the earliest members only; the count says 231 people.
// Then 20 more join at once (their notices reach her in batches): the count and the "more"
// line follow, and a chat message from a member arrives at once. The page runs on long-polling,
// the transport where notices in a big room wait for company (docs/API.md).
//
// Skipped, with the reason, when playwright-core or Chromium is missing.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startStack, CROWD_LIMITS, newSession, join, say } from '../lib/stack.js';
import { chromium, skip, CHROMIUM, BASE_ARGS, screenshotsDir } from '../lib/browser.js';

const WAIT = 20000;
const ROOM = 'town hall';

/** n sessions joined to ROOM one after another (join order = array order). */
async function members(stack, n, tag) {
  const out = [];
  for (let i = 0; i < n; i += 20) {
    const batch = [];
    for (let j = i; j < Math.min(n, i + 20); j++) batch.push(newSession(stack, `${tag} ${j}`));
    out.push(...await Promise.all(batch));
  }
  for (const m of out) await join(stack, m.token, ROOM);
  return out;
}

describe('a room of hundreds', { skip: skip || false }, () => {
  let stack;
  let browser;
  before(async () => {
    stack = await startStack({config: CROWD_LIMITS});
    browser = await chromium.launch({ executablePath: CHROMIUM, args: BASE_ARGS });
  });
  after(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it('lists the first 200 with "and N more", and follows joins that come in batches', { timeout: 180_000 }, async () => {
    const early = await members(stack, 230, 'Member');
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(`${stack.baseUrl}?transport=polling`);
    await page.getByTestId('nickname-input').fill('Ann');
    await page.getByTestId('room-input').fill(ROOM);
    await page.getByTestId('join-button').click();
    await page.getByTestId('prejoin-join').click();
    await page.getByTestId('room-count').filter({ hasText: '231 people' }).waitFor({ timeout: WAIT });

    const more = page.getByTestId('member-more');
    await more.filter({ hasText: 'and 31 more' }).waitFor({ timeout: WAIT });
    const names = await page.getByTestId('member-list').locator('.member-name').allTextContents();
    assert.equal(names.length, 200);
    assert.equal(names[0], 'Ann');
    assert.deepEqual(names.slice(1, 4), ['Member 0', 'Member 1', 'Member 2'], 'the others in join order');
    const tiles = await page.getByTestId('video-tile').count();
    assert.ok(tiles >= 2 && tiles <= 25, `a tile for oneself and the earliest only (${tiles})`);

    await members(stack, 20, 'Late');
    await page.getByTestId('room-count').filter({ hasText: '251 people' }).waitFor({ timeout: WAIT });
    await more.filter({ hasText: 'and 51 more' }).waitFor({ timeout: WAIT });
    assert.equal(await page.getByTestId('member-list').locator('.member-name').count(), 200);

    await say(stack, early[3].token, 'welcome, everyone');
    await page.getByTestId('chat-log').filter({ hasText: 'welcome, everyone' }).waitFor({ timeout: WAIT });
    await page.screenshot({ path: path.join(screenshotsDir(), 'bigroom.png') });
    await page.close();
  });
});
