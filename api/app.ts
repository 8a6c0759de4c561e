/**
 * The HTTP API and the live feed of one process. `createApi` builds the
 * Express app from the route objects (api/routes/*) and returns it together
 * with `attachFeed`, which adds the WebSocket gateway to the http server:
 *
 *   const { app, attachFeed } = createApi(deps);
 *   const server = http.createServer(app);
 *   const feed = attachFeed(server);
 *   server.listen(PORT);
 *
 * Every request goes: auth (401/429) → the authorization table (403, api/authorization.ts) → JSON body (415/413/400) →
 * params, query and body validated by zod (400) → Idempotency-Key (creating
 * POSTs) → handler. Errors end as problem+json; nothing unexpected leaks.
 */
import fs from 'node:fs';
import type http from 'node:http';
import path from 'node:path';

import type { Client } from '@temporalio/client';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';

import { DecidedOffers } from '../claims/decided-offers';
import { ClaimRelay } from '../claims/relay';
import type { Db } from '../db/connection';
import { DncFilter, type DncFilterStats, useDncFilter } from '../db/dnc-filter';
import type { OfferBus } from '../db/offer-bus';
import { countOpenOffers } from '../db/offers';
import { warmContactChecks } from '../domain/contact-checks';
import { setting } from '../lib/config';
import { type MxChecker, mxFromSettings } from '../lib/mx';
import { logger as processLogger } from '../observability/logger';
import { type AccountMailer, smtpAccountMailer } from './account-mail';
import { buildAsyncApi } from './asyncapi';
import { Authenticator, type Principal } from './auth';
import { authorize } from './authorization';
import { attachFeedGateway, type FeedHandle } from './feed';
import type { FrameLimit } from './feed/frame-limit';
import { FEED_FRAME_LIMIT } from './feed-messages';
import { idempotencyKeyOf, requestHash, withIdempotency } from './idempotency';
import { boundInFlight, DEFAULT_IN_FLIGHT, type InFlightLimits } from './in-flight';
import { Metrics } from './metrics';
import { buildOpenApi, docsPage } from './openapi';
import { PingDesk } from './pings';
import { errorHandler, type ErrorLogger, Problem } from './problem';
import { type BucketOptions, type RateLimiter, TokenBuckets } from './rate-limit';
import { requestIds, requestLog, type RequestLogger, routeOf } from './request-log';
import { type AnyRoute, isRaw, isStream, type StreamReply } from './route';
import { accountRoutes } from './routes/account';
import { agencyRoutes } from './routes/agencies';
import { auditRoutes } from './routes/audit';
import { billingRoutes } from './routes/billing';
import { buyerSideRoutes } from './routes/buyer-side';
import { buyerRoutes } from './routes/buyers';
import { campaignRoutes } from './routes/campaigns';
import { checkoutRoutes } from './routes/checkout';
import { consentRoutes } from './routes/consent';
import { deliveryRoutes } from './routes/deliveries';
import { disputeRoutes } from './routes/disputes';
import { endpointRoutes } from './routes/endpoints';
import { erasureRoutes } from './routes/erasure';
import { exportRoutes } from './routes/exports';
import { keyRoutes } from './routes/keys';
import { leadRoutes } from './routes/leads';
import { meRoutes } from './routes/me';
import { offerRoutes } from './routes/offers';
import { opsRoutes } from './routes/ops';
import { refundRoutes } from './routes/refunds';
import { reportRoutes } from './routes/reports';
import { scrubRoutes } from './routes/scrubs';
import { sessionRoutes } from './routes/session';
import { sourceRoutes } from './routes/sources';
import { ssoRoutes } from './routes/sso';
import { statementRoutes } from './routes/statements';
import { stripeWebhookRoutes } from './routes/stripe-webhooks';
import { supplyRoutes } from './routes/supply';
import { suppressionRoutes } from './routes/suppression';
import { teamRoutes } from './routes/team';
import { twoFactorRoutes } from './routes/two-factor';
import type { ApiServices } from './services';
import type { SignedIn } from './sessions';
import { SharedTokenBuckets } from './shared-rate-limit';
import { SourceAccessCache } from './source-access';
import { parseWith } from './validate';

