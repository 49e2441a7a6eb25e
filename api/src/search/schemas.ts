import { Type, type Static } from 'typebox';
import { ListProductsQuery, ProductSummary } from '../catalogue/schemas.ts';
import { MATCH_CAP, MAX_PAGE, MAX_TOTAL_HITS, SAMPLE_RATE } from './limits.ts';

const cap = MATCH_CAP.toLocaleString('en');

/** The listing's sorts (less `updated`, which serves incremental sync), after relevance. */
export const SEARCH_SORTS = ['relevance', 'newest', 'price_asc', 'price_desc', 'name_asc'] as const;
export type SearchSort = (typeof SEARCH_SORTS)[number];

export const SearchQuery = Type.Object(
  {
    q: Type.Optional(
      Type.String({
        maxLength: 10_000,
        default: '',
        description:
          'What to search for. Words are matched in names, brands, categories and descriptions (in that order of weight), accents ignored; the last word also as the start of a word of a name, brand or category (search as you type); a mistyped word is corrected to the nearest catalogue word. Empty: every product the filters keep.',
      }),
    ),
    // The listing's filters, as GET /v1/products takes them.
    ...Type.Pick(ListProductsQuery, ['category', 'brand', 'min_price', 'max_price', 'in_stock']).properties,
    sort: Type.Optional(
      Type.Enum(SEARCH_SORTS, {
        default: 'relevance',
        description:
          "Relevance first (the default), or the listing's orders over every match: `newest`, `price_asc`, `price_desc`, `name_asc` (ties by id).",
      }),
    ),
    page: Type.Optional(Type.Integer({ minimum: 1, default: 1 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE, default: 24, description: 'Hits per page.' })),
  },
  { additionalProperties: false },
);

export const SearchHit = Type.Object(
  {
    // A product as it appears in a list, less its timestamps.
    ...Type.Omit(ProductSummary, ['created_at', 'updated_at']).properties,
    highlight: Type.Object({
      name: Type.String({ description: 'The name as HTML (escaped), the matched words in `<mark>`.' }),
    }),
  },
  { title: 'SearchHit' },
);

const FacetCount = Type.Integer({ minimum: 0 });

export const SearchResults = Type.Object(
  {
    engine: Type.Enum(['meilisearch', 'postgres'], { description: 'The engine that answered.' }),
    fallback: Type.Union([Type.Null(), Type.Enum(['meilisearch_unavailable', 'index_not_ready', 'index_behind'])], {
      description:
        'Why PostgreSQL answered although Meilisearch is configured: it failed or timed out (PostgreSQL answers for a few seconds, then Meilisearch is tried again), its index is still being built, or its index is further behind the database than MEILISEARCH_MAX_LAG_MS (the indexer failing, or catching up after a big import). Null otherwise.',
    }),
    freshness: Type.Object(
      {
        lag_ms: Type.Integer({
          minimum: 0,
          description:
            'How far the index is behind the database: the age of the oldest change Meilisearch does not have yet; 0 for PostgreSQL, which searches committed data.',
        }),
      },
      { description: 'How fresh the index is.' },
    ),
    query: Type.Object({
      q: Type.String(),
      words: Type.Array(Type.String(), { description: 'The words searched for, after corrections.' }),
      corrected: Type.Boolean({ description: 'A mistyped word was replaced by the nearest catalogue word.' }),
      relaxed: Type.Boolean({ description: 'No product had every word: these have some of them.' }),
    }),
    hits: Type.Array(SearchHit),
    page: Type.Integer({ minimum: 1 }),
    limit: Type.Integer({ minimum: 1 }),
    total: Type.Object({
      value: Type.Integer({ minimum: 0 }),
      exact: Type.Boolean({ description: `False: an estimate (more than ${cap} matches).` }),
    }),
    total_pages: Type.Integer({
      minimum: 0,
      description: `Pages reachable: relevance pages stop at ${MAX_TOTAL_HITS} hits.`,
    }),
    facets: Type.Object(
      {
        exact: Type.Boolean({
          description: `False: counted over a share of the matches (1 in ${SAMPLE_RATE}, or the first ${cap}) and scaled (estimates).`,
        }),
        category: Type.Array(Type.Object({ slug: Type.String(), name: Type.String(), count: FacetCount }), {
          description: 'The categories one level below the chosen one (or the departments).',
        }),
        brand: Type.Array(Type.Object({ name: Type.String(), count: FacetCount }), {
          description: 'The 20 brands with the most hits.',
        }),
        price: Type.Array(
          Type.Object({
            min: Type.Integer({ description: 'Inclusive, minor units.' }),
            max: Type.Union([Type.Integer(), Type.Null()], { description: 'Exclusive; null: no upper bound.' }),
            count: FacetCount,
          }),
        ),
        availability: Type.Object({ in_stock: FacetCount, out_of_stock: FacetCount }),
      },
      { description: 'Counts over the hits the filters keep.' },
    ),
  },
  { title: 'SearchResults' },
);

export type SearchHit = Static<typeof SearchHit>;
