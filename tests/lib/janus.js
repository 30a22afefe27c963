// Test helper: a client of Janus's HTTP API through the stack's nginx (PREFIX/janus), as a page's
// janus.js talks to it, for the tests of calls past the mesh (fcgi/sfu.c).
//
//   const jc = new JanusClient(stack.baseUrl, cfg.sfu.token);   // cfg: GET api/call of a member
//   await jc.open();                                             // create + attach the VideoRoom
//   await jc.ask({request: 'join', ptype: 'publisher', room, id, display, token: cfg.sfu.join});

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import {execFileSync} from 'node:child_process';

/** Is Janus there for noom-run to start (the program and its JavaScript client)? */
export function janusInstalled() {
  try {
    execFileSync('sh', ['-c', 'command -v janus'], {stdio: 'ignore'});
    return fs.existsSync('/usr/share/javascript/janus-gateway/janus.js');
  } catch {
    return false;
  }
}

export class JanusClient {
  /**
   * @param {string} baseUrl the stack's (ends with '/')
   * @param {string|null} token a Noom-signed Janus session token, or null for none
   */
  constructor(baseUrl, token) {
    this.baseUrl = baseUrl;
    this.token = token;
    this.session = 0;
    this.handle = 0;
  }

  async post(tail, msg) {
    const body = {...msg, transaction: crypto.randomBytes(6).toString('hex')};
    if (this.token) body.token = this.token;
    const res = await fetch(new URL(`janus${tail}`, this.baseUrl), {
      method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body),
    });
    assert.equal(res.status, 200, `POST janus${tail}`);
    return res.json();
  }

  /** create + attach; the answer of the first step that failed, or null. */
  async open() {
    const created = await this.post('', {janus: 'create'});
    if (created.janus !== 'success') return created;
    this.session = created.data.id;
    const attached = await this.post(`/${this.session}`, {janus: 'attach', plugin: 'janus.plugin.videoroom'});
    if (attached.janus !== 'success') return attached;
    this.handle = attached.data.id;
    return null;
  }

  /**
   * A VideoRoom request, with a JSEP if given: its synchronous answer's data, or the event that
   * answers it (a join, a configure), as {...data} (and the event's jsep as `jsep`).
   */
  async ask(body, jsep) {
    const r = await this.post(`/${this.session}/${this.handle}`, {janus: 'message', body, ...(jsep ? {jsep} : {})});
    if (r.janus === 'success') return r.plugindata.data;
    assert.equal(r.janus, 'ack', JSON.stringify(r));
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const ev = await this.poll();
      const hit = ev.find((e) => e.transaction === r.transaction && e.plugindata);
      if (hit) return hit.jsep ? {...hit.plugindata.data, jsep: hit.jsep} : hit.plugindata.data;
    }
    throw new Error(`no answer to ${JSON.stringify(body)}`);
  }

  /** One long poll of this session's events. */
  async poll() {
    const q = new URLSearchParams({maxev: '10', rid: String(Date.now())});
    if (this.token) q.set('token', this.token);
    const res = await fetch(new URL(`janus/${this.session}?${q}`, this.baseUrl));
    const data = await res.json();
    return Array.isArray(data) ? data : [data];
  }
}
