import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Browser, chromium } from 'playwright-core';
import type { ConsentService } from '../../src/modules/contacts/consent/consent.service';
import { Fixtures, RegisteredUser, bearer } from '../utils/factories';
import { TestApp, createTestApp } from '../utils/test-app';

/**
 * The unsubscribe link as a person uses it, in headless Chromium (Debian's
 * `chromium` package), with JavaScript off: the page must work without it.
 * Screenshots go to test/artifacts/.
 */
const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(__dirname, '..', 'artifacts');
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run', '--disable-sync'];

if (!existsSync(CHROMIUM)) {
  describe('unsubscribe page in a browser', () => {
    it(`did not run: ${CHROMIUM} is absent (install it with: apt-get install -y chromium)`, () => {
      console.warn(`Unsubscribe browser test not run: ${CHROMIUM} is absent. Install Debian's chromium package to run it.`);
    });
  });
} else {
  describe('unsubscribe page in a browser', () => {
    let t: TestApp;
    let fixtures: Fixtures;
    let base: string;
    let browser: Browser;
    let store: RegisteredUser;

    beforeAll(async () => {
      mkdirSync(ARTIFACTS, { recursive: true });
      t = await createTestApp();
      await t.app.listen(0, '127.0.0.1');
      base = await t.app.getUrl();
      fixtures = new Fixtures(t);
      store = await fixtures.registerUser({ organizationName: 'Empório da Ana' });
      browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    });

    afterAll(async () => {
      await browser?.close();
      await fixtures?.cleanup();
      await t?.close();
    });

    it("opens the link, shows the store's name, and the button opts the contact out (source UNSUBSCRIBE_LINK)", async () => {
      const created = await t.http.post('/api/contacts').set(bearer(store.token)).send({ name: 'Bruna', email: 'bruna@example.com' });
      expect(created.status).toBe(201);
      const contactId: string = created.body.id;
      const consent = t.get<ConsentService>('modules/contacts/consent/consent.service', 'ConsentService');
      await consent.record(store.organizationId, contactId, 'EMAIL', 'OPTED_IN', { source: 'API' });
      // The link as an email carries it, served by this test's server instead of APP_URL.
      const link = base + new URL(consent.unsubscribeUrl(store.organizationId, contactId, 'EMAIL')).pathname;

      const context = await browser.newContext({ javaScriptEnabled: false });
      // Nothing but the app itself may be fetched: the page has no outside assets.
      const outside: string[] = [];
      await context.route('**/*', (route) => {
        if (route.request().url().startsWith(base)) return route.continue();
        outside.push(route.request().url());
        return route.abort();
      });
      const page = await context.newPage();
      const opened = await page.goto(link);
      expect(opened?.status()).toBe(200);
      expect(await page.title()).toBe('Cancelar inscrição · Empório da Ana');
      await page.getByRole('heading', { level: 1, name: 'Parar de receber e-mails de Empório da Ana' }).waitFor();
      expect(await page.locator('html').getAttribute('lang')).toBe('pt-BR');
      await page.screenshot({ path: join(ARTIFACTS, 'unsubscribe-page.png') });

      // Opening it changed nothing.
      expect(await t.prisma.contactConsent.findMany({ where: { contactId }, select: { channel: true, status: true } })).toEqual([
        { channel: 'EMAIL', status: 'OPTED_IN' },
      ]);

      const [answer] = await Promise.all([
        page.waitForResponse((response) => response.request().method() === 'POST'),
        page.getByRole('button', { name: 'Cancelar inscrição' }).click(),
      ]);
      expect(answer.status()).toBe(200);
      expect(answer.request().headers()['content-type']).toBe('application/x-www-form-urlencoded');
      await page.getByRole('heading', { level: 1, name: 'Inscrição cancelada' }).waitFor();
      expect(await page.locator('main').textContent()).toContain('você não vai mais receber e-mails de Empório da Ana');
      expect(page.url()).toBe(link);
      await page.screenshot({ path: join(ARTIFACTS, 'unsubscribe-done.png') });
      expect(outside).toEqual([]);
      await context.close();

      expect(await t.prisma.contactConsent.findUniqueOrThrow({ where: { contactId_channel: { contactId, channel: 'EMAIL' } } })).toMatchObject({
        status: 'OPTED_OUT',
      });
      const latest = await t.prisma.consentEvent.findFirstOrThrow({ where: { contactId }, orderBy: { id: 'desc' } });
      expect(latest).toMatchObject({ channel: 'EMAIL', status: 'OPTED_OUT', source: 'UNSUBSCRIBE_LINK', actorId: null });
      const api = await t.http.get(`/api/contacts/${contactId}`).set(bearer(store.token));
      expect(api.body.consent.EMAIL).toBe('OPTED_OUT');
    });
  });
}
