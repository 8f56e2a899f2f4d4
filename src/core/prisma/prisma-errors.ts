import { Prisma } from '../../generated/prisma/client';

/** True when `error` is a unique-constraint violation (optionally on one of `fields`). */
export function isUniqueViolation(error: unknown, fields?: string[]): boolean {
  if (!(error instanceof Prisma.PrismaClientKnownRequestError) || error.code !== 'P2002') return false;
  if (!fields) return true;
  const target = JSON.stringify(error.meta ?? {});
  return fields.some((f) => target.includes(f));
}

export function isNotFound(error: unknown): boolean {
  return error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2025';
}
