/** Disputes: a buyer contests a lead it bought; approve (refund through the ledger) or reject. */
import { useState } from 'preact/hooks';

import { allPages, messageOf, ok } from '../shared/api';
import { ago, credits, dateTime, shortId } from '../shared/format';
import type { Dispute, DisputeStatus } from '../shared/types';
import { Badge, Button, Empty, ErrorNote, Loading, Panel, toast, useAsync } from '../shared/ui';
import { useConsole } from './context';
import { Link, navigate, useLocation } from './router';

export function Disputes({ onChange }: { onChange(): void }) {
  const { api } = useConsole();
  const { query } = useLocation();
  const status = (query.get('status') ?? 'open') as DisputeStatus | 'all';
  const list = useAsync(
    () =>
      allPages(
        'disputes',
        (query) =>
          api.client.GET('/v1/disputes', { params: { query: status === 'all' ? query : { status, ...query } } }),
        500,
      ),
    [status],
  );
  return (
    <div class="page">
      <div class="page-head">
        <div>
          <h1>Disputes</h1>
          <p class="muted">
            Approving refunds the lead's price to the buyer's wallet (a ledger entry); rejecting keeps the sale.
          </p>
        </div>
        <div class="segmented">
          {(['open', 'approved', 'rejected', 'all'] as const).map((s) => (
            <button
              key={s}
              class={status === s ? 'on' : ''}
              onClick={() => navigate(`/admin/disputes${s === 'open' ? '' : `?status=${s}`}`, { replace: true })}
            >
              {s}
            </button>
          ))}
        </div>
      </div>
      <ErrorNote error={list.error} />
      {list.loading && !list.data ? <Loading /> : null}
      {list.data && list.data.length === 0 ? (
        <Empty title={status === 'open' ? 'No open dispute' : 'Nothing here'} />
      ) : null}
      {(list.data ?? []).map((d) => (
        <DisputeRow
          key={d.id}
          dispute={d}
          onDone={() => {
            void list.reload();
            onChange();
          }}
        />
      ))}
    </div>
  );
}

function DisputeRow({ dispute: d, onDone }: { dispute: Dispute; onDone(): void }) {
  const { api, dir } = useConsole();
  const [note, setNote] = useState('');
  const [busy, setBusy] = useState<'approve' | 'reject' | null>(null);
  const resolve = async (approve: boolean) => {
    setBusy(approve ? 'approve' : 'reject');
    try {
      const res = await ok(
        api.client.POST('/v1/disputes/{id}/resolve', {
          params: { path: { id: d.id } },
          body: { approve, ...(note.trim() ? { note: note.trim() } : {}) },
        }),
      );
      toast(
        approve
          ? `Approved – refunded ${credits(Math.abs(res.refund?.entry.amount ?? 0))} to ${dir.buyerName(d.buyerId)}`
          : 'Dispute rejected',
        'ok',
      );
      onDone();
    } catch (err) {
      toast(messageOf(err), 'bad');
    } finally {
      setBusy(null);
    }
  };
  return (
    <Panel
      title={
        <>
          <Link href={`/admin/buyers/${d.buyerId}`}>{dir.buyerName(d.buyerId)}</Link>{' '}
          <span class="muted">· sale {shortId(d.assignmentId)}</span>
        </>
      }
      actions={
        <>
          <Badge tone={d.status === 'open' ? 'warn' : d.status === 'approved' ? 'ok' : 'bad'}>{d.status}</Badge>
          <span class="muted" title={dateTime(d.createdAt)}>
            {ago(d.createdAt)}
          </span>
        </>
      }
    >
      <p>“{d.reason}”</p>
      {d.status === 'open' ? (
        <div class="row" style={{ marginTop: '10px' }}>
          <input
            type="text"
            value={note}
            maxLength={2000}
            placeholder="Note (optional)"
            onInput={(e) => setNote(e.currentTarget.value)}
            style={{ flex: '1 1 240px' }}
          />
          <Button variant="ok" busy={busy === 'approve'} disabled={!!busy} onClick={() => void resolve(true)}>
            Approve & refund
          </Button>
          <Button variant="danger" busy={busy === 'reject'} disabled={!!busy} onClick={() => void resolve(false)}>
            Reject
          </Button>
        </div>
      ) : (
        <p class="fine">Resolved {dateTime(d.resolvedAt)}</p>
      )}
    </Panel>
  );
}
