import { env } from '$env/dynamic/private';
import createClient from 'openapi-fetch';
import type { paths } from './api-types';

/**
 * The storefront's only door to the catalogue: server-side, typed from openapi.yaml, so a
 * contract change that breaks the storefront breaks its type check first.
 */
export const apiBaseUrl = (env.API_URL ?? 'http://127.0.0.1:3001').replace(/\/$/, '');

export const api = createClient<paths>({ baseUrl: apiBaseUrl });

/**
 * The shopper's address, for the API's per-address rate limits: the API trusts it from the
 * storefront's address only (its TRUST_PROXY), so shoppers do not share one budget.
 */
export const forwardedFor = (address: string) => ({ 'x-forwarded-for': address });
