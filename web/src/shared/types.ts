/**
 * The shapes the pages read, inferred from the very zod schemas the API
 * answers with (api/schemas.ts; api/feed-messages.ts for the live feed):
 * type-only imports, so nothing of zod or the API reaches the bundle, and a
 * change of the contract fails `npm run typecheck` here instead of breaking a
 * page at run time.
 */
import type { z } from 'zod';
import type {
  AssignmentView,
  BuyerOfferView,
  BuyerView,
  CampaignView,
  CandidateView,
  BidAccepted,
  BidRefused,
  ClaimRefused,
  ClaimWon,
  DisputeView,
  FullLead,
  LeadDetailView,
  LeadView,
  LedgerEntryView,
  OfferAdminView,
  Responses,
  ServiceLineView,
  TimelineEventView,
  WonLeadView,
  PriceRulesSchema,
} from '../../../api/schemas';
import type {
  FeedClientMessage as FeedClientMessageSchema,
  FeedServerMessage as FeedServerMessageSchema,
} from '../../../api/feed-messages';

export type {
  AuctionKind,
  AuctionPricing,
  BidRefusalReason,
  ClaimFailureReason,
  ExclusionReason,
  LeadStatus,
  OfferStatus,
  TimelineEventType,
  DeliveryMode,
  PushStrategy,
  DisputeStatus,
  LedgerEntryKind,
  BuyerStatus,
  CampaignStatus,
} from '../../../domain/types';

export type Buyer = z.infer<typeof BuyerView>;
export type BuyerOffer = z.infer<typeof BuyerOfferView>;
export type Campaign = z.infer<typeof CampaignView>;
export type Candidate = z.infer<typeof CandidateView>;
export type Dispute = z.infer<typeof DisputeView>;
export type Lead = z.infer<typeof LeadView>;
export type LeadDetail = z.infer<typeof LeadDetailView>;
export type LeadRecord = z.infer<typeof FullLead>;
export type LedgerEntry = z.infer<typeof LedgerEntryView>;
export type OfferAdmin = z.infer<typeof OfferAdminView>;
export type Assignment = z.infer<typeof AssignmentView>;
export type ServiceLine = z.infer<typeof ServiceLineView>;
export type TimelineEvent = z.infer<typeof TimelineEventView>;
export type WonLead = z.infer<typeof WonLeadView>;
export type PriceRules = z.infer<typeof PriceRulesSchema>;
export type ClaimWonAnswer = z.infer<typeof ClaimWon>;
export type ClaimRefusedAnswer = z.infer<typeof ClaimRefused>;
export type BidAnswer = z.infer<typeof BidAccepted> | z.infer<typeof BidRefused>;
export type Me = z.infer<typeof Responses.Me>;
export type Wallet = z.infer<typeof Responses.Wallet>;
export type Eligibility = z.infer<typeof Responses.Eligibility>;
export type Agency = z.infer<typeof Responses.AgencyCreated>['agency'];

/** A page of a list endpoint: `{<key>: T[], nextCursor}`. */
export type Page<K extends string, T> = { [P in K]: T[] } & { nextCursor: string | null };

/** The feed's messages, both directions (api/feed-messages.ts: the schemas the gateway parses and sends with). */
export type FeedServerMessage = z.infer<typeof FeedServerMessageSchema>;
export type FeedClientMessage = z.infer<typeof FeedClientMessageSchema>;

export type CloseOutcome = Extract<FeedServerMessage, { type: 'offer.closed' }>['outcome'];

/** The buyer's side (#12): the pipeline board and one change. */
export type PipelineBoard = z.infer<typeof Responses.Pipeline>;
export type PipelineStatus = PipelineBoard['leads'][number]['status'];

/** The supply side (#13): sources, their payout rules, ledger and leads, the posting spec, the reports. */
export type { SourceLedgerKind, SourceOutcome, SourceStatus } from '../../../domain/types';
import type { SourceLeadView, SourceLedgerEntryView } from '../../../api/schemas';
export type Source = z.infer<typeof Responses.Source>['source'];
export type SourceCampaign = z.infer<typeof Responses.Source>['campaigns'][number];
export type PayoutRule = SourceCampaign['payout'];
export type SourceLedgerEntry = z.infer<typeof SourceLedgerEntryView>;
export type SourceLead = z.infer<typeof SourceLeadView>;
export type SourceBalance = z.infer<typeof Responses.SourceBalance>;
export type PostingSpec = z.infer<typeof Responses.PostingSpec>;
export type Report = z.infer<typeof Responses.Report>;
export type ReportGroup = Report['groupBy'];
export type ReportRow = Report['rows'][number];
