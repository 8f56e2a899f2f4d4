import { Injectable } from '@nestjs/common';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { AppConfig } from '../../../core/config/app-config';
import type { Channel } from '../../../generated/prisma/enums';
import { CHANNELS } from './consent-state';

/** What an unsubscribe link names: one contact of one organization, on one channel. */
export interface UnsubscribeTarget {
  organizationId: string;
  contactId: string;
  channel: Channel;
}

/** 128 bits of HMAC-SHA256: out of reach of guessing, and the link stays short. */
const MAC_BYTES = 16;
const ID = /^[A-Za-z0-9_-]{1,64}$/;
const MAC = new RegExp(`^[A-Za-z0-9_-]{${Math.ceil((MAC_BYTES * 4) / 3)}}$`);

/**
 * Unsubscribe tokens: `<organizationId>.<contactId>.<CHANNEL>.<mac>`, the mac
 * an HMAC-SHA256 (keyed with UNSUBSCRIBE_SECRET) over the three, base64url.
 * Nothing is stored: a token is checked by recomputing its mac, before any
 * database lookup, so a forged or altered token costs one hash. The ids in
 * it are not secrets (they grant nothing without the mac).
 */
@Injectable()
export class UnsubscribeTokens {
  private readonly secret: string;

  constructor(config: AppConfig) {
    this.secret = config.UNSUBSCRIBE_SECRET;
  }

  sign(target: UnsubscribeTarget): string {
    return `${target.organizationId}.${target.contactId}.${target.channel}.${this.mac(target)}`;
  }

  /** The target of a token this server signed; null for anything else. */
  verify(token: string): UnsubscribeTarget | null {
    const parts = token.split('.');
    if (parts.length !== 4) return null;
    const [organizationId, contactId, channel, mac] = parts;
    if (!ID.test(organizationId) || !ID.test(contactId) || !CHANNELS.includes(channel as Channel) || !MAC.test(mac)) return null;
    const target = { organizationId, contactId, channel: channel as Channel };
    // Compared as text, not decoded: base64url decoding ignores the spare bits of the last character, and an
    // altered token must never pass.
    return timingSafeEqual(Buffer.from(mac), Buffer.from(this.mac(target))) ? target : null;
  }

  private mac(target: UnsubscribeTarget): string {
    // NUL-separated and labelled, so no other string this key ever signs can collide with a token.
    const message = ['zyva-unsubscribe', target.organizationId, target.contactId, target.channel].join('\0');
    return createHmac('sha256', this.secret).update(message).digest().subarray(0, MAC_BYTES).toString('base64url');
  }
}
