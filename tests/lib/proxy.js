// Test proxies on loopback, for browsers told to use one (--proxy-server): what offices put
// between their users and Noom.
//
// - startSquid(): squid (the Debian package, scripts/deps.sh --test) as a plain forward proxy.
//   Its stock rules refuse CONNECT to any port but 443, and Chromium opens every WebSocket
//   through a proxy with CONNECT: the upgrade never gets through, while ordinary requests, and
//   a streamed response as it comes, do.
// - startBufferingProxy(): a small forward proxy that holds every response until it has ended
//   and then sends it whole (with a length), as some filtering proxies do; CONNECT is refused
//   too. A long-poll gets through (it ends); an event stream shows nothing until it ends.
//
// Both bind 127.0.0.1 on a free port; stop() ends them (squid by its PID).
import http from 'node:http';
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {spawn, execFileSync} from 'node:child_process';
import {freePort, sleep} from './stack.js';

export const SQUID = '/usr/sbin/squid';

/** Whether squid can be run here (why not, as a string, or false). */
export function squidMissing() {
  try {
    execFileSync(SQUID, ['-v'], {stdio: 'ignore'});
    return false;
  } catch {
    return `${SQUID} not found (scripts/deps.sh --test installs it)`;
  }
}

/** Resolves once something accepts connections on 127.0.0.1:port (or throws after ms). */
async function listening(port, ms) {
  const end = Date.now() + ms;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.on('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`nothing listens on 127.0.0.1:${port}`);
    await sleep(100);
  }
}

/** Starts squid; resolves {port, url, stop()}. */
export async function startSquid() {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'noom-squid-'));
  fs.chmodSync(dir, 0o777); /* squid drops to its own user (proxy) when started as root */
  const conf = path.join(dir, 'squid.conf');
  fs.writeFileSync(conf, [
    `http_port 127.0.0.1:${port}`,
    'acl SSL_ports port 443',
    'acl CONNECT method CONNECT',
    'http_access deny CONNECT !SSL_ports',
    'http_access allow localhost',
    'http_access deny all',
    'cache deny all',
    'cache_mem 8 MB',
    'pid_filename none',
    'access_log none',
    `cache_log ${path.join(dir, 'cache.log')}`,
    `coredump_dir ${dir}`,
    'pinger_enable off',
    'shutdown_lifetime 1 seconds',
    ...(process.getuid?.() === 0 ? ['cache_effective_user proxy'] : []),
    '',
  ].join('\n'));
  const child = spawn(SQUID, ['-N', '-f', conf], {stdio: 'ignore'});
  const exited = new Promise((resolve) => child.on('exit', resolve));
  try {
    await listening(port, 10_000);
  } catch (e) {
    child.kill('SIGKILL');
    throw new Error(`squid did not start: ${e.message}; ${fs.readFileSync(path.join(dir, 'cache.log'), 'utf8').slice(-2000)}`);
  }
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    stop: async () => {
      child.kill('SIGTERM');
      if (!(await Promise.race([exited.then(() => true), sleep(5000).then(() => false)]))) child.kill('SIGKILL');
      fs.rmSync(dir, {recursive: true, force: true});
    },
  };
}

/** Starts the buffering forward proxy; resolves {port, url, stop(), responses}. */
export async function startBufferingProxy() {
  const state = {responses: 0};
  const server = http.createServer((req, res) => {
    let target;
    try {
      target = new URL(req.url ?? '');
    } catch {
      res.writeHead(400).end();
      return;
    }
    const up = http.request(target, {method: req.method, headers: {...req.headers, connection: 'close'}, agent: false}, (ures) => {
      const chunks = [];
      ures.on('data', (c) => chunks.push(c));
      ures.on('end', () => {
        const body = Buffer.concat(chunks);
        const headers = {...ures.headers};
        delete headers['transfer-encoding'];
        delete headers.connection;
        headers['content-length'] = String(body.length);
        state.responses++;
        res.writeHead(ures.statusCode ?? 502, headers);
        res.end(body);
      });
      ures.on('error', () => res.destroy());
    });
    up.on('error', () => {
      if (!res.headersSent) res.writeHead(502).end();
    });
    /* The browser gave up (an aborted stream or poll): so does the request upstream. */
    res.on('close', () => up.destroy());
    req.pipe(up);
  });
  server.on('connect', (_req, socket) => {
    socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
  });
  const port = await freePort();
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    get responses() {
      return state.responses;
    },
    stop: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