export interface ApiDeps {
  db: Db;
  bus: OfferBus;
  temporal: Client;
  taskQueue: string;
  /** A worker runs in this process on the client's NativeConnection: intake requests eager starts. */
  eagerStart?: boolean;
  rootToken: string;
  /** How long a claim (or a manual action) waits on its workflow before answering 503; default 10 s. */
  claimTimeoutMs?: number;
  /** Feed heartbeat; default 15 s. */
  feedPingIntervalMs?: number;
  /** Failed authentications per client IP, claims per key, pings per source. */
  rateLimits?: {
    authFailures?: BucketOptions;
    claims?: BucketOptions;
    pings?: BucketOptions;
    feedFrames?: FrameLimit;
    /** Wrong sign-in guesses per address and per account. */
    signInFailures?: BucketOptions;
    /** Wrong second-factor codes per user. */
    secondFactorFailures?: BucketOptions;
  };
  /** Share the rate limits with every API process on this database (Postgres; several processes). Default: per process. */
  sharedRateLimits?: boolean;
  /** How long an accepted ping may be posted; default 60 s (LW_PING_TTL_SECONDS). */
  pingTtlMs?: number;
  /**
   * The memo of decided offers (claims/decided-offers.ts): how many buyer ids it holds at most; 0 turns it off.
   * Default LW_CLAIM_MEMO_SIZE.
   */
  claimMemoSize?: number;
  /** The MX look-up of the email check; default from LW_EMAIL_MX_CHECK, LW_DNS_SERVERS and LW_DNS_TIMEOUT_MS; null: off. */
  mx?: MxChecker | null;
  /** A lead with the same phone or email (per service line) within this window is a duplicate; default 30 days, 0 = off. */
  duplicateWindowMs?: number;
  /** Internal hosts/IPs/CIDRs buyer webhooks may target (default: LW_WEBHOOK_ALLOWLIST). */
  webhookAllowlist?: string;
  logger?: ErrorLogger & { warn(message: string, meta?: unknown): void };
  /**
   * One structured line per request (method, route, status, ms, agency/buyer, offer or lead id, requestId,
   * trace_id) through pino-http (api/request-log.ts); none when absent.
   */
  requestLogger?: RequestLogger;
  /** Express's `trust proxy` (behind a load balancer: its hop count or addresses), so rate limits see client IPs. */
  trustProxy?: boolean | number | string;
  /** Requests in flight at once per connection and per API key (default 8 and 64). */
  inFlight?: Partial<InFlightLimits>;
  /** The built web pages (`npm run build:web`) served at `/`, `/admin` and `/source`; default web/dist; false: none. */
  webDir?: string | false;
  /** Account emails; default: SMTP_URL and LW_MAIL_FROM. */
  mailer?: AccountMailer;
  /** Base URL of the pages (links in emails, the allowed Origin); default LW_PUBLIC_URL. */
  publicUrl?: string | null;
  /**
   * The process's Bloom filter of the platform's Do-Not-Call lists (db/dnc-filter.ts), built in the background from
   * `db` (of this driver) when LW_DNC_FILTER is on: only probably listed phones are looked up. Absent or false: none.
   */
  dncFilter?: { driver: 'postgres' | 'pglite'; rebuildDelayMs?: number } | false;
}

export interface Api {
  app: express.Express;
  attachFeed(server: http.Server): FeedHandle;
  /** The route objects the app serves (and the OpenAPI document describes). */
  routes: readonly AnyRoute[];
  /** The OpenAPI document this app serves at /v1/openapi.json. */
  document(): Record<string, unknown>;
}

const BODY_LIMIT = '1mb'; // 1 MiB
const JSON_TYPES = ['application/json', 'application/*+json'];
const DEFAULT_AUTH_FAILURES: BucketOptions = { capacity: 20, refillPerSecond: 0.2 };
/**
 * Claims and bids per buyer key: a burst of 30, then 10 a second. On Postgres the bucket is shared by every API
 * process (api/shared-rate-limit.ts) and a key's burst up to the capacity is admitted whole (docs/operations.md).
 */
