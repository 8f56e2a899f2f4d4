import type { WorkerHost } from '@nestjs/bullmq';
import { createTestApp } from '../utils/test-app';

const PROCESSORS: [string, string][] = [
  ['modules/messages/messages.processor', 'MessagesProcessor'],
  ['modules/flows/flows.processor', 'FlowsProcessor'],
  ['modules/birthdays/birthdays.processor', 'BirthdaysProcessor'],
  ['modules/social-posts/social-posts.processor', 'SocialPostsProcessor'],
  ['modules/auth/emails/emails.processor', 'EmailsProcessor'],
];

describe('graceful shutdown (e2e)', () => {
  it('gives every queue worker an error listener, so an error event is logged instead of thrown', async () => {
    const t = await createTestApp();
    try {
      for (const [path, name] of PROCESSORS) {
        const worker = t.get<WorkerHost>(path, name).worker;
        expect(worker.listenerCount('error')).toBeGreaterThan(0);
        expect(() => worker.emit('error', new Error(`Missing key for job x of ${name}`))).not.toThrow();
      }
    } finally {
      await t.close();
    }
  });

  it('lets all five queue processors drain before Prisma disconnects', async () => {
    const t = await createTestApp();
    const order: string[] = [];
    for (const [path, name] of PROCESSORS) {
      const worker = t.get<WorkerHost>(path, name).worker;
      const close = worker.close.bind(worker);
      jest.spyOn(worker, 'close').mockImplementation(async (force?: boolean) => {
        // Asked to drain: a draining worker finishes its active jobs, which may still need the database.
        await new Promise((resolve) => setTimeout(resolve, 20));
        order.push(`${name} drained`);
        return close(force);
      });
    }
    const disconnect = t.prisma.$disconnect.bind(t.prisma);
    jest.spyOn(t.prisma, '$disconnect').mockImplementation(async () => {
      order.push('prisma disconnected');
      return disconnect();
    });

    await t.close();
    const disconnectedAt = order.indexOf('prisma disconnected');
    expect(disconnectedAt).toBeGreaterThan(-1);
    for (const [, name] of PROCESSORS) {
      const drainedAt = order.indexOf(`${name} drained`);
      expect(drainedAt).toBeGreaterThan(-1);
      expect(drainedAt).toBeLessThan(disconnectedAt);
    }
  });
});
