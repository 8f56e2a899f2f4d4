import { QueueName } from '../../src/core/queues/queue.catalogue';
import { createTestApp, TestApp } from '../utils/test-app';

/** Hour of `instant` in a time zone. */
const hourIn = (instant: number, timeZone: string) =>
  Number(new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', hourCycle: 'h23' }).format(new Date(instant)));

describe('the daily check-birthdays scheduler (e2e)', () => {
  const apps: TestApp[] = [];

  afterAll(async () => {
    for (const app of apps.slice(1)) await app.app.close();
    await apps[0]?.close();
  });

  it('holds one check-birthdays entry and one next job however many workers start', async () => {
    // Three worker processes on the same queue prefix (this file's), started at once, then a fourth later.
    apps.push(...(await Promise.all([createTestApp(), createTestApp(), createTestApp()])));
    apps.push(await createTestApp());
    const queue = apps[0].queue(QueueName.Birthdays);

    const schedulers = await queue.getJobSchedulers();
    expect(schedulers).toHaveLength(1);
    expect(await queue.getJobSchedulersCount()).toBe(1);
    const [scheduler] = schedulers;
    expect(scheduler).toMatchObject({ key: 'check-birthdays', name: 'check-birthdays', pattern: '0 9 * * *', tz: 'America/Sao_Paulo' });

    const next = (await queue.getDelayed()).filter((j) => j.name === 'check-birthdays');
    expect(next).toHaveLength(1);
    const fireAt = next[0].timestamp + next[0].delay;
    expect(fireAt).toBe(scheduler.next);
    expect(hourIn(fireAt, 'America/Sao_Paulo')).toBe(9);
    expect(fireAt - Date.now()).toBeLessThanOrEqual(24 * 3600 * 1000);
    expect(next[0].opts.attempts).toBe(3);
  });
});
