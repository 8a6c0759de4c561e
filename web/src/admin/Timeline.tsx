/**
 * The offer timeline: every event of one offer as a vertical timeline –
 * targeted (with the eligibility snapshot), excluded (with the reason),
 * viewed, each claim attempt and its outcome, won (with the charge), lost,
 * expired, fell through (to which campaign), deliveries – with timestamps and
 * the gap since the previous event. Beside it: "why didn't buyer X get this
 * lead?", answered by GET /v1/offers/:id/eligibility?buyerId=.
 */
import { useState } from 'preact/hooks';

import { ApiError, messageOf, ok } from '../shared/api';
import { clockMs, credits, dateTime, duration, label, shortId } from '../shared/format';
import type {
  Candidate,
  ClaimFailureReason,
  ExclusionReason,
  PingedEventData,
  SendingChannel,
  TimelineEvent,
  TimelineEventType,
} from '../shared/types';
import { Badge, Button, Empty, ErrorNote, Field, Loading, Panel, useAction, useAsync } from '../shared/ui';
import { BuyerSelect } from './BuyerSide';
import { type Directory, useConsole } from './context';
import { Link, navigate } from './router';

// Partial maps with a fallback: a reason or event type added to domain/types.ts later shows as its code until worded here.
const EXCLUSIONS: Partial<Record<ExclusionReason, string>> = {
  not_subscribed: 'not subscribed to the service line',
  outside_service_area: 'outside the service area',
  insufficient_credits: 'balance below the price',
  cap_reached: 'a cap was reached',
  paused: 'buyer paused',
  not_in_campaign_pool: "not in the campaign's buyer pool",
  already_bought: 'already bought this person',
  outside_hours: 'outside its hours of operation (or paused until a set time)',
  filter_mismatch: "the buyer's lead filters refuse this lead",
};

const CLAIM_FAILURES: Partial<Record<ClaimFailureReason, string>> = {
  lost_race: 'lost the race – another buyer was first',
  offer_closed: 'the offer had closed',
  insufficient_credits: 'insufficient credits',
  cap_reached: 'cap reached',
  not_targeted: 'not targeted by this offer',
  eligibility_changed: 'no longer eligible at claim time',
  already_bought: 'already bought this person',
};

type Tone = 'ok' | 'bad' | 'warn' | 'info' | 'cyan' | 'muted';

