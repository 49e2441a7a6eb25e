import { Type, type Static } from 'typebox';
import { DEFAULT_SORT, SORTS } from './sorts.ts';

export const MAX_PRICE = 2_147_483_647;

export const Slug = Type.String({
  minLength: 1,
  maxLength: 200,
  pattern: '^[a-z0-9]+(?:-[a-z0-9]+)*$',
  description: 'Lowercase letters, digits and single hyphens.',
});

const Timestamp = Type.String({ format: 'date-time' });

/** Free text in a parameter: no control characters (PostgreSQL text cannot even hold NUL). */
const PlainText = (options: { minLength?: number; maxLength: number }) =>
  Type.String({ ...options, pattern: '^[^\\u0000-\\u001f\\u007f]*$' });

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);

export const Money = Type.Object(
  {
    amount: Type.Integer({ minimum: 0, description: 'In minor units of the currency (cents for EUR).' }),
    currency: Type.String({ pattern: '^[A-Z]{3}$', description: 'ISO 4217 code.' }),
  },
  { title: 'Money' },
);

export const Image = Type.Object({ url: Type.String(), alt: Type.String() }, { title: 'Image' });

export const ProductSummary = Type.Object(
  {
    id: Type.Integer(),
    sku: Type.String(),
    slug: Type.String(),
    name: Type.String(),
    brand: Nullable(Type.String()),
    category_id: Type.Integer(),
    price: Money,
    image: Nullable(Image),
    stock: Type.Integer({ minimum: 0 }),
    in_stock: Type.Boolean(),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { title: 'ProductSummary', description: 'A product as it appears in a list.' },
);

export const CategoryRef = Type.Object(
  { id: Type.Integer(), slug: Type.String(), name: Type.String() },
  { title: 'CategoryRef' },
);

export const Product = Type.Object(
  {
    id: Type.Integer(),
    sku: Type.String(),
    slug: Type.String(),
    name: Type.String(),
    description: Type.String(),
    brand: Nullable(Type.String()),
    category: CategoryRef,
    breadcrumbs: Type.Array(CategoryRef, { description: 'From the root category down to the product’s own.' }),
    price: Money,
    images: Type.Array(Image),
    // Any name: a plain string key becomes the pattern `^.*$`, which the serializer matches names
    // against, and `.` stops at a line separator (U+2028): such an attribute was left out.
    attributes: Type.Record(
      Type.String({ pattern: '^[\\s\\S]*$' }),
      Type.Union([Type.String(), Type.Number(), Type.Boolean()]),
    ),
    stock: Type.Integer({ minimum: 0 }),
    in_stock: Type.Boolean(),
    status: Type.Enum(['draft', 'active', 'archived']),
    version: Type.Integer({ minimum: 1 }),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { title: 'Product' },
);

export const DEFAULT_LIMIT = 24;

export const ListProductsQuery = Type.Object(
  {
    limit: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 100, default: DEFAULT_LIMIT, description: 'Products per page.' }),
    ),
    cursor: Type.Optional(
      Type.String({
        minLength: 3,
        maxLength: 1024,
        pattern: '^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$',
        description: 'Opaque: a `next_cursor` or `prev_cursor` from a previous page of the same query.',
      }),
    ),
    sort: Type.Optional(
      Type.Enum(SORTS, {
        default: DEFAULT_SORT,
        description: '`updated` (oldest change first) with `updated_after` lets an integration sync incrementally.',
      }),
    ),
    category: Type.Optional({ ...Slug, description: 'A category slug; its descendants are included.' }),
    brand: Type.Optional(
      Type.Array(PlainText({ minLength: 1, maxLength: 100 }), {
        minItems: 1,
        maxItems: 20,
        description: 'One or more brands (repeat the parameter).',
      }),
    ),
    min_price: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_PRICE, description: 'Minor units, inclusive.' })),
    max_price: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_PRICE, description: 'Minor units, inclusive.' })),
    in_stock: Type.Optional(Type.Boolean({ description: '`true`: only products with stock; `false`: only without.' })),
    updated_after: Type.Optional({ ...Timestamp, description: 'Only products changed after this instant.' }),
  },
  { additionalProperties: false },
);
export type ListProductsQuery = Static<typeof ListProductsQuery>;

export const ProductPage = Type.Object(
  {
    data: Type.Array(ProductSummary),
    next_cursor: Nullable(Type.String()),
    prev_cursor: Nullable(Type.String()),
  },
  { title: 'ProductPage' },
);

export const ProductParams = Type.Object({
  idOrSlug: Type.String({
    minLength: 1,
    maxLength: 200,
    pattern: '^[a-z0-9]+(?:-[a-z0-9]+)*$',
    description: 'The numeric id or the slug.',
  }),
});

export const Category = Type.Object(
  {
    id: Type.Integer(),
    slug: Type.String(),
    name: Type.String(),
    parent_id: Nullable(Type.Integer()),
    depth: Type.Integer({ minimum: 0 }),
    product_count: Type.Integer({ minimum: 0, description: 'Active products here and in every descendant.' }),
  },
  { title: 'Category' },
);

export const CategoryList = Type.Object(
  { data: Type.Array(Category, { description: 'Depth-first: each category follows its parent.' }) },
  { title: 'CategoryList' },
);

export type ProductSummary = Static<typeof ProductSummary>;
export type Product = Static<typeof Product>;