export const DEFAULT_CLAIMS: BucketOptions = { capacity: 30, refillPerSecond: 10 };
/** Wrong password guesses: 10 at once per address and per account, then one a minute. */
const DEFAULT_SIGN_IN_FAILURES: BucketOptions = { capacity: 10, refillPerSecond: 1 / 60 };
const DEFAULT_PINGS: BucketOptions = { capacity: 100, refillPerSecond: 50 };
/** Wrong second-factor codes per user: 5 guesses, then one more every minute. */
const DEFAULT_SECOND_FACTOR_FAILURES: BucketOptions = { capacity: 5, refillPerSecond: 1 / 60 };

export function createApi(deps: ApiDeps): Api {
  const logger = deps.logger ?? console;
  warmContactChecks(); // the phone metadata and the disposable list, before the first lead
  const db = deps.db;
  const limiter = (scope: string, options: BucketOptions): RateLimiter =>
    deps.sharedRateLimits
      ? new SharedTokenBuckets(db, scope, options, (err) =>
          logger.warn(`[api] shared rate limit ${scope} unreachable`, err),
        )
      : new TokenBuckets(options);
  const authFailures = limiter('auth_failures', deps.rateLimits?.authFailures ?? DEFAULT_AUTH_FAILURES);
  const claimLimits = limiter('claims', deps.rateLimits?.claims ?? DEFAULT_CLAIMS);
  const timeoutMs = deps.claimTimeoutMs ?? 10_000;
  const metrics = new Metrics();
  metrics.counter('leadwire_http_requests_total', 'HTTP requests by route, method and status', [
    'method',
    'route',
    'status',
  ]);
  metrics.histogram(
    'http_server_request_duration_seconds',
    'HTTP server request duration by method, route template (unmatched when none matched) and status',
    ['method', 'route', 'status'],
    HTTP_DURATION_BUCKETS,
  );
  metrics.counter('leadwire_claims_total', 'Claims by channel and answer', ['via', 'outcome']);
  metrics.histogram(
    'leadwire_claim_duration_seconds',
    'Claim answer latency, from the request to the answer, by channel and answer',
    ['via', 'outcome'],
  );
  metrics.counter('leadwire_feed_connections_total', 'Feed connections accepted');
  metrics.counter(
    'leadwire_feed_frames_total',
    "Frames from feed clients: handled, or dropped over the socket's frame limit",
    ['outcome'],
  );
  metrics.counter(
    'leadwire_feed_rate_limited_closes_total',
    'Feed sockets closed with 4429 for sending too many frames over their limit',
  );
  metrics.counter('leadwire_pings_total', 'Pings answered, by decision and rejection reason', ['decision', 'reason']);
  metrics.counter(
    'leadwire_ping_reads_total',
    "Reads of a campaign's buyers made for pings (the pings of a burst share one: pings ÷ reads)",
  );
  metrics.counter(
    'leadwire_feed_event_reads_total',
    'Bus events the feed gateway completed from the database: a target list by reference seen for the first time, or an event that came as ids only',
    ['what'],
  );
  metrics.histogram(
    'leadwire_feed_delivery_seconds',
    'Feed latency: offer event published on the bus to the frame handed to the socket',
    ['type'],
  );
  metrics.gauge('leadwire_offers_open', 'Offers open now (read from the database at scrape)', () =>
    countOpenOffers(db),
  );
  metrics.gauge(
    'leadwire_feed_bus_connected',
    "1 while the feed's event bus is listening (its Postgres LISTEN connection is up)",
    () => (deps.bus.state().connected ? 1 : 0),
  );
  metrics.counterFrom(
    'leadwire_feed_bus_reconnects_total',
    'Times the LISTEN connection was lost and replaced since start (each followed by a resync of every client)',
    () => deps.bus.state().reconnects,
  );

  metrics.counter(
    'leadwire_claim_memo_hits_total',
    "Claims on a decided offer answered from this process's memo of decided offers, without the database or the workflow",
    ['reason'],
  );
  // Filled from the bus every gateway already hears (the listener is dropped when the bus closes).
  const decidedOffers = new DecidedOffers(deps.claimMemoSize ?? setting('LW_CLAIM_MEMO_SIZE'));
  deps.bus.subscribe(decidedOffers.onBusEvent);
  metrics.gauge(
    'leadwire_claim_memo_offers',
    'Offers remembered decided by the memo of decided offers (the entries of open offers, waiting, are not counted)',
    () => decidedOffers.stats().decided,
  );

  if (deps.dncFilter && setting('LW_DNC_FILTER')) {
    const filter = new DncFilter(db, deps.dncFilter.driver, deps.bus, {
      maxBytes: setting('LW_DNC_FILTER_MAX_MB') * 1_048_576,
      rebuildDelayMs: deps.dncFilter.rebuildDelayMs,
      log: { info: (m) => processLogger.info({ component: 'dnc-filter' }, m), warn: (m, meta) => logger.warn(m, meta) },
    });
    useDncFilter(db, filter);
    filter.start();
    const stat = <K extends keyof DncFilterStats>(k: K) => filter.stats()[k];
    metrics.gauge(
      'leadwire_dnc_filter_ready',
      "1 while this process's Do-Not-Call filter answers look-ups (0: building, stale after a change or a bus loss, off)",
      () => (filter.state === 'ready' ? 1 : 0),
    );
    metrics.gauge('leadwire_dnc_filter_entries', 'Entries in the current Do-Not-Call filter', () => stat('entries'));
    metrics.gauge('leadwire_dnc_filter_bytes', "The Do-Not-Call filter's memory", () => stat('bytes'));
    metrics.gauge(
      'leadwire_dnc_filter_build_seconds',
      "The last build of the Do-Not-Call filter's duration",
      () => (stat('lastBuildMs') ?? 0) / 1000,
    );
    metrics.counterFrom('leadwire_dnc_filter_builds_total', 'Builds of the Do-Not-Call filter', () => stat('builds'));
    metrics.counterFrom(
      'leadwire_dnc_filter_screened_total',
      'Do-Not-Call look-ups the filter answered "not listed" without the database',
      () => stat('screened'),
    );
    metrics.counterFrom(
      'leadwire_dnc_filter_false_positives_total',
      'Do-Not-Call look-ups the filter let through that the database found on no list',
      () => stat('falsePositives'),
    );
    metrics.counterFrom(
      'leadwire_dnc_filter_invalidations_total',
      'Times the Do-Not-Call filter stopped answering (the lists changed, the bus lost its connection)',
      () => stat('invalidations'),
    );
  }

  const services: ApiServices = {
    db,
    bus: deps.bus,
    temporal: deps.temporal,
    taskQueue: deps.taskQueue,
    eagerStart: deps.eagerStart ?? false,
    auth: new Authenticator(db, deps.rootToken, authFailures),
    claims: new ClaimRelay({
      db,
      temporal: deps.temporal,
      timeoutMs,
      limiter: claimLimits,
      observe: (via, outcome, seconds) => {
        metrics.inc('leadwire_claims_total', { via, outcome });
        metrics.observe('leadwire_claim_duration_seconds', { via, outcome }, seconds);
      },
      decidedOffers: {
        offers: decidedOffers,
        hit: (reason) => metrics.inc('leadwire_claim_memo_hits_total', { reason }),
      },
      logger,
    }),
    metrics,
    logger,
    workflowTimeoutMs: timeoutMs,
    duplicateWindowMs: deps.duplicateWindowMs ?? 30 * 24 * 3_600_000,
    webhookAllowlist: deps.webhookAllowlist ?? null,
    clientIp: (req) => clientIp(req),
    accessChanged: async (agencyId, buyerId) => {
      try {
        await deps.bus.publish({ type: 'buyer.access', agencyId, buyerId });
      } catch (err) {
        // The change is committed; the feed's heartbeat re-check closes the sockets a little later.
        logger.warn(`[api] could not announce an access change of buyer ${buyerId}`, err);
      }
    },
    sourceAccess: new SourceAccessCache(db),
    pings: new PingDesk(db, () => metrics.inc('leadwire_ping_reads_total')),
    pingLimits: new TokenBuckets(deps.rateLimits?.pings ?? DEFAULT_PINGS),
    pingTtlMs: deps.pingTtlMs ?? 60_000,
    mx: deps.mx !== undefined ? deps.mx : mxFromSettings(),
    signInFailures: limiter('sign_in_failures', deps.rateLimits?.signInFailures ?? DEFAULT_SIGN_IN_FAILURES),
    secondFactorFailures: new TokenBuckets(deps.rateLimits?.secondFactorFailures ?? DEFAULT_SECOND_FACTOR_FAILURES),
    mailer: deps.mailer ?? smtpAccountMailer(setting('SMTP_URL'), setting('LW_MAIL_FROM')),
    publicUrl: deps.publicUrl !== undefined ? deps.publicUrl : setting('LW_PUBLIC_URL'),
  };

  let doc: Record<string, unknown> | null = null;
  let html: string | null = null;
  let asyncApi: Record<string, unknown> | null = null;
  const document = () => (doc ??= buildOpenApi(routes, { publicUrl: services.publicUrl }));
  const routes: AnyRoute[] = [
    ...sessionRoutes,
    ...accountRoutes,
    ...agencyRoutes,
    ...meRoutes,
    ...buyerRoutes,
    ...endpointRoutes,
    ...campaignRoutes,
    ...leadRoutes,
    ...offerRoutes,
    ...disputeRoutes,
    ...deliveryRoutes,
    ...buyerSideRoutes,
    ...billingRoutes,
    ...sourceRoutes,
    ...supplyRoutes,
    ...suppressionRoutes,
    ...consentRoutes,
    ...scrubRoutes,
    ...erasureRoutes,
    ...reportRoutes,
    ...exportRoutes,
    ...keyRoutes,
    ...ssoRoutes,
    ...stripeWebhookRoutes,
    // /v1/payments/settings before /v1/payments/:id
    ...checkoutRoutes,
    ...refundRoutes,
    ...statementRoutes,
    ...teamRoutes,
    ...twoFactorRoutes,
    ...auditRoutes,
    ...opsRoutes({
      json: () => document(),
      html: () => (html ??= docsPage(document())),
      asyncApi: () => (asyncApi ??= buildAsyncApi()),
    }),
  ];

  const app = express();
  const clientIp = clientAddress(app);
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');
  if (deps.trustProxy !== undefined) app.set('trust proxy', deps.trustProxy);
  // The OpenTelemetry server span comes from instrumentation-http and -express when tracing is on (observability/tracing.ts).
  app.use(requestIds());
  if (deps.requestLogger) app.use(requestLog(deps.requestLogger));
  app.use(baseHeaders(metrics));
  app.use('/v1', boundInFlight({ ...DEFAULT_IN_FLIGHT, ...deps.inFlight }));
  for (const route of routes) app[route.method](route.path, ...pipeline(route, services));
  const webDir = deps.webDir ?? defaultWebDir();
  if (webDir) app.use(webPages(webDir));
  app.use((req: Request, _res: Response, next: NextFunction) => {
    next(new Problem(404, 'route_not_found', `No route ${req.method} ${req.path.slice(0, 200)}.`));
  });
  app.use(errorHandler(logger));

  let feed: FeedHandle | null = null;
  return {
    app,
    routes,
    document,
    attachFeed(server) {
      if (feed) throw new Error('attachFeed: this API already serves a feed');
      feed = attachFeedGateway(server, services, {
        pingIntervalMs: deps.feedPingIntervalMs ?? 15_000,
        frameLimit: deps.rateLimits?.feedFrames ?? FEED_FRAME_LIMIT,
      });
      const handle = feed;
      metrics.gauge('leadwire_feed_connections_open', 'Open feed connections', () => handle.connections());
      return handle;
    },
  };
}

