/**
 * Test environment: the Postgres and Redis given by the environment, else the
 * local ones. Each test file gets its own BullMQ prefix so suites sharing a
 * Redis (ours in parallel, or anyone else's) never consume each other's jobs;
 * every queue still has its own hash tag inside it (`<prefix>:{messages}`).
 *
 * Cluster mode: with TEST_REDIS_CLUSTER_NODES set (seeds of a Redis Cluster,
 * e.g. from `node test/utils/redis-cluster.mjs start`), every app, worker and
 * child process of the run uses REDIS_CLUSTER_NODES instead of REDIS_URL. A
 * cluster has no db index: files are kept apart by their prefixes and ids.
 */
import { randomBytes } from 'node:crypto';
import { appendFileSync } from 'node:fs';

process.env.NODE_ENV ??= 'test';
process.env.DATABASE_URL ??= 'postgresql://postgres@127.0.0.1:5432/zyva_test';
if (process.env.TEST_REDIS_CLUSTER_NODES) {
  process.env.REDIS_CLUSTER_NODES = process.env.TEST_REDIS_CLUSTER_NODES;
  delete process.env.REDIS_URL;
} else {
  process.env.REDIS_URL ??= 'redis://127.0.0.1:6379';
  delete process.env.REDIS_CLUSTER_NODES;
}
process.env.TRUST_PROXY = 'true';
process.env.LOG_LEVEL = process.env.TEST_LOG_LEVEL ?? 'silent';
process.env.QUEUE_PREFIX = `zyvatest-${randomBytes(4).toString('hex')}`;
// Noted for test/global-teardown.cjs, which removes what is left under it after the run.
if (process.env.ZYVA_TEST_PREFIXES_FILE) appendFileSync(process.env.ZYVA_TEST_PREFIXES_FILE, `${process.env.QUEUE_PREFIX}\n`);
// Reconcilers scan the whole database: in tests they only touch rows untouched for 5 min (older than any
// suite's own), so one suite's reconciler never picks up another running suite's work.
process.env.RECONCILE_GRACE_MS ??= '300000';
