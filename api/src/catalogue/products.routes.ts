import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { versionTag } from '../http/conditional.ts';
import { notFound } from '../http/problem.ts';
import { cacheable, problemResponses } from '../http/responses.ts';
import { NoQuery } from '../http/schemas.ts';
import { listProducts } from './list-products.ts';
import { ListProductsQuery, Product, ProductPage, ProductParams } from './schemas.ts';

const LIST_CACHE = 'public, max-age=10, stale-while-revalidate=30';

/** Builds the URL of another page of the same query: same parameters, another cursor (RFC 8288 links). */
function pageUrl(url: string, cursor: string): string {
  const [path, search = ''] = url.split('?', 2);
  const params = new URLSearchParams(search);
  params.set('cursor', cursor);
  return `${path}?${params.toString()}`;
}

/** The product list and the product page (public reads). */
export const productRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { products, categories } = app.catalogue;

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
      const page = await listProducts(request.query, app.catalogue);
      const links = [
        page.next_cursor && `<${pageUrl(request.url, page.next_cursor)}>; rel="next"`,
        page.prev_cursor && `<${pageUrl(request.url, page.prev_cursor)}>; rel="prev"`,
      ].filter(Boolean);
      if (links.length > 0) reply.header('link', links.join(', '));
      reply.header('cache-control', LIST_CACHE);
      return page;
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
      // The product's version is its entity tag: the one If-Match takes for a change.
      reply.header('etag', versionTag(product.version));
      reply.header('cache-control', LIST_CACHE);
      return product;
    },
  );
};
