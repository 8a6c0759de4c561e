/**
 * The source portal (/source): a member of a lead seller signs in
 * (shared/SessionGate.tsx), then sees its
 * leads with their outcomes and payouts (and downloads them as CSV), why its
 * leads and pings were refused (#23: counts by reason, its last refused leads
 * with their sub and click ids), what the agency owes it with the ledger
 * behind it, and its posting spec.
 */
import { useEffect, useState } from 'preact/hooks';

import { LedgerTable } from '../buyer/Wallet';
import { type Api, ok } from '../shared/api';
import { dateTime, num, shortId } from '../shared/format';
import { type ReadySession, SessionControls, SessionGate } from '../shared/SessionGate';
import {
  CsvButton,
  NO_PAYOUT_YET,
  PostingSpecView,
  type Range,
  RangeFields,
  rangeFilter,
  REFUSAL_REASONS,
  RefusalCountsTable,
  SOURCE_PORTAL_LEDGER_KINDS,
  SourceLeadsTable,
} from '../shared/supply';
import type { SourceBalance } from '../shared/types';
import { Button, Empty, ErrorNote, Loading, Logo, Panel, Toasts, useAsync, useMorePages } from '../shared/ui';

type Tab = 'leads' | 'refused' | 'balance' | 'spec';
const TABS: { id: Tab; label: string }[] = [
  { id: 'leads', label: 'My leads' },
  { id: 'refused', label: 'Refused' },
  { id: 'balance', label: 'Balance' },
  { id: 'spec', label: 'Posting spec' },
];
const tabOfHash = (): Tab => {
  const h = location.hash.replace('#', '');
  return TABS.some((t) => t.id === h) ? (h as Tab) : 'leads';
};

export function App() {
  return (
    <SessionGate
      app="source"
      title="Source portal"
      extra={
        <p class="signin-alt">
          Agency staff? <a href="/admin">Open the agency console</a>
        </p>
      }
    >
      {(s) => <Portal session={s} />}
    </SessionGate>
  );
}

