import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/** `keyId:base64-of-32-bytes`, comma-separated; the first key encrypts, every key decrypts. */
export const KEY_RING_VARIABLE = 'CHANNEL_ENCRYPTION_KEYS';

const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;
/** Format version, key id, IV, auth tag, ciphertext: `v1:<keyId>:<iv>:<tag>:<data>` (base64url parts). */
const FORMAT = 'v1';
const IV_BYTES = 12;

export class KeyRingError extends Error {}

interface RingKey {
  id: string;
  key: Buffer;
}

/**
 * AES-256-GCM with a random 96-bit IV per value and the key id stored with
 * each ciphertext, so a key is rotated by putting a new one first: values
 * written with an older key still decrypt, and `channels:reencrypt` rewrites
 * them with the first. The additional authenticated data binds a ciphertext
 * to its place (organization and kind), so a value copied onto another row
 * does not decrypt.
 */
export class KeyRing {
  private readonly byId: Map<string, Buffer>;

  private constructor(private readonly keys: RingKey[]) {
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
  }

  /** Parses the variable's value; the error names the variable and what is wrong, never a key. */
  static parse(spec: string): KeyRing {
    const entries = spec.split(',').map((e) => e.trim()).filter((e) => e !== '');
    if (entries.length === 0) throw new KeyRingError(`${KEY_RING_VARIABLE} lists no key`);
    const keys = entries.map((entry, i) => {
      const at = entry.indexOf(':');
      const id = at > 0 ? entry.slice(0, at) : '';
      if (!KEY_ID.test(id)) throw new KeyRingError(`${KEY_RING_VARIABLE}: entry ${i + 1} must be keyId:base64 (key id of letters, digits, _ or -)`);
      const key = Buffer.from(entry.slice(at + 1), 'base64');
      if (key.length !== 32 || key.toString('base64').replace(/=+$/, '') !== entry.slice(at + 1).replace(/=+$/, '')) {
        throw new KeyRingError(`${KEY_RING_VARIABLE}: key "${id}" must be 32 bytes in base64 (openssl rand -base64 32)`);
      }
      return { id, key };
    });
    if (new Set(keys.map((k) => k.id)).size !== keys.length) throw new KeyRingError(`${KEY_RING_VARIABLE}: a key id appears twice`);
    return new KeyRing(keys);
  }

  /** The fixed key of development and test installs (never production: the config refuses it there). */
  static development(): KeyRing {
    return new KeyRing([{ id: 'dev', key: createHash('sha256').update('zyva development key: not for production').digest() }]);
  }

  get primaryKeyId(): string {
    return this.keys[0].id;
  }

  encrypt(plaintext: string, aad: string): string {
    const { id, key } = this.keys[0];
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from(aad));
    const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [FORMAT, id, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), data.toString('base64url')].join(':');
  }

  decrypt(value: string, aad: string): string {
    const [format, id, iv, tag, data] = value.split(':');
    if (format !== FORMAT || data === undefined) throw new KeyRingError('not a ciphertext of this key ring');
    const key = this.byId.get(id);
    if (!key) throw new KeyRingError(`the key "${id}" that encrypted this value is no longer in ${KEY_RING_VARIABLE}`);
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(aad));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    try {
      return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      throw new KeyRingError('the value does not authenticate (tampered, or bound to another place)');
    }
  }

  /** The id of the key a ciphertext was written with. */
  static keyIdOf(value: string): string | undefined {
    return value.split(':')[1];
  }
}