/**
 * The OpenTelemetry semantic conventions' advice for `http.server.request.duration`, in seconds: 5 ms to 10 s.
 */
const HTTP_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

/** nosniff, no caching of tenant data, and per route template a request counter and the duration histogram. */
function baseHeaders(metrics: Metrics): RequestHandler {
  return (req, res, next) => {
    const started = performance.now();
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Cache-Control', 'no-store');
    res.on('finish', () => {
      const labels = { method: req.method, route: routeOf(req), status: String(res.statusCode) };
      metrics.inc('leadwire_http_requests_total', labels);
      metrics.observe('http_server_request_duration_seconds', labels, (performance.now() - started) / 1000);
    });
    next();
  };
}

// ─── the web pages ───────────────────────────────────────────────────────────

const PAGE_CSP =
  "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/** web/dist next to the sources (tsx) or above the compiled dist/ (tsc). */
function defaultWebDir(): string {
  const candidates = [path.resolve(__dirname, '../web/dist'), path.resolve(__dirname, '../../web/dist')];
  return candidates.find((d) => fs.existsSync(path.dirname(d))) ?? candidates[0]!;
}

/**
 * The buyer's Live Leads (`/`, `/buyer`), the agency console (`/admin/…`) and
 * the source portal (`/source/…`):
 * static files from the build, and for any other GET outside /v1 the page's
 * HTML (client-side routes). /v1/… never reaches here as a page: unknown API
 * routes stay 404 problem+json, and so does everything when no build exists.
 */