function Portal({ session }: { session: ReadySession }) {
  const { api, me } = session;
  const [tab, setTab] = useState<Tab>(tabOfHash);
  const balance = useAsync(() => ok(api.client.GET('/v1/source/balance')), [api]);
  const spec = useAsync(() => ok(api.client.GET('/v1/source/spec')), [api]);
  useEffect(() => {
    const onHash = () => setTab(tabOfHash());
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);
  const go = (t: Tab) => {
    history.replaceState(null, '', t === 'leads' ? location.pathname : `#${t}`);
    setTab(t);
    if (t === 'balance') void balance.reload();
  };
  const names = new Map((spec.data?.campaigns ?? []).map((c) => [c.campaignId, c.name]));
  const campaignName = (id: string) => names.get(id) ?? `campaign ${shortId(id)}`;
  const owed = balance.data?.balance ?? me.source?.balance ?? null;

  return (
    <div class="app source-app">
      <header class="topbar">
        <Logo product="Source portal" />
        <nav class="tabs" aria-label="Sections">
          {TABS.map((t) => (
            <button
              key={t.id}
              class={`tab ${tab === t.id ? 'tab-on' : ''}`}
              aria-current={tab === t.id ? 'page' : undefined}
              onClick={() => go(t.id)}
            >
              {t.label}
            </button>
          ))}
        </nav>
        <div class="topbar-right">
          <button class="balance" onClick={() => go('balance')} title="What the agency owes you">
            <span class="balance-label">Owed to you</span>
            <span class="balance-n" data-testid="source-topbar-balance">
              {owed === null ? '…' : num(owed)}
            </span>
          </button>
          <div class="who">
            <span class="who-name">{me.source?.name}</span>
            <span class="who-org">{me.agency?.name}</span>
          </div>
          <SessionControls session={session} app="source" />
        </div>
      </header>
      {me.source?.status === 'paused' ? (
        <div class="banner banner-warn">
          This source is paused: the agency does not take its leads now (pings are rejected, posts refused).
        </div>
      ) : null}
      <main class="main">
        {tab === 'leads' ? (
          <LeadsTab api={api} campaignName={campaignName} onRefresh={() => void balance.reload()} />
        ) : null}
        {tab === 'refused' ? <RefusedTab api={api} /> : null}
        {tab === 'balance' ? (
          <BalanceTab
            api={api}
            balance={balance.data ?? null}
            error={balance.error}
            onRefresh={() => void balance.reload()}
          />
        ) : null}
        {tab === 'spec' ? (
          <div class="page">
            <div class="page-head">
              <div>
                <h1>Posting spec</h1>
                <p class="muted">
                  How to send leads to {me.agency?.name ?? 'the agency'}: ping, then post, into the campaigns you are
                  allowed. Generated from the API's own schemas.
                </p>
              </div>
            </div>
            <ErrorNote error={spec.error} />
            {spec.data ? <PostingSpecView spec={spec.data} /> : spec.error ? null : <Loading />}
          </div>
        ) : null}
      </main>
      <Toasts />
    </div>
  );
}

function LeadsTab({ api, campaignName, onRefresh }: { api: Api; campaignName(id: string): string; onRefresh(): void }) {
  const [range, setRange] = useState<Range>({ from: '', to: '' });
  const query = { limit: 50, ...rangeFilter(range) };
  const { extra, setExtra, cursor, setCursor, more } = useMorePages('leads', (cursor) =>
    api.client.GET('/v1/source/leads', { params: { query: { ...query, cursor } } }),
  );
  const leads = useAsync(async () => {
    const page = await ok(api.client.GET('/v1/source/leads', { params: { query } }));
    setExtra([]);
    setCursor(page.nextCursor);
    return page.leads;
  }, [range.from, range.to]);
  return (
    <div class="page">
      <div class="page-head">
        <div>
          <h1>My leads</h1>
          <p class="muted">
            Every lead you sent, with its outcome (pending, sold, unsold, returned) and what it paid you. A returned
            sale reverses its payout.
          </p>
        </div>
        <div class="row-actions">
          <CsvButton
            csv={() =>
              api.client.GET('/v1/exports/leads.csv', { params: { query: rangeFilter(range) }, parseAs: 'text' })
            }
            file="leads.csv"
          >
            Download CSV
          </CsvButton>
          <Button
            size="sm"
            onClick={() => {
              void leads.reload();
              onRefresh();
            }}
          >
            Refresh
          </Button>
        </div>
      </div>
      <div class="filters">
        <RangeFields range={range} onChange={setRange} />
      </div>
      <ErrorNote error={leads.error} />
      {leads.data ? (
        <Panel>
          <SourceLeadsTable leads={[...leads.data, ...extra]} campaignName={campaignName} />
        </Panel>
      ) : !leads.error ? (
        <Loading />
      ) : null}
      {cursor ? (
        <div class="more">
          <Button onClick={() => void more()}>Load more</Button>
        </div>
      ) : null}
    </div>
  );
}

/** Why this source's leads and pings were refused: counts by reason, then its last refused leads. */
function RefusedTab({ api }: { api: Api }) {
  const [range, setRange] = useState<Range>({ from: '', to: '' });
  const refusals = useAsync(
    () => ok(api.client.GET('/v1/source/refusals', { params: { query: rangeFilter(range) } })),
    [range.from, range.to],
  );
  return (
    <div class="page">
      <div class="page-head">
        <div>
          <h1>Refused</h1>
          <p class="muted">
            Why your leads and pings were refused, with the code each answer carried. A suppressed lead is kept but
            offered to no buyer; which list holds it is not said.
          </p>
        </div>
        <div class="row-actions">
          <Button size="sm" onClick={() => void refusals.reload()}>
            Refresh
          </Button>
        </div>
      </div>
      <div class="filters">
        <RangeFields range={range} onChange={setRange} />
      </div>
      <ErrorNote error={refusals.error} />
      {refusals.data ? (
        <>
          <Panel title="By reason">
            <RefusalCountsTable counts={refusals.data.byReason} testId="source-refusal-reasons" />
          </Panel>
          <Panel title="Last refused leads">
            {refusals.data.recent.length ? (
              <div class="table-wrap">
                <table class="table" data-testid="source-refusals">
                  <thead>
                    <tr>
                      <th>When</th>
                      <th>Campaign</th>
                      <th>Reason</th>
                      <th>Field</th>
                      <th>Sub id</th>
                      <th>Click id</th>
                    </tr>
                  </thead>
                  <tbody>
                    {refusals.data.recent.map((r, i) => (
                      <tr key={`${r.at}-${i}`} data-reason={r.reason}>
                        <td>{dateTime(r.at)}</td>
                        <td>{r.campaignName}</td>
                        <td>
                          {REFUSAL_REASONS[r.reason]} <code>{r.reason}</code>
                        </td>
                        <td class="muted">{r.field ?? '–'}</td>
                        <td class="muted">{r.subId ?? '–'}</td>
                        <td class="muted">{r.clickId ?? '–'}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            ) : (
              <Empty title="No lead refused in this range">Every lead you posted was taken.</Empty>
            )}
          </Panel>
        </>
      ) : !refusals.error ? (
        <Loading />
      ) : null}
    </div>
  );
}

function BalanceTab({
  api,
  balance,
  error,
  onRefresh,
}: {
  api: Api;
  balance: SourceBalance | null;
  error: unknown;
  onRefresh(): void;
}) {
  const { extra, setExtra, cursor, setCursor, more } = useMorePages('entries', (cursor) =>
    api.client.GET('/v1/source/ledger', { params: { query: { limit: 50, cursor } } }),
  );
  const ledger = useAsync(async () => {
    const page = await ok(api.client.GET('/v1/source/ledger', { params: { query: { limit: 50 } } }));
    setExtra([]);
    setCursor(page.nextCursor);
    return page.entries;
  }, [balance?.entries[0]?.id]);
  return (
    <div class="page">
      <div class="page-head">
        <div>
          <h1>Balance</h1>
          <p class="muted">
            What the agency owes you: a payout for each sold lead, written with the sale; a reversal when a sale is
            returned; a settlement, with its reference (e.g. the transfer id), each time the agency pays you.
          </p>
        </div>
        <div class="row-actions">
          <CsvButton
            csv={() => api.client.GET('/v1/exports/source-ledger.csv', { parseAs: 'text' })}
            file="source-ledger.csv"
          >
            Ledger CSV
          </CsvButton>
          <Button size="sm" onClick={onRefresh}>
            Refresh
          </Button>
        </div>
      </div>
      <ErrorNote error={error} />
      <div class="wallet-hero">
        <div class="wallet-balance">
          <span class="wallet-n" data-testid="source-balance">
            {balance ? num(balance.balance) : '…'}
          </span>
          <span class="wallet-u">credits owed to you</span>
        </div>
      </div>
      <Panel title="Ledger">
        <ErrorNote error={ledger.error} />
        {ledger.data ? (
          <LedgerTable
            entries={[...ledger.data, ...extra]}
            kinds={SOURCE_PORTAL_LEDGER_KINDS}
            empty={NO_PAYOUT_YET}
            testId="source-ledger"
          />
        ) : (
          <Loading />
        )}
        {cursor ? (
          <div class="more">
            <Button size="sm" onClick={() => void more()}>
              Load more
            </Button>
          </div>
        ) : null}
      </Panel>
    </div>
  );
}
