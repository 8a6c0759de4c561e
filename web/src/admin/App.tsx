/**
 * The agency console: sign in with the agency admin key (or create an agency
 * with the root token), then leads, the manual review queue, offer
 * timelines, campaigns, buyers, sources (with their posting specs), disputes
 * and analytics.
 */
import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useMemo, useState } from 'preact/hooks';

import { Api, ApiError, messageOf, ok } from '../shared/api';
import { clearKey, loadKey, saveKey } from '../shared/session';
import type { Agency } from '../shared/types';
import { Button, Field, Loading, Logo, Modal, SecretOnce, SignIn, Toasts } from '../shared/ui';
import { Analytics } from './Analytics';
import { AuditLog } from './Audit';
import { BuyerDetail, Buyers } from './Buyers';
import { CampaignEditor } from './campaign-editor/CampaignEditor';
import { Campaigns } from './Campaigns';
import { Ctx, useDirectory } from './context';
import { Disputes } from './Disputes';
import { LeadDetail, Leads } from './Leads';
import { Review } from './Review';
import { Link, match, navigate, useLocation } from './router';
import { SourceDetail, Sources, SourceSpecPage } from './Sources';
import { OfferTimeline } from './Timeline';

export function App() {
  const [key, setKey] = useState<string | null>(() => loadKey('admin'));
  const [agency, setAgency] = useState<Agency | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const [newKey, setNewKey] = useState<string | null>(null);

  const signOut = useCallback((why?: string) => {
    clearKey('admin');
    setKey(null);
    setAgency(null);
    setNote(why ?? null);
  }, []);
  const api = useMemo(
    () =>
      new Api(
        () => key,
        () => signOut('Your key is no longer valid. Sign in again.'),
      ),
    [key, signOut],
  );

  const checkKey = async (candidate: string): Promise<Agency> => {
    const who = await ok(new Api(() => candidate).client.GET('/v1/me'));
    if (who.kind !== 'admin' || !who.agency) {
      throw new ApiError(
        403,
        'forbidden',
        who.kind === 'buyer'
          ? 'This is a buyer key: Live Leads is at /.'
          : 'The root token only creates agencies: use the form below.',
      );
    }
    return who.agency;
  };

  useEffect(() => {
    if (!key || agency) return;
    checkKey(key)
      .then(setAgency)
      .catch((err) =>
        signOut(err instanceof ApiError && err.status !== 0 ? err.detail : 'Could not reach the server.'),
      );
  }, [key]);

  const signIn = async (k: string, a?: Agency) => {
    const ag = a ?? (await checkKey(k));
    saveKey('admin', k);
    setNote(null);
    setKey(k);
    setAgency(ag);
  };

  if (!key) {
    return (
      <>
        <SignIn
          title="Agency console"
          subtitle={note ?? 'Sign in with your agency admin key.'}
          placeholder="lw_admin_…"
          onKey={(k) => signIn(k)}
          extra={
            <CreateAgency
              onCreated={async (adminKey, ag) => {
                await signIn(adminKey, ag);
                setNewKey(adminKey);
              }}
            />
          }
        />
        <Toasts />
      </>
    );
  }
  if (!agency) return <Loading label="Signing in…" />;
  return (
    <>
      <Console api={api} agency={agency} onSignOut={() => signOut()} />
      {newKey ? (
        <Modal title="Your agency is ready" onClose={() => setNewKey(null)}>
          <p>Keep this admin key somewhere safe: it signs you in to this console and the API.</p>
          <SecretOnce label="Agency admin key" value={newKey} />
          <p class="fine">Next: add a service line and a campaign (Campaigns), then buyers (Buyers).</p>
        </Modal>
      ) : null}
    </>
  );
}

/** Zero-setup: the root token printed by `npm start` creates an agency and its first admin key. */
function CreateAgency({ onCreated }: { onCreated(adminKey: string, agency: Agency): Promise<void> }) {
  const [open, setOpen] = useState(false);
  const [root, setRoot] = useState('');
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  if (!open) {
    return (
      <p class="signin-alt">
        New here?{' '}
        <button class="link" onClick={() => setOpen(true)}>
          Create an agency with the root token
        </button>{' '}
        · Buyers: <a href="/">Live Leads</a>
      </p>
    );
  }
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const res = await ok(new Api(() => root.trim()).client.POST('/v1/agencies', { body: { name } }));
      await onCreated(res.adminKey, res.agency);
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? 'The root token is not valid.' : messageOf(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="signin signin-card" onSubmit={submit}>
      <h2>Create an agency</h2>
      <p class="muted">The root token is printed when Leadwire starts (or set with LW_ROOT_TOKEN).</p>
      <Field label="Root token">
        <input
          type="password"
          autocomplete="off"
          value={root}
          onInput={(e) => setRoot(e.currentTarget.value)}
          required
        />
      </Field>
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
  audit: 'M5 3h10v14H5zM8 7h4M8 10h4M8 13h2',
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

function Console({ api, agency, onSignOut }: { api: Api; agency: Agency; onSignOut(): void }) {
  const dir = useDirectory(api, agency);
  const { path } = useLocation();
  const { counts, refresh } = useCounts(api);
  useEffect(() => {
    if (path === '/admin' || path === '/') navigate('/admin/leads', { replace: true });
    void refresh();
  }, [path]);
  const ctx = useMemo(() => ({ api, dir }), [api, dir]);

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
  else if (path === '/admin/analytics') page = <Analytics />;
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
              <span class="who-org">agency admin · {agency.timeZone}</span>
            </div>
            <Button size="sm" variant="ghost" class="on-dark" onClick={onSignOut}>
              Sign out
            </Button>
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
            <div class="sidenav-sep" />
            <NavLink href="/admin/analytics" icon={I.analytics} path={path}>
              Analytics
            </NavLink>
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
