import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { cacheable, problemResponses } from '../http/responses.ts';
import { NoQuery } from '../http/schemas.ts';
import { CategoryList } from './schemas.ts';

/** The category tree (a public read). */
export const categoryRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { categories } = app.catalogue;

  app.get(
    '/v1/categories',
    {
      config: { responseCache: true },
      schema: {
        operationId: 'listCategories',
        tags: ['catalogue'],
        summary: 'The category tree, depth-first, with product counts',
        description:
          'Every category, each after its parent; `product_count` includes the descendants’ active products.',
        querystring: NoQuery,
        response: { ...cacheable(CategoryList), ...problemResponses(400) },
      },
    },
    async (_request, reply) => {
      const [tree, counts] = await Promise.all([categories.tree(), categories.productCounts()]);
      reply.header('cache-control', 'public, max-age=60, stale-while-revalidate=300');
      return {
        data: tree.ordered.map((node) => ({
          id: node.id,
          slug: node.slug,
          name: node.name,
          parent_id: node.parentId,
          depth: node.depth,
          product_count: counts.get(node.id) ?? 0,
        })),
      };
    },
  );
};
