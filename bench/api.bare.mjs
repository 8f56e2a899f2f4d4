// The baseline of bench/api.mjs: a bare NestJS 11 + Fastify app with one GET
// route answering a fixed JSON body (the same bytes the real route answers),
// no guards, no Redis, no logger. Started by bench/api.mjs; not for use alone.
import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { Controller, Get, Header, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';

const body = readFileSync(process.env.BENCH_BODY_FILE, 'utf8');

class BareController {
  list() {
    return body;
  }
}
Controller('api/contacts')(BareController);
const list = Object.getOwnPropertyDescriptor(BareController.prototype, 'list');
Header('content-type', 'application/json; charset=utf-8')(BareController.prototype, 'list', list);
Get()(BareController.prototype, 'list', list);

class BareModule {}
Module({ controllers: [BareController] })(BareModule);

const app = await NestFactory.create(BareModule, new FastifyAdapter(), { logger: false });
await app.listen(Number(process.env.PORT), '127.0.0.1');
process.stdout.write('ready\n');
