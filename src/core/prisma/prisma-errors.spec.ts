import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { Prisma, PrismaClient } from '../../generated/prisma/client';
import { isDatabaseUnavailable, isUniqueViolation } from './prisma-errors';

/** The shapes the pg adapter gives a query whose connection dropped (seen with a TCP proxy cut under load). */
describe('isDatabaseUnavailable', () => {
  /** What @prisma/driver-adapter-utils throws when no Prisma error wraps it (inside a transaction, say). */
  const adapterError = (cause: Record<string, unknown>) => Object.assign(new Error(String(cause.kind)), { name: 'DriverAdapterError', cause });
  const rawQueryFailure = (cause: Record<string, unknown>, message: string) =>
    new Prisma.PrismaClientKnownRequestError(`Raw query failed. Code: \`N/A\`. Message: \`${message}\``, {
      code: 'P2010',
      clientVersion: '7',
      meta: { driverAdapterError: { cause } },
    });

  it('recognises a connection reset mid-query, which the adapter reports by kind, without a code', () => {
    expect(isDatabaseUnavailable(rawQueryFailure({ kind: 'ConnectionClosed' }, 'Server has closed the connection.'))).toBe(true);
    expect(isDatabaseUnavailable(adapterError({ kind: 'ConnectionClosed' }))).toBe(true);
    expect(isDatabaseUnavailable(rawQueryFailure({ kind: 'SocketTimeout' }, 'Socket timeout'))).toBe(true);
    expect(isDatabaseUnavailable(rawQueryFailure({ kind: 'DatabaseNotReachable', host: '127.0.0.1', port: 5432 }, 'unreachable'))).toBe(true);
  });

  it('still tells a query that is wrong from a database that is away', () => {
    expect(isDatabaseUnavailable(rawQueryFailure({ kind: 'UniqueConstraintViolation', constraint: { fields: ['id'] } }, 'Unique'))).toBe(false);
    expect(isDatabaseUnavailable(rawQueryFailure({ kind: 'postgres', code: '22P02', message: 'invalid input syntax' }, 'invalid input'))).toBe(false);
    expect(isDatabaseUnavailable(adapterError({ kind: 'UnsupportedNativeDataType', type: 'void' }))).toBe(false);
  });

  it('counts a transaction that could not get a pooled connection in time (every connection busy) as unavailable', async () => {
    const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: process.env.DATABASE_URL, max: 1 }) });
    try {
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      const holder = prisma.$transaction(() => held);
      await new Promise((resolve) => setTimeout(resolve, 100));
      const error = await prisma.$transaction(async (tx) => tx.$queryRaw`SELECT 1`, { maxWait: 50 }).catch((e: unknown) => e);
      release();
      await holder;
      expect(error).toBeInstanceOf(Prisma.PrismaClientKnownRequestError);
      expect((error as Prisma.PrismaClientKnownRequestError).code).toBe('P2028');
      expect(isDatabaseUnavailable(error)).toBe(true);
    } finally {
      await prisma.$disconnect();
    }
  });
});

describe('isUniqueViolation', () => {
  /** pg's own error, as a prepared statement run on pg directly (PrismaService.queryPrepared) throws it. */
  const pgError = (code: string, constraint?: string) => Object.assign(new pg.DatabaseError('duplicate key value', 0, 'error'), { code, constraint });

  it("recognises pg's 23505 from a prepared statement, by the index it names", () => {
    const phone = pgError('23505', 'contacts_organizationId_phone_key');
    expect(isUniqueViolation(phone)).toBe(true);
    expect(isUniqueViolation(phone, ['phone'])).toBe(true);
    expect(isUniqueViolation(phone, ['email'])).toBe(false);
    expect(isUniqueViolation(pgError('23503', 'messages_campaignId_fkey'))).toBe(false);
    expect(isUniqueViolation(new Error('duplicate key value'))).toBe(false);
  });
});
