// The lobby: the room list is busiest first and searchable, so a flood of rooms cannot hide a
// real meeting, and a join costs each lobby reader what changed (one small event), not the list.
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {startStack, CROWD_LIMITS, api, newSession, join, poll, pollUntil, ofType} from '../lib/stack.js';

const FLOOD = 520;
let stack;
before(async () => {
  // The flood comes from one address (every test client is 127.0.0.1): out of the limits' way.
  stack = await startStack({workerArgs: ['--poll-timeout', '2'], config: CROWD_LIMITS});
});
after(async () => {
  await stack?.stop();
});

async function list(token, query = '') {
  const r = await api(stack, 'GET', `api/rooms${query}`, {token});
  assert.equal(r.status, 200, r.text);
  return r.json;
}

/** Runs fn over items, `width` at a time. */
async function inBatches(items, width, fn) {
  for (let i = 0; i < items.length; i += width) await Promise.all(items.slice(i, i + width).map(fn));
}

test('a flood of rooms cannot push a real one out of the list, and search finds any', {timeout: 180_000}, async () => {
  const team = await Promise.all(['Ann', 'Bob', 'Cid'].map((n) => newSession(stack, n)));
  for (const s of team) await join(stack, s.token, 'standup');
  const names = Array.from({length: FLOOD}, (_, i) => `!flood-${String(i).padStart(3, '0')}`);
  await inBatches(names, 20, async (name) => {
    const s = await newSession(stack, 'x');
    await join(stack, s.token, name);
  });
  const watcher = await newSession(stack, 'Watcher');

  const first = await list(watcher.token);
  assert.equal(first.rooms.length, 50, 'one page of 50 by default');
  assert.equal(first.more, true);
  assert.deepEqual(first.rooms[0], {name: 'standup', count: 3}, 'the busiest room first');
  const counts = first.rooms.map((r) => r.count);
  assert.deepEqual(counts, [...counts].sort((a, b) => b - a));

  // Every page, to the end: each room once.
  const seen = new Set();
  for (let offset = 0; ; offset += 200) {
    const page = await list(watcher.token, `?limit=200&offset=${offset}`);
    for (const r of page.rooms) {
      assert.ok(!seen.has(r.name), `${r.name} twice`);
      seen.add(r.name);
    }
    if (!page.more) break;
  }
  assert.equal(seen.size, FLOOD + 1);

  const found = await list(watcher.token, '?q=STAND');
  assert.deepEqual(found.rooms, [{name: 'standup', count: 3}], 'search by name, any case');
  assert.equal(found.more, false);
  const percent = await list(watcher.token, `?q=${encodeURIComponent('!flood-51')}`);
  assert.deepEqual(percent.rooms.map((r) => r.name).sort(), ['!flood-510', '!flood-511', '!flood-512', '!flood-513',
    '!flood-514', '!flood-515', '!flood-516', '!flood-517', '!flood-518', '!flood-519']);

  for (const [query, field] of [['?limit=0', 'limit'], ['?limit=201', 'limit'], ['?offset=-1', 'offset'],
    [`?q=${'x'.repeat(300)}`, 'q'], ['?q=%00', 'q'], ['?q=%zz', 'q']]) {
    const r = await api(stack, 'GET', `api/rooms${query}`, {token: watcher.token});
    assert.equal(r.status, 400, `${query}: ${r.text}`);
    assert.equal(r.json.error, 'bad_query');
    assert.equal(r.json.field, field);
  }

  // With 500 rooms open, one more join costs a lobby reader one small event.
  const cursor = (await list(watcher.token)).cursor;
  const member = (await api(stack, 'GET', 'api/room', {token: team[0].token})).json.cursor;
  const late = await newSession(stack, 'Late');
  await join(stack, late.token, 'standup');
  const r = await pollUntil(stack, watcher.token, cursor, (ev) => ofType(ev, 'room_change').length > 0);
  const changes = ofType(r.events, 'room_change');
  assert.equal(changes.length, 1, JSON.stringify(changes));
  assert.deepEqual(changes[0].data, {rooms: [{name: 'standup', count: 4}]});
  const bytes = JSON.stringify(changes[0]).length;
  assert.ok(bytes < 200, `one join costs a lobby reader ${bytes} bytes`);
  // A member of a room does not get the lobby's changes at all.
  const m = await poll(stack, team[0].token, member);
  assert.deepEqual(ofType(m.json.events, 'room_change'), []);
  assert.ok(ofType(m.json.events, 'welcome').length === 1);
});
