/**
 * The agency console's buyer-side panels (#12): per-buyer prices on a
 * campaign's page (fixed, or a percentage on the campaign price), and a
 * buyer's pipeline close rates (overall and per campaign) on its page.
 */
import { useState } from 'preact/hooks';

import { ok } from '../shared/api';
import { num, pct } from '../shared/format';
import { Button, Empty, ErrorNote, Field, Loading, Panel, toast, useAsync } from '../shared/ui';
import { useConsole } from './context';

/** A select of the agency's buyers; the empty value means none chosen. */
export function BuyerSelect({
  value,
  onChange,
  class: cls,
  testId,
}: {
  value: string;
  onChange(id: string): void;
  class?: string;
  testId?: string;
}) {
  const { dir } = useConsole();
  return (
    <select class={cls} value={value} onChange={(e) => onChange(e.currentTarget.value)} data-testid={testId}>
      <option value="">Choose a buyer…</option>
      {dir.buyers.map((b) => (
        <option key={b.id} value={b.id}>
          {b.name}
        </option>
      ))}
    </select>
  );
}

export function BuyerPricesPanel({ campaignId }: { campaignId: string }) {
  const { api, dir } = useConsole();
  const prices = useAsync(
    () =>
      ok(api.client.GET('/v1/campaigns/{id}/buyer-prices', { params: { path: { id: campaignId } } })).then(
        (r) => r.buyerPrices,
      ),
    [campaignId],
  );
  const [buyerId, setBuyerId] = useState('');
  const [kind, setKind] = useState<'fixed' | 'percent'>('fixed');
  const [value, setValue] = useState('');
  const [error, setError] = useState<unknown>(null);
  const set = async (id: string, rule: { kind: 'fixed' | 'percent'; value: number } | null) => {
    setError(null);
    try {
      await ok(
        api.client.POST('/v1/campaigns/{id}/buyer-prices', {
          params: { path: { id: campaignId } },
          body: { buyerId: id, rule },
        }),
      );
      toast(rule ? 'Buyer price set' : 'Buyer price removed', 'ok');
      await prices.reload();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <Panel
      title="Per-buyer prices"
      actions={<span class="muted">a buyer's own price on this campaign (not for highest-bid auctions)</span>}
    >
      {prices.loading && !prices.data ? <Loading /> : null}
      {prices.data && !prices.data.length ? <p class="muted">Every buyer pays the campaign price.</p> : null}
      {prices.data?.length ? (
        <ul class="pause-list" data-testid="buyer-prices">
          {prices.data.map((p) => (
            <li key={p.buyerId}>
              {dir.buyerName(p.buyerId)}:{' '}
              {p.kind === 'fixed'
                ? `${num(p.value)} credits`
                : `${p.value > 0 ? '+' : ''}${p.value}% on the campaign price`}{' '}
              <Button size="sm" variant="ghost" onClick={() => void set(p.buyerId, null)}>
                Remove
              </Button>
            </li>
          ))}
        </ul>
      ) : null}
      <div class="row">
        <Field label="Buyer">
          <BuyerSelect value={buyerId} onChange={setBuyerId} class="input" />
        </Field>
        <Field label="Rule">
          <select class="input" value={kind} onChange={(e) => setKind(e.currentTarget.value as 'fixed' | 'percent')}>
            <option value="fixed">fixed price (credits)</option>
            <option value="percent">percent on the campaign price</option>
          </select>
        </Field>
        <Field label={kind === 'fixed' ? 'Credits' : 'Percent (e.g. 20, -10)'}>
          <input class="input" inputMode="numeric" value={value} onInput={(e) => setValue(e.currentTarget.value)} />
        </Field>
        <Button
          size="sm"
          disabled={!buyerId || value.trim() === ''}
          onClick={() => void set(buyerId, { kind, value: Number(value) })}
        >
          Set price
        </Button>
      </div>
      <ErrorNote error={error ?? prices.error} />
    </Panel>
  );
}

export function CloseRatesPanel({ buyerId }: { buyerId: string }) {
  const { api, dir } = useConsole();
  const stats = useAsync(
    () =>
      ok(api.client.GET('/v1/buyers/{id}/stats', { params: { path: { id: buyerId }, query: { days: 90 } } })).then(
        (r) => r.pipeline,
      ),
    [buyerId],
  );
  const p = stats.data;
  return (
    <Panel
      title="Pipeline (last 90 days)"
      actions={<span class="muted">what the buyer marked: won job ÷ leads bought</span>}
    >
      <ErrorNote error={stats.error} />
      {!p ? <Loading /> : null}
      {p && !p.bought ? <Empty title="No leads bought in the period" /> : null}
      {p?.bought ? (
        <div data-testid="close-rates">
          <p>
            <strong>{p.closeRate === null ? '–' : pct(p.closeRate)}</strong> close rate · {num(p.bought)} bought ·{' '}
            {num(p.byStatus.won_job ?? 0)} won · {num(p.byStatus.lost_job ?? 0)} lost · jobs worth {num(p.jobValue)}
          </p>
          <div class="table-wrap">
            <table class="table">
              <thead>
                <tr>
                  <th>Campaign</th>
                  <th class="num">Bought</th>
                  <th class="num">Won</th>
                  <th class="num">Lost</th>
                  <th class="num">Close rate</th>
                </tr>
              </thead>
              <tbody>
                {Object.entries(p.byCampaign).map(([id, c]) => (
                  <tr key={id}>
                    <td>{id === 'manual' ? 'manual sales' : dir.campaignName(id)}</td>
                    <td class="num">{num(c.bought)}</td>
                    <td class="num">{num(c.won)}</td>
                    <td class="num">{num(c.lost)}</td>
                    <td class="num">{c.closeRate === null ? '–' : pct(c.closeRate)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </div>
      ) : null}
    </Panel>
  );
}
