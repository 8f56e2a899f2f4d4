import { randomBytes } from 'node:crypto';
import { KeyRing, KeyRingError } from './key-ring';

const key = () => randomBytes(32).toString('base64');

describe('KeyRing', () => {
  it('encrypts with the first key and decrypts with any listed key', () => {
    const oldKey = key();
    const old = KeyRing.parse(`k1:${oldKey}`);
    const written = old.encrypt('{"accessToken":"EAAG-secret"}', 'org1:whatsapp');
    expect(written).not.toContain('EAAG');
    expect(KeyRing.keyIdOf(written)).toBe('k1');

    const rotated = KeyRing.parse(`k2:${key()},k1:${oldKey}`);
    expect(rotated.decrypt(written, 'org1:whatsapp')).toBe('{"accessToken":"EAAG-secret"}');
    expect(KeyRing.keyIdOf(rotated.encrypt('x', 'a'))).toBe('k2');
  });

  it('uses a fresh IV for every value', () => {
    const ring = KeyRing.parse(`k1:${key()}`);
    expect(ring.encrypt('same', 'a')).not.toBe(ring.encrypt('same', 'a'));
  });

  it('refuses a tampered value, another place, or a key no longer listed', () => {
    const ring = KeyRing.parse(`k1:${key()}`);
    const value = ring.encrypt('secret', 'org1:email');
    expect(() => ring.decrypt(value, 'org2:email')).toThrow(KeyRingError);
    const parts = value.split(':');
    parts[4] = Buffer.from('tampered').toString('base64url');
    expect(() => ring.decrypt(parts.join(':'), 'org1:email')).toThrow(KeyRingError);
    expect(() => KeyRing.parse(`k9:${key()}`).decrypt(value, 'org1:email')).toThrow(/k1.*no longer/);
  });

  it('names the variable and the problem for malformed rings, never echoing a key', () => {
    for (const bad of ['', 'nokey', ':abc', `k1:${Buffer.alloc(16).toString('base64')}`, `k 1:${key()}`, `k1:${key()},k1:${key()}`]) {
      expect(() => KeyRing.parse(bad)).toThrow(/CHANNEL_ENCRYPTION_KEYS/);
    }
    const short = Buffer.alloc(16, 7).toString('base64');
    try {
      KeyRing.parse(`k1:${short}`);
    } catch (error) {
      expect((error as Error).message).not.toContain(short);
    }
  });
});