const LOOK: Partial<Record<TimelineEventType, { tone: Tone; title: string; icon: string }>> = {
  targeted: { tone: 'info', title: 'Targeted', icon: 'M10 3v4M10 13v4M3 10h4M13 10h4M10 10h.01' },
  excluded: { tone: 'muted', title: 'Excluded', icon: 'M5 5l10 10M15 5L5 15' },
  viewed: {
    tone: 'cyan',
    title: 'Viewed',
    icon: 'M2 10s3-5.5 8-5.5 8 5.5 8 5.5-3 5.5-8 5.5S2 10 2 10zM10 12a2 2 0 100-4 2 2 0 000 4z',
  },
  claim_attempted: {
    tone: 'info',
    title: 'Claim attempt',
    icon: 'M7 9V4.5a1.5 1.5 0 013 0V9m0-1.5a1.5 1.5 0 013 0V10m0-1a1.5 1.5 0 013 0v3.5A5.5 5.5 0 0110.5 18h-.8a5 5 0 01-4-2L3 12.5a1.5 1.5 0 012.2-2L7 12',
  },
  claim_failed: { tone: 'bad', title: 'Claim refused', icon: 'M10 6v5M10 14v.5M10 2l8 15H2z' },
  won: { tone: 'ok', title: 'Won', icon: 'M4 10.5l4 4 8-9' },
  lost: { tone: 'muted', title: 'Lost', icon: 'M5 10h10' },
  expired: { tone: 'warn', title: 'Expired', icon: 'M10 5.5V10l3 2M10 17.5a7.5 7.5 0 100-15 7.5 7.5 0 000 15z' },
  cancelled: { tone: 'warn', title: 'Cancelled', icon: 'M5 5l10 10M15 5L5 15' },
  fell_through: { tone: 'warn', title: 'Fell through', icon: 'M10 3v12M5 11l5 5 5-5' },
  manual_review: { tone: 'warn', title: 'Manual review', icon: 'M4 4h12v12H4z' },
  reoffered: {
    tone: 'info',
    title: 'Re-offered',
    icon: 'M4 10a6 6 0 0110.5-4M16 10a6 6 0 01-10.5 4M14 3v3.5h-3.5M6 17v-3.5h3.5',
  },
  assigned: { tone: 'ok', title: 'Assigned', icon: 'M4 10.5l4 4 8-9' },
  rejected: { tone: 'bad', title: 'Rejected', icon: 'M5 5l10 10M15 5L5 15' },
  delivered: { tone: 'ok', title: 'Delivered', icon: 'M3 10l14-6-6 14-2-6z' },
  delivery_failed: { tone: 'bad', title: 'Delivery failed', icon: 'M3 10l14-6-6 14-2-6z' },
  refunded: { tone: 'cyan', title: 'Refunded', icon: 'M4 10a6 6 0 1012 0M4 10V5M4 10h5' },
  received: { tone: 'muted', title: 'Received', icon: 'M3 10h10M9 6l4 4-4 4M16 4v12' },
  bid_placed: { tone: 'info', title: 'Bid placed', icon: 'M4 16h8M6 12l6-6 3 3-6 6zM12 6l2-2 3 3-2 2' },
  buyer_paused: { tone: 'warn', title: 'Buyer paused', icon: 'M7 5v10M13 5v10' },
  delivery_attempted: { tone: 'muted', title: 'Delivery attempt', icon: 'M3 10l14-6-6 14-2-6z' },
  redelivery_requested: { tone: 'info', title: 'Redelivery requested', icon: 'M4 10a6 6 0 0110.5-4M14 3v3.5h-3.5' },
  checked: { tone: 'muted', title: 'Checked', icon: 'M4 10.5l4 4 8-9' },
  pinged: { tone: 'info', title: 'Pinged', icon: 'M3 10h4l2-5 2 10 2-5h4' },
  posted: { tone: 'info', title: 'Posted', icon: 'M3 10l14-6-6 14-2-6z' },
  post_accepted: { tone: 'ok', title: 'Post accepted', icon: 'M4 10.5l4 4 8-9' },
  post_rejected: { tone: 'bad', title: 'Post rejected', icon: 'M5 5l10 10M15 5L5 15' },
  notified: {
    tone: 'cyan',
    title: 'Alerted',
    icon: 'M10 3a5 5 0 015 5v3l1.5 3h-13L5 11V8a5 5 0 015-5zM8.5 16.5a1.5 1.5 0 003 0',
  },
};

const FALLBACK_LOOK = { tone: 'muted' as Tone, title: '', icon: 'M10 10h.01' };

