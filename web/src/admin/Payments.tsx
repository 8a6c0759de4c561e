/**
 * The console's card payments (#21): every top-up and auto-recharge of the
 * agency's buyers, newest first, filtered by status and buyer (the filters
 * travel in the URL), with what was refunded, what is pending and what is
 * disputed. An owner or admin refunds a succeeded payment, whole or in part,
 * in credits (what the refund route takes): the confirmation says what the
 * buyer's wallet loses. The refund is asked of Stripe and shown pending; the
 * credits leave the wallet only when Stripe's webhook says it succeeded, so
 * the page polls while a refund is pending. A payment's refunds and disputes
 * open below its row, with the buyer's `payment_disputed` pause.
 */
import { useEffect, useState } from 'preact/hooks';

import { type Api, ApiError, messageOf, ok } from '../shared/api';
import { credits, dateTime, money } from '../shared/format';
import type { Schemas } from '../shared/types';
import { Badge, Button, Empty, ErrorNote, Field, Loading, Modal, toast, useAsync, useMorePages } from '../shared/ui';
import { useConsole } from './context';
import { Link, navigate, useLocation } from './router';

type Payment = Schemas['PaymentView'];
type Status = Payment['status'];
const STATUSES: Status[] = ['succeeded', 'pending', 'failed', 'canceled'];
/** Payments and refunds share their four statuses (domain/payments.ts). */
const TONE: Record<Status, string> = { succeeded: 'ok', pending: 'info', failed: 'bad', canceled: 'muted' };
/** The pause reason a dispute that overdraws a wallet gives its buyer (domain/payments.ts). */
const PAYMENT_DISPUTED = 'payment_disputed';
/** While a refund waits for Stripe's webhook, the list is read again this often. */
const POLL_MS = 5_000;

/** Credits of a payment that may still be refunded: not refunded, not disputed, not in a pending refund. */
const refundable = (p: Payment) => p.credits - p.refundedCredits - p.disputedCredits - p.pendingRefundCredits;

/** The buyer as it is now (its balance and pause), not as the console's directory loaded it. */
const buyerOf = async (api: Api, id: string) =>
  (await ok(api.client.GET('/v1/buyers/{id}', { params: { path: { id } } }))).buyer;

