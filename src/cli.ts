/**
 * Operator commands: `node dist/cli.js <command>` (`npm run <command>` in a
 * checkout). A command starts no HTTP server and no worker: it boots only the
 * modules it needs, prints what it did and exits 0 (1 on failure).
 */
import 'reflect-metadata';
import { Logger, Module, type INestApplicationContext, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { loadConfig } from './core/config/app-config';
import { AppConfigModule } from './core/config/config.module';
import { ConfigValidationError } from './core/config/env.schema';
import { CryptoModule } from './core/crypto/crypto.module';
import { PrismaModule } from './core/prisma/prisma.module';
import { ChannelsCliModule, ConnectionsReencryption } from './modules/channels/connections/reencrypt';

export interface CliCommand {
  description: string;
  /** The modules the command needs, besides configuration, Prisma and the key ring. */
  imports: Type[];
  run(app: INestApplicationContext): Promise<string>;
}

export const COMMANDS: Record<string, CliCommand> = {
  'channels:reencrypt': {
    description: 'Rewrite every stored channel secret with the first key of CHANNEL_ENCRYPTION_KEYS',
    imports: [ChannelsCliModule],
    run: async (app) => {
      const { checked, rewritten } = await app.get(ConnectionsReencryption).run();
      return `channels:reencrypt: ${rewritten} of ${checked} connections rewritten with the first key`;
    },
  },
};

async function main(name: string | undefined): Promise<number> {
  const command = name ? COMMANDS[name] : undefined;
  if (!command) {
    const list = Object.entries(COMMANDS).map(([n, c]) => `  ${n.padEnd(22)} ${c.description}`).join('\n');
    process.stderr.write(`${name ? `Unknown command "${name}". ` : ''}Commands:\n${list}\n`);
    return name ? 1 : 0;
  }
  try {
    loadConfig();
  } catch (error) {
    if (error instanceof ConfigValidationError) {
      process.stderr.write(`${error.message}\n`);
      return 1;
    }
    throw error;
  }
  @Module({ imports: [AppConfigModule, PrismaModule, CryptoModule, ...command.imports] })
  class CommandModule {}
  const app = await NestFactory.createApplicationContext(CommandModule, { logger: ['error', 'warn'] });
  try {
    process.stdout.write(`${await command.run(app)}\n`);
    return 0;
  } catch (error) {
    new Logger('cli').error((error as Error).stack ?? String(error));
    return 1;
  } finally {
    await app.close();
  }
}

if (require.main === module) {
  void main(process.argv[2]).then((code) => process.exit(code));
}
