// The room page: header (name, count, flags, leave), a stage with one tile per member
// (room-stage.js), a control bar (room-controls.js) and a side panel with the invite link
// (room-invite.js), the people list (room-people.js) with, for hosts, the waiting list and the
// host controls (room-host.js), one's own nickname and the chat (room-chat.js). Who is in the
// room, who of them are hosts and whose hand is up, is kept in one Roster (roster.js) that the
// parts read. Who is speaking is measured in this page (speaking.js) from the streams the
// stage shows.
//
// This module only draws and reports user intent through callbacks; app.js talks to the server
// and owns the call. RoomView is the one object app.js sees: it keeps the roster and hands each
// change to the parts that show it.

import { role, testid, people, showError, afterSignals } from './dom.js';
import { nicknameProblem } from './home.js';
import { Roster } from './roster.js';
import { ChatPanel } from './room-chat.js';
import { PeopleList } from './room-people.js';
import { Stage } from './room-stage.js';
import { CallControls } from './room-controls.js';
import { HostPanel } from './room-host.js';
import { InviteLink } from './room-invite.js';
import { SpeakingDetector } from './speaking.js';

/** @typedef {import('./transport.js').RoomState} RoomState */
/** @typedef {import('./transport.js').ChatMessage} ChatMessage */
/** @typedef {import('./transport.js').Member} Member */

/** @typedef {import('./media.js').MediaState} MediaState */
/** @typedef {import('./media.js').DeviceLists} DeviceLists */
/** @typedef {import('./room-controls.js').ControlState} ControlState */
/** @typedef {import('./room-stage.js').Tile} Tile */
/** @typedef {import('./api.js').RoomSettings} RoomSettings */
/** @typedef {import('./api.js').Waiting} Waiting */
/** @typedef {import('./room-host.js').HostCallbacks} HostCallbacks */
/** @typedef {import('./room-people.js').MemberAction} MemberAction */

/**
 * @typedef {object} RoomCallbacks
 * @property {(text: string, clientId: string|undefined, to: number|null) => void} onSend  text
 *   is not empty; to: the recipient of a private message, null for the room
 * @property {() => void} onLeave
 * @property {(nickname: string) => void} onRename
 * @property {(muted: boolean) => void} onMute
 * @property {(off: boolean) => void} onCamera
 * @property {(share: boolean) => void} onScreen
 * @property {(kind: 'audio'|'video', deviceId: string) => void} onDevice
 * @property {(action: 'mute'|'host'|'remove', session: number, nickname: string) => void} onModerate
 *   a host asks to mute, make host or remove a member
 * @property {(raised: boolean) => void} onHand  raise or lower one's own hand
 * @property {(session: number, nickname: string) => void} onLowerHand  a host lowers a member's hand
 * @property {(emoji: string) => void} onReact
 * @property {(speaking: Set<number>) => void} onSpeaking  who this page hears speaking changed
 *
 * @typedef {RoomCallbacks & HostCallbacks} RoomViewCallbacks
 */

export class RoomView {
  /**
   * @param {HTMLElement} root  the #room-view element
   * @param {RoomViewCallbacks} callbacks
   */
  constructor(root, callbacks) {
    this.root = root;
    this.callbacks = callbacks;
    this.nameNode = role(root, 'room-name');
    this.countNode = testid(root, 'room-count');
    this.leaveButton = /** @type {HTMLButtonElement} */ (testid(root, 'leave-button'));
    this.nicknameInput = /** @type {HTMLInputElement} */ (role(root, 'room-nickname'));
    /** @type {string|null} */ this.room = null;
    this.roster = new Roster();
    this.chat = new ChatPanel(root, this.roster, (text, clientId, to) => this.callbacks.onSend(text, clientId, to));
    this.people = new PeopleList(root, this.roster, (action, session, nickname) => this._memberAction(action, session, nickname));
    this.stage = new Stage(root, this.roster);
    this.controlBar = new CallControls(root, { ...callbacks, onView: (view) => this.stage.setView(view) });
    this.stage.setView(this.controlBar.view);
    /* A muted member never speaks, whatever their stream carries. */
    this.speaking = new SpeakingDetector((session) => !this.roster.mediaOf(session).audio);
    this.speaking.onChange = (speaking, dominant) => {
      this.stage.setSpeaking(speaking, dominant);
      this.callbacks.onSpeaking(speaking);
    };
    /** Audio meters to start or stop at the next background task (session → stream, or null
     * to stop): measuring a stream costs a few ms, not to be spent while a call's signals wait. */
    this.meters = new Map();
    /* Media events do not bubble: listen in the capture phase for any tile's video. */
    this.stage.tiles.addEventListener('playing', () => this.speaking.resume(), true);
    /** The private-message recipient list is redrawn once for a batch of events, after the
     * call's signals (redrawing its select costs the page a few ms). */
    this.recipientsQueued = false;
    this.host = new HostPanel(root, callbacks);
    this.invite = new InviteLink(root);

    this.leaveButton.addEventListener('click', () => this.callbacks.onLeave());
    this.nicknameInput.addEventListener('change', () => this._commitNickname());
    this.nicknameInput.addEventListener('keydown', (e) => this._nicknameKey(e));
  }

