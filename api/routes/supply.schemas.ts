/**
 * The zod schemas of api/routes/supply.ts, kept beside it (a source's pings
 * and posts). Shapes several route modules share are in api/schemas.ts, the
 * building blocks in api/schema-blocks.ts.
 */
import { z } from 'zod';

import { Id, IsoTime, Nullable } from '../schema-blocks';
import {
  AcceptedLead,
  ConsentSchema,
  LeadFieldsSchema,
  PingDecisionSchema,
  PingRejectionSchema,
  TrackingId,
} from '../schemas';
import { Responses as SourcesResponses, SourceLedgerEntryView } from './sources.schemas';

/**
 * The lead's non-identifying fields: what a ping is judged on. A ping may also carry the
 * phone and email to have them checked before the post (#23): they are checked and
 * forgotten, never stored with the ping nor shown to a buyer.
 */
export const PingFieldsSchema = LeadFieldsSchema.pick({ zip: true, state: true, city: true, answers: true })
  .extend({
    phone: LeadFieldsSchema.shape.phone
      .optional()
      .describe('optional: checked (`invalid_phone`), not stored with the ping; the post must send it again'),
    email: LeadFieldsSchema.shape.email
      .optional()
      .describe('optional: checked (`invalid_email`, `disposable_email`), not stored with the ping'),
  })
  .strict();
export const PingCreate = z
  .object({ campaignId: Id, fields: PingFieldsSchema, subId: TrackingId.optional(), clickId: TrackingId.optional() })
  .strict();
export const PostCreate = z
  .object({
    pingId: Id.describe('the id of an accepted ping, before it expires'),
    fields: LeadFieldsSchema.describe('the full lead; the fields the ping carried must be the same'),
    consent: ConsentSchema.optional(),
    subId: TrackingId.optional(),
    clickId: TrackingId.optional(),
  })
  .strict();
export const PingAnswer = z.object({
  pingId: Id,
  decision: PingDecisionSchema,
  reason: Nullable(PingRejectionSchema),
  payout: Nullable(z.number().int()).describe(
    'accepted: what the source is paid if the lead sells at the price quoted now',
  ),
  expiresAt: IsoTime.describe('post the full lead before this time'),
});

/**
 * The answers these routes document (their `responses`), each a named
 * component by its key; one that another module owns is listed by
 * reference (still one component).
 */
export const Responses = {
  SourceBalance: z.object({
    balance: z.number().int(),
    entries: z.array(SourceLedgerEntryView).describe('the latest entries'),
  }),
  PingAnswer,
  PostAccepted: z.object({ pingId: Id, lead: AcceptedLead, workflowId: z.string() }),
  SourceLedger: SourcesResponses.SourceLedger,
  SourceLeads: SourcesResponses.SourceLeads,
  PostingSpec: SourcesResponses.PostingSpec,
};
