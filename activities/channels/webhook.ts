/**
 * The webhook channel: a JSON POST of the full lead (with consent evidence),
 * shaped by the buyer's field mapping, signed with the buyer's secret:
 *
 *   X-Leadwire-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">
 *   Idempotency-Key: <assignment id>   (the same on every retry of one sale)
 *
 * Receivers recompute the HMAC over the raw body and refuse a timestamp more
 * than 5 minutes old (docs/delivery.md has the snippet).
 */
import crypto from 'node:crypto';
import { applyFieldMapping } from '../../domain/delivery';
import type { Channel, DeliveryContext, Sent } from './channel';
import type { DeliveryConfig } from './config';
import { postJson } from './http-post';

export const SIGNATURE_HEADER = 'X-Leadwire-Signature';
/** How old a signature a receiver should still accept (documented). */
export const REPLAY_WINDOW_SECONDS = 300;

export function signature(secret: string, timestamp: number, body: string): string {
  return crypto.createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

export function signatureHeader(secret: string, timestamp: number, body: string): string {
  return `t=${timestamp},v1=${signature(secret, timestamp, body)}`;
}

/** The receiver's side, also used by the tests: valid, and fresh within the replay window. */
export function verifySignature(secret: string, header: string, body: string, nowSeconds = Math.floor(Date.now() / 1000)): boolean {
  const parts = Object.fromEntries(header.split(',').map((p) => p.split('=', 2) as [string, string]));
  const t = Number(parts.t);
  if (!Number.isInteger(t) || !parts.v1 || Math.abs(nowSeconds - t) > REPLAY_WINDOW_SECONDS) return false;
  const expected = Buffer.from(signature(secret, t, body), 'hex');
  const given = Buffer.from(parts.v1, 'hex');
  return given.length === expected.length && crypto.timingSafeEqual(given, expected);
}

export function webhookChannel(config: DeliveryConfig): Channel {
  return {
    name: 'webhook',
    configured: (buyer) => !!buyer.delivery.webhookUrl,
    async send({ payload, buyer }: DeliveryContext): Promise<Sent> {
      const body = JSON.stringify(applyFieldMapping(payload, buyer.delivery.fieldMapping));
      const t = Math.floor(Date.now() / 1000);
      const res = await postJson(
        buyer.delivery.webhookUrl!,
        body,
        { [SIGNATURE_HEADER]: signatureHeader(buyer.webhookSecret, t, body), 'Idempotency-Key': payload.assignmentId },
        { timeoutMs: config.timeoutMs, allowlist: config.allowlist },
      );
      return { detail: `HTTP ${res.status}` };
    },
  };
}