  /** This tab's session id. @returns {number|null} */
  get self() { return this.roster.self; }
  set self(session) { this.roster.self = session; }
  /** session → nickname, in join order. */
  get members() { return this.roster.members; }
  /** Members in the room. */
  get count() { return this.roster.count; }

  /**
   * Shows the page for a room being joined: empty log, no members yet.
   * @param {string} room
   * @param {number|null} self  this tab's session id
   * @param {boolean} [shown]  false: drawn but hidden until show()
   */
  open(room, self, shown = true) {
    this.room = room;
    this.self = self;
    this.roster.members.clear();
    this.roster.media.clear();
    this.roster.hosts.clear();
    this.roster.hands.clear();
    this.controlBar.setHand(false);
    this.host.clear();
    this.invite.set('');
    this.chat.clear(room);
    this.stage.clear(room);
    this.meters.clear();
    this.speaking.clear();
    this.setCallStatus('');
    this.nameNode.textContent = room;
    this._setCount(0);
    this._renderMembers();
    this.chat.showError('');
    this.root.hidden = !shown;
    /* The media query is evaluated on an up-to-date style of the page: not before the call's
     * first signals. */
    afterSignals(() => this.people.foldOnPhone());
    this.root.classList.add('is-joining');
    this.chat.setEnabled(false);
  }

  /** Shows a page opened hidden. */
  show() {
    this.root.hidden = false;
  }

  hide() {
    this.root.hidden = true;
    this.meters.clear();
    this.speaking.clear();
  }

  /**
   * Draws a room snapshot (join answer, GET api/room). Lines already in the log stay (after a
   * resync the history overlaps them; message ids keep it free of duplicates).
   * @param {RoomState} state
   * @param {number|null} self
   * @param {string} [selfNickname]  for a big room, whose snapshot lists only its earliest members
   */
  setState(state, self, selfNickname = '') {
    this.room = state.room;
    this.self = self;
    this.nameNode.textContent = state.room;
    const { members, media, hosts } = this.roster;
    members.clear();
    hosts.clear();
    for (const m of state.members) {
      members.set(m.session, m.nickname);
      media.set(m.session, { audio: m.audio !== false, video: m.video !== false, screen: !!m.screen });
      if (m.host) hosts.add(m.session);
    }
    if (self !== null && !members.has(self)) members.set(self, selfNickname);
    /* A big room's snapshot may not list oneself: the answer says whether we are a host. */
    if (self !== null && state.host) hosts.add(self);
    /* The queue of raised hands (earliest first); a member's own `hand` covers a room bigger
     * than the list. */
    this.roster.hands.clear();
    for (const m of state.members) if (m.hand) this.roster.setHand(m.session, true, m.hand);
    for (const h of state.hands ?? []) this.roster.setHand(h.session, true, h.at);
    this.controlBar.setHand(self !== null && this.roster.hands.has(self));
    this.host.setSettings(state.settings ?? { unlisted: !!state.unlisted, locked: false, password: false, waiting_room: false });
    this.host.setHost(!!state.host);
    this.host.setWaiting(state.host ? state.waiting ?? [] : []);
    this._setCount(state.count);
    this._renderMembers();
    const first = this.root.classList.contains('is-joining');
    /* A room page just opened is read from the end; measuring it would lay the page out now. */
    if (first) this.chat.scrollToEndSoon();
    const stick = this.chat.nearBottom();
    for (const msg of state.history) this.chat.addMessage(msg);
    if (first) this.addNotice(`You joined ${state.room}`, 'self');
    this.root.classList.remove('is-joining');
    this.chat.setEnabled(true);
    if (stick || state.history.length) this.chat.scrollToEnd();
  }

  /** @param {string} nickname */
  setSelfNickname(nickname) {
    if (document.activeElement !== this.nicknameInput) this.nicknameInput.value = nickname;
  }

  focusInput() {
    this.chat.focus();
  }

  /**
   * Someone entered the room.
   * @param {number} session
   * @param {string} nickname
   * @param {number} count  members now
   * @param {boolean} [host]  the newcomer is a host (it opened the room, or came back as one)
   */
  memberJoined(session, nickname, count, host = false) {
    this.roster.members.set(session, nickname);
    if (host) this.roster.hosts.add(session);
    if (!this.roster.media.has(session)) this.roster.media.set(session, { audio: true, video: true, screen: false });
    this._setCount(count);
    this._renderMembers();
    this.addNotice(`${nickname} joined`, 'join');
  }

