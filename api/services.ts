/**
 * What the route handlers and the feed share within one API instance: the
 * process's database, bus and Temporal client, plus the instance's own
 * authenticator, claim relay, rate limits and metrics.
 */
import type http from 'node:http';

import type { Client } from '@temporalio/client';

import type { ClaimRelay } from '../claims/relay';
import type { Db } from '../db/connection';
import type { OfferBus } from '../db/offer-bus';
import type { MxChecker } from '../lib/mx';
import type { AccountMailer } from './account-mail';
import type { Authenticator } from './auth';
import type { Metrics } from './metrics';
import type { PingDesk } from './pings';
import type { ErrorLogger } from './problem';
import type { RateLimiter, TokenBuckets } from './rate-limit';
import type { SourceAccessCache } from './source-access';

export interface ApiServices {
  db: Db;
  bus: OfferBus;
  temporal: Client;
  taskQueue: string;
  /** Intake asks for eager workflow starts (a worker shares this process's Temporal connection). */
  eagerStart: boolean;
  auth: Authenticator;
  claims: ClaimRelay;
  metrics: Metrics;
  logger: ErrorLogger & { warn(message: string, meta?: unknown): void };
  /** The deadline of calls that wait on a workflow (claims, manual actions). */
  workflowTimeoutMs: number;
  /** A lead with the same phone or email (per service line) within this window is a duplicate; 0 = off. */
  duplicateWindowMs: number;
  /** Internal delivery targets allowed despite the SSRF rules; null = LW_WEBHOOK_ALLOWLIST. */
  webhookAllowlist: string | null;
  /** The client's address as every limit sees it: the socket's, or with `trust proxy` the forwarded one. */
  clientIp(req: http.IncomingMessage): string;
  /** A buyer's keys or status changed: every feed gateway re-checks that buyer's sockets at once. */
  accessChanged(agencyId: string, buyerId: string): Promise<void>;
  /** What each source key may post into, remembered for a second (api/source-access.ts). */
  sourceAccess: SourceAccessCache;
  /** Ping decisions and their records, built for bursts (api/pings.ts). */
  pings: PingDesk;
  /** Pings per source. */
  pingLimits: TokenBuckets;
  /** How long an accepted ping may be posted. */
  pingTtlMs: number;
  /** The MX look-up of intake's email check (LW_EMAIL_MX_CHECK); null: off. */
  mx: MxChecker | null;
  /** Wrong sign-in guesses, per address (`ip:<addr>`) and per account (`account:<email>`). */
  signInFailures: RateLimiter;
  /** Wrong second-factor codes per user (api/second-factor.ts). */
  secondFactorFailures: TokenBuckets;
  /** Account emails (setup, invitations, sign-in links, resets). */
  mailer: AccountMailer;
  /** The base URL of the pages, for links in emails and the allowed Origin of cookie requests (LW_PUBLIC_URL). */
  publicUrl: string | null;
}
