// Chat reaches one long-poller at most every --chat-gap ms (mailbox_chat_wait, fcgi/mailbox.c): in a busy
// room each poller turns round at most that often and gets several messages per answer, instead
// of re-polling as fast as the server answers. After a quiet spell nothing waits, and anything
// but chat and notices (here a call's signal) never waits.
//
// The gap is 400 ms here (25 ms by default) so that what waits and what does not can be told
// apart by time on a slow machine too. Server timestamps (data.ts of a message) and Date.now()
// read the same clock.
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {startStack, api, newSession, join, say, poll, drain, ofType, sleep} from '../lib/stack.js';

const GAP = 400;
let stack;
before(async () => {
  stack = await startStack({workerArgs: ['--poll-timeout', '5', '--chat-gap', String(GAP)]});
});
after(async () => {
  await stack?.stop();
});

const texts = (events) => ofType(events, 'new_message').map((e) => e.data.text);

/** Two members of a fresh room, each with a drained cursor. */
async function pair(room) {
  const ann = await newSession(stack, 'Ann');
  const bob = await newSession(stack, 'Bob');
  await join(stack, ann.token, room);
  await join(stack, bob.token, room);
  bob.cursor = (await drain(stack, bob.token, bob.cursor)).cursor;
  return {ann, bob};
}

/** Bob's answer with 'first' in it: the message's server time and the answer's cursor. */
async function answeredFirst(ann, bob) {
  await say(stack, ann.token, 'first');
  const r = await poll(stack, bob.token, bob.cursor);
  const first = ofType(r.json.events, 'new_message').find((e) => e.data.text === 'first');
  assert.ok(first, JSON.stringify(r.json));
  assert.equal(r.json.cursor, first.seq, 'nothing else was written: the cursor is the message');
  return {ts: first.data.ts, cursor: r.json.cursor};
}

test('chat to a poller answered a moment ago comes in one answer, no sooner than the gap after the last', {timeout: 60_000}, async () => {
  const {ann, bob} = await pair('batch-busy');
  const first = await answeredFirst(ann, bob);
  const want = ['s1', 's2', 's3', 's4', 's5'];
  const sent = (async () => {
    for (const t of want) await say(stack, ann.token, t);
    return Date.now();
  })();
  await sleep(20); // s1 is in the log when the poll comes
  const r = await poll(stack, bob.token, first.cursor);
  const at = Date.now();
  const allSent = await sent;
  assert.ok(at >= first.ts + GAP - 5, `answered ${at - first.ts} ms after the message its cursor ends at (gap ${GAP})`);
  let got = texts(r.json.events);
  assert.ok(got.length >= 1, JSON.stringify(r.json));
  if (allSent < first.ts + GAP - 100) {
    assert.deepEqual(got, want, 'every message sent within the gap shares the one answer');
  }
  let cursor = r.json.cursor;
  while (got.length < want.length) {
    const more = await poll(stack, bob.token, cursor);
    got = got.concat(texts(more.json.events));
    cursor = more.json.cursor;
  }
  assert.deepEqual(got, want, 'each once, in order');
});

test('a poll that parked with nothing waits out the gap too; after a quiet spell nothing waits', {timeout: 60_000}, async () => {
  const {ann, bob} = await pair('batch-calm');
  const first = await answeredFirst(ann, bob);
  const waiting = poll(stack, bob.token, first.cursor); // nothing new yet: it parks
  await sleep(100);
  await say(stack, ann.token, 'second');
  const r = await waiting;
  const at = Date.now();
  assert.deepEqual(texts(r.json.events), ['second']);
  assert.ok(at >= first.ts + GAP - 5, `answered ${at - first.ts} ms after the message its cursor ends at (gap ${GAP})`);

  // Quiet for longer than the gap: the next message goes at once.
  const second = ofType(r.json.events, 'new_message')[0];
  await sleep(Math.max(0, second.data.ts + GAP + 100 - Date.now()));
  const next = poll(stack, bob.token, r.json.cursor);
  await sleep(50);
  await say(stack, ann.token, 'third');
  const r3 = await next;
  const third = ofType(r3.json.events, 'new_message')[0];
  assert.equal(third?.data.text, 'third', JSON.stringify(r3.json));
  assert.ok(Date.now() - third.data.ts < GAP / 2, `answered ${Date.now() - third.data.ts} ms after it was written`);
});

