import { parseClusterNodes, redisOptionsFromUrl } from './redis.options';

describe('redisOptionsFromUrl', () => {
  it('reads host, port, db and credentials', () => {
    const o = redisOptionsFromUrl('redis://user:p%40ss@cache.internal:6380/3');
    expect(o).toMatchObject({ host: 'cache.internal', port: 6380, db: 3, username: 'user', password: 'p@ss' });
    expect(o.tls).toBeUndefined();
  });

  it('turns TLS on for rediss://', () => {
    const o = redisOptionsFromUrl('rediss://:secret@redis.example.com:6379');
    expect(o.tls).toEqual({ servername: 'redis.example.com' });
    expect(o.password).toBe('secret');
    expect(o.db).toBe(0);
  });

  it('backs off 50 ms per attempt up to 2 s, and never gives up', () => {
    const { retryStrategy } = redisOptionsFromUrl('redis://localhost');
    expect(retryStrategy!(1)).toBe(50);
    expect(retryStrategy!(10)).toBe(500);
    expect(retryStrategy!(1000)).toBe(2000);
  });

  it('lets callers add connection options', () => {
    expect(redisOptionsFromUrl('redis://localhost', { maxRetriesPerRequest: null }).maxRetriesPerRequest).toBeNull();
  });
});

describe('parseClusterNodes', () => {
  it('reads host:port seeds and URL seeds, taking credentials and TLS from the URLs', () => {
    expect(parseClusterNodes('10.0.0.1:7000, 10.0.0.2:7001')).toEqual({
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: '10.0.0.2', port: 7001 },
      ],
      tls: false,
    });
    expect(parseClusterNodes('rediss://app:p%40ss@redis-1.example.com:6380,rediss://app:p%40ss@redis-2.example.com')).toEqual({
      nodes: [
        { host: 'redis-1.example.com', port: 6380 },
        { host: 'redis-2.example.com', port: 6379 },
      ],
      username: 'app',
      password: 'p@ss',
      tls: true,
    });
    expect(parseClusterNodes('[::1]:7000').nodes).toEqual([{ host: '::1', port: 7000 }]);
    // Compose names its containers project_service_n: a seed written as host:port takes them as a URL would.
    expect(parseClusterNodes('zyva_redis_1:7000,redis://zyva_redis_2:7001').nodes).toEqual([
      { host: 'zyva_redis_1', port: 7000 },
      { host: 'zyva_redis_2', port: 7001 },
    ]);
  });

  it('refuses what a cluster cannot honour, never repeating a password', () => {
    const problem = (value: string) => {
      try {
        parseClusterNodes(value);
        return undefined;
      } catch (error) {
        return (error as Error).message;
      }
    };
    expect(problem('')).toMatch(/names no node/);
    expect(problem('redis-1')).toMatch(/host:port or a redis:\/\/ or rediss:\/\/ URL/);
    expect(problem('http://redis-1:7000')).toMatch(/host:port or a redis:\/\/ or rediss:\/\/ URL/);
    expect(problem('redis://redis-1:7000/2')).toMatch(/no \/db index/);
    expect(problem('redis://:secret-a@a:1,redis://:secret-b@b:2')).toMatch(/same scheme and credentials/);
    expect(problem('redis://:secret-a@a:1,rediss://:secret-a@b:2')).toMatch(/same scheme and credentials/);
    expect(problem('a:99999')).toMatch(/out of range/);
    expect(problem('redis://:secret-a@a:1,redis://:secret-b@b:2')).not.toContain('secret');
  });
});
