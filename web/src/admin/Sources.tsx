/**
 * Sources: the agency's lead sellers. Create one (its key is shown once),
 * allow campaigns with a payout rule each (a fixed amount per sold lead or a
 * share of the sale price), rotate or revoke its keys, pause it, and read its
 * leads with their outcomes, its balance and its ledger; record what the
 * agency paid it (a settlement) or a correction (an adjustment) beside the
 * ledger; its posting spec is one click away.
 */
import { useState } from 'preact/hooks';

import { LedgerTable } from '../buyer/Wallet';
import { allPages, ApiError, messageOf, ok, randomId } from '../shared/api';
import { credits, dateTime, num } from '../shared/format';
import {
  CsvButton,
  NO_PAYOUT_YET,
  payoutText,
  PostingSpecView,
  type Range,
  RangeFields,
  rangeFilter,
  SOURCE_LEDGER_KINDS,
  SourceLeadsTable,
} from '../shared/supply';
import type { Source, SourceCampaign } from '../shared/types';
import {
  Badge,
  Button,
  Empty,
  ErrorNote,
  Field,
  Loading,
  Modal,
  Panel,
  SecretOnce,
  toast,
  useAction,
  useAsync,
} from '../shared/ui';
import { useConsole } from './context';
import { Link, navigate } from './router';

