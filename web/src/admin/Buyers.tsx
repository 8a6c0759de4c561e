/**
 * Buyers: create (the API key is shown once), service area, subscriptions,
 * caps, delivery, pause/resume, credits and the ledger.
 */
import { useState } from 'preact/hooks';

import { LedgerTable } from '../buyer/Wallet';
import { ApiError, messageOf, ok, randomId } from '../shared/api';
import { BuyerSideForm } from '../shared/BuyerSide';
import { credits, dateTime, num } from '../shared/format';
import type { Buyer } from '../shared/types';
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
  useAsync,
} from '../shared/ui';
import { TeamPanel } from '../team/TeamPanel';
import { EndpointPanel } from './BuyerEndpoint';
import { CloseRatesPanel } from './BuyerSide';
import { useConsole } from './context';
import { Link, navigate } from './router';

const split = (s: string) =>
  s
    .split(/[\s,;]+/)
    .map((x) => x.trim())
    .filter(Boolean);
const area = (b: Buyer) =>
  [
    b.zipCodes.length ? `${b.zipCodes.length <= 3 ? b.zipCodes.join(', ') : `${b.zipCodes.length} ZIPs`}` : '',
    b.states.length ? b.states.join(', ') : '',
  ]
    .filter(Boolean)
    .join(' · ') || 'anywhere';
const capsText = (b: Buyer) =>
  (['daily', 'weekly', 'monthly'] as const)
    .filter((k) => b.caps[k] !== undefined)
    .map((k) => `${b.caps[k]}/${k === 'daily' ? 'day' : k === 'weekly' ? 'week' : 'month'}`)
    .join(' · ') || 'no caps';

