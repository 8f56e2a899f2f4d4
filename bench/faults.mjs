#!/usr/bin/env node
// Faults bench: exactly once under faults, measured from outside (issue 11, "Measured, not assumed").
//
//   npm run bench:faults                 # 3,000 messages per fault, Postgres away for 20 s
//   npm run bench:faults -- --short      # CI form: 300 messages, 5 s outage, about a minute
//   options: --messages N  --outage-ms MS  --latency-ms MS  --report-delay-ms MS  --db-cut close|reset
//            --faults 1,2,3,4  --trace  --keep-logs
//
// What runs: one API process (APP_ROLE=api) and one worker process (APP_ROLE=worker,
// WORKER_CONCURRENCY=20), both NODE_ENV=production (APP_URL, CHANNEL_ENCRYPTION_KEYS and
// UNSUBSCRIBE_SECRET set) and started from src/ through the swc hook (bench/pipeline.register.cjs), as
// bench/pipeline.mjs does. A local WhatsApp Cloud API stand-in (test/utils/provider-stand-ins.ts) is the
// platform number: it counts the sends it accepts per message (each send's biz_opaque_callback_data is
// Zyva's message id) and posts Meta's signed `sent` status report of each to the API's
// /api/webhooks/whatsapp (WHATSAPP_APP_SECRET), through a relay of this bench that records the API's
// answers and, like the stand-in, never delivers a refused report again (Meta would, later: nothing here
// may depend on a report arriving twice). The processes reach Postgres through a TCP proxy
// (test/utils/tcp-proxy.ts) that can drop every connection and refuse new ones, and Redis at a
// redis-server of this bench's own, on a free port, without persistence (--save '' --appendonly no):
// killed and started again on the same port, it is a Redis restarted empty. The machine's shared Redis
// is never touched. Database: zyva_faults (DATABASE_URL overrides it), migrated on start; the
// organization, its user, contacts and messages are removed at the end. The processes' logs (warn and
// above) go to a temporary directory, printed at start and removed after a clean run (--keep-logs).
//
// Four faults, one after the other, each on its own campaign to the same N contacts (a campaign starts
// once the previous one is settled, so every figure belongs to one fault):
//   1. worker SIGKILL x2: the worker is killed with SIGKILL once a quarter of the campaign was accepted
//      by the stand-in and a new one started at once; that one is killed in turn at half, and a third
//      one started. The dead workers' jobs are taken over after the lock time; their messages left
//      SENDING are settled by the stand-in's report naming them or, without one, sent again after
//      UNCERTAIN_SEND_WAIT_MS.
//   2. Postgres unreachable: once a third was accepted, the proxy drops all connections and refuses new
//      ones for --outage-ms (20 s; 5 s short), then accepts again (--db-cut reset: the connections are
//      reset, TCP RST, instead of closed).
//   3. Redis restarted empty: at the campaign's first accepted send (with 3,000 messages the fan-out job,
//      in batches of 1,000, is still creating them), the bench's redis-server is killed (SIGKILL) and
//      started again on the same port, empty: every job, the fan-out job, the job schedulers and the
//      sessions are gone (the bench logs in again when its session answers 401).
//   4. provider timeouts: every 50th send (2%) is accepted by the stand-in (counted, reported) but
//      answered only after PROVIDER_TIMEOUT_MS + 1 s, so the worker gives up on it: an unknown outcome.
// Per fault it prints: messages sent exactly once, twice (or more) and never, per recipient (one
// message per contact, so per recipient = per message), from the stand-in's counts; the time to settle
// (from the fault's injection, or from the campaign's POST for fault 4, until every message of the
// campaign is SENT/DELIVERED/READ/FAILED in Postgres); how many ended FAILED; how many were claimed
// again after an interrupted or unknown attempt (attempts > 1); and what the API answered while the
// fault lasted (from injection until settled): four routes polled every 250 ms (a cached GET
// /api/contacts, GET /api/campaigns/:id, GET /api/messages?limit=1, GET /health) and every status
// report relayed to the webhook. A 5xx other than 503 is a failure; 503 is what an unavailable
// dependency must answer. It also prints the jobs the API's metrics (QueueEvents) counted as completed
// during each campaign, which must keep counting after Redis restarted. After the last fault the bench
// waits one more UNCERTAIN_SEND_WAIT_MS (plus 5 s) and counts again, so a late second send is caught.
// Exit status 1 if anything was sent twice, never sent, FAILED, did not settle within 5 min, or a 5xx
// other than 503 was seen (both forms).
//
// Settings, and why (printed at start):
//   UNCERTAIN_SEND_WAIT_MS 15 s (5 s short): how long a WhatsApp message whose outcome is unknown waits
//     for Meta's report naming it before it is sent again. Production's 10 min covers Meta's real
//     delays; the stand-in reports --report-delay-ms after accepting, so 15 s is ample here.
//   RECONCILE_INTERVAL_MS 5 s, RECONCILE_GRACE_MS 10 s (2 s / 4 s short): how soon messages and
//     campaigns whose job Redis lost are queued again (production: 60 s / 120 s). The grace only has to
//     cover the moment between a message being stored and its job being added (the reconciler leaves
//     alone every message whose job is waiting, active or delayed), which takes milliseconds here.
//   WORKER_LOCK_DURATION_MS 10 s (5 s short): a dead worker's jobs run again within this (production
//     default 30 s). It stays above PROVIDER_TIMEOUT_MS: it is also the lease of a claimed send, during
//     which another run of the job leaves the message to the attempt that may still be in its call.
//   PROVIDER_TIMEOUT_MS 2 s (1 s short): the stand-in answers in --latency-ms, so the timeout only hits
//     the 2% answered late on purpose.
//   --latency-ms 30: the stand-in answers each send after 30 ms (a real provider call takes longer), so
//     a campaign lasts long enough for a fault to land mid-send and sends are always in flight.
//   --report-delay-ms 200: Meta's `sent` report reaches the API 200 ms after the send was accepted:
//     usually after the worker recorded the send; when a fault delays or loses the record, the report
//     naming the message settles it.
//   WORKER_CONCURRENCY 20, one worker process (as in the issue's measurement).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, openSync, rmSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { ensureDatabase, root, run } from '../scripts/lib.mjs';

