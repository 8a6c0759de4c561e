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
import { webhookBody } from '../../domain/webhook-events';
import type { Channel, DeliveryContext, Sent } from './channel';
import type { DeliveryConfig } from './config';
import { postJson } from './http-post';
import { messageIdOf, signedHeaders } from './signing';

export function webhookChannel(config: DeliveryConfig): Channel {
  return {
    name: 'webhook',
    configured: (buyer) => !!buyer.delivery.webhookUrl && !buyer.webhookPausedAt,
    async send({ payload, buyer }: DeliveryContext): Promise<Sent> {
      // The mapping shapes the delivery's own fields: the whole body on version 1, the envelope's data on version 2.
      const { fieldMapping, payloadVersion } = buyer.delivery;
      const { event: type, ...data } = payload;
      const body = JSON.stringify(
        webhookBody(payloadVersion, applyFieldMapping(payload, fieldMapping), () => ({
          type,
          timestamp: payload.soldAt,
          data: applyFieldMapping(data, fieldMapping),
        })),
      );
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
