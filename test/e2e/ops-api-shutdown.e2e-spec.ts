import { bearer, Fixtures, RegisteredUser, waitFor } from '../utils/factories';
import { freePort, spawnZyva, stopProcess, ZyvaProcess } from '../utils/processes';
import { createTestApp, TestApp } from '../utils/test-app';

/**
 * A deploy stops API processes with SIGTERM while they serve requests: the
 * requests already received are answered before Prisma and Redis close (none
 * answers 500), and the process exits as soon as they are, even though the
 * client keeps its connections open.
 */
describe('API process shutdown on SIGTERM (e2e)', () => {
  let t: TestApp;
  let fx: Fixtures;
  let user: RegisteredUser;
  let api: ZyvaProcess | undefined;

  beforeAll(async () => {
    t = await createTestApp();
    fx = new Fixtures(t);
    user = await fx.registerUser();
    await fx.setPlan(user.organizationId, 'ENTERPRISE'); // 240 requests at once stay within its limit
    const rows = Array.from({ length: 30 }, (_, i) => ({ organizationId: user.organizationId, name: `Cliente ${i}`, phone: `+55117${String(1_000_000 + i).padStart(8, '0')}` }));
    await t.prisma.contact.createMany({ data: rows });
    await t.prisma.organization.update({ where: { id: user.organizationId }, data: { contactCount: rows.length } });
  });

  afterAll(async () => {
    if (api) await stopProcess(api.child);
    await fx.cleanup();
    await t.close();
  });

  it('answers the requests in flight (no 500) and then exits by the signal', async () => {
    const port = await freePort();
    api = spawnZyva({ APP_ROLE: 'api', PORT: String(port), SWAGGER_ENABLED: 'false' });
    const base = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await fetch(`${base}/health`).then((r) => r.ok, () => false)) || undefined, 60000, 200);

    // Distinct queries, so each one misses the cache and reads Postgres.
    const outcomes: (number | string)[] = [];
    let answeredAfterSignal = 0;
    let signalledAt = 0;
    let pending = 0;
    let firstAnswer: () => void = () => undefined;
    const answered = new Promise<void>((resolve) => (firstAnswer = resolve));
    const requests = Array.from({ length: 240 }, async (_, i) => {
      pending++;
      try {
        const res = await fetch(`${base}/api/contacts?page=${1 + (i % 30)}&limit=${1 + Math.floor(i / 30)}`, { headers: bearer(user.token) });
        await res.arrayBuffer();
        outcomes.push(res.status);
        if (res.status === 200 && signalledAt > 0) answeredAfterSignal++;
      } catch (error) {
        outcomes.push((error as { cause?: { code?: string } }).cause?.code ?? 'error');
      } finally {
        pending--;
        firstAnswer();
      }
    });
    await answered;
    const inFlightAtSignal = pending;
    signalledAt = Date.now();
    api.child.kill('SIGTERM');
    await Promise.all(requests);
    const exit = await api.exited;
    const exitMs = Date.now() - signalledAt;

    expect(inFlightAtSignal).toBeGreaterThan(20);
    expect(outcomes.filter((o) => o === 500)).toEqual([]);
    // Received requests are answered 200; after the close began, Fastify answers 503 or the connection is refused.
    expect(outcomes.filter((o) => o !== 200 && o !== 503 && o !== 'ECONNREFUSED' && o !== 'ECONNRESET' && o !== 'UND_ERR_SOCKET')).toEqual([]);
    // Requests the process had received when the signal came were answered after it: how many it had received by
    // then depends on the machine's load (CI saw 119 of 239), so the count only has to show the drain happened.
    expect(answeredAfterSignal).toBeGreaterThanOrEqual(10);
    console.log(`in flight ${inFlightAtSignal}, answered after the signal ${answeredAfterSignal}, outcomes ${JSON.stringify(outcomes.reduce<Record<string, number>>((m, o) => ({ ...m, [o]: (m[o] ?? 0) + 1 }), {}))}`);
    expect(exit.signal).toBe('SIGTERM');
    // The client's keep-alive connections are closed once idle, not after Fastify's 72 s keep-alive timeout.
    expect(exitMs).toBeLessThan(10000);
  }, 90000);
});