const require = createRequire(import.meta.url);
require('./pipeline.register.cjs');
const { startWhatsAppStandIn } = require('../test/utils/provider-stand-ins.ts');
const { TcpProxy } = require('../test/utils/tcp-proxy.ts');

const { values: args } = parseArgs({
  options: {
    short: { type: 'boolean', default: false },
    messages: { type: 'string' },
    'outage-ms': { type: 'string' },
    'latency-ms': { type: 'string', default: '30' },
    'report-delay-ms': { type: 'string', default: '200' },
    'keep-logs': { type: 'boolean', default: false },
    /** Run only these faults, e.g. `--faults 2,3` (development). */
    faults: { type: 'string', default: '1,2,3,4' },
    /** `reset`: fault 2 resets the connections (TCP RST) instead of closing them. */
    'db-cut': { type: 'string', default: 'close' },
    /** Print each campaign's progress every second (development). */
    trace: { type: 'boolean', default: false },
  },
});
const SHORT = args.short;
const N = Number(args.messages ?? (SHORT ? 300 : 3000));
const OUTAGE_MS = Number(args['outage-ms'] ?? (SHORT ? 5000 : 20_000));
const LATENCY_MS = Number(args['latency-ms']);
const REPORT_DELAY_MS = Number(args['report-delay-ms']);
/** One send in TIMEOUT_EVERY times out after being accepted: 2%. */
const TIMEOUT_EVERY = 50;
const SETTINGS = {
  WORKER_CONCURRENCY: 20,
  UNCERTAIN_SEND_WAIT_MS: SHORT ? 5000 : 15_000,
  RECONCILE_INTERVAL_MS: SHORT ? 2000 : 5000,
  RECONCILE_GRACE_MS: SHORT ? 4000 : 10_000,
  WORKER_LOCK_DURATION_MS: SHORT ? 5000 : 10_000,
  PROVIDER_TIMEOUT_MS: SHORT ? 1000 : 2000,
};
/** A fault whose campaign is not settled within this long counts as stuck. */
const SETTLE_LIMIT_MS = 300_000;
const SETTLED = ['SENT', 'DELIVERED', 'READ', 'FAILED'];

