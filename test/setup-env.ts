/**
 * Test environment: the Postgres and Redis given by the environment, else the
 * local ones. Each test file gets its own BullMQ prefix so suites sharing a
 * Redis (ours in parallel, or anyone else's) never consume each other's jobs.
 */
import { randomBytes } from 'node:crypto';

process.env.NODE_ENV ??= 'test';
process.env.DATABASE_URL ??= 'postgresql://postgres@127.0.0.1:5432/zyva_test';
process.env.REDIS_URL ??= 'redis://127.0.0.1:6379';
process.env.TRUST_PROXY = 'true';
process.env.LOG_LEVEL = process.env.TEST_LOG_LEVEL ?? 'silent';
process.env.QUEUE_PREFIX = `zyvatest-${randomBytes(4).toString('hex')}`;
// Reconcilers scan the whole database: in tests they only touch rows untouched for 5 min (older than any
// suite's own), so one suite's reconciler never picks up another running suite's work.
process.env.RECONCILE_GRACE_MS ??= '300000';
