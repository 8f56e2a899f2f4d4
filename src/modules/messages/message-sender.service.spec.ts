import { Logger } from '@nestjs/common';
import { DelayedError, UnrecoverableError } from 'bullmq';
import { Prisma } from '../../generated/prisma/client';
import { ProviderError } from '../../core/http/provider-error';
import type { AppConfig } from '../../core/config/app-config';
import type { MessageSender } from '../channels/channel-extension';
import type { ChannelRegistry } from '../channels/channel-registry';
import { ChannelRouter, RouteUnavailableError } from '../channels/routing/channel-router';
import type { ConsentService } from '../contacts/consent/consent.service';
import type { MessageQuota } from '../organizations/message-quota';
import type { PaceService } from '../channels/pacing/pace.service';
import type { DeliveryStatusService } from './delivery-status.service';
import type { MessageSendRepository, MessageToSend } from './message-send.repository';
import { MessageSenderService, SendMessageJob } from './message-sender.service';
import { OUTSIDE_WINDOW } from './send-rules';

const LOCK_MS = 30_000;
const WAIT_MS = 600_000;

function message(overrides: Partial<MessageToSend> = {}): MessageToSend {
  return {
    id: 'm1',
    organizationId: 'o1',
    contactId: 'c1',
    channel: 'WHATSAPP',
    content: 'Olá {{nome}}',
    template: null,
    mediaUrl: null,
    createdAt: new Date(),
    status: 'SENDING',
    route: 'PLATFORM',
    attempts: 1,
    claimedAt: new Date(),
    uncertainSince: null,
    progress: null,
    contactFound: 'c1',
    name: 'Ana',
    email: null,
    phone: '+5511999990000',
    instagramId: null,
    whatsappWindowExpiresAt: null,
    consent: null,
    organizationName: 'Loja',
    connection: null,
    ...overrides,
  };
}

/** A fake BullMQ job: records where it was moved and what data it kept. */
function fakeJob(data: Record<string, unknown> = {}) {
  const job = {
    data: { messageId: 'm1', organizationId: 'o1', ...data },
    delayedUntil: undefined as number | undefined,
    updateData: jest.fn(async (d: Record<string, unknown>) => {
      job.data = d as typeof job.data;
    }),
    moveToDelayed: jest.fn(async (until: number) => {
      job.delayedUntil = until;
    }),
  };
  return job;
}

const unreachable = () => new Prisma.PrismaClientKnownRequestError("Can't reach database server", { code: 'P1001', clientVersion: '7' });
const unknownOutcome = () => new ProviderError('WhatsApp Cloud API', 'no answer within 10000 ms', true, undefined, 'ETIMEDOUT', { unknownOutcome: true });

function setup(sender: Partial<MessageSender> & Pick<MessageSender, 'unknownOutcome'>) {
  const repository = {
    claim: jest.fn(async (_ids: string[]) => [message()]),
    load: jest.fn(async () => message()),
    reclaim: jest.fn(async () => message({ attempts: 2 })),
    markUncertain: jest.fn(async () => true),
    markSent: jest.fn(async (records: { id: string }[]) => records.map((r) => r.id)),
    release: jest.fn(async () => true),
    markFailed: jest.fn(async () => true),
    saveProgress: jest.fn(async () => undefined),
    invalidateConnection: jest.fn(async () => true),
    markCanceled: jest.fn(async () => true),
  };
  const provider: MessageSender = {
    channel: 'WHATSAPP',
    kind: 'whatsapp',
    provider: 'WhatsApp Cloud API',
    recipientField: 'phone',
    send: jest.fn(async () => ({ externalId: 'wamid.1' })),
    ...sender,
  } as MessageSender;
  const registry = { sender: () => provider } as unknown as ChannelRegistry;
  const router = {
    credentialsFor: jest.fn(() => ({ sandbox: false, credentials: { accessToken: 't' }, connectionId: 'conn1' })),
    paceOf: jest.fn(() => undefined),
  } as unknown as ChannelRouter;
  const statuses = { applyPending: jest.fn(async () => 0) } as unknown as DeliveryStatusService;
  const consent = { unsubscribeUrl: () => 'https://zyva.test/api/unsubscribe/t' } as unknown as ConsentService;
  const quota = { release: jest.fn(async () => 0), counted: jest.fn(async () => undefined) } as unknown as MessageQuota;
  const pace = { slot: jest.fn(async () => ({ earliest: Date.now(), latest: Date.now() })), throttle: jest.fn(async () => 1000) } as unknown as PaceService;
  const config = { WORKER_LOCK_DURATION_MS: LOCK_MS, UNCERTAIN_SEND_WAIT_MS: WAIT_MS } as AppConfig;
  const service = new MessageSenderService(repository as unknown as MessageSendRepository, registry, router, statuses, consent, quota, pace, config);
  return { service, repository, provider, router, statuses, quota };
}

