import { randomBytes } from 'node:crypto';
import type { TestApp } from './test-app';

export const uniqueEmail = (label = 'user') => `${label}-${randomBytes(5).toString('hex')}@test.zyva.dev`;

export interface RegisteredUser {
  token: string;
  userId: string;
  organizationId: string;
  email: string;
  password: string;
}

/**
 * Tracks what a test file creates and removes it afterwards: organizations
 * (rows cascade to users, contacts, messages, flows…), stray users, and the
 * Redis keys of their sessions.
 */
export class Fixtures {
  private readonly orgIds = new Set<string>();
  private readonly userIds = new Set<string>();

  constructor(private readonly t: TestApp) {}

  /** Registers a LOJA user with a new FREE organization through the API. */
  async registerUser(overrides: Partial<{ email: string; password: string; name: string; organizationName: string }> = {}): Promise<RegisteredUser> {
    const body = {
      email: overrides.email ?? uniqueEmail(),
      password: overrides.password ?? 'correct horse battery',
      name: overrides.name ?? 'Test User',
      organizationName: overrides.organizationName ?? `Org ${randomBytes(3).toString('hex')}`,
    };
    const res = await this.t.http.post('/api/auth/register').set('X-Forwarded-For', randomIp()).send(body);
    if (res.status !== 201) throw new Error(`register failed: ${res.status} ${JSON.stringify(res.body)}`);
    this.orgIds.add(res.body.organization.id);
    this.userIds.add(res.body.user.id);
    return {
      token: res.body.token,
      userId: res.body.user.id,
      organizationId: res.body.organization.id,
      email: body.email,
      password: body.password,
    };
  }

  /** An ADMIN created straight in the database, logged in through the API. */
  async createAdmin(): Promise<RegisteredUser> {
    const email = uniqueEmail('admin');
    const password = 'admin password 123';
    const passwords = this.t.get<{ hash(p: string): Promise<string> }>('modules/auth/password.service', 'PasswordService');
    const user = await this.t.prisma.user.create({
      data: { email, name: 'Admin', role: 'ADMIN', passwordHash: await passwords.hash(password) },
    });
    this.userIds.add(user.id);
    const res = await this.t.http.post('/api/auth/login').set('X-Forwarded-For', randomIp()).send({ email, password });
    if (res.status !== 200) throw new Error(`admin login failed: ${res.status}`);
    return { token: res.body.token, userId: user.id, organizationId: '', email, password };
  }

  /** Sets an organization's plan and caps directly (tests that need a higher rate limit). */
  async setPlan(organizationId: string, plan: 'FREE' | 'PRO' | 'BUSINESS' | 'ENTERPRISE', caps: Partial<{ maxContacts: number; maxMessagesPerMonth: number }> = {}) {
    await this.t.prisma.organization.update({ where: { id: organizationId }, data: { plan, ...caps } });
    const cache = this.t.get<{ invalidateOrganization(id: string): Promise<void> }>('core/cache/cache.service', 'CacheService');
    await cache.invalidateOrganization(organizationId);
  }

  /** An account registered through the API by the test itself: cleanup() ends its sessions and removes it. */
  trackRegistration(body: { user: { id: string }; organization: { id: string } }) {
    this.userIds.add(body.user.id);
    this.orgIds.add(body.organization.id);
  }

  async cleanup(): Promise<void> {
    const sessions = this.t.get<{ destroyAllForUser(id: string): Promise<void> }>('modules/auth/session.service', 'SessionService');
    for (const id of this.userIds) await sessions.destroyAllForUser(id).catch(() => undefined);
    for (const id of this.orgIds) {
      const cache = this.t.get<{ invalidateOrganization(id: string): Promise<void> }>('core/cache/cache.service', 'CacheService');
      await cache.invalidateOrganization(id).catch(() => undefined);
    }
    // A worker may still be sending a test's campaign: its row updates can deadlock with the cascade, which Postgres breaks by failing one side.
    await retryOnConflict(() => this.t.prisma.organization.deleteMany({ where: { id: { in: [...this.orgIds] } } }));
    await retryOnConflict(() => this.t.prisma.user.deleteMany({ where: { id: { in: [...this.userIds] } } }));
  }
}

/** Runs `write` again while Postgres reports a deadlock or write conflict (Prisma's P2034), up to ten times. */
async function retryOnConflict<T>(write: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (error) {
      if ((error as { code?: string }).code !== 'P2034' || attempt === 10) throw error;
      await new Promise((r) => setTimeout(r, 100 * attempt));
    }
  }
}

/** A distinct client IP per call, so per-IP auth limits of one test never touch another. */
export function randomIp(): string {
  const b = randomBytes(3);
  return `10.${b[0]}.${b[1]}.${b[2]}`;
}

let nextPhone = Math.floor(Math.random() * 1e9);
/**
 * A Brazilian mobile number no other call of this test file returns: a counter
 * from a random start (random numbers per contact collide: 2,500 of them in
 * 10^9 meet once in 300 runs, and the unique (organizationId, phone) rejects
 * the whole batch).
 */
export function uniquePhone(): string {
  nextPhone = (nextPhone + 1) % 1e9;
  return `+5511${String(nextPhone).padStart(9, '0')}`;
}

export const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

/** Statuses a message no longer leaves by itself (the send attempt is over). */
export const SETTLED_STATUSES = ['SENT', 'DELIVERED', 'READ', 'FAILED', 'CANCELED'];

/** Polls `check` until it returns a truthy value or the timeout passes. */
export async function waitFor<T>(check: () => Promise<T | undefined | null | false>, timeoutMs = 15000, stepMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, stepMs));
  }
  throw new Error(`waitFor timed out after ${timeoutMs} ms${last ? `: ${(last as Error).message}` : ''}`);
}

/** The `contact.tag-added` events the writes committed to the outbox, oldest first. */
export const tagEventsOf = async (t: TestApp, where: { organizationId?: string; contactId?: string }) =>
  (
    await t.prisma.outboxEvent.findMany({
      where: {
        type: 'contact.tag-added',
        ...(where.organizationId ? { organizationId: where.organizationId } : {}),
        ...(where.contactId ? { payload: { path: ['contactId'], equals: where.contactId } } : {}),
      },
      orderBy: { id: 'asc' },
    })
  ).map((e) => ({ organizationId: e.organizationId, ...(e.payload as { contactId: string; tag: string }) }));
