import { QueueName } from '../../src/core/queues/queue.catalogue';
import { bearer, Fixtures, waitFor } from '../utils/factories';
import { createTestApp, TestApp } from '../utils/test-app';

/**
 * A WAIT is a delayed job in Redis, not a sleeping worker: the worker that
 * started the run is shut down during the wait, another one (same queue
 * prefix, a fresh process in production) starts, and the run resumes there.
 * Messages go out in sandbox mode (no provider credentials in this env).
 */
describe('a flow WAIT across a worker restart (e2e)', () => {
  let current: TestApp;
  // Fixtures follow whichever app is running.
  const app = new Proxy({} as TestApp, { get: (_, key) => current[key as keyof TestApp] });
  const fx = new Fixtures(app);

  afterAll(async () => {
    await fx.cleanup();
    await current.close();
  });

  it('resumes after the wait on the new worker, with nothing lost or repeated', async () => {
    current = await createTestApp();
    const user = await fx.registerUser();
    await fx.setPlan(user.organizationId, 'PRO');
    const auth = bearer(user.token);
    const contact = await current.http.post('/api/contacts').set(auth).send({ name: 'Bia', phone: '+5511912345678' });
    expect(contact.status).toBe(201);
    const flow = await current.http
      .post('/api/flows')
      .set(auth)
      .send({
        name: 'Lembrete',
        trigger: { type: 'MANUAL' },
        steps: [
          { type: 'ADD_TAG', tag: 'lead' },
          { type: 'WAIT', seconds: 2 },
          { type: 'SEND_MESSAGE', channel: 'WHATSAPP', content: 'Oi {{nome}}, ainda quer o cupom?' },
        ],
      });
    expect(flow.status).toBe(201);
    const started = await current.http.post(`/api/flows/${flow.body.id}/executions`).set(auth).send({ contactId: contact.body.id });
    expect(started.status).toBe(202);
    const executionId: string = started.body.executionId;

    const waiting = await waitFor(async () => {
      const e = await current.prisma.flowExecution.findUniqueOrThrow({ where: { id: executionId } });
      return e.status === 'WAITING' ? e : undefined;
    });
    const waitStarted = Date.now();
    expect(waiting.stepIndex).toBe(1);
    const listed = await current.http.get(`/api/flows/${flow.body.id}/executions`).set(auth);
    expect(listed.body.data[0]).toMatchObject({ id: executionId, status: 'WAITING', stepIndex: 1, finishedAt: null });
    const delayed = await current.queue(QueueName.Flows).getJob(`${executionId}-2`);
    expect(await delayed!.getState()).toBe('delayed');
    expect(delayed!.opts.delay).toBe(2000);

    // Shut the worker down (not `close()`, which would also empty the test's queues).
    await current.app.close();
    const closedAt = Date.now();
    current = await createTestApp();

    const done = await waitFor(async () => {
      const e = await current.prisma.flowExecution.findUniqueOrThrow({ where: { id: executionId } });
      return e.status === 'COMPLETED' ? e : undefined;
    }, 15_000);
    expect(done).toMatchObject({ stepIndex: 3, error: null });
    expect(done.finishedAt!.getTime() - waitStarted).toBeGreaterThanOrEqual(1500);
    // The new worker finished it, not the old one before it stopped (the new one may take longer than the wait to start).
    expect(done.finishedAt!.getTime()).toBeGreaterThanOrEqual(closedAt);

    const messages = await current.prisma.message.findMany({ where: { flowExecutionId: executionId } });
    expect(messages).toHaveLength(1);
    const sent = await waitFor(async () => {
      const m = await current.prisma.message.findUniqueOrThrow({ where: { id: messages[0].id } });
      return m.status === 'SENT' ? m : undefined;
    });
    expect(sent.externalId).toMatch(/^sandbox_/);
    expect(sent.content).toBe('Oi {{nome}}, ainda quer o cupom?');
    const tags = await current.prisma.contactTag.findMany({ where: { contactId: contact.body.id }, include: { tag: true } });
    expect(tags.map((l) => l.tag.name)).toEqual(['lead']);
  });
});
