/**
 * The campaign editor's ping tree (auction `ping_tree`, #22): the ordered
 * tiers, each with its floor and its endpoint buyers, edited through the one
 * form state (form.ts `tiers`). Only the agency's buyers with an endpoint can
 * be picked (GET /v1/buyers?endpoint=set); the others are listed with why and
 * a link to their endpoint page. A buyer is in at most one tier. The API's
 * field errors (`pingTree.tiers.<t>.floor`, `pingTree.tiers.<t>.buyerIds.<i>`)
 * are shown next to the tier's floor and the buyer they name. A tree buyer
 * left out of a chosen buyer pool is marked: routing never makes it eligible,
 * so it is never pinged.
 */
import { useState } from 'preact/hooks';

import { credits } from '../../shared/format';
import type { Buyer, Campaign } from '../../shared/types';
import { Button, ErrorNote, Field, Loading, Panel } from '../../shared/ui';
import { useConsole } from '../context';
import { Link } from '../router';
import { useEndpointBuyerIds } from './endpoint-buyers';
import type { CampaignForm, TierRow } from './form';

/** The page of a buyer, whose "Endpoint" section sets up the endpoint. */
const endpointPage = (buyerId: string) => `/admin/buyers/${buyerId}`;

/** The form's tiers with tier `i` moved by `by` places (kept in bounds). */
function moved(tiers: TierRow[], i: number, by: -1 | 1): TierRow[] {
  const j = i + by;
  if (j < 0 || j >= tiers.length) return tiers;
  const out = [...tiers];
  [out[i], out[j]] = [out[j]!, out[i]!];
  return out;
}

/** After a move, the keyboard stays with the tier that moved: on its same button, or the other when that one is now off. */
function keepFocusOnMovedTier(j: number, by: -1 | 1): void {
  requestAnimationFrame(() => {
    const tier = document.querySelector(`[data-testid=tier-${j}]`);
    const buttons = [by === -1 ? 'up' : 'down', by === -1 ? 'down' : 'up'].map((d) =>
      tier?.querySelector<HTMLButtonElement>(`button[data-move=${d}]`),
    );
    buttons.find((b) => b && !b.disabled)?.focus();
  });
}

export function PingTreePanel({ form }: { form: CampaignForm }) {
  const { dir } = useConsole();
  const { f, up, fe } = form;
  const withEndpoint = useEndpointBuyerIds();
  const tiers = f.tiers;
  const setTiers = (next: TierRow[]) => up({ tiers: next });
  const setTier = (i: number, p: Partial<TierRow>) => setTiers(tiers.map((t, j) => (j === i ? { ...t, ...p } : t)));
  const tierOf = new Map(tiers.flatMap((t, i) => t.buyerIds.map((b) => [b, i] as const)));
  const lacking = withEndpoint.data ? dir.buyers.filter((b) => !withEndpoint.data!.has(b.id)) : [];

  return (
    <Panel
      title="Ping tree"
      actions={<span class="muted">tier by tier: the best bid at or above the floor is posted</span>}
    >
      <div data-testid="ping-tree">
        <p class="muted">
          Each tier's buyers are pinged together through their own systems; a rejected post falls to the next bid, then
          to the next tier, then to the fallback campaign.
        </p>
        {fe('pingTree') || fe('pingTree.tiers') ? (
          <div class="field-msg" role="alert">
            {fe('pingTree') ?? fe('pingTree.tiers')}
          </div>
        ) : null}
        <ErrorNote error={withEndpoint.error} />
        {!withEndpoint.data && !withEndpoint.error ? <Loading label="Loading the buyers with an endpoint…" /> : null}
        <ol class="tiers">
          {tiers.map((tier, i) => (
            <TierEditor
              key={i}
              form={form}
              index={i}
              count={tiers.length}
              tier={tier}
              pickable={withEndpoint.data ?? new Set()}
              tierOf={tierOf}
              set={(p) => setTier(i, p)}
              move={(by) => {
                setTiers(moved(tiers, i, by));
                keepFocusOnMovedTier(i + by, by);
              }}
              remove={() => setTiers(tiers.filter((_, j) => j !== i))}
            />
          ))}
        </ol>
        <Button size="sm" variant="ghost" onClick={() => setTiers([...tiers, { floor: '', buyerIds: [] }])}>
          + Tier
        </Button>
        {lacking.length ? (
          <div class="note note-info" data-testid="ping-tree-no-endpoint">
            <strong>Without an endpoint, cannot be picked:</strong> a ping tree pings the buyer's own system, so a buyer
            needs its ping and post URLs first.
            <ul>
              {lacking.map((b) => (
                <li key={b.id}>
                  {b.name} – <Link href={endpointPage(b.id)}>set up its endpoint</Link>
                </li>
              ))}
            </ul>
          </div>
        ) : null}
      </div>
    </Panel>
  );
}

