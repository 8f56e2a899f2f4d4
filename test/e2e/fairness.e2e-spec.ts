import { bearer, Fixtures, randomIp, RegisteredUser, waitFor } from '../utils/factories';
import { StandIn, startWhatsAppStandIn } from '../utils/provider-stand-ins';
import { createTestApp, TestApp } from '../utils/test-app';

const PHONE = { phoneNumberId: '860000000000001', accessToken: 'wa-fairness' };

/**
 * One store's bulk never starves another's single message: campaign messages
 * carry a BullMQ priority that grows per batch, single messages none (they run
 * first). Timing goals are in bench/fairness.mjs; this checks the order.
 */
describe('fairness between stores (e2e)', () => {
  let t: TestApp;
  let fx: Fixtures;
  let wa: StandIn;
  let a: RegisteredUser;
  let b: RegisteredUser;

  beforeAll(async () => {
    wa = await startWhatsAppStandIn(PHONE);
    wa.delayMs = 20;
    // Few workers, so A's campaign keeps them busy for seconds; the platform's account is not paced here.
    t = await createTestApp({ WHATSAPP_API_URL: wa.url, WHATSAPP_PHONE_ID: PHONE.phoneNumberId, WHATSAPP_TOKEN: PHONE.accessToken, WORKER_CONCURRENCY: '2', WHATSAPP_MAX_PER_SECOND: '100000' });
    fx = new Fixtures(t);
    [a, b] = [await fx.registerUser(), await fx.registerUser()];
    for (const u of [a, b]) await fx.setPlan(u.organizationId, 'ENTERPRISE', { maxMessagesPerMonth: 1_000_000 });
  });

  afterAll(async () => {
    await fx.cleanup();
    await t.close();
    await wa.close();
  });

  it('sends store B’s single message while store A’s 1,500-message campaign is still being sent', async () => {
    const rows = Array.from({ length: 1500 }, (_, i) => ({ organizationId: a.organizationId, name: `A ${i}`, phone: `+55118${String(10_000_000 + i)}` }));
    await t.prisma.contact.createMany({ data: rows });
    await t.prisma.organization.update({ where: { id: a.organizationId }, data: { contactCount: rows.length } });
    const campaign = await t.http.post('/api/campaigns').set(bearer(a.token)).set('X-Forwarded-For', randomIp()).send({ name: 'Bulk', channel: 'WHATSAPP', content: 'Promo {{nome}}' });
    expect(campaign.status).toBe(202);
    await waitFor(async () => (wa.requestsTo('messages').length >= 50 ? true : undefined), 30000, 20);

    const contact = await t.prisma.contact.create({ data: { organizationId: b.organizationId, name: 'B', phone: '+5511977770000' } });
    const single = await t.http.post('/api/messages').set(bearer(b.token)).set('X-Forwarded-For', randomIp()).send({ contactId: contact.id, channel: 'WHATSAPP', content: 'Seu pedido saiu' });
    expect(single.status).toBe(202);
    await waitFor(async () => ((await t.prisma.message.findUniqueOrThrow({ where: { id: single.body.id } })).status === 'SENT' ? true : undefined), 30000, 20);

    const sentOfA = await t.prisma.message.count({ where: { campaignId: campaign.body.id, status: 'SENT' } });
    expect(sentOfA).toBeLessThan(750); // B went out while most of A's campaign was still waiting
  }, 90000);
});
