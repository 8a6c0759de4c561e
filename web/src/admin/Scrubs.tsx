/**
 * Third-party scrubs (#23 item 5): the agency's TCPA litigator list and phone
 * line status providers – on or off, base URL, credentials (write-only: the
 * page never receives the secret, an empty field keeps it), monthly budget,
 * timeout, circuit breaker, and what a litigator hit does – with each one's
 * calls this month and its circuit's state.
 */
import { useState } from 'preact/hooks';

import { ApiError, messageOf, ok } from '../shared/api';
import { dateTime } from '../shared/format';
import type { Schemas } from '../shared/types';
import { Badge, Button, ErrorNote, Field, Loading, Panel, toast, useAsync } from '../shared/ui';
import { useConsole } from './context';

type ScrubView = Schemas['ScrubView'];
type Scrub = ScrubView['scrub'];

const TITLES: Record<Scrub, { title: string; about: string; secret: string }> = {
  litigator: {
    title: 'TCPA litigator list',
    about: 'TCPA Litigator List: a number of a known serial TCPA plaintiff is refused (litigator) or sent to review.',
    secret: 'API password',
  },
  line_status: {
    title: 'Phone line status',
    about: 'RealPhoneValidation: a disconnected line is refused (phone_disconnected).',
    secret: 'API token',
  },
};

type NumberName = 'monthlyBudget' | 'timeoutMs' | 'failureThreshold' | 'cooldownMs';
const NUMBER_FIELDS: { name: NumberName; label: string; min: number; max?: number; hint?: string }[] = [
  { name: 'monthlyBudget', label: 'Monthly budget (calls)', min: 0, hint: 'Empty: no limit. Cached answers are free.' },
  { name: 'timeoutMs', label: 'Timeout (ms)', min: 50, max: 5000, hint: 'The longest intake waits for an answer.' },
  { name: 'failureThreshold', label: 'Failed calls that open the circuit', min: 1, max: 100 },
  { name: 'cooldownMs', label: 'Cool-down before a probe (ms)', min: 1000 },
];

const CIRCUIT_TONE = { closed: 'ok', open: 'bad', half_open: 'warn' } as const;

export function ScrubsPage() {
  const { api } = useConsole();
  const [version, setVersion] = useState(0);
  const list = useAsync(() => ok(api.client.GET('/v1/scrubs')), [version]);
  return (
    <div class="page">
      <div class="page-head">
        <div>
          <h1>Scrubs</h1>
          <p class="muted">
            Third-party checks of each lead's number at intake, at most once per number per day. A provider outage or a
            spent budget never stops intake: the lead goes on, marked <code>not_checked</code>.
          </p>
        </div>
      </div>
      <ErrorNote error={list.error} />
      {list.loading && !list.data ? <Loading /> : null}
      {list.data?.scrubs.map((s) => (
        <ScrubPanel key={`${s.scrub}:${s.updatedAt ?? 'new'}`} view={s} onSaved={() => setVersion((v) => v + 1)} />
      ))}
    </div>
  );
}

