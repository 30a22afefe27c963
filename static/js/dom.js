// Small DOM helpers shared by the UI modules.
//
// User text (nicknames, room names, messages) only ever enters the page through textContent:
// el() takes it as `text`, and nothing in the UI assigns innerHTML.

/**
 * @typedef {object} ElOptions
 * @property {string} [className]
 * @property {string} [text]  set with textContent
 * @property {Record<string, string>} [attrs]
 * @property {Record<string, string>} [data]  data-* attributes
 */

/**
 * Creates an element.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {ElOptions} [opts]
 * @param {(Node|string|null|undefined|false)[]} [children]  strings become text nodes
 * @returns {HTMLElementTagNameMap[K]}
 */
export function el(tag, opts = {}, children = []) {
  const node = document.createElement(tag);
  if (opts.className) node.className = opts.className;
  if (opts.text !== undefined) node.textContent = opts.text;
  for (const [k, v] of Object.entries(opts.attrs || {})) node.setAttribute(k, v);
  for (const [k, v] of Object.entries(opts.data || {})) node.dataset[k] = v;
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return node;
}

/**
 * The element with data-role="role" inside root; throws if the shell lacks it.
 * @param {ParentNode} root
 * @param {string} role
 * @returns {HTMLElement}
 */
export function role(root, role) {
  const node = root.querySelector(`[data-role="${role}"]`);
  if (!node) throw new Error(`noom: missing [data-role="${role}"] in the page`);
  return /** @type {HTMLElement} */ (node);
}

/**
 * The element with data-testid="id" inside root; throws if the shell lacks it.
 * @param {ParentNode} root
 * @param {string} id
 * @returns {HTMLElement}
 */
export function testid(root, id) {
  const node = root.querySelector(`[data-testid="${id}"]`);
  if (!node) throw new Error(`noom: missing [data-testid="${id}"] in the page`);
  return /** @type {HTMLElement} */ (node);
}

/**
 * "10:42" in the user's locale.
 * @param {number} ts  milliseconds since the epoch
 */
export function formatTime(ts) {
  return TIME_FORMAT.format(ts);
}
/* Made once, when the page loads: the first one costs the browser tens of ms (its locale data),
 * which would otherwise fall on the first chat line, drawn when a call is starting. */
const TIME_FORMAT = new Intl.DateTimeFormat([], { hour: '2-digit', minute: '2-digit' });

/**
 * "1 person", "3 people".
 * @param {number} n
 */
export function people(n) {
  return `${n} ${n === 1 ? 'person' : 'people'}`;
}

/**
 * Up to two initials for an avatar ("Ann Lee" → "AL").
 * @param {string} name
 */
export function initials(name) {
  const parts = name.trim().split(/\s+/u).filter(Boolean);
  const first = (/** @type {string} */ s) => Array.from(s)[0] ?? '';
  if (parts.length === 0) return '?';
  if (parts.length === 1) return first(parts[0]).toUpperCase();
  return (first(parts[0]) + first(parts[parts.length - 1])).toUpperCase();
}

/**
 * A stable hue (0–359) for a session, so each person keeps one avatar color.
 * @param {number} session
 */
export function hue(session) {
  return (Math.imul(session ^ 0x5bd1e995, 2654435761) >>> 0) % 360;
}

/**
 * Shows or hides an error paragraph.
 * @param {HTMLElement} node
 * @param {string} [message]  empty or missing hides it
 */
export function showError(node, message) {
  node.textContent = message || '';
  node.hidden = !message;
}

/**
 * A round avatar with a member's initials, in the member's color.
 * @param {number} session
 * @param {string} nickname
 * @param {string} size  avatar-small | avatar-large
 */
export function avatar(session, nickname, size) {
  const node = el('span', {
    className: `avatar ${size}`,
    text: initials(nickname),
    attrs: { 'aria-hidden': 'true' },
  });
  /* Through CSSOM rather than a style attribute, so a strict CSP allows it. */
  node.style.setProperty('--avatar-hue', String(hue(session)));
  return node;
}

const SVG = 'http://www.w3.org/2000/svg';

/* The raised-hand icon (tiles, people list). */
export const HAND_ICON = 'M13 24c-3.26 0-6.19-1.99-7.4-5.02l-3.03-7.61c-.31-.79.43-1.58 1.24-1.32l.79.26c.56.18 1.02.61 1.24 1.16L7.25 15H8V3.25C8 2.56 8.56 2 9.25 2s1.25.56 1.25 1.25V12h1V1.25c0-.69.56-1.25 1.25-1.25S14 .56 14 1.25V12h1V2.75c0-.69.56-1.25 1.25-1.25s1.25.56 1.25 1.25V12h1V5.75c0-.69.56-1.25 1.25-1.25S21 5.06 21 5.75V16c0 4.42-3.58 8-8 8z';

/**
 * A one-path icon in the current text color, hidden from screen readers.
 * @param {string} d  path data (24×24 box)
 * @param {number} [size]  pixels
 */
export function icon(d, size = 14) {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('width', String(size));
  svg.setAttribute('height', String(size));
  svg.setAttribute('aria-hidden', 'true');
  const path = document.createElementNS(SVG, 'path');
  path.setAttribute('fill', 'currentColor');
  path.setAttribute('d', d);
  svg.append(path);
  return svg;
}

/* Drawing that waits for a call's signals waits this long at most. */
const SIGNALS_FIRST_MS = 100;

/**
 * Runs `fn` once the tasks queued now have run (a socket's frames, a connection's ICE
 * candidate events): a background-priority task, or after SIGNALS_FIRST_MS at the latest, so
 * that a busy page still draws. For drawing that a call starting or answering should not wait
 * for.
 * @param {() => void} fn
 */
export function afterSignals(fn) {
  let done = false;
  const run = () => {
    if (done) return;
    done = true;
    fn();
  };
  const timer = setTimeout(run, SIGNALS_FIRST_MS);
  /** @type {{postTask?: (f: () => void, o: {priority: string}) => Promise<void>}|undefined} */
  const scheduler = /** @type {any} */ (globalThis).scheduler;
  if (scheduler?.postTask) {
    scheduler.postTask(() => { clearTimeout(timer); run(); }, { priority: 'background' }).catch(() => {});
  }
}