function TierEditor({
  form: { f, fe },
  index: i,
  count,
  tier,
  pickable,
  tierOf,
  set,
  move,
  remove,
}: {
  form: CampaignForm;
  index: number;
  count: number;
  tier: TierRow;
  pickable: Set<string>;
  tierOf: Map<string, number>;
  set(p: Partial<TierRow>): void;
  move(by: -1 | 1): void;
  remove(): void;
}) {
  const { dir } = useConsole();
  const [pick, setPick] = useState('');
  const name = `Tier ${i + 1}`;
  const base = `pingTree.tiers.${i}`;
  /** Why a buyer cannot be added to this tier, if it cannot. */
  const why = (b: Buyer) =>
    !pickable.has(b.id)
      ? 'no endpoint'
      : tierOf.has(b.id)
        ? tierOf.get(b.id) === i
          ? 'in this tier'
          : `in tier ${tierOf.get(b.id)! + 1}`
        : null;
  const add = () => {
    if (!pick) return;
    set({ buyerIds: [...tier.buyerIds, pick] });
    setPick('');
  };
  return (
    <li class="tier" data-testid={`tier-${i}`}>
      <fieldset>
        <legend>{name}</legend>
        <div class="tier-head">
          <Field label="Floor (credits)" hint="the lowest bid this tier takes" error={fe(`${base}.floor`)}>
            <input
              type="number"
              name={`${base}.floor`}
              min={0}
              step={1}
              value={tier.floor}
              onInput={(e) => set({ floor: e.currentTarget.value })}
              required
            />
          </Field>
          <div class="row-actions tier-actions">
            <Button
              size="sm"
              variant="ghost"
              disabled={i === 0}
              onClick={() => move(-1)}
              data-move="up"
              aria-label={`Move ${name} up`}
            >
              ↑ Up
            </Button>
            <Button
              size="sm"
              variant="ghost"
              disabled={i === count - 1}
              onClick={() => move(1)}
              data-move="down"
              aria-label={`Move ${name} down`}
            >
              ↓ Down
            </Button>
            <Button size="sm" variant="ghost" onClick={remove} aria-label={`Remove ${name}`}>
              Remove tier
            </Button>
          </div>
        </div>
        <ul class="tier-buyers" aria-label={`Buyers of ${name}`}>
          {tier.buyerIds.map((id, k) => {
            const error = fe(`${base}.buyerIds.${k}`);
            return (
              <li key={id} class={error ? 'field-error' : ''} data-testid="tier-buyer">
                <span>{dir.buyerName(id)}</span>
                <button
                  type="button"
                  class="icon-btn"
                  aria-label={`Remove ${dir.buyerName(id)} from ${name}`}
                  onClick={() => set({ buyerIds: tier.buyerIds.filter((x) => x !== id) })}
                >
                  ×
                </button>
                {!f.allBuyers && !f.pool[id]?.on ? (
                  <span class="muted" data-testid="outside-pool">
                    not in the buyer pool: never pinged
                  </span>
                ) : null}
                {error ? <span class="field-msg">{error}</span> : null}
              </li>
            );
          })}
          {tier.buyerIds.length === 0 ? <li class="muted">No buyer yet: add at least one.</li> : null}
        </ul>
        {fe(`${base}.buyerIds`) ? <div class="field-msg">{fe(`${base}.buyerIds`)}</div> : null}
        <div class="row tier-add">
          <Field label={`Add a buyer to ${name.toLowerCase()}`}>
            <select value={pick} name={`${base}.add`} onChange={(e) => setPick(e.currentTarget.value)}>
              <option value="">Choose a buyer with an endpoint…</option>
              {dir.buyers.map((b) => {
                const no = why(b);
                return (
                  <option key={b.id} value={b.id} disabled={no !== null}>
                    {b.name}
                    {no ? ` (${no})` : ''}
                  </option>
                );
              })}
            </select>
          </Field>
          <Button size="sm" disabled={!pick} onClick={add}>
            Add buyer
          </Button>
        </div>
      </fieldset>
    </li>
  );
}

/** A saved campaign's tree in one line per tier, for lists: "Tier 1 · from 30 credits: Acme, Beta". */
export function PingTreeSummary({ tree }: { tree: NonNullable<Campaign['pingTree']> }) {
  const { dir } = useConsole();
  return (
    <ol class="tree-summary" data-testid="ping-tree-summary">
      {tree.tiers.map((t, i) => (
        <li key={i}>
          Tier {i + 1} · from {credits(t.floor)}: {t.buyerIds.map((b) => dir.buyerName(b)).join(', ')}
        </li>
      ))}
    </ol>
  );
}
