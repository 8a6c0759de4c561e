/**
 * Analytics per campaign and per buyer: fill rate, expired rate, time to the
 * first claim, viewed vs claimed, revenue per lead.
 *
 * Computed here in the browser from the endpoints the console already uses
 * (the lead list, each lead with its offers and sales, each lead's timeline):
 * two requests per lead, six at a time, for the newest N leads. That is fine
 * at this scale (hundreds of leads, a second or two); at volume a reporting
 * endpoint that aggregates in SQL should replace it.
 */
import { useEffect, useState } from 'preact/hooks';
import type { Api } from '../shared/api';
import { credits, duration, num, pct } from '../shared/format';
import type { Lead, LeadDetail, TimelineEvent } from '../shared/types';
import { Button, ErrorNote, Field, Loading } from '../shared/ui';
import { BarChart, ChartCard, GroupedBars, Histogram } from './charts';
import { useConsole, type Directory } from './context';

interface Sample {
  lead: LeadDetail;
  events: TimelineEvent[];
}

async function loadSample(api: Api, campaignId: string, size: number, progress: (done: number, total: number) => void): Promise<Sample[]> {
  const leads = await api.all<Lead>(`/v1/leads${campaignId ? `?campaignId=${campaignId}` : ''}`, 'leads', size);
  const list = leads.slice(0, size);
  const out: Sample[] = new Array(list.length);
  let next = 0;
  let done = 0;
  progress(0, list.length);
  const worker = async () => {
    while (next < list.length) {
      const i = next++;
      const id = list[i]!.id;
      const [detail, timeline] = await Promise.all([api.get<{ lead: LeadDetail }>(`/v1/leads/${id}`), api.get<{ events: TimelineEvent[] }>(`/v1/leads/${id}/timeline`)]);
      out[i] = { lead: detail.lead, events: timeline.events };
      progress(++done, list.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(6, list.length) }, worker));
  return out;
}

const BUCKETS: { label: string; le: number }[] = [
  { label: '<0.5', le: 500 },
  { label: '0.5–1', le: 1_000 },
  { label: '1–2', le: 2_000 },
  { label: '2–5', le: 5_000 },
  { label: '5–10', le: 10_000 },
  { label: '10–30', le: 30_000 },
  { label: '30–60', le: 60_000 },
  { label: '>60', le: Infinity },
];

const median = (xs: number[]) => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)]!;
};

interface CampaignStats {
  id: string;
  leads: number;
  finished: number;
  sold: number;
  pingOffers: number;
  closedPing: number;
  expired: number;
  revenue: number;
  firstClaims: number[];
}

interface BuyerStats {
  id: string;
  targeted: number;
  viewed: number;
  claimed: number;
  won: number;
  spent: number;
}

/** Pure: the numbers behind every chart. */
export function compute(samples: Sample[]) {
  const campaigns = new Map<string, CampaignStats>();
  const buyers = new Map<string, BuyerStats>();
  const camp = (id: string) => {
    let c = campaigns.get(id);
    if (!c) campaigns.set(id, (c = { id, leads: 0, finished: 0, sold: 0, pingOffers: 0, closedPing: 0, expired: 0, revenue: 0, firstClaims: [] }));
    return c;
  };
  const buyer = (id: string) => {
    let b = buyers.get(id);
    if (!b) buyers.set(id, (b = { id, targeted: 0, viewed: 0, claimed: 0, won: 0, spent: 0 }));
    return b;
  };
  const firstClaims: number[] = [];
  for (const { lead, events } of samples) {
    const c = camp(lead.campaignId);
    c.leads++;
    if (lead.status === 'sold' || lead.status === 'manual_review' || lead.status === 'rejected') c.finished++;
    if (lead.status === 'sold') c.sold++;
    c.revenue += lead.assignments.filter((a) => a.status === 'active').reduce((s, a) => s + a.price, 0);
    for (const a of lead.assignments) if (a.status === 'active') buyer(a.buyerId).spent += a.price;
    for (const o of lead.offers) {
      if (o.kind !== 'ping_post') continue;
      const oc = camp(o.campaignId ?? lead.campaignId);
      oc.pingOffers++;
      if (o.status !== 'open') oc.closedPing++;
      if (o.status === 'expired') oc.expired++;
      const first = events.find((e) => e.type === 'claim_attempted' && e.offerId === o.id);
      if (first) {
        const ms = Date.parse(first.at) - Date.parse(o.openedAt);
        oc.firstClaims.push(ms);
        firstClaims.push(ms);
      }
    }
    const claimedOffers = new Set<string>();
    for (const e of events) {
      if (!e.buyerId) continue;
      if (e.type === 'targeted') buyer(e.buyerId).targeted++;
      else if (e.type === 'viewed') buyer(e.buyerId).viewed++;
      else if (e.type === 'won') buyer(e.buyerId).won++;
      else if (e.type === 'claim_attempted') {
        const k = `${e.buyerId}:${e.offerId}`;
        if (!claimedOffers.has(k)) {
          claimedOffers.add(k);
          buyer(e.buyerId).claimed++;
        }
      }
    }
  }
  const histogram = BUCKETS.map((b, i) => ({ label: b.label, count: firstClaims.filter((ms) => ms < b.le && (i === 0 || ms >= BUCKETS[i - 1]!.le)).length }));
  return { campaigns: [...campaigns.values()].sort((a, b) => b.leads - a.leads), buyers: [...buyers.values()], histogram, firstClaims };
}

