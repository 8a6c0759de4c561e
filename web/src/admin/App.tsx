/**
 * The agency console: a member of an agency signs in (shared/SessionGate.tsx;
 * the platform's operators get the page that creates agencies), then leads,
 * the manual review queue, offer
 * timelines, campaigns, buyers, sources (with their posting specs), disputes
 * and analytics.
 */
import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useMemo, useState } from 'preact/hooks';

import { type Api, messageOf, ok } from '../shared/api';
import { ApiKeys } from '../shared/ApiKeys';
import { type ReadySession, SessionControls, SessionGate } from '../shared/SessionGate';
import type { Agency } from '../shared/types';
import { Button, Field, Loading, Logo, Modal, SecretOnce, Toasts } from '../shared/ui';
import { Analytics } from './Analytics';
import { AuditLog } from './Audit';
import { BuyerDetail, Buyers } from './Buyers';
import { CampaignEditor } from './campaign-editor/CampaignEditor';
import { Campaigns } from './Campaigns';
import { ConsentProvidersPage } from './ConsentProviders';
import { Ctx, useDirectory } from './context';
import { Disputes } from './Disputes';
import { ErasurePage } from './Erasure';
import { LeadDetail, Leads } from './Leads';
import { Payments } from './Payments';
import { PaymentSettingsPage } from './PaymentSettings';
import { Review } from './Review';
import { Link, match, navigate, useLocation } from './router';
import { ScrubsPage } from './Scrubs';
import { SourceDetail, Sources, SourceSpecPage } from './Sources';
import { SettingsPage } from './SsoSettings';
import { SuppressionPage } from './Suppression';
import { Team } from './Team';
import { OfferTimeline } from './Timeline';

export function App() {
  return (
    <SessionGate
      app="agency"
      title="Agency console"
      extra={
        <p class="signin-alt">
          Buyers: <a href="/">Live Leads</a> · Lead sellers: <a href="/source">the source portal</a>
        </p>
      }
    >
      {(s) =>
        s.me.kind === 'admin' && s.me.agency ? (
          <Console session={s} agency={s.me.agency} />
        ) : (
          <OperatorView session={s} />
        )
      }
    </SessionGate>
  );
}

/** The platform's operators (`platform:operator`): they create agencies and never see their leads. */
function OperatorView({ session }: { session: ReadySession }) {
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [created, setCreated] = useState<{ adminKey: string; agency: Agency } | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const res = await ok(session.api.client.POST('/v1/agencies', { body: { name } }));
      setCreated({ adminKey: res.adminKey, agency: res.agency });
      setName('');
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="app admin-app">
      <header class="topbar">
        <Logo product="Agency console" />
        <div class="topbar-right">
          <div class="who">
            <span class="who-name">Leadwire platform</span>
            <span class="who-org">operator</span>
          </div>
          <SessionControls session={session} app="agency" />
        </div>
      </header>
      <main class="main">
        <form class="signin signin-card" onSubmit={submit} data-testid="create-agency">
          <h2>Create an agency</h2>
          <Field label="Agency name" error={error ?? undefined}>
            <input
              type="text"
              value={name}
              onInput={(e) => setName(e.currentTarget.value)}
              required
              maxLength={200}
              placeholder="Acme Home Leads"
            />
          </Field>
          <Button type="submit" variant="primary" busy={busy}>
            Create agency
          </Button>
        </form>
      </main>
      {created ? (
        <Modal title={`${created.agency.name} is ready`} onClose={() => setCreated(null)}>
          <p>The agency's first admin key, for its integrations: keep it somewhere safe, it is shown once.</p>
          <SecretOnce label="Agency admin key" value={created.adminKey} />
        </Modal>
      ) : null}
      <Toasts />
    </div>
  );
}

// ─── the shell ───────────────────────────────────────────────────────────────

