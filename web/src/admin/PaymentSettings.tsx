/**
 * The console's card payments settings (#21): the agency's Stripe secret key
 * and webhook signing secret (write-only: never shown, an empty field keeps the
 * stored one), the currency, a credit's price and the bounds of a top-up, and
 * "Test connection" (Stripe reads the account the key belongs to). The owners
 * edit; admins read and test. The webhook URL to register in Stripe is shown.
 */
import { useState } from 'preact/hooks';

import { ApiError, messageOf, ok } from '../shared/api';
import type { Schemas } from '../shared/types';
import { Button, ErrorNote, Field, Loading, Panel, toast, useAsync } from '../shared/ui';
import { useConsole } from './context';

type View = Schemas['PaymentSettingsView'];

export function PaymentSettingsPage() {
  const { api } = useConsole();
  const state = useAsync(async () => {
    const [current, session] = await Promise.all([
      ok(api.client.GET('/v1/payments/settings')),
      ok(api.client.GET('/v1/session')),
    ]);
    return { settings: current.settings, owner: session.organisation?.role === 'owner' };
  }, [api]);
  const [saved, setSaved] = useState<View | null | undefined>(undefined);
  const settings = saved === undefined ? (state.data?.settings ?? null) : saved;
  return (
    <div class="page">
      <div class="page-head">
        <div>
          <h1>Card payments</h1>
          <p class="muted">Buyers top up their wallets by card through your own Stripe account.</p>
        </div>
      </div>
      {state.loading && !state.data ? <Loading /> : null}
      <ErrorNote error={state.error} />
      {state.data ? (
        <Panel title="Stripe" class="payment-settings">
          <PaymentForm
            key={settings?.updatedAt ?? 'new'}
            saved={settings}
            owner={state.data.owner}
            onSaved={setSaved}
          />
          {settings ? <TestConnection /> : null}
        </Panel>
      ) : null}
    </div>
  );
}

function PaymentForm({ saved, owner, onSaved }: { saved: View | null; owner: boolean; onSaved(v: View): void }) {
  const { api } = useConsole();
  const [secretKey, setSecretKey] = useState('');
  const [webhookSecret, setWebhookSecret] = useState('');
  const [currency, setCurrency] = useState(saved?.currency ?? 'usd');
  const [creditPrice, setCreditPrice] = useState(String(saved?.creditPrice ?? 100));
  const [minCredits, setMinCredits] = useState(String(saved?.minCredits ?? 10));
  const [maxCredits, setMaxCredits] = useState(String(saved?.maxCredits ?? 1000));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setErrors({});
    try {
      const body = {
        ...(secretKey ? { secretKey: secretKey.trim() } : {}),
        ...(webhookSecret ? { webhookSecret: webhookSecret.trim() } : {}),
        currency: currency.trim(),
        creditPrice: Number(creditPrice),
        minCredits: Number(minCredits),
        maxCredits: Number(maxCredits),
      };
      const res = await ok(api.client.PUT('/v1/payments/settings', { body }));
      if (res.settings) onSaved(res.settings);
      toast('Card payments saved', 'ok');
    } catch (err) {
      if (err instanceof ApiError && err.errors.length) {
        const byField: Record<string, string> = {};
        for (const f of err.errors) byField[f.path.split('.')[0]!] ??= f.message;
        setErrors(byField);
      } else toast(messageOf(err), 'bad');
    } finally {
      setBusy(false);
    }
  };

  const stored = (what: string) =>
    saved ? `A ${what} is stored; it is never shown. Leave empty to keep it.` : 'Stored sealed; never shown.';
  return (
    <form class="form stack" onSubmit={submit} data-testid="payment-settings-form">
      {saved ? (
        <p class="muted">
          Key <code data-testid="payment-key-hint">{saved.secretKeyHint}</code> ({saved.mode} mode). Register this
          webhook endpoint in Stripe:{' '}
          <code data-testid="payment-webhook-url">{saved.webhookUrl ?? '(set LW_PUBLIC_URL)'}</code>
        </p>
      ) : null}
      {!owner ? <p class="note">Only the agency&apos;s owners change these settings.</p> : null}
      <fieldset disabled={!owner} class="stack">
        <Field label="Secret key" error={errors.secretKey} hint={stored('key')}>
          <input
            name="stripeSecretKey"
            type="password"
            autocomplete="off"
            value={secretKey}
            placeholder={saved ? '•••••••• (stored)' : 'sk_live_… or rk_live_…'}
            onInput={(e) => setSecretKey(e.currentTarget.value)}
            required={!saved}
          />
        </Field>
        <Field label="Webhook signing secret" error={errors.webhookSecret} hint={stored('secret')}>
          <input
            name="stripeWebhookSecret"
            type="password"
            autocomplete="off"
            value={webhookSecret}
            placeholder={saved ? '•••••••• (stored)' : 'whsec_…'}
            onInput={(e) => setWebhookSecret(e.currentTarget.value)}
            required={!saved}
          />
        </Field>
        <Field label="Currency" error={errors.currency} hint="ISO code in lower case: usd, eur, gbp…">
          <input name="currency" value={currency} onInput={(e) => setCurrency(e.currentTarget.value)} required />
        </Field>
        <Field label="Price of one credit" error={errors.creditPrice} hint="In the currency's minor units (cents)">
          <input
            name="creditPrice"
            type="number"
            min={1}
            step={1}
            value={creditPrice}
            onInput={(e) => setCreditPrice(e.currentTarget.value)}
          />
        </Field>
        <Field label="Fewest credits per top-up" error={errors.minCredits}>
          <input
            name="minCredits"
            type="number"
            min={1}
            step={1}
            value={minCredits}
            onInput={(e) => setMinCredits(e.currentTarget.value)}
          />
        </Field>
        <Field label="Most credits per top-up" error={errors.maxCredits}>
          <input
            name="maxCredits"
            type="number"
            min={1}
            step={1}
            value={maxCredits}
            onInput={(e) => setMaxCredits(e.currentTarget.value)}
          />
        </Field>
        {owner ? (
          <Button type="submit" variant="primary" busy={busy} data-testid="payment-settings-save">
            Save
          </Button>
        ) : null}
      </fieldset>
    </form>
  );
}

function TestConnection() {
  const { api } = useConsole();
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<Schemas['StripeConnection'] | null>(null);
  const run = async () => {
    setBusy(true);
    try {
      setResult(await ok(api.client.POST('/v1/payments/settings/test')));
    } catch (err) {
      toast(messageOf(err), 'bad');
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="stack">
      <Button busy={busy} onClick={() => void run()} data-testid="payment-test-connection">
        Test connection
      </Button>
      {result ? (
        <p class={`note ${result.ok ? 'note-ok' : 'note-bad'}`} data-testid="payment-test-result">
          {result.ok
            ? `Connected to ${result.displayName ?? 'Stripe account'} (${result.accountId})`
            : `Stripe refused: ${result.error}`}
        </p>
      ) : null}
    </div>
  );
}
