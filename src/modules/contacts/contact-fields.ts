import { isEmail } from 'class-validator';
import type { Channel } from '../../generated/prisma/enums';
import { CHANNELS } from './consent/consent-state';

/** Shared by the JSON DTOs and the CSV import, so both accept exactly the same values. */
export const NAME_MAX = 200;
export const EMAIL_MAX = 254;
export const INSTAGRAM_MAX = 100;
export const TAG_MAX = 50;
export const TAGS_PER_CONTACT_MAX = 50;
export const E164 = /^\+[1-9]\d{6,14}$/;
export const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

/** A real calendar date between 1900-01-01 and today, as a UTC midnight Date; null otherwise. */
export function parseBirthday(value: string, today = new Date()): Date | null {
  if (!DATE_ONLY.test(value)) return null;
  const date = new Date(`${value}T00:00:00.000Z`);
  if (Number.isNaN(date.getTime()) || date.toISOString().slice(0, 10) !== value) return null;
  if (date.getUTCFullYear() < 1900 || date.getTime() > today.getTime()) return null;
  return date;
}

/** The columns derived from a birthday: the daily birthday check looks contacts up by month and day. */
export function birthdayColumns(birthday: Date | null): { birthday: Date | null; birthMonth: number | null; birthDay: number | null } {
  return {
    birthday,
    birthMonth: birthday ? birthday.getUTCMonth() + 1 : null,
    birthDay: birthday ? birthday.getUTCDate() : null,
  };
}

export const normalizeEmail = (email: string) => email.trim().toLowerCase();

export function tagProblem(tag: string): string | null {
  if (tag.length === 0) return 'a tag is empty';
  if (tag.length > TAG_MAX) return `tag "${tag.slice(0, 20)}…" is longer than ${TAG_MAX} characters`;
  return null;
}

/** Trimmed and without repeats, in the given order. */
export function normalizeTags(tags: readonly string[] | undefined): string[] {
  return [...new Set((tags ?? []).map((t) => t.trim()))];
}

export interface ContactFields {
  name: string;
  email: string | null;
  phone: string | null;
  birthday: Date | null;
  instagramId: string | null;
  tags: string[];
  /** Channels the row opts the contact in to (the import's `optIn` column). */
  optIn: Channel[];
}

/**
 * One CSV row (already keyed by column) checked like the API checks a body.
 * Empty cells mean "not given". Answers the fields or every problem found.
 */
export function validateRow(row: Record<string, string | undefined>): { fields: ContactFields } | { problems: string[] } {
  const problems: string[] = [];
  // Postgres cannot store a NUL in text: the row is refused here, not by the batch that would carry it.
  for (const [column, value] of Object.entries(row)) {
    if (value?.includes('\u0000')) problems.push(`${column} contains the NUL character (\\u0000)`);
  }
  if (problems.length > 0) return { problems };
  const cell = (k: string) => (row[k] ?? '').trim();
  const name = cell('name');
  if (!name) problems.push('name is required');
  else if (name.length > NAME_MAX) problems.push(`name is longer than ${NAME_MAX} characters`);
  const email = cell('email') ? normalizeEmail(cell('email')) : null;
  if (email && (email.length > EMAIL_MAX || !isEmail(email))) problems.push(`email "${email.slice(0, 60)}" is not a valid address`);
  const phone = cell('phone') || null;
  if (phone && !E164.test(phone)) problems.push(`phone "${phone.slice(0, 30)}" is not in E.164 format (e.g. +5511987654321)`);
  const birthdayText = cell('birthday');
  const birthday = birthdayText ? parseBirthday(birthdayText) : null;
  if (birthdayText && !birthday) problems.push(`birthday "${birthdayText.slice(0, 20)}" is not a past date in YYYY-MM-DD`);
  const instagramId = cell('instagramId') || null;
  if (instagramId && instagramId.length > INSTAGRAM_MAX) problems.push(`instagramId is longer than ${INSTAGRAM_MAX} characters`);
  const tags = normalizeTags(cell('tags') ? cell('tags').split(/[;|,]/) : []).filter((t) => t !== '');
  if (tags.length > TAGS_PER_CONTACT_MAX) problems.push(`more than ${TAGS_PER_CONTACT_MAX} tags`);
  for (const tag of tags) {
    const problem = tagProblem(tag);
    if (problem) problems.push(problem);
  }
  const optIn: Channel[] = [];
  for (const entry of cell('optIn').split(';').map((c) => c.trim()).filter((c) => c !== '')) {
    const channel = entry.toUpperCase() as Channel;
    if (!CHANNELS.includes(channel)) problems.push(`optIn "${entry.slice(0, 30)}" is not a channel (${CHANNELS.join(', ')})`);
    else if (!optIn.includes(channel)) optIn.push(channel);
  }
  if (problems.length > 0) return { problems };
  return { fields: { name, email, phone, birthday, instagramId, tags, optIn } };
}

