import { Fixtures, RegisteredUser, bearer } from '../utils/factories';
import { TestApp, createTestApp } from '../utils/test-app';
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

  it("gives an ADMIN the stats, memory and clients sections of Redis INFO, numbers as numbers", async () => {
    const commandsBefore = parseRedisInfo(await t.redis.info('stats')).total_commands_processed as number;
    const res = await t.http.get('/api/admin/redis/stats').set(bearer(admin.token));
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(['clients', 'memory', 'stats']);
    const { stats, memory, clients } = res.body;

    expect(typeof stats.keyspace_hits).toBe('number');
    expect(typeof stats.keyspace_misses).toBe('number');
    expect(stats.total_commands_processed).toBeGreaterThan(commandsBefore);
    expect(memory.used_memory).toBeGreaterThan(0);
    expect(typeof memory.used_memory_human).toBe('string');
    expect(typeof memory.mem_fragmentation_ratio).toBe('number');
    expect(clients.connected_clients).toBeGreaterThanOrEqual(2); // at least this app's command and queue connections

    // The same fields Redis reports, nothing invented and nothing from other sections.
    const direct = parseRedisInfo(await t.redis.info('memory'));
    expect(Object.keys(memory).sort()).toEqual(Object.keys(direct).sort());
    expect(memory.maxmemory_policy).toBe(direct.maxmemory_policy);
    expect(stats).not.toHaveProperty('used_memory');
    expect(clients).not.toHaveProperty('keyspace_hits');
  });

  it('lets the ADMIN session cookie in as well', async () => {
    const res = await t.http.get('/api/admin/redis/stats').set('Cookie', `zyva_session=${admin.token}`);
    expect(res.status).toBe(200);
  });
});
