import { Inject, Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { REDIS, keys } from '../../core/redis/redis.constants';
import type { RedisClient } from '../../core/redis/redis.connection';
import { TOKEN_TTL_SECONDS } from '../../core/auth/auth.types';

export type TokenKind = 'email' | 'reset';

const keyOf = (kind: TokenKind, token: string) => (kind === 'email' ? keys.emailToken(token) : keys.resetToken(token));

/** Single-use tokens (`zyva:token:<kind>:<token>`, 1 h, no hash tag) consumed atomically with GETDEL. */
@Injectable()
export class TokenService {
  constructor(@Inject(REDIS) private readonly redis: RedisClient) {}

  async issue(kind: TokenKind, userId: string): Promise<string> {
    const token = randomBytes(32).toString('base64url');
    await this.redis.set(keyOf(kind, token), userId, 'EX', TOKEN_TTL_SECONDS);
    return token;
  }

  /** The user id the token was issued for, or null if unknown, used or expired. */
  async consume(kind: TokenKind, token: string): Promise<string | null> {
    return this.redis.getdel(keyOf(kind, token));
  }
}
