#!/usr/bin/env node
// `npm test`: the whole suite (unit + e2e) against the Postgres and Redis of
// the environment, defaulting to the local ones. Migrations are applied first.
import { ensureDatabase, run } from './lib.mjs';

const env = {
  ...process.env,
  NODE_ENV: 'test',
  DATABASE_URL: process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/zyva_test',
  REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  CHECKPOINT_DISABLE: '1',
};

await ensureDatabase(env.DATABASE_URL);
run('npx', ['prisma', 'migrate', 'deploy'], env);
run('npx', ['jest', ...process.argv.slice(2)], env);
