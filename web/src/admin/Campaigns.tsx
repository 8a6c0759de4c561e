/**
 * Campaigns: what is sold, how and to whom. The list switches modes and
 * pauses in one click; the editor covers mode, push strategy, claim window,
 * preview fields, pricing rules, winners, fallback, caps and the buyer pool.
 * Service lines (the vocabulary campaigns and buyers share) live here too.
 */
import { BuyerPricesPanel } from './BuyerSide';
import { useState } from 'preact/hooks';
import { ApiError, messageOf } from '../shared/api';
import { credits } from '../shared/format';
import type { AuctionKind, AuctionPricing, Campaign, DeliveryMode, PriceRules, PushStrategy } from '../shared/types';
import { PREVIEWABLE_FIELDS } from '../../../domain/preview';
import { Badge, Button, Empty, ErrorNote, Field, Loading, Panel, toast, useAction } from '../shared/ui';
import { useConsole } from './context';
import { Link, navigate } from './router';

const MODE_LABEL: Record<DeliveryMode, string> = { ping_post: 'Ping post', push: 'Push' };
const STRATEGY_LABEL: Record<PushStrategy, string> = {
  round_robin: 'Round robin',
  priority: 'Priority',
  weighted: 'Weighted',
};

export function Campaigns() {
  const { api, dir } = useConsole();
  const [patch, busy] = useAction(async (c: Campaign, body: Record<string, unknown>, msg: string) => {
    await api.patch(`/v1/campaigns/${c.id}`, body);
    await dir.reload();
    toast(msg, 'ok');
  });
  return (
    <div class="page">
      <div class="page-head">
        <div>
          <h1>Campaigns</h1>
          <p class="muted">
            A campaign sells one service line in one of two modes: <strong>ping post</strong> (a live claim auction:
            first valid claim wins) or <strong>push</strong> (assigned by round robin, priority or weight). Switching
            mode touches no buyer; leads in flight keep their settings.
          </p>
        </div>
        <Button
          variant="primary"
          onClick={() => navigate('/admin/campaigns/new')}
          disabled={!dir.serviceLines.length}
          title={dir.serviceLines.length ? '' : 'Add a service line first'}
        >
          New campaign
        </Button>
      </div>
      <ServiceLines />
      {dir.campaigns.length === 0 ? (
        <Empty title="No campaign yet">
          {dir.serviceLines.length
            ? 'Create one to start selling leads.'
            : 'Add a service line above, then create a campaign.'}
        </Empty>
      ) : (
        <Panel title={`${dir.campaigns.length} campaigns`}>
          <div class="table-wrap">
            <table class="table" data-testid="campaigns-table">
              <thead>
                <tr>
                  <th>Campaign</th>
                  <th>Mode</th>
                  <th class="num">Window</th>
                  <th class="num">Base price</th>
                  <th class="num">Winners</th>
                  <th>Pool</th>
                  <th>Fallback</th>
                  <th>Status</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {dir.campaigns.map((c) => (
                  <tr key={c.id}>
                    <td>
                      <Link href={`/admin/campaigns/${c.id}`}>{c.name}</Link>
                      <div class="muted">{c.serviceLine}</div>
                    </td>
                    <td>
                      <Badge value={c.mode}>{MODE_LABEL[c.mode]}</Badge>
                      {c.mode === 'push' ? (
                        <div class="muted">{STRATEGY_LABEL[c.pushStrategy]}</div>
                      ) : c.auction === 'highest_bid' ? (
                        <div class="muted">highest bid</div>
                      ) : null}
                    </td>
                    <td class="num">{c.mode === 'ping_post' ? `${c.claimWindowSeconds} s` : '–'}</td>
                    <td class="num">{credits(c.price.base)}</td>
                    <td class="num">{c.maxWinners === 1 ? 'exclusive' : c.maxWinners}</td>
                    <td>{c.buyers.length ? `${c.buyers.length} buyers` : 'all buyers'}</td>
                    <td>
                      {c.fallbackCampaignId ? (
                        dir.campaignName(c.fallbackCampaignId)
                      ) : (
                        <span class="muted">manual review</span>
                      )}
                    </td>
                    <td>
                      <Badge value={c.status} />
                    </td>
                    <td>
                      <div class="row-actions" style={{ marginTop: 0, flexWrap: 'nowrap' }}>
                        <Button
                          size="sm"
                          disabled={busy}
                          onClick={() =>
                            void patch(
                              c,
                              { mode: c.mode === 'push' ? 'ping_post' : 'push' },
                              `${c.name} now runs as ${c.mode === 'push' ? 'ping post' : 'push'}`,
                            )
                          }
                        >
                          Switch to {c.mode === 'push' ? 'ping post' : 'push'}
                        </Button>
                        <Button
                          size="sm"
                          variant="ghost"
                          disabled={busy}
                          onClick={() =>
                            void patch(
                              c,
                              { status: c.status === 'active' ? 'paused' : 'active' },
                              `${c.name} ${c.status === 'active' ? 'paused' : 'resumed'}`,
                            )
                          }
                        >
                          {c.status === 'active' ? 'Pause' : 'Resume'}
                        </Button>
                      </div>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </Panel>
      )}
    </div>
  );
}

function ServiceLines() {
  const { api, dir } = useConsole();
  const [key, setKey] = useState('');
  const [name, setName] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [add, busy] = useAction(async () => {
    setError(null);
    try {
      await api.post('/v1/service-lines', { key, name: name || key });
    } catch (err) {
      setError(err instanceof ApiError ? (err.fieldError('key') ?? err.detail) : messageOf(err));
      throw err;
    }
    setKey('');
    setName('');
    await dir.reload();
  });
  return (
    <Panel title="Service lines" actions={<span class="muted">what buyers subscribe to and campaigns sell</span>}>
      <div class="checks" style={{ marginBottom: '12px' }}>
        {dir.serviceLines.length ? (
          dir.serviceLines.map((s) => (
            <span key={s.id} class="chip chip-on" title={s.name}>
              {s.key}
              <span class="muted">{s.name !== s.key ? s.name : ''}</span>
            </span>
          ))
        ) : (
          <span class="muted">None yet – add the first one (e.g. roofing).</span>
        )}
      </div>
      <form
        class="row"
        onSubmit={(e) => {
          e.preventDefault();
          void add();
        }}
      >
        <Field label="Key" error={error ?? undefined}>
          <input
            type="text"
            value={key}
            onInput={(e) => setKey(e.currentTarget.value.toLowerCase())}
            placeholder="roofing"
            pattern="[a-z0-9][a-z0-9_-]*"
            required
          />
        </Field>
        <Field label="Name">
          <input type="text" value={name} onInput={(e) => setName(e.currentTarget.value)} placeholder="Roofing" />
        </Field>
        <Button type="submit" busy={busy}>
          Add service line
        </Button>
      </form>
    </Panel>
  );
}

// ─── the editor ──────────────────────────────────────────────────────────────

interface Form {
  name: string;
  serviceLine: string;
  mode: DeliveryMode;
  pushStrategy: PushStrategy;
  claimWindowSeconds: string;
  previewFields: string[];
  base: string;
  zipTiers: { zips: string; price: string }[];
  multipliers: { key: string; factor: string }[];
  adjustments: { question: string; equals: string; add: string }[];
  maxWinners: string;
  fallbackCampaignId: string;
  caps: { daily: string; weekly: string; monthly: string };
  allBuyers: boolean;
  pool: Record<string, { on: boolean; priority: string; weight: string }>;
  status: 'active' | 'paused';
  auction: AuctionKind;
  floorPrice: string;
  pricing: AuctionPricing;
}

function formOf(c: Campaign | null, serviceLine: string): Form {
  const s = (n: number | undefined) => (n === undefined ? '' : String(n));
  const pool: Form['pool'] = {};
  for (const b of c?.buyers ?? [])
    pool[b.buyerId] = { on: true, priority: String(b.priority), weight: String(b.weight) };
  return {
    name: c?.name ?? '',
    serviceLine: c?.serviceLine ?? serviceLine,
    mode: c?.mode ?? 'ping_post',
    pushStrategy: c?.pushStrategy ?? 'round_robin',
    claimWindowSeconds: s(c?.claimWindowSeconds ?? 60),
    previewFields: c?.previewFields ?? ['city', 'state', 'zip'],
    base: s(c?.price.base ?? 25),
    zipTiers: (c?.price.zipTiers ?? []).map((t) => ({ zips: t.zips.join(', '), price: String(t.price) })),
    multipliers: Object.entries(c?.price.multipliers ?? {}).map(([key, f]) => ({ key, factor: String(f) })),
    adjustments: (c?.price.adjustments ?? []).map((a) => ({
      question: a.question,
      equals: String(a.equals),
      add: String(a.add),
    })),
    maxWinners: s(c?.maxWinners ?? 1),
    fallbackCampaignId: c?.fallbackCampaignId ?? '',
    caps: { daily: s(c?.caps.daily), weekly: s(c?.caps.weekly), monthly: s(c?.caps.monthly) },
    allBuyers: !c || c.buyers.length === 0,
    pool,
    status: c?.status ?? 'active',
    auction: c?.auction ?? 'first_claim',
    floorPrice: c?.floorPrice === null || c?.floorPrice === undefined ? '' : String(c.floorPrice),
    pricing: c?.pricing ?? 'first_price',
  };
}

const toValue = (v: string): string | number | boolean =>
  v === 'true' ? true : v === 'false' ? false : v.trim() !== '' && !Number.isNaN(Number(v)) ? Number(v) : v;
const int = (v: string) => (v.trim() === '' ? undefined : Number(v));

function bodyOf(f: Form) {
  const price: PriceRules = { base: Number(f.base) };
  if (f.zipTiers.length)
    price.zipTiers = f.zipTiers.map((t) => ({ zips: t.zips.split(/[\s,]+/).filter(Boolean), price: Number(t.price) }));
  if (f.multipliers.length) price.multipliers = Object.fromEntries(f.multipliers.map((m) => [m.key, Number(m.factor)]));
  if (f.adjustments.length)
    price.adjustments = f.adjustments.map((a) => ({
      question: a.question,
      equals: toValue(a.equals),
      add: Number(a.add),
    }));
  const caps = Object.fromEntries(
    Object.entries(f.caps)
      .filter(([, v]) => v.trim() !== '')
      .map(([k, v]) => [k, Number(v)]),
  );
  const buyers = f.allBuyers
    ? []
    : Object.entries(f.pool)
        .filter(([, p]) => p.on)
        .map(([buyerId, p]) => ({
          buyerId,
          ...(int(p.priority) !== undefined ? { priority: int(p.priority) } : {}),
          ...(int(p.weight) ? { weight: int(p.weight) } : {}),
        }));
  return {
    name: f.name,
    serviceLine: f.serviceLine,
    mode: f.mode,
    pushStrategy: f.pushStrategy,
    claimWindowSeconds: Number(f.claimWindowSeconds),
    previewFields: f.previewFields,
    price,
    maxWinners: Number(f.maxWinners),
    fallbackCampaignId: f.fallbackCampaignId || null,
    caps,
    buyers,
    status: f.status,
    auction: f.auction,
    floorPrice: f.floorPrice.trim() === '' ? null : Number(f.floorPrice),
    pricing: f.pricing,
  };
}

export function CampaignEditor({ id }: { id: string | null }) {
  const { api, dir } = useConsole();
  const existing = id ? (dir.campaigns.find((c) => c.id === id) ?? null) : null;
  const [f, setF] = useState<Form>(() => formOf(existing, dir.serviceLines[0]?.key ?? ''));
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [answer, setAnswer] = useState('');
  if (id && !existing) return <ErrorNote error={new Error('No such campaign in this agency.')} />;
  const up = (p: Partial<Form>) => setF({ ...f, ...p });
  const fe = (path: string) => (error instanceof ApiError ? error.fieldError(path) : undefined);

  const save = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body = bodyOf(f);
      const res = existing
        ? await api.patch<{ campaign: Campaign }>(`/v1/campaigns/${existing.id}`, body)
        : await api.post<{ campaign: Campaign }>('/v1/campaigns', body);
      await dir.reload();
      toast(existing ? 'Campaign saved' : 'Campaign created', 'ok');
      navigate(`/admin/campaigns/${res.campaign.id}`, { replace: !existing });
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const togglePreview = (k: string) =>
    up({
      previewFields: f.previewFields.includes(k) ? f.previewFields.filter((x) => x !== k) : [...f.previewFields, k],
    });
  const extraPreview = f.previewFields.filter((k) => !(PREVIEWABLE_FIELDS as readonly string[]).includes(k));

  return (
    <div class="page">
      <div class="breadcrumb">
        <Link href="/admin/campaigns">Campaigns</Link> / {existing ? existing.name : 'new'}
      </div>
      <div class="page-head">
        <div>
          <h1>{existing ? existing.name : 'New campaign'}</h1>
          {existing ? (
            <p class="id">{existing.id}</p>
          ) : (
            <p class="muted">Changes apply to new leads; a lead in flight keeps the settings it was routed with.</p>
          )}
        </div>
      </div>
      <form onSubmit={save}>
        <div class="grid-2">
          <Panel title="Basics">
            <div class="stack">
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
                <Field
                  label="Claim window (s)"
                  hint="ping post: how long buyers may claim"
                  error={fe('claimWindowSeconds')}
                >
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
                  <select
                    value={f.pushStrategy}
                    onChange={(e) => up({ pushStrategy: e.currentTarget.value as PushStrategy })}
                  >
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
                        <select
                          value={f.pricing}
                          onChange={(e) => up({ pricing: e.currentTarget.value as AuctionPricing })}
                        >
                          <option value="first_price">its bid</option>
                          <option value="second_price">the next bid</option>
                        </select>
                      </Field>
                    </>
                  ) : null}
                </div>
              ) : null}
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
                  <select
                    value={f.fallbackCampaignId}
                    onChange={(e) => up({ fallbackCampaignId: e.currentTarget.value })}
                  >
                    <option value="">None – manual review</option>
                    {dir.campaigns
                      .filter((c) => c.id !== existing?.id)
                      .map((c) => (
                        <option key={c.id} value={c.id}>
                          {c.name}
                        </option>
                      ))}
                  </select>
                </Field>
              </div>
            </div>
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
          </Panel>
          <div>
            <Panel title="Pricing">
              <Field label="Base price (credits)" error={fe('price.base') ?? fe('price')}>
                <input
                  type="number"
                  name="base"
                  min={0}
                  value={f.base}
                  onInput={(e) => up({ base: e.currentTarget.value })}
                  required
                />
              </Field>
              <div class="form-section">
                <h3>ZIP tiers – first match wins</h3>
                {f.zipTiers.map((t, i) => (
                  <div class="rule-row two" key={i}>
                    <input
                      type="text"
                      placeholder="ZIPs or prefixes: 900, 78701"
                      value={t.zips}
                      onInput={(e) =>
                        up({
                          zipTiers: f.zipTiers.map((x, j) => (j === i ? { ...x, zips: e.currentTarget.value } : x)),
                        })
                      }
                    />
                    <input
                      type="number"
                      placeholder="price"
                      value={t.price}
                      onInput={(e) =>
                        up({
                          zipTiers: f.zipTiers.map((x, j) => (j === i ? { ...x, price: e.currentTarget.value } : x)),
                        })
                      }
                    />
                    <button
                      type="button"
                      class="icon-btn"
                      aria-label="Remove"
                      onClick={() => up({ zipTiers: f.zipTiers.filter((_, j) => j !== i) })}
                    >
                      ×
                    </button>
                  </div>
                ))}
                <Button
                  size="sm"
                  variant="ghost"
                  onClick={() => up({ zipTiers: [...f.zipTiers, { zips: '', price: '' }] })}
                >
                  + ZIP tier
                </Button>
              </div>
              <div class="form-section">
                <h3>Multipliers by service line</h3>
                {f.multipliers.map((m, i) => (
                  <div class="rule-row two" key={i}>
                    <input
                      type="text"
                      placeholder="service line"
                      value={m.key}
                      onInput={(e) =>
                        up({
                          multipliers: f.multipliers.map((x, j) =>
                            j === i ? { ...x, key: e.currentTarget.value } : x,
                          ),
                        })
                      }
                    />
                    <input
                      type="number"
                      step="0.05"
                      placeholder="× 1.5"
                      value={m.factor}
                      onInput={(e) =>
                        up({
                          multipliers: f.multipliers.map((x, j) =>
                            j === i ? { ...x, factor: e.currentTarget.value } : x,
                          ),
                        })
                      }
                    />
                    <button
                      type="button"
                      class="icon-btn"
                      aria-label="Remove"
                      onClick={() => up({ multipliers: f.multipliers.filter((_, j) => j !== i) })}
                    >
                      ×
                    </button>
                  </div>
                ))}
                <Button
                  size="sm"
                  variant="ghost"
                  onClick={() => up({ multipliers: [...f.multipliers, { key: f.serviceLine, factor: '1.5' }] })}
                >
                  + Multiplier
                </Button>
              </div>
              <div class="form-section">
                <h3>Adjustments by answer</h3>
                {f.adjustments.map((a, i) => (
                  <div class="rule-row" key={i}>
                    <input
                      type="text"
                      placeholder="question"
                      value={a.question}
                      onInput={(e) =>
                        up({
                          adjustments: f.adjustments.map((x, j) =>
                            j === i ? { ...x, question: e.currentTarget.value } : x,
                          ),
                        })
                      }
                    />
                    <input
                      type="text"
                      placeholder="equals"
                      value={a.equals}
                      onInput={(e) =>
                        up({
                          adjustments: f.adjustments.map((x, j) =>
                            j === i ? { ...x, equals: e.currentTarget.value } : x,
                          ),
                        })
                      }
                    />
                    <input
                      type="number"
                      placeholder="+ credits"
                      value={a.add}
                      onInput={(e) =>
                        up({
                          adjustments: f.adjustments.map((x, j) =>
                            j === i ? { ...x, add: e.currentTarget.value } : x,
                          ),
                        })
                      }
                    />
                    <button
                      type="button"
                      class="icon-btn"
                      aria-label="Remove"
                      onClick={() => up({ adjustments: f.adjustments.filter((_, j) => j !== i) })}
                    >
                      ×
                    </button>
                  </div>
                ))}
                <Button
                  size="sm"
                  variant="ghost"
                  onClick={() =>
                    up({ adjustments: [...f.adjustments, { question: 'homeowner', equals: 'yes', add: '5' }] })
                  }
                >
                  + Adjustment
                </Button>
              </div>
            </Panel>
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
          </div>
        </div>
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
        {error ? <ErrorNote error={error} /> : null}
        <div class="row-actions">
          <Button type="submit" variant="primary" size="lg" busy={busy}>
            {existing ? 'Save campaign' : 'Create campaign'}
          </Button>
          <Button variant="ghost" onClick={() => navigate('/admin/campaigns')}>
            Cancel
          </Button>
        </div>
      </form>
      {existing ? <BuyerPricesPanel campaignId={existing.id} /> : null}
      {!dir.loaded ? <Loading /> : null}
    </div>
  );
}
