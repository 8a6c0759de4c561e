/**
 * The schemas of the OpenAPI document as named components. Every exported zod
 * schema of api/schemas.ts (the shared ones) and of api/routes/*.schemas.ts
 * (each route module's own: request bodies, answers, the problem document, the
 * vocabularies such as reason codes) is registered once under its name – the
 * export's name, `FooSchema` as `Foo`, and each `Responses` answer by its key –
 * and zod's own converter (`z.toJSONSchema` over a registry) writes every one
 * as a component that the others and the operations reference with `$ref`, so
 * a client generated from the document gets named types.
 *
 * A schema reads differently as a request and as an answer when it has a
 * default (optional in, always there out) or is not strict: a component used
 * both ways whose two forms differ is written twice, `Foo` (the answer) and
 * `FooInput` (the request). A route's own unnamed schemas (a query, a one-off
 * body) are converted with the same registry and stay inline.
 */
import { z } from 'zod';

import * as account from './routes/account.schemas';
import * as agencies from './routes/agencies.schemas';
import * as audit from './routes/audit.schemas';
import * as billing from './routes/billing.schemas';
import * as buyerSide from './routes/buyer-side.schemas';
import * as buyers from './routes/buyers.schemas';
import * as campaigns from './routes/campaigns.schemas';
import * as checkout from './routes/checkout.schemas';
import * as consent from './routes/consent.schemas';
import * as deliveries from './routes/deliveries.schemas';
import * as disputes from './routes/disputes.schemas';
import * as endpoints from './routes/endpoints.schemas';
import * as erasure from './routes/erasure.schemas';
import * as exportRoutes from './routes/exports.schemas';
import * as keys from './routes/keys.schemas';
import * as leads from './routes/leads.schemas';
import * as me from './routes/me.schemas';
import * as offers from './routes/offers.schemas';
import * as ops from './routes/ops.schemas';
import * as refunds from './routes/refunds.schemas';
import * as reports from './routes/reports.schemas';
import * as scrubs from './routes/scrubs.schemas';
import * as session from './routes/session.schemas';
import * as sources from './routes/sources.schemas';
import * as sso from './routes/sso.schemas';
import * as statements from './routes/statements.schemas';
import * as stripeWebhooks from './routes/stripe-webhooks.schemas';
import * as supply from './routes/supply.schemas';
import * as suppression from './routes/suppression.schemas';
import * as team from './routes/team.schemas';
import * as twoFactor from './routes/two-factor.schemas';
import * as webhookEvents from './routes/webhook-events.schemas';
import * as shared from './schemas';

type Json = Record<string, unknown>;
type Io = 'input' | 'output';

const REF_PREFIX = '#/components/schemas/';

/**
 * The modules whose exported zod schemas are the named components: the shared
 * schemas and each route module's own. The building blocks (api/schema-blocks.ts)
 * are not among them: they are written inline.
 */
const SCHEMA_MODULES: Record<string, unknown>[] = [
  shared,
  account,
  agencies,
  audit,
  buyerSide,
  billing,
  buyers,
  campaigns,
  deliveries,
  disputes,
  endpoints,
  erasure,
  exportRoutes,
  keys,
  leads,
  me,
  offers,
  ops,
  refunds,
  reports,
  session,
  sources,
  sso,
  statements,
  stripeWebhooks,
  checkout,
  supply,
  scrubs,
  suppression,
  consent,
  team,
  twoFactor,
  webhookEvents,
];

/** Exports of those modules that are building blocks, not components. */
const NOT_COMPONENTS = new Set(['RequestId', 'TrackingId', 'NoQuery']);

/** Name → schema of every named component (queries and path parameters become parameters, not components). */
export function namedSchemas(): Map<string, z.ZodType> {
  const byName = new Map<string, z.ZodType>();
  const named = new Set<z.ZodType>();
  const add = (name: string, schema: z.ZodType) => {
    if (named.has(schema)) return; // e.g. Responses.BuyerStats is BuyerStatsView: one component
    if (byName.has(name)) throw new Error(`two schemas would be the component ${name}`);
    byName.set(name, schema);
    named.add(schema);
  };
  // Every module's exports in the order of their names (as one module's namespace lists them), then the answers.
  const exported = SCHEMA_MODULES.flatMap((m) => Object.entries(m)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [name, value] of exported) {
    if (!(value instanceof z.ZodType) || NOT_COMPONENTS.has(name) || /(Query|Params)$/.test(name)) continue;
    add(name.replace(/Schema$/, ''), value);
  }
  for (const m of SCHEMA_MODULES) {
    const responses = (m as { Responses?: Record<string, z.ZodType> }).Responses ?? {};
    for (const [name, value] of Object.entries(responses)) add(name, value);
  }
  return byName;
}

