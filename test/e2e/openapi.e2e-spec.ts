import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import ts from 'typescript';
import { Fixtures, RegisteredUser, bearer } from '../utils/factories';
import { TestApp, createTestApp } from '../utils/test-app';

const root = join(__dirname, '..', '..');
const artifacts = join(root, 'test', 'artifacts', 'openapi');

/**
 * The calls an API client makes through a client generated from the live
 * document. This file is type-checked against the generated types (a wrong
 * document fails to compile here) and then run against the API.
 */
const CLIENT_CALLS = `import createClient from 'openapi-fetch';
import type { paths } from './api';

export async function run(baseUrl: string, token: string, contactId: string, flowId: string) {
  const api = createClient<paths>({ baseUrl, headers: { Authorization: \`Bearer \${token}\` } });
  const list = await api.GET('/api/contacts', { params: { query: { page: 1, limit: 5, search: 'Ana' } } });
  const patched = await api.PATCH('/api/contacts/{id}', {
    params: { path: { id: contactId } },
    body: { email: 'ana.souza@example.com', phone: null, birthday: '1990-04-12', instagramId: 'ana.souza' },
  });
  const started = await api.POST('/api/flows/{id}/executions', {
    params: { path: { id: flowId } },
    body: { contactId, data: { orderId: 'A-1001', total: 99.9, items: [{ sku: 'X' }] } },
  });
  const upcoming = await api.GET('/api/birthdays/upcoming', { params: { query: { days: 30, page: 1, limit: 10 } } });
  const total: number | undefined = list.data?.total;
  const email: string | null | undefined = patched.data?.email;
  const executionId: string | undefined = started.data?.executionId;
  return {
    list: { status: list.response.status, total },
    patched: { status: patched.response.status, email },
    started: { status: started.response.status, executionId },
    upcoming: upcoming.response.status,
  };
}
`;

describe('the OpenAPI document at /docs-json (e2e)', () => {
  let t: TestApp;
  let fixtures: Fixtures;
  let user: RegisteredUser;
  let document: Record<string, unknown>;

  beforeAll(async () => {
    t = await createTestApp();
    fixtures = new Fixtures(t);
    user = await fixtures.registerUser();
    await fixtures.setPlan(user.organizationId, 'PRO');
    document = (await t.http.get('/docs-json')).body;
    mkdirSync(artifacts, { recursive: true });
    writeFileSync(join(artifacts, 'openapi.json'), JSON.stringify(document, null, 2));
  });

  afterAll(async () => {
    await fixtures.cleanup();
    await t.close();
  });

  it('passes redocly lint with no error', () => {
    const lint = spawnSync(join(root, 'node_modules', '.bin', 'redocly'), ['lint', join(artifacts, 'openapi.json'), '--format=stylish'], {
      encoding: 'utf8',
      cwd: root,
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
    });
    const output = `${lint.stdout}\n${lint.stderr}`;
    expect({ status: lint.status, errors: output.split('\n').filter((l) => /\berror\b/.test(l) && !/0 errors?/.test(l)) }).toEqual({ status: 0, errors: [] });
  });

  it('declares servers, an opaque bearer token and security: [] on public routes', () => {
    const doc = document as {
      servers: { url: string }[];
      components: { securitySchemes: Record<string, { bearerFormat?: string }> };
      paths: Record<string, Record<string, { security?: unknown[] }>>;
    };
    expect(doc.servers.length).toBeGreaterThan(0);
    expect(doc.components.securitySchemes.bearer.bearerFormat).not.toBe('JWT');
    expect(doc.paths['/api/auth/register'].post.security).toEqual([]);
    expect(doc.paths['/api/webhooks/whatsapp'].post.security).toEqual([]);
    expect(doc.paths['/api/contacts'].get.security).toEqual(expect.arrayContaining([{ bearer: [] }]));
  });

  it('names the 415 of every route taking a JSON body, and not of the provider webhooks, which read their own', () => {
    const paths = (document as { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> }).paths;
    for (const [route, method] of [['/api/contacts', 'post'], ['/api/flows/{id}', 'patch'], ['/api/webhooks/flows/{id}', 'post'], ['/api/channels/{kind}', 'put']]) {
      expect(paths[route][method].responses).toHaveProperty('415');
    }
    expect(paths['/api/webhooks/whatsapp'].post.responses).not.toHaveProperty('415');
    expect(paths['/api/contacts'].get.responses).not.toHaveProperty('415');
  });

  it('generates a typed client that compiles valid calls and makes them against the API', async () => {
    // The CLI, as an API client's build would run it (its programmatic entry is ESM-only inside).
    const generate = spawnSync(join(root, 'node_modules', '.bin', 'openapi-typescript'), [join(artifacts, 'openapi.json'), '-o', join(artifacts, 'api.d.ts')], {
      encoding: 'utf8',
      cwd: root,
    });
    expect(generate.status).toBe(0);
    writeFileSync(join(artifacts, 'client-calls.ts'), CLIENT_CALLS);

    const program = ts.createProgram([join(artifacts, 'client-calls.ts')], {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.CommonJS,
      moduleResolution: ts.ModuleResolutionKind.Node10,
      esModuleInterop: true,
      skipLibCheck: true,
      types: [],
      lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
    });
    const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    expect(diagnostics).toEqual([]);

    const contact = await t.http.post('/api/contacts').set(bearer(user.token)).send({ name: 'Ana', email: 'ana@example.com', phone: '+5511987654321' });
    const flow = await t.http
      .post('/api/flows')
      .set(bearer(user.token))
      .send({ name: 'Manual', trigger: { type: 'MANUAL' }, steps: [{ type: 'WAIT', seconds: 3600 }] });
    await t.app.listen(0, '127.0.0.1');
    const { port } = t.app.getHttpServer().address() as AddressInfo;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { run } = require(join(artifacts, 'client-calls.ts')) as { run: (...args: string[]) => Promise<Record<string, unknown>> };
    const outcome = await run(`http://127.0.0.1:${port}`, user.token, contact.body.id, flow.body.id);
    expect(outcome).toEqual({
      list: { status: 200, total: 1 },
      patched: { status: 200, email: 'ana.souza@example.com' },
      started: { status: 202, executionId: expect.any(String) },
      upcoming: 200,
    });
    const stored = await t.prisma.contact.findUniqueOrThrow({ where: { id: contact.body.id } });
    expect(stored).toMatchObject({ email: 'ana.souza@example.com', phone: null, instagramId: 'ana.souza' });
    const execution = await t.prisma.flowExecution.findUniqueOrThrow({ where: { id: (outcome.started as { executionId: string }).executionId } });
    expect(execution.contactId).toBe(contact.body.id);
  });
});
