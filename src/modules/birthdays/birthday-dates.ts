/** Calendar arithmetic of the birthday check, on plain `YYYY-MM-DD` dates (no time zone drift). */

export interface MonthDay {
  month: number;
  day: number;
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

export function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

/** True for a real calendar date written `YYYY-MM-DD` (2025-02-29 is not one). */
export function isCalendarDate(value: string): boolean {
  const m = DATE.exec(value);
  if (!m) return false;
  const d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3]));
  return d.getUTCFullYear() === +m[1] && d.getUTCMonth() === +m[2] - 1 && d.getUTCDate() === +m[3];
}

/** The calendar date at `instant` in `timeZone`, as `YYYY-MM-DD`. */
export function dateInTimeZone(instant: Date, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(instant);
  const part = (type: string) => parts.find((p) => p.type === type)!.value;
  return `${part('year')}-${part('month')}-${part('day')}`;
}

export function addDays(date: string, days: number): string {
  const [y, m, d] = date.split('-').map(Number);
  return new Date(Date.UTC(y, m - 1, d + days)).toISOString().slice(0, 10);
}

/**
 * The birthdays celebrated on `date`: its own month and day, plus Feb 29 on
 * Feb 28 of a year without one.
 */
export function birthdaysOn(date: string): MonthDay[] {
  const [year, month, day] = date.split('-').map(Number);
  const targets = [{ month, day }];
  if (month === 2 && day === 28 && !isLeapYear(year)) targets.push({ month: 2, day: 29 });
  return targets;
}

/** A birthday of the window that `upcoming` looks at: the month/day and its distance from today. */
export interface WindowDay extends MonthDay {
  offset: number;
}

/**
 * The month/days celebrated in the `days` calendar days from `today`
 * (today included), each with its distance from today. A month/day met a
 * second time (a 366-day window) keeps its first, nearest, occurrence.
 */
export function birthdayWindow(today: string, days: number): WindowDay[] {
  const window: WindowDay[] = [];
  const seen = new Set<string>();
  for (let offset = 0; offset < days; offset++) {
    for (const { month, day } of birthdaysOn(addDays(today, offset))) {
      const key = `${month}-${day}`;
      if (seen.has(key)) continue;
      seen.add(key);
      window.push({ month, day, offset });
    }
  }
  return window;
}
