// The anchor of the call set-up figure: a minimal reproduction of the classic "Zoom clone"
// course app's video call (node http + Socket.IO 4 + WebRTC), written fresh for the benchmark.
// tests/bench/callsetup.mjs starts it as a child process and kills it by PID at the end.
//
//   node tests/bench/course/server.js      → prints "course app at http://127.0.0.1:PORT/"
//
// Listens on 127.0.0.1 only, on a free port chosen by the kernel (PORT=N to pick one). Serves
// index.html and app.js from this folder, and the Socket.IO client from the socket.io package
// itself (serveClient: /socket.io/socket.io.js); nothing comes from a CDN.
// socket.io is NOT a dependency of Noom: it comes from the shared bench harness's folder
// $BENCH_DEPS (default ~/.cache/chat-bench), filled once by ../shared/bench/setup.sh.

import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const depsDir = process.env.BENCH_DEPS ||
  path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'chat-bench');

let Server;
try {
  ({ Server } = createRequire(path.join(depsDir, 'package.json'))('socket.io'));
} catch (e) {
  process.stderr.write(`course app: cannot load socket.io from BENCH_DEPS=${depsDir} (${e.code || e.message}).\n` +
    'Run setup.sh of the shared bench harness once (../shared/bench/setup.sh next to the source\n' +
    'tree), or set BENCH_DEPS to the folder it installed socket.io into.\n');
  process.exit(2);
}

const files = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/index.html': ['index.html', 'text/html; charset=utf-8'],
  '/app.js': ['app.js', 'text/javascript; charset=utf-8'],
};
const bodies = Object.fromEntries(Object.entries(files).map(([url, [f]]) => [url, fs.readFileSync(path.join(here, f))]));

const httpServer = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x').pathname;
  const f = files[url];
  if (!f) {
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('not found\n');
    return;
  }
  res.writeHead(200, { 'Content-Type': f[1], 'Cache-Control': 'no-store' });
  res.end(bodies[url]);
});

// The course's server, event for event: join a room and greet the others, then relay the
// offer, the answer and the ICE candidates to the rest of the room.
const io = new Server(httpServer, { serveClient: true });
io.on('connection', (socket) => {
  socket.on('join_room', (roomName) => {
    socket.join(roomName);
    socket.to(roomName).emit('welcome');
  });
  socket.on('offer', (offer, roomName) => socket.to(roomName).emit('offer', offer));
  socket.on('answer', (answer, roomName) => socket.to(roomName).emit('answer', answer));
  socket.on('ice', (ice, roomName) => socket.to(roomName).emit('ice', ice));
});

httpServer.listen(Number(process.env.PORT) || 0, '127.0.0.1', () => {
  console.log(`course app at http://127.0.0.1:${httpServer.address().port}/`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.once(sig, () => process.exit(0));
