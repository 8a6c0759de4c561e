/**
 * The wallet's auto-recharge section (#21): the card on file (saved on Stripe's hosted page – this page never sees
 * a card number), the threshold and amount, on/off, and why auto-recharge is paused when it is.
 */
import { useEffect, useState } from 'preact/hooks';

import { type Api, ok } from '../../shared/api';
import { dateTime, money, num } from '../../shared/format';
import { Badge, Button, ErrorNote, Field, Loading, Panel, useAction, useAsync } from '../../shared/ui';

export function AutoRecharge({ api }: { api: Api }) {
  const billing = useAsync(async () => (await ok(api.client.GET('/v1/me/billing'))).billing, []);
  const b = billing.data;
  const [enabled, setEnabled] = useState(false);
  const [threshold, setThreshold] = useState('');
  const [credits, setCredits] = useState('');
  useEffect(() => {
    if (!b) return;
    setEnabled(b.recharge.enabled);
    setThreshold(b.recharge.threshold === null ? '' : String(b.recharge.threshold));
    setCredits(b.recharge.credits === null ? '' : String(b.recharge.credits));
  }, [b]);

  const [saveCard, savingCard] = useAction(async () => {
    const { url } = await ok(api.client.POST('/v1/me/billing/card'));
    window.location.assign(url);
  });
  const [removeCard, removing] = useAction(
    async () => billing.set((await ok(api.client.DELETE('/v1/me/billing/card'))).billing),
    { success: 'Card removed; auto-recharge is off' },
  );
  const [save, saving] = useAction(
    async () =>
      billing.set(
        (
          await ok(
            api.client.PUT('/v1/me/billing/recharge', {
              body: { enabled, threshold: Number(threshold), credits: Number(credits) },
            }),
          )
        ).billing,
      ),
    { success: 'Auto-recharge saved' },
  );

  if (!b)
    return <Panel title="Auto-recharge">{billing.error ? <ErrorNote error={billing.error} /> : <Loading />}</Panel>;
  if (!b.payments)
    return (
      <Panel title="Auto-recharge">
        <p class="muted" data-testid="recharge-unavailable">
          Your agency does not take card payments yet.
        </p>
      </Panel>
    );
  const terms = b.payments;
  return (
    <Panel
      title="Auto-recharge"
      actions={
        b.recharge.pausedReason ? (
          <Badge tone="warn">paused</Badge>
        ) : b.recharge.enabled ? (
          <Badge tone="ok">on</Badge>
        ) : null
      }
    >
      <div data-testid="auto-recharge">
        {b.recharge.pausedReason ? (
          <div class="note note-warn" data-testid="recharge-paused">
            {b.recharge.pausedReason}
            {b.recharge.pausedAt ? ` (since ${dateTime(b.recharge.pausedAt)})` : ''}
          </div>
        ) : null}
        <h3 class="subhead">Card on file</h3>
        {b.card ? (
          <p data-testid="saved-card">
            {(b.card.brand ?? 'card').toUpperCase()} ending {b.card.last4 ?? '????'}
            {b.card.exp ? `, expires ${b.card.exp}` : ''}{' '}
            <Button size="sm" busy={removing} onClick={() => void removeCard()} data-testid="remove-card">
              Remove
            </Button>
          </p>
        ) : (
          <p class="muted" data-testid="no-card">
            No card saved.
          </p>
        )}
        <Button size="sm" busy={savingCard} onClick={() => void saveCard()} data-testid="save-card">
          {b.card ? 'Save another card' : 'Save a card'}
        </Button>
        <p class="muted">You enter the card on Stripe's secure page; Leadwire never sees its number.</p>
        <h3 class="subhead">Recharge</h3>
        <label class="check">
          <input
            type="checkbox"
            checked={enabled}
            disabled={!b.card}
            onChange={(e) => setEnabled(e.currentTarget.checked)}
            data-testid="recharge-enabled"
          />{' '}
          Recharge automatically with this card
        </label>
        <Field label="When my balance falls below (credits)">
          <input
            class="input"
            inputMode="numeric"
            value={threshold}
            onInput={(e) => setThreshold(e.currentTarget.value)}
            data-testid="recharge-threshold"
          />
        </Field>
        <Field
          label="Buy this many credits"
          hint={`between ${num(terms.minCredits)} and ${num(terms.maxCredits)}; one credit costs ${money(terms.creditPrice, terms.currency)}`}
        >
          <input
            class="input"
            inputMode="numeric"
            value={credits}
            onInput={(e) => setCredits(e.currentTarget.value)}
            data-testid="recharge-credits"
          />
        </Field>
        <Button variant="primary" busy={saving} onClick={() => void save()} data-testid="save-recharge">
          Save
        </Button>
      </div>
    </Panel>
  );
}
