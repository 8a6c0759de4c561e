/**
 * The account's two-factor section (#20): set up an authenticator app (scan
 * the QR code or type the secret, confirm with a code), see the ten recovery
 * codes once, regenerate them, turn TOTP off. Takes the typed API client of a
 * signed-in session (cookie + CSRF token); the account page places it.
 */
import { useState } from 'preact/hooks';

import type { LeadwireClient } from '../../../../packages/client';
import { ok } from '../../shared/api';
import { Button, ErrorNote, Field, Loading, Panel, useAsync } from '../ui';

type Enrolment = { otpauthUrl: string; qrSvg: string; secret: string };

/** A six-digit code input. */
function CodeInput({ value, onInput, name }: { value: string; onInput(v: string): void; name: string }) {
  return (
    <input
      name={name}
      inputMode="numeric"
      autoComplete="one-time-code"
      pattern="[0-9]{6}"
      maxLength={6}
      value={value}
      onInput={(e) => onInput((e.target as HTMLInputElement).value.trim())}
    />
  );
}

/** Recovery codes, shown this once. */
function RecoveryCodes({ codes, onDone }: { codes: string[]; onDone(): void }) {
  return (
    <div class="recovery-codes">
      <p>
        Keep these recovery codes somewhere safe. Each signs you in once if you lose your authenticator. They are shown
        this once.
      </p>
      <ol data-testid="recovery-codes">
        {codes.map((c) => (
          <li key={c}>
            <code>{c}</code>
          </li>
        ))}
      </ol>
      <Button variant="primary" onClick={onDone}>
        I have saved them
      </Button>
    </div>
  );
}

export function TwoFactor({ client }: { client: LeadwireClient }) {
  const status = useAsync(() => ok(client.GET('/v1/account/two-factor')), []);
  const [enrolment, setEnrolment] = useState<Enrolment | null>(null);
  const [codes, setCodes] = useState<string[] | null>(null);
  const [code, setCode] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const act = async (fn: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await fn();
      setCode('');
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const start = () => act(async () => setEnrolment(await ok(client.POST('/v1/account/totp'))));
  const confirm = () =>
    act(async () => {
      const r = await ok(client.POST('/v1/account/totp/confirm', { body: { code } }));
      setEnrolment(null);
      setCodes(r.recoveryCodes);
      await status.reload();
    });
  const regenerate = () =>
    act(async () => {
      setCodes((await ok(client.POST('/v1/account/recovery-codes', { body: { code } }))).recoveryCodes);
      await status.reload();
    });
  const disable = () =>
    act(async () => {
      await ok(client.POST('/v1/account/totp/disable', { body: { code } }));
      await status.reload();
    });

  return (
    <Panel title="Two-factor authentication" class="two-factor">
      {codes ? (
        <RecoveryCodes codes={codes} onDone={() => setCodes(null)} />
      ) : status.loading && !status.data ? (
        <Loading />
      ) : status.data?.totp ? (
        <div>
          <p data-testid="totp-state">
            Authenticator app: <strong>on</strong> · {status.data.recoveryCodesLeft} recovery codes left
          </p>
          <Field label="Code from your authenticator app">
            <CodeInput name="totp-code" value={code} onInput={setCode} />
          </Field>
          <Button busy={busy} onClick={() => void regenerate()}>
            New recovery codes
          </Button>{' '}
          <Button variant="danger" busy={busy} onClick={() => void disable()}>
            Turn off
          </Button>
        </div>
      ) : enrolment ? (
        <div>
          <p>Scan this code with your authenticator app, or type the secret in by hand.</p>
          {/* The server's own SVG (uqr: rectangles and paths only). */}
          <div class="totp-qr" dangerouslySetInnerHTML={{ __html: enrolment.qrSvg }} />
          <p>
            Secret: <code data-testid="totp-secret">{enrolment.secret}</code>
          </p>
          <Field label="Code from the app">
            <CodeInput name="totp-code" value={code} onInput={setCode} />
          </Field>
          <Button variant="primary" busy={busy} disabled={code.length !== 6} onClick={() => void confirm()}>
            Turn on
          </Button>
        </div>
      ) : (
        <div>
          <p data-testid="totp-state">Authenticator app: off</p>
          <Button variant="primary" busy={busy} onClick={() => void start()}>
            Set up an authenticator app
          </Button>
        </div>
      )}
      <ErrorNote error={error ?? status.error} />
    </Panel>
  );
}
