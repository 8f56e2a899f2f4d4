import { Injectable } from '@nestjs/common';
import { KeyRing } from '../../../core/crypto/key-ring';
import type { Credentials } from '../channel-extension';

/** Where a connection's ciphertext belongs: a value copied onto another organization or kind does not decrypt. */
export const secretsPlace = (organizationId: string, kind: string) => `channel-connection:${organizationId}:${kind}`;

/** A connection's secrets at rest: one AES-256-GCM value of the secret fields, as JSON. */
@Injectable()
export class ConnectionSecrets {
  constructor(private readonly ring: KeyRing) {}

  seal(organizationId: string, kind: string, secrets: Credentials): string {
    return this.ring.encrypt(JSON.stringify(secrets), secretsPlace(organizationId, kind));
  }

  open(organizationId: string, kind: string, sealed: string): Credentials {
    return JSON.parse(this.ring.decrypt(sealed, secretsPlace(organizationId, kind))) as Credentials;
  }

  /** Whether a value was written with an older key than the first of the ring. */
  isStale(sealed: string): boolean {
    return KeyRing.keyIdOf(sealed) !== this.ring.primaryKeyId;
  }
}

/** `…` and the last four characters of the main secret: enough to tell two keys apart, never to use one. */
export function secretHint(secret: unknown): string {
  return `…${String(secret ?? '').slice(-4)}`;
}
