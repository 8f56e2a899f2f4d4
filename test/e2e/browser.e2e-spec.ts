import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Browser, BrowserContext, Locator, Page, chromium } from 'playwright-core';
import { JobName, QueueName } from '../../src/core/queues/queue.catalogue';
import { Fixtures, RegisteredUser, randomIp, waitFor } from '../utils/factories';
import { TestApp, createTestApp } from '../utils/test-app';

/**
 * Browser checks in headless Chromium (Debian's `chromium` package): Swagger UI
 * and the Bull Board as an admin sees them. Screenshots go to test/artifacts/.
 */
const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(__dirname, '..', 'artifacts');
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];

type Operation = { tag: string; method: string; path: string };

function operationsOf(document: { paths: Record<string, Record<string, { tags?: string[] }>> }): Operation[] {
  const operations: Operation[] = [];
  for (const [path, item] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      for (const tag of operation.tags ?? ['default']) operations.push({ tag, method, path });
    }
  }
  return operations;
}

const key = (op: Operation) => `${op.tag} ${op.method.toUpperCase()} ${op.path}`;

async function text(locator: Locator): Promise<string> {
  await locator.waitFor();
  return ((await locator.textContent()) ?? '').trim();
}

if (!existsSync(CHROMIUM)) {
  describe('browser checks (Swagger UI, Bull Board)', () => {
    it(`did not run: ${CHROMIUM} is absent (install it with: apt-get install -y chromium)`, () => {
      console.warn(`Browser checks not run: ${CHROMIUM} is absent. Install Debian's chromium package to run them.`);
    });
  });
} else {
  describe('browser checks (Swagger UI, Bull Board)', () => {
    let t: TestApp;
    let fixtures: Fixtures;
    let base: string;
    let browser: Browser;
    let admin: RegisteredUser;
    let loja: RegisteredUser;

    /** A fresh context that may only talk to the app under test (the board links web fonts, CI has no network). */
    async function newPage(): Promise<{ context: BrowserContext; page: Page }> {
      const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
      await context.route('**/*', (route) => (route.request().url().startsWith(base) ? route.continue() : route.abort()));
      return { context, page: await context.newPage() };
    }

    beforeAll(async () => {
      mkdirSync(ARTIFACTS, { recursive: true });
      // API role: no processor consumes the jobs the board must show.
      t = await createTestApp({ APP_ROLE: 'api' });
      await t.app.listen(0, '127.0.0.1');
      base = await t.app.getUrl();
      fixtures = new Fixtures(t);
      admin = await fixtures.createAdmin();
      loja = await fixtures.registerUser();
      browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    });

    afterAll(async () => {
      await browser?.close();
      await fixtures?.cleanup();
      await t?.close();
    });

    it('Swagger UI at /docs lists every route of every module and authorizes with a bearer token', async () => {
      const document = (await t.http.get('/docs-json')).body;
      const expected = operationsOf(document);
      const tags = [...new Set(expected.map((op) => op.tag))].sort();
      expect(tags).toEqual(expect.arrayContaining(['admin', 'auth', 'operations', 'organization']));

      const { context, page } = await newPage();
      await page.goto(`${base}/docs`);
      expect(await text(page.locator('.swagger-ui .info .title'))).toContain('Zyva API');
      await page.locator('.opblock-tag-section').first().waitFor();

      const shown = await page.$$eval('.opblock-tag-section', (sections) =>
        sections.flatMap((section) => {
          const tag = section.querySelector('h3.opblock-tag')?.getAttribute('data-tag') ?? '';
          return [...section.querySelectorAll('.opblock')].map((block) => {
            const method = block.querySelector('.opblock-summary-method')?.textContent?.trim() ?? '';
            const path = block.querySelector('.opblock-summary-path')?.getAttribute('data-path') ?? '';
            return `${tag} ${method} ${path}`;
          });
        }),
      );
      const shownTags = await page.$$eval('h3.opblock-tag', (headers) => headers.map((h) => h.getAttribute('data-tag')));
      expect([...shownTags].sort()).toEqual(tags);
      expect([...shown].sort()).toEqual(expected.map(key).sort());
      await page.screenshot({ path: join(ARTIFACTS, 'swagger-docs.png') });

      const me = page.locator('.opblock-tag-section:has(h3[data-tag="auth"]) .opblock-get:has(.opblock-summary-path[data-path="/api/auth/me"])');
      await me.locator('.opblock-summary-control').click();
      await me.getByRole('button', { name: 'Try it out' }).click();
      await me.getByRole('button', { name: 'Execute' }).click();
      // Swagger UI appends "Undocumented" to a status the route does not declare.
      expect(await text(me.locator('.live-responses-table .response .response-col_status').first())).toMatch(/^401\b/);

      await page.locator('.auth-wrapper .btn.authorize').click();
      const bearerBox = page.locator('.modal-ux .auth-container').filter({ hasText: 'bearer (http, Bearer)' });
      await bearerBox.locator('input').fill(loja.token);
      await bearerBox.locator('button.authorize').click();
      await bearerBox.locator('button', { hasText: 'Logout' }).waitFor();
      await page.screenshot({ path: join(ARTIFACTS, 'swagger-authorize.png') });
      await bearerBox.locator('button.btn-done').click();

      await me.getByRole('button', { name: 'Execute' }).click();
      await waitFor(async () => /^200\b/.test(await text(me.locator('.live-responses-table .response .response-col_status').first())), 10_000);
      expect(await text(me.locator('.live-responses-table .response-col_description pre').first())).toContain(loja.email);
      expect(await text(me.locator('.curl-command'))).toContain('Authorization: Bearer');
      await me.screenshot({ path: join(ARTIFACTS, 'swagger-auth-me-200.png') });
      await context.close();
    });

    it('Bull Board refuses an anonymous browser, then shows an ADMIN the five queues with their counts', async () => {
      await t.queue(QueueName.Messages).addBulk(
        [1, 2, 3].map((n) => ({ name: JobName.SendMessage, data: { messageId: `browser-${n}`, organizationId: 'none' } })),
      );
      await t.queue(QueueName.SocialPosts).addBulk(
        [1, 2].map((n) => ({ name: JobName.PublishPost, data: { postId: `browser-${n}`, organizationId: 'none' } })),
      );
      await t.queue(QueueName.Flows).add(JobName.ExecuteFlowStep, { executionId: 'browser', stepIndex: 0 }, { delay: 3_600_000 });

      const { context, page } = await newPage();
      const anonymous = await page.goto(`${base}/admin/queues`);
      expect(anonymous?.status()).toBe(401);

      // Logging in through the API from the page sets the HttpOnly zyva_session cookie in this browser.
      const login = await page.request.post(`${base}/api/auth/login`, {
        data: { email: admin.email, password: admin.password },
        headers: { 'X-Forwarded-For': randomIp() },
      });
      expect(login.status()).toBe(200);
      expect((await context.cookies()).map((c) => c.name)).toContain('zyva_session');

      const board = await page.goto(`${base}/admin/queues`);
      expect(board?.status()).toBe(200);
      // Each card shows the queue's total; messages, social-posts and flows hold only this test's jobs,
      // emails holds the verification email of the registered user.
      const expectedJobs: Record<string, number> = {};
      for (const queue of Object.values(QueueName)) {
        const counts = await t.queue(queue).getJobCounts();
        expectedJobs[queue] = Object.values(counts).reduce((sum, n) => sum + n, 0);
      }
      expect(expectedJobs).toMatchObject({ messages: 3, 'social-posts': 2, flows: 1 });
      for (const [queue, jobs] of Object.entries(expectedJobs)) {
        const card = page.locator('li', { has: page.locator(`a[title="${queue}"]`) });
        await card.getByText(`${jobs} ${jobs === 1 ? 'Job' : 'Jobs'}`, { exact: true }).waitFor({ timeout: 15_000 });
      }
      await page.screenshot({ path: join(ARTIFACTS, 'bull-board.png') });

      await page.goto(`${base}/admin/queues/queue/flows?status=delayed`);
      await page.getByText('execute-flow-step').first().waitFor({ timeout: 15_000 });
      await page.screenshot({ path: join(ARTIFACTS, 'bull-board-flows-delayed.png') });
      await context.close();
    });
  });
}