const run = (service: MessageSenderService, job: ReturnType<typeof fakeJob>) => service.send(job as unknown as SendMessageJob, 'token');

describe('MessageSenderService: the send state machine', () => {
  beforeAll(() => Logger.overrideLogger(false));

  it('claims, calls the provider once and records SENT, applying reports kept for that id', async () => {
    const { service, repository, provider, statuses } = setup({ unknownOutcome: 'await-report' });
    const outcome = await run(service, fakeJob());
    expect(outcome).toEqual({ status: 'SENT', externalId: 'wamid.1', sandbox: false });
    expect(repository.claim).toHaveBeenCalledWith(['m1']);
    expect(provider.send).toHaveBeenCalledTimes(1);
    expect((provider.send as jest.Mock).mock.calls[0][0]).toMatchObject({ messageId: 'm1', to: '+5511999990000', text: 'Olá Ana' });
    expect(repository.markSent).toHaveBeenCalledWith([{ id: 'm1', externalId: 'wamid.1', content: undefined }]);
    expect(statuses.applyPending).toHaveBeenCalledWith('WHATSAPP', ['wamid.1']);
  });

  it('two holders of one message claiming it together (a batch and a re-queued job): only one gets the claim', async () => {
    const { service, repository } = setup({ unknownOutcome: 'await-report' });
    const [first, second] = await Promise.all([service.claim('m1'), service.claim('m1')]);
    expect(repository.claim).toHaveBeenCalledTimes(1);
    expect(repository.claim).toHaveBeenCalledWith(['m1']);
    expect(first).toMatchObject({ id: 'm1' });
    expect(second).toBeUndefined();
  });

  it('provider OK + the write fails: keeps the acceptance in the job and retries only the write, never the call', async () => {
    const { service, repository, provider } = setup({ unknownOutcome: 'await-report' });
    repository.markSent.mockRejectedValueOnce(unreachable());
    const job = fakeJob();
    await expect(run(service, job)).rejects.toBeInstanceOf(DelayedError);
    expect(job.data).toMatchObject({ accepted: { externalId: 'wamid.1', channel: 'WHATSAPP' } });
    expect(job.moveToDelayed).toHaveBeenCalled();

    // The retry: the write only.
    const outcome = await run(service, job);
    expect(outcome).toMatchObject({ status: 'SENT', externalId: 'wamid.1' });
    expect(provider.send).toHaveBeenCalledTimes(1);
    expect(repository.claim).toHaveBeenCalledTimes(1);
    expect(repository.markSent).toHaveBeenLastCalledWith([{ id: 'm1', externalId: 'wamid.1', content: undefined }]);
  });

  it('a 2xx without an id on WhatsApp: outcome unknown, the message waits for the report and is not sent again', async () => {
    const { service, repository, provider } = setup({
      unknownOutcome: 'await-report',
      send: jest.fn(async () => {
        throw new ProviderError('WhatsApp Cloud API', 'answer without messages[0].id', true, 200, undefined, { unknownOutcome: true });
      }),
    });
    const job = fakeJob();
    const before = Date.now();
    await expect(run(service, job)).rejects.toBeInstanceOf(DelayedError);
    expect(repository.markUncertain).toHaveBeenCalledWith('m1', expect.any(Date));
    expect(job.delayedUntil! - before).toBeGreaterThanOrEqual(WAIT_MS - 50);
    expect(repository.release).not.toHaveBeenCalled();
    expect(repository.markFailed).not.toHaveBeenCalled();
    expect(provider.send).toHaveBeenCalledTimes(1);
  });

  it('a timeout on Resend: sent again under the same idempotency key, counting the attempt', async () => {
    const { service, repository } = setup({ unknownOutcome: 'resend', send: jest.fn(async () => Promise.reject(unknownOutcome())) });
    await expect(run(service, fakeJob())).rejects.toBeInstanceOf(DelayedError);
    expect(repository.release).toHaveBeenCalledWith('m1', expect.stringContaining('no answer'), true);
  });

  it('a timeout on Instagram DM: FAILED "outcome unknown", never a second send', async () => {
    const { service, repository } = setup({ unknownOutcome: 'fail', send: jest.fn(async () => Promise.reject(unknownOutcome())) });
    await expect(run(service, fakeJob())).rejects.toBeInstanceOf(UnrecoverableError);
    expect(repository.markFailed).toHaveBeenCalledWith('m1', expect.stringContaining('outcome unknown'));
  });

  it('a stalled job (found SENDING, lease over): WhatsApp waits for the report, then sends once more only if none came', async () => {
    const { service, repository, provider } = setup({ unknownOutcome: 'await-report' });
    repository.claim.mockResolvedValue([]);
    const claimedAt = new Date(Date.now() - LOCK_MS - 1000);
    repository.load.mockResolvedValueOnce(message({ claimedAt }));
    const job = fakeJob();
    await expect(run(service, job)).rejects.toBeInstanceOf(DelayedError);
    expect(repository.markUncertain).toHaveBeenCalledWith('m1', claimedAt, claimedAt);
    expect(provider.send).not.toHaveBeenCalled();

    // The wait is over and no report settled it: it never went out, so it is sent once more (a new attempt).
    repository.load.mockResolvedValueOnce(message({ claimedAt, uncertainSince: new Date(Date.now() - WAIT_MS - 1) }));
    const outcome = await run(service, job);
    expect(repository.reclaim).toHaveBeenCalledWith('m1', claimedAt);
    expect(provider.send).toHaveBeenCalledTimes(1);
    expect(outcome.status).toBe('SENT');
  });

  it('a stalled job whose lease is not over yet: postponed, since another worker may still be in the call', async () => {
    const { service, repository, provider } = setup({ unknownOutcome: 'await-report' });
    repository.claim.mockResolvedValue([]);
    repository.load.mockResolvedValueOnce(message({ claimedAt: new Date() }));
    await expect(run(service, fakeJob())).rejects.toBeInstanceOf(DelayedError);
    expect(repository.markUncertain).not.toHaveBeenCalled();
    expect(provider.send).not.toHaveBeenCalled();
  });

  it('a stalled Twilio job: looks the message up and records it when the provider has it, without sending', async () => {
    const lookup = jest.fn(async () => ({ externalId: 'SM123' }));
    const { service, repository, provider } = setup({ unknownOutcome: 'lookup', channel: 'SMS', kind: 'sms', lookup });
    repository.claim.mockResolvedValue([]);
    repository.load.mockResolvedValueOnce(message({ channel: 'SMS', claimedAt: new Date(Date.now() - LOCK_MS - 1000) }));
    const outcome = await run(service, fakeJob());
    expect(outcome).toEqual({ status: 'SKIPPED', reason: 'the earlier attempt was settled' });
    expect(lookup).toHaveBeenCalledTimes(1);
    expect(repository.markSent).toHaveBeenCalledWith([{ id: 'm1', externalId: 'SM123', content: undefined }]);
    expect(provider.send).not.toHaveBeenCalled();
  });

  it('a message already settled (a report came, or it was canceled) is skipped', async () => {
    const { service, repository, provider } = setup({ unknownOutcome: 'await-report' });
    repository.claim.mockResolvedValue([]);
    repository.load.mockResolvedValueOnce(message({ status: 'SENT' }));
    expect(await run(service, fakeJob())).toEqual({ status: 'SKIPPED', reason: 'the message is already SENT' });
    expect(provider.send).not.toHaveBeenCalled();
  });

  it('a contact who opted out meanwhile: CANCELED, its unit given back and the cached count dropped, nothing sent', async () => {
    const { service, repository, provider, quota } = setup({ unknownOutcome: 'await-report' });
    repository.claim.mockResolvedValue([message({ consent: 'OPTED_OUT' })]);
    expect(await run(service, fakeJob())).toMatchObject({ status: 'CANCELED' });
    expect(repository.markCanceled).toHaveBeenCalledWith('m1', 'o1', expect.any(Date), expect.stringContaining('opted out'));
    expect(quota.release).toHaveBeenCalledWith('o1', 1, expect.any(Date));
    expect(quota.counted).toHaveBeenCalledWith('o1');
    expect(provider.send).not.toHaveBeenCalled();
  });

  it("free-form text through a store's number whose window closed after acceptance fails with the contract's reason, as is", async () => {
    const { service, repository, provider } = setup({ unknownOutcome: 'await-report' });
    repository.claim.mockResolvedValue([message({ route: 'CONNECTION', whatsappWindowExpiresAt: new Date(Date.now() - 1000) })]);
    await expect(run(service, fakeJob())).rejects.toThrow(new UnrecoverableError(OUTSIDE_WINDOW));
    expect(repository.markFailed).toHaveBeenCalledWith('m1', 'outside the 24-hour window: send an approved template');
    expect(provider.send).not.toHaveBeenCalled();
  });

  it('throttling pauses the message without using an attempt; a refusal for now is retried; the last attempt fails', async () => {
    const throttled = new ProviderError('WhatsApp Cloud API', '(#130429) Rate limit hit', true, 400, 130429, { throttled: true });
    const { service, repository } = setup({ unknownOutcome: 'await-report', send: jest.fn(async () => Promise.reject(throttled)) });
    await expect(run(service, fakeJob())).rejects.toBeInstanceOf(DelayedError);
    expect(repository.release).toHaveBeenCalledWith('m1', expect.any(String), false);

    const serverError = new ProviderError('WhatsApp Cloud API', 'Service temporarily unavailable', true, 503, 2);
    const second = setup({ unknownOutcome: 'await-report', send: jest.fn(async () => Promise.reject(serverError)) });
    await expect(run(second.service, fakeJob())).rejects.toBeInstanceOf(DelayedError);
    expect(second.repository.release).toHaveBeenCalledWith('m1', expect.any(String), true);

    const last = setup({ unknownOutcome: 'await-report', send: jest.fn(async () => Promise.reject(serverError)) });
    last.repository.claim.mockResolvedValue([message({ attempts: 3 })]);
    await expect(run(last.service, fakeJob())).rejects.toBeInstanceOf(UnrecoverableError);
    expect(last.repository.markFailed).toHaveBeenCalledWith('m1', expect.stringContaining('Service temporarily unavailable'));
  });

  it('an authentication error fails the message at once and invalidates its connection', async () => {
    const expired = new ProviderError('WhatsApp Cloud API', 'Error validating access token [code 190]', false, 401, 190, { authentication: true });
    const { service, repository } = setup({ unknownOutcome: 'await-report', send: jest.fn(async () => Promise.reject(expired)) });
    await expect(run(service, fakeJob())).rejects.toBeInstanceOf(UnrecoverableError);
    expect(repository.invalidateConnection).toHaveBeenCalledWith('conn1', expect.stringContaining('code 190'));
    expect(repository.markFailed).toHaveBeenCalledWith('m1', expect.stringContaining('PUT /api/channels/whatsapp'));
  });

  it('a route that cannot be used any more (connection deleted or INVALID) fails the message without calling anyone', async () => {
    const { service, repository, provider, router } = setup({ unknownOutcome: 'await-report' });
    (router.credentialsFor as jest.Mock).mockImplementation(() => {
      throw new RouteUnavailableError('the WHATSAPP connection it was accepted with was deleted');
    });
    await expect(run(service, fakeJob())).rejects.toBeInstanceOf(UnrecoverableError);
    expect(repository.markFailed).toHaveBeenCalledWith('m1', 'the WHATSAPP connection it was accepted with was deleted');
    expect(provider.send).not.toHaveBeenCalled();
  });
});
