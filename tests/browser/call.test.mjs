// Browser tests of the call UI of the room page: real Chromium (through playwright-core) with
// fake cameras and microphones, against the real stack (noom-run: nginx + noom-worker).
//
// Scenarios, sharing one stack and one browser (people join through the home page):
//  1. Ann, Bob and Cleo join one room at the same time: every grid has one tile per member (own
//     one marked), and each of them sees the other two as remote videos that play (frames
//     arrive, time advances, the picture is not black). A screenshot of Ann's call is saved.
//  2. Ann mutes and turns her camera off: her local tracks are disabled, and Bob and Cleo see it
//     on her tile (data-audio / data-video and the indicators); then back on.
//  3. Ann switches to another fake camera and to another microphone: every connection now
//     sends the new tracks, with no new RTCPeerConnection, no renegotiation, no re-join, and
//     her video keeps playing in the same <video> element on Bob's and Cleo's pages.
//  4. Ann shares her screen (the others see data-screen="on" and a wide picture), stops with the
//     button, shares again and ends it the way the browser's own "Stop sharing" does (the track
//     ends): the camera comes back each time.
//  5. Dan joins later and connects to all three; Ann leaves with the button and Dan closes his
//     tab: their tiles and videos disappear from the others' grids.
//  6. Eve's browser refuses camera and microphone: she still joins, reads why in call-status,
//     chats, sees Bob's and Cleo's videos (receive-only), and they see her as muted, camera off.
//  7. A second stack with --mesh-max 2: the third member is chat-only (call-status shown, no
//     video) but chats both ways; the first two are in a call together. When one of them
//     leaves, the chat-only member joins the call (as her status line promises).
//
// What the page exposes (the UI contract): document.body.dataset.session; in the stage
// [data-role="tiles"] one li.tile[data-testid="video-tile"][data-session] per member with
// data-audio/-video/-screen "on"|"off", .tile-name, muted-indicator, camera-off-indicator,
// local-video (own tile), remote-video[data-peer]; mute-button, camera-button, screen-button
// (aria-pressed), camera-select, mic-select, call-status. An init script wraps
// RTCPeerConnection to count connections and offers (window.__callProbe): that is how the
// tests tell a replaceTrack() from a renegotiation or a reconnection.
//
// Chromium flags used: --use-fake-device-for-media-stream=device-count=3,fps=10 (three fake
// cameras "fake_device_0/1/2", 640x480, and three fake microphones), --use-fake-ui-for-media-stream
// (every prompt accepted; getDisplayMedia() then captures a fake 1280x720 screen without any
// other flag), --deny-permission-prompts instead of it for Eve (getUserMedia() rejects with
// NotAllowedError), --autoplay-policy=no-user-gesture-required (remote videos have sound).
//
// Every wait is bounded (WAIT); timings go out as test diagnostics. Screenshots go to
// $NOOM_BUILDDIR/tests/browser/screenshots/ (or a fresh temporary folder), named call-*.png.
//
// Skipped, with the reason, when playwright-core or Chromium is missing.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { startStack } from '../lib/stack.js';
import { chromium, skip, CHROMIUM, BASE_ARGS, screenshotsDir, sleep, waitUntil } from '../lib/browser.js';

const WAIT = 20000;
const DESKTOP = { width: 1280, height: 800 };
const COMMON_ARGS = [
  ...BASE_ARGS,
  '--autoplay-policy=no-user-gesture-required',
  /* Several pages decode video at once; none of them may be throttled as "in the background". */
  '--disable-background-timer-throttling', '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',
  /* Three cameras, not two: fake_device_1 delivers Y16 frames, which Chromium previews but its
   * WebRTC encoder drops (the far side gets no frame at all); fake_device_0 (I420) and
   * fake_device_2 (MJPEG) are sent normally. The switch test goes from 0 to 2. 10 frames a
   * second instead of 20: a dozen encoders and decoders share two CPUs in CI. */
  '--use-fake-device-for-media-stream=device-count=3,fps=10',
];
const FAKE_MEDIA_ARGS = [...COMMON_ARGS, '--use-fake-ui-for-media-stream'];
const DENIED_ARGS = [...COMMON_ARGS, '--deny-permission-prompts'];

const seconds = (/** @type {number} */ ms) => `${(ms / 1000).toFixed(1)} s`;
const sorted = (/** @type {string[]} */ list) => [...list].sort();

/**
 * Polls `probe` until `ok(value)` holds; throws after `timeout` with the last value seen.
 * @template T
 * @param {string} what  for the error message
 * @param {() => Promise<T>} probe
 * @param {(value: T) => boolean} ok
 * @returns {Promise<{value: T, ms: number}>}
 */
const until = (what, probe, ok, timeout = WAIT) => waitUntil(what, probe, ok, timeout, 150);

// ---- in the page ---------------------------------------------------------------------------

/* Init script: counts RTCPeerConnections and offers (window.__callProbe), transparently. */
function probePeerConnections() {
  const Native = window.RTCPeerConnection;
  // @ts-ignore
  if (!Native || window.__callProbe) return;
  const probe = { created: 0, offers: 0, /** @type {RTCPeerConnection[]} */ pcs: [] };
  // @ts-ignore
  window.__callProbe = probe;
  window.RTCPeerConnection = class extends Native {
    /** @param {RTCConfiguration} [config] */
    constructor(config) {
      super(config);
      probe.created++;
      probe.pcs.push(this);
      this.addEventListener('signalingstatechange', () => {
        if (this.signalingState === 'have-local-offer' || this.signalingState === 'have-remote-offer') probe.offers++;
      });
    }
  };
}

