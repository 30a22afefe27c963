// The invite link of the room page: a read-only field with the room's full address (with
// "#key=…" for an unlisted room) and a Copy button. Where the clipboard API is missing or
// blocked (plain HTTP, a refused permission) the link is selected for the user to copy by hand.

import { testid, role } from './dom.js';

export class InviteLink {
  /** @param {HTMLElement} root  the #room-view element */
  constructor(root) {
    this.input = /** @type {HTMLInputElement} */ (testid(root, 'invite-link'));
    this.copyButton = /** @type {HTMLButtonElement} */ (testid(root, 'invite-copy'));
    this.status = role(root, 'invite-status');
    this.copyButton.addEventListener('click', () => this.copy());
    /* A click in the field selects all of it, ready for a manual copy. */
    this.input.addEventListener('focus', () => this.input.select());
  }

  /**
   * The link to show ('' while the room is not joined yet).
   * @param {string} url
   */
  set(url) {
    if (this.input.value !== url) this.status.textContent = '';
    this.input.value = url;
    this.copyButton.disabled = url === '';
  }

  /** Copies the link to the clipboard, or selects it and says how to copy it. */
  async copy() {
    const url = this.input.value;
    if (!url) return;
    try {
      if (!navigator.clipboard?.writeText) throw new Error('no clipboard');
      await navigator.clipboard.writeText(url);
      this.status.textContent = 'Link copied.';
    } catch {
      this.input.focus();
      this.input.select();
      this.status.textContent = 'Press Ctrl+C to copy';
    }
  }
}