export function Sources() {
  const { api } = useConsole();
  const sources = useAsync(
    () => allPages('sources', (query) => api.client.GET('/v1/sources', { params: { query } }), 1_000),
    [api],
  );
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<{ source: Source; apiKey: string } | null>(null);
  return (
    <div class="page">
      <div class="page-head">
        <div>
          <h1>Sources</h1>
          <p class="muted">
            Who sends you leads: affiliates, sellers, your own forms. Each has its key, the campaigns it may post into
            and what it is paid per sold lead.
          </p>
        </div>
        <Button variant="primary" onClick={() => setCreating(true)}>
          New source
        </Button>
      </div>
      <ErrorNote error={sources.error} />
      {sources.loading && !sources.data ? <Loading /> : null}
      {sources.data && sources.data.length === 0 ? (
        <Empty title="No source yet">
          Create a source, allow it a campaign with a payout rule, and give it its key and posting spec.
        </Empty>
      ) : null}
      {sources.data && sources.data.length ? (
        <Panel>
          <div class="table-wrap">
            <table class="table" data-testid="sources-table">
              <thead>
                <tr>
                  <th>Source</th>
                  <th>Status</th>
                  <th>Created</th>
                  <th class="num">Owed (balance)</th>
                </tr>
              </thead>
              <tbody>
                {sources.data.map((s) => (
                  <tr key={s.id} class="clickable" onClick={() => navigate(`/admin/sources/${s.id}`)}>
                    <td>
                      <Link href={`/admin/sources/${s.id}`}>{s.name}</Link>
                    </td>
                    <td>
                      <Badge value={s.status} />
                    </td>
                    <td class="muted">{dateTime(s.createdAt)}</td>
                    <td class="num">
                      <strong>{num(s.balance)}</strong>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </Panel>
      ) : null}
      {creating ? (
        <Modal title="New source" onClose={() => setCreating(false)}>
          <CreateSource
            onCreated={(res) => {
              setCreating(false);
              setCreated(res);
              void sources.reload();
            }}
          />
        </Modal>
      ) : null}
      {created ? (
        <Modal title={`${created.source.name} is ready`} onClose={() => setCreated(null)}>
          <p>
            Give this key to the source: it pings and posts leads with it, and signs in to the source portal at /source.
          </p>
          <SecretOnce label="Source API key" value={created.apiKey} />
          <div class="row-actions">
            <Button variant="primary" onClick={() => navigate(`/admin/sources/${created.source.id}`)}>
              Open source – allow a campaign
            </Button>
          </div>
        </Modal>
      ) : null}
    </div>
  );
}

function CreateSource({ onCreated }: { onCreated(res: { source: Source; apiKey: string }): void }) {
  const { api } = useConsole();
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const res = await ok(api.client.POST('/v1/sources', { body: { name } }));
      toast('Source created', 'ok');
      onCreated(res);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={submit}>
      <Field
        label="Name"
        error={
          error instanceof ApiError ? (error.fieldError('name') ?? error.detail) : error ? messageOf(error) : undefined
        }
      >
        <input
          name="sourceName"
          type="text"
          value={name}
          maxLength={200}
          required
          placeholder="Acme Affiliates"
          onInput={(e) => setName(e.currentTarget.value)}
        />
      </Field>
      <div class="row-actions">
        <Button type="submit" variant="primary" busy={busy}>
          Create source
        </Button>
      </div>
    </form>
  );
}

// ─── one source ──────────────────────────────────────────────────────────────

export function SourceDetail({ id }: { id: string }) {
  const { api, dir } = useConsole();
  const detail = useAsync(() => ok(api.client.GET('/v1/sources/{id}', { params: { path: { id } } })), [id]);
  const [range, setRange] = useState<Range>({ from: '', to: '' });
  const [version, setVersion] = useState(0);
  const leads = useAsync(
    () =>
      ok(
        api.client.GET('/v1/sources/{id}/leads', {
          params: { path: { id }, query: { limit: 100, ...rangeFilter(range) } },
        }),
      ),
    [id, range.from, range.to, version],
  );
  const ledger = useAsync(
    () => ok(api.client.GET('/v1/sources/{id}/ledger', { params: { path: { id }, query: { limit: 50 } } })),
    [id, version],
  );
  const [newKey, setNewKey] = useState<string | null>(null);
  const refresh = () => {
    setVersion((v) => v + 1);
    void detail.reload();
  };

  const [rotate, rotating] = useAction(async () => {
    const res = await ok(
      api.client.POST('/v1/sources/{id}/keys', { params: { path: { id } }, body: { revokeExisting: true } }),
    );
    setNewKey(res.apiKey);
    toast(`New key issued; ${res.revoked} old ${res.revoked === 1 ? 'key' : 'keys'} revoked`, 'ok');
  });
  const [revoke, revoking] = useAction(
    async () => {
      if (!confirm('Revoke every key of this source? Its pings and posts stop at once until you issue a new key.'))
        return;
      await ok(api.client.POST('/v1/sources/{id}/keys/revoke', { params: { path: { id } } }));
    },
    { success: 'Every key of this source is revoked' },
  );
  const [setStatus, statusBusy] = useAction(async (status: 'active' | 'paused') => {
    detail.set(await ok(api.client.PATCH('/v1/sources/{id}', { params: { path: { id } }, body: { status } })));
    toast(
      status === 'paused' ? 'Source paused: its pings are rejected and its posts refused' : 'Source active again',
      'ok',
    );
  });

  if (detail.error) return <ErrorNote error={detail.error} />;
  if (!detail.data) return <Loading />;
  const { source, campaigns } = detail.data;
  return (
    <div class="page">
      <div class="breadcrumb">
        <Link href="/admin/sources">Sources</Link> / {source.name}
      </div>
      <div class="page-head">
        <div>
          <h1>
            {source.name} <Badge value={source.status} />
          </h1>
          <p class="muted">Created {dateTime(source.createdAt)}</p>
        </div>
        <div class="row-actions">
          <Link href={`/admin/sources/${id}/spec`} class="btn btn-secondary btn-md">
            Posting spec
          </Link>
          {source.status === 'active' ? (
            <Button busy={statusBusy} onClick={() => void setStatus('paused')}>
              Pause
            </Button>
          ) : (
            <Button variant="ok" busy={statusBusy} onClick={() => void setStatus('active')}>
              Resume
            </Button>
          )}
          <Button onClick={refresh}>Refresh</Button>
        </div>
      </div>
      <div class="stat-grid">
        <div class="stat">
          <div class="stat-label">Owed to the source</div>
          <div class="stat-value" data-testid="source-balance">
            {num(source.balance)}
          </div>
          <div class="stat-sub">payouts less reversals and settlements</div>
        </div>
        <div class="stat">
          <div class="stat-label">Campaigns allowed</div>
          <div class="stat-value">{campaigns.filter((c) => c.allowed).length}</div>
          <div class="stat-sub">of {dir.campaigns.length}</div>
        </div>
      </div>
      <div class="grid-2">
        <Panel title="API key">
          <p class="muted">
            The source pings and posts with its key. Rotating issues a new key and revokes the old ones at once; the new
            key is shown once.
          </p>
          <div class="row-actions">
            <Button variant="primary" busy={rotating} onClick={() => void rotate()}>
              Rotate key
            </Button>
            <Button variant="danger" busy={revoking} onClick={() => void revoke()}>
              Revoke all keys
            </Button>
          </div>
        </Panel>
        <Panel title="Payout rule">
          <RuleForm sourceId={id} campaigns={campaigns} onSaved={() => void detail.reload()} />
        </Panel>
      </div>
      <Panel title="Campaigns and payouts">
        {campaigns.length === 0 ? (
          <p class="muted">No campaign yet: allow one with a payout rule above.</p>
        ) : (
          <div class="table-wrap">
            <table class="table" data-testid="source-campaigns">
              <thead>
                <tr>
                  <th>Campaign</th>
                  <th>Allowed</th>
                  <th>Payout</th>
                </tr>
              </thead>
              <tbody>
                {campaigns.map((c) => (
                  <tr key={c.campaignId}>
                    <td>{c.campaignName}</td>
                    <td>{c.allowed ? <Badge tone="ok">allowed</Badge> : <Badge tone="muted">not allowed</Badge>}</td>
                    <td>{payoutText(c.payout)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Panel>
      <Panel
        title="Leads"
        actions={
          <CsvButton
            csv={() =>
              api.client.GET('/v1/exports/source-ledger.csv', {
                params: { query: { sourceId: id, ...rangeFilter(range) } },
                parseAs: 'text',
              })
            }
            file="source-ledger.csv"
          >
            Ledger CSV
          </CsvButton>
        }
      >
        <div class="filters">
          <RangeFields range={range} onChange={setRange} />
        </div>
        <ErrorNote error={leads.error} />
        {leads.data ? <SourceLeadsTable leads={leads.data.leads} campaignName={dir.campaignName} /> : <Loading />}
      </Panel>
      <div class="grid-ledger">
        <Panel title="Ledger">
          <ErrorNote error={ledger.error} />
          {ledger.data ? (
            <LedgerTable
              entries={ledger.data.entries}
              kinds={SOURCE_LEDGER_KINDS}
              empty={NO_PAYOUT_YET}
              testId="source-ledger"
            />
          ) : (
            <Loading />
          )}
        </Panel>
        <Panel title="Record payment">
          <RecordPayment source={source} onRecorded={refresh} />
        </Panel>
      </div>
      {newKey ? (
        <Modal title="New source key" onClose={() => setNewKey(null)}>
          <p>The old keys no longer work. Give this one to {source.name}.</p>
          <SecretOnce label="Source API key" value={newKey} />
        </Modal>
      ) : null}
    </div>
  );
}

/**
 * What the agency paid the source (a settlement, taken off the balance), or a
 * correction either way (an adjustment). The API refuses a payment of more
 * than is owed; its words are shown under the amount.
 */
function RecordPayment({ source, onRecorded }: { source: Source; onRecorded(): void }) {
  const { api } = useConsole();
  const [kind, setKind] = useState<'settlement' | 'adjustment'>('settlement');
  const [amount, setAmount] = useState('');
  const [reference, setReference] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  // One Idempotency-Key per intended payment: a retried click after a lost answer records it once.
  const [key, setKey] = useState(randomId);
  const fe = (p: string) => (error instanceof ApiError ? error.fieldError(p) : undefined);
  // A refusal for the balance says how much is owed: its detail reads better than the field's short message.
  const refused = error instanceof ApiError && error.code.endsWith('_exceeds_balance') ? error.detail : undefined;
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const res = await ok(
        api.client.POST('/v1/sources/{id}/settlements', {
          params: { path: { id: source.id }, header: { 'Idempotency-Key': key } },
          body: { kind, amount: Number(amount), reference },
        }),
      );
      toast(
        kind === 'settlement'
          ? `Payment of ${credits(Number(amount))} recorded – ${num(res.balance)} still owed`
          : `Adjustment recorded – ${num(res.balance)} owed`,
        'ok',
      );
      setKey(randomId());
      setAmount('');
      setReference('');
      onRecorded();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={submit} data-testid="settle-form">
      <p class="muted">
        Owed to {source.name} now: <strong data-testid="settle-owed">{credits(source.balance)}</strong>. Record each
        bank transfer or PayPal payment here; the source sees it in its ledger with the reference.
      </p>
      <Field label="What" error={fe('kind')}>
        <select
          name="settleKind"
          value={kind}
          onChange={(e) => setKind(e.currentTarget.value as 'settlement' | 'adjustment')}
        >
          <option value="settlement">payment to the source (settlement)</option>
          <option value="adjustment">correction of the balance (adjustment)</option>
        </select>
      </Field>
      <Field
        label={kind === 'settlement' ? 'Amount paid (credits)' : 'Correction (credits, + or -)'}
        hint={kind === 'adjustment' ? '+ owes the source more, - less' : undefined}
        error={refused ?? fe('amount')}
      >
        <input
          name="settleAmount"
          type="number"
          step={1}
          min={kind === 'settlement' ? 1 : undefined}
          required
          value={amount}
          onInput={(e) => setAmount(e.currentTarget.value)}
        />
      </Field>
      <Field label="Reference" hint="e.g. the bank transfer id" error={fe('reference')}>
        <input
          name="settleReference"
          type="text"
          maxLength={200}
          required
          value={reference}
          placeholder="WIRE-2026-11-29"
          onInput={(e) => setReference(e.currentTarget.value)}
        />
      </Field>
      {error && !refused && !(error instanceof ApiError && error.errors.length) ? <ErrorNote error={error} /> : null}
      <div class="row-actions">
        <Button type="submit" variant="primary" busy={busy}>
          {kind === 'settlement' ? 'Record payment' : 'Record adjustment'}
        </Button>
        {kind === 'settlement' && source.balance > 0 ? (
          <button type="button" class="chip" onClick={() => setAmount(String(source.balance))}>
            all {num(source.balance)}
          </button>
        ) : null}
      </div>
    </form>
  );
}

/** Allow (or disallow) a campaign for the source with its payout rule; posting again replaces the rule. */
function RuleForm({
  sourceId,
  campaigns,
  onSaved,
}: {
  sourceId: string;
  campaigns: SourceCampaign[];
  onSaved(): void;
}) {
  const { api, dir } = useConsole();
  const [campaignId, setCampaignId] = useState(dir.campaigns[0]?.id ?? '');
  const existing = campaigns.find((c) => c.campaignId === campaignId);
  const [kind, setKind] = useState<'fixed' | 'share'>('share');
  const [value, setValue] = useState('');
  const [allowed, setAllowed] = useState(true);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const fe = (p: string) => (error instanceof ApiError ? error.fieldError(p) : undefined);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const n = Number(value);
      const payout = kind === 'fixed' ? { kind, amount: n } : { kind, shareBps: Math.round(n * 100) };
      await ok(
        api.client.POST('/v1/sources/{id}/campaigns', {
          params: { path: { id: sourceId } },
          body: { campaignId, allowed, payout },
        }),
      );
      toast(allowed ? `Rule saved: ${payoutText(payout)}` : 'Campaign disallowed for this source', 'ok');
      onSaved();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  if (!dir.campaigns.length) return <p class="muted">Create a campaign first.</p>;
  return (
    <form onSubmit={submit} data-testid="rule-form">
      <Field
        label="Campaign"
        hint={existing ? `now: ${existing.allowed ? payoutText(existing.payout) : 'not allowed'}` : 'not allowed yet'}
        error={fe('campaignId')}
      >
        <select name="ruleCampaign" value={campaignId} onChange={(e) => setCampaignId(e.currentTarget.value)}>
          {dir.campaigns.map((c) => (
            <option key={c.id} value={c.id}>
              {c.name}
            </option>
          ))}
        </select>
      </Field>
      <div class="filters">
        <Field label="Paid as">
          <select name="payoutKind" value={kind} onChange={(e) => setKind(e.currentTarget.value as 'fixed' | 'share')}>
            <option value="share">share of the sale price (%)</option>
            <option value="fixed">fixed credits per sold lead</option>
          </select>
        </Field>
        <Field
          label={kind === 'share' ? 'Share (%)' : 'Credits'}
          error={fe('payout.shareBps') ?? fe('payout.amount') ?? fe('payout')}
        >
          <input
            name="payoutValue"
            type="number"
            min={0}
            max={kind === 'share' ? 100 : undefined}
            step={kind === 'share' ? 0.01 : 1}
            required
            value={value}
            onInput={(e) => setValue(e.currentTarget.value)}
          />
        </Field>
      </div>
      <label class="check">
        <input type="checkbox" name="allowed" checked={allowed} onChange={(e) => setAllowed(e.currentTarget.checked)} />{' '}
        Allowed: the source may post into this campaign
      </label>
      {error && !(error instanceof ApiError && error.errors.length) ? <ErrorNote error={error} /> : null}
      <div class="row-actions">
        <Button type="submit" variant="primary" busy={busy}>
          Save rule
        </Button>
      </div>
    </form>
  );
}

export function SourceSpecPage({ id }: { id: string }) {
  const { api } = useConsole();
  const spec = useAsync(() => ok(api.client.GET('/v1/sources/{id}/spec', { params: { path: { id } } })), [id]);
  if (spec.error) return <ErrorNote error={spec.error} />;
  if (!spec.data) return <Loading />;
  return (
    <div class="page">
      <div class="breadcrumb">
        <Link href="/admin/sources">Sources</Link> / <Link href={`/admin/sources/${id}`}>{spec.data.source.name}</Link>{' '}
        / posting spec
      </div>
      <div class="page-head">
        <div>
          <h1>Posting spec · {spec.data.source.name}</h1>
          <p class="muted">
            What to hand to the source with its key: generated from the API's own schemas. The source reads the same
            page in its portal.
          </p>
        </div>
      </div>
      <PostingSpecView spec={spec.data} />
    </div>
  );
}
