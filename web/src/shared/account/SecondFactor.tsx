/**
 * The second step of a sign-in (#20): after a right password, the person
 * finishes with a code from their authenticator app, a recovery code, or a
 * passkey – whichever of `factors` (the sign-in's answer) they have. On
 * success the server has replaced the session with a fully signed-in one;
 * `onDone` takes the person on.
 */
import { startAuthentication } from '@simplewebauthn/browser';
import { useState } from 'preact/hooks';

import type { LeadwireClient, Schemas } from '../../../../packages/client';
import { ok } from '../../shared/api';
import { Button, ErrorNote, Field } from '../ui';

type Factor = 'totp' | 'recovery_code' | 'passkey';
type RequestOptions = Parameters<typeof startAuthentication>[0]['optionsJSON'];

export function SecondFactor({
  client,
  factors,
  onDone,
}: {
  client: LeadwireClient;
  factors: Factor[];
  onDone(): void;
}) {
  const [mode, setMode] = useState<'totp' | 'recovery_code'>(factors.includes('totp') ? 'totp' : 'recovery_code');
  const [value, setValue] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const finish = async (body: Schemas['SecondFactorBody']) => {
    setBusy(true);
    setError(null);
    try {
      await ok(client.POST('/v1/auth/second-factor', { body }));
      onDone();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const withPasskey = async () => {
    setError(null);
    try {
      const { options } = await ok(client.POST('/v1/auth/second-factor/options'));
      const passkey = await startAuthentication({ optionsJSON: options as unknown as RequestOptions });
      await finish({ passkey: passkey as unknown as Schemas['AuthenticationResponse'] });
    } catch (err) {
      setError(err);
    }
  };
  const hasCodes = factors.includes('totp') || factors.includes('recovery_code');

  return (
    <form
      class="second-factor"
      onSubmit={(e) => {
        e.preventDefault();
        void finish(mode === 'totp' ? { totp: value } : { recoveryCode: value });
      }}
    >
      <h2>One more step</h2>
      {hasCodes ? (
        <>
          <Field label={mode === 'totp' ? 'Code from your authenticator app' : 'One of your recovery codes'}>
            <input
              name="second-factor-code"
              autoComplete="one-time-code"
              inputMode={mode === 'totp' ? 'numeric' : 'text'}
              value={value}
              onInput={(e) => setValue((e.target as HTMLInputElement).value.trim())}
            />
          </Field>
          <Button type="submit" variant="primary" busy={busy} disabled={!value}>
            Continue
          </Button>{' '}
          {factors.includes('recovery_code') && factors.includes('totp') ? (
            <Button
              size="sm"
              onClick={() => {
                setMode(mode === 'totp' ? 'recovery_code' : 'totp');
                setValue('');
              }}
            >
              {mode === 'totp' ? 'Use a recovery code' : 'Use the authenticator app'}
            </Button>
          ) : null}
        </>
      ) : null}
      {factors.includes('passkey') ? (
        <p>
          <Button busy={busy} onClick={() => void withPasskey()}>
            Use a passkey
          </Button>
        </p>
      ) : null}
      <ErrorNote error={error} />
    </form>
  );
}
