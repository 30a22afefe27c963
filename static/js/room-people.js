// The people panel of the room page: the member list and the people count beside its title.
// The list shows raised hands first, in the order they went up (the queue, each with its
// position), then oneself, then the others in join order: the first MEMBER_LIST_MAX of them
// and "and N more". A host's entry carries a "Host" badge; a host sees, in every other
// member's entry, buttons to ask them to mute, to make them a host and to remove them, and to
// lower a raised hand (the server decides; the page only offers what a host may ask). Every
// other member's entry has a button to message them privately. It reads the roster
// (roster.js); user text goes in as text.

import { el, role, avatar, icon, HAND_ICON } from './dom.js';

/**
 * @typedef {import('./roster.js').Roster} Roster
 * @typedef {'mute'|'host'|'remove'|'lower'|'message'} MemberAction  lower: a host lowers
 *   the member's hand; message: write to the member privately
 */

/** The buttons of a member's entry, for hosts: [action, label, data-testid]. */
const ACTIONS = /** @type {const} */ ([
  ['mute', 'Mute', 'member-mute'],
  ['host', 'Make host', 'member-make-host'],
  ['remove', 'Remove', 'member-remove'],
]);

/* The member list shows this many members (the server's join answer lists as many); the rest
   are counted. */
const MEMBER_LIST_MAX = 200;

export class PeopleList {
  /**
   * @param {HTMLElement} root  the #room-view element
   * @param {Roster} roster
   * @param {(action: MemberAction, session: number, nickname: string) => void} onAction  a host
   *   pressed one of a member's buttons
   */
  constructor(root, roster, onAction) {
    this.roster = roster;
    this.peopleCount = role(root, 'people-count');
    this.memberList = role(root, 'member-list');
    /** member list redraw queued for the end of this batch of events */
    this.listQueued = false;

    this.memberList.addEventListener('click', (e) => {
      const button = /** @type {HTMLButtonElement|null} */ (
        /** @type {HTMLElement} */ (e.target).closest('button[data-action]'));
      const item = /** @type {HTMLElement|null} */ (button?.closest('[data-session]') ?? null);
      if (!button || !item) return;
      const session = Number(item.dataset.session);
      onAction(/** @type {MemberAction} */ (button.dataset.action), session, this.roster.nickname(session));
    });
  }

  /** On a phone the people list starts folded so that the chat gets the room. */
  foldOnPhone() {
    const people = this.memberList.closest('details');
    if (people) people.open = !window.matchMedia('(max-width: 820px)').matches;
  }

  /** @param {number} n  members in the room */
  setCount(n) {
    this.peopleCount.textContent = String(n);
  }

  /* Redraws the list once per batch of events (a poll answer in a big room can carry hundreds
   * of joins): at the end of this task. */
  queueRender() {
    if (this.listQueued) return;
    this.listQueued = true;
    queueMicrotask(() => {
      this.listQueued = false;
      this.render();
    });
  }

  /* The member list: raised hands first (the queue), then the first MEMBER_LIST_MAX of the
   * others, then how many more the room has. */
  render() {
    const roster = this.roster;
    const queue = roster.handQueue().filter((s) => roster.members.has(s));
    const raised = new Set(queue);
    /** @type {[number, string][]} */
    const listed = queue.map((s) => [s, roster.nickname(s)]);
    for (const entry of roster.ordered(MEMBER_LIST_MAX + queue.length)) {
      if (listed.length >= MEMBER_LIST_MAX) break;
      if (!raised.has(entry[0])) listed.push(entry);
    }
    const more = Math.max(roster.count, roster.members.size) - listed.length;
    const moderator = roster.selfIsHost;
    this.memberList.replaceChildren(...listed.map(([session, nickname], i) => {
      const me = session === roster.self;
      const host = roster.isHost(session);
      const hand = raised.has(session);
      return el('li', {
        className: `member${me ? ' is-self' : ''}${hand ? ' has-hand' : ''}`,
        attrs: { 'data-testid': 'member' },
        data: { session: String(session), nickname },
      }, [
        avatar(session, nickname, 'avatar-small'),
        el('span', { className: 'member-name', text: nickname }),
        me ? el('span', { className: 'member-you', text: 'you' }) : null,
        host ? el('span', { className: 'host-badge', text: 'Host', attrs: { 'data-testid': 'host-badge' } }) : null,
        hand ? el('span', {
          className: 'member-hand',
          attrs: { 'data-testid': 'hand-raised', 'data-order': String(i + 1), title: `Hand raised, ${ordinal(i + 1)} in the queue` },
        }, [icon(HAND_ICON, 12), String(i + 1)]) : null,
        me ? null : el('span', { className: 'member-actions' }, [
          moderator && hand ? action('lower', 'Lower hand', 'member-lower-hand', `Lower ${nickname}'s hand`) : null,
          action('message', 'Message', 'member-message', `Message ${nickname} privately`),
          ...(moderator ? hostActions(nickname, host) : []),
        ]),
      ]);
    }), ...(more > 0 ? [el('li', { className: 'member member-more', attrs: { 'data-testid': 'member-more' }, text: `and ${more} more` })] : []));
  }
}

/**
 * A host's buttons for another member (no "Make host" for one who is a host already).
 * @param {string} nickname
 * @param {boolean} host
 */
function hostActions(nickname, host) {
  return ACTIONS
    .filter(([name]) => !(name === 'host' && host))
    .map(([name, label, id]) => action(name, label, id, `${label} ${nickname}`));
}

/**
 * One button of a member's entry.
 * @param {MemberAction} name
 * @param {string} label
 * @param {string} id  its data-testid
 * @param {string} says  its accessible name and tooltip, with the member's name
 */
function action(name, label, id, says) {
  return el('button', {
    className: `member-action${name === 'remove' ? ' is-danger' : ''}`,
    text: label,
    attrs: { type: 'button', 'data-testid': id, 'aria-label': says, title: says },
    data: { action: name },
  });
}

/** "1st", "2nd", "3rd", "4th" … @param {number} n */
function ordinal(n) {
  const tens = n % 100;
  const suffix = tens >= 11 && tens <= 13 ? 'th' : ['th', 'st', 'nd', 'rd'][n % 10] ?? 'th';
  return `${n}${suffix}`;
}
