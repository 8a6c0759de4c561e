/** Leads: the list with filters, a test-lead form, and one lead with its offers, sales and timeline. */
import { Fragment } from 'preact';
import { useEffect, useState } from 'preact/hooks';

import { ok, randomId } from '../shared/api';
import { ago, credits, dateTime, label, shortId, show } from '../shared/format';
import type { Lead, LeadFields, LeadStatus } from '../shared/types';
import {
  Badge,
  Button,
  Empty,
  ErrorNote,
  Field,
  Loading,
  Modal,
  Panel,
  toast,
  useAsync,
  useMorePages,
} from '../shared/ui';
import { useConsole } from './context';
import { ReviewActions } from './Review';
import { Link, navigate, useLocation } from './router';
import { checkChips, TimelineView } from './Timeline';

const STATUSES: LeadStatus[] = ['routing', 'offered', 'sold', 'manual_review', 'rejected'];

export const leadName = (l: Lead) => `${l.fields.firstName} ${l.fields.lastName}`.trim();
export const leadPlace = (l: Lead) =>
  [[l.fields.city, l.fields.state].filter(Boolean).join(', '), l.fields.zip].filter(Boolean).join(' ');

export function Leads() {
  const { api, dir } = useConsole();
  const { query } = useLocation();
  const status = query.get('status') ?? '';
  const campaignId = query.get('campaign') ?? '';
  const [submitting, setSubmitting] = useState(false);
  const listQuery = {
    limit: 50,
    ...(status ? { status: status as LeadStatus } : {}),
    ...(campaignId ? { campaignId } : {}),
  };
  const { extra, setExtra, cursor, setCursor, more } = useMorePages('leads', (cursor) =>
    api.client.GET('/v1/leads', { params: { query: { ...listQuery, cursor } } }),
  );
  const leads = useAsync(async () => {
    const page = await ok(api.client.GET('/v1/leads', { params: { query: listQuery } }));
    setCursor((c) => (extra.length ? c : page.nextCursor));
    return page.leads;
  }, [status, campaignId]);
  useEffect(() => setExtra([]), [status, campaignId]);
  // The first page follows the routing live; pages loaded further down stay as they were.
  useEffect(() => {
    const t = setInterval(() => document.visibilityState === 'visible' && void leads.reload(), 4_000);
    return () => clearInterval(t);
  }, [leads.reload]);

  const setFilter = (k: string, v: string) => {
    const q = new URLSearchParams(query);
    if (v) q.set(k, v);
    else q.delete(k);
    const s = q.toString();
    navigate(`/admin/leads${s ? `?${s}` : ''}`, { replace: true });
  };
  const all = [...(leads.data ?? []), ...extra];

  return (
    <div class="page">
      <div class="page-head">
        <div>
          <h1>Leads</h1>
          <p class="muted">
            Every lead of {dir.agency.name}, newest first, with where routing stands. Click a lead for its offers, sales
            and timeline.
          </p>
        </div>
        <Button
          variant="primary"
          onClick={() => setSubmitting(true)}
          disabled={!dir.campaigns.length}
          title={dir.campaigns.length ? '' : 'Create a campaign first'}
        >
          Submit a test lead
        </Button>
      </div>
      <Panel>
        <div class="filters">
          <Field label="Status">
            <select value={status} onChange={(e) => setFilter('status', e.currentTarget.value)}>
              <option value="">All statuses</option>
              {STATUSES.map((s) => (
                <option key={s} value={s}>
                  {s.replace('_', ' ')}
                </option>
              ))}
            </select>
          </Field>
          <Field label="Campaign">
            <select value={campaignId} onChange={(e) => setFilter('campaign', e.currentTarget.value)}>
              <option value="">All campaigns</option>
              {dir.campaigns.map((c) => (
                <option key={c.id} value={c.id}>
                  {c.name}
                </option>
              ))}
            </select>
          </Field>
        </div>
        <ErrorNote error={leads.error} />
        {leads.loading && !leads.data ? <Loading /> : null}
        {leads.data && all.length === 0 ? (
          <Empty title="No leads here">
            {dir.campaigns.length
              ? 'Submit a test lead to see routing in action.'
              : 'Create a campaign first (Campaigns).'}
          </Empty>
        ) : null}
        {all.length ? (
          <div class="table-wrap">
            <table class="table" data-testid="leads-table">
              <thead>
                <tr>
                  <th>Received</th>
                  <th>Lead</th>
                  <th>Location</th>
                  <th>Campaign</th>
                  <th>Status</th>
                </tr>
              </thead>
              <tbody>
                {all.map((l) => (
                  <tr key={l.id} class="clickable" onClick={() => navigate(`/admin/leads/${l.id}`)}>
                    <td title={dateTime(l.createdAt)}>{ago(l.createdAt)}</td>
                    <td>
                      <Link href={`/admin/leads/${l.id}`}>{leadName(l)}</Link>
                    </td>
                    <td>{leadPlace(l)}</td>
                    <td>{dir.campaignName(l.campaignId)}</td>
                    <td>
                      <Badge value={l.status} />
                      {l.statusReason ? <span class="muted"> {l.statusReason.replace(/_/g, ' ')}</span> : null}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
        {cursor ? (
          <div class="more">
            <Button size="sm" onClick={() => void more()}>
              Load more
            </Button>
          </div>
        ) : null}
      </Panel>
      {submitting ? (
        <SubmitLead
          defaultCampaignId={campaignId || dir.campaigns.find((c) => c.status === 'active')?.id || ''}
          onClose={() => setSubmitting(false)}
          onDone={(id) => {
            setSubmitting(false);
            navigate(`/admin/leads/${id}`);
          }}
        />
      ) : null}
    </div>
  );
}

// ─── a test lead ─────────────────────────────────────────────────────────────

const FIRST = ['Ada', 'Grace', 'Alan', 'Katherine', 'Linus', 'Margaret', 'Dennis', 'Barbara', 'Ken', 'Radia'];
const LAST = [
  'Lovelace',
  'Hopper',
  'Turing',
  'Johnson',
  'Torvalds',
  'Hamilton',
  'Ritchie',
  'Liskov',
  'Thompson',
  'Perlman',
];
const PLACES = [
  { city: 'Austin', state: 'TX', zip: '78701' },
  { city: 'Denver', state: 'CO', zip: '80202' },
  { city: 'Portland', state: 'OR', zip: '97205' },
  { city: 'Tampa', state: 'FL', zip: '33602' },
];

function sample() {
  const r = (n: number) => Math.floor(Math.random() * n);
  const first = FIRST[r(FIRST.length)]!;
  const last = LAST[r(LAST.length)]!;
  const place = PLACES[r(PLACES.length)]!;
  const tag = Math.random().toString(36).slice(2, 7);
  return {
    firstName: first,
    lastName: last,
    phone: `737-555-${String(1000 + r(9000))}`,
    email: `${first.toLowerCase()}.${last.toLowerCase()}.${tag}@example.com`,
    address: `${100 + r(900)} Main St`,
    ...place,
    answers: 'homeowner=yes\nroof_age=15',
  };
}

function parseAnswers(text: string): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const line of text.split('\n')) {
    const i = line.indexOf('=');
    if (i <= 0) continue;
    const k = line.slice(0, i).trim();
    const v = line.slice(i + 1).trim();
    out[k] = v === 'true' ? true : v === 'false' ? false : v !== '' && !Number.isNaN(Number(v)) ? Number(v) : v;
  }
  return out;
}

function SubmitLead({
  defaultCampaignId,
  onClose,
  onDone,
}: {
  defaultCampaignId: string;
  onClose(): void;
  onDone(id: string): void;
}) {
  const { api, dir } = useConsole();
  const [campaignId, setCampaignId] = useState(defaultCampaignId);
  const [f, setF] = useState(sample);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [idem] = useState(randomId);
  const set = (k: keyof ReturnType<typeof sample>) => (e: { currentTarget: HTMLInputElement | HTMLTextAreaElement }) =>
    setF({ ...f, [k]: e.currentTarget.value });
  const fieldErr = (k: string) =>
    error && typeof error === 'object' && 'fieldError' in error
      ? (error as { fieldError(p: string): string | undefined }).fieldError(k)
      : undefined;
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const { answers, ...rest } = f;
      // What was typed, as typed: a missing field is the API's to name (its problem marks the field).
      const fields = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== '')) as Omit<
        LeadFields,
        'answers'
      >;
      const res = await ok(
        api.client.POST('/v1/leads', {
          params: { header: { 'Idempotency-Key': idem } },
          body: { campaignId, fields: { ...fields, answers: parseAnswers(answers) } },
        }),
      );
      toast('Lead accepted – routing it now', 'ok');
      onDone(res.lead.id);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal title="Submit a test lead" onClose={onClose}>
      <form onSubmit={submit} class="stack">
        <Field label="Campaign" error={fieldErr('campaignId')}>
          <select value={campaignId} onChange={(e) => setCampaignId(e.currentTarget.value)} required>
            <option value="">Choose…</option>
            {dir.campaigns.map((c) => (
              <option key={c.id} value={c.id} disabled={c.status !== 'active'}>
                {c.name} ({c.mode === 'push' ? 'push' : 'ping post'}){c.status !== 'active' ? ' – paused' : ''}
              </option>
            ))}
          </select>
        </Field>
        <div class="row">
          <Field label="First name" error={fieldErr('firstName')}>
            <input type="text" value={f.firstName} onInput={set('firstName')} required />
          </Field>
          <Field label="Last name" error={fieldErr('lastName')}>
            <input type="text" value={f.lastName} onInput={set('lastName')} required />
          </Field>
        </div>
        <div class="row">
          <Field label="Phone" error={fieldErr('phone')}>
            <input type="text" value={f.phone} onInput={set('phone')} required />
          </Field>
          <Field label="Email" error={fieldErr('email')}>
            <input type="email" value={f.email} onInput={set('email')} required />
          </Field>
        </div>
        <Field label="Address" error={fieldErr('address')}>
          <input type="text" value={f.address} onInput={set('address')} />
        </Field>
        <div class="row">
          <Field label="City" error={fieldErr('city')}>
            <input type="text" value={f.city} onInput={set('city')} />
          </Field>
          <Field label="State" error={fieldErr('state')}>
            <input type="text" value={f.state} onInput={set('state')} maxLength={2} />
          </Field>
          <Field label="ZIP" error={fieldErr('zip')}>
            <input type="text" name="zip" value={f.zip} onInput={set('zip')} required />
          </Field>
        </div>
        <Field label="Answers" hint="one question=answer per line" error={fieldErr('answers')}>
          <textarea rows={2} value={f.answers} onInput={set('answers')} class="mono" />
        </Field>
        {error ? <ErrorNote error={error} /> : null}
        <div class="row-actions">
          <Button type="submit" variant="primary" busy={busy} disabled={!campaignId}>
            Submit lead
          </Button>
          <Button variant="ghost" onClick={() => setF(sample())}>
            New sample
          </Button>
        </div>
      </form>
    </Modal>
  );
}

