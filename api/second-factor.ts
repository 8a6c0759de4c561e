/**
 * The second factor's rules on the API side (#20): TOTP codes (RFC 6238 with
 * `otpauth`: SHA-1, 6 digits, 30 s steps, one step either side), recovery
 * codes, the per-user limit on wrong codes, and the WebAuthn relying party a
 * passkey ceremony is checked against. The routes (api/routes/two-factor.ts)
 * and the sign-in call these; the data layer (db/two-factor.ts) refuses replays.
 *
 * Wrong codes are limited per user, not per address: an attacker holding the
 * password gets a handful of guesses, then 429 for every attempt – right or
 * wrong – until the bucket refills, so the answer is never an oracle.
 */
import crypto from 'node:crypto';
import type http from 'node:http';

import * as OTPAuth from 'otpauth';

import { hashSecret, type UserRow } from '../db/accounts';
import { acceptTotpStep, consumeRecoveryCode, totpSeedOf } from '../db/two-factor';
import { rateLimited } from './auth';
import { Problem } from './problem';
import type { ApiServices } from './services';

const TOTP = { algorithm: 'SHA1', digits: 6, period: 30 } as const;
/** Steps accepted either side of now (clock drift). */
const TOTP_WINDOW = 1;
const ISSUER = 'Leadwire';
const RECOVERY_CODE_COUNT = 10;
/** How long a passkey ceremony's challenge waits for its answer. */
export const CHALLENGE_TTL_MS = 5 * 60_000;

/** A new TOTP seed (160 bits, base32: what an authenticator app is given). */
export const newTotpSeed = (): string => new OTPAuth.Secret({ size: 20 }).base32;

/** The otpauth:// URL an authenticator app scans. */
export function totpUrl(seedBase32: string, account: string): string {
  return new OTPAuth.TOTP({
    issuer: ISSUER,
    label: account,
    secret: OTPAuth.Secret.fromBase32(seedBase32),
    ...TOTP,
  }).toString();
}

/** The time step a code belongs to (now ±1 step), or null when it matches none. */
function totpStepOf(seedBase32: string, code: string, nowMs = Date.now()): number | null {
  const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(seedBase32), ...TOTP });
  const delta = totp.validate({ token: code, timestamp: nowMs, window: TOTP_WINDOW });
  return delta === null ? null : Math.floor(nowMs / 1000 / TOTP.period) + delta;
}

/** The code of a seed at a time (tests, and nothing else, generate codes). */
export const totpCodeAt = (seedBase32: string, nowMs: number): string =>
  new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(seedBase32), ...TOTP }).generate({ timestamp: nowMs });

/** Recovery codes are compared without case, spaces or dashes. */
const normaliseRecoveryCode = (code: string): string => code.toLowerCase().replace(/[\s-]/g, '');

/** Ten new recovery codes (`xxxxx-xxxxx`, 50 bits each) and the hashes to store. */
export function newRecoveryCodes(): { codes: string[]; hashes: string[] } {
  const alphabet = 'abcdefghjkmnpqrstuvwxyz23456789'; // no 0/o, 1/l/i
  const codes = Array.from({ length: RECOVERY_CODE_COUNT }, () => {
    const chars = Array.from({ length: 10 }, () => alphabet[crypto.randomInt(alphabet.length)]).join('');
    return `${chars.slice(0, 5)}-${chars.slice(5)}`;
  });
  return { codes, hashes: codes.map((c) => hashSecret(normaliseRecoveryCode(c))) };
}

/** 429 while the user has no guesses left (checked before any code is looked at). */
export function checkGuessesLeft(services: ApiServices, userId: string): void {
  const limits = services.secondFactorFailures;
  if (!limits.has(userId))
    throw rateLimited(limits.retryAfter(userId), 'Too many wrong codes for this account; wait and try again.');
}

/** A wrong code: uses up one of the user's guesses and answers 401 `second_factor_invalid`. */
export function wrongCode(
  services: ApiServices,
  userId: string,
  field: string,
  what = 'The code is not valid.',
): Problem {
  services.secondFactorFailures.take(userId);
  return new Problem(401, 'second_factor_invalid', what, {
    errors: [{ in: 'body', path: field, message: 'not accepted' }],
  });
}

/**
 * Checks a TOTP code of a user whose seed is stored (enabled, or awaiting
 * confirmation when `pending`) and accepts its step: a code is never accepted
 * twice. Throws 401 `second_factor_invalid` (counted) or 429.
 */
export async function verifyTotp(services: ApiServices, user: UserRow, code: string, field = 'code'): Promise<void> {
  checkGuessesLeft(services, user.id);
  const seed = totpSeedOf(user);
  const step = seed ? totpStepOf(seed, code) : null;
  if (step === null || !(await acceptTotpStep(services.db, user.id, step))) throw wrongCode(services, user.id, field);
}

/** The step of a code for a seed awaiting confirmation (counted when wrong). */
export function confirmStep(services: ApiServices, user: UserRow, code: string): number {
  checkGuessesLeft(services, user.id);
  const seed = totpSeedOf(user);
  const step = seed ? totpStepOf(seed, code) : null;
  if (step === null) throw wrongCode(services, user.id, 'code');
  return step;
}

/** Uses one of the user's recovery codes. Throws 401 `second_factor_invalid` (counted) or 429. */
export async function verifyRecoveryCode(services: ApiServices, user: UserRow, code: string): Promise<void> {
  checkGuessesLeft(services, user.id);
  if (!(await consumeRecoveryCode(services.db, user.id, normaliseRecoveryCode(code))))
    throw wrongCode(services, user.id, 'recoveryCode', 'The recovery code is not valid (each works once).');
}

// ─── WebAuthn ────────────────────────────────────────────────────────────────

/**
 * The relying party a ceremony is checked against: LW_PUBLIC_URL's origin and
 * host name when set, else the origin the request was addressed to.
 */
export function relyingParty(services: ApiServices, req: http.IncomingMessage): { rpID: string; origin: string } {
  if (services.publicUrl) {
    const u = new URL(services.publicUrl);
    return { rpID: u.hostname, origin: u.origin };
  }
  const encrypted = (req.socket as { encrypted?: boolean }).encrypted === true;
  const u = new URL(`${encrypted ? 'https' : 'http'}://${req.headers.host ?? 'localhost'}`);
  return { rpID: u.hostname, origin: u.origin };
}

/** The challenge an authenticator's answer echoes (clientDataJSON), or null for a malformed answer. */
export function challengeOfResponse(response: { response: { clientDataJSON: string } }): string | null {
  try {
    const data = JSON.parse(Buffer.from(response.response.clientDataJSON, 'base64url').toString('utf8')) as {
      challenge?: unknown;
    };
    return typeof data.challenge === 'string' && /^[A-Za-z0-9_-]{16,200}$/.test(data.challenge) ? data.challenge : null;
  } catch {
    return null;
  }
}
