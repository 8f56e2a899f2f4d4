#!/usr/bin/env node
/**
 * bench/api.mjs: throughput of the cached `GET /api/contacts` against a bare
 * NestJS + Fastify route, measured in the same run with `wrk`.
 *
 *   npm run bench:api     needs wrk (apt-get install -y wrk), and Postgres (migrated: npx prisma migrate deploy)
 *                         and Redis as for the tests (DATABASE_URL, REDIS_URL; the test defaults otherwise)
 *   BENCH_CLUSTER=1 npm run bench:api
 *                         also measures the app on a Redis Cluster, beside the single node: a local 3-master
 *                         cluster is started for it (test/utils/redis-cluster.mjs, under .data/bench-cluster)
 *                         unless BENCH_CLUSTER_NODES names the seeds of one to use
 *
 * How it runs, so the figure is honest:
 * - The real app is compiled with tsc (tsconfig.build.json) into .data/bench-build and started as
 *   production starts it (`node main.js`, NODE_ENV=production, LOG_LEVEL=info, APP_ROLE=api).
 * - One ENTERPRISE organization with 20 contacts (created through the API). Requests are spread over
 *   BENCH_USERS (400) LOJA users of that organization, so the per-user plan limit (10,000/min) is
 *   never reached: every request goes through the AuthGuard (session GETEX), the plan throttler
 *   (one script on the organization's slot: the user's counter, the organization's plan, and the
 *   cached list the route will answer, or only its version) and the cache interceptor's hit, and answers
 *   200 with X-Cache: HIT.
 *   Their sessions are written straight into Redis in the shape SessionService writes (logging in
 *   400 times would trip the per-IP login limit); the users exist in Postgres.
 * - The baseline (bench/api.bare.mjs) is a bare Nest + Fastify app whose one route answers the same
 *   JSON bytes, with no guard, no Redis, no logger. It gets the same wrk script and headers.
 * - Warm-up of each, then BENCH_ROUNDS (5) alternating runs of BENCH_DURATION (10s) each with
 *   `wrk -t1 -c50`; the medians, their ratio and the median of the per-round ratios (each pair
 *   measured back to back, which cancels load that drifts during the run) are printed, for the
 *   single node and, with BENCH_CLUSTER, for the cluster (a second app process, started the same way
 *   with REDIS_CLUSTER_NODES instead of REDIS_URL). Any non-2xx answer fails the bench.
 * - BENCH_SKIP_BUILD=1 reuses the last build; BENCH_LOG_LEVEL overrides the app's level;
 *   BENCH_NODE_ARGS / BENCH_APP_MAIN start the app with other node flags or through a wrapper
 *   (profiling). The 2-core machine is shared by wrk, Redis and the app: run it on a quiet machine.
 * Everything it creates (organization, users, sessions, counters, cache keys, the
 * app's queue keys under a prefix of its own, a cluster it started)
 * is removed at the end.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import Redis from 'ioredis';
import pg from 'pg';
import { hasCommand, root } from '../scripts/lib.mjs';
import { PRODUCTION_MEMORY, stopProcess } from './zyva-processes.mjs';

const DATABASE_URL = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/zyva_test';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const CLUSTER = process.env.BENCH_CLUSTER === '1' || process.env.BENCH_CLUSTER_NODES !== undefined;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const DURATION = process.env.BENCH_DURATION ?? '10s';
const USERS = Number(process.env.BENCH_USERS ?? 400);
const CONTACTS = 20;
const APP_PORT = Number(process.env.BENCH_APP_PORT ?? 3901);
const BARE_PORT = Number(process.env.BENCH_BARE_PORT ?? 3902);
const CLUSTER_APP_PORT = Number(process.env.BENCH_CLUSTER_APP_PORT ?? 3903);
const work = `${root}.data/bench-api`;
const build = `${root}.data/bench-build`;
const clusterDir = `${root}.data/bench-cluster`;

if (!hasCommand('wrk')) {
  console.error('wrk is not installed: apt-get install -y wrk');
  process.exit(1);
}

const children = [];
const id = () => `bench${randomBytes(8).toString('hex')}`;
/** The apps' BullMQ prefix: their queues write their meta keys at startup, under this run's own prefix. */
const QUEUE_PREFIX = `zyvabench-${randomBytes(4).toString('hex')}`;

/** The app and the bare route alike run with the memory settings of the Dockerfile. */
function startProcess(label, args, env) {
  const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...PRODUCTION_MEMORY, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  child.on('exit', (code) => {
    if (code !== null && code !== 0) console.error(`${label} exited with ${code}\n${stderr}`);
  });
  children.push(child);
  return child;
}

