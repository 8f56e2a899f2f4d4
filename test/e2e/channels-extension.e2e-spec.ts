import { DynamicModule, Injectable, Module } from '@nestjs/common';
import { ApiProperty } from '@nestjs/swagger';
import { IsNotEmpty, IsString, Matches } from 'class-validator';
import { randomBytes } from 'node:crypto';
import { ProviderError } from '../../src/core/http/provider-error';
import { ProviderHttp } from '../../src/core/http/provider-http';
import {
  ChannelKind,
  ConnectionCheck,
  ConnectionRefusedError,
  MessageSender,
  OutboundMessage,
  ProviderUnreachableError,
  RegisterChannelKind,
  RegisterMessageSender,
  SendContext,
  SendResult,
} from '../../src/modules/channels/channel-extension';
import { ChannelsModule } from '../../src/modules/channels/channels.module';
import { bearer, Fixtures, randomIp, SETTLED_STATUSES, waitFor } from '../utils/factories';
import { StandIn } from '../utils/provider-stand-ins';
import { createTestApp, TestApp } from '../utils/test-app';

/*
 * A Telegram-like channel, written the way an enterprise team would write it
 * in its own package: a module with a ChannelKind (the connection) and a
 * MessageSender (the TELEGRAM channel), imported next to AppModule. Nothing in
 * Zyva's own files knows about it.
 */

const TELEGRAM_OPTIONS = Symbol('TELEGRAM_OPTIONS');
interface TelegramOptions {
  apiUrl: string;
}

class TelegramConnectDto {
  @ApiProperty({ example: '123456:ABC-DEF', writeOnly: true })
  @IsString()
  @IsNotEmpty()
  @Matches(/^\d+:[\w-]+$/, { message: 'botToken must be a bot token from @BotFather' })
  botToken: string;
}

interface TelegramCredentials {
  [field: string]: unknown;
  botToken: string;
}

@Injectable()
@RegisterChannelKind()
class TelegramKind implements ChannelKind<TelegramCredentials> {
  readonly kind = 'telegram';
  readonly provider = 'Telegram Bot API';
  readonly connectBody = TelegramConnectDto;
  readonly secretFields = ['botToken'] as const;
  readonly hintField = 'botToken';
  readonly defaultMaxPerSecond = 30;

  constructor(
    private readonly http: ProviderHttp,
    private readonly options: TelegramOptions,
  ) {}

  async check(c: TelegramCredentials): Promise<ConnectionCheck> {
    let res;
    try {
      res = await this.http.request({ provider: this.provider, method: 'GET', url: `${this.options.apiUrl}/bot${c.botToken}/getMe` });
    } catch (error) {
      throw new ProviderUnreachableError(this.provider, (error as Error).message);
    }
    const body = res.json as { ok: boolean; description?: string; result?: { id: number; username: string } };
    if (res.status >= 500) throw new ProviderUnreachableError(this.provider, `HTTP ${res.status}`);
    if (!body?.ok || !body.result) throw new ConnectionRefusedError(this.provider, body?.description ?? `HTTP ${res.status}`);
    return { accountKey: String(body.result.id), account: { botId: body.result.id, username: body.result.username } };
  }

  platformCredentials(): TelegramCredentials | undefined {
    return undefined;
  }
}

@Injectable()
@RegisterMessageSender()
class TelegramSender implements MessageSender<TelegramCredentials> {
  readonly channel = 'TELEGRAM';
  readonly kind = 'telegram';
  readonly provider = 'Telegram Bot API';
  readonly recipientField = 'phone' as const;
  readonly unknownOutcome = 'fail' as const;

  constructor(
    private readonly http: ProviderHttp,
    private readonly options: TelegramOptions,
  ) {}

  async send(message: OutboundMessage, { credentials }: SendContext<TelegramCredentials>): Promise<SendResult> {
    const res = await this.http.request({
      provider: this.provider,
      method: 'POST',
      url: `${this.options.apiUrl}/bot${credentials.botToken}/sendMessage`,
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ chat_id: message.to.replace(/^\+/, ''), text: message.text }),
    });
    const body = res.json as { ok: boolean; description?: string; result?: { message_id: number } };
    if (!body?.ok) throw new ProviderError(this.provider, body?.description ?? `HTTP ${res.status}`, res.status >= 500, res.status, undefined, { authentication: res.status === 401 });
    return { externalId: String(body.result!.message_id) };
  }
}

