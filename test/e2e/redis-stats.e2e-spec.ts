import { Fixtures, RegisteredUser, bearer } from '../utils/factories';
import { TestApp, clusterMode, createTestApp } from '../utils/test-app';
import { dataNodes, nodeAddress } from '../../src/core/redis/redis.connection';
import { parseRedisInfo } from '../../src/modules/admin/redis-info';

describe('GET /api/admin/redis/stats (e2e)', () => {
  let t: TestApp;
  let fixtures: Fixtures;
  let admin: RegisteredUser;
  let loja: RegisteredUser;

  beforeAll(async () => {
    t = await createTestApp();
    fixtures = new Fixtures(t);
    admin = await fixtures.createAdmin();
    loja = await fixtures.registerUser();
  });

  afterAll(async () => {
    await fixtures.cleanup();
    await t.close();
  });

  it('answers 401 without a session and 403 to a LOJA user', async () => {
    const anonymous = await t.http.get('/api/admin/redis/stats');
    expect(anonymous.status).toBe(401);
    expect(anonymous.body).toMatchObject({ statusCode: 401, error: 'Unauthorized' });
    const store = await t.http.get('/api/admin/redis/stats').set(bearer(loja.token));
    expect(store.status).toBe(403);
    expect(store.body).toMatchObject({ statusCode: 403, error: 'Forbidden' });
    expect(store.body).not.toHaveProperty('stats');
  });

  /** What each node says right now, straight from INFO on that node. */
  const direct = (section: string) => Promise.all(dataNodes(t.redis).map(async (node) => parseRedisInfo(await node.info(section))));

  it("gives an ADMIN the stats, memory and clients sections of Redis INFO, numbers as numbers, summed over the nodes", async () => {
    const sum = (sections: Record<string, number | string>[], field: string) => sections.reduce((n, s) => n + (s[field] as number), 0);
    const commandsBefore = sum(await direct('stats'), 'total_commands_processed');
    const res = await t.http.get('/api/admin/redis/stats').set(bearer(admin.token));
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(['clients', 'memory', 'nodes', 'stats']);
    const { stats, memory, clients, nodes } = res.body;

    expect(typeof stats.keyspace_hits).toBe('number');
    expect(typeof stats.keyspace_misses).toBe('number');
    expect(stats.total_commands_processed).toBeGreaterThan(commandsBefore);
    expect(memory.used_memory).toBeGreaterThan(0);
    expect(typeof memory.used_memory_human).toBe('string');
    expect(typeof memory.mem_fragmentation_ratio).toBe('number');
    expect(clients.connected_clients).toBeGreaterThanOrEqual(2); // at least this app's command and queue connections

    // The same fields Redis reports, nothing invented and nothing from other sections.
    const memoryNow = await direct('memory');
    expect(Object.keys(memory).sort()).toEqual(Object.keys(memoryNow[0]).sort());
    expect(memory.maxmemory_policy).toBe('noeviction');
    expect(memory.maxmemory).toBe(sum(memoryNow, 'maxmemory'));
    expect(stats).not.toHaveProperty('used_memory');
    expect(clients).not.toHaveProperty('keyspace_hits');

    // One entry per node that holds data (3 masters on the test cluster), each with its own sections; the sums add them up.
    expect(nodes.map((n: { node: string }) => n.node).sort()).toEqual(dataNodes(t.redis).map(nodeAddress).sort());
    expect(nodes).toHaveLength(clusterMode ? 3 : 1);
    for (const node of nodes) {
      expect(Object.keys(node).sort()).toEqual(['clients', 'memory', 'node', 'stats']);
      expect(node.memory.used_memory).toBeGreaterThan(0);
    }
    const connected = nodes.reduce((n: number, node: { clients: { connected_clients: number } }) => n + node.clients.connected_clients, 0);
    expect(clients.connected_clients).toBe(connected);
  });

  it('lets the ADMIN session cookie in as well', async () => {
    const res = await t.http.get('/api/admin/redis/stats').set('Cookie', `zyva_session=${admin.token}`);
    expect(res.status).toBe(200);
  });
});
