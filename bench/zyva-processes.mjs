// What the end-to-end benches share: real Zyva processes (API, workers) run from
// source as the tests start them (test/utils/processes.ts) or compiled as production
// runs them, with the Dockerfile's memory settings, stores registered
// through the API with contacts and extra users inserted in bulk, and the cleanup
// of everything a bench wrote to Postgres and Redis.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { ensureDatabase, root, run } from '../scripts/lib.mjs';

const require = createRequire(import.meta.url);
require('./pipeline.register.cjs');
const { Queue } = require('bullmq');
const { default: Redis } = require('ioredis');
const { startWhatsAppStandIn } = require('../test/utils/provider-stand-ins.ts');
const { fromSource, stopProcess } = require('../test/utils/processes.ts');

export { stopProcess };

export const QUEUE_NAMES = ['messages', 'flows', 'birthdays', 'social-posts', 'emails'];

/** The bench's own database (zyva_bench) and Redis, overridable with DATABASE_URL / REDIS_URL. */
export function benchTargets() {
  const DATABASE_URL = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/zyva_bench';
  const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const url = new URL(REDIS_URL);
  const connection = { host: url.hostname, port: Number(url.port || 6379), db: Number(url.pathname.slice(1) || 0), maxRetriesPerRequest: null };
  return { DATABASE_URL, REDIS_URL, connection };
}

/** The memory settings the Dockerfile gives every process (see README, "Roles"). */
export const PRODUCTION_MEMORY = { MALLOC_ARENA_MAX: '2', NODE_OPTIONS: '--max-semi-space-size=8' };

/** The environment of production processes sending WhatsApp through the stand-in (platform account, unpaced). */
export function productionEnv({ DATABASE_URL, REDIS_URL }, standIn, whatsapp) {
  return {
    ...process.env,
    NODE_ENV: 'production',
    ...PRODUCTION_MEMORY,
    UNSUBSCRIBE_SECRET: 'benchmark-unsubscribe-secret-not-for-real-use',
    APP_URL: 'https://bench.zyva.test',
    CHANNEL_ENCRYPTION_KEYS: `bench:${Buffer.alloc(32, 7).toString('base64')}`,
    DATABASE_URL,
    REDIS_URL,
    LOG_LEVEL: 'warn',
    SWAGGER_ENABLED: 'false',
    TRUST_PROXY: 'true',
    WHATSAPP_API_URL: standIn.url,
    // The stand-in is not Meta: the platform number's pace (80/s by default) would be the only thing measured.
    WHATSAPP_MAX_PER_SECOND: '100000',
    WHATSAPP_PHONE_ID: whatsapp.phoneNumberId,
    WHATSAPP_TOKEN: whatsapp.accessToken,
    RESEND_API_KEY: 'unused',
    RESEND_API_URL: standIn.url,
  };
}

/**
 * One bench run: its database (migrated), Redis, WhatsApp stand-in, Zyva processes and stores;
 * `close()` stops the processes and removes everything the run wrote.
 */
export class BenchSession {
  constructor(whatsapp) {
    this.whatsapp = whatsapp;
    this.targets = benchTargets();
    this.zyva = new ZyvaProcesses();
    this.stores = [];
    this.sessionKeys = [];
  }

  async open() {
    const { DATABASE_URL, connection } = this.targets;
    await ensureDatabase(DATABASE_URL);
    run('npx', ['prisma', 'migrate', 'deploy'], { ...process.env, DATABASE_URL, CHECKPOINT_DISABLE: '1' });
    this.db = new pg.Client({ connectionString: DATABASE_URL });
    await this.db.connect();
    // Earlier runs delete what they wrote: without autovacuum (off on some of these machines' Postgres) the dead
    // rows and their pages stay in every scan, and a run after a 10-minute one measured Postgres at 90% of a core
    // instead of 40%. The database holds nothing between runs, so rewriting its tables (FULL) is quick.
    await this.db.query('VACUUM (FULL, ANALYZE)');
    this.redis = new Redis(connection);
    this.standIn = await startWhatsAppStandIn(this.whatsapp);
    this.env = productionEnv(this.targets, this.standIn, this.whatsapp);
    return this;
  }

  registerStore(contacts, areaCode) {
    return registerStore({ url: this.zyva.url, db: this.db, redis: this.redis, contacts, areaCode, stores: this.stores });
  }

  /**
   * `count` more LOJA users of the store, each with a session written in the shape SessionService writes
   * (logging in that often would trip the per-IP login limit). They go with the store's organization;
   * their sessions are removed by close(). Answers their tokens.
   */
  async addUsers(store, count) {
    const userIds = Array.from({ length: count }, () => `bench${randomBytes(8).toString('hex')}`);
    await this.db.query(
      `INSERT INTO users (id, email, "passwordHash", name, role, "organizationId", "updatedAt")
       SELECT u, u || '@bench.zyva.dev', '!', 'Bench user', 'LOJA', $2, now() FROM unnest($1::text[]) AS u`,
      [userIds, store.orgId],
    );
    const tokens = [];
    for (const userId of userIds) {
      const token = randomBytes(32).toString('base64url');
      const data = { userId, role: 'LOJA', organizationId: store.orgId, createdAt: Date.now(), indexedUntil: Date.now() + 14 * 86_400_000 };
      this.sessionKeys.push(`zyva:session:${token}`);
      await this.redis.set(`zyva:session:${token}`, JSON.stringify(data), 'EX', 3600);
      tokens.push(token);
    }
    return tokens;
  }