  /**
   * Someone left (or timed out, was removed, or the meeting ended).
   * @param {number} session
   * @param {string} nickname
   * @param {number} count
   * @param {string} [reason]  leave | timeout | removed | ended
   */
  memberLeft(session, nickname, count, reason = 'leave') {
    this.roster.members.delete(session);
    this.roster.media.delete(session);
    this.roster.hosts.delete(session);
    this.roster.hands.delete(session);
    this.stage.streams.delete(session);
    this._meter(session, null);
    this._setCount(count);
    this._renderMembers();
    this.addNotice(reason === 'removed' ? `${nickname} was removed by the host` : `${nickname} left`, 'leave');
  }

  // ---- hosts ---------------------------------------------------------------------------

  /**
   * A member became a host (made one by a host, or handed over when the last host left).
   * @param {number} session
   * @param {string} nickname
   * @param {string} reason  made | handover
   */
  setHost(session, nickname, reason) {
    this.roster.hosts.add(session);
    const me = session === this.self;
    if (me) this.host.setHost(true);
    this._renderMembers();
    const who = me ? 'You are' : `${nickname} is`;
    this.addNotice(reason === 'handover' ? `${who} now the host` : `${who} now a host`, 'info');
  }

  /**
   * The room's settings changed (or were loaded).
   * @param {RoomSettings} settings
   */
  setSettings(settings) {
    this.host.setSettings(settings);
  }

  /**
   * (Hosts) someone waits to be admitted.
   * @param {number} session
   * @param {string} nickname
   */
  addWaiting(session, nickname) {
    this.host.addWaiting(session, nickname);
  }

  /**
   * (Hosts) a waiting joiner was admitted, denied or left.
   * @param {number} session
   */
  removeWaiting(session) {
    this.host.removeWaiting(session);
  }

  /** @param {string} message  why a host action failed; empty hides the line */
  showHostError(message) {
    this.host.showError(message);
  }

  /**
   * The room's invite link (with its key when the room is unlisted).
   * @param {string} url
   */
  setInvite(url) {
    this.invite.set(url);
  }

  /**
   * Someone changed their nickname.
   * @param {number} session
   * @param {string} old
   * @param {string} nickname
   */
  memberRenamed(session, old, nickname) {
    if (this.roster.members.has(session)) this.roster.members.set(session, nickname);
    this._renderMembers();
    this.addNotice(`${old} is now ${nickname}`, 'rename');
  }

  // ---- in the meeting ------------------------------------------------------------------

  /**
   * A member's hand went up or down (a hand event, or the answer to our own request).
   * @param {number} session
   * @param {boolean} raised
   * @param {number} at  when it went up (ms)
   */
  setHand(session, raised, at) {
    if (!this.roster.members.has(session)) return;
    if (raised === this.roster.hands.has(session)) return;
    this.roster.setHand(session, raised, at);
    if (session === this.self) this.controlBar.setHand(raised);
    this.stage.update(session);
    this.people.queueRender();
  }

  /**
   * A member reacted: the emoji shows on their tile for a few seconds.
   * @param {number} session
   * @param {string} emoji
   */
  showReaction(session, emoji) {
    this.stage.showReaction(session, emoji);
  }

  /** @param {string} text  a short note under the controls (a reaction refused) */
  showNote(text) {
    this.controlBar.showNote(text);
  }

  // ---- chat ----------------------------------------------------------------------------

  /**
   * A notice line. Its text is exactly `text`; the time is kept in attributes only.
   * @param {string} text
   * @param {string} kind  join | leave | rename | info
   */
  addNotice(text, kind) {
    this.chat.addNotice(text, kind);
  }

  /**
   * A message from the poll; confirms our own pending copy when there is one.
   * @param {ChatMessage} msg
   */
  addMessage(msg) {
    this.chat.addMessage(msg);
  }

  /**
   * Shows our own message at once, greyed until the server's event confirms it.
   * @param {string} text
   * @param {string} clientId
   * @param {string} nickname
   * @param {number|null} [to]  the recipient of a private message
   */
  addPending(text, clientId, nickname, to = null) {
    this.chat.addPending(text, clientId, nickname, this.room ?? '', to);
  }

  /**
   * The server stored our message (the event may come before or after this answer).
   * @param {string} clientId
   * @param {number} id
   * @param {number} ts
   */
  confirmSent(clientId, id, ts) {
    this.chat.confirmSent(clientId, id, ts);
  }

