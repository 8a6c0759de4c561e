/**
 * The console's settings, single sign-on section (#20): the agency's OpenID
 * provider (issuer, client id, client secret), the email domains that sign in
 * through it and the role a person gets at their first sign-in. The secret is
 * write-only: the page never receives it, and an empty secret field keeps the
 * stored one. The redirect URI to register at the provider is shown to copy.
 */
import { useEffect, useState } from 'preact/hooks';

import { ApiError, messageOf, ok } from '../shared/api';
import type { Schemas } from '../shared/types';
import { Button, ErrorNote, Field, Loading, Panel, toast, useAsync } from '../shared/ui';
import { useConsole } from './context';
import { RetentionSettings } from './Erasure';

type SsoView = Schemas['SsoSettingsView'];
type SsoRole = Schemas['SsoSettingsPut']['defaultRole'];

const ROLE_WORDS: Record<SsoRole, string> = {
  admin: 'Admin – everything but ownership',
  dispatcher: 'Dispatcher – leads, review queue, disputes',
  analyst: 'Analyst – read-only reports',
};

export function SettingsPage() {
  return (
    <div class="page">
      <div class="page-head">
        <div>
          <h1>Settings</h1>
          <p class="muted">How people sign in to this agency.</p>
        </div>
      </div>
      <SsoSettings />
      <RetentionSettings />
    </div>
  );
}

function SsoSettings() {
  const { api } = useConsole();
  const current = useAsync(() => ok(api.client.GET('/v1/sso')), [api]);
  const [saved, setSaved] = useState<SsoView | null>(null);
  useEffect(() => setSaved(current.data?.sso ?? null), [current.data]);

  if (current.loading) return <Loading />;
  if (current.error) return <ErrorNote error={current.error} />;
  return (
    <Panel title="Single sign-on (OpenID Connect)" class="sso-settings">
      <SsoForm key={saved?.updatedAt ?? 'new'} saved={saved} onSaved={setSaved} />
    </Panel>
  );
}

function SsoForm({ saved, onSaved }: { saved: SsoView | null; onSaved(v: SsoView): void }) {
  const { api } = useConsole();
  const [issuer, setIssuer] = useState(saved?.issuer ?? '');
  const [clientId, setClientId] = useState(saved?.clientId ?? '');
  const [secret, setSecret] = useState('');
  const [domains, setDomains] = useState(saved?.allowedDomains.join(', ') ?? '');
  const [role, setRole] = useState<SsoRole>(saved?.defaultRole ?? 'analyst');
  const [enabled, setEnabled] = useState(saved?.enabled ?? true);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setErrors({});
    try {
      const body = {
        issuer: issuer.trim(),
        clientId: clientId.trim(),
        ...(secret ? { clientSecret: secret } : {}),
        allowedDomains: domains
          .split(/[\s,]+/)
          .map((d) => d.trim())
          .filter(Boolean),
        defaultRole: role,
        enabled,
      };
      const res = await ok(api.client.PUT('/v1/sso', { body }));
      if (res.sso) onSaved(res.sso);
      toast('Single sign-on saved', 'ok');
    } catch (err) {
      if (err instanceof ApiError && err.errors.length) {
        const byField: Record<string, string> = {};
        for (const f of err.errors) byField[f.path.split('.')[0]!] ??= f.message;
        setErrors(byField);
      } else if (err instanceof ApiError && err.code === 'sso_domain_taken') {
        setErrors({ allowedDomains: err.detail });
      } else toast(messageOf(err), 'bad');
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="form stack" onSubmit={submit} data-testid="sso-form">
      <p class="muted">
        People whose email is in one of the domains below sign in with your identity provider (Okta, Microsoft Entra ID,
        Google Workspace…). Register this redirect URI at the provider:{' '}
        <code data-testid="sso-redirect-uri">{saved?.redirectUri ?? `${location.origin}/v1/auth/sso/callback`}</code>
      </p>
      <Field label="Issuer URL" error={errors.issuer} hint="As the provider's discovery document names it (https).">
        <input
          name="ssoIssuer"
          type="url"
          value={issuer}
          onInput={(e) => setIssuer(e.currentTarget.value)}
          placeholder="https://acme.okta.com"
          required
        />
      </Field>
      <Field label="Client id" error={errors.clientId}>
        <input
          name="ssoClientId"
          type="text"
          value={clientId}
          onInput={(e) => setClientId(e.currentTarget.value)}
          required
        />
      </Field>
      <Field
        label="Client secret"
        error={errors.clientSecret}
        hint={saved ? 'A secret is stored; it is never shown. Leave empty to keep it.' : 'Stored sealed; never shown.'}
      >
        <input
          name="ssoClientSecret"
          type="password"
          autocomplete="new-password"
          value={secret}
          onInput={(e) => setSecret(e.currentTarget.value)}
          placeholder={saved ? '•••••••• (stored)' : ''}
          required={!saved}
        />
      </Field>
      <Field
        label="Allowed email domains"
        error={errors.allowedDomains}
        hint="Separated by commas: acme.com, acme.co.uk"
      >
        <input
          name="ssoDomains"
          type="text"
          value={domains}
          onInput={(e) => setDomains(e.currentTarget.value)}
          required
        />
      </Field>
      <Field label="Role at the first sign-in" error={errors.defaultRole}>
        <select name="ssoRole" value={role} onChange={(e) => setRole(e.currentTarget.value as SsoRole)}>
          {(Object.keys(ROLE_WORDS) as SsoRole[]).map((r) => (
            <option key={r} value={r}>
              {ROLE_WORDS[r]}
            </option>
          ))}
        </select>
      </Field>
      <label class="check">
        <input
          name="ssoEnabled"
          type="checkbox"
          checked={enabled}
          onChange={(e) => setEnabled(e.currentTarget.checked)}
        />{' '}
        Enabled
      </label>
      <div class="form-actions">
        <Button type="submit" variant="primary" busy={busy}>
          Save single sign-on
        </Button>
      </div>
    </form>
  );
}
