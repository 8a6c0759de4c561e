/**
 * Every environment variable Leadwire's processes read, in one zod schema: its type, its default and
 * what it means. A process validates the whole environment once at start (`loadConfig` in
 * bin/runtime.ts): a bad value stops it with a message naming the variable and what was expected,
 * instead of silently falling back to a default. Modules that need one value read it through
 * `setting(name)`, which parses that variable by the same schema.
 *
 * `npm run config` prints the effective configuration with secrets masked; the README's
 * configuration table is generated from this file (`npm run config -- --readme`, checked by a test).
 */
import fs from 'node:fs';

import { z } from 'zod';

/** One variable: how its text is read, what it defaults to (as the README shows it), what it means. */
interface Setting<T> {
  /** Parses the variable's text; unset and empty both mean "not given". */
  parse: z.ZodType<T>;
  /** The value when unset. */
  fallback: T;
  /** The default as the README shows it. */
  shown: string;
  meaning: string;
  /** Printed masked by `npm run config` (a token or a URL's password). */
  secret?: 'value' | 'url-password';
}

const text = (expected: string) => z.string({ error: `expected ${expected}` });

/** A whole number in [min, max] written in decimal digits. */
function integer(min: number, max = Number.MAX_SAFE_INTEGER) {
  const expected = max === Number.MAX_SAFE_INTEGER ? `a whole number ≥ ${min}` : `a whole number ${min}–${max}`;
  return text(expected)
    .regex(/^\d+$/, { error: `expected ${expected}` })
    .transform(Number)
    .refine((n) => n >= min && n <= max, { error: `expected ${expected}` });
}

/** A positive decimal number (a coefficient). */
function positiveNumber() {
  return text('a positive number')
    .regex(/^\d+(\.\d+)?$/, { error: 'expected a positive number' })
    .transform(Number)
    .refine((n) => n > 0, { error: 'expected a positive number' });
}

function url(protocols: string[]) {
  const expected = `a URL (${protocols.map((p) => `${p}//`).join(' or ')})`;
  return text(expected).refine(
    (v) => {
      try {
        return protocols.includes(new URL(v).protocol);
      } catch {
        return false;
      }
    },
    { error: `expected ${expected}` },
  );
}

function oneOf<const T extends readonly [string, ...string[]]>(values: T, caseInsensitive = false) {
  const expected = `one of ${values.join(', ')}`;
  return text(expected)
    .transform((v) => (caseInsensitive ? v.toLowerCase() : v))
    .pipe(z.enum(values, { error: `expected ${expected}` }));
}

const anyText = text('text');

/** A file this process can read (a certificate, a key, a profile file). */
const readableFile = text('a readable file').refine(
  (p) => {
    try {
      fs.accessSync(p, fs.constants.R_OK);
      return fs.statSync(p).isFile();
    } catch {
      return false;
    }
  },
  { error: 'expected the path of a readable file' },
);

const bool = oneOf(['true', 'false'], true).transform((v) => v === 'true');

/** PEM text: a certificate or a key given inline. */
const pem = text('PEM text').regex(/-----BEGIN [A-Z ]+-----/, { error: 'expected PEM text (-----BEGIN …-----)' });

/** `host:port` (a Temporal frontend, a metrics bind address). */
const hostPort = text('host:port').regex(/^[^\s:]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/, {
  error: 'expected host:port',
});

/** `LW_TRUST_PROXY`: `true`/`false`, a hop count (`1`), or Express's list form (`loopback, 10.0.0.0/8`). */
const trustProxy = text('true, false, a hop count or addresses/subnets').transform((v): boolean | number | string =>
  v === 'true' || v === 'false' ? v === 'true' : /^\d+$/.test(v) ? Number(v) : v,
);

const declare = <T>(s: Setting<T>): Setting<T> => s;

