#!/usr/bin/env node
// Self time of a V8 CPU profile (node --cpu-prof) by package and by function, and optionally the inclusive time of
// the functions matching a pattern: how BENCHMARKS.md's profiles were summarised.
//
//   node bench/profile-summary.mjs DIR [PATTERN]     (DIR holds one .cpuprofile, e.g. from BENCH_API_NODE_ARGS)
import { readFileSync, readdirSync } from 'node:fs';
const dir = process.argv[2];
const file = readdirSync(dir).filter(f => f.endsWith('.cpuprofile')).map(f => `${dir}/${f}`)[0];
const p = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(p.nodes.map(n => [n.id, n]));
const self = new Map();
for (let i = 0; i < p.samples.length; i++) {
  const dt = p.timeDeltas[i] ?? 0;
  self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + dt);
}
const total = [...self.values()].reduce((a, b) => a + b, 0);
const pkg = (url) => {
  if (!url) return '(native)';
  const m = /node_modules\/((@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1];
  if (url.startsWith('node:')) return 'node:' + url.slice(5).split('/')[0];
  if (url.includes('/bench-mixed-build/')) return 'app:' + url.replace(/.*bench-mixed-build\//, '').split('/').slice(0, 3).join('/');
  return url;
};
const byPkg = new Map(), byFn = new Map();
for (const [id, t] of self) {
  const n = byId.get(id); const cf = n.callFrame;
  const k = pkg(cf.url);
  byPkg.set(k, (byPkg.get(k) ?? 0) + t);
  const f = `${cf.functionName || '(anon)'} ${k}:${cf.lineNumber}`;
  byFn.set(f, (byFn.get(f) ?? 0) + t);
}
const show = (m, n) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n).forEach(([k, t]) => console.log(`${(100 * t / total).toFixed(1).padStart(5)}%  ${k}`));
console.log(`total ${(total / 1e6).toFixed(1)} s`);
console.log('--- by package'); show(byPkg, 30);
console.log('--- by function'); show(byFn, 50);
// inclusive by app function name filter
if (process.argv[3]) {
  const re = new RegExp(process.argv[3]);
  const parent = new Map();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const incl = new Map();
  for (const [id, t] of self) {
    const seen = new Set();
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const cf = byId.get(cur).callFrame; const k = `${cf.functionName} ${pkg(cf.url)}:${cf.lineNumber}`;
      if (re.test(k) && !seen.has(k)) { seen.add(k); incl.set(k, (incl.get(k) ?? 0) + t); }
    }
  }
  console.log('--- inclusive matching'); show(incl, 40);
}
