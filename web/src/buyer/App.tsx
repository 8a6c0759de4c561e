/**
 * The buyer's dashboard: a person signs in (shared/SessionGate.tsx) as a
 * member of a buyer, then Live Leads (the feed), My leads (full records,
 * disputes), the Pipeline, the Wallet (balance, ledger) and, for the buyer's
 * owners, Settings.
 */
import { useCallback, useEffect, useState } from 'preact/hooks';

import { type Api, ok } from '../shared/api';
import { num } from '../shared/format';
import { type ReadySession, SessionControls, SessionGate } from '../shared/SessionGate';
import type { Wallet as WalletData } from '../shared/types';
import { Button, Logo, Toasts, useNow } from '../shared/ui';
import { TeamPanel } from '../team/TeamPanel';
import { LiveLeads, useLiveBoard } from './LiveLeads';
import { MyLeads } from './MyLeads';
import { PipelinePage } from './Pipeline';
import { SettingsPage } from './Settings';
import { WalletPage } from './Wallet';

type Tab = 'live' | 'leads' | 'pipeline' | 'wallet' | 'settings' | 'team';
/** `owner`: only the buyer's owners see it (the API refuses the others anyway). */
const TABS: { id: Tab; label: string; owner?: true }[] = [
  { id: 'live', label: 'Live Leads' },
  { id: 'leads', label: 'My leads' },
  { id: 'pipeline', label: 'Pipeline' },
  { id: 'wallet', label: 'Wallet' },
  { id: 'settings', label: 'Settings', owner: true },
  { id: 'team', label: 'Team', owner: true },
];
const tabOfHash = (tabs: typeof TABS): Tab => {
  const h = location.hash.replace('#', '');
  return tabs.some((t) => t.id === h) ? (h as Tab) : 'live';
};

/** How often the balance is refreshed while the page is open (besides after every claim). */
const WALLET_REFRESH_MS = 5_000;

export function App() {
  return (
    <SessionGate
      app="buyer"
      title="Live Leads"
      extra={
        <p class="signin-alt">
          Agency staff? <a href="/admin">Open the agency console</a> · Lead sellers:{' '}
          <a href="/source">the source portal</a>
        </p>
      }
    >
      {(s) => <Dashboard session={s} />}
    </SessionGate>
  );
}

function useWallet(api: Api) {
  const [wallet, setWallet] = useState<WalletData | null>(null);
  const refresh = useCallback(async () => {
    try {
      setWallet(await ok(api.client.GET('/v1/me/wallet')));
    } catch {
      /* offline: the banner says so; the next tick tries again */
    }
  }, [api]);
  useEffect(() => {
    void refresh();
    const t = setInterval(() => void refresh(), WALLET_REFRESH_MS);
    const onVisible = () => document.visibilityState === 'visible' && void refresh();
    document.addEventListener('visibilitychange', onVisible);
    return () => {
      clearInterval(t);
      document.removeEventListener('visibilitychange', onVisible);
    };
  }, [refresh]);
  return { wallet, refresh, setBalance: (balance: number) => setWallet((w) => (w ? { ...w, balance } : w)) };
}

function RetryIn({ at }: { at: number }) {
  const now = useNow(250);
  return <> next try in {Math.max(0, Math.ceil((at - now) / 1000))} s. </>;
}