async function waitForHttp(url, headers = {}) {
  let last;
  for (let i = 0; i < 200; i++) {
    try {
      const res = await fetch(url, { headers });
      if (res.ok) return;
      last = `status ${res.status}`;
    } catch (error) {
      last = error.message; // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`${url} did not come up (${last})`);
}

function wrk(port) {
  const r = spawnSync(
    'wrk',
    ['-t1', '-c50', `-d${DURATION}`, '-s', `${root}bench/api.wrk.lua`, `http://127.0.0.1:${port}/api/contacts`],
    { encoding: 'utf8', env: { ...process.env, BENCH_TOKENS_FILE: `${work}/tokens.txt` } },
  );
  if (r.status !== 0) throw new Error(`wrk failed: ${r.stderr}`);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1]);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(r.stdout)?.[1] ?? 0);
  const errors = /Socket errors:.*/.exec(r.stdout)?.[0];
  if (non2xx > 0 || errors) throw new Error(`port ${port}: ${non2xx} non-2xx answers ${errors ?? ''}\n${r.stdout}`);
  return rps;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** The seeds of the cluster to measure on: given, or a local one started for the bench. */
function clusterSeeds() {
  if (process.env.BENCH_CLUSTER_NODES) return process.env.BENCH_CLUSTER_NODES;
  const r = spawnSync(process.execPath, [`${root}test/utils/redis-cluster.mjs`, 'start', clusterDir, '7330'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`could not start a local Redis Cluster: ${r.stderr}`);
  return r.stdout.trim();
}

/** The users' sessions, in the shape SessionService writes (its index note far ahead, so no request refreshes it). */
async function writeSessions(redis, orgId, userIds, tokens) {
  await Promise.all(
    userIds.map((userId, i) => {
      const session = { userId, role: 'LOJA', organizationId: orgId, createdAt: Date.now(), indexedUntil: Date.now() + 14 * 86_400_000 };
      return redis.set(`zyva:session:${tokens[i]}`, JSON.stringify(session), 'EX', 3600);
    }),
  );
}

function startApp(label, port, redisEnv) {
  startProcess(label, [...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean), process.env.BENCH_APP_MAIN ?? `${build}/main.js`], {
    PORT: String(port),
    APP_ROLE: 'api',
    NODE_ENV: 'production',
    UNSUBSCRIBE_SECRET: 'benchmark-unsubscribe-secret-not-for-real-use',
    APP_URL: 'https://bench.zyva.test',
    QUEUE_PREFIX,
    CHANNEL_ENCRYPTION_KEYS: `bench:${Buffer.alloc(32, 7).toString('base64')}`,
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info',
    DATABASE_URL,
    REDIS_URL: undefined,
    REDIS_CLUSTER_NODES: undefined,
    ...redisEnv,
  });
  return waitForHttp(`http://127.0.0.1:${port}/health`);
}

/** Two requests through the app: the list is cached, and the second one is a HIT of the full list. */
async function cachedBody(port, auth) {
  await fetch(`http://127.0.0.1:${port}/api/contacts`, { headers: auth });
  const cached = await fetch(`http://127.0.0.1:${port}/api/contacts`, { headers: auth });
  const body = await cached.text();
  if (cached.headers.get('x-cache') !== 'HIT' || JSON.parse(body).data.length !== CONTACTS) {
    throw new Error(`port ${port}: expected a cached list of ${CONTACTS} contacts, got X-Cache ${cached.headers.get('x-cache')}`);
  }
  return body;
}

async function removeKeys(redis, orgId, userIds, tokens) {
  const keys = [
    ...tokens.map((t) => `zyva:session:${t}`),
    ...userIds.map((u) => `zyva:ratelimit:plan:{${orgId}}:${u}`),
    `zyva:cache:org:{${orgId}}`,
    `zyva:cache:stats:{${orgId}}:dashboard`,
    `zyva:cache:version:stats:{${orgId}}:dashboard`,
    `zyva:cache:index:{${orgId}}`,
    `zyva:cache:fence:{${orgId}}`,
    `zyva:cache:writing:{${orgId}}`,
    `zyva:plan:{${orgId}}`,
  ];
  const nodes = redis.isCluster ? redis.nodes('master') : [redis];
  // The contact lists and their versions (zyva:cache:version:<entry>), and the apps' queues.
  for (const pattern of [`zyva:cache:contacts:{${orgId}}:*`, `zyva:cache:version:contacts:{${orgId}}:*`, `${QUEUE_PREFIX}:*`]) {
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, found] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        keys.push(...found);
      } while (cursor !== '0');
    }
  }
  // One key per command: on a cluster the keys live in different slots.
  await Promise.all(keys.map((key) => redis.unlink(key)));
}

