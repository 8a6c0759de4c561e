/**
 * The shapes the pages read, all from the API's generated client
 * (packages/client): the named schemas of the OpenAPI document for REST and
 * the AsyncAPI document's message types for the live feed. Type-only imports,
 * so nothing but the client reaches the bundle, and a change of the contract
 * (after `npm run client:generate`) fails `npm run typecheck` here instead of
 * breaking a page at run time. The pages import nothing from the server's
 * folders (a lint rule holds it).
 */
import type { OfferClosedMessage, operations, Schemas } from '../../../packages/client';

export type { FeedClientMessage, FeedServerMessage, Schemas } from '../../../packages/client';

export type AuctionKind = Schemas['AuctionKind'];
export type AuctionPricing = Schemas['AuctionPricing'];
export type DncRule = Schemas['DncRule'];
export type ConsentProvider = Schemas['ConsentProvider'];
export type ConsentCertificateRule = Schemas['ConsentCertificateRule'];
export type BidRefusalReason = Schemas['BidRefusalReason'];
export type ClaimFailureReason = Schemas['ClaimFailureReason'];
export type ExclusionReason = Schemas['ExclusionReason'];
export type LeadStatus = Schemas['LeadStatus'];
export type TimelineEventType = Schemas['TimelineEventType'];
export type DeliveryMode = Schemas['DeliveryMode'];
export type PushStrategy = Schemas['PushStrategy'];
export type DisputeStatus = Schemas['DisputeStatus'];
export type SendingChannel = Schemas['SendingChannel'];

export type Buyer = Schemas['BuyerView'];
export type BuyerOffer = Schemas['BuyerOfferView'];
export type Campaign = Schemas['CampaignView'];
export type Candidate = Schemas['CandidateView'];
export type Dispute = Schemas['DisputeView'];
export type Lead = Schemas['LeadView'];
export type LeadRecord = Schemas['FullLead'];
export type LeadFields = Schemas['LeadFields'];
export type LedgerEntry = Schemas['LedgerEntryView'];
export type ServiceLine = Schemas['ServiceLineView'];
export type TimelineEvent = Schemas['TimelineEventView'];
export type PingedEventData = Schemas['PingedEventData'];
export type WonLead = Schemas['WonLeadView'];
export type PriceRules = Schemas['PriceRules'];
export type ClaimWonAnswer = Schemas['ClaimWon'];
export type ClaimRefusedAnswer = Schemas['ClaimRefused'];
export type BidAnswer = Schemas['BidAccepted'] | Schemas['BidRefused'];
export type Me = Schemas['Me'];
export type Wallet = Schemas['Wallet'];
export type Agency = Schemas['AgencyCreated']['agency'];

/** A page of a list endpoint: `{<key>: T[], nextCursor}`. */
export type Page<K extends string, T> = { [P in K]: T[] } & { nextCursor: string | null };

export type CloseOutcome = OfferClosedMessage['outcome'];

/** The buyer's side (#12): the pipeline board and one change. */
export type PipelineBoard = Schemas['Pipeline'];
export type PipelineStatus = PipelineBoard['leads'][number]['status'];

/** The supply side (#13): sources, their payout rules, ledger and leads, the posting spec, the reports. */
export type SourceOutcome = Schemas['SourceOutcome'];
export type Source = Schemas['Source']['source'];
export type SourceCampaign = Schemas['Source']['campaigns'][number];
export type PayoutRule = SourceCampaign['payout'];
export type SourceLedgerEntry = Schemas['SourceLedgerEntryView'];
export type SourceLead = Schemas['SourceLeadView'];
export type SourceBalance = Schemas['SourceBalance'];
export type PostingSpec = Schemas['PostingSpec'];
export type Report = Schemas['Report'];
export type ReportGroup = Report['groupBy'];
export type ReportRow = Report['rows'][number];
export type EndpointReport = Schemas['EndpointReport'];
export type RefusalReport = Schemas['RefusalReport'];
export type RefusalReason = Schemas['RefusalReason'];
export type RefusalCount = Schemas['RefusalCount'];

/** The session as the pages see it (GET /v1/session, and the answer of every way of signing in). */
export type SessionView = operations['getSession']['responses'][200]['content']['application/json'];
export type MembershipView = SessionView['memberships'][number];
export type OrgKind = MembershipView['kind'];
