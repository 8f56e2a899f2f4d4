import pg from 'pg';
import { Prisma } from '../../generated/prisma/client';

/**
 * True when `error` is a unique-constraint violation (optionally on one of `fields`): P2002 from a model query, a raw
 * query's P2010 whose driver cause is one, or pg's own error of a prepared statement (both named by the index, e.g.
 * `contacts_organizationId_phone_key`).
 */
export function isUniqueViolation(error: unknown, fields?: string[]): boolean {
  let target: unknown;
  if (error instanceof pg.DatabaseError) {
    // A prepared statement run on pg directly (PrismaService.queryPrepared): SQLSTATE 23505, named by its index.
    if (error.code !== '23505') return false;
    target = error.constraint ?? {};
  } else if (!(error instanceof Prisma.PrismaClientKnownRequestError)) return false;
  else if (error.code === 'P2002') target = error.meta ?? {};
  else if (error.code === 'P2010') {
    const cause = (error.meta as { driverAdapterError?: { cause?: { kind?: string; constraint?: unknown } } } | undefined)?.driverAdapterError?.cause;
    if (cause?.kind !== 'UniqueConstraintViolation') return false;
    target = cause.constraint ?? {};
  } else return false;
  if (!fields) return true;
  const text = JSON.stringify(target);
  return fields.some((f) => text.includes(f));
}

export function isNotFound(error: unknown): boolean {
  return error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2025';
}

/**
 * Prisma's connection-level error codes: the database cannot be reached, or timed out handing out a connection
 * (P2024 for a query, P2028 for an interactive transaction that waited longer than its `maxWait`, or outlived its
 * `timeout`, while every pooled connection was busy: load, never the request's fault).
 */
const UNREACHABLE_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024', 'P2028']);
/**
 * Postgres and driver codes of a connection that went away mid-query (the pg adapter reports them as a
 * P2010 raw-query failure with the driver's cause): admin shutdown, crash shutdown, cannot connect now,
 * and the socket errors of a dropped TCP connection.
 */
const DROPPED_CODES = new Set(['57P01', '57P02', '57P03', '08000', '08003', '08006', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE']);
const DROPPED_MESSAGES = /Connection terminated|Connection closed|connect ECONNREFUSED|timeout exceeded when trying to connect|Can't reach database server/i;
/**
 * The pg adapter's own kinds for the same faults: it maps a socket error to a kind and drops its code
 * (ECONNRESET → ConnectionClosed, "Server has closed the connection."; ETIMEDOUT → SocketTimeout;
 * ECONNREFUSED → DatabaseNotReachable). A query in flight when the connection drops fails with
 * ConnectionClosed, either inside a P2010 (`meta.driverAdapterError.cause`) or as a bare
 * DriverAdapterError (`cause`); without these kinds that query's job burned an attempt, and a send
 * whose acceptance was being recorded lost it and was sent again (bench/faults.mjs, Postgres outage).
 */
const DROPPED_KINDS = new Set(['ConnectionClosed', 'SocketTimeout', 'DatabaseNotReachable', 'TooManyConnections']);

type AdapterCause = { code?: string; originalCode?: string; kind?: string };

/** The database is unreachable or dropped the connection: a fault of ours that passes, never the request's. */
export function isDatabaseUnavailable(error: unknown): boolean {
  const e = error as { name?: string; code?: string; message?: string; cause?: AdapterCause; meta?: { driverAdapterError?: { cause?: AdapterCause } } };
  if (!e) return false;
  if (e.name === 'PrismaClientInitializationError') return true;
  if (typeof e.code === 'string' && (UNREACHABLE_CODES.has(e.code) || DROPPED_CODES.has(e.code))) return true;
  const cause = e.meta?.driverAdapterError?.cause ?? (e.name === 'DriverAdapterError' ? e.cause : undefined);
  if (cause && (DROPPED_CODES.has(cause.code ?? '') || DROPPED_CODES.has(cause.originalCode ?? '') || DROPPED_KINDS.has(cause.kind ?? ''))) return true;
  return typeof e.message === 'string' && DROPPED_MESSAGES.test(e.message);
}

/** Prisma's codes for the Postgres data exceptions it names (22001 too long, 22P02 invalid text, 22003 out of range). */
const DATA_ERROR_CODES = new Set(['P2000', 'P2007', 'P2020']);

/**
 * A value Postgres refused as data (SQLSTATE class 22: a NUL in text, an
 * invalid encoding, a number out of range…): the request's fault, never ours.
 */
export function isDataError(error: unknown): boolean {
  const e = error as { code?: unknown; cause?: { code?: unknown }; meta?: { driverAdapterError?: { cause?: { code?: unknown; originalCode?: unknown } } } };
  if (!e) return false;
  if (typeof e.code === 'string' && DATA_ERROR_CODES.has(e.code)) return true;
  const cause = e.meta?.driverAdapterError?.cause;
  return [e.code, e.cause?.code, cause?.code, cause?.originalCode].some((code) => typeof code === 'string' && /^22[0-9A-Z]{3}$/.test(code));
}
