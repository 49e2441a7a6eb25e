import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { isMigrated, replicaAnswers, type Database } from '../db/database.ts';
import { HttpProblem } from '../http/problem.ts';
import { problemResponses } from '../http/responses.ts';

const Status = Type.Object({ status: Type.Literal('ok') });

export const healthRoutes: FastifyPluginAsyncTypebox<{ database: Database }> = async (app, { database }) => {
  app.get(
    '/healthz',
    {
      schema: {
        operationId: 'healthz',
        tags: ['operations'],
        summary: 'Liveness: the process answers',
        description: 'Checks nothing else: a failing liveness probe means restart the process.',
        response: { 200: Status, ...problemResponses() },
      },
    },
    async (_request, reply) => {
      reply.header('cache-control', 'no-store');
      return { status: 'ok' as const };
    },
  );

  app.get(
    '/readyz',
    {
      schema: {
        operationId: 'readyz',
        tags: ['operations'],
        summary:
          'Readiness: the database is reachable and fully migrated (and the read replica reachable, when there is one)',
        description: 'A load balancer sends traffic only while this answers 200.',
        response: { 200: Status, ...problemResponses(503) },
      },
    },
    async (_request, reply) => {
      reply.header('cache-control', 'no-store');
      const migrated = await isMigrated(database).catch(() => {
        throw new HttpProblem(503, 'not-ready', 'Not ready', 'The database is unreachable.');
      });
      if (!migrated) throw new HttpProblem(503, 'not-ready', 'Not ready', 'The database is not fully migrated.');
      // Public reads, most of the traffic, go to the read replica when there is one: an API that
      // cannot reach it would answer them 503, so it takes no traffic. Its lag is not checked:
      // public reads tolerate a replica a moment behind.
      if (!(await replicaAnswers(database))) {
        throw new HttpProblem(503, 'not-ready', 'Not ready', 'The read replica is unreachable.');
      }
      return { status: 'ok' as const };
    },
  );
};
