/** The wallet: balance, and the ledger (top-ups, charges, refunds), newest first. */
import { type Api, ok } from '../shared/api';
import { dateTime, num } from '../shared/format';
import type { LedgerEntry, Wallet } from '../shared/types';
import { Button, ErrorNote, Loading, Panel, useAsync, useMorePages } from '../shared/ui';
import { AutoRecharge } from './wallet/AutoRecharge';
import { Statements } from './wallet/Statements';
import { TopUp } from './wallet/TopUp';

export function WalletPage({
  api,
  wallet,
  onRefresh,
}: {
  api: Api;
  wallet: Wallet | null;
  onRefresh(): Promise<void>;
}) {
  const { extra, setExtra, cursor, setCursor, more } = useMorePages('entries', (cursor) =>
    api.client.GET('/v1/me/ledger', { params: { query: { limit: 50, cursor } } }),
  );
  const ledger = useAsync(async () => {
    const page = await ok(api.client.GET('/v1/me/ledger', { params: { query: { limit: 50 } } }));
    setExtra([]);
    setCursor(page.nextCursor);
    return page.entries;
  }, [wallet?.entries[0]?.id]);
  const entries = [...(ledger.data ?? []), ...extra];
  return (
    <div class="page">
      <div class="page-head">
        <div>
          <h1>Wallet</h1>
          <p class="muted">
            Credits are charged the instant you win a claim. Your agency tops up your wallet; refunds of approved
            disputes come back here.
          </p>
        </div>
        <Button size="sm" onClick={() => void onRefresh().then(() => ledger.reload())}>
          Refresh
        </Button>
      </div>
      <div class="wallet-hero">
        <div class="wallet-balance">
          <span class="wallet-n" data-testid="wallet-balance">
            {wallet ? num(wallet.balance) : '…'}
          </span>
          <span class="wallet-u">credits available</span>
        </div>
      </div>
      <TopUp api={api} />
      <AutoRecharge api={api} />
      <Panel title="Ledger">
        <ErrorNote error={ledger.error} />
        {ledger.loading && !ledger.data ? <Loading /> : null}
        <LedgerTable entries={entries} />
        {cursor ? (
          <div class="more">
            <Button size="sm" onClick={() => void more()}>
              Load more
            </Button>
          </div>
        ) : null}
      </Panel>
      <Statements api={api} />
    </div>
  );
}

const KIND: Record<string, string> = {
  top_up: 'Top-up',
  charge: 'Lead charge',
  refund: 'Refund',
  adjustment: 'Adjustment',
  card_refund: 'Card refund',
  card_refund_reversal: 'Card refund failed (credits back)',
  dispute: 'Card dispute',
  dispute_reversal: 'Card dispute won',
};

/** The columns every ledger shares: a buyer's (LedgerEntry) and a source's (SourceLedgerEntry). */
type AnyLedgerEntry = Pick<LedgerEntry, 'id' | 'amount' | 'balanceAfter' | 'leadId' | 'reference' | 'createdAt'> & {
  kind: string;
};

/** A ledger, newest first; `kinds` words the entry kinds (default: a buyer's). */
export function LedgerTable({
  entries,
  kinds = KIND,
  empty = 'No entries yet.',
  testId,
}: {
  entries: AnyLedgerEntry[];
  kinds?: Record<string, string>;
  empty?: string;
  testId?: string;
}) {
  if (!entries.length) return <p class="muted">{empty}</p>;
  return (
    <div class="table-wrap">
      <table class="table" data-testid={testId}>
        <thead>
          <tr>
            <th>When</th>
            <th>What</th>
            <th>Reference</th>
            <th class="num">Amount</th>
            <th class="num">Balance</th>
          </tr>
        </thead>
        <tbody>
          {entries.map((e) => (
            <tr key={e.id}>
              <td>{dateTime(e.createdAt)}</td>
              <td>
                <span class={`kind kind-${e.kind}`}>{kinds[e.kind] ?? e.kind}</span>
              </td>
              <td class="muted">{e.reference ?? (e.leadId ? `lead ${e.leadId.slice(0, 8)}` : '')}</td>
              <td class={`num ${e.amount < 0 ? 'neg' : 'pos'}`}>
                {e.amount > 0 ? '+' : ''}
                {num(e.amount)}
              </td>
              <td class="num">{num(e.balanceAfter)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
