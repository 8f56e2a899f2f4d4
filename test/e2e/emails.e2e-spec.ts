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

  it('retries a Resend 500 and delivers once; a job run again never delivers a second copy', async () => {
    const to = uniqueEmail('retry');
    resend.script('emails', resendErrors.internal());
    const payload = { template: 'password-reset' as const, userId: 'u-retry', to, name: 'Rita', url: `https://app.zyva.dev/reset-password?token=${Date.now()}` };
    const job = await t.queue(QueueName.Emails).add(JobName.SendEmail, payload);
    await waitFor(async () => ((await job.getState()) === 'completed' ? true : undefined), 15000);
    expect((await t.queue(QueueName.Emails).getJob(job.id!))!.attemptsMade).toBe(2);
    expect(resend.requests.filter((r) => r.body?.to?.[0] === to)).toHaveLength(2);

    // The same email queued again (a retry after a crash): Resend answers the first result.
    const again = await t.queue(QueueName.Emails).add(JobName.SendEmail, payload);
    await waitFor(async () => ((await again.getState()) === 'completed' ? true : undefined));
    expect(deliveriesTo(to)).toHaveLength(1);
    expect((await t.queue(QueueName.Emails).getJob(again.id!))!.returnvalue).toEqual({ id: deliveriesTo(to)[0].id, sandbox: false });
  });

  it('fails an email at once on a 422 (no retry can fix it)', async () => {
    const to = uniqueEmail('invalid');
    resend.script('emails', resendErrors.validation());
    const job = await t.queue(QueueName.Emails).add(JobName.SendEmail, { template: 'verify-email', userId: 'u-bad', to, name: 'X', url: 'https://app.zyva.dev/verify-email?token=bad' });
    await waitFor(async () => ((await job.getState()) === 'failed' ? true : undefined));
    const failed = await t.queue(QueueName.Emails).getJob(job.id!);
    expect(failed!.attemptsMade).toBe(1);
    expect(failed!.failedReason).toContain('validation_error');
    expect(failed!.failedReason).not.toContain('token=');
    expect(deliveriesTo(to)).toHaveLength(0);
    expect((await emailJobs()).length).toBeGreaterThan(0);
  });
});

/** The monthly quota counters of the organizations this file made (Redis keys outlive the rows). */
async function dropQuotaKeys(app: TestApp, fixtures: Fixtures): Promise<void> {
  const ids = [...(fixtures['orgIds'] as Set<string>)];
  await unlinkKeys(app.redis, ids.map((id) => `zyva:limits:{${id}}:messages`));
}