/**
 * @typedef {{session: string|undefined, self: boolean, testid: string|null, name: string|null,
 *   audio: string|undefined, video: string|undefined, screen: string|undefined,
 *   mutedShown: boolean|null, cameraOffShown: boolean|null, remote: (string|undefined)[],
 *   local: number}} TileInfo
 */

/**
 * The grid as the page shows it.
 * @param {import('playwright-core').Page} page
 * @returns {Promise<TileInfo[]>}
 */
function gridOf(page) {
  return page.evaluate(() => {
    /** null: no such indicator; else whether it is shown (no hidden attribute). */
    const shown = (/** @type {Element} */ tile, /** @type {string} */ id) => {
      const node = tile.querySelector(`[data-testid="${id}"]`);
      return node ? !node.hasAttribute('hidden') : null;
    };
    return Array.from(document.querySelectorAll('[data-role="tiles"] > li.tile'), (li) => {
      const tile = /** @type {HTMLElement} */ (li);
      return {
        session: tile.dataset.session,
        self: tile.classList.contains('is-self'),
        testid: tile.getAttribute('data-testid'),
        name: tile.querySelector('.tile-name')?.textContent?.trim() ?? null,
        audio: tile.dataset.audio,
        video: tile.dataset.video,
        screen: tile.dataset.screen,
        mutedShown: shown(tile, 'muted-indicator'),
        cameraOffShown: shown(tile, 'camera-off-indicator'),
        remote: Array.from(tile.querySelectorAll('video[data-testid="remote-video"]'),
          (v) => /** @type {HTMLElement} */ (v).dataset.peer),
        local: tile.querySelectorAll('video[data-testid="local-video"]').length,
      };
    });
  });
}

/**
 * Every remote video of the page: who it shows and how it plays.
 * @param {import('playwright-core').Page} page
 */
function remoteVideos(page) {
  return page.evaluate(() => Array.from(
    document.querySelectorAll('[data-role="tiles"] video[data-testid="remote-video"]'), (node) => {
      const v = /** @type {HTMLVideoElement} */ (node);
      /* Mean brightness of the current picture (0 black … 255 white), on an 8x8 copy. */
      let luma = -1;
      if (v.videoWidth > 0) {
        const canvas = document.createElement('canvas');
        canvas.width = 8;
        canvas.height = 8;
        const ctx = canvas.getContext('2d', { willReadFrequently: true });
        if (ctx) {
          ctx.drawImage(v, 0, 0, 8, 8);
          const px = ctx.getImageData(0, 0, 8, 8).data;
          let sum = 0;
          for (let i = 0; i < px.length; i += 4) sum += 0.299 * px[i] + 0.587 * px[i + 1] + 0.114 * px[i + 2];
          luma = Math.round(sum / 64);
        }
      }
      return {
        peer: v.dataset.peer ?? '',
        width: v.videoWidth,
        height: v.videoHeight,
        time: v.currentTime,
        frames: v.getVideoPlaybackQuality().totalVideoFrames,
        paused: v.paused,
        autoplay: v.autoplay,
        playsInline: v.playsInline,
        luma,
      };
    }));
}

/**
 * The local stream's tracks, as the own tile's <video data-testid="local-video"> holds them.
 * @param {import('playwright-core').Page} page
 */
function localTracks(page) {
  return page.evaluate(() => {
    const v = /** @type {HTMLVideoElement|null} */ (document.querySelector('[data-role="tiles"] video[data-testid="local-video"]'));
    const stream = v?.srcObject instanceof MediaStream ? v.srcObject : null;
    if (!stream) return null;
    const info = (/** @type {MediaStreamTrack} */ t) => {
      const s = /** @type {MediaTrackSettings & {displaySurface?: string}} */ (t.getSettings());
      return {
        id: t.id, label: t.label, enabled: t.enabled, state: t.readyState,
        deviceId: s.deviceId ?? '', display: s.displaySurface ?? null, width: s.width ?? 0, height: s.height ?? 0,
      };
    };
    return { audio: stream.getAudioTracks().map(info), video: stream.getVideoTracks().map(info) };
  });
}

/**
 * What the page's RTCPeerConnections do (from the init script's probe).
 * @param {import('playwright-core').Page} page
 */
function connections(page) {
  return page.evaluate(() => {
    // @ts-ignore
    const probe = window.__callProbe;
    if (!probe) return { created: -1, offers: -1, open: [] };
    const open = /** @type {RTCPeerConnection[]} */ (probe.pcs).filter((pc) => pc.connectionState !== 'closed')
      .map((pc) => ({
        state: pc.connectionState,
        senders: pc.getSenders().filter((s) => s.track).map((s) => ({
          kind: s.track?.kind, label: s.track?.label, id: s.track?.id, state: s.track?.readyState,
        })),
      }));
    return { created: probe.created, offers: probe.offers, open };
  });
}

/**
 * Marks the remote video showing `peer` so that a later check can tell whether it is still the
 * same element; returns false when there is none.
 * @param {import('playwright-core').Page} page
 * @param {string} peer
 * @param {string} mark
 */
function markRemoteVideo(page, peer, mark) {
  return page.evaluate(([p, m]) => {
    const v = document.querySelector(`[data-role="tiles"] video[data-testid="remote-video"][data-peer="${p}"]`);
    // @ts-ignore
    if (v) v.__testMark = m;
    return !!v;
  }, [peer, mark]);
}

