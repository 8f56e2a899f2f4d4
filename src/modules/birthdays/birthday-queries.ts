import type { WindowDay } from './birthday-dates';

/**
 * The SQL of the birthday features, as plain text and values, so the service
 * and bench/birthdays.mjs run exactly the same statements.
 */

export interface SqlQuery {
  text: string;
  values: unknown[];
}

/**
 * One batch of the daily check: contacts born on `month`/`day` in the given
 * organizations, after `afterId` (keyset). The index
 * contacts(birthMonth, birthDay, id) makes each batch one index range scan,
 * so a run costs in proportion to the matching contacts, not to all of them.
 */
export function birthdayBatchQuery(p: {
  month: number;
  day: number;
  organizationIds: string[];
  afterId: string;
  limit: number;
}): SqlQuery {
  return {
    text:
      'SELECT "id", "organizationId" FROM "contacts" ' +
      'WHERE "birthMonth" = $1 AND "birthDay" = $2 AND "id" > $3 AND "organizationId" = ANY($4::text[]) ' +
      'ORDER BY "id" LIMIT $5',
    values: [p.month, p.day, p.afterId, p.organizationIds, p.limit],
  };
}


const upcomingFrom =
  'FROM "contacts" c ' +
  'JOIN unnest($2::smallint[], $3::smallint[], $4::int[]) AS w("month", "day", "offset") ' +
  'ON c."birthMonth" = w."month" AND c."birthDay" = w."day" ' +
  'WHERE c."organizationId" = $1';

const windowValues = (organizationId: string, window: WindowDay[]) => [
  organizationId,
  window.map((w) => w.month),
  window.map((w) => w.day),
  window.map((w) => w.offset),
];

/** One organization's contacts with a birthday in the window, soonest first. */
export function upcomingQuery(organizationId: string, window: WindowDay[], limit: number, skip: number): SqlQuery {
  return {
    text:
      'SELECT c."id", c."name", c."email", c."phone", c."birthday", w."offset" ' +
      `${upcomingFrom} ORDER BY w."offset", c."name", c."id" LIMIT $5 OFFSET $6`,
    values: [...windowValues(organizationId, window), limit, skip],
  };
}

export function upcomingCountQuery(organizationId: string, window: WindowDay[]): SqlQuery {
  return { text: `SELECT count(*)::int AS "total" ${upcomingFrom}`, values: windowValues(organizationId, window) };
}
