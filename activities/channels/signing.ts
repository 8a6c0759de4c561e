/**
 * Standard Webhooks 1.0 (https://www.standardwebhooks.com) for every webhook
 * Leadwire sends, signed with the maintained `standardwebhooks` library – the
 * same code a receiver verifies with:
 *
 *   webhook-id:        msg_<assignment id>[_<channel>]   the same on every retry and redelivery
 *   webhook-timestamp: <unix seconds of this attempt>
 *   webhook-signature: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">[ v1,<with the previous secret>]
 *
 * Secrets are `whsec_` + base64. A buyer's secret from before this format
 * (`whsec_` + hex) is still a valid Standard Webhooks secret as it stands –
 * hex digits are base64 characters – so no buyer has to change anything to
 * verify with the stock library. During a rotation's overlap window both the
 * new and the previous secret sign (two space-separated `v1,` signatures; a
 * verifier accepts either). Until a legacy buyer's deprecation date, or its
 * first rotation, the old `X-Leadwire-Signature` header is sent as well.
 */
import crypto from 'node:crypto';

import { Webhook } from 'standardwebhooks';

const LEGACY_SIGNATURE_HEADER = 'X-Leadwire-Signature';
/** How old a timestamp a receiver should still accept (the library's own tolerance, documented). */
const REPLAY_WINDOW_SECONDS = 300;
export { messageIdOf } from '../../domain/delivery';

/** The secrets a message is signed with now. */
export interface SigningKeys {
  current: string;
  /** The replaced secret, while its overlap window lasts. */
  previous: string | null;
  /** Also send the deprecated `X-Leadwire-Signature` (a buyer from before Standard Webhooks). */
  legacy: boolean;
}

/** The headers that sign `body` as message `id`, sent at `at`. */
export function signedHeaders(
  keys: SigningKeys,
  id: string,
  body: string,
  at: Date = new Date(),
): Record<string, string> {
  const secrets = [keys.current, ...(keys.previous ? [keys.previous] : [])];
  const headers: Record<string, string> = {
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': secrets.map((s) => new Webhook(s).sign(id, at, body)).join(' '),
  };
  if (keys.legacy)
    headers[LEGACY_SIGNATURE_HEADER] = legacySignatureHeader(keys.current, Math.floor(at.getTime() / 1000), body);
  return headers;
}

// ─── the deprecated format (until the deprecation date or the buyer's rotation) ───

/** `t=<unix seconds>,v1=<hex HMAC-SHA256(secret as text, "<t>.<body>")>`. */
function legacySignatureHeader(secret: string, timestamp: number, body: string): string {
  return `t=${timestamp},v1=${crypto.createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** A legacy receiver's check (tests and docs): valid, and fresh within the replay window. */
export function verifyLegacySignature(
  secret: string,
  header: string,
  body: string,
  nowSeconds = Math.floor(Date.now() / 1000),
): boolean {
  const parts = Object.fromEntries(header.split(',').map((p) => p.split('=', 2) as [string, string]));
  const t = Number(parts.t);
  if (!Number.isInteger(t) || !parts.v1 || Math.abs(nowSeconds - t) > REPLAY_WINDOW_SECONDS) return false;
  const expected = Buffer.from(legacySignatureHeader(secret, t, body).split('v1=')[1]!, 'hex');
  const given = Buffer.from(parts.v1, 'hex');
  return given.length === expected.length && crypto.timingSafeEqual(given, expected);
}
