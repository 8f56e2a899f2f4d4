import { queuePrefix } from './queue-prefix';

describe('queuePrefix', () => {
  it('gives every queue its own hash tag inside the prefix', () => {
    expect(queuePrefix('messages', 'bull')).toBe('bull:{messages}');
    expect(queuePrefix('social-posts', 'zyvatest-1a2b')).toBe('zyvatest-1a2b:{social-posts}');
    expect(queuePrefix('messages:org1', 'bull')).toBe('bull:{messages:org1}');
    expect(() => queuePrefix('a{b}', 'bull')).toThrow(/braces/);
  });
});
