/**
 * The zod schemas of api/routes/leads.ts, kept beside it (lead intake, the
 * lead views and manual actions). Shapes several route modules share are in
 * api/schemas.ts, the building blocks in api/schema-blocks.ts.
 */
import { z } from 'zod';

import { Id, IsoTime, list, Nullable, text } from '../schema-blocks';
import {
  AcceptedLead,
  AssignmentStatusSchema,
  AuctionKindSchema,
  AuctionPricingSchema,
  ClaimWon,
  ConsentSchema,
  ContactCheckView,
  LeadFieldsSchema,
  LeadStatusSchema,
  OfferKindSchema,
  OfferStatusSchema,
  PageQuery,
  PhoneTypeSchema,
  TrackingId,
} from '../schemas';
import { Responses as OffersResponses } from './offers.schemas';

export const LeadCreate = z
  .object({
    campaignId: Id,
    fields: LeadFieldsSchema,
    consent: ConsentSchema.optional(),
    subId: TrackingId.optional().describe("the seller's sub id (affiliate, placement)"),
    clickId: TrackingId.optional().describe("the seller's click id"),
  })
  .strict();
export const LeadsQuery = PageQuery.extend({
  status: LeadStatusSchema.optional(),
  campaignId: Id.optional(),
}).strict();
export const ReofferBody = z.object({ campaignId: Id.optional().describe("default: the lead's campaign") }).strict();
export const AssignBody = z.object({ buyerId: Id }).strict();
export const RejectBody = z.object({ reason: text(500) }).strict();
export const LeadView = z.object({
  id: Id,
  campaignId: Id,
  status: LeadStatusSchema,
  statusReason: Nullable(z.string()),
  fields: LeadFieldsSchema,
  consent: Nullable(ConsentSchema),
  sourceId: Nullable(Id).describe("the source that sent the lead; null: the agency's own (console, admin key)"),
  subId: Nullable(z.string()).describe("the seller's sub id, as posted"),
  clickId: Nullable(z.string()).describe("the seller's click id, as posted"),
  phoneE164: Nullable(z.string()).describe(
    'the phone number normalised to E.164 at intake (`fields.phone` is as sent); null before the checks existed',
  ),
  phoneType: Nullable(PhoneTypeSchema).describe("the number's type from libphonenumber's metadata"),
  contactChecks: z
    .array(ContactCheckView)
    .describe("intake's contact checks: result and latency of each (also on the timeline)"),
  workflowId: z.string(),
  createdAt: IsoTime,
  updatedAt: IsoTime,
});
export const OfferAdminView = z.object({
  id: Id,
  leadId: Id,
  campaignId: Nullable(Id),
  kind: OfferKindSchema,
  status: OfferStatusSchema,
  price: z.number().int(),
  preview: z.record(z.string(), z.unknown()),
  maxWinners: z.number().int(),
  winners: z.number().int(),
  auction: AuctionKindSchema,
  pricing: AuctionPricingSchema,
  depth: z.number().int(),
  workflowId: z.string(),
  openedAt: IsoTime,
  closesAt: IsoTime,
  closedAt: Nullable(IsoTime),
  closeReason: Nullable(z.string()),
});
export const AssignmentView = z.object({
  id: Id,
  leadId: Id,
  offerId: Id,
  buyerId: Id,
  price: z.number().int(),
  exclusive: z.boolean(),
  status: AssignmentStatusSchema,
  createdAt: IsoTime,
});
export const LeadDetailView = LeadView.extend({
  sourceName: Nullable(z.string()).describe("the source's name; null when the lead is the agency's own"),
  offers: z.array(OfferAdminView),
  assignments: z.array(AssignmentView),
});

/**
 * The answers these routes document (their `responses`), each a named
 * component by its key; one that another module owns is listed by
 * reference (still one component).
 */
export const Responses = {
  LeadAccepted: z.object({ lead: AcceptedLead, workflowId: z.string() }),
  Lead: z.object({ lead: LeadDetailView }),
  Leads: list('leads', LeadView),
  ManualAccepted: z.object({
    lead: z.object({ id: Id, status: LeadStatusSchema }),
    action: z.string(),
    campaignId: Id.optional(),
  }),
  Timeline: OffersResponses.Timeline,
  /** A manual sale: what the buyer would see on a won claim, and which buyer it went to. */
  LeadAssigned: ClaimWon.extend({ buyerId: Id.describe('the buyer the lead was sold to') }),
};
