/**
 * The authorization table (#20): every route, by its operationId, and the
 * feed, mapped to the grants (domain/accounts.ts `Grant`) that may call it.
 * It is the only place that says who may do what: a route's `roles` (the kinds
 * of principal its handler is typed for, api/route.ts) are derived from its
 * row, the pipeline (api/app.ts) checks the caller's grant against the row
 * after authentication, the feed's upgrade checks `openFeed`, the OpenAPI
 * document lists each operation's grants, and docs/accounts.md "Roles" is
 * generated from it (`npm run docs:roles`).
 *
 * A key acts with its scope (api_keys.role), a session with its membership's
 * role, the root token as `platform:operator`. A caller whose grant is not in
 * the row hears 403 `forbidden` naming what the route needs – whatever the
 * ids in the path, so nothing about another tenant's ids leaks (those stay 404
 * inside the handlers). An empty row is a public route.
 */
import { type Grant, ORG_KINDS } from '../domain/accounts';
import { grantOfPrincipal, type Principal, type Role } from './auth';
import { Problem } from './problem';

// The rows are built from these groups, so that each role's reach reads in one line.
const OPERATOR = ['platform:operator'] as const;
/** Money, settings, keys, catalogue edits: the agency's owners and admins. */
const AGENCY_MANAGE = ['agency:owner', 'agency:admin'] as const;
/** Working the leads (assign, re-offer, reject, cancel, disputes): managers and dispatchers. */
const AGENCY_DISPATCH = [...AGENCY_MANAGE, 'agency:dispatcher'] as const;
/** Reads of everything (reports, ledgers, CSV): managers and analysts. */
const AGENCY_READ = [...AGENCY_MANAGE, 'agency:analyst'] as const;
/** Reads a dispatcher needs too (leads, offers, buyers, campaigns, disputes). */
const AGENCY_READ_DISPATCH = [...AGENCY_DISPATCH, 'agency:analyst'] as const;
const BUYER_OWNER = ['buyer:owner'] as const;
/** Live Leads, claims, bids, pipeline, disputes, reads of the wallet: every member. */
const BUYER_ANY = ['buyer:owner', 'buyer:member'] as const;
/** Pinging and posting leads: the source's owners. */
const SOURCE_OWNER = ['source:owner'] as const;
/** Reads of the source's own leads, spec, balance and ledger: every member. */
const SOURCE_ANY = ['source:owner', 'source:member'] as const;
const PUBLIC = [] as const;
/** Invitations and the team: the platform's operators, an agency's managers, a buyer's or source's owners. */
const TEAM_MANAGE = [...OPERATOR, ...AGENCY_MANAGE, ...BUYER_OWNER, ...SOURCE_OWNER] as const;

