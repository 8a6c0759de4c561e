/**
 * The bodies of the webhooks Leadwire sends to buyers (domain/webhook-events.ts), for the OpenAPI document's
 * `webhooks` section: each event in payload version 1 (its first shape) and 2 (`{type, timestamp, data}`).
 * The delivery's fields are shown before the buyer's field mapping, which may rename, add or omit them.
 */
import { z } from 'zod';

import type { WebhookEventType } from '../../domain/webhook-events';
import { Id, IsoTime } from '../schema-blocks';
import { FullLead } from '../schemas';

const LeadDeliveredData = z.object({
  assignmentId: Id,
  leadId: Id,
  offerId: Id,
  buyerId: Id,
  price: z.number().int().describe('credits charged'),
  soldAt: IsoTime,
  lead: FullLead,
  consent: FullLead.shape.consent.unwrap().nullable(),
});
const OfferOpenedData = z.object({
  offer: z.object({
    id: Id,
    preview: z.record(z.string(), z.unknown()).describe("the campaign's preview fields"),
    price: z.number().int(),
    closesAt: IsoTime,
    secondsLeft: z.number().int(),
    claimUrl: z.string().describe('the Live Leads page, on this offer'),
  }),
});
const BalanceLowData = z.object({
  balance: z.number().int(),
  threshold: z.number().int().describe("the buyer's alert threshold"),
});
const RechargeFailedData = z.object({
  paymentId: Id.nullable(),
  code: z.string().nullable().describe("Stripe's decline code (`card_declined`, `authentication_required`, …)"),
  message: z.string().nullable(),
  failures: z.number().int().describe('failed attempts in a row'),
  paused: z.boolean().describe('auto-recharge is paused after the agency limit of failures'),
  pausedReason: z.string().nullable(),
});

/** One event's two bodies, named `<Name>V1` and `<Name>V2` as components. */
function versions<T extends z.ZodRawShape>(type: WebhookEventType, data: z.ZodObject<T>, v1: 'event' | 'alert') {
  return {
    v1:
      v1 === 'event'
        ? data.extend({ event: z.literal(type) })
        : data.extend({ type: z.literal(type), ...(type === 'offer.opened' ? {} : { at: IsoTime }) }),
    v2: z.object({ type: z.literal(type), timestamp: IsoTime, data }),
  };
}
const delivered = versions('lead.delivered', LeadDeliveredData, 'event');
const opened = versions('offer.opened', OfferOpenedData, 'alert');
const low = versions('balance.low', BalanceLowData, 'alert');
const failed = versions('recharge.failed', RechargeFailedData, 'alert');

export const LeadDeliveredV1 = delivered.v1.describe('lead.delivered, payload version 1');
export const LeadDeliveredV2 = delivered.v2.describe('lead.delivered, payload version 2');
export const OfferOpenedV1 = opened.v1.describe('offer.opened (an alert), payload version 1');
export const OfferOpenedV2 = opened.v2.describe('offer.opened (an alert), payload version 2');
export const BalanceLowV1 = low.v1.describe('balance.low (an alert), payload version 1');
export const BalanceLowV2 = low.v2.describe('balance.low (an alert), payload version 2');
export const RechargeFailedV1 = failed.v1.describe('recharge.failed (an alert), payload version 1');
export const RechargeFailedV2 = failed.v2.describe('recharge.failed (an alert), payload version 2');

/** Every event with its two bodies and what it means: the document's `webhooks`. */
export const WEBHOOK_EVENTS: Record<WebhookEventType, { summary: string; v1: z.ZodType; v2: z.ZodType }> = {
  'lead.delivered': {
    summary: 'A lead the buyer bought: every field and its consent evidence (the webhook delivery channel)',
    v1: LeadDeliveredV1,
    v2: LeadDeliveredV2,
  },
  'offer.opened': {
    summary: 'A new lead the buyer may claim (the offer alert on its webhook channel)',
    v1: OfferOpenedV1,
    v2: OfferOpenedV2,
  },
  'balance.low': {
    summary: "The buyer's balance fell below its alert threshold",
    v1: BalanceLowV1,
    v2: BalanceLowV2,
  },
  'recharge.failed': {
    summary: 'An auto-recharge payment failed (and, after the limit, auto-recharge paused)',
    v1: RechargeFailedV1,
    v2: RechargeFailedV2,
  },
};
