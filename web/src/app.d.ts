// See https://svelte.dev/docs/kit/types#app.d.ts
import type { Lang } from '$lib/i18n';

declare global {
  namespace App {
    interface Error {
      message: string;
      /** Where to start again when a page link went stale: the same listing without its cursor. */
      firstPage?: string;
    }
    interface Locals {
      lang: Lang;
    }
  }
}

export {};
