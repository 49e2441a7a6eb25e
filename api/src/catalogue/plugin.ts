import fp from 'fastify-plugin';
import type { Database } from '../db/database.ts';
import { CursorCodec } from '../pagination/cursor.ts';
import { CategoryRepository } from './category-tree.ts';
import { ProductRepository } from './products-repository.ts';

declare module 'fastify' {
  interface FastifyInstance {
    catalogue: {
      products: ProductRepository;
      categories: CategoryRepository;
      cursors: CursorCodec;
    };
  }
}

/** The catalogue's repositories, shared by its routes (and, later, by other capabilities). */
export const cataloguePlugin = fp<{ database: Database; cursorSecret: string }>(
  async (app, { database, cursorSecret }) => {
    app.decorate('catalogue', {
      products: new ProductRepository(database),
      categories: new CategoryRepository(database.db),
      cursors: new CursorCodec(cursorSecret),
    });
  },
  { name: 'catalogue' },
);