/** Every variable, in the order the README lists them. */
export const SETTINGS = {
  PORT: declare({
    parse: integer(0, 65535),
    fallback: 3000,
    shown: '`3000`',
    meaning: 'HTTP port of the API, the feed and the web pages',
  }),
  DATABASE_URL: declare({
    parse: url(['postgres:', 'postgresql:']),
    fallback: null as string | null,
    shown: 'unset → PGlite in `$LW_DATA_DIR/pglite`',
    meaning: 'PostgreSQL connection string (production; required for several processes)',
    secret: 'url-password',
  }),
  DATABASE_POOL_SIZE: declare({
    parse: integer(1, 1000),
    fallback: 10,
    shown: '`10`',
    meaning: 'node-postgres pool size',
  }),
  TEMPORAL_ADDRESS: declare({
    parse: hostPort,
    fallback: null as string | null,
    shown: 'unset → `npm start` runs a dev server',
    meaning: 'an existing Temporal frontend, `host:port`',
  }),
  TEMPORAL_NAMESPACE: declare({
    parse: anyText,
    fallback: 'default',
    shown: '`default`',
    meaning: 'the Temporal namespace of the leads’ workflows',
  }),
  TEMPORAL_API_KEY: declare({
    parse: anyText,
    fallback: null as string | null,
    shown: 'unset',
    meaning:
      'a Temporal Cloud API key (turns TLS on); see [docs/operations.md](docs/operations.md#temporal-cloud-and-tls)',
    secret: 'value',
  }),
  TEMPORAL_TLS: declare({
    parse: bool,
    fallback: null as boolean | null,
    shown: 'unset → plain, or TLS with an API key or certificate',
    meaning:
      '`true` to reach the frontend over TLS (with the system’s roots unless a CA is given), `false` to force plain',
  }),
  TEMPORAL_TLS_SERVER_CA_CERT_PATH: declare({
    parse: readableFile,
    fallback: null as string | null,
    shown: 'unset → the system’s roots',
    meaning: 'the CA certificate (PEM) the frontend’s certificate must chain to (`…_DATA`: the PEM itself)',
  }),
  TEMPORAL_TLS_SERVER_CA_CERT_DATA: declare({
    parse: pem,
    fallback: null as string | null,
    shown: 'unset',
    meaning: 'the frontend’s CA certificate as PEM text, instead of a path',
  }),
  TEMPORAL_TLS_SERVER_NAME: declare({
    parse: anyText,
    fallback: null as string | null,
    shown: 'the address’s host',
    meaning: 'the name the frontend’s certificate must carry, when it is not the address’s host',
  }),
  TEMPORAL_TLS_CLIENT_CERT_PATH: declare({
    parse: readableFile,
    fallback: null as string | null,
    shown: 'unset',
    meaning: 'mTLS: this process’s client certificate (PEM), with `TEMPORAL_TLS_CLIENT_KEY_PATH`',
  }),
  TEMPORAL_TLS_CLIENT_KEY_PATH: declare({
    parse: readableFile,
    fallback: null as string | null,
    shown: 'unset',
    meaning: 'mTLS: the client certificate’s private key (PEM)',
  }),
  TEMPORAL_TLS_CLIENT_CERT_DATA: declare({
    parse: pem,
    fallback: null as string | null,
    shown: 'unset',
    meaning: 'mTLS: the client certificate as PEM text, instead of a path',
  }),
  TEMPORAL_TLS_CLIENT_KEY_DATA: declare({
    parse: pem,
    fallback: null as string | null,
    shown: 'unset',
    meaning: 'mTLS: the client key as PEM text, instead of a path',
    secret: 'value',
  }),
  TEMPORAL_CONFIG_FILE: declare({
    parse: readableFile,
    fallback: null as string | null,
    shown: 'unset → no file (with `TEMPORAL_PROFILE`: `~/.config/temporalio/temporal.toml`)',
    meaning: 'a Temporal client profile file (TOML), as the `temporal` CLI reads it; the variables above override it',
  }),
  TEMPORAL_PROFILE: declare({
    parse: anyText,
    fallback: null as string | null,
    shown: '`default`',
    meaning: 'the profile of that file to use (naming one also reads the default file)',
  }),
  TEMPORAL_CLI: declare({
    parse: anyText,
    fallback: null as string | null,
    shown: '–',
    meaning: 'path of a `temporal` binary to use instead of building one',
  }),
  LW_ROOT_TOKEN: declare({
    parse: text('a token of at least 16 characters').min(16, { error: 'expected a token of at least 16 characters' }),
    fallback: null as string | null,
    shown: 'generated on first start',
    meaning: 'the root token (creates agencies)',
    secret: 'value',
  }),
  LEADWIRE_MASTER_KEYS: declare({
    parse: text('id:base64[,id:base64…]').regex(
      /^[A-Za-z0-9_-]{1,32}:[A-Za-z0-9+/=]+(\s*,\s*[A-Za-z0-9_-]{1,32}:[A-Za-z0-9+/=]+)*$/,
      {
        error: 'expected id:base64[,id:base64…] (npm run -s keys:generate)',
      },
    ),
    fallback: null as string | null,
    shown: 'unset → a dev key generated into `$LW_DATA_DIR/master-keys`; **required** with `NODE_ENV=production`',
    meaning:
      'master key(s) sealing secrets at rest, `id:base64[,id:base64…]` (32 bytes each), the first current; see [docs/security.md](docs/security.md)',
    secret: 'value',
  }),
  NODE_ENV: declare({
    parse: anyText,
    fallback: null as string | null,
    shown: 'unset (the Docker image sets `production`)',
    meaning: '`production`: a process refuses to start without `LEADWIRE_MASTER_KEYS`',
  }),
  LW_DATA_DIR: declare({
    parse: anyText,
    fallback: '.data',
    shown: '`.data`',
    meaning: 'PGlite files, the dev server’s SQLite file, the generated root token and dev master key',
  }),
  LW_TASK_QUEUE: declare({
    parse: text('a task queue name').regex(/^\S+$/, { error: 'expected a task queue name without spaces' }),
    fallback: 'leadwire',
    shown: '`leadwire`',
    meaning: 'Temporal task queue of the worker',
  }),
  LW_TRUST_PROXY: declare({
    parse: trustProxy,
    fallback: undefined as boolean | number | string | undefined,
    shown: 'unset (trust no proxy)',
    meaning:
      'behind a load balancer: `1` (its hop count), `true`, or addresses/subnets (`loopback, 10.0.0.0/8`); the rate limits of the API and the feed then key on the forwarded client address',
  }),
  LW_MAX_IN_FLIGHT_PER_CONNECTION: declare({
    parse: integer(1),
    fallback: 8,
    shown: '`8`',
    meaning: 'requests one connection may have in flight (pipelining); more get 429 `too_many_in_flight`',
  }),
  LW_MAX_IN_FLIGHT_PER_KEY: declare({
    parse: integer(1),
    fallback: 64,
    shown: '`64`',
    meaning: 'requests one API key may have in flight across connections',
  }),
  LW_IDEMPOTENCY_TTL_HOURS: declare({
    parse: integer(1),
    fallback: 24,
    shown: '`24`',
    meaning:
      'how long an `Idempotency-Key` answer is remembered; the `expire-records` job (every minute) purges older records, after which the key is a new request',
  }),
  LW_PGLITE_PORT: declare({
    parse: integer(0, 65535),
    fallback: 0,
    shown: 'a free port',
    meaning: '`npm start` on PGlite: the 127.0.0.1 port PGlite is served on (printed, and in `.data/stack.json`)',
  }),
  LW_MAX_CACHED_WORKFLOWS: declare({
    parse: integer(1),
    fallback: 2000,
    shown: '`2000`',
    meaning:
      'open leads a worker keeps in memory (about 0.3 MB each); the rest are replayed from their short history when they next act',
  }),
  LW_PUBLIC_URL: declare({
    parse: url(['http:', 'https:']),
    fallback: null as string | null,
    shown: '`http://localhost:$PORT`',
    meaning:
      "base of the claim links in offer alerts (`<url>/?offer=<id>` opens Live Leads on the offer) and the OpenAPI document's `servers`",
  }),
  LW_STRIPE_API_BASE: declare({
    parse: url(['http:', 'https:']),
    fallback: 'https://api.stripe.com',
    shown: '`https://api.stripe.com`',
    meaning:
      "Stripe's API base for every agency's payments (docs/payments.md); tests point it at stripe-mock. Not a secret: each agency's own key is stored sealed",
  }),
  LW_STRIPE_WEBHOOK_TOLERANCE_SECONDS: declare({
    parse: integer(1, 3600),
    fallback: 300,
    shown: '`300`',
    meaning: "how old a Stripe webhook's signed timestamp may be before it is refused as a replay",
  }),
  LW_PING_TTL_SECONDS: declare({
    parse: integer(1),
    fallback: 60,
    shown: '`60`',
    meaning: 'how long an accepted ping may be posted (docs/sources.md)',
  }),
  LW_CLAIM_MEMO_SIZE: declare({
    parse: integer(0),
    fallback: 200_000,
    shown: '`200000`',
    meaning:
      "how many buyer ids (targets, winners and claimants of the offers it remembers) each API process's memo of decided offers holds; a loser's claim on a remembered offer is answered without the database (docs/distribution.md); 0 turns it off",
  }),
  LW_DNC_FILTER: declare({
    parse: bool,
    fallback: true,
    shown: '`true`',
    meaning:
      "`true`: each API process keeps a Bloom filter of the platform's Do-Not-Call lists (1 % false positives, sized with a quarter's headroom: about 1.5 bytes per listed number, 15 MB for 10 million), so that only a probably listed phone is looked up in the database; rebuilt after every change of the lists (docs/compliance.md). `false`: every look-up reads the database",
  }),
  LW_DNC_FILTER_MAX_MB: declare({
    parse: integer(1),
    fallback: 64,
    shown: '`64`',
    meaning:
      'the most memory the Do-Not-Call filter may take in each API process (64 MB: about 43 million listed numbers); lists that would need more are looked up in the database only',
  }),
  LW_EMAIL_MX_CHECK: declare({
    parse: bool,
    fallback: false,
    shown: '`false`',
    meaning:
      "`true`: intake looks up the MX records of each email's domain (a domain with no mail server is `invalid_email`; a DNS failure is `unverified` and never blocks), docs/compliance.md",
  }),
  LW_DNS_SERVERS: declare({
    parse: text('addresses').regex(/^[^\s,]+(,[^\s,]+)*$/, {
      error: 'expected comma-separated addresses (ip or ip:port)',
    }),
    fallback: null as string | null,
    shown: "the system's",
    meaning: 'the resolvers the MX check asks, comma-separated `ip` or `ip:port` (`[v6]:port`)',
  }),
  LW_DNS_TIMEOUT_MS: declare({
    parse: integer(1, 10_000),
    fallback: 300,
    shown: '`300`',
    meaning: 'how long the MX check waits for DNS before it records `unverified` and lets the lead in',
  }),
  SMTP_URL: declare({
    parse: url(['smtp:', 'smtps:']),
    fallback: null as string | null,
    shown: 'unset → no email channel',
    meaning: 'SMTP server of the email channel (`smtp://user:pass@host:587`), see docs/delivery.md',
    secret: 'url-password',
  }),
  LW_MAIL_FROM: declare({
    parse: anyText,
    fallback: 'Leadwire <leads@leadwire.invalid>',
    shown: '`Leadwire <leads@leadwire.invalid>`',
    meaning: 'sender address of lead emails',
  }),
  LW_SMS_PROVIDER_URL: declare({
    parse: url(['http:', 'https:']),
    fallback: null as string | null,
    shown: 'unset → no SMS channel',
    meaning: 'the messaging provider’s webhook for SMS',
  }),
  LW_VOICE_PROVIDER_URL: declare({
    parse: url(['http:', 'https:']),
    fallback: null as string | null,
    shown: 'unset → no voice channel',
    meaning: 'the messaging provider’s webhook for voice calls',
  }),
  LW_PROVIDER_TOKEN: declare({
    parse: anyText,
    fallback: null as string | null,
    shown: 'unset',
    meaning: 'sent as `Authorization: Bearer` to the messaging provider',
    secret: 'value',
  }),
  LW_PROVIDER_WEBHOOK_SECRET: declare({
    parse: text('a whsec_… secret').regex(/^whsec_/, { error: 'expected a whsec_… secret' }),
    fallback: null as string | null,
    shown: 'unset',
    meaning: '`whsec_…`: signs the posts to the messaging provider per Standard Webhooks',
    secret: 'value',
  }),
  LW_WEBHOOK_ALLOWLIST: declare({
    parse: anyText,
    fallback: null as string | null,
    shown: 'none',
    meaning: 'internal hosts, IPs or CIDRs that deliveries may reach (docs/delivery.md)',
  }),
  LW_WEBHOOK_TIMEOUT_MS: declare({
    parse: integer(1),
    fallback: 10_000,
    shown: '`10000`',
    meaning: 'one delivery attempt’s limit, in milliseconds',
  }),
  LW_DELIVERY_MAX_ATTEMPTS: declare({
    parse: integer(1),
    fallback: 12,
    shown: '`12`',
    meaning: 'delivery attempts per channel and sale',
  }),
  LW_DELIVERY_INITIAL_INTERVAL_MS: declare({
    parse: integer(1),
    fallback: 10_000,
    shown: '`10000`',
    meaning: 'the first wait between delivery attempts (±20 % jitter; a `Retry-After` wins)',
  }),
  LW_DELIVERY_MAX_INTERVAL_MS: declare({
    parse: integer(1),
    fallback: 4 * 3_600_000,
    shown: '`14400000` (4 h)',
    meaning: 'the longest wait between delivery attempts',
  }),
  LW_DELIVERY_BACKOFF: declare({
    parse: positiveNumber(),
    fallback: 3,
    shown: '`3`',
    meaning: 'the factor between successive delivery waits',
  }),
  LOG_LEVEL: declare({
    parse: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], true),
    fallback: null as string | null,
    shown: '`info`',
    meaning: 'the JSON logs’ level (docs/operations.md)',
  }),
  LW_SERVICE: declare({
    parse: anyText,
    fallback: null as string | null,
    shown: 'unset',
    meaning: 'a `service` field on every log line (and the traces’ service name)',
  }),
  LW_TEMPORAL_LOG_LEVEL: declare({
    parse: oneOf(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'] as const).or(
      oneOf(['trace', 'debug', 'info', 'warn', 'error'] as const).transform((v) => v.toUpperCase()),
    ),
    fallback: 'WARN',
    shown: '`WARN`',
    meaning: 'the Temporal SDK’s logs passed on to the JSON logs from this level up',
  }),
  LW_TEMPORAL_SDK_METRICS_ADDRESS: declare({
    parse: hostPort,
    fallback: null as string | null,
    shown: 'unset',
    meaning: 'serves the Temporal SDK’s own Prometheus metrics at this `host:port`',
  }),
  LW_WORKER_METRICS_PORT: declare({
    parse: integer(0, 65535),
    fallback: 0,
    shown: 'unset → none',
    meaning:
      'port of the worker’s `/metrics`, `/healthz` and `/readyz` (polling, database, last activity); the API serves its own on `PORT`',
  }),
  OTEL_TRACES_EXPORTER: declare({
    parse: anyText,
    fallback: null as string | null,
    shown: 'unset → no tracing',
    meaning:
      'OpenTelemetry traces (`otlp` or `console`; `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_SERVICE_NAME`, `OTEL_SDK_DISABLED` and the other `OTEL_*` variables are read by the OpenTelemetry SDK), see [docs/operations.md](docs/operations.md#tracing-opentelemetry)',
  }),
} as const;

