#!/usr/bin/env node
// `npm run bench:birthdays`: times the daily birthday check's query on 1,000,000 contacts.
//
// Seeds a dedicated database (BENCH_DATABASE_URL, default zyva_bench_birthdays on the local
// Postgres; migrated with the project's migrations, dropped at the end unless --keep), then runs
// the exact SQL the service runs (imported from src/modules/birthdays/birthday-queries.ts): every
// keyset batch of one date, through the index contacts(birthMonth, birthDay, id). Baseline in the
// same run: the query one would write without the month/day columns (a scan of every contact).
// Also shows EXPLAIN and the time per matching contact on dates with few and many matches.
//
//   PRISMA_SCHEMA_ENGINE_BINARY=... node bench/birthdays.mjs [--keep] [--contacts N]
import pg from 'pg';
import { tsImport } from 'tsx/esm/api';
import { ensureDatabase, run } from '../scripts/lib.mjs';

const args = process.argv.slice(2);
const KEEP = args.includes('--keep');
const CONTACTS = Number(args[args.indexOf('--contacts') + 1] || 0) || 1_000_000;
const URL_ = process.env.BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/zyva_bench_birthdays';
const ORG = 'bench-birthdays-org';
const HOT_SHARE = 0.1; // a tenth of the contacts share one birthday (Dec 25): many matches on one date
const RUNS = 7;

const { birthdayBatchQuery } = await tsImport('../src/modules/birthdays/birthday-queries.ts', import.meta.url);
const { birthdaysOn } = await tsImport('../src/modules/birthdays/birthday-dates.ts', import.meta.url);
const BATCH = 1000; // BIRTHDAY_BATCH_SIZE of BirthdaysService

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;

await ensureDatabase(URL_);
run('npx', ['prisma', 'migrate', 'deploy'], { ...process.env, DATABASE_URL: URL_, CHECKPOINT_DISABLE: '1' });

const db = new pg.Client({ connectionString: URL_ });
await db.connect();
try {
  await seed();
  const orgIds = (await db.query(`SELECT DISTINCT "organizationId" FROM flows WHERE "triggerType" = 'BIRTHDAY' AND active`)).rows.map(
    (r) => r.organizationId,
  );

  /** The daily check's contact lookup for one date: every keyset batch, as BirthdaysService runs them. */
  async function dailyQuery(date) {
    let rows = 0;
    for (const { month, day } of birthdaysOn(date)) {
      let afterId = '';
      for (;;) {
        const q = birthdayBatchQuery({ month, day, organizationIds: orgIds, afterId, limit: BATCH });
        const batch = (await db.query(q.text, q.values)).rows;
        rows += batch.length;
        if (batch.length < BATCH) break;
        afterId = batch[batch.length - 1].id;
      }
    }
    return rows;
  }

  async function timed(fn, runs) {
    await fn(); // warm
    const times = [];
    let result;
    for (let i = 0; i < runs; i++) {
      const t0 = process.hrtime.bigint();
      result = await fn();
      times.push(ms(t0));
    }
    return { result, ms: median(times) };
  }

  const first = birthdayBatchQuery({ month: 7, day: 14, organizationIds: orgIds, afterId: '', limit: BATCH });
  const plan = (await db.query(`EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${first.text}`, first.values)).rows.map((r) => r['QUERY PLAN']);
  console.log('\nEXPLAIN (ANALYZE, BUFFERS) of one batch (2031-07-14):');
  for (const line of plan) console.log(`  ${line}`);
  if (!plan.some((l) => l.includes('contacts_birthMonth_birthDay_id_idx'))) throw new Error('the daily query does not use the birthday index');

  const naive = await timed(async () => {
    const r = await db.query(
      `SELECT "id", "organizationId" FROM "contacts" WHERE extract(month FROM "birthday") = 7 AND extract(day FROM "birthday") = 14 AND "organizationId" = ANY($1::text[])`,
      [orgIds],
    );
    return r.rowCount;
  }, 3);

  const dates = [
    ['2031-07-14', 'an ordinary date'],
    ['2031-02-28', 'Feb 28 + Feb 29, non-leap year'],
    ['2032-02-29', 'Feb 29, leap year'],
    ['2031-12-25', `crowded: ${HOT_SHARE * 100}% of contacts`],
  ];
  const results = [];
  for (const [date, label] of dates) {
    const { result: matches, ms: t } = await timed(() => dailyQuery(date), RUNS);
    results.push({ date, label, matches, ms: t });
  }

  const total = Number((await db.query('SELECT count(*) FROM contacts')).rows[0].count);
  console.log(`\n${total.toLocaleString('en')} contacts; median of ${RUNS} warm runs; batches of ${BATCH}\n`);
  console.log('| date | matches | daily query (all batches) | µs per match |');
  console.log('|---|---:|---:|---:|');
  for (const r of results) {
    console.log(`| ${r.date} (${r.label}) | ${r.matches.toLocaleString('en')} | ${r.ms.toFixed(1)} ms | ${((r.ms * 1000) / Math.max(r.matches, 1)).toFixed(1)} |`);
  }
  const ordinary = results[0];
  console.log(`| baseline: scan of every contact (extract(month/day FROM birthday)), 2031-07-14 | ${naive.result.toLocaleString('en')} | ${naive.ms.toFixed(1)} ms | |`);
  console.log(`\nordinary date: ${ordinary.ms.toFixed(1)} ms (goal < 100 ms), ${(naive.ms / ordinary.ms).toFixed(0)}x faster than the scan`);
  const hot = results[results.length - 1];
  console.log(
    `proportional to matches: ${(hot.matches / ordinary.matches).toFixed(1)}x the matches took ${(hot.ms / ordinary.ms).toFixed(1)}x the time`,
  );
} finally {
  await db.end();
  if (!KEEP) await dropDatabase();
}

