import { Injectable, Module, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { randomUUID } from 'node:crypto';
import { LoggerModule, PinoLogger } from 'nestjs-pino';
import { AppConfig } from '../config/app-config';

const REQUEST_ID = /^[\w.-]{1,128}$/;

declare module 'fastify' {
  interface FastifyRequest {
    requestId?: string;
  }
}

/**
 * Request ids and access logs in two Fastify hooks. nestjs-pino's per-request
 * middleware (pino-http through middie, a child logger and an
 * AsyncLocalStorage scope per request) cost about a third of the throughput of
 * a cached read (bench/api.mjs); this costs a header and, when the level lets
 * it through, one line. Failures log at warn (4xx) and error (5xx); successful
 * requests at debug, since /metrics already counts and times every request.
 */
@Injectable()
export class RequestLogging implements OnModuleInit {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  onModuleInit(): void {
    // An application context (worker role) has no HTTP server.
    const fastify = this.adapterHost.httpAdapter?.getInstance<FastifyInstance>();
    if (!fastify) return;
    fastify.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
      const given = request.headers['x-request-id'];
      request.requestId = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
      reply.header('X-Request-Id', request.requestId);
      done();
    });
    fastify.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
      const status = reply.statusCode;
      const level = status >= 500 ? 'error' : status >= 400 ? 'warn' : 'debug';
      const logger = PinoLogger.root;
      if (logger?.isLevelEnabled(level) && request.url !== '/health' && request.url !== '/metrics') {
        logger[level](
          // pino-http's serializers (and the redaction of credentials) shape the raw objects.
          { reqId: request.requestId, req: request.raw, res: reply.raw, responseTime: Math.round(reply.elapsedTime) },
          'request completed',
        );
      }
      done();
    });
  }
}

/**
 * Structured JSON logs (pino); credentials never reach them. In development
 * on a terminal (`npm run dev`) the same lines are printed readable by
 * pino-pretty (a dev dependency); anywhere else, production included, JSON.
 */
@Module({
  imports: [
    LoggerModule.forRootAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => ({
        pinoHttp: {
          level: config.LOG_LEVEL,
          ...(config.NODE_ENV === 'development' && process.stdout.isTTY
            ? { transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } }
            : {}),
          redact: {
            paths: [
              'req.headers.authorization',
              'req.headers.cookie',
              'req.headers["x-hub-signature-256"]',
              'req.headers["x-zyva-signature"]',
              'req.headers["svix-signature"]',
              'res.headers["set-cookie"]',
            ],
            censor: '[redacted]',
          },
        },
        // Requests are logged by RequestLogging, not by nestjs-pino's middleware.
        forRoutes: [],
      }),
    }),
  ],
  providers: [RequestLogging],
})
export class LoggingModule {}
