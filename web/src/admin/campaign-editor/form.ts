/**
 * The campaign editor's form state, in one place: the form as the inputs hold
 * it (strings, rows), built from a campaign (`formOf`), turned into the API's
 * body (`bodyOf`), and the hook the sections share (`useCampaignForm`: the
 * values, one setter, the row edits of the rule lists, the field errors of the
 * last save, and the save itself).
 */
import { useState } from 'preact/hooks';

import { type Api, ApiError, ok } from '../../shared/api';
import type {
  AuctionKind,
  AuctionPricing,
  Campaign,
  ConsentCertificateRule,
  DeliveryMode,
  DncRule,
  LeadFields,
  PriceRules,
  PushStrategy,
} from '../../shared/types';

export const MODE_LABEL: Record<DeliveryMode, string> = { ping_post: 'Ping post', push: 'Push' };
export const STRATEGY_LABEL: Record<PushStrategy, string> = {
  round_robin: 'Round robin',
  priority: 'Priority',
  weighted: 'Weighted',
};

/**
 * The lead's top-level fields (the contract's LeadFields), each of which a
 * campaign may make previewable ('answers' = every answer): keyed by the
 * contract's type, so a field added to or removed from it fails to compile here.
 */
const LEAD_FIELDS: Record<keyof LeadFields, true> = {
  firstName: true,
  lastName: true,
  phone: true,
  email: true,
  address: true,
  city: true,
  state: true,
  zip: true,
  answers: true,
};
export const PREVIEWABLE_FIELDS = Object.keys(LEAD_FIELDS) as (keyof LeadFields)[];

export interface Form {
  name: string;
  serviceLine: string;
  mode: DeliveryMode;
  pushStrategy: PushStrategy;
  claimWindowSeconds: string;
  previewFields: string[];
  base: string;
  zipTiers: { zips: string; price: string }[];
  multipliers: { key: string; factor: string }[];
  adjustments: { question: string; equals: string; add: string }[];
  maxWinners: string;
  fallbackCampaignId: string;
  caps: { daily: string; weekly: string; monthly: string };
  allBuyers: boolean;
  pool: Record<string, { on: boolean; priority: string; weight: string }>;
  status: 'active' | 'paused';
  auction: AuctionKind;
  floorPrice: string;
  pricing: AuctionPricing;
  dncRule: DncRule;
  /** The consent-certificate rule (#23): '' = none required. */
  certificateProvider: '' | ConsentCertificateRule['provider'];
  certificateMaxAgeHours: string;
  certificateOnFailure: ConsentCertificateRule['onClaimFailure'];
  /** Highest bid: the buyers whose endpoints bid (EndpointBidders.tsx). */
  endpointBidders: string[];
  /** The ping tree's tiers in order (auction `ping_tree`; PingTreeTiers.tsx edits them). */
  tiers: TierRow[];
}

/** One ping-tree tier as the inputs hold it: its floor, and its endpoint buyers. */
export interface TierRow {
  floor: string;
  buyerIds: string[];
}

/** The form's lists of rule rows. */
export type RuleList = 'zipTiers' | 'multipliers' | 'adjustments';

function formOf(c: Campaign | null, serviceLine: string): Form {
  const s = (n: number | undefined) => (n === undefined ? '' : String(n));
  const pool: Form['pool'] = {};
  for (const b of c?.buyers ?? [])
    pool[b.buyerId] = { on: true, priority: String(b.priority), weight: String(b.weight) };
  return {
    name: c?.name ?? '',
    serviceLine: c?.serviceLine ?? serviceLine,
    mode: c?.mode ?? 'ping_post',
    pushStrategy: c?.pushStrategy ?? 'round_robin',
    claimWindowSeconds: s(c?.claimWindowSeconds ?? 60),
    previewFields: c?.previewFields ?? ['city', 'state', 'zip'],
    base: s(c?.price.base ?? 25),
    zipTiers: (c?.price.zipTiers ?? []).map((t) => ({ zips: t.zips.join(', '), price: String(t.price) })),
    multipliers: Object.entries(c?.price.multipliers ?? {}).map(([key, f]) => ({ key, factor: String(f) })),
    adjustments: (c?.price.adjustments ?? []).map((a) => ({
      question: a.question,
      equals: String(a.equals),
      add: String(a.add),
    })),
    maxWinners: s(c?.maxWinners ?? 1),
    fallbackCampaignId: c?.fallbackCampaignId ?? '',
    caps: { daily: s(c?.caps.daily), weekly: s(c?.caps.weekly), monthly: s(c?.caps.monthly) },
    allBuyers: !c || c.buyers.length === 0,
    pool,
    status: c?.status ?? 'active',
    auction: c?.auction ?? 'first_claim',
    floorPrice: c?.floorPrice === null || c?.floorPrice === undefined ? '' : String(c.floorPrice),
    pricing: c?.pricing ?? 'first_price',
    dncRule: c?.dncRule ?? 'suppress',
    certificateProvider: c?.consentCertificate?.provider ?? '',
    certificateMaxAgeHours: String((c?.consentCertificate?.maxAgeSeconds ?? 86_400) / 3600),
    certificateOnFailure: c?.consentCertificate?.onClaimFailure ?? 'flag',
    endpointBidders: c?.endpointBidders ?? [],
    tiers: (c?.pingTree?.tiers ?? []).map((t) => ({ floor: String(t.floor), buyerIds: [...t.buyerIds] })),
  };
}

