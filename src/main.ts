import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger } from 'nestjs-pino';
import { createFastifyAdapter, configureApp } from './app.setup';
import { AppModule } from './app.module';
import { isApiRole, loadConfig } from './core/config/app-config';
import { ConfigValidationError } from './core/config/env.schema';

async function bootstrap(): Promise<void> {
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

  if (!isApiRole(config)) {
    // Worker role: no HTTP server, only the queue processors.
    const context = await NestFactory.createApplicationContext(AppModule, { bufferLogs: true });
    context.useLogger(context.get(Logger));
    context.enableShutdownHooks();
    context.get(Logger).log(`Zyva worker started (concurrency ${config.WORKER_CONCURRENCY} per queue)`);
    return;
  }

  // rawBody: provider webhooks verify signatures over the exact bytes received.
  const app = await NestFactory.create<NestFastifyApplication>(AppModule, createFastifyAdapter(), {
    bufferLogs: true,
    rawBody: true,
  });
  await configureApp(app);
  await app.listen(config.PORT, '0.0.0.0');
  app.get(Logger).log(`Zyva ${config.APP_ROLE} listening on port ${config.PORT}`);
}

void bootstrap();
