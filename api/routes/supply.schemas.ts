/**
 * The zod schemas of api/routes/supply.ts, kept beside it (a source's pings
 * and posts). Shapes several route modules share are in api/schemas.ts, the
 * building blocks in api/schema-blocks.ts.
 */
import { z } from 'zod';

import { INTAKE_REFUSALS } from '../../domain/types';
import { Id, IsoTime, Nullable } from '../schema-blocks';
import {
  AcceptedLead,
  ConsentSchema,
  LeadFieldsSchema,
  PingDecisionSchema,
  PingRejectionSchema,
  RefusalCount,
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
/** One of a source's leads refused at intake: why, and the ids that say which (never the person's fields). */
export const SourceRefusal = z.object({
  at: IsoTime,
  reason: z.enum(INTAKE_REFUSALS),
  field: Nullable(z.string()).describe('the field the refusal names (`fields.phone`, `consent`…)'),
  campaignId: Id,
  campaignName: z.string(),
  subId: Nullable(z.string()),
  clickId: Nullable(z.string()),
  pingId: Nullable(Id).describe('the ping a refused post answered'),
});

export const Responses = {
  SourceRefusals: z.object({
    from: Nullable(z.string()),
    to: Nullable(z.string()),
    timeZone: z.string(),
    byReason: z.array(RefusalCount),
    recent: z.array(SourceRefusal).describe('the last 100 leads refused in the range, newest first'),
  }),
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