async function main() {
  mkdirSync(work, { recursive: true });
  if (process.env.BENCH_SKIP_BUILD !== '1') {
    console.log('compiling the app (tsc, tsconfig.build.json) into .data/bench-build …');
    const tsc = spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json', '--outDir', build], { cwd: root, encoding: 'utf8' });
    if (tsc.status !== 0) console.warn(`tsc reported errors (output still emitted):\n${tsc.stdout.slice(0, 2000)}`);
  }

  const db = new pg.Client({ connectionString: DATABASE_URL });
  await db.connect();
  const redis = new Redis(REDIS_URL);
  const seeds = CLUSTER ? clusterSeeds() : undefined;
  const cluster = seeds ? new Redis.Cluster(seeds.split(',').map((seed) => ({ host: seed.split(':')[0], port: Number(seed.split(':')[1]) }))) : undefined;
  const orgId = id();
  const userIds = Array.from({ length: USERS }, id);
  const tokens = userIds.map(() => randomBytes(32).toString('base64url'));
  try {
    await db.query(
      `INSERT INTO organizations (id, name, plan, "maxContacts", "maxMessagesPerMonth", "updatedAt")
       VALUES ($1, 'Bench store', 'ENTERPRISE', 200000, 1000000, now())`,
      [orgId],
    );
    await db.query(
      `INSERT INTO users (id, email, "passwordHash", name, role, "organizationId", "updatedAt")
       SELECT u, u || '@bench.zyva.dev', '!', 'Bench user', 'LOJA', $2, now() FROM unnest($1::text[]) AS u`,
      [userIds, orgId],
    );
    await writeSessions(redis, orgId, userIds, tokens);
    if (cluster) await writeSessions(cluster, orgId, userIds, tokens);
    writeFileSync(`${work}/tokens.txt`, `${tokens.join('\n')}\n`);

    await startApp('app (one node)', APP_PORT, { REDIS_URL });
    const auth = { Authorization: `Bearer ${tokens[0]}`, 'Content-Type': 'application/json' };
    for (let i = 0; i < CONTACTS; i++) {
      const res = await fetch(`http://127.0.0.1:${APP_PORT}/api/contacts`, {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({
          name: `Contato ${i}`,
          email: `contato${i}@bench.zyva.dev`,
          phone: `+55119${String(10000000 + i)}`,
          birthday: '1990-04-12',
          tags: ['bench', i % 2 ? 'vip' : 'newsletter'],
        }),
      });
      if (res.status !== 201) throw new Error(`creating a contact answered ${res.status}: ${await res.text()}`);
    }
    const body = await cachedBody(APP_PORT, auth);
    writeFileSync(`${work}/body.json`, body);
    if (cluster) {
      await startApp('app (cluster)', CLUSTER_APP_PORT, { REDIS_CLUSTER_NODES: seeds });
      if ((await cachedBody(CLUSTER_APP_PORT, auth)) !== body) throw new Error('the cluster app answers another list than the single-node one');
    }

    startProcess('bare app', [`${root}bench/api.bare.mjs`], { PORT: String(BARE_PORT), BENCH_BODY_FILE: `${work}/body.json` });
    await waitForHttp(`http://127.0.0.1:${BARE_PORT}/api/contacts`);

    const targets = [
      { label: 'cached GET /api/contacts, one node', port: APP_PORT, rps: [] },
      ...(cluster ? [{ label: 'cached GET /api/contacts, cluster ', port: CLUSTER_APP_PORT, rps: [] }] : []),
    ];
    console.log(`body ${Buffer.byteLength(body)} bytes; ${USERS} users; wrk -t1 -c50 -d${DURATION}; warming up …`);
    wrk(BARE_PORT);
    for (const target of targets) wrk(target.port);
    const bare = [];
    for (let round = 1; round <= ROUNDS; round++) {
      bare.push(wrk(BARE_PORT));
      for (const target of targets) target.rps.push(wrk(target.port));
      console.log(`round ${round}: bare ${bare.at(-1).toFixed(0)} req/s, ${targets.map((t) => `${t.label.trim()} ${t.rps.at(-1).toFixed(0)} req/s`).join(', ')}`);
    }
    const counted = (await redis.mget(userIds.map((u) => `zyva:ratelimit:plan:{${orgId}}:${u}`))).reduce((sum, v) => sum + Number(v ?? 0), 0);
    console.log('');
    console.log(`bare NestJS-Fastify route                ${median(bare).toFixed(0)} req/s (median of ${ROUNDS})`);
    for (const target of targets) {
      const ratio = median(target.rps) / median(bare);
      const pairRatio = median(target.rps.map((rps, i) => rps / bare[i]));
      console.log(`${target.label}        ${median(target.rps).toFixed(0)} req/s (median of ${ROUNDS}); ratio ${ratio.toFixed(2)} (goal >= 0.35), median of per-round ratios ${pairRatio.toFixed(2)}`);
    }
    console.log(`requests counted by the one-node plan throttler in the last minute: ${counted}`);
  } finally {
    // Waited for, so no app writes a key after the clean-up.
    await Promise.all(children.map(stopProcess));
    await db.query('DELETE FROM users WHERE "organizationId" = $1', [orgId]);
    await db.query('DELETE FROM organizations WHERE id = $1', [orgId]);
    await removeKeys(redis, orgId, userIds, tokens);
    await redis.quit();
    if (cluster) {
      await removeKeys(cluster, orgId, userIds, tokens);
      await cluster.quit();
      if (!process.env.BENCH_CLUSTER_NODES) spawnSync(process.execPath, [`${root}test/utils/redis-cluster.mjs`, 'stop', clusterDir]);
    }
    await db.end();
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    for (const child of children) child.kill('SIGTERM');
    process.exit(1);
  },
);
