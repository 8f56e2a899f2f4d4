import { randomBytes } from 'node:crypto';
import type { Job } from 'bullmq';
import { JobName, QueueName } from '../../src/core/queues/queue.catalogue';
import { bearer, Fixtures, randomIp, RegisteredUser, uniquePhone, waitFor } from '../utils/factories';
import { StandIn, startWhatsAppStandIn, whatsAppErrors } from '../utils/provider-stand-ins';
import { spawnZyva } from '../utils/processes';
import { createTestApp, TestApp, unlinkKeys } from '../utils/test-app';

const WA = { phoneNumberId: '2012', accessToken: 'wa-batch-token' };

/**
 * `send-campaign-batch` jobs: one BullMQ job per 50 campaign messages. The
 * claim is conditional, so a canceled, sent or duplicated message is never
 * sent from a batch; whatever is not a clean send goes on in the message's
 * own send-message job. WhatsApp paced at 1,000 a second here (a batch fits
 * the worker's wait; a slower account hands every message to its own job).
 */
describe('campaign batch jobs (e2e)', () => {
  let t: TestApp;
  let fx: Fixtures;
  let wa: StandIn;
  let user: RegisteredUser;

  beforeAll(async () => {
    wa = await startWhatsAppStandIn(WA);
    t = await createTestApp({
      WHATSAPP_API_URL: wa.url,
      WHATSAPP_PHONE_ID: WA.phoneNumberId,
      WHATSAPP_TOKEN: WA.accessToken,
      WHATSAPP_MAX_PER_SECOND: '1000',
      WORKER_CONCURRENCY: '10',
    });
    fx = new Fixtures(t);
    user = await fx.registerUser();
    await fx.setPlan(user.organizationId, 'ENTERPRISE', { maxMessagesPerMonth: 1_000_000 });
  });

  afterAll(async () => {
    await unlinkKeys(t.redis, [...(fx['orgIds'] as Set<string>)].map((id) => `zyva:limits:{${id}}:messages`));
    await fx.cleanup();
    await t.close();
    await wa.close();
  });

  beforeEach(() => wa.reset());

  const queue = () => t.queue(QueueName.Messages);
  const create = (body: Record<string, unknown>) => t.http.post('/api/campaigns').set(bearer(user.token)).set('X-Forwarded-For', randomIp()).send(body);
  const get = (id: string) => t.http.get(`/api/campaigns/${id}`).set(bearer(user.token));

  async function tagged(n: number): Promise<string> {
    const tag = `b-${randomBytes(3).toString('hex')}`;
    const created = await t.prisma.contact.createManyAndReturn({
      data: Array.from({ length: n }, (_, i) => ({ organizationId: user.organizationId, name: `Batch ${i}`, phone: uniquePhone() })),
      select: { id: true },
    });
    const row = await t.prisma.tag.create({ data: { organizationId: user.organizationId, name: tag } });
    await t.prisma.contactTag.createMany({ data: created.map((c) => ({ contactId: c.id, tagId: row.id })) });
    return tag;
  }

  /** A campaign scheduled for later: its messages wait, SCHEDULED, in delayed batch jobs the test promotes. */
  async function heldCampaign(n: number): Promise<{ id: string; batches: Job[]; messageIds: string[] }> {
    const tag = await tagged(n);
    const res = await create({ name: 'Held', channel: 'WHATSAPP', content: 'Oi {{nome}}', tag, scheduledFor: new Date(Date.now() + 3600_000).toISOString() });
    expect(res.status).toBe(202);
    await waitFor(async () => ((await get(res.body.id)).body.status === 'QUEUED' ? true : undefined));
    const batches = (await queue().getDelayed()).filter((j) => j.name === JobName.SendCampaignBatch && j.data.campaignId === res.body.id);
    return { id: res.body.id, batches, messageIds: batches.flatMap((b) => b.data.messageIds as string[]) };
  }

  const callsTo = (messageIds: string[]) => wa.requestsTo('messages').filter((r) => messageIds.includes(r.body.biz_opaque_callback_data));

  it('queues one batch job per 50 messages, and sends a campaign through them: one call per contact', async () => {
    const tag = await tagged(120);
    const res = await create({ name: 'Batched', channel: 'WHATSAPP', content: 'Oi {{nome}}', tag });
    const done = await waitFor(async () => {
      const r = await get(res.body.id);
      return r.body.sent === 120 ? r.body : undefined;
    }, 20000);
    expect(done).toMatchObject({ status: 'COMPLETED', total: 120, sent: 120, queued: 0, failed: 0 });
    const ids = (await t.prisma.message.findMany({ where: { campaignId: res.body.id }, select: { id: true } })).map((m) => m.id);
    expect(callsTo(ids)).toHaveLength(120);
    expect(new Set(callsTo(ids).map((c) => c.body.to)).size).toBe(120);
    // No send-message job: every message went out from its batch.
    for (const id of ids) expect(await queue().getJob(id)).toBeUndefined();
    const completed = (await queue().getCompleted()).filter((j) => j.name === JobName.SendCampaignBatch && j.data.campaignId === res.body.id);
    expect(completed.map((j) => j.data.messageIds.length).sort((a, b) => a - b)).toEqual([20, 50, 50]);
    expect(completed.reduce((n, j) => n + j.returnvalue.sent, 0)).toBe(120);
  });

  it('claims only what is still to send: a canceled or sent message is skipped, a SENDING one goes to its own job', async () => {
    const { id, batches, messageIds } = await heldCampaign(6);
    expect(batches).toHaveLength(1);
    const [canceled, sent, sending, ...rest] = messageIds;
    expect((await t.http.delete(`/api/messages/${canceled}`).set(bearer(user.token))).status).toBe(200);
    await t.prisma.message.update({ where: { id: sent }, data: { status: 'SENT', externalId: 'wamid.earlier', sentAt: new Date() } });
    // Claimed by another attempt a moment ago (still within its lease): the batch must not touch it.
    await t.prisma.message.update({ where: { id: sending }, data: { status: 'SENDING', claimedAt: new Date(), attempts: 1 } });

    await batches[0].promote();
    await waitFor(async () => ((await batches[0].getState()) === 'completed' ? true : undefined));
    const batch = await queue().getJob(batches[0].id!);
    expect(batch!.returnvalue).toEqual({ sent: 3, canceled: 0, failed: 0, handedOff: 1, skipped: 2 });
    expect(callsTo(messageIds).map((c) => c.body.biz_opaque_callback_data).sort()).toEqual([...rest].sort());
    const rows = new Map((await t.prisma.message.findMany({ where: { id: { in: messageIds } } })).map((m) => [m.id, m]));
    expect(rows.get(canceled)!.status).toBe('CANCELED');
    expect(rows.get(sent)!).toMatchObject({ status: 'SENT', externalId: 'wamid.earlier' });
    expect(rows.get(sending)!).toMatchObject({ status: 'SENDING', attempts: 1 });
    for (const m of rest) expect(rows.get(m)!).toMatchObject({ status: 'SENT', attempts: 1 });
    // The SENDING one waits in its own job for the other attempt's lease (the per-message takeover).
    const own = await queue().getJob(sending);
    expect(own!.name).toBe(JobName.SendMessage);
    // (It may still be running when the batch completes, on its way to being put back: on a cluster, it was.)
    expect(await waitFor(async () => ((await own!.getState()) === 'delayed' ? true : undefined), 10000, 50)).toBe(true);
    expect((await get(id)).body).toMatchObject({ sent: 4, canceled: 1, queued: 1 });
  });

  it('a batch job run again (after a crash, a stall or a retry) sends nothing twice: every unsettled message goes to its own job', async () => {
    const { batches, messageIds } = await heldCampaign(5);
    const [sent, claimed, ...untouched] = messageIds;
    // What a crashed first run leaves: one message recorded, one claimed (it may have reached the provider).
    await t.prisma.message.update({ where: { id: sent }, data: { status: 'SENT', externalId: 'wamid.first-run', sentAt: new Date() } });
    await t.prisma.message.update({ where: { id: claimed }, data: { status: 'SENDING', claimedAt: new Date(), attempts: 1 } });
    // The run after an interruption is the one whose job carries the marks of one (here: it waited out an outage).
    await batches[0].updateData({ ...batches[0].data, outages: 1 });

    await batches[0].promote();
    await waitFor(async () => ((await batches[0].getState()) === 'completed' ? true : undefined));
    expect((await queue().getJob(batches[0].id!))!.returnvalue).toEqual({ sent: 0, canceled: 0, failed: 0, handedOff: 4, skipped: 1 });
    // The untouched ones are sent by their own jobs; the claimed one waits for its lease, then its channel's policy.
    await waitFor(async () => ((await t.prisma.message.count({ where: { id: { in: untouched }, status: 'SENT' } })) === untouched.length ? true : undefined));
    const calls = callsTo(messageIds).map((c) => c.body.biz_opaque_callback_data);
    expect(calls.sort()).toEqual([...untouched].sort());
    expect(await (await queue().getJob(claimed))!.getState()).toBe('delayed');
    expect((await t.prisma.message.findUniqueOrThrow({ where: { id: claimed } })).status).toBe('SENDING');
    expect((await t.prisma.message.findUniqueOrThrow({ where: { id: sent } })).externalId).toBe('wamid.first-run');
  });

  it('two jobs holding the same messages (a reconciler re-queue, a fan-out run again) send each once', async () => {
    const { batches, messageIds } = await heldCampaign(8);
    // The reconciler sees QUEUED messages without a job of their own and queues send-message jobs for some.
    await t.queue(QueueName.Messages).addBulk(
      messageIds.slice(0, 3).map((id) => ({ name: JobName.SendMessage, data: { messageId: id, organizationId: user.organizationId }, opts: { jobId: id } })),
    );
    const copy = await queue().add(JobName.SendCampaignBatch, batches[0].data, { jobId: `copy-${batches[0].id}` });
    await batches[0].promote();
    await waitFor(async () => ((await t.prisma.message.count({ where: { id: { in: messageIds }, status: 'SENT' } })) === 8 ? true : undefined), 15000);
    await waitFor(async () => ((await copy.getState()) === 'completed' && (await batches[0].getState()) === 'completed' ? true : undefined));
    const calls = callsTo(messageIds);
    expect(calls).toHaveLength(8);
    expect(new Set(calls.map((c) => c.body.biz_opaque_callback_data))).toEqual(new Set(messageIds));
  });

  it('a transient refusal goes on in the message\'s own job, which retries it after the backoff: SENT with attempts 2', async () => {
    const { batches, messageIds } = await heldCampaign(4);
    wa.script('messages', whatsAppErrors.serverError());
    await batches[0].promote();
    await waitFor(async () => ((await batches[0].getState()) === 'completed' ? true : undefined));
    const report = (await queue().getJob(batches[0].id!))!.returnvalue;
    expect(report).toMatchObject({ sent: 3, handedOff: 1, failed: 0 });
    const refused = wa.requestsTo('messages').find((r) => r.response?.status === 503)!.body.biz_opaque_callback_data as string;
    const own = await queue().getJob(refused);
    expect(own!.name).toBe(JobName.SendMessage);
    expect(await own!.getState()).toBe('delayed');
    expect(await t.prisma.message.findUniqueOrThrow({ where: { id: refused } })).toMatchObject({ status: 'QUEUED', attempts: 1 });

    await waitFor(async () => ((await t.prisma.message.findUniqueOrThrow({ where: { id: refused } })).status === 'SENT' ? true : undefined), 10000);
    expect(await t.prisma.message.findUniqueOrThrow({ where: { id: refused } })).toMatchObject({ status: 'SENT', attempts: 2 });
    expect(callsTo([refused])).toHaveLength(2);
    expect(callsTo(messageIds)).toHaveLength(5);
  });

  it('throttling (130429) pauses the account and hands the message to its own job, without using an attempt', async () => {
    const { batches, messageIds } = await heldCampaign(1);
    // A fresh account: a pause streak left by an earlier run would double these pauses.
    await t.redis.del('zyva:pace:platform:whatsapp');
    wa.script('messages', whatsAppErrors.rateLimited(), whatsAppErrors.rateLimited());
    await batches[0].promote();
    await waitFor(async () => ((await t.prisma.message.findUniqueOrThrow({ where: { id: messageIds[0] } })).status === 'SENT' ? true : undefined), 15000);
    expect(await t.prisma.message.findUniqueOrThrow({ where: { id: messageIds[0] } })).toMatchObject({ status: 'SENT', attempts: 1 });
    const calls = callsTo(messageIds);
    expect(calls).toHaveLength(3);
    // The account paused at least 1 s, then 2 s, between the answers.
    expect(calls[1].receivedAt - calls[0].receivedAt).toBeGreaterThanOrEqual(900);
    expect(calls[2].receivedAt - calls[1].receivedAt).toBeGreaterThanOrEqual(1900);
  }, 40000);

  it('a worker killed (SIGKILL) inside a batch: the stalled batch runs again and hands its messages on, none is sent twice', async () => {
    const tag = await tagged(70);
    const workerEnv = {
      APP_ROLE: 'worker',
      // 40 sends in flight at once (the batches' messages share 4 x WORKER_CONCURRENCY places): the kill finds 40 at the provider.
      WORKER_CONCURRENCY: '10',
      WORKER_LOCK_DURATION_MS: '2000',
      LOG_LEVEL: 'silent',
      WHATSAPP_API_URL: wa.url,
      WHATSAPP_PHONE_ID: WA.phoneNumberId,
      WHATSAPP_TOKEN: WA.accessToken,
      WHATSAPP_MAX_PER_SECOND: '1000',
    };
    // This app's own worker stops taking jobs: the spawned workers are the ones that run (and die).
    const appWorker = t.get<{ worker: { pause(doNotWait?: boolean): Promise<void>; resume(): void } }>('modules/messages/messages.processor', 'MessagesProcessor').worker;
    await appWorker.pause(true);
    try {
      wa.delayMs = 3000;
      const res = await create({ name: 'Crash', channel: 'WHATSAPP', content: 'Oi {{nome}}', tag });
      const first = spawnZyva(workerEnv);
      await waitFor(async () => (wa.requestsTo('messages').length >= 40 ? true : undefined), 30000, 20);
      first.child.kill('SIGKILL');
      await first.exited;
      const reached = new Set(wa.requestsTo('messages').map((r) => r.body.biz_opaque_callback_data as string));
      wa.delayMs = 0;

      const second = spawnZyva(workerEnv);
      try {
        const ids = (await t.prisma.message.findMany({ where: { campaignId: res.body.id }, select: { id: true } })).map((m) => m.id);
        const untouched = ids.filter((id) => !reached.has(id));
        expect(reached.size).toBe(40);
        expect(untouched).toHaveLength(30);
        // The 30 never claimed go out through their own jobs; the 40 claimed are handed to theirs (the takeover).
        await waitFor(async () => ((await t.prisma.message.count({ where: { id: { in: untouched }, status: 'SENT' } })) === 30 ? true : undefined), 30000, 100);
        await waitFor(async () => {
          const own = await Promise.all([...reached].map((id) => queue().getJob(id)));
          return own.every((j) => j?.name === JobName.SendMessage) ? true : undefined;
        }, 20000, 200);
        const calls = wa.requestsTo('messages').map((r) => r.body.biz_opaque_callback_data as string);
        expect(calls).toHaveLength(70);
        expect(new Set(calls).size).toBe(70);
        // The ones that reached the provider before the kill: SENDING, settled by Meta's report or after its wait, never re-sent blindly.
        const rows = await t.prisma.message.findMany({ where: { id: { in: [...reached] } } });
        for (const m of rows) expect(m.status).toBe('SENDING');
      } finally {
        second.child.kill('SIGKILL');
        await second.exited;
      }
    } finally {
      appWorker.resume();
      wa.delayMs = 0;
    }
  }, 90000);
});
