/**
 * The first-run setup page (`/setup?token=…`, the link `npm start` prints
 * while nobody has an account): the agency's name and the first owner's
 * email, name and password. Done, the owner is signed in (the session cookie)
 * and goes on to the agency console.
 */
import { useEffect, useState } from 'preact/hooks';

import { ApiError, messageOf, ok } from '../shared/api';
import { Button, Field, Loading, Logo } from '../shared/ui';
import { linkToken, publicClient } from './public-client';

export function SetupPage() {
  const token = linkToken();
  const [valid, setValid] = useState<boolean | null>(null);
  const [form, setForm] = useState({ agencyName: '', email: '', displayName: '', password: '' });
  const [error, setError] = useState<ApiError | string | null>(null);
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState<{ name: string; agency: string } | null>(null);

  useEffect(() => {
    if (!token) return setValid(false);
    void publicClient
      .GET('/v1/setup/{token}', { params: { path: { token } } })
      .then((r) => setValid(r.response.ok))
      .catch(() => setValid(false));
  }, [token]);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const view = await ok(publicClient.POST('/v1/setup', { body: { token, ...form } }));
      setDone({ name: view.user.displayName, agency: view.organisation?.agency?.name ?? '' });
    } catch (err) {
      setError(err instanceof ApiError ? err : messageOf(err));
    } finally {
      setBusy(false);
    }
  };
  const fieldError = (path: string) => (error instanceof ApiError ? error.fieldError(path) : undefined);
  const set = (k: keyof typeof form) => (e: Event) =>
    setForm({ ...form, [k]: (e.currentTarget as HTMLInputElement).value });

  if (valid === null) return <Loading label="Checking the link…" />;
  return (
    <div class="signin-wrap">
      <Logo product="Leadwire" />
      {done ? (
        <div class="signin" data-testid="setup-done">
          <h1>Welcome, {done.name}</h1>
          <p class="muted">
            You are signed in as the owner of <strong>{done.agency}</strong>.
          </p>
          <a class="btn btn-primary btn-lg wide" href="/admin">
            Open the agency console
          </a>
        </div>
      ) : !valid ? (
        <div class="signin">
          <h1>This setup link does not work</h1>
          <p class="muted">It was used, replaced by a newer one, or has expired. Restart Leadwire for a new link.</p>
        </div>
      ) : (
        <form class="signin" onSubmit={submit}>
          <h1>Set up Leadwire</h1>
          <p class="muted">Create your agency and its first owner: you.</p>
          <Field label="Agency name" error={fieldError('agencyName')}>
            <input name="agencyName" required value={form.agencyName} onInput={set('agencyName')} autofocus />
          </Field>
          <Field label="Your email" error={fieldError('email')}>
            <input name="email" type="email" required autocomplete="email" value={form.email} onInput={set('email')} />
          </Field>
          <Field label="Your name" error={fieldError('displayName')}>
            <input
              name="displayName"
              required
              autocomplete="name"
              value={form.displayName}
              onInput={set('displayName')}
            />
          </Field>
          <Field label="Password" hint="At least 12 characters." error={fieldError('password')}>
            <input
              name="password"
              type="password"
              required
              autocomplete="new-password"
              value={form.password}
              onInput={set('password')}
            />
          </Field>
          {error && !(error instanceof ApiError && error.errors.length) ? (
            <p class="field-msg" role="alert">
              {typeof error === 'string' ? error : error.detail}
            </p>
          ) : null}
          <Button type="submit" variant="primary" size="lg" busy={busy} class="wide">
            Create the agency
          </Button>
        </form>
      )}
    </div>
  );
}
