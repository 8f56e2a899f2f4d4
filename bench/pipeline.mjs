#!/usr/bin/env node
// Pipeline benchmark: a 10,000-contact WhatsApp campaign, end to end (POST
// /api/campaigns accepted -> every message SENT in Postgres), through real
// API and worker processes, Postgres, Redis and a local WhatsApp Cloud API
// stand-in; printed next to raw BullMQ no-op throughput measured in the same
// run on the same Redis, which is the ceiling any BullMQ pipeline here has.
//
//   npm run bench:pipeline -- [--contacts 10000] [--concurrency 200] [--workers 1] [--runs 3] [--noop-jobs 10000]
//
// Uses its own database (zyva_bench, migrated on start) and its own BullMQ
// prefix, both cleaned up afterwards. DATABASE_URL / REDIS_URL override.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { ensureDatabase, root, run } from '../scripts/lib.mjs';

const require = createRequire(import.meta.url);
require('./pipeline.register.cjs');
const { Queue, Worker } = require('bullmq');
const { startWhatsAppStandIn } = require('../test/utils/provider-stand-ins.ts');

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
const CONCURRENCY = Number(args.concurrency);
const WORKERS = Number(args.workers);
const NOOP_JOBS = Number(args['noop-jobs']);
const RUNS = Number(args.runs);

const DATABASE_URL = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/zyva_bench';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = `zyvabench-${randomBytes(4).toString('hex')}`;
const PORT = 3900 + Math.floor(Math.random() * 90);
const WA = { phoneNumberId: '900100200300', accessToken: 'bench-token' };
const redisUrl = new URL(REDIS_URL);
const connection = { host: redisUrl.hostname, port: Number(redisUrl.port || 6379), db: Number(redisUrl.pathname.slice(1) || 0), maxRetriesPerRequest: null };

const children = [];
let db;
let standIn;

