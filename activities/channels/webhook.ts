/**
 * The webhook channel: a JSON POST of the full lead (with consent evidence),
 * shaped by the buyer's field mapping, signed per Standard Webhooks 1.0
 * (activities/channels/signing.ts: `webhook-id`, `webhook-timestamp`,
 * `webhook-signature`; the deprecated `X-Leadwire-Signature` too for buyers
 * still in their deprecation period), with `Idempotency-Key: <assignment id>`
 * (the same on every retry of one sale). docs/delivery.md has the receiver's
 * five lines with the stock library.
 */
import { applyFieldMapping } from '../../domain/delivery';
import type { Channel, DeliveryContext, Sent } from './channel';
import type { DeliveryConfig } from './config';
import { postJson } from './http-post';
import { messageIdOf, signedHeaders } from './signing';

export function webhookChannel(config: DeliveryConfig): Channel {
  return {
    name: 'webhook',
    configured: (buyer) => !!buyer.delivery.webhookUrl && !buyer.webhookPausedAt,
    async send({ payload, buyer }: DeliveryContext): Promise<Sent> {
      const body = JSON.stringify(applyFieldMapping(payload, buyer.delivery.fieldMapping));
      const messageId = messageIdOf(payload.assignmentId, 'webhook');
      const res = await postJson(
        buyer.delivery.webhookUrl!,
        body,
        { ...signedHeaders(buyer.signing, messageId, body), 'Idempotency-Key': payload.assignmentId },
        { timeoutMs: config.timeoutMs, allowlist: config.allowlist },
      );
      return { detail: `HTTP ${res.status}`, status: res.status, response: res.body, messageId };
    },
  };
}