/**
 * @param {import('playwright-core').Page} page
 * @param {string} peer
 * @returns {Promise<string|null>}  the mark of the remote video showing `peer` now
 */
function remoteVideoMark(page, peer) {
  return page.evaluate((p) => {
    const v = document.querySelector(`[data-role="tiles"] video[data-testid="remote-video"][data-peer="${p}"]`);
    // @ts-ignore
    return v ? (v.__testMark ?? 'unmarked') : null;
  }, peer);
}

/** @param {import('playwright-core').Page} page */
function chatLines(page) {
  return page.evaluate(() => Array.from(
    document.querySelector('[data-testid="chat-log"]')?.children ?? [],
    (c) => c.textContent?.trim() ?? ''));
}

// ---- people --------------------------------------------------------------------------------

/**
 * @typedef {object} User
 * @property {string} name
 * @property {import('playwright-core').BrowserContext} context
 * @property {import('playwright-core').Page} page
 * @property {string} session  document.body.dataset.session once in the room
 */

/** Uncaught page errors (checked at the end) and console warnings/errors (diagnostics). */
const pageErrors = /** @type {string[]} */ ([]);
const consoleLines = /** @type {string[]} */ ([]);

/**
 * A new person: own browser context (own sessionStorage), desktop-sized, probe installed.
 * @param {import('playwright-core').Browser} browser
 * @param {string} name
 * @returns {Promise<User>}
 */
async function newUser(browser, name) {
  const context = await browser.newContext({ viewport: DESKTOP });
  context.setDefaultTimeout(WAIT);
  context.setDefaultNavigationTimeout(WAIT);
  await context.addInitScript(probePeerConnections);
  const page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(`${name}: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' || msg.type() === 'warning') consoleLines.push(`${name} ${msg.type()}: ${msg.text()}`);
  });
  return { name, context, page, session: '' };
}

/**
 * Joins `room` from the home page (name field, room field, Join, then the pre-join screen's
 * Join) and waits for the own tile.
 * @param {User} user
 * @param {string} baseUrl
 * @param {string} room
 */
async function joinThroughHome(user, baseUrl, room) {
  const { page } = user;
  await page.goto(baseUrl);
  const nickname = page.getByTestId('nickname-input');
  await nickname.waitFor({ state: 'visible' });
  await nickname.fill(user.name);
  await nickname.press('Enter');
  await page.getByTestId('room-input').fill(room);
  await page.getByTestId('join-button').click();
  /* The pre-join screen: its camera preview is the stream the call sends. */
  await page.getByTestId('prejoin-join').click();
  const { value } = await until(`${user.name}'s own tile after joining`, async () => {
    const session = await page.evaluate(() => document.body.dataset.session ?? '');
    const own = (await gridOf(page)).filter((t) => t.self);
    return { session, own: own.map((t) => t.session) };
  }, (v) => /^\d+$/.test(v.session) && v.own.length === 1 && v.own[0] === v.session);
  user.session = value.session;
}

/**
 * Waits until the page's remote videos show exactly `peers` (session ids), each playing:
 * a picture (videoWidth > 0), new frames and currentTime advancing over one second.
 * @param {User} user
 * @param {string[]} peers
 * @param {number} [timeout]
 * @returns {Promise<{ms: number, videos: Awaited<ReturnType<typeof remoteVideos>>}>}
 */
async function waitPlaying(user, peers, timeout = WAIT) {
  const start = Date.now();
  let last = /** @type {any} */ (null);
  for (;;) {
    const before = await remoteVideos(user.page);
    await sleep(1000);
    const now = await remoteVideos(user.page);
    const byPeer = new Map(before.map((v) => [v.peer, v]));
    const playing = now.every((v) => {
      const b = byPeer.get(v.peer);
      return !!b && v.width > 0 && !v.paused && v.time - b.time > 0.3 && v.frames > b.frames;
    });
    const same = JSON.stringify(sorted(now.map((v) => v.peer))) === JSON.stringify(sorted(peers));
    if (same && playing) return { ms: Date.now() - start, videos: now };
    last = { before, now };
    if (Date.now() - start > timeout) {
      throw new Error(`${user.name}: remote videos of ${JSON.stringify(sorted(peers))} not all playing ` +
        `within ${seconds(timeout)}; seen ${JSON.stringify(last)}; grid ${JSON.stringify(await gridOf(user.page))}`);
    }
  }
}

/**
 * Waits until `viewer` shows `member`'s tile with these attribute values.
 * @param {User} viewer
 * @param {User} member
 * @param {Partial<TileInfo>} want
 */
async function waitTile(viewer, member, want) {
  return until(`${viewer.name} sees ${member.name}'s tile with ${JSON.stringify(want)}`,
    async () => (await gridOf(viewer.page)).find((t) => t.session === member.session) ?? null,
    (tile) => !!tile && Object.entries(want).every(([k, v]) => JSON.stringify(tile[/** @type {keyof TileInfo} */ (k)]) === JSON.stringify(v)));
}

/**
 * Waits until `viewer` has no tile and no remote video of `member`.
 * @param {User} viewer
 * @param {User} member
 */
async function waitGone(viewer, member) {
  return until(`${member.name} gone from ${viewer.name}'s grid`, () => gridOf(viewer.page),
    (grid) => grid.every((t) => t.session !== member.session && !t.remote.includes(member.session)));
}

