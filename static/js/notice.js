// The notice banner (data-testid="notice"): one line over whichever view is on screen that tells
// the user what a host did to them (removed, muted, ended the meeting, denied the join) or why a
// join was refused (locked, too many password guesses). It stays until dismissed or replaced,
// so that it survives the move to the home page that follows a removal.

import { role } from './dom.js';

export class NoticeBanner {
  /** @param {ParentNode} root  the document (the banner is outside the views) */
  constructor(root) {
    this.node = role(root, 'notice');
    this.text = role(root, 'notice-text');
    /** What the banner is about ('' when hidden), so that one cause can take back its own. */
    this.kind = '';
    role(root, 'notice-close').addEventListener('click', () => this.hide());
  }

  /**
   * Shows `text` (as text), replacing what the banner said.
   * @param {string} text
   * @param {string} kind  removed | muted | ended | locked | denied | refused
   */
  show(text, kind) {
    this.text.textContent = text;
    this.kind = kind;
    this.node.dataset.kind = kind;
    this.node.hidden = false;
  }

  hide() {
    this.node.hidden = true;
    this.text.textContent = '';
    this.kind = '';
    delete this.node.dataset.kind;
  }

  /**
   * Hides the banner if it is about `kind` (the user unmuted: "the host muted you" is old news).
   * @param {string} kind
   */
  clear(kind) {
    if (this.kind === kind) this.hide();
  }
}
