import { randomBytes } from 'node:crypto';

let sequence = 0;
/**
 * A cuid-shaped id made here (time-ordered, then random), for a row written in raw SQL: a contact is linked to
 * its tags, a message queued, without reading it back.
 */
export function newRowId(): string {
  sequence = (sequence + 1) % 36 ** 4;
  return `c${Date.now().toString(36).padStart(8, '0')}${sequence.toString(36).padStart(4, '0')}${randomBytes(8).toString('hex').slice(0, 12)}`;
}

/** A `timestamp(3)` as Prisma stores it: the UTC time, without a zone (cast with `::timestamp(3)`). */
export function sqlTimestamp(date: Date = new Date()): string {
  return date.toISOString().slice(0, 23);
}
