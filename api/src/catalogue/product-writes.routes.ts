import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Db } from '../db/database.ts';
import { parseIfMatch, versionTag } from '../http/conditional.ts';
import { runIdempotent, sendAnswer } from '../http/idempotency.ts';
import { notFound, toProblem } from '../http/problem.ts';
import { problemResponses } from '../http/responses.ts';
import { IdempotencyKeyHeader, NoQuery } from '../http/schemas.ts';
import { ProductWriter } from './product-writes.ts';
import { Product, ProductParams } from './schemas.ts';
import { ProductCreate, ProductPatch } from './write-schemas.ts';

const IfMatch = Type.String({ description: 'Apply only if the product is still at this version: "<version>".' });

/** On the primary: a write resolves the slug and answers with the product as it just wrote it. */
const primaryWriter = (app: FastifyInstance) =>
  new ProductWriter(app.catalogue.primary.categories, app.catalogue.primary.products);

/** Creating, changing and archiving products (API key with `catalog:write`). */
export const productWriteRoutes: FastifyPluginAsyncTypebox<{ db: Db }> = async (app, { db }) => {
  await app.register(productCreateRoutes, { db });
  await app.register(productChangeRoutes, { db });
};

/** POST /v1/products. */
const productCreateRoutes: FastifyPluginAsyncTypebox<{ db: Db }> = async (app, { db }) => {
  const writer = primaryWriter(app);
  const catalogWriter = app.requireScope('catalog:write');

  app.post(
    '/v1/products',
    {
      preHandler: catalogWriter,
      schema: {
        operationId: 'createProduct',
        tags: ['catalogue'],
        summary: 'Create a product',
        description:
          'A clash of `sku` or `slug` with another product is a 409 naming the field. Opening stock is written to the ledger. Send `Idempotency-Key` to make retries safe.',
        headers: Type.Object({
          'idempotency-key': Type.Optional(IdempotencyKeyHeader),
        }),
        querystring: NoQuery,
        body: ProductCreate,
        response: { 201: Product, ...problemResponses(400, 401, 403, 409, 422) },
      },
    },
    async (request, reply) => {
      const answer = await runIdempotent(
        db,
        request,
        request.apiKey!.id,
        async (tx) => ({ status: 201, body: await writer.create(tx, request.body, request.apiKey!.id) }),
        (error) => toProblem(error, request),
      );
      if (answer.status === 201) reply.header('location', `/v1/products/${(answer.body as Product).id}`);
      return sendAnswer(reply, answer);
    },
  );
};

/** PATCH and DELETE /v1/products/{idOrSlug}. */
const productChangeRoutes: FastifyPluginAsyncTypebox<{ db: Db }> = async (app, { db }) => {
  const writer = primaryWriter(app);
  const catalogWriter = app.requireScope('catalog:write');

  /** The path names a product by id or slug, as GET does. */
  const productId = async (idOrSlug: string) => {
    const id = await writer.resolve(idOrSlug);
    if (id === undefined) throw notFound(`No product '${idOrSlug}'`);
    return id;
  };

  app.patch(
    '/v1/products/:idOrSlug',
    {
      preHandler: catalogWriter,
      schema: {
        operationId: 'updateProduct',
        tags: ['catalogue'],
        summary: 'Change some fields of a product',
        description:
          'With `If-Match: "<version>"`, applies only if nobody changed the product since: otherwise 412 with `current_version`.',
        params: ProductParams,
        headers: Type.Object({ 'if-match': Type.Optional(IfMatch) }),
        querystring: NoQuery,
        body: ProductPatch,
        response: { 200: Product, ...problemResponses(400, 401, 403, 404, 409, 412) },
      },
    },
    async (request, reply) => {
      const expected = parseIfMatch(request.headers['if-match']);
      const id = await productId(request.params.idOrSlug);
      const product = await db.transaction((tx) => writer.update(tx, id, request.body, expected));
      reply.header('etag', versionTag(product.version));
      return product;
    },
  );

  app.delete(
    '/v1/products/:idOrSlug',
    {
      preHandler: catalogWriter,
      schema: {
        operationId: 'archiveProduct',
        tags: ['catalogue'],
        summary: 'Archive a product',
        description:
          'The product leaves the storefront and the listings; it keeps its id, history and stock ledger. Honours `If-Match` like PATCH. Archiving an archived product changes nothing.',
        params: ProductParams,
        headers: Type.Object({ 'if-match': Type.Optional(IfMatch) }),
        querystring: NoQuery,
        response: { 200: Product, ...problemResponses(400, 401, 403, 404, 412) },
      },
    },
    async (request, reply) => {
      const expected = parseIfMatch(request.headers['if-match']);
      const id = await productId(request.params.idOrSlug);
      const product = await db.transaction((tx) => writer.archive(tx, id, expected));
      reply.header('etag', versionTag(product.version));
      return product;
    },
  );
};