test('a signal to a poller answered chat a moment ago goes at once, with the chat before it', {timeout: 60_000}, async () => {
  const {ann, bob} = await pair('batch-signal');
  const first = await answeredFirst(ann, bob);
  await say(stack, ann.token, 'before the offer');
  const waiting = poll(stack, bob.token, first.cursor); // chat only: it waits
  await sleep(50);
  const sig = await api(stack, 'POST', 'api/signal', {token: ann.token,
    body: {to: bob.session, kind: 'offer', data: {type: 'offer', sdp: 'v=0\r\n'}}});
  assert.equal(sig.status, 202, sig.text);
  const signalled = Date.now();
  const r = await waiting;
  const at = Date.now();
  const types = r.json.events.map((e) => e.type);
  assert.ok(types.includes('signal'), `the signal is in the answer: ${types.join(',')}`);
  assert.deepEqual(texts(r.json.events), ['before the offer'], 'and the chat written before it');
  if (signalled < first.ts + GAP / 2) {
    assert.ok(at < first.ts + GAP, `answered ${at - signalled} ms after the signal, ` +
      `${at - first.ts} ms after 'first': the signal did not wait for the gap`);
  }
});

test('a poll whose chat is held, with a signal already written, is answered at once', {timeout: 60_000}, async () => {
  // The held poll parks without reading the log (fcgi/poll.c poll_answer); its waker's scan
  // for the hand-over finds the signal and answers without waiting for the gap.
  const {ann, bob} = await pair('batch-held-signal');
  const first = await answeredFirst(ann, bob);
  await say(stack, ann.token, 'chat first');
  const sig = await api(stack, 'POST', 'api/signal', {token: ann.token,
    body: {to: bob.session, kind: 'offer', data: {type: 'offer', sdp: 'v=0\r\n'}}});
  assert.equal(sig.status, 202, sig.text);
  const asked = Date.now();
  const r = await poll(stack, bob.token, first.cursor);
  const at = Date.now();
  assert.deepEqual(r.json.events.map((e) => e.type), ['new_message', 'signal'], JSON.stringify(r.json));
  assert.deepEqual(texts(r.json.events), ['chat first']);
  if (asked < first.ts + GAP / 2) {
    assert.ok(at < first.ts + GAP, `answered ${at - asked} ms after it was asked, ` +
      `${at - first.ts} ms after 'first': it did not wait for the gap`);
  }
  assert.equal(r.json.cursor, r.json.events[1].seq);
});

test('a held answer longer than one FastCGI record (32 KiB) comes whole, in order', {timeout: 60_000}, async () => {
  // The waker writes its answers' records itself (fcgi/worker.c worker_respond_raw): 24 messages
  // of 2000 characters held for one poller make an answer of ~50 KB, two records and the head.
  const {ann, bob} = await pair('batch-long');
  const first = await answeredFirst(ann, bob);
  const want = Array.from({length: 24}, (_, i) => `${String(i).padStart(2, '0')}:` + 'é'.repeat(1997));
  const waiting = poll(stack, bob.token, first.cursor); // held: it parks until the gap is over
  for (const t of want) await say(stack, ann.token, t);
  const r = await waiting;
  assert.equal(r.status, 200);
  let got = texts(r.json.events);
  let cursor = r.json.cursor;
  assert.ok(Buffer.byteLength(r.text) > 32768 || got.length < want.length, `${Buffer.byteLength(r.text)} bytes`);
  while (got.length < want.length) {
    const more = await poll(stack, bob.token, cursor);
    got = got.concat(texts(more.json.events));
    cursor = more.json.cursor;
  }
  assert.deepEqual(got, want, 'each once, in order, byte for byte');
});

test('--chat-gap 0 turns it off; a bad value is refused', {timeout: 60_000}, async () => {
  const off = await startStack({workerArgs: ['--chat-gap', '0']});
  try {
    const ann = await newSession(off, 'Ann');
    const bob = await newSession(off, 'Bob');
    await join(off, ann.token, 'gap-off');
    await join(off, bob.token, 'gap-off');
    bob.cursor = (await drain(off, bob.token, bob.cursor)).cursor;
    await say(off, ann.token, 'one');
    const r1 = await poll(off, bob.token, bob.cursor);
    await say(off, ann.token, 'two');
    const t0 = Date.now();
    const r2 = await poll(off, bob.token, r1.json.cursor);
    assert.deepEqual(texts(r2.json.events), ['two']);
    assert.ok(Date.now() - t0 < 2000, 'answered at once');
  } finally {
    await off.stop();
  }
  await assert.rejects(startStack({workerArgs: ['--chat-gap', '-1']}), /chat-gap/);
});
