/**
 * The zod schemas of api/routes/stripe-webhooks.ts: a Stripe event as it
 * arrives (only the envelope is read before the signature is checked; Stripe
 * adds fields freely, so the object is open) and the receiver's answer.
 */
import { z } from 'zod';

import { STRIPE_EVENT_OUTCOMES } from '../../domain/payments';

export const StripeWebhookParams = z.object({ agencyId: z.uuid() }).strict();

export const StripeEventBody = z
  .looseObject({
    id: z.string().min(1).max(255).describe('the event id (`evt_…`)'),
    object: z.literal('event'),
    type: z.string().min(1).max(255).describe('the event type, e.g. `checkout.session.completed`'),
    account: z.string().optional().describe('a connected account the event came from'),
    data: z.looseObject({ object: z.looseObject({}) }),
  })
  .describe('a Stripe event object, signed in the `Stripe-Signature` header');

export const Responses = {
  StripeWebhookReceived: z.object({
    received: z.literal(true),
    outcome: z
      .enum(STRIPE_EVENT_OUTCOMES)
      .describe(
        '`applied`: it moved money or state; `duplicate`: this event was already applied; `ignored`: nothing to do for it',
      ),
  }),
};
