import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { invalidParam, notFound } from '../http/problem.ts';
import { cacheable, problemResponses } from '../http/responses.ts';
import { fingerprint } from '../pagination/cursor.ts';
import { parseSortKey, sortKeyOf, type ProductFilters } from './products-repository.ts';
import {
  CategoryList,
  DEFAULT_LIMIT,
  DEFAULT_SORT,
  ListProductsQuery,
  NoQuery,
  Product,
  ProductPage,
  ProductParams,
} from './schemas.ts';

const LIST_CACHE = 'public, max-age=10, stale-while-revalidate=30';

/** Builds the URL of another page of the same query: same parameters, another cursor (RFC 8288 links). */
function pageUrl(url: string, cursor: string): string {
  const [path, search = ''] = url.split('?', 2);
  const params = new URLSearchParams(search);
  params.set('cursor', cursor);
  return `${path}?${params.toString()}`;
}

export const catalogueRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { products, categories, cursors } = app.catalogue;

  app.get(
    '/v1/products',
    {
      config: { responseCache: true },
      schema: {
        operationId: 'listProducts',
        tags: ['catalogue'],
        summary: 'List active products, one page at a time',
        description:
          'Keyset pagination: follow `next_cursor` / `prev_cursor` (also in the `Link` header). A cursor only works with the sort and filters it came from.',
        querystring: ListProductsQuery,
        response: {
          ...cacheable(ProductPage, {
            Link: Type.String({ description: 'RFC 8288 links to the next and previous pages.' }),
          }),
          ...problemResponses(400, 404),
        },
      },
    },
    async (request, reply) => {
      // Validation has filled in the defaults; the type says optional because the contract does.
      const { limit = DEFAULT_LIMIT, sort = DEFAULT_SORT, ...q } = request.query;
      if (q.min_price !== undefined && q.max_price !== undefined && q.min_price > q.max_price) {
        throw invalidParam({ in: 'query', name: 'max_price', detail: 'must be at least min_price' });
      }
      const tree = await categories.tree();
      const category = q.category === undefined ? undefined : tree.bySlug.get(q.category);
      if (q.category !== undefined && !category) throw notFound(`No category with slug '${q.category}'`);
      const filters: ProductFilters = {
        category,
        brands: q.brand && [...new Set(q.brand)].sort(),
        minPrice: q.min_price,
        maxPrice: q.max_price,
        inStock: q.in_stock,
        updatedAfter: q.updated_after === undefined ? undefined : new Date(q.updated_after),
      };
      const queryPrint = fingerprint([
        sort,
        q.category ?? null,
        filters.brands ?? null,
        q.min_price ?? null,
        q.max_price ?? null,
        q.in_stock ?? null,
        filters.updatedAfter?.toISOString() ?? null,
      ]);
      const position = q.cursor ? cursors.decode(q.cursor, queryPrint, (key) => parseSortKey(sort, key)) : undefined;

      const { rows, more } = await products.page({ sort: sort, limit: limit, filters, position });

      // Boundary keys: the first and last rows, or the cursor's own key when the page is empty.
      const first = rows[0] ? sortKeyOf(sort, rows[0]) : position?.key;
      const last = rows.at(-1) ? sortKeyOf(sort, rows.at(-1)!) : position?.key;
      const backward = position?.direction === 'before';
      const hasNext = backward ? last !== undefined : more;
      const hasPrev = backward ? more : position !== undefined;
      const next_cursor = hasNext && last ? cursors.encode({ direction: 'after', key: last }, queryPrint) : null;
      const prev_cursor = hasPrev && first ? cursors.encode({ direction: 'before', key: first }, queryPrint) : null;

      const links = [
        next_cursor && `<${pageUrl(request.url, next_cursor)}>; rel="next"`,
        prev_cursor && `<${pageUrl(request.url, prev_cursor)}>; rel="prev"`,
      ].filter(Boolean);
      if (links.length > 0) reply.header('link', links.join(', '));
      reply.header('cache-control', LIST_CACHE);
      return { data: rows, next_cursor, prev_cursor };
    },
  );

  app.get(
    '/v1/products/:idOrSlug',
    {
      config: { responseCache: true },
      schema: {
        operationId: 'getProduct',
        tags: ['catalogue'],
        summary: 'One active product, by id or slug',
        description: 'Drafts and archived products answer 404. The ETag changes whenever the product does.',
        params: ProductParams,
        querystring: NoQuery,
        response: { ...cacheable(Product), ...problemResponses(400, 404) },
      },
    },
    async (request, reply) => {
      const product = await products.findActive(request.params.idOrSlug, await categories.tree());
      if (!product) throw notFound(`No active product '${request.params.idOrSlug}'`);
      reply.header('cache-control', LIST_CACHE);
      return product;
    },
  );

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
        response: { ...cacheable(CategoryList), ...problemResponses() },
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
