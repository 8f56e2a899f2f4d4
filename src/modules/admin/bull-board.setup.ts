import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter as BullBoardAdapter } from '@bull-board/fastify';
import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import { JobProducer } from '../../core/queues/job-producer.service';
import { ALL_QUEUES } from '../../core/queues/queue.catalogue';
import { SessionService } from '../auth/session.service';
import { adminSessionHook } from './admin-session.hook';

export const BULL_BOARD_PATH = '/admin/queues';

/**
 * Bull Board for every queue of the catalogue at /admin/queues, ADMIN only.
 * The board and the hook guarding it share one encapsulated Fastify scope, so
 * no board route exists outside the hook's reach.
 */
@Injectable()
export class BullBoardSetup implements OnModuleInit {
  private readonly logger = new Logger('BullBoard');

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly producer: JobProducer,
    private readonly sessions: SessionService,
  ) {}

  onModuleInit(): void {
    // Worker processes run as an application context: no HTTP server, no board.
    const fastify = this.adapterHost.httpAdapter?.getInstance<FastifyInstance>();
    if (!fastify) return;

    const board = new BullBoardAdapter();
    board.setBasePath(BULL_BOARD_PATH);
    createBullBoard({
      queues: ALL_QUEUES.map((name) => new BullMQAdapter(this.producer.queue(name))),
      serverAdapter: board,
      options: { uiConfig: { boardTitle: 'Zyva queues' } },
    });
    const guard = adminSessionHook(this.sessions, this.logger);
    fastify.register(async (scope) => {
      scope.addHook('onRequest', guard);
      await scope.register(board.registerPlugin(), { prefix: BULL_BOARD_PATH });
    });
  }
}