async function main() {
  console.log(`Pipeline bench: ${CONTACTS} contacts, WORKER_CONCURRENCY=${CONCURRENCY}, ${WORKERS} worker process(es)`);
  console.log(`Machine: ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`);
  await ensureDatabase(DATABASE_URL);
  run('npx', ['prisma', 'migrate', 'deploy'], { ...process.env, DATABASE_URL, CHECKPOINT_DISABLE: '1' });
  db = new pg.Client({ connectionString: DATABASE_URL });
  await db.connect();

  standIn = await startWhatsAppStandIn(WA);
  const env = {
    ...process.env,
    NODE_ENV: 'production',
    UNSUBSCRIBE_SECRET: 'benchmark-unsubscribe-secret-not-for-real-use',
    APP_URL: 'https://bench.zyva.test',
    CHANNEL_ENCRYPTION_KEYS: `bench:${Buffer.alloc(32, 7).toString('base64')}`,
    DATABASE_URL,
    REDIS_URL,
    QUEUE_PREFIX: PREFIX,
    LOG_LEVEL: 'warn',
    SWAGGER_ENABLED: 'false',
    TRUST_PROXY: 'true',
    WORKER_CONCURRENCY: String(CONCURRENCY),
    WHATSAPP_API_URL: standIn.url,
    // The stand-in is not Meta: the platform number's pace (80/s by default) would be the only thing measured.
    WHATSAPP_MAX_PER_SECOND: '100000',
    WHATSAPP_PHONE_ID: WA.phoneNumberId,
    WHATSAPP_TOKEN: WA.accessToken,
    RESEND_API_KEY: 'unused',
    RESEND_API_URL: standIn.url,
  };
  startProcess({ ...env, APP_ROLE: 'api', PORT: String(PORT) });
  const nodeArgs = [
    ...(args['cpu-prof-dir'] ? ['--cpu-prof', `--cpu-prof-dir=${args['cpu-prof-dir']}`] : []),
    ...args['worker-node-args'].split(' ').filter(Boolean),
  ];
  for (let i = 0; i < WORKERS; i++) startProcess({ ...env, APP_ROLE: 'worker' }, nodeArgs);
  await waitForHttp(`http://127.0.0.1:${PORT}/health`);
  await sleep(1000); // workers finish booting
  const { token, orgId } = await setUp();

  const results = [];
  for (let r = 1; r <= RUNS; r++) {
    // Baseline and pipeline alternate, so both see the same machine (others may be using it too).
    const noop = await rawBullmqNoop();
    const pipeline = await campaignRun(token, orgId);
    results.push({ noop: noop.rate, pipeline: pipeline.rate });
    console.log(
      `run ${r}: raw BullMQ no-op ${Math.round(noop.rate)} jobs/s | campaign 202 in ${pipeline.acceptMs.toFixed(0)} ms, ` +
        `fan-out done ${pipeline.fannedOutMs.toFixed(0)} ms, all SENT ${pipeline.totalMs.toFixed(0)} ms = ${Math.round(pipeline.rate)} messages/s ` +
        `| ratio ${(pipeline.rate / noop.rate).toFixed(2)}`,
    );
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const noopMedian = median(results.map((x) => x.noop));
  const pipelineMedian = median(results.map((x) => x.pipeline));
  console.log(`\nmedian of ${RUNS} runs (${CONTACTS} contacts, WORKER_CONCURRENCY=${CONCURRENCY}, ${WORKERS} worker process(es)):`);
  console.log(`  raw BullMQ no-op        ${Math.round(noopMedian)} jobs/s`);
  console.log(`  pipeline end to end     ${Math.round(pipelineMedian)} messages/s (best ${Math.round(Math.max(...results.map((x) => x.pipeline)))})`);
  console.log(`  ratio pipeline / no-op  ${(pipelineMedian / noopMedian).toFixed(2)}`);
  console.log(`  goal >= 2000 messages/s ${pipelineMedian >= 2000 ? 'met' : 'NOT met'}`);
}

/** One campaign to every contact: POST accepted -> every message SENT in Postgres, checked at the provider. */
async function campaignRun(token, orgId) {
  standIn.reset();
  const before = (await db.query('SELECT "messagesThisMonth" FROM organizations WHERE id = $1', [orgId])).rows[0].messagesThisMonth;
  const accepted = performance.now();
  const res = await fetch(`http://127.0.0.1:${PORT}/api/campaigns`, {
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
  const email = `bench-${randomBytes(4).toString('hex')}@bench.zyva.dev`;
  const res = await fetch(`http://127.0.0.1:${PORT}/api/auth/register`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Forwarded-For': '10.9.9.8' },
    body: JSON.stringify({ email, password: 'bench password 1', name: 'Bench', organizationName: 'Bench store' }),
  });
  const body = await res.json();
  if (res.status !== 201) throw new Error(`register failed: ${res.status} ${JSON.stringify(body)}`);
  const orgId = body.organization.id;
  await db.query(`UPDATE organizations SET plan = 'ENTERPRISE', "maxContacts" = 200000, "maxMessagesPerMonth" = 1000000 WHERE id = $1`, [orgId]);
  await db.query(
    `INSERT INTO contacts (id, "organizationId", name, phone, "createdAt", "updatedAt")
     SELECT 'bench' || md5($1 || i::text), $1, 'Cliente ' || i, '+5511' || lpad(i::text, 9, '0'), now(), now()
     FROM generate_series(1, $2::int) AS i`,
    [orgId, CONTACTS],
  );
  await db.query(`UPDATE organizations SET "contactCount" = $2 WHERE id = $1`, [orgId, CONTACTS]);
  // The cached organization (plan, caps) was filled at registration.
  await fetch(`http://127.0.0.1:${PORT}/health`);
  const { default: Redis } = await import('ioredis');
  const redis = new Redis(connection);
  await redis.del(`zyva:cache:org:{${orgId}}`, `zyva:plan:{${orgId}}`, `zyva:limits:{${orgId}}:messages`);
  await redis.quit();
  cleanup.orgId = orgId;
  cleanup.email = email;
  return { token: body.token, orgId };
}

function startProcess(env, nodeArgs = []) {
  const child = spawn(process.execPath, [...nodeArgs, '-r', './bench/pipeline.register.cjs', 'src/main.ts'], { cwd: root, env, stdio: ['ignore', 'inherit', 'inherit'] });
  children.push(child);
  return child;
}

async function waitForHttp(url) {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const up = await fetch(url).then(
      (res) => res.ok,
      () => false, // not listening yet
    );
    if (up) return;
    await sleep(200);
  }
  throw new Error(`${url} did not come up`);
}

const cleanup = {};
async function tearDown() {
  await Promise.all(
    children.map(
      (c) =>
        new Promise((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          c.on('exit', resolve);
          c.kill('SIGTERM');
        }),
    ),
  );
  const { default: Redis } = await import('ioredis');
  const redis = new Redis(connection);
  if (cleanup.orgId) await redis.del(`zyva:limits:{${cleanup.orgId}}:messages`, `zyva:cache:org:{${cleanup.orgId}}`, `zyva:cache:stats:{${cleanup.orgId}}:dashboard`, `zyva:plan:{${cleanup.orgId}}`);
  for (const name of ['messages', 'flows', 'birthdays', 'social-posts', 'emails']) {
    // Each queue's own hash tag sits in its prefix (src/core/queues/queue-prefix.ts).
    const queue = new Queue(name, { connection, prefix: `${PREFIX}:{${name}}` });
    await queue.obliterate({ force: true }).catch((e) => console.error(`obliterate ${name}: ${e.message}`));
    await queue.close();
  }
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${PREFIX}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.unlink(...keys);
  } while (cursor !== '0');
  await redis.quit();
  if (db) {
    if (cleanup.orgId) await db.query('DELETE FROM organizations WHERE id = $1', [cleanup.orgId]);
    if (cleanup.email) await db.query('DELETE FROM users WHERE email = $1', [cleanup.email]);
    await db.end();
  }
  if (standIn) await standIn.close();
}

main()
  .then(tearDown)
  .catch(async (error) => {
    console.error(error);
    await tearDown().catch((e) => console.error(e));
    process.exit(1);
  });