export type SettingName = keyof typeof SETTINGS;
type ValueOf<N extends SettingName> = (typeof SETTINGS)[N]['fallback'];
export type Config = { readonly [N in SettingName]: ValueOf<N> };

/** One or more variables have a value their schema refuses. */
export class ConfigError extends Error {
  constructor(readonly problems: { name: string; value: string; expected: string }[]) {
    super(
      `Invalid configuration:\n${problems.map((p) => `  ${p.name}=${JSON.stringify(p.value)}: ${p.expected}`).join('\n')}`,
    );
    this.name = 'ConfigError';
  }
}

function parseOne<N extends SettingName>(
  name: N,
  env: NodeJS.ProcessEnv,
): { ok: true; value: ValueOf<N> } | { ok: false; problem: ConfigError['problems'][number] } {
  const s = SETTINGS[name] as Setting<ValueOf<N>>;
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return { ok: true, value: s.fallback };
  const result = s.parse.safeParse(raw);
  if (result.success) return { ok: true, value: result.data };
  return { ok: false, problem: { name, value: raw, expected: result.error.issues[0]?.message ?? 'invalid' } };
}

/** The whole configuration; throws a ConfigError naming every bad variable. */
export function readConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const config: Record<string, unknown> = {};
  const problems: ConfigError['problems'] = [];
  for (const name of Object.keys(SETTINGS) as SettingName[]) {
    const r = parseOne(name, env);
    if (r.ok) config[name] = r.value;
    else problems.push(r.problem);
  }
  if (problems.length) throw new ConfigError(problems);
  return config as Config;
}

