import fp from 'fastify-plugin';
import type { Database } from '../db/database.ts';
import { CursorCodec } from '../pagination/cursor.ts';
import { CategoryRepository } from './category-tree.ts';
import { ProductRepository } from './products-repository.ts';

declare module 'fastify' {
  interface FastifyInstance {
    catalogue: {
      /** Public reads: on the read replica when there is one (see db/database.ts). */
      products: ProductRepository;
      categories: CategoryRepository;
      cursors: CursorCodec;
      /** The same on the primary, for writes and the reads that must see them. */
      primary: { products: ProductRepository; categories: CategoryRepository };
    };
  }
}

/** The catalogue's repositories, shared by its routes (and, later, by other capabilities). */
export const cataloguePlugin = fp<{ database: Database; cursorSecret: string }>(
  async (app, { database, cursorSecret }) => {
    const products = new ProductRepository({
      db: database.readDb,
      pool: database.readPool,
      pagePool: database.pagePool,
    });
    const categories = new CategoryRepository(database.readDb);
    app.decorate('catalogue', {
      products,
      categories,
      cursors: new CursorCodec(cursorSecret),
      // With one server, one set of repositories (and one cached category tree).
      primary: database.readUrl
        ? {
            // Product pages are public reads: the primary's repository only finds products.
            products: new ProductRepository({ db: database.db, pool: database.pool, pagePool: database.pool }),
            categories: new CategoryRepository(database.db),
          }
        : { products, categories },
    });
  },
  { name: 'catalogue' },
);