@Module({})
class TelegramModule {
  static register(options: TelegramOptions): DynamicModule {
    return {
      module: TelegramModule,
      imports: [ChannelsModule],
      providers: [
        { provide: TELEGRAM_OPTIONS, useValue: options },
        { provide: TelegramKind, inject: [ProviderHttp, TELEGRAM_OPTIONS], useFactory: (http: ProviderHttp, o: TelegramOptions) => new TelegramKind(http, o) },
        { provide: TelegramSender, inject: [ProviderHttp, TELEGRAM_OPTIONS], useFactory: (http: ProviderHttp, o: TelegramOptions) => new TelegramSender(http, o) },
      ],
    };
  }
}

async function startTelegramStandIn(bot: { token: string; id: number; username: string }): Promise<StandIn> {
  let nextId = 100;
  return new StandIn('Telegram Bot API', [
    {
      name: 'getMe',
      method: 'GET',
      path: '/:bot/getMe',
      handle: (req) =>
        req.params.bot === `bot${bot.token}`
          ? { status: 200, body: { ok: true, result: { id: bot.id, is_bot: true, first_name: 'Loja', username: bot.username } } }
          : { status: 401, body: { ok: false, error_code: 401, description: 'Unauthorized' } },
    },
    {
      name: 'sendMessage',
      method: 'POST',
      path: '/:bot/sendMessage',
      handle: (req) =>
        req.params.bot === `bot${bot.token}`
          ? { status: 200, body: { ok: true, result: { message_id: nextId++, chat: { id: Number(req.body.chat_id) }, text: req.body.text } } }
          : { status: 401, body: { ok: false, error_code: 401, description: 'Unauthorized' } },
    },
  ]).listen();
}

describe('a channel registered from outside Zyva (e2e)', () => {
  const bot = { token: `${Math.floor(Math.random() * 1e9)}:${randomBytes(12).toString('hex')}`, id: 777000 + Math.floor(Math.random() * 1000), username: 'loja_bot' };
  let telegram: StandIn;
  let t: TestApp;
  let fx: Fixtures;

  beforeAll(async () => {
    telegram = await startTelegramStandIn(bot);
    t = await createTestApp({}, { imports: [TelegramModule.register({ apiUrl: telegram.url })] });
    fx = new Fixtures(t);
  });

  afterAll(async () => {
    await fx.cleanup();
    await t.close();
    await telegram.close();
  });

  it('connects the new kind and sends a TELEGRAM message through it, like any built-in channel', async () => {
    const user = await fx.registerUser();
    await fx.setPlan(user.organizationId, 'PRO');
    const refused = await t.http.put('/api/channels/telegram').set(bearer(user.token)).send({ botToken: '1:wrong' });
    expect(refused.status).toBe(422);
    expect(refused.body.message).toContain('Unauthorized');
    const connected = await t.http.put('/api/channels/telegram').set(bearer(user.token)).send({ botToken: bot.token });
    expect(connected.status).toBe(200);
    expect(connected.body).toMatchObject({ kind: 'telegram', status: 'CONNECTED', account: { botId: bot.id, username: 'loja_bot' }, secretHint: `…${bot.token.slice(-4)}`, maxPerSecond: 30 });

    const contact = await t.prisma.contact.create({ data: { organizationId: user.organizationId, name: 'Rafa', phone: '+5511955554444' } });
    const res = await t.http.post('/api/messages').set(bearer(user.token)).set('X-Forwarded-For', randomIp()).send({ contactId: contact.id, channel: 'TELEGRAM', content: 'Olá {{nome}}!' });
    expect(res.status).toBe(202);
    const m = await waitFor(async () => {
      const row = await t.prisma.message.findUniqueOrThrow({ where: { id: res.body.id } });
      return SETTLED_STATUSES.includes(row.status) ? row : undefined;
    });
    expect(m).toMatchObject({ status: 'SENT', channel: 'TELEGRAM', route: 'CONNECTION', externalId: '100' });
    expect(telegram.requestsTo('sendMessage')[0].body).toEqual({ chat_id: '5511955554444', text: 'Olá Rafa!' });

    const unknown = await t.http.post('/api/messages').set(bearer(user.token)).send({ contactId: contact.id, channel: 'SIGNAL', content: 'x' });
    expect(unknown.status).toBe(400);
    expect(unknown.body.message).toEqual([expect.stringContaining('WHATSAPP, EMAIL, SMS, INSTAGRAM_DM, TELEGRAM')]);
  });
});