/** The offer timeline page; with no id, a box to open one by id. */
export function OfferTimeline({ id }: { id: string }) {
  const { api, dir } = useConsole();
  const data = useAsync(async () => {
    if (!id) return null;
    const [timeline, eligibility] = await Promise.all([
      ok(api.client.GET('/v1/offers/{id}/timeline', { params: { path: { id } } })),
      ok(api.client.GET('/v1/offers/{id}/eligibility', { params: { path: { id } } })),
    ]);
    const lead = await ok(api.client.GET('/v1/leads/{id}', { params: { path: { id: eligibility.leadId } } })).then(
      (r) => r.lead,
    );
    return { events: timeline.events, eligibility, lead };
  }, [id]);

  if (!id) return <OpenOffer />;
  if (data.error) {
    return (
      <div class="page">
        <OpenOffer />
        <ErrorNote error={data.error} />
      </div>
    );
  }
  if (!data.data) return <Loading />;
  const { events, eligibility, lead } = data.data;
  const offer = lead.offers.find((o) => o.id === id);
  const count = (t: TimelineEventType) => events.filter((e) => e.type === t).length;
  const winners = events.filter((e) => e.type === 'won');
  const firstClaim = events.find((e) => e.type === 'claim_attempted');
  const opened = offer ? Date.parse(offer.openedAt) : events[0] ? Date.parse(events[0].at) : null;

  return (
    <div class="page">
      <div class="breadcrumb">
        <Link href="/admin/leads">Leads</Link> /{' '}
        <Link href={`/admin/leads/${lead.id}`}>{`${lead.fields.firstName} ${lead.fields.lastName}`}</Link> / offer{' '}
        <span class="id">{shortId(id)}</span>
      </div>
      <div class="page-head">
        <div>
          <h1>Offer timeline {offer ? <Badge value={offer.status} /> : null}</h1>
          <p class="muted">
            {offer
              ? `${offer.kind.replace('_', ' ')} · ${dir.campaignName(offer.campaignId)} · ${credits(offer.price)} · opened ${dateTime(offer.openedAt)}`
              : null}
            {offer?.depth ? ` · fallback depth ${offer.depth}` : ''}
          </p>
        </div>
        <Button size="sm" onClick={() => void data.reload()}>
          Refresh
        </Button>
      </div>
      <div class="stat-grid">
        <Stat label="Targeted" value={count('targeted')} sub={`${count('excluded')} excluded`} />
        <Stat label="Viewed" value={count('viewed')} sub="buyers who saw it" />
        <Stat label="Claim attempts" value={count('claim_attempted')} sub={`${count('claim_failed')} refused`} />
        <Stat
          label={winners.length ? 'Won by' : 'Outcome'}
          value={
            winners.length
              ? winners.map((w) => dir.buyerName(w.buyerId)).join(', ')
              : offer?.status === 'open'
                ? 'open'
                : (offer?.status ?? '–')
          }
          sub={
            firstClaim && opened !== null
              ? `first claim after ${duration(Date.parse(firstClaim.at) - opened)}`
              : 'no claim'
          }
          small={winners.length > 0}
        />
      </div>
      <div class="tl-layout">
        <Panel title="Events" actions={<Legend />}>
          {events.length ? <TimelineView events={events} /> : <Empty title="No events yet" />}
        </Panel>
        <div>
          <WhyBox offerId={id} dir={dir} />
          <Panel title="Candidates">
            <CandidateList candidates={eligibility.candidates} />
          </Panel>
        </div>
      </div>
    </div>
  );
}

function Stat({ label, value, sub, small }: { label: string; value: string | number; sub?: string; small?: boolean }) {
  return (
    <div class="stat">
      <div class="stat-label">{label}</div>
      <div class="stat-value" style={small ? { fontSize: '17px', paddingTop: '6px' } : undefined}>
        {value}
      </div>
      {sub ? <div class="stat-sub">{sub}</div> : null}
    </div>
  );
}

function Legend() {
  const items: [string, string][] = [
    ['var(--brand)', 'targeted / claim'],
    ['var(--cyan)', 'viewed'],
    ['var(--ok)', 'won / delivered'],
    ['var(--bad)', 'refused'],
    ['var(--warn)', 'expired / fell through'],
  ];
  return (
    <div class="legend">
      {items.map(([c, t]) => (
        <span key={t}>
          <i style={{ background: c }} />
          {t}
        </span>
      ))}
    </div>
  );
}

function OpenOffer() {
  const [id, setId] = useState('');
  const valid = /^[0-9a-f-]{36}$/i.test(id.trim());
  return (
    <div class="page">
      <div class="page-head">
        <div>
          <h1>Offer timeline</h1>
          <p class="muted">Open any offer from a lead's page, or paste its id.</p>
        </div>
      </div>
      <Panel>
        <form
          class="row"
          onSubmit={(e) => {
            e.preventDefault();
            if (valid) navigate(`/admin/offers/${id.trim()}`);
          }}
        >
          <Field label="Offer id">
            <input
              type="text"
              value={id}
              onInput={(e) => setId(e.currentTarget.value)}
              placeholder="00000000-0000-0000-0000-000000000000"
              class="mono"
            />
          </Field>
          <Button type="submit" variant="primary" disabled={!valid}>
            Open
          </Button>
        </form>
      </Panel>
    </div>
  );
}