function Dashboard({ session }: { session: ReadySession }) {
  const { api, me, setMe: onMe } = session;
  const tabs = TABS.filter((t) => !t.owner || session.view.organisation.role === 'owner');
  const [tab, setTab] = useState<Tab>(() => tabOfHash(tabs));
  const [wins, setWins] = useState(0);
  const { wallet, refresh, setBalance } = useWallet(api);
  const onClaimAnswered = useCallback(
    (balance?: number) => {
      if (balance !== undefined) {
        setBalance(balance);
        setWins((n) => n + 1);
      }
      void refresh();
    },
    [refresh],
  );
  const onWalletChanged = useCallback(
    (balance: number) => {
      setBalance(balance);
      void refresh();
    },
    [refresh],
  );
  const live = useLiveBoard(api, me.buyer?.id ?? '', onClaimAnswered, onWalletChanged);
  const openCount = live.board.filter(
    (c) => c.phase === 'open' || c.phase === 'claiming' || c.phase === 'refused',
  ).length;

  useEffect(() => {
    const onHash = () => setTab(tabOfHash(tabs));
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);
  useEffect(() => {
    document.title = openCount ? `(${openCount}) Live Leads – Leadwire` : 'Live Leads – Leadwire';
  }, [openCount]);
  // Back online: the balance may have moved meanwhile.
  useEffect(() => {
    if (live.status === 'online') void refresh();
  }, [live.status]);

  const balance = wallet?.balance ?? me.buyer?.balance ?? null;
  const go = (t: Tab) => {
    history.replaceState(null, '', t === 'live' ? location.pathname : `#${t}`);
    setTab(t);
  };

  return (
    <div class="app buyer-app">
      <header class="topbar">
        <Logo product="Live Leads" />
        <nav class="tabs" aria-label="Sections">
          {tabs.map((t) => (
            <button
              key={t.id}
              class={`tab ${tab === t.id ? 'tab-on' : ''}`}
              aria-current={tab === t.id ? 'page' : undefined}
              onClick={() => go(t.id)}
            >
              {t.label}
              {t.id === 'live' && openCount ? <span class="tab-count">{openCount}</span> : null}
            </button>
          ))}
        </nav>
        <div class="topbar-right">
          <span
            class={`conn conn-${live.status}`}
            title={live.status === 'online' ? 'Live feed connected' : 'Live feed reconnecting'}
          >
            <span class="conn-dot" />{' '}
            {live.status === 'online' ? 'Live' : live.status === 'connecting' ? 'Connecting' : 'Offline'}
          </span>
          <button
            class={`balance ${balance !== null && balance <= 0 ? 'balance-low' : ''}`}
            onClick={() => go('wallet')}
            title="Your credit balance"
          >
            <span class="balance-label">Balance</span>
            <span class="balance-n" data-testid="balance">
              {balance === null ? '…' : num(balance)}
            </span>
          </button>
          <div class="who">
            <span class="who-name">{me.buyer?.name}</span>
            <span class="who-org">{me.agency?.name}</span>
          </div>
          <SessionControls session={session} app="buyer" />
        </div>
      </header>
      {live.status !== 'online' && live.everOnline ? (
        <div class="banner banner-offline" role="alert" data-testid="offline-banner">
          <span class="spinner" aria-hidden="true" />
          <span>
            <strong>Offline – reconnecting…</strong>
            {live.retryAt !== undefined && live.status === 'offline' ? <RetryIn at={live.retryAt} /> : ' '}Offers that
            open meanwhile appear as soon as the connection is back.
          </span>
          <Button size="sm" onClick={live.reconnect}>
            Retry now
          </Button>
        </div>
      ) : null}
      {me.buyer &&
      me.buyer.lowBalanceThreshold !== null &&
      balance !== null &&
      balance < me.buyer.lowBalanceThreshold ? (
        <div class="banner banner-warn" role="status" data-testid="low-balance-banner">
          Your balance ({num(balance)} credits) is below your alert threshold of {num(me.buyer.lowBalanceThreshold)}.
          Ask {me.agency?.name ?? 'your agency'} to top up your wallet: a claim above your balance is refused
          (insufficient credits).{' '}
          <a
            href="#wallet"
            data-testid="low-balance-topup"
            onClick={(e) => {
              e.preventDefault();
              go('wallet');
            }}
          >
            Top up your wallet
          </a>
        </div>
      ) : null}
      {me.buyer?.status === 'paused' ? (
        <div class="banner banner-warn">
          Your account is paused{me.buyer.pauseReason ? `: ${me.buyer.pauseReason}` : ''}. You will not receive offers
          until your agency resumes it.
        </div>
      ) : null}
      <main class="main">
        {tab === 'live' ? (
          <LiveLeads live={live} balance={balance} wallet={wallet} onWallet={() => go('wallet')} />
        ) : null}
        {tab === 'leads' ? <MyLeads api={api} version={wins} /> : null}
        {tab === 'wallet' ? <WalletPage api={api} wallet={wallet} onRefresh={refresh} /> : null}
        {tab === 'pipeline' ? <PipelinePage api={api} /> : null}
        {tab === 'settings' && tabs.some((t) => t.id === 'settings') ? (
          <SettingsPage api={api} me={me} onChanged={onMe} />
        ) : null}
        {tab === 'team' && tabs.some((t) => t.id === 'team') ? <TeamPanel api={api} kind="buyer" /> : null}
      </main>
      <Toasts />
    </div>
  );
}
