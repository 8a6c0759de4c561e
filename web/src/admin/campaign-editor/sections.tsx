/**
 * The campaign editor's sections, each reading and writing the one form state
 * (form.ts): what is sold (basics), how (delivery mode, auction), how many
 * winners and where unsold leads go, what a buyer sees before buying, the
 * campaign caps and the buyer pool. Pricing rules are in PricingRules.tsx.
 */
import { useState } from 'preact/hooks';

import type { AuctionKind, AuctionPricing, DncRule, PushStrategy } from '../../shared/types';
import { Button, Field, Panel } from '../../shared/ui';
import { useConsole } from '../context';
import { type CampaignForm, type Form, MODE_LABEL, PREVIEWABLE_FIELDS, STRATEGY_LABEL } from './form';

type Props = { form: CampaignForm };

/** Name, service line and status. */
export function BasicsFields({ form: { f, up, fe } }: Props) {
  const { dir } = useConsole();
  return (
    <>
      <Field label="Name" error={fe('name')}>
        <input
          type="text"
          name="name"
          value={f.name}
          onInput={(e) => up({ name: e.currentTarget.value })}
          required
          maxLength={200}
        />
      </Field>
      <div class="row">
        <Field label="Service line" error={fe('serviceLine')}>
          <select value={f.serviceLine} onChange={(e) => up({ serviceLine: e.currentTarget.value })}>
            {dir.serviceLines.map((s) => (
              <option key={s.id} value={s.key}>
                {s.name} ({s.key})
              </option>
            ))}
          </select>
        </Field>
        <Field label="Status">
          <select value={f.status} onChange={(e) => up({ status: e.currentTarget.value as Form['status'] })}>
            <option value="active">active</option>
            <option value="paused">paused</option>
          </select>
        </Field>
      </div>
    </>
  );
}

/** Ping post (claim window, auction) or push (strategy). */
export function DeliveryModeFields({ form: { f, up, fe } }: Props) {
  return (
    <>
      <Field label="Delivery mode">
        <div class="segmented" role="radiogroup">
          {(['ping_post', 'push'] as const).map((m) => (
            <button
              type="button"
              key={m}
              class={f.mode === m ? 'on' : ''}
              role="radio"
              aria-checked={f.mode === m}
              onClick={() => up({ mode: m })}
            >
              {MODE_LABEL[m]}
            </button>
          ))}
        </div>
      </Field>
      <div class="row">
        <Field label="Claim window (s)" hint="ping post: how long buyers may claim" error={fe('claimWindowSeconds')}>
          <input
            type="number"
            name="claimWindowSeconds"
            min={1}
            max={86400}
            value={f.claimWindowSeconds}
            onInput={(e) => up({ claimWindowSeconds: e.currentTarget.value })}
          />
        </Field>
        <Field label="Push strategy" hint="push: who gets the lead">
          <select value={f.pushStrategy} onChange={(e) => up({ pushStrategy: e.currentTarget.value as PushStrategy })}>
            {(Object.keys(STRATEGY_LABEL) as PushStrategy[]).map((s) => (
              <option key={s} value={s}>
                {STRATEGY_LABEL[s]}
              </option>
            ))}
          </select>
        </Field>
      </div>
      {f.mode === 'ping_post' ? (
        <div class="row">
          <Field label="Auction" hint="how a ping-post offer is won">
            <select value={f.auction} onChange={(e) => up({ auction: e.currentTarget.value as AuctionKind })}>
              <option value="first_claim">First valid claim wins</option>
              <option value="highest_bid">Highest sealed bid at close</option>
              <option value="ping_tree">Ping tree of buyers' own systems</option>
            </select>
          </Field>
          {f.auction === 'highest_bid' ? (
            <>
              <Field label="Floor (credits)" hint="empty: the lead's price" error={fe('floorPrice')}>
                <input
                  type="number"
                  min={0}
                  value={f.floorPrice}
                  onInput={(e) => up({ floorPrice: e.currentTarget.value })}
                />
              </Field>
              <Field label="Winner pays">
                <select value={f.pricing} onChange={(e) => up({ pricing: e.currentTarget.value as AuctionPricing })}>
                  <option value="first_price">its bid</option>
                  <option value="second_price">the next bid</option>
                </select>
              </Field>
            </>
          ) : null}
        </div>
      ) : null}
    </>
  );
}