/**
 * @param {User} user
 * @param {string} testid
 * @param {'true'|'false'} value
 */
async function waitPressed(user, testid, value) {
  return until(`${user.name}'s ${testid} aria-pressed="${value}"`,
    () => user.page.getByTestId(testid).getAttribute('aria-pressed'), (v) => v === value);
}

/**
 * Sends a chat message with Enter and waits until the input is empty again.
 * @param {User} user
 * @param {string} text
 */
async function say(user, text) {
  const input = user.page.getByTestId('chat-input');
  await input.fill(text);
  await input.press('Enter');
  await until(`${user.name}'s chat input emptied after sending`, () => input.inputValue(), (v) => v === '');
}

/**
 * Waits until a chat-log line of `user` contains `text`.
 * @param {User} user
 * @param {string} text
 */
async function waitChat(user, text) {
  return until(`${user.name}'s chat log shows "${text}"`, () => chatLines(user.page),
    (lines) => lines.some((l) => l.includes(text)));
}

/**
 * The call-status line: whether it is shown, and its text.
 * @param {User} user
 */
async function callStatus(user) {
  const node = user.page.getByTestId('call-status');
  const count = await node.count();
  if (count !== 1) return { count, visible: false, text: '' };
  return { count, visible: await node.isVisible(), text: (await node.textContent())?.trim() ?? '' };
}

/** @param {User} user */
async function closeUser(user) {
  if (!user) return;
  await user.context.close().catch(() => {});
}

// ---- the scenarios -----------------------------------------------------------------------

