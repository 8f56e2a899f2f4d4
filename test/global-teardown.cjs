// After every test file: each file obliterates its queues when its app closes, but a job still running at that
// moment can write its queue's `meta` again on its way out (BullMQ's scripts recreate it). This removes whatever
// is left under the prefixes this run drew (SCAN, never KEYS), on one node or on every master of a cluster; other
// suites sharing the Redis keep theirs.
const { readFileSync, rmSync } = require('node:fs');
const { dirname } = require('node:path');
const Redis = require('ioredis');

module.exports = async () => {
  const file = process.env.ZYVA_TEST_PREFIXES_FILE;
  if (!file) return;
  const prefixes = [...new Set(readFileSync(file, 'utf8').split('\n').filter(Boolean))];
  rmSync(dirname(file), { recursive: true, force: true });
  if (prefixes.length === 0) return;
  const seeds = process.env.TEST_REDIS_CLUSTER_NODES;
  const client = seeds
    ? new Redis.Cluster(seeds.split(',').map((seed) => ({ host: seed.split(':')[0], port: Number(seed.split(':')[1]) })))
    : new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { lazyConnect: true });
  try {
    if (!seeds) await client.connect();
    else await new Promise((resolve, reject) => client.once('ready', resolve).once('error', reject));
    const nodes = seeds ? client.nodes('master') : [client];
    for (const node of nodes) {
      for (const prefix of prefixes) {
        let cursor = '0';
        do {
          const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
          cursor = next;
          for (const key of keys) await node.unlink(key);
        } while (cursor !== '0');
      }
    }
  } catch (error) {
    console.warn(`global teardown: could not remove the run's leftover queue keys: ${error.message}`);
  } finally {
    client.disconnect();
  }
};