const AUTHORIZATION = {
  // the platform
  createAgency: OPERATOR,
  me: [...OPERATOR, ...AGENCY_READ_DISPATCH, ...BUYER_ANY, ...SOURCE_ANY],
  // the agency's settings and catalogue
  createServiceLine: AGENCY_MANAGE,
  listServiceLines: AGENCY_READ_DISPATCH,
  getSettings: AGENCY_READ,
  updateSettings: AGENCY_MANAGE,
  // buyers
  createBuyer: AGENCY_MANAGE,
  listBuyers: AGENCY_READ_DISPATCH,
  getBuyer: AGENCY_READ_DISPATCH,
  updateBuyer: AGENCY_MANAGE,
  addCredits: AGENCY_MANAGE,
  buyerLedger: AGENCY_READ,
  createBuyerKey: AGENCY_MANAGE,
  rotateWebhookSecret: AGENCY_MANAGE,
  // a buyer's endpoint for outbound ping-post: settings (a secret inside) and test calls are the managers'; the log a read
  getBuyerEndpoint: AGENCY_READ,
  putBuyerEndpoint: AGENCY_MANAGE,
  deleteBuyerEndpoint: AGENCY_MANAGE,
  testBuyerEndpoint: AGENCY_MANAGE,
  buyerEndpointCalls: AGENCY_READ,
  buyerChanges: AGENCY_READ,
  buyerStats: AGENCY_READ,
  buyerStatementMonths: AGENCY_READ,
  buyerStatement: AGENCY_READ,
  buyerStatementCsv: AGENCY_READ,
  // campaigns and prices
  createCampaign: AGENCY_MANAGE,
  listCampaigns: AGENCY_READ_DISPATCH,
  getCampaign: AGENCY_READ_DISPATCH,
  updateCampaign: AGENCY_MANAGE,
  dryRunCampaign: AGENCY_MANAGE,
  listBuyerPrices: AGENCY_READ,
  setBuyerPrice: AGENCY_MANAGE,
  // leads, the manual review queue, offers
  createLead: [...AGENCY_DISPATCH, ...SOURCE_OWNER],
  listLeads: AGENCY_READ_DISPATCH,
  getLead: AGENCY_READ_DISPATCH,
  leadTimeline: AGENCY_READ_DISPATCH,
  reofferLead: AGENCY_DISPATCH,
  assignLead: AGENCY_DISPATCH,
  rejectLead: AGENCY_DISPATCH,
  cancelOffer: AGENCY_DISPATCH,
  offerTimeline: AGENCY_READ_DISPATCH,
  offerEligibility: [...AGENCY_READ_DISPATCH, ...BUYER_ANY],
  // deliveries and disputes
  assignmentDeliveries: AGENCY_READ_DISPATCH,
  redeliver: AGENCY_DISPATCH,
  openDispute: BUYER_ANY,
  listDisputes: [...AGENCY_READ_DISPATCH, ...BUYER_ANY],
  getDispute: [...AGENCY_READ_DISPATCH, ...BUYER_ANY],
  resolveDispute: AGENCY_DISPATCH,
  // sources
  createSource: AGENCY_MANAGE,
  listSources: AGENCY_READ,
  getSource: AGENCY_READ,
  updateSource: AGENCY_MANAGE,
  // suppression and Do-Not-Call lists (#23): dispatchers add opt-outs and search; only managers remove or upload
  suppressionLists: AGENCY_READ_DISPATCH,
  addSuppressionEntry: AGENCY_DISPATCH,
  searchSuppression: AGENCY_DISPATCH,
  removeSuppressionEntry: AGENCY_MANAGE,
  uploadSuppressionCsv: AGENCY_MANAGE,
  // consent-certificate providers (#23): the credentials are managers' business; analysts see which are set
  consentProviders: AGENCY_READ,
  setConsentProvider: AGENCY_MANAGE,
  deleteConsentProvider: AGENCY_MANAGE,
  uploadDncFile: OPERATOR,
  // third-party scrubs (#23 item 5): settings hold a provider secret and spend money, so managers change them
  listScrubs: AGENCY_READ,
  putScrub: AGENCY_MANAGE,
  // one person's erasure (#23 item 6): the agency's owners and admins ask; analysts read the list (counts only)
  requestErasure: AGENCY_MANAGE,
  listErasureRequests: AGENCY_READ,
  setSourceCampaign: AGENCY_MANAGE,
  createSourceKey: AGENCY_MANAGE,
  revokeSourceKeys: AGENCY_MANAGE,
  sourceLedger: AGENCY_READ,
  recordSourceSettlement: AGENCY_MANAGE,
  sourceLeads: AGENCY_READ,
  sourceSpec: AGENCY_READ,
  // reports and exports
  report: AGENCY_READ,
  endpointReport: AGENCY_READ,
  refusalReport: AGENCY_READ,
  exportLeads: [...AGENCY_READ, ...SOURCE_ANY],
  exportSales: [...AGENCY_READ, ...BUYER_ANY],
  exportLedger: [...AGENCY_READ, ...BUYER_ANY],
  exportSourceLedger: [...AGENCY_READ, ...SOURCE_ANY],
  exportReport: AGENCY_READ,
  // the buyer's own side
  myWallet: BUYER_ANY,
  myLedger: BUYER_ANY,
  myStatementMonths: BUYER_ANY,
  myStatement: BUYER_ANY,
  myStatementCsv: BUYER_ANY,
  myLeads: BUYER_ANY,
  updateMe: BUYER_OWNER,
  listMyOffers: BUYER_ANY,
  claimOffer: BUYER_ANY,
  bidOnOffer: BUYER_ANY,
  myPipeline: BUYER_ANY,
  myLeadPipeline: BUYER_ANY,
  setMyLeadPipeline: BUYER_ANY,
  myAlerts: BUYER_ANY,
  // the buyer's card on file and auto-recharge (#21)
  myBilling: BUYER_ANY,
  saveMyCard: BUYER_OWNER,
  removeMyCard: BUYER_OWNER,
  setMyRecharge: BUYER_OWNER,
  /** The Live Leads WebSocket (`GET /v1/feed` with an upgrade). */
  openFeed: BUYER_ANY,
  // the source's own side
  ping: SOURCE_OWNER,
  post: SOURCE_OWNER,
  mySourceLeads: SOURCE_ANY,
  mySourceSpec: SOURCE_ANY,
  mySourceBalance: SOURCE_ANY,
  mySourceLedger: SOURCE_ANY,
  mySourceRefusals: SOURCE_ANY,
  // API keys of the caller's own organisation
  createKey: [...AGENCY_MANAGE, ...BUYER_OWNER, ...SOURCE_OWNER],
  listKeys: [...AGENCY_MANAGE, ...BUYER_OWNER, ...SOURCE_OWNER],
  revokeKey: [...AGENCY_MANAGE, ...BUYER_OWNER, ...SOURCE_OWNER],
  // signing in, and a signed-in person's own account: no organisation's grant (the
  // session cookie opens the `session` routes, api/route.ts; signing in is public)
  signIn: PUBLIC,
  requestSignInLink: PUBLIC,
  completeSignInLink: PUBLIC,
  requestPasswordReset: PUBLIC,
  completePasswordReset: PUBLIC,
  getSession: PUBLIC,
  chooseOrganisation: PUBLIC,
  signOut: PUBLIC,
  updateAccount: PUBLIC,
  changePassword: PUBLIC,
  listMySessions: PUBLIC,
  revokeMySession: PUBLIC,
  signOutEverywhere: PUBLIC,
  // card payments (#21): Stripe's webhook is public (the agency's signing secret is its credential)
  receiveStripeWebhook: PUBLIC,
  // the agency's card payments: its readers see them, its managers refund them
  listPayments: AGENCY_READ,
  getPayment: AGENCY_READ,
  refundPayment: AGENCY_MANAGE,
  // the agency's Stripe settings: managers read, owners change them; a buyer's owners top up, every member reads
  getPaymentSettings: AGENCY_MANAGE,
  putPaymentSettings: ['agency:owner'],
  testPaymentSettings: AGENCY_MANAGE,
  startCheckout: BUYER_OWNER,
  myPayments: BUYER_ANY,
  myPaymentOptions: BUYER_ANY,
  // the audit log: the agency's readers; a buyer's owners read their own buyer's entries
  auditLog: AGENCY_READ,
  exportAuditLog: AGENCY_READ,
  myAuditLog: BUYER_OWNER,
  // two-factor and passkeys: one's own account (the cookie), signing in with a passkey or a second factor
  twoFactorStatus: PUBLIC,
  startTotp: PUBLIC,
  confirmTotp: PUBLIC,
  disableTotp: PUBLIC,
  regenerateRecoveryCodes: PUBLIC,
  secondFactorPasskeyOptions: PUBLIC,
  secondFactor: PUBLIC,
  passkeySignInOptions: PUBLIC,
  passkeySignIn: PUBLIC,
  passkeyRegistrationOptions: PUBLIC,
  addPasskey: PUBLIC,
  listPasskeys: PUBLIC,
  deletePasskey: PUBLIC,
  // whether the agency requires a second factor of its owners and admins: the owners decide
  getTwoFactorRequirement: AGENCY_READ,
  setTwoFactorRequirement: ['agency:owner'],
  // first-run setup, invitations and teams: each organisation's owners (and an agency's admins, who may also
  // manage its buyers' and sources' teams); the handlers also keep every change within the caller's own role
  checkSetupLink: PUBLIC,
  completeSetup: PUBLIC,
  previewInvitation: PUBLIC,
  acceptInvitation: PUBLIC,
  invite: TEAM_MANAGE,
  listInvitations: TEAM_MANAGE,
  revokeInvitation: TEAM_MANAGE,
  listMembers: TEAM_MANAGE,
  changeMemberRole: [...AGENCY_MANAGE, ...BUYER_OWNER, ...SOURCE_OWNER],
  removeMember: [...AGENCY_MANAGE, ...BUYER_OWNER, ...SOURCE_OWNER],
  transferOwnership: ['agency:owner', 'buyer:owner', 'source:owner'],
  // single sign-on: the agency's settings, and the public steps of signing in
  getSso: AGENCY_READ,
  putSso: AGENCY_MANAGE,
  discoverSso: PUBLIC,
  startSso: PUBLIC,
  ssoCallback: PUBLIC,
  // public
  healthz: PUBLIC,
  readyz: PUBLIC,
  metrics: PUBLIC,
  openapi: PUBLIC,
  asyncapi: PUBLIC,
  docs: PUBLIC,
  apiReference: PUBLIC,
  apiReferenceScript: PUBLIC,
  /** The feed's plain-HTTP description (426 without an upgrade); the socket itself is `openFeed`. */
  feed: PUBLIC,
} as const satisfies Record<string, readonly Grant[]>;

