/**
 * Examples for the OpenAPI document: a value for a JSON schema of the document,
 * built from the schema itself – its own `examples` first (the building blocks
 * in api/schema-blocks.ts carry one wherever a pattern or a format needs a real
 * value), then its `default`, `const` or first `enum` member, then a value of
 * its type within its bounds; objects get every property, arrays one item.
 * A route may give its own (`ResponseDoc.example`, `RouteSpec.bodyExample`).
 * test/api/openapi.test.ts validates every example against its schema.
 */
type Json = Record<string, unknown>;

const REF_PREFIX = '#/components/schemas/';

/** Values for string formats that carry no example of their own. */
const FORMATS: Record<string, string> = {
  uuid: '7c9e6679-7425-40de-944b-e07fc1f90ae7',
  'date-time': '2026-03-14T09:26:53.000Z',
  date: '2026-03-14',
  email: 'jane.doe@example.com',
  uri: 'https://example.com/leads',
  url: 'https://example.com/leads',
  ipv4: '192.0.2.10',
  ipv6: '2001:db8::10',
};

/**
 * Values for the patterns the schemas use (keyed by the pattern as the document writes it). A pattern missing here
 * makes an example its schema refuses, and the examples test names it.
 */
const PATTERNS: Record<string, string> = {
  '^\\d{6}$': '492039',
  '^[a-z_]+\\.[0-9a-f]{64}$': `lead_delivered.${'3f'.repeat(32)}`,
  '^\\d{4}-(0[1-9]|1[0-2])$': '2026-03',
  '^(sk_test_|sk_live_|rk_test_|rk_live_)[A-Za-z0-9_]{4,255}$': 'sk_test_51Example0000',
  '^\\+?[1-9]\\d{6,14}$': '+15551234567',
  '^[A-Za-z]{2}$': 'TX',
  '^[A-Za-z0-9_-]{20,100}$': 'q8vT3nS0pXw2Lm5Kd7Rb1Zc4',
  '^(\\d{3,5}|\\d{5}-?\\d{4})$': '75201',
  '^\\d{1,5}$': '752',
  '^[a-z]{3}$': 'usd',
  '^([01]\\d|2[0-3]):[0-5]\\d$|^24:00$': '09:00',
  '^[A-Za-z0-9 -]{10,14}$': 'K7QX-2M9D-WP4T',
  '^whsec_[A-Za-z0-9_]{4,255}$': 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
};

function stringExample(schema: Json): string {
  if (typeof schema.pattern === 'string' && PATTERNS[schema.pattern]) return PATTERNS[schema.pattern]!;
  const format = typeof schema.format === 'string' ? FORMATS[schema.format] : undefined;
  if (format) return format;
  const min = typeof schema.minLength === 'number' ? schema.minLength : 0;
  const max = typeof schema.maxLength === 'number' ? schema.maxLength : Infinity;
  const word = 'example';
  const s = word.length >= min ? word : word.padEnd(min, 'x');
  return s.slice(0, Math.max(min, Math.min(max, s.length)));
}

function numberExample(schema: Json): number {
  const integer = schema.type === 'integer';
  const min =
    typeof schema.minimum === 'number'
      ? schema.minimum
      : typeof schema.exclusiveMinimum === 'number'
        ? schema.exclusiveMinimum + (integer ? 1 : 0.5)
        : undefined;
  const max =
    typeof schema.maximum === 'number'
      ? schema.maximum
      : typeof schema.exclusiveMaximum === 'number'
        ? schema.exclusiveMaximum - (integer ? 1 : 0.5)
        : undefined;
  let n = min !== undefined && min > 1 ? min : max !== undefined && max < 1 ? max : 1;
  if (min !== undefined && n < min) n = min;
  if (typeof schema.multipleOf === 'number') n = Math.ceil(n / schema.multipleOf) * schema.multipleOf;
  return integer ? Math.round(n) : n;
}

/** An example value of `schema`, resolving `$ref`s in `components` (the document's `components.schemas`). */
export function exampleOf(schema: unknown, components: Record<string, Json>, depth = 0): unknown {
  if (!schema || typeof schema !== 'object') return null;
  const s = schema as Json;
  if (Array.isArray(s.examples) && s.examples.length) return s.examples[0];
  if ('example' in s) return s.example;
  if ('default' in s) return s.default;
  if ('const' in s) return s.const;
  if (Array.isArray(s.enum) && s.enum.length) return s.enum[0];
  if (typeof s.$ref === 'string') {
    const target = components[s.$ref.replace(REF_PREFIX, '')];
    return depth > 12 ? null : exampleOf(target, components, depth + 1);
  }
  for (const key of ['anyOf', 'oneOf'] as const) {
    if (Array.isArray(s[key])) {
      const options = s[key] as Json[];
      const pick = options.find((o) => o.type !== 'null') ?? options[0];
      return exampleOf(pick, components, depth + 1);
    }
  }
  if (Array.isArray(s.allOf))
    return Object.assign({}, ...(s.allOf as Json[]).map((part) => exampleOf(part, components, depth + 1)));
  const type = Array.isArray(s.type) ? (s.type as string[]).find((t) => t !== 'null') : s.type;
  switch (type) {
    case 'object': {
      const props = (s.properties ?? {}) as Record<string, Json>;
      const out: Json = {};
      for (const [name, prop] of Object.entries(props)) out[name] = exampleOf(prop, components, depth + 1);
      const extra = s.additionalProperties;
      const minProps = typeof s.minProperties === 'number' ? s.minProperties : 0;
      if (extra && typeof extra === 'object')
        for (const name of (s.required ?? []) as string[])
          if (!(name in out)) out[name] = exampleOf(extra, components, depth + 1);
      if (extra && typeof extra === 'object' && Object.keys(out).length < Math.max(1, minProps)) {
        const names = s.propertyNames as Json | undefined;
        const key = names ? String(exampleOf(names, components, depth + 1)) : 'key';
        out[key] = exampleOf(extra, components, depth + 1);
      }
      return out;
    }
    case 'array': {
      const min = typeof s.minItems === 'number' ? s.minItems : 1;
      const max = typeof s.maxItems === 'number' ? s.maxItems : Infinity;
      const count = Math.min(Math.max(min, 1), max);
      if (Array.isArray(s.prefixItems))
        return (s.prefixItems as Json[]).map((item) => exampleOf(item, components, depth + 1));
      const item = exampleOf(s.items, components, depth + 1);
      return Array.from({ length: count }, () => item);
    }
    case 'string':
      return stringExample(s);
    case 'integer':
    case 'number':
      return numberExample(s);
    case 'boolean':
      return true;
    case 'null':
      return null;
    default:
      return {};
  }
}