const I = {
  leads: 'M3 5h14M3 10h14M3 15h9',
  review: 'M4 4h12v12H4zM7 10l2 2 4-4',
  campaigns: 'M3 12l8-7v14zM11 8h4a3 3 0 010 6h-4',
  buyers: 'M7 9a3 3 0 100-6 3 3 0 000 6zM2 17a5 5 0 0110 0M13 8a2.5 2.5 0 100-5M13 12a4 4 0 015 4',
  disputes: 'M10 3l8 14H2zM10 8v4M10 14.5v.5',
  sources: 'M3 6h6l2 3h6M3 14h6l2-3M14 6l3 3-3 3',
  analytics: 'M4 16V9M9 16V4M14 16v-5M2 17h16',
  timeline: 'M6 3v14M6 6h9M6 11h7M6 16h10',
  keys: 'M12.5 3a4.5 4.5 0 11-3.9 6.7L3 15.3V17h2.5v-1.5H7V14h1.5l1.3-1.3A4.5 4.5 0 0112.5 3z',
  settings:
    'M10 7a3 3 0 100 6 3 3 0 000-6zM10 2v2M10 16v2M2 10h2M16 10h2M4.3 4.3l1.4 1.4M14.3 14.3l1.4 1.4M4.3 15.7l1.4-1.4M14.3 5.7l1.4-1.4',
  audit: 'M5 3h10v14H5zM8 7h4M8 10h4M8 13h2',
  payments: 'M2 5h16v10H2zM2 8h16M5 12h4',
};
const Icon = ({ d }: { d: string }) => (
  <svg viewBox="0 0 20 20" width="17" height="17" aria-hidden="true">
    <path d={d} fill="none" stroke="currentColor" stroke-width="1.7" stroke-linecap="round" stroke-linejoin="round" />
  </svg>
);

function NavLink({
  href,
  icon,
  path,
  children,
  count,
}: {
  href: string;
  icon: string;
  path: string;
  children: ComponentChildren;
  count?: number;
}) {
  const on = path === href || path.startsWith(`${href}/`);
  return (
    <Link href={href} class={on ? 'on' : ''}>
      <Icon d={icon} />
      {children}
      {count ? <span class="count">{count}</span> : null}
    </Link>
  );
}

/** Counts for the side nav, refreshed every 15 s. */
function useCounts(api: Api) {
  const [counts, setCounts] = useState({ review: 0, disputes: 0 });
  const refresh = useCallback(async () => {
    try {
      const [r, d] = await Promise.all([
        ok(api.client.GET('/v1/leads', { params: { query: { status: 'manual_review', limit: 200 } } })),
        ok(api.client.GET('/v1/disputes', { params: { query: { status: 'open', limit: 200 } } })),
      ]);
      setCounts({ review: r.leads.length, disputes: d.disputes.length });
    } catch {
      /* next time */
    }
  }, [api]);
  useEffect(() => {
    void refresh();
    const t = setInterval(() => void refresh(), 15_000);
    return () => clearInterval(t);
  }, [refresh]);
  return { counts, refresh };
}

/** Who reads the agency's card payments and who refunds them (api/authorization.ts: listPayments, refundPayment). */
const PAYMENT_READERS: string[] = ['owner', 'admin', 'analyst'];
const REFUNDERS: string[] = ['owner', 'admin'];
/** Who may erase a person (api/authorization.ts: requestErasure). */
const ERASERS: string[] = ['owner', 'admin'];

