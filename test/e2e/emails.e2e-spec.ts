import { randomUUID } from 'node:crypto';
import { JobName, QueueName } from '../../src/core/queues/queue.catalogue';
import { Fixtures, randomIp, uniqueEmail, waitFor } from '../utils/factories';
import { ResendStandIn, resendErrors, startResendStandIn } from '../utils/provider-stand-ins';
import { createTestApp, TestApp, unlinkKeys } from '../utils/test-app';

const KEY = 're_emails_key';

describe('account emails through Resend, the emails queue (e2e)', () => {
  let t: TestApp;
  let fx: Fixtures;
  let resend: ResendStandIn;

  beforeAll(async () => {
    resend = await startResendStandIn({ apiKey: KEY });
    t = await createTestApp({ RESEND_API_URL: resend.url, RESEND_API_KEY: KEY, EMAIL_FROM: 'Zyva <no-reply@zyva.dev>', APP_URL: 'https://app.zyva.dev' });
    fx = new Fixtures(t);
  });

  afterAll(async () => {
    await dropQuotaKeys(t, fx);
    await fx.cleanup();
    await t.close();
    await resend.close();
  });

  const deliveriesTo = (email: string) => resend.deliveries.filter((d) => d.request.body.to[0] === email);
  const emailJobs = async () => (await t.queue(QueueName.Emails).getJobs(['completed', 'failed', 'wait', 'active', 'delayed'])).filter(Boolean);

  it('sends the verification email of a registration, whose link verifies the account', async () => {
    const email = uniqueEmail('verify');
    await fx.registerUser({ email, name: 'Ana <Admin>' });
    const [delivery] = await waitFor(async () => {
      const found = deliveriesTo(email);
      return found.length > 0 ? found : undefined;
    });
    const { body, headers } = delivery.request;
    expect(headers.authorization).toBe(`Bearer ${KEY}`);
    expect(headers['idempotency-key']).toMatch(/^verify-email-[0-9a-f]{40}$/);
    expect(body.from).toBe('Zyva <no-reply@zyva.dev>');
    expect(body.subject).toBe('Confirme seu e-mail no Zyva');
    expect(body.html).toContain('Olá Ana &lt;Admin&gt;,');
    const link = /https:\/\/app\.zyva\.dev\/verify-email\?token=([^\s"&]+)/.exec(body.text);
    expect(link).not.toBeNull();

    const verify = await t.http.post('/api/auth/verify-email').set('X-Forwarded-For', randomIp()).send({ token: decodeURIComponent(link![1]) });
    expect(verify.status).toBe(204);
    expect((await t.prisma.user.findUniqueOrThrow({ where: { email } })).emailVerifiedAt).toBeInstanceOf(Date);
  });

  it('sends the password reset email', async () => {
    const u = await fx.registerUser();
    const res = await t.http.post('/api/auth/password/forgot').set('X-Forwarded-For', randomIp()).send({ email: u.email });
    expect(res.status).toBe(202);
    const reset = await waitFor(() => Promise.resolve(deliveriesTo(u.email).find((d) => d.request.body.subject === 'Redefina sua senha do Zyva')));
    expect(reset.request.body.text).toMatch(/https:\/\/app\.zyva\.dev\/reset-password\?token=/);
    expect(reset.idempotencyKey).toMatch(/^password-reset-/);
  });

  it('retries a Resend 500 with the same link and delivers once; the job run again never delivers a second copy', async () => {
    const u = await fx.registerUser();
    await waitFor(async () => (deliveriesTo(u.email).length > 0 ? true : undefined));
    resend.script('emails', resendErrors.internal());
    const job = await t.queue(QueueName.Emails).add(JobName.SendEmail, { template: 'password-reset', userId: u.userId, ref: randomUUID() });
    await waitFor(async () => ((await job.getState()) === 'completed' ? true : undefined), 15000);
    expect((await t.queue(QueueName.Emails).getJob(job.id!))!.attemptsMade).toBe(2);
    const attempts = resend.requests.filter((r) => r.body?.to?.[0] === u.email && r.body?.subject === 'Redefina sua senha do Zyva');
    expect(attempts).toHaveLength(2);
    expect(attempts[1].body.text).toBe(attempts[0].body.text);
    expect(deliveriesTo(u.email)).toHaveLength(2); // the verification email, and this one once

    // The same job run again (a worker that died after Resend answered): Resend answers the first result.
    const emails = t.get<{ send(job: unknown): Promise<unknown> }>('modules/auth/emails/account-email.service', 'AccountEmailService');
    const completed = await t.queue(QueueName.Emails).getJob(job.id!);
    expect(await emails.send(completed)).toEqual(completed!.returnvalue);
    expect(deliveriesTo(u.email)).toHaveLength(2);
  });

  it('fails an email at once on a 422 (no retry can fix it), naming no token', async () => {
    const u = await fx.registerUser();
    await waitFor(async () => (deliveriesTo(u.email).length > 0 ? true : undefined));
    resend.script('emails', resendErrors.validation());
    const job = await t.queue(QueueName.Emails).add(JobName.SendEmail, { template: 'password-reset', userId: u.userId, ref: randomUUID() });
    await waitFor(async () => ((await job.getState()) === 'failed' ? true : undefined));
    const failed = await t.queue(QueueName.Emails).getJob(job.id!);
    expect(failed!.attemptsMade).toBe(1);
    expect(failed!.failedReason).toContain('validation_error');
    expect(failed!.failedReason).not.toContain('token=');
    expect(deliveriesTo(u.email)).toHaveLength(1);
    expect((await emailJobs()).length).toBeGreaterThan(0);
  });

  it('skips the email of a user that no longer exists', async () => {
    const gone = await t.queue(QueueName.Emails).add(JobName.SendEmail, { template: 'password-reset', userId: 'no-such-user', ref: randomUUID() });
    await waitFor(async () => ((await gone.getState()) === 'completed' ? true : undefined));
    expect((await t.queue(QueueName.Emails).getJob(gone.id!))!.returnvalue).toEqual({ skipped: 'the user no longer exists' });
  });
});

/** The monthly quota counters of the organizations this file made (Redis keys outlive the rows). */
async function dropQuotaKeys(app: TestApp, fixtures: Fixtures): Promise<void> {
  const ids = [...(fixtures['orgIds'] as Set<string>)];
  await unlinkKeys(app.redis, ids.map((id) => `zyva:limits:{${id}}:messages`));
}
