import fp from 'fastify-plugin';
import type { Db } from '../db/database.ts';
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
export const cataloguePlugin = fp<{ db: Db; cursorSecret: string }>(
  async (app, { db, cursorSecret }) => {
    app.decorate('catalogue', {
      products: new ProductRepository(db),
      categories: new CategoryRepository(db),
      cursors: new CursorCodec(cursorSecret),
    });
  },
  { name: 'catalogue' },
);
