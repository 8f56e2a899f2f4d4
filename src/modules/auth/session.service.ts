import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { BoundedMap } from '../../core/memo/bounded-map';
import { REDIS, keys } from '../../core/redis/redis.constants';
import { type RedisClient, execOrThrow, unlinkKeys } from '../../core/redis/redis.connection';
import { AuthContext, SESSION_TTL_SECONDS, SessionData } from '../../core/auth/auth.types';

interface SessionOwner {
  id: string;
  role: SessionData['role'];
  organizationId: string | null;
}

/** What the session key holds: the session, and until when the user's index is known to list it. */
interface StoredSession extends SessionData {
  indexedUntil?: number;
}

/** The per-user index lives two session lifetimes from its last refresh. */
const INDEX_TTL_SECONDS = 2 * SESSION_TTL_SECONDS;
/** A session whose index would expire within a session lifetime plus a day refreshes it. */
const REINDEX_BEFORE_MS = (SESSION_TTL_SECONDS + 24 * 3600) * 1000;
/** Sessions whose parsed form is kept in process (a few MB at most), least recently stored dropped first. */
const PARSED_SESSIONS = 5000;

/** A session as last read from Redis: the exact value, and what it parses to. */
interface ParsedSession {
  raw: string;
  auth: Readonly<AuthContext>;
  indexedUntil?: number;
}

/**
 * Opaque sessions in Redis: `zyva:session:<token>` with a 7-day sliding TTL,
 * and `zyva:user-sessions:<userId>` listing a user's tokens so a password
 * reset can end all of them. The two keys are never written by one MULTI or
 * script (they sit in different slots of a Redis Cluster).
 *
 * A session used every day lives for ever, so the index must outlive it: the
 * index expires 14 days after its last refresh, and a session whose index
 * would expire less than 8 days from now (it says until when in its own value)
 * refreshes it when used; at that point the session has at most 7 days left.
 * The refresh re-adds the token, so a session whose index was lost is listed
 * again. It runs about once a week per session, not on every request.
 *
 * Every request reads its session from Redis (GETEX); only the parsing is
 * kept in process, keyed by the token and the exact value read, so a session
 * changed or ended anywhere is seen on its next request.
 */
@Injectable()
export class SessionService {
  private readonly logger = new Logger(SessionService.name);
  private readonly parsed = new BoundedMap<string, ParsedSession>(PARSED_SESSIONS);

  constructor(@Inject(REDIS) private readonly redis: RedisClient) {}

  async create(user: SessionOwner): Promise<string> {
    const token = randomBytes(32).toString('base64url');
    const indexedUntil = await this.index(user.id, token);
    const data: StoredSession = {
      userId: user.id,
      role: user.role,
      organizationId: user.organizationId,
      createdAt: Date.now(),
      indexedUntil,
    };
    // Listed first: a session that exists is always in its user's index.
    await this.redis.set(keys.session(token), JSON.stringify(data), 'EX', SESSION_TTL_SECONDS);
    return token;
  }

  /** Reads and slides the session in one round trip (GETEX … EX). */
  async resolve(token: string): Promise<Readonly<AuthContext> | null> {
    return this.accept(token, await this.redis.getex(keys.session(token), 'EX', SESSION_TTL_SECONDS));
  }

  /**
   * The session of `token` from the value just read and slid by GETEX, here
   * or in a script that read it beside other keys (the cached read path's,
   * see RateLimitGuard.limitWithSession); null when the session is gone.
   */
  async accept(token: string, raw: string | null): Promise<Readonly<AuthContext> | null> {
    if (!raw) {
      this.parsed.delete(token);
      return null;
    }
    const { auth, indexedUntil } = this.parse(token, raw);
    if (!(typeof indexedUntil === 'number' && indexedUntil > Date.now() + REINDEX_BEFORE_MS)) {
      const { token: _token, ...session } = auth;
      await this.reindex(token, { ...session, indexedUntil });
    }
    return auth;
  }

  /**
   * The session this process last read for `token`, without asking Redis:
   * only a guess of who the caller is (its user, organization and role never
   * change, but it may have ended since), to be confirmed by a read.
   */
  remembered(token: string): Readonly<AuthContext> | undefined {
    return this.parsed.get(token)?.auth;
  }

  /** The parsed session, reused while the value read is the same string (frozen: requests share it). */
  private parse(token: string, raw: string): ParsedSession {
    const known = this.parsed.get(token);
    if (known && known.raw === raw) return known;
    const { indexedUntil, ...session } = JSON.parse(raw) as StoredSession;
    const parsed = { raw, auth: Object.freeze({ ...session, token }), indexedUntil };
    this.parsed.set(token, parsed);
    return parsed;
  }

  async destroy(token: string, userId: string): Promise<void> {
    this.parsed.delete(token);
    await Promise.all([this.redis.unlink(keys.session(token)), this.redis.srem(keys.userSessions(userId), token)]);
  }

  async destroyAllForUser(userId: string): Promise<void> {
    const index = keys.userSessions(userId);
    // Read and dropped in one step, so a session created meanwhile lands in a fresh index instead of being lost.
    const [tokens] = await execOrThrow(this.redis.multi().smembers(index).unlink(index));
    await unlinkKeys(this.redis, (tokens as string[]).map(keys.session));
  }

  /** Adds the token to its user's index and pushes the index's expiry out; answers until when it holds. */
  private async index(userId: string, token: string): Promise<number> {
    const index = keys.userSessions(userId);
    const until = Date.now() + INDEX_TTL_SECONDS * 1000;
    await execOrThrow(this.redis.multi().sadd(index, token).expire(index, INDEX_TTL_SECONDS));
    return until;
  }

  /**
   * Refreshes the index of a session in use. XX: a session ended meanwhile is
   * not brought back. A failure leaves the session valid (it was just read)
   * and is retried on its next use.
   */
  private async reindex(token: string, session: StoredSession): Promise<void> {
    try {
      const indexedUntil = await this.index(session.userId, token);
      await this.redis.set(keys.session(token), JSON.stringify({ ...session, indexedUntil }), 'KEEPTTL', 'XX');
    } catch (error) {
      this.logger.warn(`Session index of user ${session.userId} not refreshed, retried on the next request: ${(error as Error).message}`);
    }
  }
}
