/**
 * The events Leadwire sends to a buyer's webhook URL, and the two shapes of their bodies. Payload version 1 is
 * the first shape, kept for every receiver written against it: a delivery is the payload with `event` beside its
 * fields, an alert its fields with `type` and `at`. Version 2 is the one envelope Standard Webhooks recommends for
 * every event type, `{type, timestamp, data}`. A buyer keeps version 1 until it switches (its delivery settings'
 * `payloadVersion`); the signature (webhook-id, webhook-timestamp, webhook-signature) is the same for both.
 */
import type { WebhookPayloadVersion } from './types';

export type WebhookEventType = 'lead.delivered' | 'offer.opened' | 'balance.low' | 'recharge.failed';

/** Payload version 2's body: Standard Webhooks' envelope. */
export interface WebhookEnvelope {
  type: WebhookEventType;
  /** When the event happened (ISO-8601): the sale, the alert. */
  timestamp: string;
  data: Record<string, unknown>;
}

/** The body of one event for a receiver on this payload version: version 1's own shape as it stands (absent: 1), or the envelope. */
export function webhookBody(
  version: WebhookPayloadVersion | undefined,
  v1: Record<string, unknown>,
  envelope: () => WebhookEnvelope,
): Record<string, unknown> {
  return version === 2 ? { ...envelope() } : v1;
}