const DATABASE_URL = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/zyva_faults';
const WA = { phoneNumberId: '900100200399', accessToken: 'faults-bench-token' };
const APP_SECRET = `faults-app-secret-${randomBytes(6).toString('hex')}`;
const PASSWORD = 'faults bench password 1';
/** One key ring for every process (production requires one; no channel connection is stored here). */
const KEY_RING = `bench:${randomBytes(32).toString('base64')}`;
const workDir = mkdtempSync(path.join(os.tmpdir(), 'zyva-faults-'));

const children = new Set();
let db;
let standIn;
let dbProxy;
let redis; // { port, child }
let apiPort;
let relay;
let workerCount = 0;
const session = { email: '', token: '', orgId: '' };

/** Accepted sends (the stand-in made a wamid) per Zyva message id, and in total since the last reset. */
const accepted = new Map();
let acceptedSinceReset = 0;
let timeoutsOn = false;
let timedOut = 0;

async function main() {
  console.log(`Faults bench${SHORT ? ' (short form)' : ''}: ${N} WhatsApp messages per fault, Postgres outage ${OUTAGE_MS / 1000} s`);
  console.log(`Machine: ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  console.log(
    `Settings: ${Object.entries(SETTINGS).map(([k, v]) => `${k}=${v}`).join(' ')}` +
      ` | stand-in latency ${LATENCY_MS} ms, report ${REPORT_DELAY_MS} ms after acceptance, ${100 / TIMEOUT_EVERY}% timeouts in fault 4`,
  );
  console.log(`Logs of the processes: ${workDir}`);

  await ensureDatabase(DATABASE_URL);
  run('npx', ['prisma', 'migrate', 'deploy'], { ...process.env, DATABASE_URL, CHECKPOINT_DISABLE: '1' });
  db = new pg.Client({ connectionString: DATABASE_URL });
  await db.connect();

  redis = { port: await freePort(), child: undefined };
  await startRedis();
  dbProxy = new TcpProxy(new URL(DATABASE_URL));
  await dbProxy.start();
  apiPort = await freePort();
  relay = await startReportRelay();
  const reports = { url: relay.url, appSecret: APP_SECRET, delayMs: REPORT_DELAY_MS };
  standIn = await startWhatsAppStandIn({ ...WA, reports });
  standIn.delayMs = LATENCY_MS;
  countAndTimeOut(standIn);

  startProcess('api', { APP_ROLE: 'api', PORT: String(apiPort) });
  startWorker();
  await waitForHttp(`http://127.0.0.1:${apiPort}/health`);
  await setUp();

  const faults = [
    ['1. worker SIGKILL x2', killWorkerTwice],
    [`2. Postgres unreachable ${OUTAGE_MS / 1000} s`, postgresOutage],
    ['3. Redis restarted empty', redisRestart],
    [`4. ${100 / TIMEOUT_EVERY}% provider timeouts`, providerTimeouts],
  ];
  const chosen = new Set(args.faults.split(',').map(Number));
  const results = [];
  for (const [i, [name, inject]] of faults.entries()) if (chosen.has(i + 1)) results.push(await fault(name, inject));

  // A second send could still come after everything looked settled (a job woken after its wait): count again later.
  const linger = SETTINGS.UNCERTAIN_SEND_WAIT_MS + 5000;
  console.log(`\nall settled; counting the stand-in's sends again after ${linger / 1000} s more`);
  await sleep(linger);
  for (const r of results) Object.assign(r, await tally(r.campaignId));
  return report(results);
}

// ---------------------------------------------------------------------------
// The faults. Each gets the campaign's progress and answers when the fault is over.

async function killWorkerTwice(progress) {
  await progress.accepted(Math.floor(N / 4));
  await progress.injected();
  await killWorker();
  startWorker();
  await progress.accepted(Math.floor(N / 2));
  await killWorker();
  startWorker();
}

async function postgresOutage(progress) {
  await progress.accepted(Math.floor(N / 3));
  await progress.injected();
  await dbProxy.cut({ reset: args['db-cut'] === 'reset' });
  await sleep(OUTAGE_MS);
  await dbProxy.start();
}

async function redisRestart(progress) {
  // At the first accepted send: with 3,000 messages the fan-out (batches of 1,000) is still creating them.
  await progress.accepted(1);
  await progress.injected();
  await stopRedis('SIGKILL');
  await startRedis();
}

async function providerTimeouts(progress) {
  timeoutsOn = true; // before the campaign's first send (fan-out has not run yet)
  await progress.injected();
}

/** Runs one campaign with one fault: injection, API polling while it lasts, settling, counts. */
async function fault(name, inject) {
  console.log(`\n${name}: campaign of ${N} messages`);
  acceptedSinceReset = 0; // `accepted` is kept for the whole run: message ids are unique, late sends count
  timeoutsOn = false;
  timedOut = 0;
  await warmCache();
  const completedBefore = await completedJobsMetric();
  const startedAt = performance.now();
  const campaignId = await createCampaign(name);
  let injectedAt;
  let poller;
  const progress = {
    accepted: async (n) => {
      while (acceptedSinceReset < n) await sleep(5);
    },
    /** The fault starts now: the clock of "time to settle", the API polling and the webhook record start. */
    injected: async () => {
      const { rows } = await db.query(`SELECT count(*)::int AS n FROM messages WHERE "campaignId" = $1`, [campaignId]);
      createdAtInjection = rows[0].n;
      injectedAt = performance.now();
      current = { poll: newSeen(), webhook: newSeen(), relogins: 0 };
      poller = pollApi(campaignId);
    },
  };
  let createdAtInjection = 0;
  await inject(progress);
  console.log(
    `  injected ${((injectedAt - startedAt) / 1000).toFixed(1)} s after the POST, when the fan-out had created ${createdAtInjection} messages; ` +
      `${acceptedSinceReset} sends accepted when the injection was over`,
  );
  const settled = await waitSettled(campaignId);
  await poller.stop();
  const seen = current;
  current = undefined;
  timeoutsOn = false;
  const settleMs = settled ? settled - injectedAt : undefined;
  const counts = await tally(campaignId);
  const completed = (await completedJobsMetric()) - completedBefore;
  const result = { name, campaignId, settleMs, seen, timedOut, completed, ...counts };
  console.log(
    `  ${settled ? `settled ${(settleMs / 1000).toFixed(1)} s after injection` : 'NOT settled'}: ` +
      `${counts.once} once, ${counts.twice} twice, ${counts.never} never, ${counts.failed} FAILED, ` +
      `${counts.attemptedAgain} claimed again after an interrupted or unknown attempt` +
      (timedOut ? `, ${timedOut} sends timed out` : '') +
      (counts.examples.length ? ` (e.g. ${counts.examples.join(', ')})` : ''),
  );
  console.log(`  API polled during the fault: ${describeSeen(seen.poll)}${seen.relogins ? `; logged in again ${seen.relogins}x (Redis lost the session)` : ''}`);
  console.log(`  webhook reports answered during the fault: ${describeSeen(seen.webhook)}`);
  console.log(`  jobs completed on \`messages\` per the API's metrics (QueueEvents) during the campaign: ${completed}`);
  return result;
}

// ---------------------------------------------------------------------------
// The stand-in: counts accepted sends per message, and times some out after accepting them.

/**
 * Wraps the stand-in's `messages` route (its handler makes the wamid and posts the report):
 * every send it accepted is counted under its biz_opaque_callback_data (Zyva's message id);
 * while fault 4 runs, every 50th one is answered only after the client's timeout has passed.
 */
function countAndTimeOut(waStandIn) {
  // The route table is the StandIn's own (private in TypeScript, a plain property at run time).
  const route = waStandIn.compiled.find((c) => c.route.name === 'messages').route;
  const handle = route.handle.bind(route);
  route.handle = async (req) => {
    const answer = await handle(req);
    if (answer.status !== 200) return answer;
    const id = req.body.biz_opaque_callback_data;
    accepted.set(id, (accepted.get(id) ?? 0) + 1);
    acceptedSinceReset++;
    if (timeoutsOn && acceptedSinceReset % TIMEOUT_EVERY === 0) {
      timedOut++;
      return { ...answer, delayMs: SETTINGS.PROVIDER_TIMEOUT_MS + 1000 };
    }
    return answer;
  };
}

/** Per message of the campaign (one per contact): how many sends the stand-in accepted. */
async function tally(campaignId) {
  const { rows } = await db.query(
    `SELECT m.id, m.status::text AS status, m.attempts, c.phone FROM messages m JOIN contacts c ON c.id = m."contactId" WHERE m."campaignId" = $1`,
    [campaignId],
  );
  const byRecipient = new Map(rows.map((r) => [r.phone.replace(/^\+/, ''), 0]));
  const idOf = new Map(rows.map((r) => [r.phone.replace(/^\+/, ''), r.id]));
  const phoneOf = new Map(rows.map((r) => [r.id, r.phone.replace(/^\+/, '')]));
  for (const [id, n] of accepted) if (phoneOf.has(id)) byRecipient.set(phoneOf.get(id), byRecipient.get(phoneOf.get(id)) + n);
  // The stand-in's own record (`to` of each accepted send) must agree with the count by message id.
  const to = new Map();
  for (const r of standIn.requestsTo('messages')) {
    if (r.response?.status === 200 && phoneOf.has(r.body.biz_opaque_callback_data)) to.set(r.body.to, (to.get(r.body.to) ?? 0) + 1);
  }
  const counts = [...byRecipient.values()];
  return {
    messages: rows.length,
    once: counts.filter((n) => n === 1).length,
    twice: counts.filter((n) => n > 1).length,
    never: counts.filter((n) => n === 0).length + Math.max(0, N - rows.length),
    failed: rows.filter((r) => r.status === 'FAILED').length,
    attemptedAgain: rows.filter((r) => r.attempts > 1).length,
    /** A few ids of the messages sent twice or never, to look them up in the processes' logs. */
    examples: [...byRecipient].filter(([, n]) => n !== 1).slice(0, 5).map(([phone, n]) => `${idOf.get(phone)} x${n}`),
    // Checked on the final count only: a timed-out send is in the stand-in's record once it is answered.
    mismatch: [...byRecipient].filter(([phone, n]) => n !== (to.get(phone) ?? 0)).length,
  };
}

// ---------------------------------------------------------------------------
// Campaign, settling, API polling

async function createCampaign(name) {
  const res = await api('POST', '/api/campaigns', { name: `faults ${name}`, channel: 'WHATSAPP', content: 'Oi {{nome}}, a coleção nova chegou!' });
  if (res.status !== 202) throw new Error(`campaign refused: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.id;
}

/** The moment (performance.now()) every message of the campaign is settled in Postgres, or undefined. */
async function waitSettled(campaignId) {
  const started = performance.now();
  let last = '';
  let lastTrace = 0;
  while (performance.now() - started < SETTLE_LIMIT_MS) {
    const { rows } = await db.query(`SELECT status::text AS status, count(*)::int AS n FROM messages WHERE "campaignId" = $1 GROUP BY 1`, [campaignId]);
    const by = Object.fromEntries(rows.map((r) => [r.status, r.n]));
    const settled = SETTLED.reduce((s, k) => s + (by[k] ?? 0), 0);
    if (settled === N) return performance.now();
    const now = JSON.stringify(by);
    if (args.trace && performance.now() - lastTrace >= 1000) {
      lastTrace = performance.now();
      console.log(`  … ${((performance.now() - started) / 1000).toFixed(1)} s: ${acceptedSinceReset} accepted, ${now}`);
    }
    if (now !== last && performance.now() - started > 30_000) {
      last = now;
      console.log(`  … ${((performance.now() - started) / 1000).toFixed(0)} s: ${now}`);
    }
    await sleep(100);
  }
  return undefined;
}

/** What the API answered while a fault lasted: the polled routes, and the webhook reports relayed to it. */
let current;
const newSeen = () => ({ total: 0, byStatus: {}, bad: [], noAnswer: 0 });

function record(seen, route, res) {
  seen.total++;
  if (res.status === 0) return void seen.noAnswer++;
  seen.byStatus[res.status] = (seen.byStatus[res.status] ?? 0) + 1;
  if (res.status >= 500 && res.status !== 503 && seen.bad.length < 10) seen.bad.push(`${route} ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
}

/** Polls four routes every 250 ms until stopped. */
function pollApi(campaignId) {
  const routes = ['/api/contacts', `/api/campaigns/${campaignId}`, '/api/messages?limit=1', '/health'];
  const seen = current.poll;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      await Promise.all(routes.map(async (route) => record(seen, route, await api('GET', route, undefined, 5000))));
      await sleep(250);
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}

const fivexxOther = (seen) => Object.entries(seen.byStatus).filter(([s]) => Number(s) >= 500 && Number(s) !== 503).reduce((n, [, c]) => n + c, 0);

function describeSeen(seen) {
  const statuses = Object.entries(seen.byStatus).map(([s, n]) => `${s} x${n}`).join(', ');
  return `${seen.total} (${statuses || 'none'}${seen.noAnswer ? `, no answer x${seen.noAnswer}` : ''})` + (seen.bad.length ? `\n    ${seen.bad.join('\n    ')}` : '');
}

/**
 * Between the stand-in and the API's webhook: forwards each signed report as it is and records the
 * API's answer. Like the stand-in, it does not deliver a refused report again (Meta would, later):
 * nothing may depend on a report arriving.
 */
async function startReportRelay() {
  const server = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    let status = 0;
    let body = '';
    try {
      const answer = await fetch(`http://127.0.0.1:${apiPort}${req.url}`, {
        method: 'POST',
        headers: { 'Content-Type': req.headers['content-type'], 'X-Hub-Signature-256': req.headers['x-hub-signature-256'] },
        body: Buffer.concat(chunks),
        signal: AbortSignal.timeout(10_000),
      });
      status = answer.status;
      body = await answer.text();
    } catch {
      // no answer: recorded as such
    }
    if (current) record(current.webhook, 'POST /api/webhooks/whatsapp', { status, body });
    res.writeHead(status || 502).end(body);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${server.address().port}/api/webhooks/whatsapp`, close: () => new Promise((resolve) => server.close(resolve)) };
}

/** `zyva_queue_jobs_completed_total{queue="messages"}` of the API process. */
async function completedJobsMetric() {
  const text = await fetch(`http://127.0.0.1:${apiPort}/metrics`, { signal: AbortSignal.timeout(5000) }).then((r) => r.text(), () => '');
  const line = text.split('\n').find((l) => l.startsWith('zyva_queue_jobs_completed_total{') && l.includes('queue="messages"'));
  return line ? Number(line.split(' ').pop()) : 0;
}

/** One API call as the bench's user; a session Redis lost (fault 3) is replaced by logging in again. */
async function api(method, route, body, timeoutMs = 10_000, retried = false) {
  let res;
  try {
    res = await fetch(`http://127.0.0.1:${apiPort}${route}`, {
      method,
      headers: { Authorization: `Bearer ${session.token}`, 'X-Forwarded-For': randomIp(), ...(body ? { 'Content-Type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch {
    return { status: 0 }; // no answer within the timeout, or the connection was refused
  }
  const text = await res.text().catch(() => '');
  let parsed;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = text;
  }
  if (res.status === 401 && !retried && route !== '/health') {
    if (current) current.relogins++;
    await login();
    return api(method, route, body, timeoutMs, true);
  }
  return { status: res.status, body: parsed };
}

let loggingIn;
function login() {
  loggingIn ??= (async () => {
    const res = await fetch(`http://127.0.0.1:${apiPort}/api/auth/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Forwarded-For': randomIp() },
      body: JSON.stringify({ email: session.email, password: PASSWORD }),
      signal: AbortSignal.timeout(10_000),
    }).catch(() => undefined);
    if (res?.ok) session.token = (await res.json()).token;
  })().finally(() => (loggingIn = undefined));
  return loggingIn;
}

/** The cached contact list is in Redis before each fault (a HIT needs no Postgres). */
async function warmCache() {
  await api('GET', '/api/contacts');
  await api('GET', '/api/contacts');
}

function randomIp() {
  return `10.${1 + Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;
}

// ---------------------------------------------------------------------------
// Report

function report(results) {
  const rows = results.map((r) => {
    const other = fivexxOther(r.seen.poll) + fivexxOther(r.seen.webhook);
    return {
      r,
      other,
      cells: [
        r.name,
        fmt(r.once),
        fmt(r.twice),
        fmt(r.never),
        r.settleMs === undefined ? 'not settled' : `${(r.settleMs / 1000).toFixed(1)} s`,
        r.failed ? `yes (${fmt(r.failed)})` : 'no',
        other ? `yes (${other})` : 'no',
        String((r.seen.poll.byStatus[503] ?? 0) + (r.seen.webhook.byStatus[503] ?? 0)),
      ],
    };
  });
  const header = ['fault', 'sent once', 'sent twice', 'never sent', 'time to settle', 'FAILED', '5xx other than 503', '503s'];
  console.log(`\n${N} messages per fault, WORKER_CONCURRENCY=${SETTINGS.WORKER_CONCURRENCY}, one worker process\n`);
  console.log(`| ${header.join(' | ')} |`);
  console.log(`|${header.map(() => '---').join('|')}|`);
  for (const { cells } of rows) console.log(`| ${cells.join(' | ')} |`);
  const problems = [];
  for (const { r, other } of rows) {
    if (r.twice) problems.push(`${r.name}: ${r.twice} sent twice`);
    if (r.never) problems.push(`${r.name}: ${r.never} never sent`);
    if (r.failed) problems.push(`${r.name}: ${r.failed} FAILED`);
    if (r.settleMs === undefined) problems.push(`${r.name}: not settled within ${SETTLE_LIMIT_MS / 1000} s`);
    if (other) problems.push(`${r.name}: ${other} answers 5xx other than 503`);
    if (r.completed <= 0) problems.push(`${r.name}: the API's metrics counted no completed job during the campaign`);
    if (r.mismatch) problems.push(`${r.name}: the stand-in's record of ${r.mismatch} recipients disagrees with its counts`);
  }
  console.log(problems.length ? `\nFAILED:\n  ${problems.join('\n  ')}` : '\ngoal met: 0 twice, 0 never, nothing FAILED, no 5xx other than 503');
  return problems.length === 0;
}

const fmt = (n) => n.toLocaleString('en-US');

// ---------------------------------------------------------------------------
// Processes

function processEnv() {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: 'production',
    APP_URL: `http://127.0.0.1:${apiPort}`,
    CHANNEL_ENCRYPTION_KEYS: KEY_RING,
    UNSUBSCRIBE_SECRET: 'faults-bench-unsubscribe-secret-not-for-real-use',
    DATABASE_URL: dbProxy.url,
    REDIS_URL: `redis://127.0.0.1:${redis.port}`,
    LOG_LEVEL: 'warn',
    SWAGGER_ENABLED: 'false',
    TRUST_PROXY: 'true',
    WHATSAPP_API_URL: standIn.url,
    WHATSAPP_PHONE_ID: WA.phoneNumberId,
    WHATSAPP_TOKEN: WA.accessToken,
    WHATSAPP_APP_SECRET: APP_SECRET,
    // The stand-in is not Meta: the platform number's pace (80/s by default) would only slow the run down.
    WHATSAPP_MAX_PER_SECOND: '100000',
    // The registration's verification email has somewhere to go (it fails there, harmlessly), as in bench/pipeline.mjs.
    RESEND_API_KEY: 'unused',
    RESEND_API_URL: standIn.url,
    ...Object.fromEntries(Object.entries(SETTINGS).map(([k, v]) => [k, String(v)])),
  };
}

function startProcess(name, env) {
  const log = openSync(path.join(workDir, `${name}.log`), 'a');
  const child = spawn(process.execPath, ['-r', './bench/pipeline.register.cjs', 'src/main.ts'], {
    cwd: root,
    env: { ...processEnv(), ...env },
    stdio: ['ignore', log, log],
  });
  child.exited = new Promise((resolve) => child.once('exit', resolve));
  children.add(child);
  child.once('exit', () => children.delete(child));
  child.label = name;
  return child;
}

function startWorker() {
  workerCount++;
  return startProcess(`worker-${workerCount}`, { APP_ROLE: 'worker' });
}

async function killWorker() {
  const worker = [...children].find((c) => c.label.startsWith('worker-'));
  worker.kill('SIGKILL');
  await worker.exited;
}

async function startRedis() {
  const log = openSync(path.join(workDir, 'redis.log'), 'a');
  // No persistence at all: started again, it is empty (like this machine's Redis after a restart).
  redis.child = spawn('redis-server', ['--port', String(redis.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', workDir, '--maxmemory-policy', 'noeviction'], {
    stdio: ['ignore', log, log],
  });
  redis.exited = new Promise((resolve) => redis.child.once('exit', resolve));
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (await ping(redis.port)) return;
    await sleep(50);
  }
  throw new Error(`redis-server on port ${redis.port} did not come up`);
}

async function stopRedis(signal) {
  if (!redis?.child || redis.child.exitCode !== null || redis.child.signalCode !== null) return;
  redis.child.kill(signal);
  await redis.exited;
}

function ping(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.setTimeout(500, () => (socket.destroy(), resolve(false)));
    socket.once('error', () => resolve(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (d) => (socket.destroy(), resolve(d.toString().startsWith('+PONG'))));
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function waitForHttp(url) {
  const deadline = Date.now() + 90_000;
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

async function setUp() {
  session.email = `faults-${randomBytes(4).toString('hex')}@bench.zyva.dev`;
  const res = await fetch(`http://127.0.0.1:${apiPort}/api/auth/register`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Forwarded-For': randomIp() },
    body: JSON.stringify({ email: session.email, password: PASSWORD, name: 'Faults', organizationName: 'Faults store' }),
  });
  const body = await res.json();
  if (res.status !== 201) throw new Error(`register failed: ${res.status} ${JSON.stringify(body)}`);
  session.token = body.token;
  session.orgId = body.organization.id;
  await db.query(`UPDATE organizations SET plan = 'ENTERPRISE', "maxContacts" = 200000, "maxMessagesPerMonth" = 1000000 WHERE id = $1`, [session.orgId]);
  await db.query(
    `INSERT INTO contacts (id, "organizationId", name, phone, "createdAt", "updatedAt")
     SELECT 'flt' || md5($1 || i::text), $1, 'Cliente ' || i, '+5521' || lpad(i::text, 9, '0'), now(), now()
     FROM generate_series(1, $2::int) AS i`,
    [session.orgId, N],
  );
  await db.query(`UPDATE organizations SET "contactCount" = $2 WHERE id = $1`, [session.orgId, N]);
  // The organization (plan, caps) was cached at registration: this Redis is the bench's own, flush it.
  await redisCommand('FLUSHALL');
}

/** One command to the bench's own redis-server (inline protocol). */
function redisCommand(command) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(redis.port, '127.0.0.1');
    socket.once('error', reject);
    socket.once('connect', () => socket.write(`${command}\r\n`));
    socket.once('data', (d) => (socket.destroy(), resolve(d.toString())));
  });
}

async function tearDown() {
  await Promise.all(
    [...children].map(async (c) => {
      c.kill('SIGTERM');
      const done = await Promise.race([c.exited.then(() => true), sleep(15_000).then(() => false)]);
      if (!done) c.kill('SIGKILL');
    }),
  );
  await stopRedis('SIGTERM');
  if (db) {
    if (session.orgId) await db.query('DELETE FROM organizations WHERE id = $1', [session.orgId]);
    if (session.email) await db.query('DELETE FROM users WHERE email = $1', [session.email]);
    await db.end();
  }
  await dbProxy?.cut().catch(() => undefined);
  if (standIn) await standIn.close();
  if (relay) await relay.close();
}

// Ctrl-C: stop the processes and the bench's redis-server, remove the bench's data.
process.once('SIGINT', () => {
  console.error('\ninterrupted: cleaning up');
  tearDown().finally(() => process.exit(130));
});

main()
  .then(async (ok) => {
    await tearDown();
    if (ok && !args['keep-logs']) rmSync(workDir, { recursive: true, force: true });
    process.exit(ok ? 0 : 1);
  })
  .catch(async (error) => {
    console.error(error);
    await tearDown().catch((e) => console.error(e));
    process.exit(1);
  });
