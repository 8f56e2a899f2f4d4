import { Inject, Injectable } from '@nestjs/common';
import type Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import { REDIS, keys } from '../../core/redis/redis.constants';
import { AuthContext, SESSION_TTL_SECONDS, SessionData } from '../../core/auth/auth.types';

interface SessionOwner {
  id: string;
  role: SessionData['role'];
  organizationId: string | null;
}

/**
 * Opaque sessions in Redis: `zyva:session:{token}` with a 7-day sliding TTL,
 * and `zyva:user-sessions:{userId}` listing a user's tokens so a password
 * reset can end all of them.
 */
@Injectable()
export class SessionService {
  constructor(@Inject(REDIS) private readonly redis: Redis) {}

  async create(user: SessionOwner): Promise<string> {
    const token = randomBytes(32).toString('base64url');
    const data: SessionData = {
      userId: user.id,
      role: user.role,
      organizationId: user.organizationId,
      createdAt: Date.now(),
    };
    await this.redis
      .multi()
      .set(keys.session(token), JSON.stringify(data), 'EX', SESSION_TTL_SECONDS)
      .sadd(keys.userSessions(user.id), token)
      .expire(keys.userSessions(user.id), SESSION_TTL_SECONDS)
      .exec();
    return token;
  }

  /** Reads and slides the session in one round trip (GETEX … EX). */
  async resolve(token: string): Promise<AuthContext | null> {
    const raw = await this.redis.getex(keys.session(token), 'EX', SESSION_TTL_SECONDS);
    if (!raw) return null;
    return { ...(JSON.parse(raw) as SessionData), token };
  }

  async destroy(token: string, userId: string): Promise<void> {
    await this.redis.multi().unlink(keys.session(token)).srem(keys.userSessions(userId), token).exec();
  }

  async destroyAllForUser(userId: string): Promise<void> {
    const tokens = await this.redis.smembers(keys.userSessions(userId));
    const tx = this.redis.multi();
    for (const token of tokens) tx.unlink(keys.session(token));
    await tx.unlink(keys.userSessions(userId)).exec();
  }
}
