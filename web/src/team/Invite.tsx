/**
 * Accepting an invitation (`/invite?token=…`, the emailed link): shows the
 * organisation, the role and who invited; a new person sets a name and a
 * password, an existing account gives its password (or is signed in
 * already). Done, the person is signed in (the session cookie) and goes on
 * to the console (agency) or Live Leads (buyer).
 */
import { useEffect, useState } from 'preact/hooks';

import type { Schemas } from '../../../packages/client';
import { ApiError, messageOf, ok } from '../shared/api';
import { Button, Field, Loading, Logo } from '../shared/ui';
import { linkToken, publicClient } from './public-client';

type Preview = Schemas['InvitationPreview'];

const HOME: Record<string, string> = { agency: '/admin', buyer: '/', source: '/source', platform: '/admin' };

export function InvitePage() {
  const token = linkToken();
  const [preview, setPreview] = useState<Preview | null | undefined>(undefined);
  const [displayName, setDisplayName] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<ApiError | string | null>(null);
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState<{ name: string; kind: string } | null>(null);

  useEffect(() => {
    if (!token) return setPreview(null);
    void publicClient
      .GET('/v1/invitations/accept/{token}', { params: { path: { token } } })
      .then((r) => setPreview(r.response.ok ? (r.data ?? null) : null))
      .catch(() => setPreview(null));
  }, [token]);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body = preview?.userExists ? { token, password } : { token, displayName, password };
      const view = await ok(publicClient.POST('/v1/invitations/accept', { body }));
      setDone({ name: view.user.displayName, kind: view.organisation?.kind ?? 'buyer' });
    } catch (err) {
      setError(err instanceof ApiError ? err : messageOf(err));
    } finally {
      setBusy(false);
    }
  };
  const fieldError = (path: string) => (error instanceof ApiError ? error.fieldError(path) : undefined);

  if (preview === undefined) return <Loading label="Opening the invitation…" />;
  return (
    <div class="signin-wrap">
      <Logo product="Leadwire" />
      {done ? (
        <div class="signin" data-testid="invite-done">
          <h1>Welcome, {done.name}</h1>
          <p class="muted">You are signed in.</p>
          <a class="btn btn-primary btn-lg wide" href={HOME[done.kind] ?? '/'}>
            Continue
          </a>
        </div>
      ) : !preview ? (
        <div class="signin">
          <h1>This invitation does not work</h1>
          <p class="muted">It was used, withdrawn or has expired. Ask for a new one.</p>
        </div>
      ) : (
        <form class="signin" onSubmit={submit}>
          <h1>Join {preview.org.name}</h1>
          <p class="muted">
            {preview.invitedBy ? `${preview.invitedBy} invited` : 'You are invited'} <strong>{preview.email}</strong> as{' '}
            <strong data-testid="invite-role">{preview.role}</strong>.
          </p>
          {preview.userExists ? null : (
            <Field label="Your name" error={fieldError('displayName')}>
              <input
                name="displayName"
                required
                autocomplete="name"
                value={displayName}
                onInput={(e) => setDisplayName(e.currentTarget.value)}
                autofocus
              />
            </Field>
          )}
          <Field
            label={preview.userExists ? 'Your password' : 'Choose a password'}
            hint={preview.userExists ? 'You have an account already.' : 'At least 12 characters.'}
            error={fieldError('password')}
          >
            <input
              name="password"
              type="password"
              required
              autocomplete={preview.userExists ? 'current-password' : 'new-password'}
              value={password}
              onInput={(e) => setPassword(e.currentTarget.value)}
            />
          </Field>
          {error && !(error instanceof ApiError && error.errors.length) ? (
            <p class="field-msg" role="alert">
              {typeof error === 'string' ? error : error.detail}
            </p>
          ) : null}
          <Button type="submit" variant="primary" size="lg" busy={busy} class="wide">
            Accept and sign in
          </Button>
        </form>
      )}
    </div>
  );
}