// ─── the vertical timeline ───────────────────────────────────────────────────

const chipsOf = (o: Record<string, unknown> | undefined, keys?: string[]): [string, string][] => {
  if (!o) return [];
  const out: [string, string][] = [];
  for (const [k, v] of Object.entries(o)) {
    if (keys && !keys.includes(k)) continue;
    if (v === null || v === undefined) continue;
    if (Array.isArray(v)) {
      if (v.length) out.push([k, v.length > 4 ? `${v.slice(0, 4).join(',')}…(${v.length})` : v.join(',')]);
    } else if (typeof v === 'object') {
      const inner = Object.entries(v as Record<string, unknown>)
        .map(([a, b]) => `${a}:${String(b)}`)
        .join(' ');
      if (inner) out.push([k, inner]);
    } else out.push([k, String(v)]);
  }
  return out;
};

/** "reason – detail", without saying the same thing twice. */
const withDetail = (reason: string, detail: unknown): string => {
  const d = typeof detail === 'string' ? detail : '';
  if (!d || d.toLowerCase() === reason.toLowerCase()) return reason;
  return d.toLowerCase().includes(reason.toLowerCase()) ? d : `${reason} – ${d}`;
};

/**
 * Where a claim, view or bid came from (`channel`: api, feed) and how a sale was made (`sale`: push, manual,
 * auction; a plain claim says nothing more). Rows written before the two were split carry either in `via`.
 */
const via = (d: Record<string, unknown>): string => {
  const v = d.channel ?? d.sale ?? d.via;
  return typeof v === 'string' && v && v !== 'claim' ? `via ${v}` : '';
};

/** Who made a decision the timeline records (manual assignment, re-offer, rejection, dispute decision): `data.actor`. */
function actorOf(e: TimelineEvent): string | null {
  const a = (e.data as { actor?: { label?: unknown } } | null)?.actor;
  return a && typeof a.label === 'string' ? a.label : null;
}

/** A contact check (#23) in words: which check and its result, e.g. "phone passed". */
function checkText(d: Record<string, unknown>): string {
  const what = d.check === 'email_mx' ? 'email MX' : String(d.check ?? '');
  const result = String(d.result ?? '').replace(/_/g, ' ');
  return `${what} ${result}${d.detail ? ` – ${String(d.detail)}` : ''}`;
}

/** What the check found, and how long it took. */
export function checkChips(d: Record<string, unknown>): [string, string][] {
  const chips: [string, string][] = [];
  if (d.e164) chips.push(['E.164', String(d.e164)]);
  if (d.phoneType) chips.push(['type', String(d.phoneType).replace(/_/g, ' ')]);
  if (d.domain) chips.push(['domain', String(d.domain)]);
  if (Array.isArray(d.mx) && d.mx.length) chips.push(['MX', d.mx.join(', ')]);
  if (Array.isArray(d.lists) && d.lists.length) chips.push(['lists', d.lists.join(', ').replace(/_/g, ' ')]);
  if (typeof d.latencyMs === 'number') chips.push(['latency', `${d.latencyMs} ms`]);
  return chips;
}

