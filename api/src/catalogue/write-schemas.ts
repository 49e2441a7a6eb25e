import { Type, type Static } from 'typebox';
import { MAX_STOCK } from '../stock/schemas.ts';
import { MAX_PRICE } from './schemas.ts';

const NO_CONTROL = '^[^\\u0000-\\u001f\\u007f]*$';

/** A slug names a product in URLs; it holds a letter, so that digits alone always mean an id. */
export const ProductSlug = Type.String({
  minLength: 1,
  maxLength: 200,
  pattern: '^(?=[a-z0-9-]*[a-z])[a-z0-9]+(?:-[a-z0-9]+)*$',
  description: 'Lowercase letters, digits and single hyphens, with at least one letter.',
});

const fields = {
  sku: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9._/-]*$', description: 'Unique.' }),
  slug: ProductSlug,
  name: Type.String({ minLength: 1, maxLength: 200, pattern: NO_CONTROL }),
  description: Type.String({ maxLength: 20_000, pattern: '^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f]*$' }),
  brand: Type.Union([Type.String({ minLength: 1, maxLength: 100, pattern: NO_CONTROL }), Type.Null()]),
  category: Type.String({
    minLength: 1,
    maxLength: 200,
    pattern: '^[a-z0-9]+(?:-[a-z0-9]+)*$',
    description: 'The slug of the product’s category.',
  }),
  price: Type.Object(
    {
      amount: Type.Integer({ minimum: 0, maximum: MAX_PRICE, description: 'Minor units (cents).' }),
      currency: Type.String({ pattern: '^[A-Z]{3}$', description: 'ISO 4217.' }),
    },
    { additionalProperties: false },
  ),
  images: Type.Array(
    Type.Object(
      {
        url: Type.String({ minLength: 1, maxLength: 2000, pattern: '^(https?://|/)[^\\s]*$' }),
        alt: Type.String({ maxLength: 300, pattern: NO_CONTROL }),
      },
      { additionalProperties: false },
    ),
    { maxItems: 20 },
  ),
  attributes: Type.Record(
    Type.String({ minLength: 1, maxLength: 64, pattern: NO_CONTROL }),
    Type.Union([Type.String({ maxLength: 500, pattern: NO_CONTROL }), Type.Number(), Type.Boolean()]),
    { maxProperties: 50 },
  ),
  status: Type.Enum(['draft', 'active', 'archived']),
};

export const ProductCreate = Type.Object(
  {
    sku: fields.sku,
    slug: fields.slug,
    name: fields.name,
    description: Type.Optional(fields.description),
    brand: Type.Optional(fields.brand),
    category: fields.category,
    price: fields.price,
    images: Type.Optional(fields.images),
    attributes: Type.Optional(fields.attributes),
    status: Type.Optional({ ...fields.status, description: 'Default `draft`: not shown until made `active`.' }),
    stock: Type.Optional(
      Type.Integer({ minimum: 0, maximum: MAX_STOCK, description: 'Opening stock (a ledger row); default 0.' }),
    ),
  },
  { additionalProperties: false },
);

export const ProductPatch = Type.Object(
  {
    sku: Type.Optional(fields.sku),
    slug: Type.Optional(fields.slug),
    name: Type.Optional(fields.name),
    description: Type.Optional(fields.description),
    brand: Type.Optional(fields.brand),
    category: Type.Optional(fields.category),
    price: Type.Optional(fields.price),
    images: Type.Optional(fields.images),
    attributes: Type.Optional(fields.attributes),
    status: Type.Optional(fields.status),
  },
  {
    additionalProperties: false,
    minProperties: 1,
    description: 'The fields to change. Stock changes go through the stock endpoints (they keep the ledger).',
  },
);

export type ProductCreate = Static<typeof ProductCreate>;
export type ProductPatch = Static<typeof ProductPatch>;