describe('browser: video call', { skip }, () => {
  /** @type {Awaited<ReturnType<typeof startStack>>} */
  let stack;
  /** @type {import('playwright-core').Browser} */
  let browser;
  /** @type {import('playwright-core').Browser|null} */
  let deniedBrowser = null;
  /** @type {Record<string, User>} */
  const users = {};
  const ROOM = 'Weekly sync';

  before(async () => {
    stack = await startStack({ sfu: true });
    browser = await /** @type {NonNullable<typeof chromium>} */ (chromium).launch({
      executablePath: CHROMIUM, headless: true, args: FAKE_MEDIA_ARGS, timeout: WAIT,
    });
  });

  after(async () => {
    for (const user of Object.values(users)) await closeUser(user);
    await deniedBrowser?.close().catch(() => {});
    await browser?.close().catch(() => {});
    await stack?.stop();
  });

  it('three people join through the home page and see each other live', { timeout: 90000 }, async (t) => {
    const start = Date.now();
    /* They arrive together, as people do at the top of the hour. */
    await Promise.all(['Ann', 'Bob', 'Cleo'].map(async (name) => {
      users[name] = await newUser(browser, name);
      await joinThroughHome(users[name], stack.baseUrl, ROOM);
    }));
    const { Ann, Bob, Cleo } = users;
    const all = [Ann, Bob, Cleo];
    t.diagnostic(`three joined in ${seconds(Date.now() - start)}; sessions ${all.map((u) => `${u.name}=${u.session}`).join(' ')}`);
    assert.equal(new Set(all.map((u) => u.session)).size, 3, 'three different sessions');

    for (const user of all) {
      /* One tile per member; the own one marked, with the local video (once the camera is open)
       * and "(you)". */
      const { value: grid } = await until(`${user.name}'s grid has the three members and the local video`, () => gridOf(user.page),
        (g) => JSON.stringify(sorted(g.map((x) => x.session ?? ''))) === JSON.stringify(sorted(all.map((u) => u.session))) &&
          g.some((x) => x.self && x.local > 0));
      for (const tile of grid) {
        const member = all.find((u) => u.session === tile.session);
        assert.ok(member);
        assert.equal(tile.testid, 'video-tile');
        assert.equal(tile.self, member === user, `${user.name}: is-self on ${member.name}'s tile`);
        if (member === user) {
          assert.ok(tile.name?.endsWith(' (you)') && tile.name.startsWith(user.name), `own name label: ${tile.name}`);
          assert.equal(tile.local, 1, `${user.name}'s own tile has one local-video`);
        } else {
          assert.equal(tile.name, member.name, `${user.name} labels ${member.name}'s tile`);
          assert.equal(tile.local, 0);
        }
        /* Everyone starts with microphone and camera on. */
        assert.deepEqual([tile.audio, tile.video, tile.screen], ['on', 'on', 'off'], `${user.name} on ${member.name}'s tile`);
        assert.equal(tile.mutedShown, false, `${user.name}: muted indicator hidden on ${member.name}'s tile`);
        assert.equal(tile.cameraOffShown, false, `${user.name}: camera-off indicator hidden on ${member.name}'s tile`);
      }
      const { value: local } = await until(`${user.name}'s local-video shows camera and microphone`, () => localTracks(user.page),
        (l) => !!l && l.audio.length > 0 && l.video.length > 0);
      assert.ok(local);
      assert.equal(local.audio.length, 1, `${user.name}: the local stream has the microphone`);
      assert.equal(local.video.length, 1, `${user.name}: the local stream has the camera`);
      assert.ok([...local.audio, ...local.video].every((tr) => tr.state === 'live' && tr.enabled));
      for (const [button, pressed] of [['mute-button', 'false'], ['camera-button', 'false'], ['screen-button', 'false']]) {
        assert.equal(await user.page.getByTestId(button).getAttribute('aria-pressed'), pressed, `${user.name}: ${button}`);
      }
      const status = await callStatus(user);
      assert.equal(status.count, 1, 'there is a call-status line');
      assert.equal(status.visible, false, `${user.name}: call-status hidden in a working call (shows "${status.text}")`);
    }

    /* Everyone plays the two others, each in the tile of the right member. */
    await Promise.all(all.map(async (user) => {
      const others = all.filter((u) => u !== user);
      const { ms, videos } = await waitPlaying(user, others.map((u) => u.session));
      t.diagnostic(`${user.name} plays ${others.map((u) => u.name).join(' and ')} ` +
        `${seconds(Date.now() - start)} after the first page load (${seconds(ms)} for this check): ` +
        videos.map((v) => `${v.peer} ${v.width}x${v.height} luma ${v.luma}`).join(', '));
      for (const v of videos) {
        assert.ok(v.luma > 20, `${user.name}: video of ${v.peer} is not black (luma ${v.luma})`);
        assert.ok(v.autoplay && v.playsInline, `${user.name}: video of ${v.peer} has autoplay and playsinline`);
      }
      const grid = await gridOf(user.page);
      for (const other of others) {
        assert.deepEqual(grid.find((x) => x.session === other.session)?.remote, [other.session],
          `${user.name}: ${other.name}'s remote video is in ${other.name}'s tile`);
      }
    }));

    /* Let the last frames settle, then keep a picture of the call. */
    await sleep(500);
    const file = path.join(screenshotsDir(), 'call-3-people.png');
    await Ann.page.screenshot({ path: file });
    t.diagnostic(`screenshot ${file}`);
  });

  it('mute and camera off disable the local tracks and show on the others\' tiles', { timeout: 90000 }, async (t) => {
    const { Ann, Bob, Cleo } = users;
    /** @param {'audio'|'video'} kind */
    const enabled = async (kind) => (await localTracks(Ann.page))?.[kind].map((tr) => tr.enabled);

    for (const [button, kind, indicator] of /** @type {const} */ ([
      ['mute-button', 'audio', 'mutedShown'], ['camera-button', 'video', 'cameraOffShown'],
    ])) {
      const otherIndicator = indicator === 'mutedShown' ? 'cameraOffShown' : 'mutedShown';
      for (const [state, pressed] of /** @type {const} */ ([['off', 'true'], ['on', 'false']])) {
        const clicked = Date.now();
        await Ann.page.getByTestId(button).click();
        await waitPressed(Ann, button, pressed);
        await until(`Ann's local ${kind} track enabled=${state === 'on'}`, () => enabled(kind),
          (list) => !!list && list.length === 1 && list[0] === (state === 'on'));
        const want = { [kind]: state, [indicator]: state === 'off', [otherIndicator]: false };
        await waitTile(Ann, Ann, want);
        const seen = [];
        for (const viewer of [Bob, Cleo]) {
          await waitTile(viewer, Ann, want);
          seen.push(`${viewer.name} ${seconds(Date.now() - clicked)}`);
        }
        t.diagnostic(`${button} → ${kind} ${state}: seen by ${seen.join(', ')} after the click`);
      }
    }
    /* And the call went on. */
    await waitPlaying(Bob, [Ann.session, Cleo.session]);
  });

  it('switching camera and microphone replaces the tracks without reconnecting', { timeout: 90000 }, async (t) => {
    const { Ann, Bob, Cleo } = users;
    const viewers = [Bob, Cleo];
    const cameraSelect = Ann.page.getByTestId('camera-select');
    const micSelect = Ann.page.getByTestId('mic-select');
    const cameraOptions = await cameraSelect.locator('option').evaluateAll((os) => os.map((o) => ({
      value: /** @type {HTMLOptionElement} */ (o).value, text: o.textContent ?? '' })));
    const cameras = cameraOptions.map((o) => o.value);
    const mics = await micSelect.locator('option').evaluateAll((os) => os.map((o) => /** @type {HTMLOptionElement} */ (o).value));
    t.diagnostic(`camera-select: ${cameras.length} options, mic-select: ${mics.length} options`);
    /* One option per device, its value the deviceId. */
    const devices = await Ann.page.evaluate(async () => (await navigator.mediaDevices.enumerateDevices())
      .map((d) => ({ kind: d.kind, id: d.deviceId })));
    assert.deepEqual(sorted(cameras), sorted(devices.filter((d) => d.kind === 'videoinput').map((d) => d.id)), 'camera-select: the cameras');
    assert.deepEqual(sorted(mics), sorted(devices.filter((d) => d.kind === 'audioinput').map((d) => d.id)), 'mic-select: the microphones');
    assert.equal(cameras.length, 3, 'Chromium offers three fake cameras (device-count=3): one option each');
    assert.ok(mics.length >= 2, 'several fake microphones, one option each');

    /* What must not change: connections, offers, the <video> elements, join notices. */
    const before = {};
    for (const user of [Ann, ...viewers]) {
      const c = await connections(user.page);
      before[user.name] = { created: c.created, offers: c.offers };
    }
    for (const viewer of viewers) assert.ok(await markRemoteVideo(viewer.page, Ann.session, 'before-switch'));
    const joinedNotices = async (/** @type {User} */ u) => (await chatLines(u.page)).filter((l) => / joined$/.test(l)).length;
    const noticesBefore = await Promise.all(viewers.map(joinedNotices));

    /* The camera. */
    const local0 = await localTracks(Ann.page);
    const oldCamera = local0?.video[0];
    assert.ok(oldCamera);
    assert.equal(await cameraSelect.inputValue(), oldCamera.deviceId, 'camera-select shows the camera in use');
    /* fake_device_2: see COMMON_ARGS for why not fake_device_1. */
    const otherCamera = cameraOptions.find((o) => o.text.includes('fake_device_2') && o.value !== oldCamera.deviceId)?.value ??
      cameras.find((id) => id !== oldCamera.deviceId);
    assert.ok(otherCamera);
    let clicked = Date.now();
    await cameraSelect.selectOption(otherCamera);
    const { value: switched } = await until('Ann\'s local video track comes from the other camera', () => localTracks(Ann.page),
      (l) => l?.video.length === 1 && l.video[0].deviceId === otherCamera && l.video[0].state === 'live');
    const newCamera = switched?.video[0];
    assert.ok(newCamera && newCamera.label !== oldCamera.label, `a different camera (${oldCamera.label} → ${newCamera?.label})`);
    await until('every connection of Ann sends the new camera', () => connections(Ann.page),
      (c) => c.open.length === 2 && c.open.every((pc) => pc.senders.some((s) => s.kind === 'video' && s.id === newCamera.id)));
    t.diagnostic(`camera switched (${oldCamera.label} → ${newCamera.label}) and sent in ${seconds(Date.now() - clicked)}`);

    /* The microphone. */
    const oldMic = switched?.audio[0];
    assert.ok(oldMic);
    const otherMic = mics.find((id) => id !== oldMic.deviceId && id !== 'default' && id !== 'communications') ??
      mics.find((id) => id !== oldMic.deviceId);
    assert.ok(otherMic);
    clicked = Date.now();
    await micSelect.selectOption(otherMic);
    const { value: switchedMic } = await until('Ann\'s local audio track comes from the other microphone', () => localTracks(Ann.page),
      (l) => l?.audio.length === 1 && l.audio[0].deviceId === otherMic && l.audio[0].state === 'live');
    const newMic = switchedMic?.audio[0];
    assert.ok(newMic);
    await until('every connection of Ann sends the new microphone', () => connections(Ann.page),
      (c) => c.open.length === 2 && c.open.every((pc) => pc.senders.some((s) => s.kind === 'audio' && s.id === newMic.id)));
    t.diagnostic(`microphone switched (${oldMic.label} → ${newMic.label}) and sent in ${seconds(Date.now() - clicked)}`);

    /* Ann's video keeps playing for both, in the same element; nobody reconnected. */
    for (const viewer of viewers) {
      await waitPlaying(viewer, [Ann, ...viewers].filter((u) => u !== viewer).map((u) => u.session));
      assert.equal(await remoteVideoMark(viewer.page, Ann.session), 'before-switch',
        `${viewer.name} still shows Ann in the same <video> element`);
    }
    for (const user of [Ann, ...viewers]) {
      const c = await connections(user.page);
      assert.equal(c.created, before[user.name].created, `${user.name}: no new RTCPeerConnection`);
      assert.equal(c.offers, before[user.name].offers, `${user.name}: no renegotiation (replaceTrack only)`);
      assert.ok(c.open.every((pc) => pc.state === 'connected'), `${user.name}: connections stay up: ${JSON.stringify(c.open.map((pc) => pc.state))}`);
    }
    assert.deepEqual(await Promise.all(viewers.map(joinedNotices)), noticesBefore, 'nobody re-joined');
    assert.equal(await cameraSelect.inputValue(), otherCamera);
    assert.equal(await micSelect.inputValue(), otherMic);
  });

  it('screen sharing replaces the camera; stopping it (button or browser) restores the camera', { timeout: 90000 }, async (t) => {
    const { Ann, Bob, Cleo } = users;
    const viewers = [Bob, Cleo];
    const screenButton = Ann.page.getByTestId('screen-button');
    const camera = (await localTracks(Ann.page))?.video[0];
    assert.ok(camera && camera.display === null, 'Ann sends her camera before sharing');
    const created = (await connections(Ann.page)).created;
    for (const viewer of viewers) assert.ok(await markRemoteVideo(viewer.page, Ann.session, 'before-share'));
    /** The shape of Ann's picture on Bob's page. */
    const annOnBob = async () => (await remoteVideos(Bob.page)).find((v) => v.peer === Ann.session);
    const cameraAspect = camera.width / camera.height;
    /* Bob's picture of Ann changes shape with the screen when the camera is not wide itself. */
    const shapes = cameraAspect < 1.4;
    if (!shapes) t.diagnostic(`the camera sends ${camera.width}x${camera.height}: no shape check`);

    /** Starts sharing and checks everything that follows. */
    const share = async () => {
      const clicked = Date.now();
      await screenButton.click();
      await waitPressed(Ann, 'screen-button', 'true');
      const { value } = await until('Ann\'s local-video shows the screen', () => localTracks(Ann.page),
        (l) => l?.video.length === 1 && l.video[0].display !== null && l.video[0].state === 'live');
      const display = value?.video[0];
      assert.ok(display);
      /* Kept, to see later whether the capture was stopped. */
      await Ann.page.evaluate(() => {
        const v = /** @type {HTMLVideoElement} */ (document.querySelector('[data-role="tiles"] video[data-testid="local-video"]'));
        // @ts-ignore
        window.__testDisplay = /** @type {MediaStream} */ (v.srcObject).getVideoTracks()[0];
      });
      await until('every connection of Ann sends the screen', () => connections(Ann.page),
        (c) => c.open.length === 2 && c.open.every((pc) => pc.senders.some((s) => s.kind === 'video' && s.id === display.id)));
      for (const viewer of viewers) await waitTile(viewer, Ann, { screen: 'on' });
      await waitTile(Ann, Ann, { screen: 'on' });
      t.diagnostic(`sharing ${display.label} (${display.width}x${display.height}); the others see it ${seconds(Date.now() - clicked)} after the click`);
      if (shapes) {
        /* The fake screen is wide (16:9; its settings say 16:10 at times). */
        const { value: v, ms } = await until('Bob receives Ann\'s screen (a wide picture, not the camera)', annOnBob,
          (x) => !!x && x.height > 0 && x.width / x.height > 1.5);
        t.diagnostic(`Bob gets ${v?.width}x${v?.height} after ${seconds(ms)} more`);
      }
      await waitPlaying(Bob, [Ann.session, Cleo.session]);
      await waitPlaying(Cleo, [Ann.session, Bob.session]);
    };

    /** Checks that the camera is back everywhere, after sharing stopped. */
    const cameraBack = async (/** @type {string} */ how) => {
      const stopped = Date.now();
      await waitPressed(Ann, 'screen-button', 'false');
      const { value } = await until(`Ann's local-video shows the camera again (${how})`, () => localTracks(Ann.page),
        (l) => l?.video.length === 1 && l.video[0].display === null && l.video[0].state === 'live' && l.video[0].deviceId === camera.deviceId);
      const back = value?.video[0];
      assert.ok(back);
      await until(`every connection of Ann sends the camera again (${how})`, () => connections(Ann.page),
        (c) => c.open.length === 2 && c.open.every((pc) => pc.senders.some((s) => s.kind === 'video' && s.id === back.id)));
      for (const viewer of viewers) await waitTile(viewer, Ann, { screen: 'off' });
      await waitTile(Ann, Ann, { screen: 'off' });
      /* The capture itself is over (the browser's "sharing" indicator goes away). */
      // @ts-ignore
      assert.equal(await Ann.page.evaluate(() => window.__testDisplay?.readyState), 'ended', `the screen capture is stopped (${how})`);
      if (shapes) {
        await until(`Bob receives Ann's camera again (${how})`, annOnBob,
          (x) => !!x && x.height > 0 && Math.abs(x.width / x.height - cameraAspect) < 0.05);
      }
      const { videos } = await waitPlaying(Bob, [Ann.session, Cleo.session]);
      const v = videos.find((x) => x.peer === Ann.session);
      t.diagnostic(`camera back after ${how} in ${seconds(Date.now() - stopped)} (Bob gets ${v?.width}x${v?.height})`);
    };

    /* Share, stop with the button. */
    await share();
    await screenButton.click();
    await cameraBack('the button');

    /* Share, then the browser's own "Stop sharing": the track ends (stop() fires no 'ended'
     * event, so the test fires it as the browser would). */
    await share();
    await Ann.page.evaluate(() => {
      const v = /** @type {HTMLVideoElement} */ (document.querySelector('[data-role="tiles"] video[data-testid="local-video"]'));
      const track = /** @type {MediaStream} */ (v.srcObject).getVideoTracks()[0];
      track.stop();
      track.dispatchEvent(new Event('ended'));
    });
    await cameraBack('the track ended');

    assert.equal((await connections(Ann.page)).created, created, 'sharing made no new connection');
    for (const viewer of viewers) {
      assert.equal(await remoteVideoMark(viewer.page, Ann.session), 'before-share', `${viewer.name} kept Ann's <video> element`);
    }
  });

  it('a newcomer connects to everyone; leaving or closing the tab removes the tile', { timeout: 90000 }, async (t) => {
    const { Ann, Bob, Cleo } = users;
    const start = Date.now();
    const Dan = users.Dan = await newUser(browser, 'Dan');
    await joinThroughHome(Dan, stack.baseUrl, ROOM);
    const four = [Ann, Bob, Cleo, Dan];
    const { ms } = await waitPlaying(Dan, [Ann.session, Bob.session, Cleo.session]);
    t.diagnostic(`Dan plays the three others ${seconds(Date.now() - start)} after loading the home page (${seconds(ms)} for the check)`);
    await Promise.all([Ann, Bob, Cleo].map(async (user) => {
      await waitPlaying(user, four.filter((u) => u !== user).map((u) => u.session));
      await waitTile(user, Dan, { name: 'Dan', remote: [Dan.session] });
    }));
    t.diagnostic(`everyone plays Dan ${seconds(Date.now() - start)} after he came`);

    /* Ann leaves with the button. */
    let left = Date.now();
    await Ann.page.getByTestId('leave-button').click();
    await Ann.page.getByTestId('nickname-input').waitFor({ state: 'visible' });
    for (const viewer of [Bob, Cleo, Dan]) await waitGone(viewer, Ann);
    t.diagnostic(`Ann's tile gone everywhere ${seconds(Date.now() - left)} after she left`);
    assert.equal((await connections(Ann.page)).open.length, 0, 'Ann closed her connections');
    await closeUser(Ann);

    /* Dan closes his tab (pagehide: the page leaves the room). */
    left = Date.now();
    await Dan.page.close({ runBeforeUnload: true });
    for (const viewer of [Bob, Cleo]) await waitGone(viewer, Dan);
    t.diagnostic(`Dan's tile gone everywhere ${seconds(Date.now() - left)} after he closed the tab`);
    await closeUser(Dan);
    /* Bob and Cleo go on. */
    await Promise.all([waitPlaying(Bob, [Cleo.session]), waitPlaying(Cleo, [Bob.session])]);
  });

  it('without camera permission: status line, chat and the others\' videos (receive-only)', { timeout: 90000 }, async (t) => {
    const { Bob, Cleo } = users;
    deniedBrowser = await /** @type {NonNullable<typeof chromium>} */ (chromium).launch({
      executablePath: CHROMIUM, headless: true, args: DENIED_ARGS, timeout: WAIT,
    });
    const start = Date.now();
    const Eve = users.Eve = await newUser(deniedBrowser, 'Eve');
    await joinThroughHome(Eve, stack.baseUrl, ROOM);

    const { value: status } = await until('Eve sees call-status', () => callStatus(Eve), (s) => s.visible && s.text !== '');
    t.diagnostic(`Eve's call-status: "${status.text}"`);
    assert.match(status.text, /camera|microphone/i, 'the status line says what is missing');

    const { ms } = await waitPlaying(Eve, [Bob.session, Cleo.session]);
    t.diagnostic(`Eve plays Bob and Cleo ${seconds(Date.now() - start)} after loading the home page (${seconds(ms)} for the check)`);
    const eveTile = (await gridOf(Eve.page)).find((x) => x.self);
    assert.ok(eveTile, 'Eve has her own tile');

    /* The others see her, muted and camera off (she sends nothing), and she sends no track. */
    for (const viewer of [Bob, Cleo]) {
      await waitTile(viewer, Eve, { name: 'Eve', audio: 'off', video: 'off', mutedShown: true, cameraOffShown: true });
    }
    const c = await connections(Eve.page);
    assert.equal(c.open.length, 2, 'Eve is connected to Bob and Cleo');
    assert.deepEqual(c.open.flatMap((pc) => pc.senders), [], 'Eve sends no track');

    await say(Eve, 'I can only type today');
    await waitChat(Bob, 'I can only type today');
    await say(Bob, 'We can see you typing, Eve');
    await waitChat(Eve, 'We can see you typing, Eve');

    const file = path.join(screenshotsDir(), 'call-no-camera.png');
    await Eve.page.screenshot({ path: file });
    t.diagnostic(`screenshot ${file}`);
    for (const user of [Bob, Cleo, Eve]) await closeUser(user);
  });

  it('above --mesh-max the newcomer is chat-only but chats both ways', { timeout: 90000 }, async (t) => {
    const small = await startStack({ workerArgs: ['--mesh-max', '2'] });
    /** @type {User[]} */
    const people = [];
    try {
      const start = Date.now();
      for (const name of ['Finn', 'Gus', 'Hana']) {
        const user = await newUser(browser, name);
        people.push(user);
        await joinThroughHome(user, small.baseUrl, 'Full house');
      }
      const [Finn, Gus, Hana] = people;
      const { value: status } = await until('Hana sees call-status', () => callStatus(Hana), (s) => s.visible && s.text !== '');
      t.diagnostic(`Hana's call-status: "${status.text}" (${seconds(Date.now() - start)} after the first join)`);

      /* The first two are in a call with each other, without a status line. */
      await Promise.all([waitPlaying(Finn, [Gus.session]), waitPlaying(Gus, [Finn.session])]);
      for (const user of [Finn, Gus]) {
        const s = await callStatus(user);
        assert.equal(s.visible, false, `${user.name}: call-status hidden (shows "${s.text}")`);
        /* Hana still has a tile (she is a member), without video. */
        await waitTile(user, Hana, { name: 'Hana', remote: [] });
      }
      /* Hana has no video of anyone and no connection. */
      const remote = await remoteVideos(Hana.page);
      assert.deepEqual(remote.map((v) => v.peer), [], 'Hana has no remote video');
      t.diagnostic(`Hana made ${(await connections(Hana.page)).created} RTCPeerConnection(s)`);
      assert.equal((await gridOf(Hana.page)).length, 3, 'Hana sees the three members');

      await say(Hana, 'I am in the chat only');
      await waitChat(Finn, 'I am in the chat only');
      await waitChat(Gus, 'I am in the chat only');
      await say(Finn, 'Welcome, Hana');
      await waitChat(Hana, 'Welcome, Hana');

      const file = path.join(screenshotsDir(), 'call-chat-only.png');
      await Hana.page.screenshot({ path: file });
      t.diagnostic(`screenshot ${file}`);

      /* Her status line promises that she joins the call when a seat frees up: Finn leaves. */
      const left = Date.now();
      await Finn.page.getByTestId('leave-button').click();
      await waitGone(Gus, Finn);
      await waitGone(Hana, Finn);
      await until('Hana\'s call-status hidden once she is in the call', () => callStatus(Hana), (s) => !s.visible);
      await Promise.all([waitPlaying(Hana, [Gus.session]), waitPlaying(Gus, [Hana.session])]);
      t.diagnostic(`Hana is in the call with Gus ${seconds(Date.now() - left)} after Finn left`);
    } finally {
      for (const user of people) await closeUser(user);
      await small.stop();
    }
  });

  it('no page raised an uncaught error', (t) => {
    t.diagnostic(`screenshots in ${screenshotsDir()}`);
    for (const line of consoleLines.slice(0, 40)) t.diagnostic(`console ${line}`);
    assert.deepEqual(pageErrors, []);
  });
});