function describe(
  e: TimelineEvent,
  dir: Directory,
): { text?: string; chips: [string, string][]; link?: { href: string; text: string } } {
  const d = (e.data ?? {}) as Record<string, unknown>;
  switch (e.type) {
    case 'targeted':
      return {
        text: 'eligible when the offer opened',
        chips: chipsOf(d.snapshot as Record<string, unknown>, ['balance', 'price', 'counts', 'caps', 'status']),
      };
    case 'excluded':
      return {
        text: withDetail(EXCLUSIONS[e.reason as ExclusionReason] ?? e.reason ?? '', d.detail),
        chips: chipsOf(d.snapshot as Record<string, unknown>, ['balance', 'price', 'counts', 'caps', 'status']),
      };
    case 'viewed':
      return { text: via(d) || 'via feed', chips: [] };
    case 'claim_attempted':
      return { text: via(d), chips: d.requestId ? [['request', String(d.requestId).slice(0, 13)]] : [] };
    case 'claim_failed':
      return {
        text: `${CLAIM_FAILURES[e.reason as ClaimFailureReason] ?? e.reason ?? ''}${d.detail ? ` – ${String(d.detail)}` : ''}${d.decidedBy === 'api' ? ' (answered by the API)' : ''}`,
        chips: [],
      };
    case 'won':
      return {
        text: [
          `charged ${credits(Number(d.charged ?? 0))}`,
          d.balanceAfter !== undefined ? `balance after ${String(d.balanceAfter)}` : '',
          via(d),
        ]
          .filter(Boolean)
          .join(' · '),
        chips: d.assignmentId ? [['assignment', shortId(String(d.assignmentId))]] : [],
      };
    case 'bid_placed':
      return {
        text: `${d.raised ? 'raised to' : 'bid'} ${credits(Number(d.amount ?? 0))}${via(d) ? ` · ${via(d)}` : ''}`,
        chips: d.requestId ? [['request', String(d.requestId).slice(0, 13)]] : [],
      };
    case 'pinged':
    case 'posted':
    case 'post_rejected':
    case 'post_accepted': {
      // Buyers' own systems (#22): the bid or the reason; the raw answer is in the buyer's endpoint log. A ping of a
      // ping tree says its tier first (in the compact timeline of the lead's page too, which shows no chips).
      const chips: [string, string][] = [];
      const tier = e.type === 'pinged' ? (d as Partial<PingedEventData>).tier : undefined;
      if (typeof d.latencyMs === 'number') chips.push(['latency', `${d.latencyMs} ms`]);
      if (d.outcome && d.outcome !== 'accepted') chips.push(['outcome', String(d.outcome)]);
      const bid = typeof d.bid === 'number' ? `bid ${credits(d.bid)}` : '';
      const tierText = typeof tier === 'number' ? `tier ${tier}` : '';
      return { text: [tierText, bid, e.reason ?? ''].filter(Boolean).join(' · '), chips };
    }
    case 'lost':
      return {
        text:
          e.reason === 'taken'
            ? 'another buyer won it'
            : e.reason === 'expired'
              ? 'the window ended unsold'
              : (e.reason ?? ''),
        chips: [],
      };
    case 'expired':
      return { text: 'the claim window ended without a valid claim', chips: [] };
    case 'cancelled':
      return { text: e.reason ?? 'cancelled by the agency', chips: [] };
    case 'fell_through': {
      const to = d.toCampaignId as string | undefined;
      return {
        text: to
          ? `to campaign ${dir.campaignName(to)}`
          : `no fallback left${e.reason ? ` (${e.reason.replace(/_/g, ' ')})` : ''}`,
        chips: d.depth !== undefined ? [['depth', String(d.depth)]] : [],
        link: to ? { href: `/admin/campaigns/${to}`, text: 'campaign →' } : undefined,
      };
    }
    case 'delivered':
    case 'delivery_failed':
      return {
        text: `${String(d.channel ?? '')}${e.reason ? ` – ${e.reason}` : ''}${d.error ? ` – ${String(d.error)}` : ''}`,
        chips: d.attempts ? [['attempts', String(d.attempts)]] : [],
      };
    case 'checked':
      return { text: checkText(d), chips: checkChips(d) };
    case 'delivery_attempted': {
      const chips: [string, string][] = [['attempt', String(d.attempt ?? '')]];
      if (d.status !== null && d.status !== undefined) chips.push(['HTTP', String(d.status)]);
      if (typeof d.latencyMs === 'number') chips.push(['latency', `${d.latencyMs} ms`]);
      if (typeof d.nextRetryMs === 'number') chips.push(['next try in', duration(d.nextRetryMs)]);
      if (d.redelivery) chips.push(['redelivery', 'yes']);
      const answer =
        typeof d.response === 'string' && d.response
          ? ` – “${d.response.slice(0, 120)}”`
          : d.error
            ? ` – ${String(d.error)}`
            : '';
      return { text: `${String(d.channel ?? '')} ${String(d.outcome ?? e.reason ?? '')}${answer}`, chips };
    }
    default:
      return { text: e.reason ? e.reason.replace(/_/g, ' ') : undefined, chips: chipsOf(d) };
  }
}

