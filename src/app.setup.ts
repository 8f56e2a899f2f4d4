import fastifyCookie from '@fastify/cookie';
import fastifyMultipart from '@fastify/multipart';
import { INestApplication } from '@nestjs/common';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { STATUS_CODES } from 'node:http';
import { Logger } from 'nestjs-pino';
import { AppConfig, loadConfig } from './core/config/app-config';
import { SESSION_COOKIE } from './core/auth/auth.types';
import { BEARER_SCHEME, COOKIE_SCHEME, jsonBodies, publicSecurity } from './core/http/api-docs';
import { installInputGuards } from './core/http/input-guards';
import { PAGE_HEADERS, refusedLinkPage } from './modules/contacts/consent/unsubscribe-page';

/** The Fastify adapter as production runs it (also used by e2e tests). */
export function createFastifyAdapter(): FastifyAdapter {
  return new FastifyAdapter({ trustProxy: loadConfig().TRUST_PROXY, bodyLimit: 1024 * 1024, frameworkErrors: answerRouterError });
}

/**
 * What the router refuses before any route runs (a path parameter over its
 * 100 characters, a broken %-escape) in the API's error shape, instead of
 * Fastify's own body, which names a 414 "Bad Request" and echoes the URL;
 * an unsubscribe link gets its invalid-link page instead.
 */
function answerRouterError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const page = refusedLinkPage(request.method, request.url);
  if (page) {
    void reply.code(page.status).headers(PAGE_HEADERS).send(page.html);
    return;
  }
  const statusCode = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 400;
  const message = error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'A path parameter is longer than 100 characters.' : 'The URL is not validly encoded.';
  void reply.code(statusCode).send({ statusCode, error: STATUS_CODES[statusCode] ?? 'Bad Request', message });
}

/**
 * Everything that is not a Nest provider but part of how the HTTP app
 * behaves: Fastify plugins, Swagger, the pino logger.
 * main.ts and the e2e tests both call this, so tests run what production runs.
 */
export async function configureApp(app: NestFastifyApplication): Promise<NestFastifyApplication> {
  const config = app.get(AppConfig);
  app.useLogger(app.get(Logger));
  installInputGuards(app);
  await app.register(fastifyCookie);
  await app.register(fastifyMultipart, { limits: { fileSize: 20 * 1024 * 1024, files: 1 } });
  if (config.SWAGGER_ENABLED) setupSwagger(app, config);
  return app;
}

function setupSwagger(app: INestApplication, config: AppConfig): void {
  const document = jsonBodies(publicSecurity(SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Zyva API')
      .setDescription(
        'Marketing automation and CRM for small stores: contacts, messages (WhatsApp, email, SMS, Instagram DM), ' +
          'automation flows, birthday campaigns and scheduled social posts. Log in with `POST /api/auth/login` and ' +
          'authorize with the token it answers.',
      )
      .setVersion('1.0')
      // Relative first, so Swagger UI's "Try it out" calls whatever host served the page; then the public URL.
      .addServer('/', 'The host serving this document')
      .addServer(config.APP_URL, 'This installation (APP_URL)')
      .addBearerAuth(
        { type: 'http', scheme: 'bearer', bearerFormat: 'opaque', description: 'The opaque session token answered by login or register' },
        BEARER_SCHEME,
      )
      .addCookieAuth(SESSION_COOKIE, { type: 'apiKey', in: 'cookie', description: 'The HttpOnly session cookie set by login' }, COOKIE_SCHEME)
      .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'opaque', description: 'METRICS_TOKEN, when one is set' }, 'metrics')
      .build(),
  )));
  SwaggerModule.setup('docs', app, document, {
    jsonDocumentUrl: 'docs-json',
    swaggerOptions: { persistAuthorization: true },
  });
}
