import { cacheBookkeeping, cacheKeys, ownerOf } from './cache-keys';

describe('cache keys', () => {
  it('carry the organization as hash tag, so one organization is one slot of a cluster', () => {
    expect(cacheKeys.org('cm3x')).toBe('org:{cm3x}');
    expect(cacheKeys.dashboard('cm3x')).toBe('stats:{cm3x}:dashboard');
    expect(cacheKeys.contacts('cm3x', 'page=1')).toBe('contacts:{cm3x}:page=1');
    expect(cacheBookkeeping.fence('cm3x')).toBe('zyva:cache:fence:{cm3x}');
    expect(cacheBookkeeping.writing('cm3x')).toBe('zyva:cache:writing:{cm3x}');
    expect(cacheBookkeeping.index('cm3x')).toBe('zyva:cache:index:{cm3x}');
    // The entry's own hash tag is the first one in the name: the same slot as the entry.
    expect(cacheBookkeeping.version(cacheKeys.contacts('cm3x', '-'))).toBe('zyva:cache:version:contacts:{cm3x}:-');
    expect(() => cacheKeys.org('a}b')).toThrow(/braces/);
  });

  it('name their owner in the tag; a pattern whose tag is a wildcard names none', () => {
    expect(ownerOf('contacts:{cm3x}:page=1')).toBe('cm3x');
    expect(ownerOf('org:{cm3x}')).toBe('cm3x');
    expect(ownerOf('contacts:{cm3x}:pattern-*')).toBe('cm3x');
    expect(ownerOf('contacts:{*}:x')).toBeUndefined();
    expect(ownerOf('contacts:cm3x:page=1')).toBeUndefined();
  });
});