export type OperationId = keyof typeof AUTHORIZATION;

/** The principal kind (api/auth.ts `Role`) a grant belongs to. */
type KindOfGrant<G> = G extends `platform:${string}`
  ? 'root'
  : G extends `agency:${string}`
    ? 'admin'
    : G extends `buyer:${string}`
      ? 'buyer'
      : G extends `source:${string}`
        ? 'source'
        : never;

/** The kinds of principal an operation's handler may see, from its row (never for a public route). */
export type KindsOf<Op extends OperationId> = KindOfGrant<(typeof AUTHORIZATION)[Op][number]>;

const KIND_OF_ORG = { platform: 'root', agency: 'admin', buyer: 'buyer', source: 'source' } as const;

/** The grants that may call an operation. */
export const grantsOf = (op: OperationId): readonly Grant[] => AUTHORIZATION[op];

/** The kinds of principal an operation admits, in the order root, admin, buyer, source. */
export function kindsOf(op: OperationId): Role[] {
  const grants = grantsOf(op);
  return ORG_KINDS.filter((k) => grants.some((g) => g.startsWith(`${k}:`))).map((k) => KIND_OF_ORG[k]);
}

/** Whether the principal's grant is in the operation's row. */
export const allows = (principal: Principal, op: OperationId): boolean =>
  grantsOf(op).includes(grantOfPrincipal(principal));

