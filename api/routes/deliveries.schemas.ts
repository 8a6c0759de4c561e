/**
 * The zod schemas of api/routes/deliveries.ts, kept beside it (deliveries and
 * redeliveries). Shapes several route modules share are in api/schemas.ts, the
 * building blocks in api/schema-blocks.ts.
 */
import { z } from 'zod';

import { Id, IsoTime, Nullable } from '../schema-blocks';
import {
  DeliveryAttemptOutcomeSchema,
  DeliveryChannelSchema,
  DeliveryStatusSchema,
  SendingChannelSchema,
} from '../schemas';

export const RedeliverCreate = z
  .object({ channel: SendingChannelSchema.describe('the channel to send the sale on again') })
  .strict();
export const DeliveryAttemptView = z.object({
  id: Id,
  channel: DeliveryChannelSchema,
  attempt: z.number().int(),
  redelivery: z.boolean(),
  messageId: Nullable(z.string()).describe('the Standard Webhooks webhook-id'),
  outcome: DeliveryAttemptOutcomeSchema,
  status: Nullable(z.number().int()).describe('the HTTP status answered'),
  latencyMs: z.number().int(),
  response: Nullable(z.string()).describe('the first 500 bytes of the answer'),
  error: Nullable(z.string()),
  nextRetryMs: Nullable(z.number().int()).describe(
    'the wait before the next attempt (schedule with jitter, or Retry-After)',
  ),
  at: IsoTime,
});
export const DeliveryView = z.object({
  channel: DeliveryChannelSchema,
  status: DeliveryStatusSchema,
  attempts: z.number().int(),
  lastError: Nullable(z.string()),
});

/** The answers these routes document (their `responses`), each a named component by its key. */
export const Responses = {
  Deliveries: z.object({ assignmentId: Id, deliveries: z.array(DeliveryView), attempts: z.array(DeliveryAttemptView) }),
  RedeliveryStarted: z.object({
    assignmentId: Id,
    channel: SendingChannelSchema,
    workflowId: z.string(),
    messageId: z.string(),
  }),
};
