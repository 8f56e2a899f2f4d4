import { ConfigValidationError, DEV_UNSUBSCRIBE_SECRET, validateEnvironment } from './env.schema';

const valid = {
  DATABASE_URL: 'postgresql://postgres@127.0.0.1:5432/zyva',
  REDIS_URL: 'redis://127.0.0.1:6379',
};

describe('validateEnvironment', () => {
  it('applies defaults and converts numbers and booleans', () => {
    const env = validateEnvironment({ ...valid, PORT: '4000', SWAGGER_ENABLED: 'false', WORKER_CONCURRENCY: '8' });
    expect(env.PORT).toBe(4000);
    expect(env.SWAGGER_ENABLED).toBe(false);
    expect(env.WORKER_CONCURRENCY).toBe(8);
    expect(env.APP_ROLE).toBe('all');
    expect(env.AUTH_RATE_LIMIT).toBe(10);
    expect(env.BIRTHDAY_TZ).toBe('America/Sao_Paulo');
    expect(env.QUEUE_PREFIX).toBe('bull');
  });

  it('accepts rediss:// URLs with credentials and a db index', () => {
    const env = validateEnvironment({ ...valid, REDIS_URL: 'rediss://:s3cret@redis.example.com:6380/2' });
    expect(env.REDIS_URL).toBe('rediss://:s3cret@redis.example.com:6380/2');
  });

  it('names every bad or missing variable at once, without echoing secrets', () => {
    let error: Error | undefined;
    try {
      validateEnvironment({
        REDIS_URL: 'http://nope:hunter2@x',
        PORT: 'abc',
        APP_ROLE: 'both',
        ADMIN_EMAIL: 'not-an-email',
        ADMIN_PASSWORD: 'short',
      });
    } catch (e) {
      error = e as Error;
    }
    expect(error).toBeInstanceOf(ConfigValidationError);
    for (const name of ['DATABASE_URL', 'REDIS_URL', 'PORT', 'APP_ROLE', 'ADMIN_EMAIL', 'ADMIN_PASSWORD']) {
      expect(error!.message).toContain(`${name}:`);
    }
    expect(error!.message).not.toContain('hunter2');
    expect(error!.message).not.toContain('short');
  });

  it('requires UNSUBSCRIBE_SECRET (32+ characters) in production only, without echoing it', () => {
    const problems = (raw: Record<string, string>) => {
      try {
        validateEnvironment(raw);
        return '';
      } catch (e) {
        return (e as Error).message;
      }
    };
    expect(validateEnvironment(valid).UNSUBSCRIBE_SECRET).toBe(DEV_UNSUBSCRIBE_SECRET);
    const production = { ...valid, NODE_ENV: 'production' };
    expect(problems(production)).toMatch(/UNSUBSCRIBE_SECRET: UNSUBSCRIBE_SECRET must be set in production/);
    const short = problems({ ...production, UNSUBSCRIBE_SECRET: 'short-secret' });
    expect(short).toMatch(/UNSUBSCRIBE_SECRET: .*32 characters/);
    expect(short).not.toContain('short-secret');
    expect(problems({ ...production, UNSUBSCRIBE_SECRET: 'x'.repeat(40) })).not.toContain('UNSUBSCRIBE_SECRET');
  });
});

describe('the Redis target', () => {
  const problem = (env: Record<string, string>) => {
    try {
      validateEnvironment({ DATABASE_URL: valid.DATABASE_URL, ...env });
      return undefined;
    } catch (error) {
      return (error as Error).message;
    }
  };

  it('takes REDIS_CLUSTER_NODES instead of REDIS_URL', () => {
    const env = validateEnvironment({ DATABASE_URL: valid.DATABASE_URL, REDIS_CLUSTER_NODES: '10.0.0.1:7000,rediss://:pw@10.0.0.2:7001' });
    expect(env.REDIS_CLUSTER_NODES).toBe('10.0.0.1:7000,rediss://:pw@10.0.0.2:7001');
    expect(env.REDIS_URL).toBeUndefined();
  });

  it('stops with a message naming both variables when both or neither are set', () => {
    const message = 'REDIS_URL: set exactly one of REDIS_URL (one Redis node) and REDIS_CLUSTER_NODES (a Redis Cluster)';
    expect(problem({})).toContain(message);
    expect(problem({ REDIS_URL: valid.REDIS_URL, REDIS_CLUSTER_NODES: '10.0.0.1:7000' })).toContain(message);
  });

  it('names a bad seed list without echoing it', () => {
    const message = problem({ REDIS_CLUSTER_NODES: 'redis://:hunter2@a:1,redis://:other@b:2' });
    expect(message).toContain('REDIS_CLUSTER_NODES: REDIS_CLUSTER_NODES URLs must all use the same scheme and credentials');
    expect(message).not.toContain('hunter2');
  });
});