export interface SchemaUse {
  schema: z.ZodType;
  io: Io;
}

export interface DocumentSchemas {
  /** `components.schemas` of the document. */
  components: Record<string, Json>;
  /** A schema the document uses (one of the uses given): `$ref` to its component, or inline when unnamed. */
  of(schema: z.ZodType, io: Io): Json;
  /** The same, never a `$ref` at the top (parameters are read off a query's properties). */
  inline(schema: z.ZodType, io: Io): Json;
}

/** Every `$ref`'d component name in a JSON schema. */
function refsOf(json: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(json)) for (const item of json) refsOf(item, out);
  else if (json && typeof json === 'object') {
    for (const [key, value] of Object.entries(json)) {
      if (key === '$ref' && typeof value === 'string' && value.startsWith(REF_PREFIX))
        out.add(value.slice(REF_PREFIX.length));
      else refsOf(value, out);
    }
  }
  return out;
}

/** The ids reachable from `roots` through `$ref`s. */
function closure(roots: Iterable<string>, converted: Record<string, Json>): Set<string> {
  const seen = new Set<string>();
  const todo = [...roots];
  while (todo.length) {
    const id = todo.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    todo.push(...refsOf(converted[id]));
  }
  return seen;
}

/** The components and the schema of every use, from one registry holding the named schemas and the uses. */
export function documentSchemas(uses: SchemaUse[]): DocumentSchemas {
  const registry = z.registry<{ id: string }>();
  const names = namedSchemas();
  for (const [name, schema] of names) registry.add(schema, { id: name });
  const unnamed = new Set<string>();
  for (const { schema } of uses) {
    if (registry.has(schema)) continue;
    const id = `~${unnamed.size}`;
    registry.add(schema, { id });
    unnamed.add(id);
  }

  const convert = (io: Io, name: (id: string) => string): Record<string, Json> => {
    const { schemas: all } = z.toJSONSchema(registry, {
      io,
      uri: (id) => REF_PREFIX + name(id),
      unrepresentable: 'any',
      target: 'draft-2020-12',
    }) as { schemas: Record<string, Json> };
    if ('__shared' in all)
      throw new Error(
        'a schema is recursive or shared outside the registry: name it in api/schemas.ts or api/routes/<name>.schemas.ts',
      );
    return Object.fromEntries(Object.entries(all).map(([id, { $schema: _s, $id: _i, ...rest }]) => [id, rest]));
  };
  const idOf = (schema: z.ZodType) => registry.get(schema)!.id;

  const output = convert('output', (id) => id);
  const plainInput = convert('input', (id) => id);
  const usedOut = closure(
    uses.filter((u) => u.io === 'output').map((u) => idOf(u.schema)),
    output,
  );
  const usedIn = closure(
    uses.filter((u) => u.io === 'input').map((u) => idOf(u.schema)),
    plainInput,
  );
  for (const id of unnamed) {
    for (const converted of [output, plainInput]) {
      for (const other of Object.keys(converted)) {
        if (refsOf(converted[other]).has(id))
          throw new Error(
            `an unnamed schema of a route is also part of ${other}: name it in api/schemas.ts or api/routes/<name>.schemas.ts`,
          );
      }
    }
  }

  // Used both ways and different (or referring to one that is): written twice.
  const twice = new Set<string>();
  const both = [...usedIn].filter((id) => usedOut.has(id) && !unnamed.has(id));
  for (let grew = true; grew;) {
    grew = false;
    for (const id of both) {
      if (twice.has(id)) continue;
      const differs =
        JSON.stringify(output[id]) !== JSON.stringify(plainInput[id]) ||
        [...refsOf(plainInput[id])].some((r) => twice.has(r));
      if (differs) {
        twice.add(id);
        grew = true;
      }
    }
  }
  const input = twice.size ? convert('input', (id) => (twice.has(id) ? `${id}Input` : id)) : plainInput;

  const components: Record<string, Json> = {};
  for (const name of [...names.keys()].sort()) {
    components[name] = usedIn.has(name) && !usedOut.has(name) ? input[name]! : output[name]!;
    if (twice.has(name)) components[`${name}Input`] = input[name]!;
  }
  return {
    components,
    of(schema, io) {
      const id = idOf(schema);
      if (!unnamed.has(id)) return { $ref: REF_PREFIX + (io === 'input' && twice.has(id) ? `${id}Input` : id) };
      return (io === 'input' ? input : output)[id]!;
    },
    inline(schema, io) {
      return (io === 'input' ? input : output)[idOf(schema)]!;
    },
  };
}
