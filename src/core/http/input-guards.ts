import { BadRequestException } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { parse as parseForm } from 'node:querystring';
import { jsonShapeProblem, nulProblems } from './body-guards';

/**
 * The body parsers of the API, with the guards of body-guards.ts: JSON is
 * measured (depth, array items) before it is parsed and checked for NUL
 * characters after, so no DTO transformation or query ever sees such a body.
 * They replace Nest's default parsers (which this registration turns off) and
 * keep what those did: `request.rawBody` for signature checks, Fastify's
 * protection against `__proto__` / `constructor` poisoning, form bodies.
 * Path parameters and query strings are checked once the route is known.
 */
export function installInputGuards(app: NestFastifyApplication): void {
  const fastify = app.getHttpAdapter().getInstance();
  const { bodyLimit } = fastify.initialConfig;
  const parseJson = fastify.getDefaultJsonParser('error', 'error');

  app.useBodyParser('application/json', { bodyLimit }, (request, body, done) => {
    const text = body.toString('utf8');
    const shape = jsonShapeProblem(text);
    if (shape) return done(new BadRequestException([shape]), undefined);
    parseJson(request as FastifyRequest, text, (error: Error | null, parsed?: unknown) => {
      if (error) return done(error, undefined);
      const problems = nulProblems(parsed);
      if (problems.length > 0) return done(new BadRequestException(problems), undefined);
      done(null, parsed);
    });
  });

  app.useBodyParser('application/x-www-form-urlencoded', { bodyLimit }, (_request, body, done) => {
    const parsed = { ...parseForm(body.toString('utf8')) };
    const problems = nulProblems(parsed);
    if (problems.length > 0) return done(new BadRequestException(problems), undefined);
    done(null, parsed);
  });

  fastify.addHook('preValidation', (request: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void) => {
    const problems = [...nulProblems(request.params ?? {}), ...nulProblems(request.query ?? {})];
    done(problems.length > 0 ? new BadRequestException(problems) : undefined);
  });
}