async function seed() {
  const have = await db.query(`SELECT "contactCount" FROM organizations WHERE id = $1`, [ORG]);
  if (have.rows[0]?.contactCount === CONTACTS) {
    console.log(`Reusing ${CONTACTS.toLocaleString('en')} seeded contacts`);
    return;
  }
  await db.query(`DELETE FROM organizations WHERE id = $1`, [ORG]);
  const t0 = process.hrtime.bigint();
  await db.query('BEGIN');
  await db.query(
    `INSERT INTO organizations (id, name, plan, "maxContacts", "maxMessagesPerMonth", "contactCount", "updatedAt")
     VALUES ($1, 'Birthday bench', 'ENTERPRISE', $2, 1000000, $2, now())`,
    [ORG, CONTACTS],
  );
  await db.query(
    `INSERT INTO flows (id, "organizationId", name, active, "triggerType", steps, "updatedAt")
     VALUES ('bench-birthday-flow', $1, 'Parabéns', true, 'BIRTHDAY', '[{"type":"ADD_TAG","tag":"aniversario"}]', now())`,
    [ORG],
  );
  // Random ids (as cuids are, relative to birthdays): matching rows are spread over the whole table.
  await db.query(
    `INSERT INTO contacts (id, "organizationId", name, birthday, "birthMonth", "birthDay", "updatedAt")
     SELECT 'c' || md5(g::text), $1, 'Contact ' || g, b, extract(month FROM b)::smallint, extract(day FROM b)::smallint, now()
     FROM generate_series(1, $2::int) AS g,
          LATERAL (SELECT CASE WHEN random() < $3 THEN make_date(1950 + (g % 60), 12, 25)
                               ELSE date '1940-01-01' + floor(random() * 25567)::int END AS b) AS d`,
    [ORG, CONTACTS, HOT_SHARE],
  );
  await db.query('COMMIT');
  await db.query('ANALYZE contacts');
  console.log(`Seeded ${CONTACTS.toLocaleString('en')} contacts in ${(ms(t0) / 1000).toFixed(1)} s`);
}

async function dropDatabase() {
  const target = new URL(URL_);
  const name = decodeURIComponent(target.pathname.slice(1));
  const adminUrl = new URL(URL_);
  adminUrl.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: adminUrl.toString() });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${name.replace(/"/g, '""')}"`);
    console.log(`\nDropped the bench database ${name} (use --keep to reuse it)`);
  } finally {
    await admin.end();
  }
}
