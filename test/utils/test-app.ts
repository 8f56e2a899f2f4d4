import type { INestApplication } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Queue } from 'bullmq';
import request from 'supertest';
import type TestAgent from 'supertest/lib/agent';
import type { PrismaService as PrismaServiceType } from '../../src/core/prisma/prisma.service';
import { ALL_QUEUES, QueueName } from '../../src/core/queues/queue.catalogue';
import type { RedisClient } from '../../src/core/redis/redis.connection';

export { scanKeys, unlinkKeys } from '../../src/core/redis/redis.connection';

/** The run targets a Redis Cluster (TEST_REDIS_CLUSTER_NODES, see test/setup-env.ts) instead of one node. */
export const clusterMode = process.env.REDIS_CLUSTER_NODES !== undefined;

/** For suites that need one Redis node (a TCP proxy in front of it, a `/db` index): skipped in cluster mode, saying why. */
export const describeOnSingleNode: jest.Describe = clusterMode ? describe.skip : describe;

/**
 * Environment overrides naming one Redis node (`{ REDIS_URL: 'redis://127.0.0.1:1' }`, an unreachable one)
 * become, in cluster mode, a cluster whose only seed is that node, so one test works in both modes.
 */
export function redisOverrides(env: Record<string, string>): Record<string, string> {
  if (!clusterMode || env.REDIS_URL === undefined) return env;
  const { REDIS_URL, ...rest } = env;
  const url = new URL(REDIS_URL);
  return { ...rest, REDIS_CLUSTER_NODES: `${url.hostname}:${url.port || 6379}` };
}

export interface TestApp {
  app: NestFastifyApplication;
  http: TestAgent;
  prisma: PrismaServiceType;
  /** The app's command connection: one node, or a cluster client in cluster mode. */
  redis: RedisClient;
  queue(name: QueueName): Queue;
  /** Resolves a provider by the export name of a source module, from this app's own module registry. */
  get<T>(modulePath: string, exportName: string): T;
  close(): Promise<void>;
}

interface Loaded {
  Test: typeof import('@nestjs/testing').Test;
  AppModule: unknown;
  configureApp: (app: NestFastifyApplication) => Promise<NestFastifyApplication>;
  createFastifyAdapter: () => unknown;
  PrismaService: new (...args: never[]) => PrismaServiceType;
  REDIS: symbol;
  getQueueToken: (name: string) => string;
  reloadConfig: () => unknown;
  requireSrc: (path: string) => Record<string, unknown>;
}

function load(): Loaded {
  const requireSrc = (p: string) => require(`../../src/${p}`) as Record<string, unknown>;
  return {
    // Nest itself comes from the same registry as AppModule, or class identities would not match.
    Test: require('@nestjs/testing').Test,
    AppModule: requireSrc('app.module').AppModule,
    configureApp: requireSrc('app.setup').configureApp as Loaded['configureApp'],
    createFastifyAdapter: requireSrc('app.setup').createFastifyAdapter as Loaded['createFastifyAdapter'],
    PrismaService: requireSrc('core/prisma/prisma.service').PrismaService as Loaded['PrismaService'],
    REDIS: requireSrc('core/redis/redis.constants').REDIS as symbol,
    getQueueToken: require('@nestjs/bullmq').getQueueToken,
    reloadConfig: requireSrc('core/config/app-config').reloadConfig as Loaded['reloadConfig'],
    requireSrc,
  };
}

/**
 * Boots AppModule exactly as production does (same globals, same Fastify
 * setup) on the real Postgres and Redis. `env` overrides variables for this
 * app only; with overrides the app gets its own module registry, since the
 * role decides at import time which processors exist.
 */
export interface TestAppOptions {
  /** Modules imported beside AppModule (an extension, as an enterprise team would add one). */
  imports?: unknown[];
}

export async function createTestApp(overrides: Record<string, string> = {}, options: TestAppOptions = {}): Promise<TestApp> {
  const env = redisOverrides(overrides);
  const saved: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(env)) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
  let loaded!: Loaded;
  try {
    if (Object.keys(env).length > 0) {
      // Prisma's query compiler is a wasm instance that must exist once per process:
      // a second copy corrupts the first one's state on $disconnect.
      const prismaRuntime = require('@prisma/client/runtime/client');
      jest.isolateModules(() => {
        jest.doMock('@prisma/client/runtime/client', () => prismaRuntime);
        loaded = load();
        loaded.reloadConfig();
      });
    } else {
      loaded = load();
    }

    const moduleRef = await loaded.Test.createTestingModule({ imports: [loaded.AppModule as never, ...((options.imports ?? []) as never[])] }).compile();
    const app = moduleRef.createNestApplication<NestFastifyApplication>(loaded.createFastifyAdapter() as never, {
      bufferLogs: true,
      rawBody: true,
    });
    await loaded.configureApp(app);
    await app.init();
    await app.getHttpAdapter().getInstance().ready();

    const queue = (name: QueueName) => app.get<Queue>(loaded.getQueueToken(name));
    return {
      app,
      http: request(app.getHttpServer()),
      prisma: app.get(loaded.PrismaService),
      redis: app.get<RedisClient>(loaded.REDIS),
      queue,
      get: <T>(modulePath: string, exportName: string) => providerOf<T>(app, loaded.requireSrc(modulePath)[exportName], exportName),
      close: async () => {
        // Bounded: Redis may be the thing a test took away.
        await Promise.race([
          Promise.all(ALL_QUEUES.map((name) => queue(name).obliterate({ force: true }))),
          new Promise((resolve) => setTimeout(resolve, 2000).unref()),
        ]).catch(() => undefined);
        await (app as INestApplication).close();
      },
    };
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/**
 * The provider of a class or symbol token. With env overrides the app was
 * built from an isolated module registry, so a class or symbol required now is
 * another copy with the same name: find the app's own by name then.
 */
function providerOf<T>(app: NestFastifyApplication, token: unknown, name: string): T {
  try {
    return app.get<T>(token as never);
  } catch (error) {
    const container = (app as unknown as { container: { getModules(): Map<string, { providers: Map<unknown, { instance: unknown }> }> } }).container;
    for (const mod of container.getModules().values()) {
      for (const [key, wrapper] of mod.providers) {
        if (typeof key === 'function' && key.name === name) return wrapper.instance as T;
        if (typeof key === 'symbol' && typeof token === 'symbol' && key.description === token.description) return wrapper.instance as T;
      }
    }
    throw error;
  }
}
