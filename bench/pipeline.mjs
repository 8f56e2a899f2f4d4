#!/usr/bin/env node
// Pipeline benchmark: a 10,000-contact WhatsApp campaign, end to end (POST
// /api/campaigns accepted -> every message SENT in Postgres), through real
// API and worker processes, Postgres, Redis and a local WhatsApp Cloud API
// stand-in; printed next to raw BullMQ no-op throughput measured in the same
// run on the same Redis, which is the ceiling any BullMQ pipeline here has.
//
//   npm run bench:pipeline -- [--contacts 10000] [--concurrency 200|default] [--workers 1] [--runs 3] [--noop-jobs 10000]
//
// Uses its own database (zyva_bench, migrated on start) and its own BullMQ
// prefix, both cleaned up afterwards. DATABASE_URL / REDIS_URL override.
import { createRequire } from 'node:module';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { BenchSession, cpuSeconds, runBench } from './zyva-processes.mjs';

// After ./zyva-processes.mjs, which registers the TypeScript loader for src/.
const require = createRequire(import.meta.url);
const { Queue, Worker } = require('bullmq');

const { values: args } = parseArgs({
  options: {
    contacts: { type: 'string', default: '10000' },
    concurrency: { type: 'string', default: '200' },
    workers: { type: 'string', default: '1' },
    'noop-jobs': { type: 'string', default: '10000' },
    runs: { type: 'string', default: '3' },
    /** Write a V8 CPU profile of each worker process into this directory. */
    'cpu-prof-dir': { type: 'string' },
    /** Extra node flags for the worker processes, e.g. "--max-semi-space-size=32". */
    'worker-node-args': { type: 'string', default: '' },
  },
});
const CONTACTS = Number(args.contacts);
/** `default`: WORKER_CONCURRENCY left unset, so the worker runs with Zyva's default (the out-of-the-box row). */
const DEFAULT_CONCURRENCY = new (require('../src/core/config/env.schema.ts').EnvironmentVariables)().WORKER_CONCURRENCY;
const CONCURRENCY = args.concurrency === 'default' ? DEFAULT_CONCURRENCY : Number(args.concurrency);
const CONCURRENCY_LABEL = args.concurrency === 'default' ? `${DEFAULT_CONCURRENCY} (the default, unset)` : String(CONCURRENCY);
const WORKERS = Number(args.workers);
const NOOP_JOBS = Number(args['noop-jobs']);
const RUNS = Number(args.runs);

const WA = { phoneNumberId: '900100200300', accessToken: 'bench-token' };
const session = new BenchSession(WA);
const { zyva } = session;
const { connection } = session.targets;
const PREFIX = zyva.prefix;

let db;
let standIn;