/** Events in order with the time of each and the gap since the one before. */
export function TimelineView({ events, compact }: { events: TimelineEvent[]; compact?: boolean }) {
  const { dir } = useConsole();
  let prev: number | null = null;
  return (
    <ol class="timeline" data-testid="timeline">
      {events.map((e, i) => {
        const at = Date.parse(e.at);
        const gap = prev === null ? null : at - prev;
        prev = at;
        const look = LOOK[e.type] ?? FALLBACK_LOOK;
        const info = describe(e, dir);
        return (
          <li
            key={i}
            class={`tl-item tl-${look.tone}`}
            data-type={e.type}
            data-buyer={e.buyerId ? dir.buyerName(e.buyerId) : undefined}
          >
            <div class="tl-time">
              <span class="tl-clock" title={dateTime(e.at)}>
                {clockMs(e.at)}
              </span>
              <span class={`tl-gap ${gap !== null && gap > 5_000 ? 'big' : ''}`}>
                {gap === null ? dateTime(e.at).split(',')[0] : `+${duration(gap)}`}
              </span>
            </div>
            <div class="tl-dot">
              <svg viewBox="0 0 20 20" width="14" height="14" aria-hidden="true">
                <path
                  d={look.icon}
                  fill="none"
                  stroke="currentColor"
                  stroke-width="2"
                  stroke-linecap="round"
                  stroke-linejoin="round"
                />
              </svg>
            </div>
            <div class="tl-body">
              <div class="tl-title">
                <span class="tl-type">{look.title || e.type.replace(/_/g, ' ')}</span>
                {e.buyerId ? (
                  <Link href={`/admin/buyers/${e.buyerId}`} class="tl-buyer">
                    {dir.buyerName(e.buyerId)}
                  </Link>
                ) : null}
                {compact && e.offerId ? (
                  <Link href={`/admin/offers/${e.offerId}`} class="id">
                    offer {shortId(e.offerId)}
                  </Link>
                ) : null}
              </div>
              {info.text ? <div class="tl-detail">{info.text}</div> : null}
              {actorOf(e) ? (
                <div class="tl-detail tl-actor" data-testid="tl-actor">
                  by {actorOf(e)}
                </div>
              ) : null}
              {info.chips.length && !compact ? (
                <div class="tl-chips">
                  {info.chips.map(([k, v]) => (
                    <span key={k} class="tl-chip">
                      {k} {v}
                    </span>
                  ))}
                </div>
              ) : null}
              {info.link ? (
                <div class="tl-detail">
                  <Link href={info.link.href}>{info.link.text}</Link>
                </div>
              ) : null}
              {!compact &&
              (e.type === 'delivered' || e.type === 'delivery_failed') &&
              e.data?.assignmentId &&
              e.data.channel &&
              e.data.channel !== 'dashboard' ? (
                <RedeliverButton
                  assignmentId={String(e.data.assignmentId)}
                  channel={String(e.data.channel) as SendingChannel}
                />
              ) : null}
            </div>
          </li>
        );
      })}
    </ol>
  );
}

// ─── why didn't buyer X get it ───────────────────────────────────────────────

