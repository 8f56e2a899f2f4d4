#!/usr/bin/env node
// Live objects of a V8 heap snapshot (bench:mixed --heap-snapshot DIR) by node type, and plain objects by constructor:
// how BENCHMARKS.md's snapshot tables were counted.
//
//   node --max-old-space-size=2048 bench/heap-summary.mjs DIR     (DIR holds one .heapsnapshot)
import { readFileSync, readdirSync } from 'node:fs';
const dir = process.argv[2];
const f = readdirSync(dir).find((x) => x.endsWith('.heapsnapshot'));
const snap = JSON.parse(readFileSync(`${dir}/${f}`, 'utf8'));
const m = snap.snapshot.meta;
const nf = m.node_fields, types = m.node_types[0];
const ti = nf.indexOf('type'), si = nf.indexOf('self_size'), ni = nf.indexOf('name');
const n = snap.nodes, w = nf.length;
const by = new Map(); let total = 0;
const byName = new Map();
for (let i = 0; i < n.length; i += w) {
  const t = types[n[i + ti]]; const s = n[i + si]; total += s;
  const e = by.get(t) ?? [0, 0]; e[0] += s; e[1]++; by.set(t, e);
  if (t === 'object') { const nm = snap.strings[n[i + ni]]; const g = byName.get(nm) ?? [0, 0]; g[0] += s; g[1]++; byName.set(nm, g); }
}
console.log(`total ${(total / 1e6).toFixed(1)} MB, ${n.length / w} nodes`);
for (const [t, [s, c]] of [...by].sort((a, b) => b[1][0] - a[1][0])) console.log(`${t.padEnd(16)} ${(s / 1e6).toFixed(1).padStart(6)} MB ${c}`);
console.log('--- objects by constructor');
for (const [t, [s, c]] of [...byName].sort((a, b) => b[1][0] - a[1][0]).slice(0, 12)) console.log(`${t.slice(0, 40).padEnd(40)} ${(s / 1e6).toFixed(2).padStart(6)} MB ${c}`);