function ScrubPanel({ view, onSaved }: { view: ScrubView; onSaved(): void }) {
  const { api } = useConsole();
  const words = TITLES[view.scrub];
  const [enabled, setEnabled] = useState(view.enabled);
  const [baseUrl, setBaseUrl] = useState(view.baseUrl);
  const [username, setUsername] = useState(view.username ?? '');
  const [secret, setSecret] = useState('');
  const [numbers, setNumbers] = useState<Record<NumberName, string>>({
    monthlyBudget: view.monthlyBudget === null ? '' : String(view.monthlyBudget),
    timeoutMs: String(view.timeoutMs),
    failureThreshold: String(view.failureThreshold),
    cooldownMs: String(view.cooldownMs),
  });
  const [rule, setRule] = useState(view.litigatorRule);
  const [failure, setFailure] = useState<ApiError | null>(null);
  const fieldError = (name: string) => failure?.fieldError(name);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setFailure(null);
    try {
      const body = {
        enabled,
        baseUrl: baseUrl.trim(),
        ...(view.scrub === 'litigator' ? { litigatorRule: rule } : {}),
        ...(view.scrub === 'litigator' && username.trim() ? { username: username.trim() } : {}),
        ...(secret ? { secret } : {}),
        monthlyBudget: numbers.monthlyBudget.trim() === '' ? null : Number(numbers.monthlyBudget),
        timeoutMs: Number(numbers.timeoutMs),
        failureThreshold: Number(numbers.failureThreshold),
        cooldownMs: Number(numbers.cooldownMs),
      };
      await ok(api.client.PUT('/v1/scrubs/{scrub}', { params: { path: { scrub: view.scrub } }, body }));
      toast(`${words.title} saved`, 'ok');
      onSaved();
    } catch (err) {
      if (err instanceof ApiError && err.errors.length) setFailure(err);
      else toast(messageOf(err), 'bad');
    } finally {
      setBusy(false);
    }
  };

  const circuit = view.circuit;
  return (
    <div data-scrub={view.scrub}>
      <Panel title={words.title} class="scrub">
        <p class="muted">{words.about}</p>
        <p data-testid={`scrub-status-${view.scrub}`}>
          <Badge tone={view.enabled ? 'ok' : 'muted'}>{view.enabled ? 'on' : 'off'}</Badge>{' '}
          <span data-testid={`scrub-calls-${view.scrub}`}>
            {view.callsThisMonth}
            {view.monthlyBudget !== null ? ` / ${view.monthlyBudget}` : ''} calls this month
          </span>{' '}
          · circuit{' '}
          <Badge tone={CIRCUIT_TONE[circuit.state]}>
            <span data-testid={`scrub-circuit-${view.scrub}`}>{circuit.state.replace('_', '-')}</span>
          </Badge>
          {circuit.openedAt ? <span class="muted"> since {dateTime(circuit.openedAt)}</span> : null}
          {circuit.consecutiveFailures ? (
            <span class="muted"> ({circuit.consecutiveFailures} failed calls in a row)</span>
          ) : null}
        </p>
        <form class="form stack" onSubmit={submit} data-testid={`scrub-form-${view.scrub}`}>
          <label class="check">
            <input
              type="checkbox"
              name="enabled"
              checked={enabled}
              onChange={(e) => setEnabled(e.currentTarget.checked)}
            />{' '}
            Ask this provider at intake
          </label>
          <Field
            label="Base URL"
            error={fieldError('baseUrl')}
            hint="The provider's API; its backup server or a proxy."
          >
            <input
              name="baseUrl"
              type="url"
              value={baseUrl}
              onInput={(e) => setBaseUrl(e.currentTarget.value)}
              required
            />
          </Field>
          {view.scrub === 'litigator' ? (
            <Field label="API username" error={fieldError('username')}>
              <input name="username" type="text" value={username} onInput={(e) => setUsername(e.currentTarget.value)} />
            </Field>
          ) : null}
          <Field
            label={words.secret}
            error={fieldError('secret')}
            hint={
              view.secretSet ? 'Stored sealed; never shown. Leave empty to keep it.' : 'Stored sealed; never shown.'
            }
          >
            <input
              name="secret"
              type="password"
              autocomplete="new-password"
              value={secret}
              onInput={(e) => setSecret(e.currentTarget.value)}
              placeholder={view.secretSet ? '•••••••• (stored)' : ''}
            />
          </Field>
          {NUMBER_FIELDS.map((f) => (
            <Field key={f.name} label={f.label} error={fieldError(f.name)} hint={f.hint}>
              <input
                name={f.name}
                type="number"
                min={f.min}
                max={f.max}
                value={numbers[f.name]}
                onInput={(e) => {
                  const value = e.currentTarget.value;
                  setNumbers((n) => ({ ...n, [f.name]: value }));
                }}
              />
            </Field>
          ))}
          {view.scrub === 'litigator' ? (
            <Field label="A litigator's lead" error={fieldError('litigatorRule')}>
              <select name="litigatorRule" value={rule} onChange={(e) => setRule(e.currentTarget.value as typeof rule)}>
                <option value="refuse">Refuse it (litigator)</option>
                <option value="review">Keep it for review (suppressed)</option>
              </select>
            </Field>
          ) : null}
          <div>
            <Button type="submit" busy={busy}>
              Save
            </Button>
          </div>
        </form>
      </Panel>
    </div>
  );
}
