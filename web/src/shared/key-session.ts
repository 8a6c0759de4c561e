/**
 * One signed-in key per page, the same way on every page: the key comes from
 * the tab's session storage (web/src/shared/session.ts), is checked with
 * GET /v1/me (the page's `check` refuses a key of the wrong kind) before it is
 * kept, and is dropped, with a note for the sign-in card, when the API answers
 * 401 (revoked, rotated) or the check fails on reload.
 */
import { useCallback, useEffect, useMemo, useState } from 'preact/hooks';

import { Api, ApiError, ok } from './api';
import { clearKey, type KeyKind, loadKey, saveKey } from './session';
import type { Me } from './types';

export interface KeySession {
  key: string | null;
  /** The caller, once the key is checked. */
  me: Me | null;
  setMe(me: Me): void;
  /** Why the sign-in card shows again (a revoked key, an unreachable server), if it does. */
  note: string | null;
  api: Api;
  /** Checks a key and keeps it. */
  signIn(key: string): Promise<void>;
  signOut(why?: string): void;
}

/**
 * `check` answers the caller of a key or throws (an ApiError whose detail the
 * card shows): `/v1/me` and a test of its `kind`.
 */
export function useKeySession(
  kind: KeyKind,
  check: (who: Me) => void,
  lost = 'Your key is no longer valid. Sign in again.',
): KeySession {
  const [key, setKey] = useState<string | null>(() => loadKey(kind));
  const [me, setMe] = useState<Me | null>(null);
  const [note, setNote] = useState<string | null>(null);

  const signOut = useCallback((why?: string) => {
    clearKey(kind);
    setKey(null);
    setMe(null);
    if (why) setNote(why);
  }, []);
  const api = useMemo(
    () =>
      new Api(
        () => key,
        () => signOut(lost),
      ),
    [key, signOut],
  );

  const checkKey = async (candidate: string): Promise<Me> => {
    const who = await ok(new Api(() => candidate).client.GET('/v1/me'));
    check(who);
    return who;
  };

  useEffect(() => {
    if (!key || me) return;
    checkKey(key)
      .then(setMe)
      .catch((err) =>
        signOut(err instanceof ApiError && err.status !== 0 ? err.detail : 'Could not reach the server.'),
      );
  }, [key]);

  const signIn = async (k: string) => {
    const who = await checkKey(k);
    saveKey(kind, k);
    setNote(null);
    setKey(k);
    setMe(who);
  };

  return { key, me, setMe, note, api, signIn, signOut };
}