async function main() {
  console.log(`Pipeline bench: ${CONTACTS} contacts, WORKER_CONCURRENCY=${CONCURRENCY_LABEL}, ${WORKERS} worker process(es)`);
  console.log(`Machine: ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`);
  ({ db, standIn } = await session.open());
  // This machine's Postgres runs with autovacuum off: without this, every earlier bench's dead rows stay in
  // messages and its indexes, and each run measures that history as much as Zyva (see BENCHMARKS.md).
  await db.query('VACUUM ANALYZE messages');

  const env = { ...session.env };
  if (args.concurrency !== 'default') env.WORKER_CONCURRENCY = String(CONCURRENCY);
  else delete env.WORKER_CONCURRENCY;
  const api = zyva.start({ ...env, APP_ROLE: 'api' });
  const nodeArgs = [
    ...(args['cpu-prof-dir'] ? ['--cpu-prof', `--cpu-prof-dir=${args['cpu-prof-dir']}`] : []),
    ...args['worker-node-args'].split(' ').filter(Boolean),
  ];
  const workers = Array.from({ length: WORKERS }, () => zyva.start({ ...env, APP_ROLE: 'worker' }, nodeArgs));
  await zyva.waitForHealth();
  await sleep(1000); // workers finish booting
  const { token, orgId } = await setUp();

  const results = [];
  for (let r = 1; r <= RUNS; r++) {
    // Baseline and pipeline alternate, so both see the same machine (others may be using it too).
    const noop = await rawBullmqNoop();
    const cpuBefore = cpuSeconds(api.pid);
    const workersBefore = workers.map((w) => cpuSeconds(w.pid));
    const pipeline = await campaignRun(token, orgId);
    const apiCpu = (cpuSeconds(api.pid) - cpuBefore) / (pipeline.totalMs / 1000);
    const workerCpu = workers.reduce((sum, w, i) => sum + cpuSeconds(w.pid) - workersBefore[i], 0) / (pipeline.totalMs / 1000);
    results.push({ noop: noop.rate, pipeline: pipeline.rate, apiCpu, workerCpu });
    console.log(
      `run ${r}: raw BullMQ no-op ${Math.round(noop.rate)} jobs/s | campaign 202 in ${pipeline.acceptMs.toFixed(0)} ms, ` +
        `fan-out done ${pipeline.fannedOutMs.toFixed(0)} ms, all SENT ${pipeline.totalMs.toFixed(0)} ms = ${Math.round(pipeline.rate)} messages/s ` +
        `| ratio ${(pipeline.rate / noop.rate).toFixed(2)} | API process ${(apiCpu * 100).toFixed(0)}% of a core, worker(s) ${(workerCpu * 100).toFixed(0)}%`,
    );
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const noopMedian = median(results.map((x) => x.noop));
  const pipelineMedian = median(results.map((x) => x.pipeline));
  console.log(`\nmedian of ${RUNS} runs (${CONTACTS} contacts, WORKER_CONCURRENCY=${CONCURRENCY_LABEL}, ${WORKERS} worker process(es)):`);
  console.log(`  raw BullMQ no-op        ${Math.round(noopMedian)} jobs/s`);
  console.log(`  pipeline end to end     ${Math.round(pipelineMedian)} messages/s (best ${Math.round(Math.max(...results.map((x) => x.pipeline)))})`);
  console.log(`  ratio pipeline / no-op  ${(pipelineMedian / noopMedian).toFixed(2)}`);
  console.log(`  API process CPU         ${(median(results.map((x) => x.apiCpu)) * 100).toFixed(0)}% of a core during the campaign (the bench polls Postgres, not the API; the API's metrics listeners read every job event)`);
  console.log(`  worker process(es) CPU  ${(median(results.map((x) => x.workerCpu)) * 100).toFixed(0)}% of a core during the campaign`);
  console.log(`  goal >= 2000 messages/s ${pipelineMedian >= 2000 ? 'met' : 'NOT met'}`);
  const best = Math.max(...results.map((x) => x.pipeline));
  const bestRatio = Math.max(...results.map((x) => x.pipeline / x.noop));
  console.log(`  issue 12: >= 5000 messages/s at the best setting (best ${Math.round(best)}) or ratio >= 0.35 (best ${bestRatio.toFixed(2)}): ${best >= 5000 || pipelineMedian / noopMedian >= 0.35 ? 'met' : 'NOT met'}`);
}

/** One campaign to every contact: POST accepted -> every message SENT in Postgres, checked at the provider. */
async function campaignRun(token, orgId) {
  standIn.reset();
  const before = (await db.query('SELECT "messagesThisMonth" FROM organizations WHERE id = $1', [orgId])).rows[0].messagesThisMonth;
  const accepted = performance.now();
  const res = await fetch(`${zyva.url}/api/campaigns`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}`, 'X-Forwarded-For': '10.9.9.9' },
    body: JSON.stringify({ name: 'bench', channel: 'WHATSAPP', content: 'Oi {{nome}}, a coleção nova chegou!' }),
  });
  const acceptMs = performance.now() - accepted;
  const campaign = await res.json();
  if (res.status !== 202) throw new Error(`campaign refused: ${res.status} ${JSON.stringify(campaign)}`);

  let sent = 0;
  let fannedOutMs;
  // Polled every 100 ms (the measurement itself takes Postgres time on a small machine).
  while (sent < CONTACTS) {
    await sleep(100);
    if (fannedOutMs === undefined) {
      const { rows } = await db.query(`SELECT count(*)::int AS n FROM messages WHERE "campaignId" = $1`, [campaign.id]);
      if (rows[0].n === CONTACTS) fannedOutMs = performance.now() - accepted;
    }
    const { rows } = await db.query(`SELECT count(*)::int AS n FROM messages WHERE "campaignId" = $1 AND status = 'SENT'`, [campaign.id]);
    sent = rows[0].n;
    if (performance.now() - accepted > 300_000) throw new Error(`timed out with ${sent} of ${CONTACTS} sent`);
  }
  const totalMs = performance.now() - accepted;

  const calls = standIn.requestsTo('messages');
  const unique = new Set(calls.map((c) => c.body.to)).size;
  const after = (await db.query('SELECT "messagesThisMonth" FROM organizations WHERE id = $1', [orgId])).rows[0].messagesThisMonth;
  if (unique !== CONTACTS || calls.length !== CONTACTS || after - before !== CONTACTS) {
    throw new Error(`duplicate or missing sends: ${calls.length} requests, ${unique} recipients, counter +${after - before}`);
  }
  return { acceptMs, fannedOutMs: fannedOutMs ?? totalMs, totalMs, rate: CONTACTS / (totalMs / 1000) };
}

/** Raw BullMQ: addBulk N no-op jobs while one worker with the same concurrency drains them. */
async function rawBullmqNoop() {
  const name = 'noop';
  const prefix = `${PREFIX}-noop`;
  const queue = new Queue(name, { connection, prefix, defaultJobOptions: { removeOnComplete: { count: 100 }, removeOnFail: { count: 500 } } });
  let done = 0;
  let resolveDone;
  const finished = new Promise((r) => (resolveDone = r));
  const worker = new Worker(name, async () => undefined, { connection, prefix, concurrency: CONCURRENCY });
  worker.on('completed', () => {
    if (++done === NOOP_JOBS) resolveDone();
  });
  await worker.waitUntilReady();
  const started = performance.now();
  for (let i = 0; i < NOOP_JOBS; i += 1000) {
    await queue.addBulk(Array.from({ length: Math.min(1000, NOOP_JOBS - i) }, (_, j) => ({ name, data: { i: i + j } })));
  }
  await finished;
  const ms = performance.now() - started;
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  return { ms: Math.round(ms), rate: NOOP_JOBS / (ms / 1000) };
}

async function setUp() {
  const store = await session.registerStore(CONTACTS);
  await fetch(`${zyva.url}/health`);
  return store;
}


runBench(session, main);
