/**
 * The wallet's top-up by card (#21): the buyer's owners choose how many credits
 * (within the agency's bounds, the price shown) and "Pay with card" sends the
 * browser to Stripe's hosted page; the credits land when Stripe's signed webhook
 * arrives, and the balance follows `wallet.changed` on the feed. Members see who
 * can top up. Nothing here credits anything: coming back from Stripe only shows
 * a note.
 */
import { useState } from 'preact/hooks';

import { type Api, ApiError, messageOf, ok } from '../../shared/api';
import { money } from '../../shared/format';
import { Button, ErrorNote, Field, Panel, toast, useAsync } from '../../shared/ui';

/** What Stripe's return URL says (`?checkout=success|cancel&payment=<id>#wallet`), for the note only. */
function returnedFrom(): 'success' | 'cancel' | null {
  const v = new URLSearchParams(location.search).get('checkout');
  return v === 'success' || v === 'cancel' ? v : null;
}

export function TopUp({ api }: { api: Api }) {
  const state = useAsync(async () => {
    const [options, session] = await Promise.all([
      ok(api.client.GET('/v1/me/payments/options')),
      ok(api.client.GET('/v1/session')),
    ]);
    return { options, owner: session.organisation?.role === 'owner' };
  }, [api]);
  const [credits, setCredits] = useState('');
  const [busy, setBusy] = useState(false);
  // The API's word on the amount (the agency may have changed its bounds since the page loaded).
  const [refused, setRefused] = useState<string | null>(null);
  const returned = returnedFrom();

  if (!state.data) return <ErrorNote error={state.error} />;
  const { options, owner } = state.data;
  if (!options.enabled) return null;
  const min = options.minCredits!;
  const max = options.maxCredits!;
  const n = Number(credits);
  const valid = credits !== '' && Number.isInteger(n) && n >= min && n <= max;

  const pay = async () => {
    setBusy(true);
    try {
      const started = await ok(
        api.client.POST('/v1/me/payments/checkout', { body: { credits: n, currency: options.currency! } }),
      );
      location.assign(started.url);
    } catch (err) {
      const field = err instanceof ApiError ? err.fieldError('credits') : undefined;
      if (field) setRefused(field);
      else toast(messageOf(err), 'bad');
      setBusy(false);
    }
  };

  return (
    <Panel title="Top up by card" class="wallet-topup">
      <div id="wallet-topup" data-testid="wallet-topup">
        {returned === 'success' ? (
          <p class="note" data-testid="topup-returned">
            Thank you: your payment is being confirmed by Stripe. The credits appear here as soon as it is.
          </p>
        ) : returned === 'cancel' ? (
          <p class="note">The payment was cancelled; nothing was charged.</p>
        ) : null}
        <p class="muted">
          One credit costs {money(options.creditPrice!, options.currency!)}; a top-up buys {min} to {max} credits.
        </p>
        {owner ? (
          <form
            class="row"
            onSubmit={(e) => {
              e.preventDefault();
              if (valid && !busy) void pay();
            }}
          >
            <Field
              label="Credits"
              hint={valid ? `You pay ${money(n * options.creditPrice!, options.currency!)}` : undefined}
              error={credits !== '' && !valid ? `A whole number from ${min} to ${max}` : (refused ?? undefined)}
            >
              <input
                type="number"
                inputMode="numeric"
                min={min}
                max={max}
                step={1}
                value={credits}
                data-testid="topup-credits"
                onInput={(e) => {
                  setCredits((e.target as HTMLInputElement).value);
                  setRefused(null);
                }}
              />
            </Field>
            <Button type="submit" disabled={!valid || busy} data-testid="topup-pay">
              {busy ? 'Opening Stripe…' : 'Pay with card'}
            </Button>
          </form>
        ) : (
          <p class="note" data-testid="topup-member">
            Only your account&apos;s owners can top up by card: ask your account&apos;s owner.
          </p>
        )}
      </div>
    </Panel>
  );
}
