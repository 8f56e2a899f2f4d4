import type { AppConfig } from '../../../core/config/app-config';
import { UnsubscribeTokens } from './unsubscribe-token';

const tokensWith = (secret: string) => new UnsubscribeTokens({ UNSUBSCRIBE_SECRET: secret } as AppConfig);
const target = { organizationId: 'cm3xorg0000000000000000001', contactId: 'cm3xcontact00000000000001', channel: 'EMAIL' as const };

describe('UnsubscribeTokens', () => {
  const tokens = tokensWith('a-test-secret-of-enough-length-0123456789');

  it('signs a compact URL-safe token that verifies back to its target', () => {
    const token = tokens.sign(target);
    expect(token).toMatch(/^[A-Za-z0-9._-]+$/);
    expect(encodeURIComponent(token)).toBe(token);
    expect(token.length).toBeLessThan(90);
    expect(tokens.verify(token)).toEqual(target);
    expect(tokens.sign(target)).toBe(token);
  });

  it('gives each organization, contact and channel its own token', () => {
    const all = new Set([
      tokens.sign(target),
      tokens.sign({ ...target, channel: 'SMS' }),
      tokens.sign({ ...target, contactId: 'cm3xcontact00000000000002' }),
      tokens.sign({ ...target, organizationId: 'cm3xorg0000000000000000002' }),
    ]);
    expect(all.size).toBe(4);
  });

  it('refuses every altered character, another secret, and malformed input', () => {
    const token = tokens.sign(target);
    for (let i = 0; i < token.length; i++) {
      if (token[i] === '.') continue;
      for (const c of ['A', 'z', '0', '_']) {
        if (c === token[i]) continue;
        const altered = token.slice(0, i) + c + token.slice(i + 1);
        expect(tokens.verify(altered)).toBeNull();
      }
    }
    expect(tokensWith('another-secret-of-enough-length-0123456789').verify(token)).toBeNull();
    const [org, contact, , mac] = token.split('.');
    for (const bad of ['', '...', token + '.x', token.slice(0, -1), `${org}.${contact}.FAX.${mac}`, `${org}.${contact}.SMS.${mac}`, `${org}..EMAIL.${mac}`, `${org}.${contact}.EMAIL.${mac}=`]) {
      expect(tokens.verify(bad)).toBeNull();
    }
  });
});