function WhyBox({ offerId, dir }: { offerId: string; dir: Directory }) {
  const { api } = useConsole();
  const [buyerId, setBuyerId] = useState('');
  const [busy, setBusy] = useState(false);
  const [answer, setAnswer] = useState<{ buyerId: string; candidate: Candidate | null } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const ask = async (e: Event) => {
    e.preventDefault();
    if (!buyerId) return;
    setBusy(true);
    setError(null);
    try {
      const res = await ok(
        api.client.GET('/v1/offers/{id}/eligibility', { params: { path: { id: offerId }, query: { buyerId } } }),
      );
      setAnswer({ buyerId, candidate: res.candidates[0] ?? null });
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) setAnswer({ buyerId, candidate: null });
      else setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };
  const c = answer?.candidate;
  return (
    <Panel title="Why didn't a buyer get this lead?">
      <form class="row" onSubmit={ask}>
        <Field label="Buyer">
          <BuyerSelect value={buyerId} onChange={setBuyerId} testId="why-buyer" />
        </Field>
        <Button type="submit" variant="primary" busy={busy} disabled={!buyerId}>
          Explain
        </Button>
      </form>
      {error ? <div class="note note-bad">{error}</div> : null}
      {answer ? (
        <div class={`why-result ${c?.eligible ? 'why-yes' : 'why-no'}`} data-testid="why-result">
          {!c ? (
            <p>
              <strong>{dir.buyerName(answer.buyerId)}</strong> was not a candidate: the buyer did not exist yet or was
              not considered when this offer opened.
            </p>
          ) : c.eligible ? (
            <p>
              <strong>{c.buyerName}</strong> was <strong>eligible</strong> and was offered this lead. If it did not win,
              see its events in the timeline (viewed, claims).
            </p>
          ) : (
            <p>
              <strong>{c.buyerName}</strong> was <strong>excluded</strong>:{' '}
              {withDetail(EXCLUSIONS[c.reason as ExclusionReason] ?? c.reason ?? '', c.detail)}.
            </p>
          )}
          {c ? (
            <dl>
              {chipsOf(c.snapshot).map(([k, v]) => (
                <div class="kv" key={k}>
                  <dt>{label(k)}</dt>
                  <dd class="mono">{v}</dd>
                </div>
              ))}
            </dl>
          ) : null}
        </div>
      ) : null}
    </Panel>
  );
}

function CandidateList({ candidates }: { candidates: Candidate[] }) {
  if (!candidates.length)
    return <p class="muted">No candidates were recorded (a manual sale, or no buyer in the pool).</p>;
  const sorted = [...candidates].sort(
    (a, b) => Number(b.eligible) - Number(a.eligible) || a.buyerName.localeCompare(b.buyerName),
  );
  return (
    <dl>
      {sorted.map((c) => (
        <div class="kv" key={c.buyerId}>
          <dt>
            <Link href={`/admin/buyers/${c.buyerId}`}>{c.buyerName}</Link>
          </dt>
          <dd>
            {c.eligible ? (
              <Badge tone="ok">eligible</Badge>
            ) : (
              <Badge tone="bad">{EXCLUSIONS[c.reason as ExclusionReason] ?? c.reason}</Badge>
            )}
          </dd>
        </div>
      ))}
    </dl>
  );
}

/** Sends one sale again on one channel (POST /v1/assignments/:id/redeliver); the attempts appear on this timeline. */
function RedeliverButton({ assignmentId, channel }: { assignmentId: string; channel: SendingChannel }) {
  const { api } = useConsole();
  const [run, busy] = useAction(
    () =>
      ok(
        api.client.POST('/v1/assignments/{id}/redeliver', {
          params: { path: { id: assignmentId } },
          body: { channel },
        }),
      ),
    {
      success: `Redelivery of the ${channel} started`,
    },
  );
  return (
    <div class="tl-detail">
      <Button size="sm" busy={busy} onClick={() => void run()} data-testid="redeliver">
        Redeliver
      </Button>
    </div>
  );
}