  /**
   * Sending failed for good: mark the line and show why.
   * @param {string} clientId
   * @param {string} message
   */
  sendFailed(clientId, message) {
    this.chat.sendFailed(clientId, message);
  }

  /** @param {string} message  empty hides the error line */
  showError(message) {
    this.chat.showError(message);
  }

  // ---- call ----------------------------------------------------------------------------

  /**
   * Shows this tab's camera (or screen) in its own tile; null shows the avatar.
   * @param {MediaStream|null} stream
   */
  setLocalStream(stream) {
    this.stage.setLocalStream(stream);
    if (this.self !== null) this._meter(this.self, stream);
  }

  /**
   * Shows a peer's media in its tile (a new stream object when its tracks changed).
   * @param {number} session
   * @param {MediaStream} stream
   */
  setRemoteStream(session, stream) {
    this.stage.setRemoteStream(session, stream);
    this._meter(session, stream);
  }

  /**
   * The connection to a peer is gone: its tile shows the avatar again.
   * @param {number} session
   */
  removeRemoteStream(session) {
    this.stage.removeRemoteStream(session);
    this._meter(session, null);
  }

  /**
   * Measures the audio of a member's stream from the next background task on (null stops).
   * @param {number} session
   * @param {MediaStream|null} stream
   */
  _meter(session, stream) {
    const first = this.meters.size === 0;
    this.meters.set(session, stream);
    if (!first) return;
    afterSignals(() => {
      const due = Array.from(this.meters);
      this.meters.clear();
      for (const [s, st] of due) {
        if (st) this.speaking.watch(s, st);
        else this.speaking.unwatch(s);
      }
    });
  }

  /**
   * Connection state of a peer, shown on its tile while not connected.
   * @param {number} session
   * @param {string} state  new | connecting | connected | reconnecting | closed
   */
  setPeerState(session, state) {
    this.stage.setPeerState(session, state);
  }

  /**
   * A member's microphone / camera / screen state (a media event, or our own change).
   * @param {number} session
   * @param {MediaState} state
   */
  setMemberMedia(session, state) {
    if (!this.roster.members.has(session)) return;
    this.roster.media.set(session, { audio: !!state.audio, video: !!state.video, screen: !!state.screen });
    this.stage.mediaChanged(session);
    this.speaking.refresh();
  }

  /**
   * The control bar: pressed states, and what is available at all.
   * @param {ControlState} controls
   */
  setControls(controls) {
    this.controlBar.set(controls);
  }

  /**
   * Fills the device selects.
   * @param {DeviceLists} lists
   * @param {string} audioId  the microphone in use
   * @param {string} videoId  the camera in use
   */
  setDevices(lists, audioId, videoId) {
    this.controlBar.setDevices(lists, audioId, videoId);
  }

  /** @param {string} text  why this user is not (fully) in the call; '' hides the line */
  setCallStatus(text) {
    this.controlBar.setStatus(text);
  }

  // ---- internals ------------------------------------------------------------------------

  /**
   * A button in a member's entry of the people list.
   * @param {MemberAction} action
   * @param {number} session
   * @param {string} nickname
   */
  _memberAction(action, session, nickname) {
    if (action === 'message') {
      this._renderRecipients(); /* the member must be in the list to be chosen */
      this.chat.writeTo(session);
    }
    else if (action === 'lower') this.callbacks.onLowerHand(session, nickname);
    else this.callbacks.onModerate(action, session, nickname);
  }

  /** @param {KeyboardEvent} e */
  _nicknameKey(e) {
    if (e.key === 'Enter') {
      e.preventDefault();
      this._commitNickname();
      this.chat.input.focus();
    }
  }

  _commitNickname() {
    const name = this.nicknameInput.value.trim();
    const current = this.self !== null ? this.roster.members.get(this.self) : undefined;
    if (name === current) return;
    const problem = nicknameProblem(name);
    if (problem) {
      showError(this.chat.error, problem);
      return;
    }
    this.callbacks.onRename(name);
  }

  /** @param {number} n */
  _setCount(n) {
    this.roster.count = n;
    this.countNode.textContent = people(n);
    this.people.setCount(n);
  }

  /*
   * Brings the stage tiles in line with the roster at once, and redraws the member list once
   * per batch of events (a poll answer in a big room can carry hundreds of joins).
   */
  _renderMembers() {
    this.stage.render();
    if (this.roster.hasSelf()) this.setSelfNickname(this.roster.nickname(/** @type {number} */ (this.self)));
    this.people.queueRender();
    if (this.recipientsQueued) return;
    this.recipientsQueued = true;
    afterSignals(() => this._renderRecipients());
  }

  /* The recipient list, if a redraw is queued. */
  _renderRecipients() {
    if (!this.recipientsQueued) return;
    this.recipientsQueued = false;
    this.chat.renderRecipients();
  }
}
