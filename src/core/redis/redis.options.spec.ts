import { redisOptionsFromUrl } from './redis.options';

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