function Console({ session, agency }: { session: ReadySession; agency: Agency }) {
  const { api } = session;
  const dir = useDirectory(api, agency);
  const { path } = useLocation();
  const { counts, refresh } = useCounts(api);
  useEffect(() => {
    if (path === '/admin' || path === '/') navigate('/admin/leads', { replace: true });
    void refresh();
  }, [path]);
  const ctx = useMemo(() => ({ api, dir }), [api, dir]);
  const role = session.view.organisation.role;

  let page: ComponentChildren = null;
  let m: Record<string, string> | null;
  if ((m = match('/admin/leads/:id', path))) page = <LeadDetail key={m.id} id={m.id!} />;
  else if (path === '/admin/leads') page = <Leads />;
  else if (path === '/admin/review') page = <Review onChange={refresh} />;
  else if ((m = match('/admin/offers/:id', path))) page = <OfferTimeline key={m.id} id={m.id!} />;
  else if (path === '/admin/offers') page = <OfferTimeline id="" />;
  else if (path === '/admin/campaigns') page = <Campaigns />;
  else if ((m = match('/admin/campaigns/:id', path)))
    page = <CampaignEditor key={m.id} id={m.id === 'new' ? null : m.id!} />;
  else if (path === '/admin/buyers') page = <Buyers />;
  else if ((m = match('/admin/buyers/:id', path))) page = <BuyerDetail key={m.id} id={m.id!} />;
  else if (path === '/admin/sources') page = <Sources />;
  else if ((m = match('/admin/sources/:id/spec', path))) page = <SourceSpecPage key={m.id} id={m.id!} />;
  else if ((m = match('/admin/sources/:id', path))) page = <SourceDetail key={m.id} id={m.id!} />;
  else if (path === '/admin/disputes') page = <Disputes onChange={refresh} />;
  else if (path === '/admin/audit') page = <AuditLog />;
  else if (path === '/admin/suppression') page = <SuppressionPage />;
  else if (path === '/admin/consent-providers') page = <ConsentProvidersPage />;
  else if (path === '/admin/scrubs') page = <ScrubsPage />;
  else if (path === '/admin/erasure') page = <ErasurePage />;
  else if (path === '/admin/analytics') page = <Analytics />;
  else if (path === '/admin/keys') page = <KeysPage api={api} />;
  else if (path === '/admin/settings') page = <SettingsPage />;
  else if (path === '/admin/payments') page = <Payments canRefund={REFUNDERS.includes(role)} />;
  else if (path === '/admin/payment-settings') page = <PaymentSettingsPage />;
  else if (path === '/admin/team') page = <Team />;
  else
    page = (
      <div class="empty">
        Nothing here. <Link href="/admin/leads">Go to leads</Link>
      </div>
    );

  return (
    <Ctx.Provider value={ctx}>
      <div class="app admin-app">
        <header class="topbar">
          <Logo product="Agency console" />
          <div class="topbar-right">
            <div class="who">
              <span class="who-name">{agency.name}</span>
              <span class="who-org">
                agency {session.view.organisation.role} · {agency.timeZone}
              </span>
            </div>
            <SessionControls session={session} app="agency" />
          </div>
        </header>
        <div class="console">
          <nav class="sidenav" aria-label="Console">
            <NavLink href="/admin/leads" icon={I.leads} path={path}>
              Leads
            </NavLink>
            <NavLink href="/admin/review" icon={I.review} path={path} count={counts.review}>
              Review queue
            </NavLink>
            <NavLink href="/admin/offers" icon={I.timeline} path={path}>
              Offer timeline
            </NavLink>
            <div class="sidenav-sep" />
            <NavLink href="/admin/campaigns" icon={I.campaigns} path={path}>
              Campaigns
            </NavLink>
            <NavLink href="/admin/buyers" icon={I.buyers} path={path}>
              Buyers
            </NavLink>
            <NavLink href="/admin/sources" icon={I.sources} path={path}>
              Sources
            </NavLink>
            <NavLink href="/admin/disputes" icon={I.disputes} path={path} count={counts.disputes}>
              Disputes
            </NavLink>
            {PAYMENT_READERS.includes(role) ? (
              <NavLink href="/admin/payments" icon={I.payments} path={path}>
                Payments
              </NavLink>
            ) : null}
            <div class="sidenav-sep" />
            <NavLink href="/admin/analytics" icon={I.analytics} path={path}>
              Analytics
            </NavLink>
            <NavLink href="/admin/keys" icon={I.keys} path={path}>
              API keys
            </NavLink>
            <NavLink href="/admin/team" icon={I.buyers} path={path}>
              Team
            </NavLink>
            <NavLink href="/admin/settings" icon={I.settings} path={path}>
              Settings
            </NavLink>
            <NavLink href="/admin/payment-settings" icon={I.settings} path={path}>
              Card payments
            </NavLink>
            <NavLink href="/admin/suppression" icon={I.audit} path={path}>
              Suppression
            </NavLink>
            <NavLink href="/admin/consent-providers" icon={I.settings} path={path}>
              Consent providers
            </NavLink>
            <NavLink href="/admin/scrubs" icon={I.audit} path={path}>
              Scrubs
            </NavLink>
            {ERASERS.includes(role) ? (
              <NavLink href="/admin/erasure" icon={I.audit} path={path}>
                Erasure
              </NavLink>
            ) : null}
            <NavLink href="/admin/audit" icon={I.audit} path={path}>
              Audit log
            </NavLink>
          </nav>
          <main class="main">{dir.loaded ? page : <Loading />}</main>
        </div>
        <Toasts />
      </div>
    </Ctx.Provider>
  );
}

/** The agency's API keys: for integrations, each acting as one of the agency's roles (docs/accounts.md). */
function KeysPage({ api }: { api: Api }) {
  return (
    <div class="page">
      <div class="page-head">
        <div>
          <h1>API keys</h1>
        </div>
      </div>
      <ApiKeys
        api={api}
        roles={['owner', 'admin', 'dispatcher', 'analyst']}
        intro="Keys let machines call the API as one of the agency's roles: never above yours. A key is shown once, when it is made."
      />
    </div>
  );
}
