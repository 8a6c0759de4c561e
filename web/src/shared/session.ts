/**
 * The signed-in person, the same way on every page: the server's session
 * (an HttpOnly cookie the page never sees; nothing is kept in web storage).
 * GET /v1/session says who is signed in, the organisation the session acts in
 * and the CSRF token every unsafe request sends back; GET /v1/me then gives the
 * organisation's details when it is one this app shows. A 401 from any call
 * (signed out elsewhere, expired, revoked) brings the sign-in page back with a
 * note.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';

import { Api, ApiError, ok } from './api';
import type { Me, MembershipView, OrgKind, SessionView } from './types';

/** The three apps, by the kind of organisation each serves. */
export type AppKind = 'buyer' | 'agency' | 'source';

/** Where each kind of organisation is served (the platform's operators use the console). */
export const APP_OF: Record<OrgKind, { path: string; name: string; app: AppKind }> = {
  platform: { path: '/admin', name: 'the agency console', app: 'agency' },
  agency: { path: '/admin', name: 'the agency console', app: 'agency' },
  buyer: { path: '/', name: 'Live Leads', app: 'buyer' },
  source: { path: '/source', name: 'the source portal', app: 'source' },
};

/** The path prefix of an app's pages (`/account` lives under it). */
export const BASE_OF: Record<AppKind, string> = { buyer: '', agency: '/admin', source: '/source' };

/** Whether a membership is one this app shows. */
export const fitsApp = (app: AppKind, m: Pick<MembershipView, 'kind'>): boolean => APP_OF[m.kind].app === app;

/** The organisation's name, whatever its kind. */
export const orgName = (m: MembershipView): string =>
  m.kind === 'platform' ? 'Leadwire platform' : (m.buyer?.name ?? m.source?.name ?? m.agency?.name ?? m.kind);

const SESSION_ENDED = 'Your session has ended. Sign in again.';

export interface Session {
  /** False until the first answer of GET /v1/session. */
  checked: boolean;
  /** The signed-in session, or null. */
  view: SessionView | null;
  /** The acting organisation's details (GET /v1/me), once loaded, when it is one this app shows. */
  me: Me | null;
  setMe(me: Me): void;
  /** Why the sign-in page shows again, if it does. */
  note: string | null;
  setNote(note: string | null): void;
  /** The API client of this session (its CSRF token on every unsafe request). */
  api: Api;
  /** A session started (sign-in, sign-in link) or changed: the page follows it. */
  adopt(view: SessionView): void;
  /** Acts in another of my organisations. */
  choose(membershipId: string): Promise<void>;
  signOut(why?: string): Promise<void>;
}

export function useSession(app: AppKind): Session {
  const [checked, setChecked] = useState(false);
  const [view, setView] = useState<SessionView | null>(null);
  const [me, setMe] = useState<Me | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const csrf = useRef<string | null>(null);
  csrf.current = view?.csrfToken ?? null;

  const ended = useCallback((why: string | null) => {
    setView(null);
    setMe(null);
    setNote(why);
  }, []);
  const api = useMemo(
    () =>
      new Api(
        () => csrf.current,
        () => ended(SESSION_ENDED),
      ),
    [],
  );

  useEffect(() => {
    // A plain client: a 401 here only means "not signed in yet", no note.
    ok(new Api().client.GET('/v1/session'))
      .then((v) => setView(v))
      .catch((err) => {
        if (!(err instanceof ApiError) || err.status !== 401)
          setNote(err instanceof ApiError && err.status !== 0 ? err.detail : 'Could not reach the server.');
      })
      .finally(() => setChecked(true));
  }, []);

  const org = view?.stage === 'full' ? view.organisation : null;
  const orgId = org && fitsApp(app, org) ? org.id : null;
  useEffect(() => {
    setMe(null);
    if (!orgId) return;
    ok(api.client.GET('/v1/me'))
      .then(setMe)
      .catch((err) =>
        setNote(err instanceof ApiError && err.status !== 0 ? err.detail : 'Could not reach the server.'),
      );
  }, [orgId]);

  const adopt = useCallback((v: SessionView) => {
    setNote(null);
    setView(v);
  }, []);

  const choose = useCallback(
    async (membershipId: string) => {
      adopt(await ok(api.client.POST('/v1/session/organisation', { body: { membershipId } })));
    },
    [api],
  );

  const signOut = useCallback(
    async (why?: string) => {
      try {
        await ok(api.client.POST('/v1/auth/sign-out'));
      } finally {
        ended(why ?? null);
      }
    },
    [api],
  );

  return { checked, view, me, setMe, note, setNote, api, adopt, choose, signOut };
}
