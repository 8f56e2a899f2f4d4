import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { STATUS_CODES } from 'node:http';
import { isDataError, isDatabaseUnavailable } from '../prisma/prisma-errors';
import { isRedisUnavailable } from '../redis/redis-errors';
import { ProviderError } from './provider-error';

export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string | string[];
  [extra: string]: unknown;
}

/**
 * One error shape for the whole API: `{ statusCode, error, message }`.
 * Unknown errors become a 500 whose body says nothing about internals; the
 * stack goes to the log.
 */
@Catch()
export class HttpExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger(HttpExceptionFilter.name);

  catch(exception: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const body = this.toBody(exception);
    if (body.statusCode === HttpStatus.SERVICE_UNAVAILABLE) {
      void reply.header('Retry-After', '5');
      this.logger.warn(`503: ${(exception as Error)?.message?.split('\n').pop()}`);
    } else if (isDataError(exception)) {
      // The backstop answered: an input check upstream is missing.
      this.logger.warn(`400 from a database data error: ${(exception as Error)?.message?.split('\n').pop()}`);
    } else if (body.statusCode >= 500) {
      this.logger.error(exception instanceof Error ? (exception.stack ?? exception.message) : String(exception));
    }
    void reply.status(body.statusCode).send(body);
  }

  private toBody(exception: unknown): ErrorBody {
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const response = exception.getResponse();
      const fallback = STATUS_CODES[status] ?? 'Error';
      if (typeof response === 'string') return { statusCode: status, error: fallback, message: response };
      const r = response as Record<string, unknown>;
      const { statusCode: _s, error, message, ...extra } = r;
      return {
        ...extra,
        statusCode: status,
        error: typeof error === 'string' ? error : fallback,
        message: (message as string | string[]) ?? fallback,
      };
    }
    // Errors raised by Fastify itself (malformed JSON, body too large, wrong content type).
    const statusCode = (exception as { statusCode?: number })?.statusCode;
    if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
      return {
        statusCode,
        error: STATUS_CODES[statusCode] ?? 'Bad Request',
        message: (exception as Error).message,
      };
    }
    // Input checks refuse what Postgres cannot store; this catches what they missed, without its internals.
    if (isDataError(exception)) {
      return {
        statusCode: HttpStatus.BAD_REQUEST,
        error: 'Bad Request',
        message: ['a value in the request cannot be stored (a NUL character, an invalid encoding or a number out of range)'],
      };
    }
    if (isDatabaseUnavailable(exception)) {
      return {
        statusCode: HttpStatus.SERVICE_UNAVAILABLE,
        error: 'Service Unavailable',
        message: 'The database is unavailable right now; try again shortly.',
      };
    }
    // A provider's own connection failure is not ours (it would say ECONNREFUSED too).
    if (!(exception instanceof ProviderError) && isRedisUnavailable(exception)) {
      return {
        statusCode: HttpStatus.SERVICE_UNAVAILABLE,
        error: 'Service Unavailable',
        message: 'A service Zyva depends on is unavailable right now; try again shortly.',
      };
    }
    return {
      statusCode: HttpStatus.INTERNAL_SERVER_ERROR,
      error: 'Internal Server Error',
      message: 'Something went wrong on our side.',
    };
  }
}
