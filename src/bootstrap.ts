import { type DynamicModule, Module, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger } from 'nestjs-pino';
import { setFlagsFromString } from 'node:v8';
import { createFastifyAdapter, configureApp } from './app.setup';
import { AppModule } from './app.module';
import { isApiRole, loadConfig } from './core/config/app-config';
import { ConfigValidationError } from './core/config/env.schema';

export interface StartOptions {
  /**
   * Modules imported next to AppModule: an extension's channels, senders or
   * publishers (found by the ChannelRegistry), flow steps, anything else.
   */
  imports?: (Type | DynamicModule)[];
}

/** AppModule alone, or a root module importing it with the extensions beside it. */
function rootModule(imports: (Type | DynamicModule)[]): Type {
  if (imports.length === 0) return AppModule;
  @Module({ imports: [AppModule, ...imports] })
  class ExtendedAppModule {}
  return ExtendedAppModule;
}

/**
 * How far V8 lets the old generation of an API process grow past what survived its last full collection. By
 * default it grows up to 4x while a process allocates fast, so an API process under load carried 150 MB of
 * garbage beside 60 MB of live objects (bench/mixed.mjs, BENCHMARKS.md). At 100% (twice what is live) it stays
 * under 300 MB resident there; 25% or 50% kept it lower but cost the cached read path 6-12% of its throughput
 * in more full collections (bench/api.mjs). Workers keep V8's default: their bulk sends allocate fast and gain
 * from fewer full collections. A `--heap-growing-percent` given to node wins.
 */
export const HEAP_GROWING_PERCENT = 100;

function boundHeapGrowth(): void {
  if (process.execArgv.some((arg) => /^--heap[-_]growing[-_]percent/.test(arg))) return;
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}

/**
 * Starts Zyva in the role of `APP_ROLE`: `node dist/main.js` calls it with no
 * extension; a deployment with its own modules calls it from its own entry
 * file: `startZyva({ imports: [TelegramModule.register(options)] })`.
 */
export async function startZyva(options: StartOptions = {}): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigValidationError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const root = rootModule(options.imports ?? []);
  if (config.APP_ROLE === 'api') boundHeapGrowth();

  if (!isApiRole(config)) {
    // Worker role: no HTTP server, only the queue processors.
    const context = await NestFactory.createApplicationContext(root, { bufferLogs: true });
    context.useLogger(context.get(Logger));
    context.enableShutdownHooks();
    context.get(Logger).log(`Zyva worker started (concurrency ${config.WORKER_CONCURRENCY} per queue)`);
    return;
  }

  // rawBody: provider webhooks verify signatures over the exact bytes received.
  const app = await NestFactory.create<NestFastifyApplication>(root, createFastifyAdapter(), {
    bufferLogs: true,
    rawBody: true,
  });
  await configureApp(app);
  drainOnSignals(app);
  await app.listen(config.PORT, '0.0.0.0');
  app.get(Logger).log(`Zyva ${config.APP_ROLE} listening on port ${config.PORT}`);
}

/**
 * SIGTERM / SIGINT of an API process: first stop taking requests and answer
 * the ones in flight (Fastify's close: new requests on open connections get
 * 503; a keep-alive connection is closed as soon as it is idle, not after
 * Fastify's 72 s keep-alive timeout), then Nest's shutdown (workers
 * drain, Prisma and Redis close), then exit by the same signal. Nest's own
 * enableShutdownHooks closes the HTTP server last, after Prisma and Redis, so
 * requests in flight during a deploy would answer 500.
 */
function drainOnSignals(app: NestFastifyApplication): void {
  const logger = app.get(Logger);
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      void (async () => {
        const server = app.getHttpServer();
        const sweep = setInterval(() => server.closeIdleConnections(), 100);
        try {
          await app.getHttpAdapter().getInstance().close();
          clearInterval(sweep);
          await app.close();
        } catch (error) {
          logger.error(`Shutdown after ${signal} did not finish cleanly: ${(error as Error).message}`);
        } finally {
          clearInterval(sweep);
        }
        process.kill(process.pid, signal);
      })();
    });
  }
}
