#!/usr/bin/env node
// Fairness bench: store A's big WhatsApp campaign through a fast stand-in; once it
// is sending, store B sends single messages one after another. Prints B's
// accept-to-SENT latency (p50 / p95 / max) during A's campaign next to the same
// figures on an idle system, and A's throughput next to A alone, all in one run
// with one API and one worker process at Zyva's defaults.
//
//   npm run bench:fairness -- [--contacts 20000] [--singles 50] [--interval-ms 100]
//
// Goal (issue 12): B's p95 under 2 s, A at no less than 90% of A alone.
// Uses its own database (zyva_bench) and BullMQ prefix, both cleaned up afterwards.
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { BenchSession, runBench } from './zyva-processes.mjs';

const { values: args } = parseArgs({
  options: {
    contacts: { type: 'string', default: '20000' },
    singles: { type: 'string', default: '50' },
    'interval-ms': { type: 'string', default: '100' },
  },
});
const CONTACTS = Number(args.contacts);
const SINGLES = Number(args.singles);
const INTERVAL_MS = Number(args['interval-ms']);

const WA = { phoneNumberId: '900100200301', accessToken: 'bench-fairness-token' };
const session = new BenchSession(WA);
const { zyva } = session;
let db;
let standIn;

async function main() {
  console.log(`Fairness bench: store A campaign of ${CONTACTS}, store B ${SINGLES} single messages every ${INTERVAL_MS} ms`);
  console.log(`Machine: ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}; one API and one worker process, WORKER_CONCURRENCY unset (the default)`);
  ({ db, standIn } = await session.open());

  const env = { ...session.env };
  delete env.WORKER_CONCURRENCY;
  zyva.start({ ...env, APP_ROLE: 'api' });
  zyva.start({ ...env, APP_ROLE: 'worker' });
  await zyva.waitForHealth();
  await sleep(1000); // the worker finishes booting

  const a = await session.registerStore(CONTACTS, '11');
  const b = await session.registerStore(SINGLES, '21');
  const bContacts = (await db.query('SELECT id FROM contacts WHERE "organizationId" = $1 ORDER BY name', [b.orgId])).rows.map((r) => r.id);

  const idle = await singles(b, bContacts, () => true);
  console.log(`B alone (idle system): ${summary(idle)}`);
  const alone = await (await startCampaign(a)).done;
  console.log(`A alone: ${Math.round(alone.rate)} msg/s (${CONTACTS} SENT in ${(alone.ms / 1000).toFixed(1)} s)`);

  // A again; B starts once A is sending and stops with A (only latencies measured during A's campaign count).
  let aDone = false;
  const contended = await startCampaign(a);
  contended.done.then(() => (aDone = true), () => (aDone = true));
  await waitForSent(contended.id, Math.min(1000, CONTACTS / 10));
  const during = await singles(b, bContacts, () => !aDone);
  const withB = await contended.done;
  console.log(`B during A's campaign: ${summary(during)}`);
  console.log(`A with B: ${Math.round(withB.rate)} msg/s (${CONTACTS} SENT in ${(withB.ms / 1000).toFixed(1)} s)`);

  const p95 = percentile(during.map((x) => x.ms), 0.95);
  const share = withB.rate / alone.rate;
  console.log('\n| | p50 | p95 | max | A msg/s |');
  console.log('|---|---|---|---|---|');
  console.log(`| B idle (${idle.length} messages) | ${fmt(idle, 0.5)} | ${fmt(idle, 0.95)} | ${fmt(idle, 1)} | - |`);
  console.log(`| B during A (${during.length} messages) | ${fmt(during, 0.5)} | ${fmt(during, 0.95)} | ${fmt(during, 1)} | ${Math.round(withB.rate)} |`);
  console.log(`| A alone | - | - | - | ${Math.round(alone.rate)} |`);
  console.log(`\nB p95 during A ${(p95 / 1000).toFixed(2)} s (goal < 2 s): ${p95 < 2000 ? 'met' : 'NOT met'}`);
  console.log(`A with B at ${(share * 100).toFixed(0)}% of A alone (goal >= 90%): ${share >= 0.9 ? 'met' : 'NOT met'}`);
  if (during.length < SINGLES / 2) console.log(`(A finished before B sent half its ${SINGLES} messages: raise --contacts)`);
}