/** One variable, parsed by its schema (throws a ConfigError when it is bad). */
export function setting<N extends SettingName>(name: N, env: NodeJS.ProcessEnv = process.env): ValueOf<N> {
  const r = parseOne(name, env);
  if (!r.ok) throw new ConfigError([r.problem]);
  return r.value;
}

function mask(value: unknown, secret: Setting<unknown>['secret']): string {
  if (value === null || value === undefined) return '';
  const s = String(value);
  if (secret === 'value') return '********';
  if (secret === 'url-password') {
    try {
      const u = new URL(s);
      if (u.password) u.password = '********';
      return u.toString();
    } catch {
      return '********';
    }
  }
  return s;
}

/** The effective configuration as `npm run config` prints it: each variable, its value (secrets masked), its source. */
export function describeConfig(env: NodeJS.ProcessEnv = process.env): string {
  const config = readConfig(env);
  const rows = (Object.keys(SETTINGS) as SettingName[]).map((name) => {
    const given = (env[name]?.trim() ?? '') !== '';
    const value = config[name];
    const shown =
      value === null || value === undefined ? `(unset: ${SETTINGS[name].shown})` : mask(value, SETTINGS[name].secret);
    return [name, shown, given ? 'environment' : 'default'] as const;
  });
  const width = Math.max(...rows.map((r) => r[0].length));
  return rows.map(([name, value, source]) => `${name.padEnd(width)}  ${value}   [${source}]`).join('\n');
}

/** The README's configuration table, generated from the schema. */
export function configTable(): string {
  const lines = ['| variable | default | meaning |', '| --- | --- | --- |'];
  for (const [name, s] of Object.entries(SETTINGS) as [SettingName, Setting<unknown>][])
    lines.push(`| \`${name}\` | ${s.shown} | ${s.meaning} |`);
  return lines.join('\n');
}
