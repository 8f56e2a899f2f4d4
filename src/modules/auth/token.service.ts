import { Inject, Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { KEY_PREFIX, REDIS, keys } from '../../core/redis/redis.constants';
import type { RedisClient } from '../../core/redis/redis.connection';
import { TOKEN_TTL_SECONDS } from '../../core/auth/auth.types';

export type TokenKind = 'email' | 'reset';

const keyOf = (kind: TokenKind, token: string) => (kind === 'email' ? keys.emailToken(token) : keys.resetToken(token));
/** The token an email's link carries, by the email's reference (its job payload names only the reference). */
const linkKey = (ref: string) => `${KEY_PREFIX}token:link:${ref}`;

/** Single-use tokens (`zyva:token:<kind>:<token>`, 1 h, no hash tag) consumed atomically with GETDEL. */
@Injectable()
export class TokenService {
  constructor(@Inject(REDIS) private readonly redis: RedisClient) {}

  async issue(kind: TokenKind, userId: string): Promise<string> {
    const token = randomBytes(32).toString('base64url');
    await this.redis.set(keyOf(kind, token), userId, 'EX', TOKEN_TTL_SECONDS);
    return token;
  }

  /**
   * The token of one email, issued when it is first sent: every retry of that
   * email gets the same token, so it carries the same link (Resend refuses an
   * idempotency key reused with another body). The token is stored before the
   * reference points at it, so a crash in between leaves no dead link.
   */
  async issueForEmail(kind: TokenKind, userId: string, ref: string): Promise<string> {
    const token = await this.issue(kind, userId);
    if ((await this.redis.set(linkKey(ref), token, 'EX', TOKEN_TTL_SECONDS, 'NX')) === 'OK') return token;
    await this.redis.unlink(keyOf(kind, token));
    const existing = await this.redis.get(linkKey(ref));
    // Expired between the two commands (an hour-old retry): the new token serves instead.
    return existing ?? this.issueForEmail(kind, userId, ref);
  }

  /** The user id the token was issued for, or null if unknown, used or expired. */
  async consume(kind: TokenKind, token: string): Promise<string | null> {
    return this.redis.getdel(keyOf(kind, token));
  }
}
