#!/usr/bin/env node
// Mixed-load bench (issue 12): wrk with 50 connections rotating 50 users of one
// store with 200 contacts: 80% GET /api/contacts?page=N, 10% create, 5% PATCH,
// 5% POST /api/messages, with a worker running and sending through a WhatsApp
// stand-in. Prints req/s, p50 / p99 latency and the API process's RSS (fresh,
// highest, at the end), for one API and one worker process at the defaults.
//
//   npm run bench:mixed -- [--duration 60] [--connections 50] [--users 50]
//
// Goals (issue 12): 3x part one's 555 req/s with p99 under 250 ms, and the API
// under 300 MB RSS after 10 minutes (--duration 600).
// Needs wrk (apt-get install -y wrk). Uses its own database (zyva_bench) and
// BullMQ prefix, both cleaned up afterwards.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { hasCommand, root } from '../scripts/lib.mjs';
import { BenchSession, runBench } from './zyva-processes.mjs';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '60' },
    connections: { type: 'string', default: '50' },
    users: { type: 'string', default: '50' },
    contacts: { type: 'string', default: '200' },
  },
});
const DURATION_S = Number(args.duration);
const USERS = Number(args.users);
const CONTACTS = Number(args.contacts);
const PART_ONE_RPS = 555;

const WA = { phoneNumberId: '900100200302', accessToken: 'bench-mixed-token' };
const session = new BenchSession(WA);
const { zyva } = session;
const work = mkdtempSync(join(os.tmpdir(), 'zyva-mixed-'));
// After ./zyva-processes.mjs, which registers the TypeScript loader.
const { runCommand } = createRequire(import.meta.url)('../test/utils/processes.ts');

if (!hasCommand('wrk')) {
  console.error('wrk is not installed: apt-get install -y wrk');
  process.exit(1);
}

/** Resident set size of a process, in MB (Linux /proc). */
function rssMb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]) / 1024;
}

async function main() {
  console.log(`Mixed-load bench: ${args.connections} connections, ${USERS} users of one store with ${CONTACTS} contacts, ${DURATION_S} s`);
  console.log(`Machine: ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}; one API and one worker process at the defaults, wrk on the same machine`);
  const { db } = await session.open();
  const env = { ...session.env };
  delete env.WORKER_CONCURRENCY;
  const api = zyva.start({ ...env, APP_ROLE: 'api' });
  zyva.start({ ...env, APP_ROLE: 'worker' });
  await zyva.waitForHealth();
  await sleep(1000);

  const store = await session.registerStore(CONTACTS, '11');
  // The registering user and USERS - 1 more of the same store.
  const tokens = [store.token, ...(await session.addUsers(store, USERS - 1))];
  const contactIds = (await db.query('SELECT id FROM contacts WHERE "organizationId" = $1', [store.orgId])).rows.map((r) => r.id);
  writeFileSync(join(work, 'tokens.txt'), `${tokens.join('\n')}\n`);
  writeFileSync(join(work, 'contacts.txt'), `${contactIds.join('\n')}\n`);

  const fresh = rssMb(api.pid);
  let highest = fresh;
  const sampler = setInterval(() => (highest = Math.max(highest, rssMb(api.pid))), 1000);
  // Not spawnSync: the WhatsApp stand-in answers the worker from this process's event loop.
  const r = await runCommand('wrk', ['-t2', `-c${args.connections}`, `-d${DURATION_S}s`, '--timeout', '10s', '-s', `${root}bench/mixed.wrk.lua`, zyva.url], {
    BENCH_TOKENS_FILE: join(work, 'tokens.txt'),
    BENCH_CONTACTS_FILE: join(work, 'contacts.txt'),
  });
  clearInterval(sampler);
  if (r.code !== 0) throw new Error(`wrk failed: ${r.stderr}`);
  const end = rssMb(api.pid);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1]);
  const p50 = Number(/percentile 50 ([\d.]+)/.exec(r.stdout)?.[1]);
  const p99 = Number(/percentile 99 ([\d.]+)/.exec(r.stdout)?.[1]);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(r.stdout)?.[1] ?? 0);
  const errors = /Socket errors:.*/.exec(r.stdout)?.[0] ?? 'none';
  const { rows } = await db.query(
    `SELECT (SELECT count(*)::int FROM contacts WHERE "organizationId" = $1) AS contacts,
            (SELECT count(*)::int FROM messages WHERE "organizationId" = $1) AS messages,
            (SELECT count(*)::int FROM messages WHERE "organizationId" = $1 AND status = 'SENT') AS sent`,
    [store.orgId],
  );
  console.log(r.stdout.split('\n').filter((l) => !l.startsWith('percentile')).join('\n'));
  console.log(`contacts now ${rows[0].contacts} (from ${CONTACTS}); messages accepted ${rows[0].messages}, SENT ${rows[0].sent}`);
  console.log('\n| req/s | p50 | p99 | non-2xx | socket errors | API RSS fresh | highest | at the end |');
  console.log('|---|---|---|---|---|---|---|---|');
  console.log(`| ${rps.toFixed(0)} | ${p50.toFixed(1)} ms | ${p99.toFixed(1)} ms | ${non2xx} | ${errors} | ${fresh.toFixed(0)} MB | ${highest.toFixed(0)} MB | ${end.toFixed(0)} MB |`);
  console.log(`\nthroughput ${(rps / PART_ONE_RPS).toFixed(2)}x part one's ${PART_ONE_RPS} req/s (goal 3x): ${rps >= 3 * PART_ONE_RPS ? 'met' : 'NOT met'}`);
  console.log(`p99 ${p99.toFixed(0)} ms (goal < 250 ms): ${p99 < 250 ? 'met' : 'NOT met'}`);
  console.log(`API RSS at the end ${end.toFixed(0)} MB (goal < 300 MB after 10 minutes${DURATION_S < 600 ? '; this run was shorter' : ''}): ${end < 300 ? 'met' : 'NOT met'}`);
}

runBench(session, () => main().finally(() => rmSync(work, { recursive: true, force: true })));