/** The console's payments; `canRefund`: the signed-in role may refund (the authorization table: owners and admins). */
export function Payments({ canRefund }: { canRefund: boolean }) {
  const { api, dir } = useConsole();
  const { query } = useLocation();
  const status = STATUSES.find((s) => s === query.get('status'));
  const buyerId = dir.buyers.find((b) => b.id === query.get('buyerId'))?.id;
  const filters = { ...(status ? { status } : {}), ...(buyerId ? { buyerId } : {}) };
  const key = JSON.stringify(filters);
  const { extra, setExtra, cursor, setCursor, more } = useMorePages('payments', (cursor) =>
    api.client.GET('/v1/payments', { params: { query: { ...filters, limit: 50, cursor } } }),
  );
  const list = useAsync(async () => {
    const page = await ok(api.client.GET('/v1/payments', { params: { query: { ...filters, limit: 50 } } }));
    setExtra([]);
    setCursor(page.nextCursor);
    return page;
  }, [key]);
  const payments = [...(list.data?.payments ?? []), ...extra];
  const waiting = payments.some((p) => p.pendingRefundCredits > 0);
  useEffect(() => {
    if (!waiting) return;
    const t = setInterval(() => void list.reload(), POLL_MS);
    return () => clearInterval(t);
  }, [waiting]);
  const [refunding, setRefunding] = useState<Payment | null>(null);
  const [open, setOpen] = useState<string | null>(null);

  const setFilter = (name: string, value: string) => {
    const q = new URLSearchParams(query);
    if (value) q.set(name, value);
    else q.delete(name);
    const s = q.toString();
    navigate(`/admin/payments${s ? `?${s}` : ''}`, { replace: true });
  };

  return (
    <div class="page">
      <div class="page-head">
        <div>
          <h1>Payments</h1>
          <p class="muted">
            Buyers' card top-ups and auto-recharges. A refund goes back to the card; its credits leave the buyer's
            wallet when Stripe confirms it.
          </p>
        </div>
        <div class="row">
          <select
            aria-label="Buyer"
            data-testid="payments-buyer"
            style={{ width: 'auto' }}
            value={buyerId ?? ''}
            onChange={(e) => setFilter('buyerId', e.currentTarget.value)}
          >
            <option value="">All buyers</option>
            {dir.buyers.map((b) => (
              <option key={b.id} value={b.id}>
                {b.name}
              </option>
            ))}
          </select>
          <div class="segmented" data-testid="payments-status">
            {(['all', ...STATUSES] as const).map((s) => (
              <button
                key={s}
                class={(status ?? 'all') === s ? 'on' : ''}
                onClick={() => setFilter('status', s === 'all' ? '' : s)}
              >
                {s}
              </button>
            ))}
          </div>
        </div>
      </div>
      <ErrorNote error={list.error} />
      {list.loading && !list.data ? <Loading /> : null}
      {list.data && !payments.length ? <Empty title="No card payment here" /> : null}
      {payments.length ? (
        <div class="table-wrap">
          <table class="table" data-testid="payments-table">
            <thead>
              <tr>
                <th>Created</th>
                <th>Buyer</th>
                <th class="num">Credits</th>
                <th class="num">Amount</th>
                <th>Status</th>
                <th>Card</th>
                <th>Refunded</th>
                <th>Disputed</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {payments.map((p) => (
                <PaymentRow
                  key={p.id}
                  payment={p}
                  open={open === p.id}
                  onToggle={() => setOpen(open === p.id ? null : p.id)}
                  onRefund={canRefund && p.status === 'succeeded' && refundable(p) > 0 ? () => setRefunding(p) : null}
                />
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {cursor ? (
        <Button onClick={() => void more()} data-testid="payments-more">
          Load more
        </Button>
      ) : null}
      {refunding ? (
        <RefundDialog
          payment={refunding}
          onClose={() => setRefunding(null)}
          onDone={() => {
            setRefunding(null);
            void list.reload();
          }}
        />
      ) : null}
    </div>
  );
}

function PaymentRow({
  payment: p,
  open,
  onToggle,
  onRefund,
}: {
  payment: Payment;
  open: boolean;
  onToggle(): void;
  onRefund: (() => void) | null;
}) {
  const { dir } = useConsole();
  return (
    <>
      <tr data-testid="payment-row" data-payment-id={p.id}>
        <td>{dateTime(p.createdAt)}</td>
        <td>
          <Link href={`/admin/buyers/${p.buyerId}`}>{dir.buyerName(p.buyerId)}</Link>
        </td>
        <td class="num">{credits(p.credits)}</td>
        <td class="num">{money(p.amount, p.currency)}</td>
        <td>
          <Badge tone={TONE[p.status]}>{p.status}</Badge>
          {p.failureMessage ? <div class="fine">{p.failureMessage}</div> : null}
        </td>
        <td>{p.cardLast4 ? `${(p.cardBrand ?? 'card').toUpperCase()} ·${p.cardLast4}` : '–'}</td>
        <td data-testid="payment-refunded">
          {p.refundedCredits ? credits(p.refundedCredits) : '–'}
          {p.pendingRefundCredits ? (
            <div>
              <Badge tone="info">{`${credits(p.pendingRefundCredits)} pending`}</Badge>
            </div>
          ) : null}
        </td>
        <td data-testid="payment-disputed">
          {p.disputedCredits ? <Badge tone="bad">{credits(p.disputedCredits)}</Badge> : '–'}
        </td>
        <td class="actions">
          <Button size="sm" variant="ghost" onClick={onToggle} data-testid="payment-details">
            {open ? 'Hide' : 'Details'}
          </Button>
          {onRefund ? (
            <Button size="sm" onClick={onRefund} data-testid="payment-refund">
              Refund
            </Button>
          ) : null}
        </td>
      </tr>
      {open ? (
        <tr class="subrow">
          <td colSpan={9}>
            <PaymentDetail payment={p} />
          </td>
        </tr>
      ) : null}
    </>
  );
}

/** A payment's refunds and disputes (GET /v1/payments/{id}), and the buyer's pause when a dispute caused it. */
function PaymentDetail({ payment: p }: { payment: Payment }) {
  const { api } = useConsole();
  const detail = useAsync(async () => {
    const [d, buyer] = await Promise.all([
      ok(api.client.GET('/v1/payments/{id}', { params: { path: { id: p.id } } })),
      buyerOf(api, p.buyerId),
    ]);
    return { ...d, buyer };
  }, [p]);
  if (!detail.data) return detail.error ? <ErrorNote error={detail.error} /> : <Loading />;
  const { refunds, disputes, buyer } = detail.data;
  return (
    <div class="stack" data-testid="payment-detail">
      {p.receiptUrl ? (
        <a href={p.receiptUrl} target="_blank" rel="noreferrer">
          Stripe's receipt
        </a>
      ) : null}
      {!refunds.length && !disputes.length ? <p class="muted">No refund or dispute.</p> : null}
      {refunds.map((r) => (
        <p key={r.id} data-testid="refund-line">
          Refund of {credits(r.credits)} ({money(r.amount, p.currency)}) ·{' '}
          <Badge tone={TONE[r.status]}>{r.status}</Badge> · {dateTime(r.createdAt)}
          {r.reason ? <span class="muted"> · “{r.reason}”</span> : null}
        </p>
      ))}
      {disputes.map((d) => (
        <p key={d.id} data-testid="dispute-line">
          Card dispute of {credits(d.credits)} ({money(d.amount, p.currency)}) · <Badge value={d.status} />
          {d.reason ? <span class="muted"> · {d.reason.replace(/_/g, ' ')}</span> : null} · opened{' '}
          {dateTime(d.createdAt)}
          {d.resolvedAt ? ` · resolved ${dateTime(d.resolvedAt)}` : ''}
        </p>
      ))}
      {buyer.status === 'paused' && buyer.pauseReason === PAYMENT_DISPUTED ? (
        <p class="note note-bad" data-testid="buyer-dispute-pause">
          {buyer.name} is paused: a card dispute took its wallet below zero ({credits(buyer.balance)}). Resume it on{' '}
          <Link href={`/admin/buyers/${buyer.id}`}>its page</Link> once the dispute is settled.
        </p>
      ) : null}
    </div>
  );
}

function RefundDialog({ payment: p, onClose, onDone }: { payment: Payment; onClose(): void; onDone(): void }) {
  const { api, dir } = useConsole();
  const most = refundable(p);
  const [count, setCount] = useState(String(most));
  const [reason, setReason] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const buyer = useAsync(() => buyerOf(api, p.buyerId), [p]);
  const n = Number(count);
  const valid = Number.isInteger(n) && n > 0;

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body = { credits: n, ...(reason.trim() ? { reason: reason.trim() } : {}) };
      await ok(api.client.POST('/v1/payments/{id}/refunds', { params: { path: { id: p.id } }, body }));
      toast(`Refund of ${credits(n)} asked of Stripe: pending until Stripe confirms it`, 'ok');
      onDone();
    } catch (err) {
      setError(err instanceof ApiError ? (err.fieldError('credits') ?? err.detail) : messageOf(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal title="Refund to the card" onClose={onClose}>
      <form class="form stack" onSubmit={submit} data-testid="refund-form">
        <p>
          {dir.buyerName(p.buyerId)} paid {money(p.amount, p.currency)} for {credits(p.credits)} on{' '}
          {dateTime(p.createdAt)}. Up to {credits(most)} can be refunded.
        </p>
        <Field label="Credits to refund" error={error ?? undefined}>
          <input
            name="credits"
            type="number"
            min={1}
            step={1}
            value={count}
            onInput={(e) => setCount(e.currentTarget.value)}
            data-testid="refund-credits"
          />
        </Field>
        <Field label="Reason (optional)">
          <input name="reason" value={reason} maxLength={500} onInput={(e) => setReason(e.currentTarget.value)} />
        </Field>
        {valid ? (
          <p class="note" data-testid="refund-confirmation">
            {money(n * p.creditPrice, p.currency)} goes back to the card. When Stripe confirms it, the buyer's wallet
            loses {credits(n)}
            {buyer.data ? `: ${credits(buyer.data.balance)} → ${credits(buyer.data.balance - n)}` : ''}.
          </p>
        ) : null}
        <div class="row">
          <Button type="submit" variant="danger" busy={busy} disabled={!valid} data-testid="refund-submit">
            Refund {valid ? credits(n) : ''}
          </Button>
          <Button onClick={onClose}>Cancel</Button>
        </div>
      </form>
    </Modal>
  );
}