  async close() {
    await this.zyva.stop();
    if (this.sessionKeys.length) await this.redis.unlink(...this.sessionKeys);
    if (this.db) {
      await cleanUp({ db: this.db, redis: this.redis, prefix: this.zyva.prefix, stores: this.stores, connection: this.targets.connection });
      await this.db.end();
    }
    await this.redis?.quit();
    await this.standIn?.close();
  }
}

/** Runs the bench, then closes its session, also after a failure (exit code 1). */
/** User + system CPU time a process has used so far, in seconds (Linux /proc; clock ticks of 100 Hz). */
export function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Compiles the app as `npm run build` does (tsc, tsconfig.build.json) into `outDir`; answers its `main.js`. */
export function compileApp(outDir) {
  const tsc = spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json', '--outDir', outDir], { cwd: root, encoding: 'utf8' });
  if (tsc.status !== 0) throw new Error(`tsc failed:\n${tsc.stdout.slice(0, 2000)}`);
  return `${outDir}/main.js`;
}

export function runBench(session, main) {
  main()
    .then(() => session.close())
    .catch(async (error) => {
      console.error(error);
      await session.close().catch((e) => console.error(e));
      process.exit(1);
    });
}

/** A bench run's processes, ports and BullMQ prefix; `stop()` ends them all. */
export class ZyvaProcesses {
  constructor() {
    this.children = [];
    this.prefix = `zyvabench-${randomBytes(4).toString('hex')}`;
    this.port = 3900 + Math.floor(Math.random() * 90);
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  /** A Zyva process from `src/` (through the swc hook), or from a compiled `main.js` when `main` names one. */
  start(env, nodeArgs = [], main = undefined) {
    const child = spawn(process.execPath, [...nodeArgs, ...(main ? [main] : fromSource('src/main.ts'))], {
      cwd: root,
      env: { QUEUE_PREFIX: this.prefix, PORT: String(this.port), ...env },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    this.children.push(child);
    return child;
  }

  async waitForHealth() {
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const up = await fetch(`${this.url}/health`).then(
        (res) => res.ok,
        () => false, // not listening yet
      );
      if (up) return;
      await sleep(200);
    }
    throw new Error(`${this.url}/health did not come up`);
  }

  async stop() {
    await Promise.all(this.children.map(stopProcess));
  }
}

/**
 * Registers a store through the API, lifts its plan for bulk sending and inserts
 * `contacts` contacts straight into Postgres (phones `+55<areaCode><9 digits>`).
 * Returns its token and organization id; `stores` remembers it for cleanUp.
 */
async function registerStore({ url, db, redis, contacts, areaCode = '11', stores }) {
  const email = `bench-${randomBytes(4).toString('hex')}@bench.zyva.dev`;
  const res = await fetch(`${url}/api/auth/register`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Forwarded-For': `10.9.${Math.floor(Math.random() * 250)}.8` },
    body: JSON.stringify({ email, password: 'bench password 1', name: 'Bench', organizationName: 'Bench store' }),
  });
  const body = await res.json();
  if (res.status !== 201) throw new Error(`register failed: ${res.status} ${JSON.stringify(body)}`);
  const orgId = body.organization.id;
  stores.push({ orgId, email, token: body.token, userId: body.user.id });
  await db.query(`UPDATE organizations SET plan = 'ENTERPRISE', "maxContacts" = 200000, "maxMessagesPerMonth" = 10000000 WHERE id = $1`, [orgId]);
  await db.query(
    `INSERT INTO contacts (id, "organizationId", name, phone, "createdAt", "updatedAt")
     SELECT 'bench' || md5($1 || i::text), $1, 'Cliente ' || i, '+55' || $3 || lpad(i::text, 9, '0'), now(), now()
     FROM generate_series(1, $2::int) AS i`,
    [orgId, contacts, areaCode],
  );
  await db.query(`UPDATE organizations SET "contactCount" = $2 WHERE id = $1`, [orgId, contacts]);
  // The cached organization (plan, caps) was filled at registration.
  await redis.del(`zyva:cache:org:{${orgId}}`, `zyva:plan:{${orgId}}`, `zyva:limits:{${orgId}}:messages`);
  return { token: body.token, orgId };
}

/** Removes the stores' rows and keys (the registering user's session too), the run's queues and every key under its prefix. */
async function cleanUp({ db, redis, prefix, stores, connection }) {
  for (const { orgId, token, userId } of stores) {
    await redis.del(`zyva:limits:{${orgId}}:messages`, `zyva:cache:org:{${orgId}}`, `zyva:cache:stats:{${orgId}}:dashboard`, `zyva:plan:{${orgId}}`);
    await redis.del(`zyva:session:${token}`, `zyva:user-sessions:${userId}`);
  }
  for (const name of QUEUE_NAMES) {
    // Each queue's own hash tag sits in its prefix (src/core/queues/queue-prefix.ts).
    const queue = new Queue(name, { connection, prefix: `${prefix}:{${name}}` });
    await queue.obliterate({ force: true }).catch((e) => console.error(`obliterate ${name}: ${e.message}`));
    await queue.close();
  }
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.unlink(...keys);
  } while (cursor !== '0');
  for (const { orgId, email } of stores) {
    await db.query('DELETE FROM organizations WHERE id = $1', [orgId]);
    await db.query('DELETE FROM users WHERE email = $1', [email]);
  }
}