function webPages(dir: string): RequestHandler {
  const files = express.static(dir, {
    index: false,
    redirect: false,
    dotfiles: 'ignore',
    setHeaders(res, file) {
      if (file.includes(`${path.sep}assets${path.sep}`))
        res.setHeader('Cache-Control', 'public, max-age=31536000, immutable');
      else if (file.endsWith('.html')) res.setHeader('Content-Security-Policy', PAGE_CSP);
    },
  });
  return (req, res, next) => {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || req.path === '/v1' || req.path.startsWith('/v1/'))
      return next();
    files(req, res, () => {
      const last = req.path.slice(req.path.lastIndexOf('/') + 1);
      if (last.includes('.')) return next(); // a missing file, not a page
      const under = (prefix: string) => req.path === prefix || req.path.startsWith(`${prefix}/`);
      const page = under('/admin') ? 'admin.html' : under('/source') ? 'source.html' : 'index.html';
      res.setHeader('Content-Security-Policy', PAGE_CSP);
      res.setHeader('Cache-Control', 'no-cache');
      res.sendFile(path.join(dir, page), (err) => {
        if (err && !res.headersSent) next();
      });
    });
  };
}

/**
 * The client's address for every limit, HTTP and the feed's upgrade alike:
 * the socket's peer, or, through the proxies `trust proxy` trusts, the
 * nearest untrusted address of X-Forwarded-For (Express's own rule for
 * `req.ip`, applied to a raw upgrade request too).
 */
