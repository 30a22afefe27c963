// The people panel of the room page: the member list (oneself first, then the others in join
// order, the first MEMBER_LIST_MAX of them and "and N more") and the people count beside its
// title. It reads the roster (roster.js); user text goes in as text.

import { el, role, avatar } from './dom.js';

/** @typedef {import('./roster.js').Roster} Roster */

/* The member list shows this many members (the server's join answer lists as many); the rest
   are counted. */
const MEMBER_LIST_MAX = 200;

export class PeopleList {
  /**
   * @param {HTMLElement} root  the #room-view element
   * @param {Roster} roster
   */
  constructor(root, roster) {
    this.roster = roster;
    this.peopleCount = role(root, 'people-count');
    this.memberList = role(root, 'member-list');
    /** member list redraw queued for the end of this batch of events */
    this.listQueued = false;
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

  /* The member list: the first MEMBER_LIST_MAX, then how many more the room has. */
  render() {
    const roster = this.roster;
    const listed = roster.ordered(MEMBER_LIST_MAX);
    const more = Math.max(roster.count, roster.members.size) - listed.length;
    this.memberList.replaceChildren(...listed.map(([session, nickname]) => {
      const me = session === roster.self;
      return el('li', { className: `member${me ? ' is-self' : ''}`, data: { session: String(session) } }, [
        avatar(session, nickname, 'avatar-small'),
        el('span', { className: 'member-name', text: nickname }),
        me ? el('span', { className: 'member-you', text: 'you' }) : null,
      ]);
    }), ...(more > 0 ? [el('li', { className: 'member member-more', attrs: { 'data-testid': 'member-more' }, text: `and ${more} more` })] : []));
  }
}
