import { addDays, birthdayWindow, birthdaysOn, dateInTimeZone, isCalendarDate, isLeapYear } from './birthday-dates';

describe('birthday dates', () => {
  it('counts Feb 29 birthdays on Feb 28 only in years without a Feb 29', () => {
    expect(birthdaysOn('2025-02-28')).toEqual([
      { month: 2, day: 28 },
      { month: 2, day: 29 },
    ]);
    expect(birthdaysOn('2024-02-28')).toEqual([{ month: 2, day: 28 }]);
    expect(birthdaysOn('2024-02-29')).toEqual([{ month: 2, day: 29 }]);
    expect(birthdaysOn('2100-02-28')).toEqual([
      { month: 2, day: 28 },
      { month: 2, day: 29 },
    ]);
    expect(birthdaysOn('2025-03-01')).toEqual([{ month: 3, day: 1 }]);
  });

  it('knows leap years and real calendar dates', () => {
    expect([1900, 2000, 2024, 2025].map(isLeapYear)).toEqual([false, true, true, false]);
    expect(isCalendarDate('2024-02-29')).toBe(true);
    expect(isCalendarDate('2025-02-29')).toBe(false);
    expect(isCalendarDate('2025-13-01')).toBe(false);
    expect(isCalendarDate('2025-01-01T00:00:00Z')).toBe(false);
  });

  it('takes "today" in the configured time zone, not in UTC', () => {
    const instant = new Date('2025-06-15T01:30:00Z');
    expect(dateInTimeZone(instant, 'UTC')).toBe('2025-06-15');
    expect(dateInTimeZone(instant, 'America/Sao_Paulo')).toBe('2025-06-14');
    expect(dateInTimeZone(instant, 'Asia/Tokyo')).toBe('2025-06-15');
  });

  it('adds days across month and year ends', () => {
    expect(addDays('2025-12-30', 3)).toBe('2026-01-02');
    expect(addDays('2024-02-28', 1)).toBe('2024-02-29');
    expect(addDays('2025-02-28', 1)).toBe('2025-03-01');
  });

  it('builds the upcoming window: today first, Feb 29 on Feb 28 of other years, each month/day once', () => {
    expect(birthdayWindow('2027-02-27', 3)).toEqual([
      { month: 2, day: 27, offset: 0 },
      { month: 2, day: 28, offset: 1 },
      { month: 2, day: 29, offset: 1 },
      { month: 3, day: 1, offset: 2 },
    ]);
    expect(birthdayWindow('2028-02-28', 2)).toEqual([
      { month: 2, day: 28, offset: 0 },
      { month: 2, day: 29, offset: 1 },
    ]);
    const year = birthdayWindow('2026-03-01', 366);
    expect(year).toHaveLength(366);
    expect(year.filter((w) => w.month === 3 && w.day === 1)).toEqual([{ month: 3, day: 1, offset: 0 }]);
    expect(year.find((w) => w.month === 2 && w.day === 29)).toEqual({ month: 2, day: 29, offset: 364 });
  });
});