export function Buyers() {
  const { dir } = useConsole();
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<{ buyer: Buyer; apiKey: string } | null>(null);
  return (
    <div class="page">
      <div class="page-head">
        <div>
          <h1>Buyers</h1>
          <p class="muted">
            The contractors who buy leads: where they work, what they buy, how many, and their credits.
          </p>
        </div>
        <Button variant="primary" onClick={() => setCreating(true)}>
          New buyer
        </Button>
      </div>
      {dir.buyers.length === 0 ? (
        <Empty title="No buyer yet">
          Create a buyer, give them their key, top up their wallet – they are ready for Live Leads.
        </Empty>
      ) : (
        <Panel>
          <div class="table-wrap">
            <table class="table" data-testid="buyers-table">
              <thead>
                <tr>
                  <th>Buyer</th>
                  <th>Status</th>
                  <th>Service lines</th>
                  <th>Area</th>
                  <th>Caps</th>
                  <th class="num">Balance</th>
                </tr>
              </thead>
              <tbody>
                {dir.buyers.map((b) => (
                  <tr key={b.id} class="clickable" onClick={() => navigate(`/admin/buyers/${b.id}`)}>
                    <td>
                      <Link href={`/admin/buyers/${b.id}`}>{b.name}</Link>
                    </td>
                    <td>
                      <Badge value={b.status} />
                    </td>
                    <td>{b.serviceLines.join(', ') || <span class="muted">none</span>}</td>
                    <td>{area(b)}</td>
                    <td class="muted">{capsText(b)}</td>
                    <td class="num">
                      <strong>{num(b.balance)}</strong>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </Panel>
      )}
      {creating ? (
        <Modal title="New buyer" onClose={() => setCreating(false)}>
          <BuyerForm
            onSaved={(res) => {
              setCreating(false);
              if (res.apiKey) setCreated({ buyer: res.buyer, apiKey: res.apiKey });
            }}
          />
        </Modal>
      ) : null}
      {created ? (
        <Modal title={`${created.buyer.name} is ready`} onClose={() => setCreated(null)}>
          <p>Give this key to the buyer: it signs them in to Live Leads and the API.</p>
          <SecretOnce label="Buyer API key" value={created.apiKey} />
          <div class="row-actions">
            <Button variant="primary" onClick={() => navigate(`/admin/buyers/${created.buyer.id}`)}>
              Open buyer – top up credits
            </Button>
          </div>
        </Modal>
      ) : null}
    </div>
  );
}

/** Create (no buyer) or edit a buyer's profile. */
function BuyerForm({ buyer, onSaved }: { buyer?: Buyer; onSaved(res: { buyer: Buyer; apiKey?: string }): void }) {
  const { api, dir } = useConsole();
  const [name, setName] = useState(buyer?.name ?? '');
  const [lines, setLines] = useState<string[]>(
    buyer?.serviceLines ?? (dir.serviceLines[0] ? [dir.serviceLines[0].key] : []),
  );
  const [zips, setZips] = useState(buyer?.zipCodes.join(', ') ?? '');
  const [states, setStates] = useState(buyer?.states.join(', ') ?? '');
  const [caps, setCaps] = useState({
    daily: String(buyer?.caps.daily ?? ''),
    weekly: String(buyer?.caps.weekly ?? ''),
    monthly: String(buyer?.caps.monthly ?? ''),
  });
  const [webhookUrl, setWebhook] = useState(buyer?.delivery.webhookUrl ?? '');
  const [email, setEmail] = useState(buyer?.delivery.email ?? '');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const fe = (p: string) => (error instanceof ApiError ? error.fieldError(p) : undefined);
  const save = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body = {
        name,
        serviceLines: lines,
        zipCodes: split(zips),
        states: split(states).map((s) => s.toUpperCase()),
        caps: Object.fromEntries(
          Object.entries(caps)
            .filter(([, v]) => v.trim() !== '')
            .map(([k, v]) => [k, Number(v)]),
        ),
        delivery: {
          ...(webhookUrl.trim() ? { webhookUrl: webhookUrl.trim() } : {}),
          ...(email.trim() ? { email: email.trim() } : {}),
        },
      };
      const res = buyer
        ? await ok(api.client.PATCH('/v1/buyers/{id}', { params: { path: { id: buyer.id } }, body }))
        : await ok(api.client.POST('/v1/buyers', { body }));
      await dir.reload();
      toast(buyer ? 'Buyer saved' : 'Buyer created', 'ok');
      onSaved(res);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={save} class="stack">
      <Field label="Name" error={fe('name')}>
        <input
          type="text"
          name="buyerName"
          value={name}
          onInput={(e) => setName(e.currentTarget.value)}
          required
          maxLength={200}
          placeholder="Summit Roofing Co."
        />
      </Field>
      <Field label="Service lines" error={fe('serviceLines')}>
        <div class="checks">
          {dir.serviceLines.length === 0 ? (
            <span class="muted">Add a service line on the Campaigns page first.</span>
          ) : null}
          {dir.serviceLines.map((s) => (
            <label key={s.id} class={`chip ${lines.includes(s.key) ? 'chip-on' : ''}`}>
              <input
                type="checkbox"
                checked={lines.includes(s.key)}
                onChange={() => setLines(lines.includes(s.key) ? lines.filter((x) => x !== s.key) : [...lines, s.key])}
              />
              {s.name}
            </label>
          ))}
        </div>
      </Field>
      <div class="row">
        <Field label="ZIP codes" hint="comma or space separated; empty = any" error={fe('zipCodes')}>
          <input type="text" value={zips} onInput={(e) => setZips(e.currentTarget.value)} placeholder="78701, 78702" />
        </Field>
        <Field label="States" hint="two letters; empty = any" error={fe('states')}>
          <input type="text" value={states} onInput={(e) => setStates(e.currentTarget.value)} placeholder="TX, OK" />
        </Field>
      </div>
      <div class="row">
        {(['daily', 'weekly', 'monthly'] as const).map((k) => (
          <Field key={k} label={`${k[0]!.toUpperCase()}${k.slice(1)} cap`} error={fe(`caps.${k}`)}>
            <input
              type="number"
              min={0}
              value={caps[k]}
              onInput={(e) => setCaps({ ...caps, [k]: e.currentTarget.value })}
              placeholder="∞"
            />
          </Field>
        ))}
      </div>
      <div class="row">
        <Field
          label="Webhook URL"
          hint="leads POSTed here when won"
          error={fe('delivery.webhookUrl') ?? fe('webhookUrl')}
        >
          <input
            type="url"
            value={webhookUrl}
            onInput={(e) => setWebhook(e.currentTarget.value)}
            placeholder="https://crm.example.com/leads"
          />
        </Field>
        <Field label="Email" hint="a copy of each won lead" error={fe('delivery.email') ?? fe('email')}>
          <input
            type="email"
            value={email}
            onInput={(e) => setEmail(e.currentTarget.value)}
            placeholder="sales@example.com"
          />
        </Field>
      </div>
      {error ? <ErrorNote error={error} /> : null}
      <div class="row-actions">
        <Button type="submit" variant="primary" busy={busy}>
          {buyer ? 'Save changes' : 'Create buyer'}
        </Button>
      </div>
    </form>
  );
}

export function BuyerDetail({ id }: { id: string }) {
  const { api, dir } = useConsole();
  const buyer = useAsync(
    () => ok(api.client.GET('/v1/buyers/{id}', { params: { path: { id } } })).then((r) => r.buyer),
    [id],
  );
  const [ledgerVersion, setLedgerVersion] = useState(0);
  const ledger = useAsync(
    () => ok(api.client.GET('/v1/buyers/{id}/ledger', { params: { path: { id }, query: { limit: 100 } } })),
    [id, ledgerVersion],
  );
  const [editing, setEditing] = useState(false);
  const [newKey, setNewKey] = useState<string | null>(null);
  const refresh = async () => {
    await buyer.reload();
    setLedgerVersion((v) => v + 1);
    await dir.reload();
  };
  if (buyer.error) return <ErrorNote error={buyer.error} />;
  const b = buyer.data;
  if (!b) return <Loading />;
  return (
    <div class="page">
      <div class="breadcrumb">
        <Link href="/admin/buyers">Buyers</Link> / {b.name}
      </div>
      <div class="page-head">
        <div>
          <h1>
            {b.name} <Badge value={b.status} />
          </h1>
          <p class="muted">
            {b.serviceLines.join(', ') || 'no service line'} · {area(b)} · {capsText(b)}
            {b.pauseReason ? ` · paused: ${b.pauseReason}` : ''}
          </p>
        </div>
        <div class="row-actions" style={{ marginTop: 0 }}>
          <Button onClick={() => setEditing(true)}>Edit profile</Button>
          <PauseButton buyer={b} onDone={refresh} />
        </div>
      </div>
      <div class="grid-2">
        <div>
          <div class="wallet-hero">
            <div class="wallet-balance">
              <span class="wallet-n" data-testid="admin-buyer-balance">
                {num(b.balance)}
              </span>
              <span class="wallet-u">credits</span>
            </div>
          </div>
          <TopUp buyer={b} onDone={refresh} />
        </div>
        <Panel title="Profile">
          <dl>
            <div class="kv">
              <dt>Service lines</dt>
              <dd>{b.serviceLines.join(', ') || '–'}</dd>
            </div>
            <div class="kv">
              <dt>ZIP codes</dt>
              <dd>{b.zipCodes.join(', ') || 'any'}</dd>
            </div>
            <div class="kv">
              <dt>States</dt>
              <dd>{b.states.join(', ') || 'any'}</dd>
            </div>
            <div class="kv">
              <dt>Caps</dt>
              <dd>{capsText(b)}</dd>
            </div>
            <div class="kv">
              <dt>Webhook</dt>
              <dd>{b.delivery.webhookUrl ?? '–'}</dd>
            </div>
            <div class="kv">
              <dt>Email</dt>
              <dd>{b.delivery.email ?? '–'}</dd>
            </div>
            <div class="kv">
              <dt>Created</dt>
              <dd>{dateTime(b.createdAt)}</dd>
            </div>
          </dl>
          <div class="row-actions">
            <IssueKey buyer={b} onKey={setNewKey} />
          </div>
        </Panel>
      </div>
      <CloseRatesPanel buyerId={b.id} />
      <h2 class="section-title">The buyer's people</h2>
      <TeamPanel api={api} kind="buyer" buyerId={b.id} />
      <h2 class="section-title">Hours, alerts and lead filters</h2>
      <BuyerSideForm
        key={b.updatedAt}
        buyer={b}
        onSave={async (patch) => {
          await ok(api.client.PATCH('/v1/buyers/{id}', { params: { path: { id: b.id } }, body: patch }));
          toast('Saved', 'ok');
          await buyer.reload();
        }}
      />
      <h2 class="section-title">Endpoint (outbound ping-post)</h2>
      <EndpointPanel buyerId={b.id} />
      <Panel title="Ledger" actions={<span class="muted">newest first</span>}>
        {ledger.data ? <LedgerTable entries={ledger.data.entries} /> : <Loading />}
      </Panel>
      {editing ? (
        <Modal title={`Edit ${b.name}`} onClose={() => setEditing(false)}>
          <BuyerForm
            buyer={b}
            onSaved={() => {
              setEditing(false);
              void refresh();
            }}
          />
        </Modal>
      ) : null}
      {newKey ? (
        <Modal title="New API key" onClose={() => setNewKey(null)}>
          <SecretOnce label={`API key for ${b.name}`} value={newKey} />
        </Modal>
      ) : null}
    </div>
  );
}

function PauseButton({ buyer, onDone }: { buyer: Buyer; onDone(): Promise<void> }) {
  const { api } = useConsole();
  const [asking, setAsking] = useState(false);
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const set = async (status: 'active' | 'paused') => {
    setBusy(true);
    try {
      await ok(
        api.client.PATCH('/v1/buyers/{id}', {
          params: { path: { id: buyer.id } },
          body: status === 'paused' ? { status, pauseReason: reason.trim() || null } : { status, pauseReason: null },
        }),
      );
      toast(status === 'paused' ? `${buyer.name} paused` : `${buyer.name} resumed`, 'ok');
      setAsking(false);
      await onDone();
    } catch (err) {
      toast(messageOf(err), 'bad');
    } finally {
      setBusy(false);
    }
  };
  if (buyer.status === 'paused') {
    return (
      <Button variant="ok" busy={busy} onClick={() => void set('active')}>
        Resume
      </Button>
    );
  }
  return (
    <>
      <Button variant="danger" onClick={() => setAsking(true)}>
        Pause
      </Button>
      {asking ? (
        <Modal title={`Pause ${buyer.name}`} onClose={() => setAsking(false)}>
          <p class="muted">A paused buyer gets no offers and cannot claim until resumed.</p>
          <Field label="Reason (optional, the buyer sees it)">
            <input
              type="text"
              value={reason}
              maxLength={500}
              onInput={(e) => setReason(e.currentTarget.value)}
              placeholder="e.g. invoice overdue"
            />
          </Field>
          <div class="row-actions">
            <Button variant="danger" busy={busy} onClick={() => void set('paused')}>
              Pause buyer
            </Button>
          </div>
        </Modal>
      ) : null}
    </>
  );
}

function TopUp({ buyer, onDone }: { buyer: Buyer; onDone(): Promise<void> }) {
  const { api } = useConsole();
  const [amount, setAmount] = useState('100');
  const [reference, setReference] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  // One Idempotency-Key per intended top-up: a retried click after a lost answer adds the credits once.
  const [key, setKey] = useState(randomId);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const res = await ok(
        api.client.POST('/v1/buyers/{id}/credits', {
          params: { path: { id: buyer.id }, header: { 'Idempotency-Key': key } },
          body: { amount: Number(amount), ...(reference.trim() ? { reference: reference.trim() } : {}) },
        }),
      );
      toast(`Added ${credits(Number(amount))} – balance ${num(res.balance)}`, 'ok');
      setKey(randomId());
      setReference('');
      await onDone();
    } catch (err) {
      setError(err instanceof ApiError ? (err.fieldError('amount') ?? err.detail) : messageOf(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Panel title="Top up credits">
      <form class="row" onSubmit={submit}>
        <Field label="Amount" error={error ?? undefined}>
          <input
            type="number"
            name="amount"
            min={1}
            value={amount}
            onInput={(e) => setAmount(e.currentTarget.value)}
            required
          />
        </Field>
        <Field label="Reference">
          <input
            type="text"
            value={reference}
            maxLength={200}
            onInput={(e) => setReference(e.currentTarget.value)}
            placeholder="invoice #"
          />
        </Field>
        <Button type="submit" variant="primary" busy={busy}>
          Top up
        </Button>
      </form>
      <div class="checks" style={{ marginTop: '10px' }}>
        {[50, 100, 250, 1000].map((n) => (
          <button type="button" key={n} class="chip" onClick={() => setAmount(String(n))}>
            +{n}
          </button>
        ))}
      </div>
    </Panel>
  );
}

function IssueKey({ buyer, onKey }: { buyer: Buyer; onKey(k: string): void }) {
  const { api } = useConsole();
  const [busy, setBusy] = useState(false);
  const issue = async (revokeExisting: boolean) => {
    if (revokeExisting && !confirm(`Revoke every other key of ${buyer.name}? Their open sessions stop working.`))
      return;
    setBusy(true);
    try {
      const res = await ok(
        api.client.POST('/v1/buyers/{id}/keys', { params: { path: { id: buyer.id } }, body: { revokeExisting } }),
      );
      onKey(res.apiKey);
      if (res.revoked) toast(`${res.revoked} old key(s) revoked`, 'info');
    } catch (err) {
      toast(messageOf(err), 'bad');
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <Button size="sm" busy={busy} onClick={() => void issue(false)}>
        Issue a new key
      </Button>
      <Button size="sm" variant="ghost" busy={busy} onClick={() => void issue(true)}>
        Rotate (revoke others)
      </Button>
    </>
  );
}