const ORG_WORDS = { platform: 'platform', agency: 'agency', buyer: 'buyer', source: 'source' } as const;
/** `agency:owner` → "agency owner". */
export const grantWords = (g: Grant): string => {
  const [org, role] = g.split(':') as [keyof typeof ORG_WORDS, string];
  return `${ORG_WORDS[org]} ${role}`;
};

/** 403 `forbidden` unless the principal's grant may call the operation; the answer names what it needs. */
export function authorize(principal: Principal, op: OperationId): void {
  if (allows(principal, op)) return;
  const needs = grantsOf(op).map(grantWords);
  throw new Problem(
    403,
    'forbidden',
    `This needs ${needs.join(', ')} (a session or a key acting as one of those roles); this caller acts as ${grantWords(grantOfPrincipal(principal))}.`,
  );
}

const COLUMN: Record<Grant, string> = {
  'platform:operator': 'operator',
  'agency:owner': 'agency owner',
  'agency:admin': 'agency admin',
  'agency:dispatcher': 'dispatcher',
  'agency:analyst': 'analyst',
  'buyer:owner': 'buyer owner',
  'buyer:member': 'buyer member',
  'source:owner': 'source owner',
  'source:member': 'source member',
};

/**
 * The table as Markdown, one row per operation (`routes`: each operation's
 * method and path, in the order of the API) and the feed, one column per
 * grant: docs/accounts.md "Roles" (scripts/roles-table.ts writes it, a test
 * checks it).
 */
export function rolesMarkdown(routes: readonly { operationId: OperationId; method: string; path: string }[]): string {
  const grants = Object.keys(COLUMN) as Grant[];
  const row = (what: string, op: OperationId) =>
    `| ${what} | ${grants.map((g) => (grantsOf(op).includes(g) ? '✓' : '')).join(' | ')} |`;
  const rows = routes
    .filter((r) => grantsOf(r.operationId).length)
    .map((r) => row(`\`${r.method.toUpperCase()} ${r.path}\``, r.operationId));
  return [
    `| route | ${grants.map((g) => COLUMN[g]).join(' | ')} |`,
    `| --- | ${grants.map(() => ':-:').join(' | ')} |`,
    ...rows,
    row('the Live Leads feed (WebSocket `/v1/feed`)', 'openFeed'),
  ].join('\n');
}