// ─── one lead ────────────────────────────────────────────────────────────────

export function LeadDetail({ id }: { id: string }) {
  const { api, dir } = useConsole();
  const lead = useAsync(
    () => ok(api.client.GET('/v1/leads/{id}', { params: { path: { id } } })).then((r) => r.lead),
    [id],
  );
  const timeline = useAsync(
    () => ok(api.client.GET('/v1/leads/{id}/timeline', { params: { path: { id } } })).then((r) => r.events),
    [id],
  );
  const reload = () => Promise.all([lead.reload(), timeline.reload()]).then(() => undefined);
  const moving = lead.data?.status === 'routing' || lead.data?.status === 'offered';
  useEffect(() => {
    if (!moving) return;
    const t = setInterval(() => void reload(), 2_000);
    return () => clearInterval(t);
  }, [moving, id]);

  if (lead.error) return <ErrorNote error={lead.error} />;
  const l = lead.data;
  if (!l) return <Loading />;
  return (
    <div class="page">
      <div class="breadcrumb">
        <Link href="/admin/leads">Leads</Link> / <span class="id">{shortId(l.id)}</span>
      </div>
      <div class="page-head">
        <div>
          <h1>
            {leadName(l)} <Badge value={l.status} />
          </h1>
          <p class="muted">
            {leadPlace(l)} · {dir.campaignName(l.campaignId)} · received {dateTime(l.createdAt)}
            {l.statusReason ? ` · ${l.statusReason.replace(/_/g, ' ')}` : ''}
          </p>
        </div>
        <Button size="sm" onClick={() => void reload()}>
          Refresh
        </Button>
      </div>
      {l.status === 'manual_review' ? (
        <Panel title="Manual review" class="panel-warn">
          <ReviewActions lead={l} onDone={() => void reload()} />
        </Panel>
      ) : null}
      <div class="grid-2">
        <Panel title="Lead">
          <dl>
            {(['firstName', 'lastName', 'phone', 'email', 'address', 'city', 'state', 'zip'] as const).map((k) => (
              <div class="kv" key={k}>
                <dt>{label(k)}</dt>
                <dd>{show(l.fields[k])}</dd>
              </div>
            ))}
            {Object.entries(l.fields.answers ?? {}).map(([q, a]) => (
              <div class="kv" key={q}>
                <dt>{label(q)}</dt>
                <dd>{show(a)}</dd>
              </div>
            ))}
            <div class="kv" data-testid="lead-source">
              <dt>Source</dt>
              <dd>
                {l.sourceId ? (
                  <Link href={`/admin/sources/${l.sourceId}`}>{l.sourceName ?? shortId(l.sourceId)}</Link>
                ) : (
                  <span class="muted">the agency's own</span>
                )}
              </dd>
            </div>
            <div class="kv" data-testid="lead-sub-id">
              <dt>Sub-id</dt>
              <dd class="id">{show(l.subId)}</dd>
            </div>
            <div class="kv" data-testid="lead-click-id">
              <dt>Click id</dt>
              <dd class="id">{show(l.clickId)}</dd>
            </div>
          </dl>
          <h3>Contact checks</h3>
          {l.contactChecks.length === 0 ? (
            <p class="muted">Not checked (received before the checks existed).</p>
          ) : (
            <dl data-testid="contact-checks">
              {l.phoneE164 ? (
                <div class="kv" data-testid="lead-phone-e164">
                  <dt>Phone (E.164)</dt>
                  <dd class="mono">
                    {l.phoneE164}
                    {l.phoneType ? <span class="muted"> · {l.phoneType.replace(/_/g, ' ')}</span> : null}
                  </dd>
                </div>
              ) : null}
              {l.contactChecks.map((c) => (
                <div class="kv" key={c.check} data-check={c.check}>
                  <dt>{c.check === 'email_mx' ? 'Email MX' : label(c.check)}</dt>
                  <dd>
                    <Badge value={c.result} />
                    {checkChips(c as unknown as Record<string, unknown>).map(([k, v]) => (
                      <Fragment key={k}>
                        {' '}
                        <span class="tl-chip">
                          {k} {v}
                        </span>
                      </Fragment>
                    ))}
                    {c.detail ? <span class="muted"> {c.detail}</span> : null}
                  </dd>
                </div>
              ))}
            </dl>
          )}
        </Panel>
        <div>
          <Panel title={`Offers (${l.offers.length})`}>
            {l.offers.length === 0 ? <p class="muted">No offer yet.</p> : null}
            <div class="table-wrap">
              <table class="table">
                {l.offers.length ? (
                  <thead>
                    <tr>
                      <th>Offer</th>
                      <th>Campaign</th>
                      <th>Status</th>
                      <th class="num">Price</th>
                      <th>Opened</th>
                    </tr>
                  </thead>
                ) : null}
                <tbody>
                  {l.offers.map((o) => (
                    <tr key={o.id} class="clickable" onClick={() => navigate(`/admin/offers/${o.id}`)}>
                      <td>
                        <Link href={`/admin/offers/${o.id}`} title="Open the offer timeline">
                          <span class="mono">{shortId(o.id)}</span> timeline →
                        </Link>
                        <div class="muted">
                          {o.kind.replace('_', ' ')}
                          {o.depth ? ` · fallback ${o.depth}` : ''}
                        </div>
                      </td>
                      <td>{dir.campaignName(o.campaignId)}</td>
                      <td>
                        <Badge value={o.status} />
                        {o.maxWinners > 1 ? (
                          <span class="muted">
                            {' '}
                            {o.winners}/{o.maxWinners}
                          </span>
                        ) : null}
                      </td>
                      <td class="num">{o.price}</td>
                      <td title={dateTime(o.openedAt)}>{ago(o.openedAt)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </Panel>
          <Panel title="Sales">
            {l.assignments.length === 0 ? <p class="muted">Not sold.</p> : null}
            {l.assignments.map((a) => (
              <div class="kv" key={a.id}>
                <dt>
                  <Link href={`/admin/buyers/${a.buyerId}`}>{dir.buyerName(a.buyerId)}</Link>
                </dt>
                <dd>
                  {credits(a.price)} · {a.exclusive ? 'exclusive' : 'shared'} · <Badge value={a.status} /> ·{' '}
                  {dateTime(a.createdAt)}
                </dd>
              </div>
            ))}
          </Panel>
        </div>
      </div>
      <Panel title="Lead timeline (all offers)">
        {timeline.data ? <TimelineView events={timeline.data} compact /> : <Loading />}
      </Panel>
    </div>
  );
}