export function Analytics() {
  const { api, dir } = useConsole();
  const [campaignId, setCampaignId] = useState('');
  const [size, setSize] = useState(100);
  const [run, setRun] = useState(0);
  const [progress, setProgress] = useState<{ done: number; total: number } | null>(null);
  const [samples, setSamples] = useState<Sample[] | null>(null);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    let cancelled = false;
    setError(null);
    loadSample(api, campaignId, size, (done, total) => !cancelled && setProgress({ done, total }))
      .then((s) => !cancelled && setSamples(s))
      .catch((err) => !cancelled && setError(err));
    return () => {
      cancelled = true;
    };
  }, [api, campaignId, size, run]);

  const loading = progress && progress.done < progress.total;
  return (
    <div class="page">
      <div class="page-head">
        <div>
          <h1>Analytics</h1>
          <p class="muted">From the newest {size} leads{campaignId ? ` of ${dir.campaignName(campaignId)}` : ''}, computed in your browser from the leads and their timelines.</p>
        </div>
        <div class="filters" style={{ marginBottom: 0 }}>
          <Field label="Campaign">
            <select value={campaignId} onChange={(e) => setCampaignId(e.currentTarget.value)}>
              <option value="">All campaigns</option>
              {dir.campaigns.map((c) => (
                <option key={c.id} value={c.id}>
                  {c.name}
                </option>
              ))}
            </select>
          </Field>
          <Field label="Sample">
            <select value={String(size)} onChange={(e) => setSize(Number(e.currentTarget.value))}>
              {[50, 100, 200, 500].map((n) => (
                <option key={n} value={n}>
                  newest {n} leads
                </option>
              ))}
            </select>
          </Field>
          <Button onClick={() => setRun((r) => r + 1)} busy={!!loading}>
            Refresh
          </Button>
        </div>
      </div>
      <ErrorNote error={error} />
      {loading ? <Loading label={`Reading leads and timelines… ${progress!.done}/${progress!.total}`} /> : null}
      {samples ? <Report samples={samples} dir={dir} /> : !error ? <Loading /> : null}
    </div>
  );
}

function Report({ samples, dir }: { samples: Sample[]; dir: Directory }) {
  const s = compute(samples);
  const leads = samples.length;
  const sold = s.campaigns.reduce((a, c) => a + c.sold, 0);
  const finished = s.campaigns.reduce((a, c) => a + c.finished, 0);
  const revenue = s.campaigns.reduce((a, c) => a + c.revenue, 0);
  const closed = s.campaigns.reduce((a, c) => a + c.closedPing, 0);
  const expired = s.campaigns.reduce((a, c) => a + c.expired, 0);
  const med = median(s.firstClaims);
  const withLeads = s.campaigns.filter((c) => c.leads > 0);
  const withOffers = s.campaigns.filter((c) => c.closedPing > 0);
  const buyers = [...s.buyers].sort((a, b) => b.targeted - a.targeted || b.won - a.won).slice(0, 12);

  return (
    <>
      <div class="stat-grid">
        <Tile label="Leads" value={num(leads)} sub={`${num(finished)} finished`} />
        <Tile label="Fill rate" value={pct(finished ? sold / finished : NaN)} sub={`${num(sold)} sold`} />
        <Tile label="Expired rate" value={pct(closed ? expired / closed : NaN)} sub={`${num(expired)} of ${num(closed)} auctions`} />
        <Tile label="Revenue" value={num(revenue)} sub={`${leads ? (revenue / leads).toFixed(1) : '–'} credits per lead`} />
        <Tile label="First claim" value={med === null ? '–' : duration(med)} sub="median after opening" />
      </div>
      <div class="grid-2">
        <ChartCard title="Fill rate per campaign" sub="sold / finished leads">
          <BarChart
            color="#10b981"
            max={1}
            rows={withLeads.map((c) => ({ label: dir.campaignName(c.id), value: c.finished ? c.sold / c.finished : 0, text: c.finished ? pct(c.sold / c.finished) : '–', sub: `${c.sold}/${c.finished} leads` }))}
          />
        </ChartCard>
        <ChartCard title="Expired rate per campaign" sub="auctions nobody claimed">
          <BarChart
            color="#f59e0b"
            max={1}
            rows={withOffers.map((c) => ({ label: dir.campaignName(c.id), value: c.expired / c.closedPing, text: pct(c.expired / c.closedPing), sub: `${c.expired}/${c.closedPing} auctions` }))}
            empty="No closed auction yet"
          />
        </ChartCard>
        <ChartCard title="Time to first claim" sub="seconds after the offer opened">
          <Histogram buckets={s.histogram} unit=" s" />
        </ChartCard>
        <ChartCard title="Revenue per lead" sub="credits, net of refunds">
          <BarChart
            color="#6366f1"
            rows={withLeads.map((c) => ({ label: dir.campaignName(c.id), value: c.revenue / c.leads, text: (c.revenue / c.leads).toFixed(1), sub: credits(c.revenue) }))}
          />
        </ChartCard>
      </div>
      <ChartCard title="Viewed vs claimed per buyer" sub="offers targeted, seen, claimed and won">
        <GroupedBars
          series={[
            { name: 'Targeted', color: '#cbd5e1' },
            { name: 'Viewed', color: '#06b6d4' },
            { name: 'Claimed', color: '#6366f1' },
            { name: 'Won', color: '#10b981' },
          ]}
          rows={buyers.map((b) => ({ label: dir.buyerName(b.id), values: [b.targeted, b.viewed, b.claimed, b.won] }))}
        />
      </ChartCard>
    </>
  );
}

function Tile({ label, value, sub }: { label: string; value: string; sub?: string }) {
  return (
    <div class="stat">
      <div class="stat-label">{label}</div>
      <div class="stat-value">{value}</div>
      {sub ? <div class="stat-sub">{sub}</div> : null}
    </div>
  );
}