/** How many buyers a lead is sold to, and where an unsold lead goes next. */
export function WinnersAndFallbackFields({ form: { f, up, fe }, campaignId }: Props & { campaignId?: string }) {
  const { dir } = useConsole();
  return (
    <div class="row">
      <Field label="Max winners" hint="1 = exclusive; N = shared lead" error={fe('maxWinners')}>
        <input
          type="number"
          min={1}
          max={100}
          value={f.maxWinners}
          onInput={(e) => up({ maxWinners: e.currentTarget.value })}
        />
      </Field>
      <Field label="Fallback campaign" hint="where unsold leads go next" error={fe('fallbackCampaignId')}>
        <select value={f.fallbackCampaignId} onChange={(e) => up({ fallbackCampaignId: e.currentTarget.value })}>
          <option value="">None – manual review</option>
          {dir.campaigns
            .filter((c) => c.id !== campaignId)
            .map((c) => (
              <option key={c.id} value={c.id}>
                {c.name}
              </option>
            ))}
        </select>
      </Field>
    </div>
  );
}

/** The lead fields (and single answers) a buyer sees before buying. */
export function PreviewFieldsSection({ form: { f, up, fe } }: Props) {
  const [answer, setAnswer] = useState('');
  const togglePreview = (k: string) =>
    up({
      previewFields: f.previewFields.includes(k) ? f.previewFields.filter((x) => x !== k) : [...f.previewFields, k],
    });
  const extraPreview = f.previewFields.filter((k) => !(PREVIEWABLE_FIELDS as readonly string[]).includes(k));
  return (
    <div class="form-section">
      <h3>Visible before purchase (preview)</h3>
      <div class="checks">
        {PREVIEWABLE_FIELDS.map((k) => (
          <label key={k} class={`chip ${f.previewFields.includes(k) ? 'chip-on' : ''}`}>
            <input type="checkbox" checked={f.previewFields.includes(k)} onChange={() => togglePreview(k)} />
            {k === 'answers' ? 'all answers' : k}
          </label>
        ))}
        {extraPreview.map((k) => (
          <label key={k} class="chip chip-on">
            <input type="checkbox" checked onChange={() => togglePreview(k)} />
            {k}
          </label>
        ))}
      </div>
      <div class="row" style={{ marginTop: '8px' }}>
        <Field label="Add one answer" hint="a question name, e.g. homeowner">
          <input type="text" value={answer} onInput={(e) => setAnswer(e.currentTarget.value)} />
        </Field>
        <Button
          size="sm"
          disabled={!answer.trim()}
          onClick={() => {
            togglePreview(`answers.${answer.trim()}`);
            setAnswer('');
          }}
        >
          Add
        </Button>
      </div>
      {fe('previewFields') ? <div class="field-msg">{fe('previewFields')}</div> : null}
    </div>
  );
}

/** Leads per day, week and month; empty = unlimited. */
export function CapsPanel({ form: { f, up, fe } }: Props) {
  return (
    <Panel title="Campaign caps" actions={<span class="muted">leads per period; empty = unlimited</span>}>
      <div class="row">
        {(['daily', 'weekly', 'monthly'] as const).map((k) => (
          <Field key={k} label={k} error={fe(`caps.${k}`)}>
            <input
              type="number"
              min={0}
              value={f.caps[k]}
              onInput={(e) => up({ caps: { ...f.caps, [k]: e.currentTarget.value } })}
            />
          </Field>
        ))}
      </div>
    </Panel>
  );
}

