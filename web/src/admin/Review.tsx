/**
 * The manual review queue: leads nobody bought (no eligible buyer, every
 * fallback exhausted, an offer cancelled). Re-offer them (a new auction),
 * sell them to one buyer (charged like a claim), or reject them.
 */
import { useState } from 'preact/hooks';

import { allPages, messageOf, ok, toApiError } from '../shared/api';
import { ago, credits } from '../shared/format';
import type { ClaimFailureReason, Lead } from '../shared/types';
import { Badge, Button, Empty, ErrorNote, Field, Loading, Panel, toast, useAsync } from '../shared/ui';
import { useConsole } from './context';
import { leadName, leadPlace } from './Leads';
import { Link } from './router';

const SALE_REFUSED: Partial<Record<ClaimFailureReason, string>> = {
  lost_race: 'the lead was sold meanwhile',
  offer_closed: 'the offer closed',
  insufficient_credits: 'the buyer does not have enough credits – top up first',
  cap_reached: 'the buyer reached a cap',
  not_targeted: 'the buyer may not buy this lead',
  eligibility_changed: 'the buyer is no longer eligible (service line, area, status, hours or filters)',
  already_bought: 'the buyer already bought this person',
};

export function Review({ onChange }: { onChange(): void }) {
  const { api } = useConsole();
  const leads = useAsync(
    () =>
      allPages(
        'leads',
        (query) => api.client.GET('/v1/leads', { params: { query: { status: 'manual_review', ...query } } }),
        500,
      ),
    [],
  );
  const done = () => {
    void leads.reload();
    onChange();
  };
  return (
    <div class="page">
      <div class="page-head">
        <div>
          <h1>Manual review</h1>
          <p class="muted">
            Leads no buyer took: nobody eligible, every fallback campaign tried, or an auction cancelled. Nothing is
            lost – decide here.
          </p>
        </div>
        <Button size="sm" onClick={() => void leads.reload()}>
          Refresh
        </Button>
      </div>
      <ErrorNote error={leads.error} />
      {leads.loading && !leads.data ? <Loading /> : null}
      {leads.data && leads.data.length === 0 ? (
        <Empty title="The queue is empty">Every lead found a buyer or a decision.</Empty>
      ) : null}
      {(leads.data ?? []).map((l) => (
        <Panel
          key={l.id}
          title={
            <>
              <Link href={`/admin/leads/${l.id}`}>{leadName(l)}</Link> <span class="muted">· {leadPlace(l)}</span>
            </>
          }
          actions={
            <>
              <Badge value="manual_review" />
              <span class="muted">{ago(l.updatedAt)}</span>
            </>
          }
        >
          {l.statusReason ? <p class="muted">Why: {l.statusReason.replace(/_/g, ' ')}</p> : null}
          <ReviewActions lead={l} onDone={done} />
        </Panel>
      ))}
    </div>
  );
}

export function ReviewActions({ lead, onDone }: { lead: Lead; onDone(): void }) {
  const { api, dir } = useConsole();
  const [campaignId, setCampaignId] = useState(lead.campaignId);
  const [buyerId, setBuyerId] = useState('');
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState<string | null>(null);
  const [result, setResult] = useState<{ tone: 'ok' | 'bad'; text: string } | null>(null);

  const run = async (what: string, f: () => Promise<string>) => {
    setBusy(what);
    setResult(null);
    try {
      const text = await f();
      setResult({ tone: 'ok', text });
      toast(text, 'ok');
      onDone();
    } catch (err) {
      setResult({ tone: 'bad', text: messageOf(err) });
    } finally {
      setBusy(null);
    }
  };

  const reoffer = () =>
    run('reoffer', async () => {
      await ok(
        api.client.POST('/v1/leads/{id}/reoffer', {
          params: { path: { id: lead.id } },
          body: campaignId && campaignId !== lead.campaignId ? { campaignId } : {},
        }),
      );
      return `Re-offered in ${dir.campaignName(campaignId)}: a new auction is open.`;
    });
  const assign = () =>
    run('assign', async () => {
      const { data, error, response } = await api.client.POST('/v1/leads/{id}/assign', {
        params: { path: { id: lead.id } },
        body: { buyerId },
      });
      if (response.status === 200 && data?.result === 'won')
        return `Sold to ${dir.buyerName(buyerId)} for ${credits(data.charged ?? 0)}.`;
      const refused = error as { reason?: ClaimFailureReason } | undefined;
      if (refused?.reason) throw new Error(`Not sold: ${SALE_REFUSED[refused.reason] ?? refused.reason}.`);
      throw toApiError(response.status, error ?? null);
    });
  const reject = () =>
    run('reject', async () => {
      await ok(api.client.POST('/v1/leads/{id}/reject', { params: { path: { id: lead.id } }, body: { reason } }));
      return 'Lead rejected.';
    });

  return (
    <div class="review-actions">
      <div class="grid-3">
        <div class="stack">
          <Field label="Re-offer in campaign">
            <select value={campaignId} onChange={(e) => setCampaignId(e.currentTarget.value)}>
              {dir.campaigns.map((c) => (
                <option key={c.id} value={c.id} disabled={c.status !== 'active'}>
                  {c.name}
                  {c.id === lead.campaignId ? ' (its campaign)' : ''}
                </option>
              ))}
            </select>
          </Field>
          <Button variant="primary" busy={busy === 'reoffer'} disabled={!!busy} onClick={() => void reoffer()}>
            Re-offer
          </Button>
        </div>
        <div class="stack">
          <Field label="Assign to buyer">
            <select value={buyerId} onChange={(e) => setBuyerId(e.currentTarget.value)}>
              <option value="">Choose a buyer…</option>
              {dir.buyers.map((b) => (
                <option key={b.id} value={b.id}>
                  {b.name} · {b.balance} cr{b.status === 'paused' ? ' · paused' : ''}
                </option>
              ))}
            </select>
          </Field>
          <Button busy={busy === 'assign'} disabled={!!busy || !buyerId} onClick={() => void assign()}>
            Assign (charged)
          </Button>
        </div>
        <div class="stack">
          <Field label="Reject with reason">
            <input
              type="text"
              value={reason}
              maxLength={500}
              placeholder="e.g. fake number"
              onInput={(e) => setReason(e.currentTarget.value)}
            />
          </Field>
          <Button
            variant="danger"
            busy={busy === 'reject'}
            disabled={!!busy || !reason.trim()}
            onClick={() => void reject()}
          >
            Reject
          </Button>
        </div>
      </div>
      {result ? <div class={`note note-${result.tone}`}>{result.text}</div> : null}
    </div>
  );
}
