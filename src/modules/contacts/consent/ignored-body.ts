import { Injectable, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import { AddRouteConfig } from '../../../core/http/route-config';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Set by `@IgnoreBody()`. */
    zyvaIgnoreBody?: boolean;
  }
}

/**
 * The route never reads its body, so it is not parsed at all: RFC 8058
 * one-click clients POST `List-Unsubscribe=One-Click` as multipart or
 * form-encoded, others send JSON or nothing, and no body, malformed or in a
 * type no parser knows, may stand between a person and their opt-out.
 */
export const IgnoreBody = () => AddRouteConfig({ zyvaIgnoreBody: true });

/**
 * Makes `@IgnoreBody()` work: before parsing, such a request is shown to
 * Fastify as bodiless (the raw request keeps its headers; Node discards the
 * unread body). Other routes keep their parsers and their 415s.
 */
@Injectable()
export class IgnoredBodyHook implements OnModuleInit {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  onModuleInit(): void {
    // Worker processes have no HTTP server. Routes take their hooks when Fastify gets ready, after this.
    const fastify = this.adapterHost.httpAdapter?.getInstance<FastifyInstance>();
    if (!fastify) return;
    fastify.addHook('preParsing', async (request, _reply, payload) => {
      if (request.routeOptions.config.zyvaIgnoreBody === true) {
        request.headers = { 'content-type': undefined, 'content-length': '0', 'transfer-encoding': undefined };
      }
      return payload;
    });
  }
}