/** What a lead on a Do-Not-Call list means for this campaign (#23): suppressed, or passed on written consent. */
export function DncRulePanel({ form: { f, up } }: Props) {
  return (
    <Panel title="Do-Not-Call">
      <Field
        label="A lead on a Do-Not-Call list"
        hint="the agency's own suppression lists always suppress; either way the check is on the lead's timeline"
      >
        <select
          value={f.dncRule}
          data-testid="dnc-rule"
          onChange={(e) => up({ dncRule: e.currentTarget.value as DncRule })}
        >
          <option value="suppress">is suppressed (to review, never sold)</option>
          <option value="consent_passes">passes when it carries express written consent</option>
        </select>
      </Field>
    </Panel>
  );
}

/** The consent certificate the campaign requires (#23): checked at intake, claimed for the buyer after the sale. */
export function ConsentCertificatePanel({ form: { f, up } }: Props) {
  return (
    <Panel title="Consent certificate">
      <Field label="Require a certificate" hint="intake refuses a lead without one, of another shape, or too old">
        <select
          value={f.certificateProvider}
          data-testid="certificate-provider"
          onChange={(e) => up({ certificateProvider: e.currentTarget.value as Form['certificateProvider'] })}
        >
          <option value="">no certificate required</option>
          <option value="trustedform">TrustedForm</option>
          <option value="jornaya">Jornaya (LeadiD)</option>
        </select>
      </Field>
      {f.certificateProvider && (
        <div class="row">
          <Field label="Oldest certificate (hours)">
            <input
              type="number"
              min="0.1"
              step="any"
              value={f.certificateMaxAgeHours}
              data-testid="certificate-max-age"
              onInput={(e) => up({ certificateMaxAgeHours: e.currentTarget.value })}
            />
          </Field>
          <Field label="When the claim fails" hint="after the sale, once every retry has failed">
            <select
              value={f.certificateOnFailure}
              data-testid="certificate-on-failure"
              onChange={(e) => up({ certificateOnFailure: e.currentTarget.value as Form['certificateOnFailure'] })}
            >
              <option value="flag">keep the sale, flag it and tell the buyer</option>
              <option value="return">return it automatically (one refund)</option>
            </select>
          </Field>
        </div>
      )}
    </Panel>
  );
}

/** Every buyer of the agency, or chosen ones with push priority and weight. */
export function BuyerPoolPanel({ form: { f, up, fe } }: Props) {
  const { dir } = useConsole();
  return (
    <Panel
      title="Buyer pool"
      actions={
        <span class="muted">
          {f.mode === 'push' ? 'priority: higher first · weight: share of leads' : 'who may see the auction'}
        </span>
      }
    >
      <label class="check">
        <input type="checkbox" checked={f.allBuyers} onChange={(e) => up({ allBuyers: e.currentTarget.checked })} />{' '}
        Every buyer of the agency (subscribed and in area)
      </label>
      {!f.allBuyers ? (
        <div style={{ marginTop: '10px' }}>
          <div class="pool-row muted">
            <span>Buyer</span>
            <span>Priority</span>
            <span>Weight</span>
          </div>
          {dir.buyers.map((b) => {
            const p = f.pool[b.id] ?? { on: false, priority: '0', weight: '1' };
            const set = (q: Partial<typeof p>) => up({ pool: { ...f.pool, [b.id]: { ...p, ...q } } });
            return (
              <div class="pool-row" key={b.id}>
                <label class="check">
                  <input type="checkbox" checked={p.on} onChange={(e) => set({ on: e.currentTarget.checked })} />{' '}
                  {b.name} <span class="muted">{b.serviceLines.join(', ')}</span>
                </label>
                <input
                  type="number"
                  value={p.priority}
                  disabled={!p.on}
                  onInput={(e) => set({ priority: e.currentTarget.value })}
                />
                <input
                  type="number"
                  min={1}
                  value={p.weight}
                  disabled={!p.on}
                  onInput={(e) => set({ weight: e.currentTarget.value })}
                />
              </div>
            );
          })}
          {fe('buyers') ? <div class="field-msg">{fe('buyers')}</div> : null}
        </div>
      ) : null}
    </Panel>
  );
}
