import adapter from '@sveltejs/adapter-node';
import { sveltekit } from '@sveltejs/kit/vite';
import { defineConfig } from 'vite';

export default defineConfig({
  plugins: [
    sveltekit({
      compilerOptions: {
        // Force runes mode for the project, except for libraries. Can be removed in svelte 6.
        runes: ({ filename }) => (filename.split(/[/\\]/).includes('node_modules') ? undefined : true),
      },
      adapter: adapter(),
      // SvelteKit 2 reads its configuration here (there is no svelte.config.js).
      // Cross-site form posts are refused (403) by SvelteKit's default `csrf.checkOrigin: true`:
      // the admin's stock forms rely on it (docs/security.md, "CSRF"). Keep it on.
      csp: {
        // Hashes rather than nonces: the storefront keeps a rendered page for a second and serves
        // it to every shopper asking (hooks.server.ts), and a hash still matches a kept page's
        // inline script where a nonce would be handed to many.
        mode: 'hash',
        directives: {
          'default-src': ['self'],
          'script-src': ['self'],
          'style-src': ['self'],
          // app.html's wrapper and SvelteKit's route announcer carry style attributes. An
          // attribute holds no selector, so an injected one cannot read the page.
          'style-src-attr': ['unsafe-inline'],
          // Product images may live on a CDN (the API accepts any https image URL).
          'img-src': ['self', 'https:'],
          'connect-src': ['self'],
          'font-src': ['self'],
          'object-src': ['none'],
          'base-uri': ['none'],
          'form-action': ['self'],
          'frame-ancestors': ['none'],
        },
      },
    }),
  ],
});
