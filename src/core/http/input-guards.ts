import { BadRequestException } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isUtf8 } from 'node:buffer';
import { parse as parseForm } from 'node:querystring';
import { jsonShapeProblem, textProblems } from './body-guards';
import { AddRouteConfig } from './route-config';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Set by `@ChecksOwnPathParams()`. */
    zyvaChecksOwnPathParams?: boolean;
  }
}

/**
 * The route checks its own path parameters, so the guard's 400 for a NUL or
 * an unpaired surrogate in them is skipped: a public link opened in a browser
 * (an unsubscribe token) answers its own page, not the API's error. Its query
 * string is still checked.
 */
export const ChecksOwnPathParams = () => AddRouteConfig({ zyvaChecksOwnPathParams: true });

/**
 * The 400 of a parser or hook. Fastify-level handlers outside Nest (Bull Board's API) read the error's own
 * `statusCode`, which Nest's exceptions do not carry, and would answer 500.
 */
function badInput(problems: string[]): BadRequestException {
  return Object.assign(new BadRequestException(problems), { statusCode: 400 });
}

/**
 * The body parsers of the API, with the guards of body-guards.ts: JSON is
 * measured (depth, array items) before it is parsed and checked for NUL
 * characters after, so no DTO transformation or query ever sees such a body.
 * They replace Nest's default parsers (which this registration turns off) and
 * keep what those did: `request.rawBody` for signature checks, Fastify's
 * protection against `__proto__` / `constructor` poisoning, form bodies. An
 * empty JSON body is no body (Fastify's own parser refused it). A body that
 * is not UTF-8 is a 400: decoding it would store U+FFFD in place of each bad
 * byte without a word (JSON is UTF-8, RFC 8259 §8.1).
 * Path parameters and query strings are checked once the route is known.
 */
const NOT_UTF8 = 'the body must be UTF-8 text';

/** Bodies parsed from a form or plain text: the routes that take a JSON body answer them 415 (see takesNoJson). */
const notJson = new WeakSet<object>();
const markNotJson = <T extends object>(body: T): T => {
  notJson.add(body);
  return body;
};

/**
 * A body that came as a form or as plain text rather than JSON. Read by the
 * validation pipe, which runs after the guards: a cross-site form post with
 * the session cookie is still the guard's 403, a bad flow webhook signature
 * still the guard's 401; routes that read a form themselves (Twilio's
 * webhook) take no @Body() and are not affected.
 */
export const takesNoJson = (body: unknown): boolean => typeof body === 'object' && body !== null && notJson.has(body);

export function installInputGuards(app: NestFastifyApplication): void {
  const fastify = app.getHttpAdapter().getInstance();
  const { bodyLimit } = fastify.initialConfig;
  const parseJson = fastify.getDefaultJsonParser('error', 'error');

  app.useBodyParser('application/json', { bodyLimit }, (request, body, done) => {
    if (!isUtf8(body)) return done(badInput([NOT_UTF8]), undefined);
    const text = body.toString('utf8');
    // No body at all: many clients send Content-Type: application/json on every request, DELETEs included.
    // Routes that need a body then answer their own 400 listing its fields.
    if (text.trim() === '') return done(null, undefined);
    const shape = jsonShapeProblem(text);
    if (shape) return done(badInput([shape]), undefined);
    parseJson(request as FastifyRequest, text, (error: Error | null, parsed?: unknown) => {
      if (error) return done(error, undefined);
      const problems = textProblems(parsed);
      if (problems.length > 0) return done(badInput(problems), undefined);
      done(null, parsed);
    });
  });

  app.useBodyParser('application/x-www-form-urlencoded', { bodyLimit }, (_request, body, done) => {
    if (!isUtf8(body)) return done(badInput([NOT_UTF8]), undefined);
    const parsed = { ...parseForm(body.toString('utf8')) };
    const problems = textProblems(parsed);
    if (problems.length > 0) return done(badInput(problems), undefined);
    done(null, markNotJson(parsed));
  });

  // Fastify's own text/plain parser handed a JSON route a string, answered with a 400 about every field.
  fastify.removeContentTypeParser('text/plain');
  app.useBodyParser('text/plain', { bodyLimit }, (_request, _body, done) => done(null, markNotJson({})));

  fastify.addHook('preValidation', (request: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void) => {
    const path = request.routeOptions.config.zyvaChecksOwnPathParams === true ? [] : textProblems(request.params ?? {}, '', 'the path');
    const problems = [...path, ...textProblems(request.query ?? {}, '', 'the query string')];
    done(problems.length > 0 ? badInput(problems) : undefined);
  });
}
