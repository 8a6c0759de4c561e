/**
 * The building blocks of the API's zod schemas: storable strings (trimmed,
 * bounded, free of NUL characters and lone surrogates, which Postgres would
 * refuse), ids, money, ZIP codes, states, emails, URLs, times, pages. None of
 * them is a named component of the OpenAPI document: they are written inline
 * wherever a schema uses them (api/openapi-schemas.ts names the exports of
 * api/schemas.ts and api/routes/*.schemas.ts only).
 */
import { z } from 'zod';

import { PIPELINE_STATUSES } from '../domain/types';

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
// eslint-disable-next-line no-control-regex
const NUL = /\u0000/;
const storable = (s: string) => !NUL.test(s) && !LONE_SURROGATE.test(s);
const STORABLE = { message: 'must not contain NUL characters or unpaired surrogates' };
/** A trimmed, bounded, storable string. */
export const text = (max: number, min = 1) => z.string().trim().min(min).max(max).refine(storable, STORABLE);
/** Object keys that must never become property names of a plain object. */
export const RESERVED_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
export const recordKey = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .refine(storable, STORABLE)
    .refine((k) => !RESERVED_KEYS.has(k), { message: 'is a reserved name' });
export const Id = z.uuid();
export const int = (min: number, max: number) => z.number().int().min(min).max(max);
/** Money: integer credits. */
export const Credits = int(0, 1_000_000);
export const ServiceLineKey = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'lowercase letters, digits, "_" or "-", at most 64');
export const Zip = z.string().regex(/^(\d{3,5}|\d{5}-?\d{4})$/, 'a US ZIP code (5 digits, or ZIP+4)');
export const ZipPrefix = z.string().regex(/^\d{1,5}$/, 'a ZIP code or ZIP prefix (1 to 5 digits)');
export const State = z.string().regex(/^[A-Za-z]{2}$/, 'a two-letter state code');
export const Email = z.email().max(254).refine(storable, STORABLE);
export const HttpUrl = z
  .url({ protocol: /^https?$/, hostname: z.regexes.hostname })
  .max(2000)
  .refine(storable, STORABLE);
export const IsoTime = z.string().describe('ISO-8601 UTC time');
export const Nullable = <T extends z.ZodType>(t: T) => t.nullable();
export const StatusCounts = z.object(
  Object.fromEntries(PIPELINE_STATUSES.map((s) => [s, z.number().int()])) as Record<
    (typeof PIPELINE_STATUSES)[number],
    z.ZodNumber
  >,
);
export const list = <T extends z.ZodType>(key: string, item: T) =>
  z.object({ [key]: z.array(item), nextCursor: Nullable(z.string()) });