function clientAddress(app: express.Express): (req: http.IncomingMessage) => string {
  return (req) => {
    const trust = app.get('trust proxy fn') as (addr: string, i: number) => boolean;
    const forwarded = String(req.headers['x-forwarded-for'] ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
      .reverse();
    const hops = [req.socket.remoteAddress ?? 'unknown', ...forwarded];
    let i = 0;
    while (i < hops.length - 1 && trust(hops[i]!, i)) i++;
    return hops[i]!;
  };
}

function pipeline(route: AnyRoute, services: ApiServices): RequestHandler[] {
  const chain: RequestHandler[] = [];
  if (route.session) {
    const stage = route.session;
    chain.push(async (req, res, next) => {
      if (req.headers.authorization)
        throw new Problem(403, 'session_required', 'This route is for a signed-in person; an API key cannot call it.');
      const signedIn = await services.auth.signedIn(req, services.publicUrl);
      if (!signedIn) throw new Problem(401, 'unauthorized', 'Sign in first.');
      if (stage === 'full' && signedIn.session.stage !== 'full')
        throw new Problem(401, 'second_factor_required', 'Finish signing in with your second factor.');
      res.locals.signedIn = signedIn;
      next();
    });
  } else if (route.roles.length) {
    chain.push(async (req, res, next) => {
      const principal = await services.auth.authenticate(req, services.clientIp(req), {
        publicUrl: services.publicUrl,
      });
      authorize(principal, route.operationId);
      res.locals.principal = principal;
      next();
    });
  }
  if (route.body && route.rawBody) {
    chain.push(requireJsonBody, express.raw({ limit: BODY_LIMIT, type: JSON_TYPES }), keepRawBody);
  } else if (route.body) {
    chain.push(requireJsonBody, express.json({ limit: BODY_LIMIT, type: JSON_TYPES, strict: true }));
  }
  chain.push(async (req, res) => {
    const params = parseWith(route.params, req.params, 'params');
    const query = parseWith(route.query, req.query ?? {}, 'query');
    const body = route.body ? parseWith(route.body, req.body ?? {}, 'body') : undefined;
    const principal = res.locals.principal as Principal | undefined;
    const idempotencyKey = route.idempotent ? idempotencyKeyOf(req.headers['idempotency-key']) : null;
    const run = () =>
      route.handler({
        principal: principal as never,
        signedIn: (res.locals.signedIn as SignedIn | undefined) ?? null,
        params,
        query,
        body,
        idempotencyKey,
        rawBody: (res.locals.rawBody as Buffer | undefined) ?? null,
        req,
        res,
        services,
      });

    const reply =
      route.idempotent && principal && principal.kind !== 'root'
        ? await withIdempotency(
            services.db,
            `${route.operationId}:${principal.agencyId}${principal.kind === 'source' ? `:${principal.sourceId}` : ''}`,
            idempotencyKey,
            requestHash({ params, body }),
            async () => {
              const r = await run();
              if (isRaw(r) || isStream(r)) throw new Error(`idempotent route ${route.operationId} answered raw`);
              return r;
            },
          )
        : await run();

    if (isStream(reply)) {
      await sendStream(res, reply);
      return;
    }
    for (const [k, v] of Object.entries(reply.headers ?? {})) res.setHeader(k, v);
    if (isRaw(reply)) {
      res.status(reply.status).type(reply.contentType).send(reply.raw);
    } else if (reply.body === undefined) {
      res.status(reply.status).end();
    } else {
      res.status(reply.status).json(reply.body);
    }
  });
  return chain;
}

/**
 * Writes a streamed body. The first chunk is produced before the headers go
 * out, so a failure there is still an ordinary problem answer; a failure
 * later cuts the connection (the client sees a truncated body, never a
 * complete-looking one). Waits for 'drain' whenever the socket's buffer is full.
 */
async function sendStream(res: Response, reply: StreamReply): Promise<void> {
  const it = reply.stream[Symbol.asyncIterator]();
  let next = await it.next();
  res.status(reply.status).type(reply.contentType);
  for (const [k, v] of Object.entries(reply.headers ?? {})) res.setHeader(k, v);
  try {
    while (!next.done) {
      if (res.destroyed) {
        await it.return?.();
        return;
      }
      if (!res.write(next.value))
        await new Promise<void>((resolve) => {
          const done = () => {
            res.off('drain', done);
            res.off('close', done);
            resolve();
          };
          res.on('drain', done);
          res.on('close', done);
        });
      next = await it.next();
    }
    res.end();
  } catch (err) {
    res.destroy(err instanceof Error ? err : new Error(String(err)));
  }
}

/** A body must be JSON; a body-less request passes (its fields are then reported missing, or it has none). */
/** A `rawBody` route: the bytes stay in res.locals for the handler, and `req.body` is their JSON for validation. */
const keepRawBody: RequestHandler = (req, res, next) => {
  const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
  res.locals.rawBody = raw;
  try {
    req.body = raw.length ? JSON.parse(raw.toString('utf8')) : {};
  } catch {
    next(new Problem(400, 'malformed_json', 'The request body is not valid JSON.'));
    return;
  }
  next();
};

const requireJsonBody: RequestHandler = (req, _res, next) => {
  const length = req.headers['content-length'];
  const hasBody = req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
  if (hasBody && !req.is(JSON_TYPES)) {
    next(new Problem(415, 'unsupported_media_type', 'Send the body as JSON with "Content-Type: application/json".'));
    return;
  }
  next();
};
