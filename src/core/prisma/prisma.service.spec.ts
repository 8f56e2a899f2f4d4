import { UTC_TYPES } from './prisma.service';

describe('the column parsers of prepared queries', () => {
  const parse = (oid: number, text: string) => (UTC_TYPES.getTypeParser(oid, 'text') as (value: string) => unknown)(text);

  it('read timestamp(3) and date columns as UTC, as Prisma writes them, whatever the process time zone', () => {
    expect(parse(1114, '2026-12-01 10:15:30.123')).toEqual(new Date(Date.UTC(2026, 11, 1, 10, 15, 30, 123)));
    expect(parse(1114, '2026-12-01 23:59:59')).toEqual(new Date(Date.UTC(2026, 11, 1, 23, 59, 59)));
    expect(parse(1082, '1990-02-28')).toEqual(new Date(Date.UTC(1990, 1, 28)));
  });

  it("leave every other type to pg's own parsers", () => {
    expect(parse(23, '42')).toBe(42);
    expect(parse(1009, '{vip,"novo cliente"}')).toEqual(['vip', 'novo cliente']);
    expect(parse(114, '[{"channel":"EMAIL"}]')).toEqual([{ channel: 'EMAIL' }]);
  });
});
