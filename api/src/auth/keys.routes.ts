import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { NoQuery } from '../http/schemas.ts';
import { SCOPES } from '../db/schema.ts';
import { notFound } from '../http/problem.ts';
import { problemResponses } from '../http/responses.ts';
import type { KeySummary } from './keys.ts';

const Scope = Type.Enum([...SCOPES]);

const Key = Type.Object(
  {
    id: Type.Integer(),
    name: Type.String(),
    prefix: Type.String({ description: 'The public part of the key: safe to show and log.' }),
    scopes: Type.Array(Scope),
    created_at: Type.String({ format: 'date-time' }),
    last_used_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
      description: 'To the minute.',
    }),
    revoked_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  },
  { title: 'ApiKey' },
);

const NewKey = Type.Object(
  {
    ...Key.properties,
    key: Type.String({ description: 'The whole key. Shown only in this answer: store it now.' }),
  },
  { title: 'NewApiKey' },
);

const toKey = (key: KeySummary) => ({
  id: key.id,
  name: key.name,
  prefix: key.prefix,
  scopes: key.scopes,
  created_at: key.createdAt.toISOString(),
  last_used_at: key.lastUsedAt?.toISOString() ?? null,
  revoked_at: key.revokedAt?.toISOString() ?? null,
});

/** The key a request is made with (any key), and managing keys (scope `keys:admin`). */
export const keyRoutes: FastifyPluginAsyncTypebox = async (app) => {
  await app.register(currentKeyRoutes);
  await app.register(keyAdminRoutes);
};

/** GET /v1/keys/me. */
const currentKeyRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/v1/keys/me',
    {
      preHandler: app.requireScope(),
      schema: {
        operationId: 'currentKey',
        tags: ['keys'],
        summary: 'The key this request is made with: its name and scopes',
        description:
          "Any valid key may ask: a client (the storefront's admin sign-in) checks a key and learns what it may do before using it.",
        querystring: NoQuery,
        response: {
          200: Type.Object(
            {
              id: Key.properties.id,
              name: Key.properties.name,
              prefix: Key.properties.prefix,
              scopes: Key.properties.scopes,
            },
            { title: 'CurrentApiKey' },
          ),
          ...problemResponses(400, 401),
        },
      },
    },
    async (request, reply) => {
      reply.header('cache-control', 'no-store');
      const { id, name, prefix, scopes } = request.apiKey!;
      return { id, name, prefix, scopes };
    },
  );
};

/** Managing API keys over the API (scope `keys:admin`), as the keys command does locally. */
const keyAdminRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const admin = app.requireScope('keys:admin');

  app.get(
    '/v1/keys',
    {
      preHandler: admin,
      schema: {
        operationId: 'listKeys',
        tags: ['keys'],
        summary: 'List API keys (never their secrets)',
        description:
          'Every key, revoked ones included, oldest first. The number of keys is small and bounded by the admins.',
        querystring: NoQuery,
        response: { 200: Type.Object({ data: Type.Array(Key) }), ...problemResponses(400, 401, 403) },
      },
    },
    async (_request, reply) => {
      reply.header('cache-control', 'no-store');
      return { data: (await app.keys.list()).map(toKey) };
    },
  );

  app.post(
    '/v1/keys',
    {
      preHandler: admin,
      schema: {
        operationId: 'createKey',
        tags: ['keys'],
        summary: 'Create an API key',
        description: 'The answer holds the whole key, once; only a hash of it is kept.',
        querystring: NoQuery,
        body: Type.Object(
          {
            // No control characters, nor lone surrogates (not Unicode: JSON can write them, PostgreSQL refuses them).
            name: Type.String({ minLength: 1, maxLength: 100, pattern: '^[^\\u0000-\\u001f\\u007f\\ud800-\\udfff]*$' }),
            scopes: Type.Array(Scope, { minItems: 1, maxItems: SCOPES.length, uniqueItems: true }),
          },
          { additionalProperties: false },
        ),
        response: { 201: NewKey, ...problemResponses(400, 401, 403) },
      },
    },
    async (request, reply) => {
      const created = await app.keys.create(request.body.name, request.body.scopes);
      const [summary] = (await app.keys.list()).filter((k) => k.id === created.id);
      reply.header('cache-control', 'no-store');
      return reply.code(201).send({ ...toKey(summary!), key: created.secret });
    },
  );

  app.delete(
    '/v1/keys/:id',
    {
      preHandler: admin,
      schema: {
        operationId: 'revokeKey',
        tags: ['keys'],
        summary: 'Revoke an API key',
        description:
          'The key stops working at once on this API process, and within 2 seconds on the others. Revoking a revoked key is a 404.',
        querystring: NoQuery,
        params: Type.Object({ id: Type.Integer({ minimum: 1, maximum: 2_147_483_647 }) }),
        response: { 204: Type.Null({ description: 'Revoked.' }), ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      if (!(await app.keys.revoke(request.params.id))) throw notFound(`No active key ${request.params.id}`);
      return reply.code(204).send(null);
    },
  );
};
