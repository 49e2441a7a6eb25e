import { Type, type Static } from 'typebox';
import { MAX_STOCK } from '../db/schema.ts';
import { MAX_PRICE } from './schemas.ts';

/**
 * Text: no control characters (PostgreSQL cannot even store NUL) nor lone surrogates (JSON can
 * write `"\\ud800"`, which is not Unicode: jsonb refuses it). Patterns are Unicode regular
 * expressions, where a character beyond U+FFFF is one, not a pair of surrogates.
 */
const NO_CONTROL = '^[^\\u0000-\\u001f\\u007f\\ud800-\\udfff]*$';
/** `__proto__` is refused by the JSON parser itself (prototype poisoning), wherever it is. */
const AttributeName = Type.String({ minLength: 1, maxLength: 64, pattern: NO_CONTROL, not: { const: '__proto__' } });

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
  // Tabs and line breaks are allowed here.
  description: Type.String({
    maxLength: 20_000,
    pattern: '^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f\\ud800-\\udfff]*$',
  }),
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
        // No spaces, and text as NO_CONTROL has it.
        url: Type.String({
          minLength: 1,
          maxLength: 2000,
          pattern: '^(https?://|/)[^\\s\\u0000-\\u001f\\u007f\\ud800-\\udfff]*$',
        }),
        alt: Type.String({ maxLength: 300, pattern: NO_CONTROL }),
      },
      { additionalProperties: false },
    ),
    { maxItems: 20 },
  ),
  // The key's schema only picks which keys the values' schema applies to (patternProperties): a
  // key outside it would be let through (NUL cannot be stored; a newline was lost from answers).
  // propertyNames holds every key to it.
  attributes: Type.Record(
    AttributeName,
    Type.Union([Type.String({ maxLength: 500, pattern: NO_CONTROL }), Type.Number(), Type.Boolean()]),
    { maxProperties: 50, propertyNames: AttributeName },
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