/** B's single messages, one every INTERVAL_MS while `go()`; each one's latency from its row's creation to sentAt. */
async function singles(store, contacts, go) {
  const ids = [];
  for (let i = 0; i < SINGLES && go(); i++) {
    const res = await fetch(`${zyva.url}/api/messages`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${store.token}`, 'X-Forwarded-For': '10.9.8.7' },
      body: JSON.stringify({ contactId: contacts[i % contacts.length], channel: 'WHATSAPP', content: `Seu pedido ${i} saiu para entrega` }),
    });
    const body = await res.json();
    if (res.status !== 202) throw new Error(`single message refused: ${res.status} ${JSON.stringify(body)}`);
    ids.push(body.id);
    await sleep(INTERVAL_MS);
  }
  const deadline = Date.now() + 120_000;
  for (;;) {
    const { rows } = await db.query(
      `SELECT id, status, EXTRACT(EPOCH FROM ("sentAt" - "createdAt")) * 1000 AS ms FROM messages WHERE id = ANY($1)`,
      [ids],
    );
    if (rows.every((r) => r.status === 'SENT')) return rows.map((r) => ({ id: r.id, ms: Number(r.ms) }));
    if (Date.now() > deadline) throw new Error(`B's messages not all SENT: ${JSON.stringify(rows.filter((r) => r.status !== 'SENT'))}`);
    await sleep(100);
  }
}

/**
 * A campaign to all of the store's contacts, once accepted: its id, and `done`, which resolves when every
 * message is SENT (checked at the stand-in for duplicates), timed from the POST.
 */
async function startCampaign(store) {
  const before = standIn.requestsTo('messages').length;
  const started = performance.now();
  const res = await fetch(`${zyva.url}/api/campaigns`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${store.token}`, 'X-Forwarded-For': '10.9.9.9' },
    body: JSON.stringify({ name: 'bench', channel: 'WHATSAPP', content: 'Oi {{nome}}, a coleção nova chegou!' }),
  });
  const body = await res.json();
  if (res.status !== 202) throw new Error(`campaign refused: ${res.status} ${JSON.stringify(body)}`);
  return { id: body.id, done: allSent(body.id, before, started) };
}

async function sentOf(campaignId) {
  const { rows } = await db.query(`SELECT count(*)::int AS n FROM messages WHERE "campaignId" = $1 AND status = 'SENT'`, [campaignId]);
  return rows[0].n;
}

async function allSent(campaignId, before, started) {
  for (;;) {
    await sleep(100);
    const sent = await sentOf(campaignId);
    if (sent === CONTACTS) break;
    if (performance.now() - started > 600_000) throw new Error(`timed out with ${sent} of ${CONTACTS} sent`);
  }
  const ms = performance.now() - started;
  const calls = standIn.requestsTo('messages').slice(before).filter((c) => String(c.body.to).replace('+', '').startsWith('5511'));
  if (calls.length !== CONTACTS || new Set(calls.map((c) => c.body.to)).size !== CONTACTS) {
    throw new Error(`duplicate or missing sends: ${calls.length} requests for ${CONTACTS} recipients`);
  }
  return { ms, rate: CONTACTS / (ms / 1000) };
}

async function waitForSent(campaignId, n) {
  while ((await sentOf(campaignId)) < n) await sleep(20);
}

function percentile(xs, p) {
  const sorted = [...xs].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? NaN;
}
const fmt = (rows, p) => `${Math.round(percentile(rows.map((x) => x.ms), p))} ms`;
const summary = (rows) => `p50 ${fmt(rows, 0.5)}, p95 ${fmt(rows, 0.95)}, max ${fmt(rows, 1)} (${rows.length} messages)`;

runBench(session, main);
