/** My leads: every lead this buyer won, with the full record, and disputes on them. */
import { useState } from 'preact/hooks';

import { allPages, type Api, messageOf, ok } from '../shared/api';
import { credits, dateTime, label, show } from '../shared/format';
import type { Dispute, WonLead } from '../shared/types';
import { Badge, Button, Empty, ErrorNote, Field, Loading, Panel, toast, useAsync, useMorePages } from '../shared/ui';

export function MyLeads({ api, version }: { api: Api; version: number }) {
  const { extra, setExtra, cursor, setCursor, more } = useMorePages('leads', (cursor) =>
    api.client.GET('/v1/me/leads', { params: { query: { limit: 25, cursor } } }),
  );
  const leads = useAsync(async () => {
    const page = await ok(api.client.GET('/v1/me/leads', { params: { query: { limit: 25 } } }));
    setExtra([]);
    setCursor(page.nextCursor);
    return page.leads;
  }, [version]);
  const disputes = useAsync(
    () => allPages('disputes', (query) => api.client.GET('/v1/disputes', { params: { query } }), 400),
    [version],
  );
  const byAssignment = new Map((disputes.data ?? []).map((d) => [d.assignmentId, d]));
  const all = [...(leads.data ?? []), ...extra];

  return (
    <div class="page">
      <div class="page-head">
        <div>
          <h1>My leads</h1>
          <p class="muted">
            Every lead you won, with the full record. Something wrong with one? Open a dispute; approved disputes are
            refunded to your wallet.
          </p>
        </div>
        <Button size="sm" onClick={() => void Promise.all([leads.reload(), disputes.reload()])}>
          Refresh
        </Button>
      </div>
      <ErrorNote error={leads.error} />
      {leads.loading && !leads.data ? <Loading /> : null}
      {leads.data && all.length === 0 ? (
        <Empty title="No leads yet">Leads you win on the Live Leads board show up here.</Empty>
      ) : null}
      <div class="lead-list">
        {all.map((w) => (
          <WonLeadRow
            key={w.assignmentId}
            api={api}
            won={w}
            dispute={byAssignment.get(w.assignmentId)}
            onDisputed={() => void disputes.reload()}
          />
        ))}
      </div>
      {cursor ? (
        <div class="more">
          <Button onClick={() => void more()}>Load more</Button>
        </div>
      ) : null}
    </div>
  );
}

function WonLeadRow({
  api,
  won,
  dispute,
  onDisputed,
}: {
  api: Api;
  won: WonLead;
  dispute?: Dispute;
  onDisputed(): void;
}) {
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const l = won.lead;
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await ok(
        api.client.POST('/v1/assignments/{id}/disputes', {
          params: { path: { id: won.assignmentId } },
          body: { reason },
        }),
      );
      toast('Dispute opened – your agency will review it.', 'ok');
      setOpen(false);
      onDisputed();
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };
  const status =
    won.status === 'refunded' ? (
      <Badge value="refunded">Refunded</Badge>
    ) : dispute ? (
      <Badge tone={dispute.status === 'open' ? 'warn' : dispute.status === 'approved' ? 'ok' : 'bad'}>
        dispute {dispute.status}
      </Badge>
    ) : null;
  return (
    <Panel class="won-lead" title={`${l.firstName} ${l.lastName}`} actions={status}>
      <div class="won-lead-grid" data-testid="my-lead">
        <div class="kv">
          <dt>Phone</dt>
          <dd>
            <a href={`tel:${l.phone.replace(/[^\d+]/g, '')}`}>{l.phone}</a>
          </dd>
        </div>
        <div class="kv">
          <dt>Email</dt>
          <dd>
            <a href={`mailto:${l.email}`}>{l.email}</a>
          </dd>
        </div>
        <div class="kv">
          <dt>Address</dt>
          <dd>{[l.address, l.city, l.state, l.zip].filter(Boolean).join(', ') || '–'}</dd>
        </div>
        {Object.entries(l.answers ?? {}).map(([q, a]) => (
          <div class="kv" key={q}>
            <dt>{label(q)}</dt>
            <dd>{show(a)}</dd>
          </div>
        ))}
        <div class="kv">
          <dt>Won</dt>
          <dd>
            {dateTime(won.wonAt)} · {credits(won.price)}
          </dd>
        </div>
      </div>
      {!dispute && won.status !== 'refunded' ? (
        open ? (
          <form class="inline-form" onSubmit={submit}>
            <Field label="What is wrong with this lead?" error={error ?? undefined}>
              <textarea
                rows={2}
                value={reason}
                maxLength={2000}
                required
                onInput={(e) => setReason(e.currentTarget.value)}
                placeholder="e.g. wrong number, not a homeowner, duplicate"
              />
            </Field>
            <div class="row-actions">
              <Button type="submit" variant="primary" size="sm" busy={busy} disabled={!reason.trim()}>
                Open dispute
              </Button>
              <Button size="sm" variant="ghost" onClick={() => setOpen(false)}>
                Cancel
              </Button>
            </div>
          </form>
        ) : (
          <div class="row-actions">
            <Button size="sm" variant="ghost" onClick={() => setOpen(true)}>
              Dispute this lead
            </Button>
          </div>
        )
      ) : dispute ? (
        <p class="fine">
          Dispute: “{dispute.reason}” – opened {dateTime(dispute.createdAt)}
        </p>
      ) : null}
    </Panel>
  );
}
