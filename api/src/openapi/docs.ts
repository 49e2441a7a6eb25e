import type { FastifySwaggerUiOptions } from '@fastify/swagger-ui';

/**
 * The one inline style Swagger UI writes: the `<style>` of its logo's SVG
 * (swagger-ui-standalone-preset.js), allowed by its hash. Another version of Swagger UI that
 * changes it fails the browser test (api/test/swagger-ui.test.ts) on the CSP violation.
 */
const LOGO_STYLE = "'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='";

/**
 * Swagger UI at /docs, its assets served by the API itself. Its page loads only scripts, styles
 * and images from this origin and calls only this API, so its Content-Security-Policy allows that
 * and nothing more (no inline script, no inline style but the logo's, no plugin, no framing, no
 * form). https://developer.mozilla.org/docs/Web/HTTP/Headers/Content-Security-Policy
 */
export const swaggerUiOptions: FastifySwaggerUiOptions = {
  routePrefix: '/docs',
  staticCSP: {
    'default-src': ["'none'"],
    'script-src': ["'self'"],
    'style-src': ["'self'", LOGO_STYLE],
    'img-src': ["'self'", 'data:'],
    'connect-src': ["'self'"],
    'base-uri': ["'none'"],
    'form-action': ["'none'"],
    'frame-ancestors': ["'none'"],
  },
};
