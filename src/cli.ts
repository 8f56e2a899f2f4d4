/**
 * The operator CLI: `node dist/cli.js <command>` (`npm run cli -- <command>` from a checkout).
 * Configured by the same environment as the app (validated the same way); it
 * starts no HTTP server and no worker. Each command prints what it did and
 * exits 0, or prints why it stopped and exits 1.
 *
 * A new command is one entry in COMMANDS: a description and `run(context)`.
 */
import 'reflect-metadata';
import { Module, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Client } from 'pg';
import { loadConfig } from './core/config/app-config';
import { AppConfigModule } from './core/config/config.module';
import { ConfigValidationError, type EnvironmentVariables } from './core/config/env.schema';
import { CryptoModule } from './core/crypto/crypto.module';
import { KEY_RING_VARIABLE } from './core/crypto/key-ring';
import { PrismaModule } from './core/prisma/prisma.module';
import { closeRedisClient, createRedisClient } from './core/redis/redis.connection';
import { migrateRedisLayout } from './core/redis/redis-migrate';
import { ChannelsCliModule, ConnectionsReencryption } from './modules/channels/connections/reencrypt';

export interface CliContext {
  config: EnvironmentVariables;
  /** The arguments after the command's name. */
  args: string[];
  print(line: string): void;
}

export interface CliCommand {
  description: string;
  run(context: CliContext): Promise<void>;
}

async function redisMigrate({ config, print }: CliContext): Promise<void> {
  const redis = createRedisClient(config, { name: 'zyva:cli', profile: 'queue' });
  const db = new Client({ connectionString: config.DATABASE_URL });
  let dbConnected = false;
  try {
    const report = await migrateRedisLayout(redis, {
      queuePrefix: config.QUEUE_PREFIX,
      authLimit: config.AUTH_RATE_LIMIT,
      organizationsOf: async (userIds) => {
        if (!dbConnected) await db.connect();
        dbConnected = true;
        const { rows } = await db.query<{ id: string; organizationId: string | null }>(
          'SELECT id, "organizationId" FROM users WHERE id = ANY($1::text[])',
          [userIds],
        );
        return new Map(rows.filter((r) => r.organizationId).map((r) => [r.id, r.organizationId!]));
      },
      print,
    });
    const total = report.moved + report.merged;
    print(
      total + report.dropped === 0
        ? 'redis:migrate: nothing to migrate, the keys already follow the tagged layout'
        : `redis:migrate: done: ${report.moved} key(s) moved, ${report.merged} merged into keys the new version had written, ${report.dropped} dropped`,
    );
  } finally {
    if (dbConnected) await db.end();
    await closeRedisClient(redis);
  }
}

/** Boots only the given modules (with configuration, Prisma and the key ring), hands the context to `work`, closes it. */
async function withModules<T>(imports: Type[], work: (get: <S>(type: Type<S>) => S) => Promise<T>): Promise<T> {
  @Module({ imports: [AppConfigModule, PrismaModule, CryptoModule, ...imports] })
  class CommandModule {}
  const app = await NestFactory.createApplicationContext(CommandModule, { logger: ['error', 'warn'] });
  try {
    return await work((type) => app.get(type));
  } finally {
    await app.close();
  }
}

async function channelsReencrypt({ print }: CliContext): Promise<void> {
  const { checked, rewritten, unreadable } = await withModules([ChannelsCliModule], (get) => get(ConnectionsReencryption).run());
  print(`channels:reencrypt: ${rewritten} of ${checked} connections rewritten with the first key`);
  for (const { id, kind, reason } of unreadable) print(`channels:reencrypt: connection ${id} (${kind}) left as it is: ${reason}`);
  if (unreadable.length > 0) {
    throw new Error(`${unreadable.length} connection(s) cannot be decrypted with ${KEY_RING_VARIABLE}; keep the key that sealed them, or PUT their credentials again`);
  }
}

export const COMMANDS: Record<string, CliCommand> = {
  'channels:reencrypt': {
    description: 'rewrites every stored channel secret with the first key of CHANNEL_ENCRYPTION_KEYS (safe to run twice)',
    run: channelsReencrypt,
  },
  'redis:migrate': {
    description: "moves quota counters, limiter state and queued jobs of part one's key layout to the tagged layout (safe to run twice)",
    run: redisMigrate,
  },
};

export async function runCli(argv: string[], out: (line: string) => void = console.log, err: (line: string) => void = console.error): Promise<number> {
  const [name, ...args] = argv;
  const command = name === undefined ? undefined : COMMANDS[name];
  if (!command) {
    err(`${name === undefined ? 'No command given' : `Unknown command ${name}`}. Commands:`);
    for (const [known, { description }] of Object.entries(COMMANDS)) err(`  ${known}  ${description}`);
    return 1;
  }
  let config: EnvironmentVariables;
  try {
    config = loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigValidationError)) throw error;
    err(error.message);
    return 1;
  }
  try {
    await command.run({ config, args, print: out });
    return 0;
  } catch (error) {
    err(`${name} stopped: ${(error as Error).message}`);
    return 1;
  }
}

if (require.main === module) void runCli(process.argv.slice(2)).then((code) => process.exit(code));
