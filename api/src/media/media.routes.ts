import { createHash } from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { problemResponses } from '../http/responses.ts';

/**
 * Placeholder product images for the demo catalogue, drawn from their key: the demo needs no
 * internet and no image files. Real products carry their own image URLs.
 */
export function placeholderSvg(key: string): string {
  const digest = createHash('sha256').update(key).digest();
  const hue = (digest[0]! * 360) / 256;
  const accent = (hue + 40 + (digest[1]! % 80)) % 360;
  const shape = digest[2]! % 3;
  const figure =
    shape === 0
      ? `<circle cx="200" cy="200" r="${90 + (digest[3]! % 50)}" fill="hsl(${accent} 55% 55%)"/>`
      : shape === 1
        ? `<rect x="110" y="110" width="180" height="180" rx="${digest[3]! % 40}" fill="hsl(${accent} 55% 55%)"/>`
        : `<polygon points="200,90 310,300 90,300" fill="hsl(${accent} 55% 55%)"/>`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="400" height="400" viewBox="0 0 400 400"><rect width="400" height="400" fill="hsl(${hue} 45% 90%)"/>${figure}</svg>`;
}

export const mediaRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/media/placeholder/:key',
    {
      schema: {
        operationId: 'getPlaceholderImage',
        tags: ['media'],
        summary: 'A generated placeholder image (SVG) for the demo catalogue',
        description: 'The same key always draws the same image, so it is cached for a year.',
        params: Type.Object({ key: Type.String({ pattern: '^[a-z0-9-]{1,64}\\.svg$' }) }),
        response: {
          200: { description: 'An SVG image', content: { 'image/svg+xml': { schema: Type.String() } } },
          ...problemResponses(400),
        },
      },
    },
    async (request, reply) => {
      // The image is a pure function of its URL: cache it forever.
      reply.header('cache-control', 'public, max-age=31536000, immutable').type('image/svg+xml');
      return placeholderSvg(request.params.key.slice(0, -'.svg'.length));
    },
  );
};
