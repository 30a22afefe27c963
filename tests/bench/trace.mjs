#!/usr/bin/env node
// trace.mjs TRACE...: a fanout seen message by message, from the files lpbench writes with
// LPBENCH_TRACE=FILE (tests/bench/lpbench-trace.patch: a line "seq sent_us latency_us" per
// delivery). For each file: the latency quantiles over every delivery (what lpbench reports),
// then, over the messages, when each one's first delivery came (the publish path: the POST to
// the first subscriber), its last (the whole fanout) and the span between them (the fanout
// loop), and the slowest messages: a stall that recurs (every 50th message, say) shows there.
// Prints, asserts nothing.
//
//   LPBENCH_TRACE=/tmp/noom.trace LPBENCH=$B/lpbench/lpbench NOOM_BUILD=$B \
//       <bench>/run.sh $SRC/tests/bench/noom-stream.sh fanout 1000
//   node tests/bench/trace.mjs /tmp/noom.trace /tmp/nchan.trace
import fs from 'node:fs';

const q = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
const ms = (us) => (us / 1000).toFixed(2);
const row = (name, v) => {
  const s = [...v].sort((a, b) => a - b);
  return `  ${name.padEnd(16)} p10 ${ms(q(s, 0.1))}  p50 ${ms(q(s, 0.5))}  p90 ${ms(q(s, 0.9))}  max ${ms(s[s.length - 1])} ms`;
};

for (const file of process.argv.slice(2)) {
  const all = [];
  const first = new Map();
  const last = new Map();
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line) continue;
    const [seq, , lat] = line.split(' ').map(Number);
    all.push(lat);
    if (!first.has(seq) || lat < first.get(seq)) first.set(seq, lat);
    if (!last.has(seq) || lat > last.get(seq)) last.set(seq, lat);
  }
  if (all.length === 0) {
    console.log(`${file}: no deliveries`);
    continue;
  }
  all.sort((a, b) => a - b);
  const seqs = [...first.keys()];
  console.log(`${file}: ${all.length} deliveries of ${seqs.length} messages; p50 ${ms(q(all, 0.5))} p90 ${ms(q(all, 0.9))} p99 ${ms(q(all, 0.99))} p99.9 ${ms(q(all, 0.999))} ms`);
  console.log(row('first delivery', seqs.map((s) => first.get(s))));
  console.log(row('last delivery', seqs.map((s) => last.get(s))));
  console.log(row('span', seqs.map((s) => last.get(s) - first.get(s))));
  const worst = seqs.sort((a, b) => last.get(b) - last.get(a)).slice(0, 6);
  console.log(`  slowest: ${worst.map((s) => `#${s} ${ms(last.get(s))} (first ${ms(first.get(s))})`).join(', ')}`);
}