const toValue = (v: string): string | number | boolean =>
  v === 'true' ? true : v === 'false' ? false : v.trim() !== '' && !Number.isNaN(Number(v)) ? Number(v) : v;
const int = (v: string) => (v.trim() === '' ? undefined : Number(v));

function bodyOf(f: Form) {
  const price: PriceRules = { base: Number(f.base) };
  if (f.zipTiers.length)
    price.zipTiers = f.zipTiers.map((t) => ({ zips: t.zips.split(/[\s,]+/).filter(Boolean), price: Number(t.price) }));
  if (f.multipliers.length) price.multipliers = Object.fromEntries(f.multipliers.map((m) => [m.key, Number(m.factor)]));
  if (f.adjustments.length)
    price.adjustments = f.adjustments.map((a) => ({
      question: a.question,
      equals: toValue(a.equals),
      add: Number(a.add),
    }));
  const caps = Object.fromEntries(
    Object.entries(f.caps)
      .filter(([, v]) => v.trim() !== '')
      .map(([k, v]) => [k, Number(v)]),
  );
  const buyers = f.allBuyers
    ? []
    : Object.entries(f.pool)
        .filter(([, p]) => p.on)
        .map(([buyerId, p]) => ({
          buyerId,
          ...(int(p.priority) !== undefined ? { priority: int(p.priority) } : {}),
          ...(int(p.weight) ? { weight: int(p.weight) } : {}),
        }));
  return {
    name: f.name,
    serviceLine: f.serviceLine,
    mode: f.mode,
    pushStrategy: f.pushStrategy,
    claimWindowSeconds: Number(f.claimWindowSeconds),
    previewFields: f.previewFields,
    price,
    maxWinners: Number(f.maxWinners),
    fallbackCampaignId: f.fallbackCampaignId || null,
    caps,
    buyers,
    status: f.status,
    auction: f.auction,
    floorPrice: f.floorPrice.trim() === '' ? null : Number(f.floorPrice),
    pricing: f.pricing,
    dncRule: f.dncRule,
    consentCertificate: f.certificateProvider
      ? {
          provider: f.certificateProvider,
          maxAgeSeconds: Math.round(Number(f.certificateMaxAgeHours) * 3600),
          onClaimFailure: f.certificateOnFailure,
        }
      : null,
    endpointBidders:
      f.mode === 'ping_post' && f.auction === 'highest_bid' && f.endpointBidders.length ? f.endpointBidders : null,
    pingTree:
      f.auction === 'ping_tree'
        ? { tiers: f.tiers.map((t) => ({ buyerIds: t.buyerIds, floor: Number(t.floor) })) }
        : null,
  };
}

/** What every section of the editor reads and writes. */
export interface CampaignForm {
  f: Form;
  up(p: Partial<Form>): void;
  /** Edits row `i` of a rule list. */
  setRow<L extends RuleList>(list: L, i: number, p: Partial<Form[L][number]>): void;
  removeRow(list: RuleList, i: number): void;
  addRow<L extends RuleList>(list: L, row: Form[L][number]): void;
  /** The API's message for a field of the last save. */
  fe(path: string): string | undefined;
  error: unknown;
  busy: boolean;
  /** Creates or updates the campaign, then `done` with it; a failure of either is kept as `error`. */
  save(done: (saved: Campaign) => Promise<void>): Promise<void>;
}

export function useCampaignForm(api: Api, existing: Campaign | null, serviceLine: string): CampaignForm {
  const [f, setF] = useState<Form>(() => formOf(existing, serviceLine));
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const up = (p: Partial<Form>) => setF({ ...f, ...p });
  const rows = <L extends RuleList>(list: L) => f[list] as Form[L][number][];
  return {
    f,
    up,
    setRow: (list, i, p) => up({ [list]: rows(list).map((x, j) => (j === i ? { ...x, ...p } : x)) }),
    removeRow: (list, i) => up({ [list]: rows(list).filter((_, j) => j !== i) }),
    addRow: (list, row) => up({ [list]: [...rows(list), row] }),
    fe: (path) => (error instanceof ApiError ? error.fieldError(path) : undefined),
    error,
    busy,
    async save(done) {
      setBusy(true);
      setError(null);
      try {
        const body = bodyOf(f);
        const res = existing
          ? await ok(api.client.PATCH('/v1/campaigns/{id}', { params: { path: { id: existing.id } }, body }))
          : await ok(api.client.POST('/v1/campaigns', { body }));
        await done(res.campaign);
      } catch (err) {
        setError(err);
      } finally {
        setBusy(false);
      }
    },
  };
}
