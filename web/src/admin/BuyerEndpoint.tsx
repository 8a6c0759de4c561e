/**
 * The buyer's page, "Endpoint" (#22): the buyer's own system for outbound
 * ping-post – URLs, authentication (the secret write-only), timeout, the
 * request templates and response rules (JSON, checked by the server: its
 * errors are shown under the editor they name, with the character), the
 * "test endpoint" button with the mapped request and the parsed answer, and
 * the endpoint's log (last 100 calls, secrets masked). An optional status
 * query (#22 item 4): asked about a post that went unanswered, under its key.
 */
import { useState } from 'preact/hooks';

import { ApiError, ok } from '../shared/api';
import { dateTime } from '../shared/format';
import type { Schemas } from '../shared/types';
import { Badge, Button, Empty, ErrorNote, Field, Loading, Panel, toast, useAsync } from '../shared/ui';
import { useConsole } from './context';

type Endpoint = Schemas['EndpointView'];
type Put = Schemas['EndpointPut'];
type TestAnswer = Schemas['EndpointTest'];
type Call = Schemas['EndpointCallView'];

const pretty = (v: unknown) => (v === null || v === undefined ? '' : JSON.stringify(v, null, 2));

/** What the editors start with for a buyer without an endpoint. */
const STARTER = {
  pingTemplate: { zip_code: '{{zip}}', state: '{{state}}' },
  pingRules: { accepted: { path: 'status', equals: 'accepted' }, bid: { path: 'bid' }, pingId: { path: 'ping_id' } },
  postTemplate: { ping_id: '{{pingId}}', first_name: '{{firstName}}', phone: '{{phone}}', email: '{{email}}' },
  postRules: { accepted: { path: 'status', equals: 'accepted' }, reason: { path: 'reason' } },
  statusRules: { accepted: { path: 'status', equals: 'accepted' }, reason: { path: 'reason' } },
};

const JSON_FIELDS = [
  'pingTemplate',
  'pingRules',
  'postTemplate',
  'postRules',
  'statusTemplate',
  'statusRules',
] as const;
type JsonField = (typeof JSON_FIELDS)[number];

export function EndpointPanel({ buyerId }: { buyerId: string }) {
  const { api } = useConsole();
  const path = { params: { path: { id: buyerId } } };
  const endpoint = useAsync(
    () => ok(api.client.GET('/v1/buyers/{id}/endpoint', path)).then((r) => r.endpoint),
    [buyerId],
  );
  const calls = useAsync(() => ok(api.client.GET('/v1/buyers/{id}/endpoint/calls', path)), [buyerId]);
  if (endpoint.error) return <ErrorNote error={endpoint.error} />;
  if (endpoint.data === undefined) return <Loading />;
  return (
    <div data-testid="buyer-endpoint">
      <EndpointForm
        key={endpoint.data?.updatedAt ?? 'new'}
        buyerId={buyerId}
        endpoint={endpoint.data}
        onSaved={async () => {
          await endpoint.reload();
          await calls.reload();
        }}
        onTested={() => void calls.reload()}
      />
      <Panel title="Endpoint log" actions={<span class="muted">last 100 calls, newest first</span>}>
        {calls.data ? <CallLog calls={calls.data.calls} /> : <Loading />}
      </Panel>
    </div>
  );
}

function EndpointForm({
  buyerId,
  endpoint: e,
  onSaved,
  onTested,
}: {
  buyerId: string;
  endpoint: Endpoint | null;
  onSaved: () => Promise<void>;
  onTested: () => void;
}) {
  const { api } = useConsole();
  const [pingUrl, setPingUrl] = useState(e?.pingUrl ?? '');
  const [postUrl, setPostUrl] = useState(e?.postUrl ?? '');
  const [statusUrl, setStatusUrl] = useState(e?.statusUrl ?? '');
  const [statusMethod, setStatusMethod] = useState<Endpoint['statusMethod']>(e?.statusMethod ?? 'GET');
  const [authKind, setAuthKind] = useState<Endpoint['auth']['kind']>(e?.auth.kind ?? 'none');
  const [authName, setAuthName] = useState(e?.auth.header ?? e?.auth.username ?? '');
  const [secret, setSecret] = useState('');
  const [timeoutMs, setTimeoutMs] = useState(String(e?.timeoutMs ?? 1500));
  const [status, setStatus] = useState<Endpoint['status']>(e?.status ?? 'active');
  const [texts, setTexts] = useState<Record<JsonField, string>>({
    pingTemplate: pretty(e ? e.pingTemplate : STARTER.pingTemplate),
    pingRules: pretty(e ? e.pingRules : STARTER.pingRules),
    postTemplate: pretty(e?.postTemplate ?? STARTER.postTemplate),
    postRules: pretty(e?.postRules ?? STARTER.postRules),
    statusTemplate: pretty(e?.statusTemplate),
    statusRules: pretty(e?.statusRules ?? STARTER.statusRules),
  });
  const [errors, setErrors] = useState<{ path: string; message: string; position?: number }[]>([]);
  const [failure, setFailure] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [alsoPost, setAlsoPost] = useState(false);
  const [test, setTest] = useState<TestAnswer | null>(null);

  const errorsOf = (field: string) =>
    errors
      .filter((x) => x.path === field || x.path.startsWith(`${field}.`))
      .map((x) => `${x.path}${x.position !== undefined ? ` (at character ${x.position})` : ''}: ${x.message}`)
      .join('; ') || undefined;

  const save = async () => {
    setErrors([]);
    setFailure(null);
    const parsed: Partial<Record<JsonField, Record<string, unknown>>> = {};
    const local: typeof errors = [];
    for (const f of JSON_FIELDS) {
      if (texts[f].trim() === '' || (f.startsWith('ping') && !pingUrl.trim())) continue;
      if (f.startsWith('status') && !statusUrl.trim()) continue;
      try {
        parsed[f] = JSON.parse(texts[f]) as Record<string, unknown>;
      } catch (err) {
        local.push({ path: f, message: `not JSON: ${(err as Error).message}` });
      }
    }
    if (local.length) return setErrors(local);
    const auth: Put['auth'] =
      authKind === 'none'
        ? { kind: 'none' }
        : {
            kind: authKind,
            ...(authKind === 'header' && authName ? { header: authName } : {}),
            ...(authKind === 'basic' ? { username: authName } : {}),
            ...(secret ? { secret } : {}),
          };
    const body = {
      ...(pingUrl.trim() ? { pingUrl: pingUrl.trim() } : {}),
      postUrl: postUrl.trim(),
      ...(statusUrl.trim() ? { statusUrl: statusUrl.trim(), statusMethod } : {}),
      auth,
      timeoutMs: Number(timeoutMs),
      status,
      ...parsed,
    } as Put;
    setBusy(true);
    try {
      await ok(api.client.PUT('/v1/buyers/{id}/endpoint', { params: { path: { id: buyerId } }, body }));
      toast('Endpoint saved', 'ok');
      setSecret('');
      await onSaved();
    } catch (err) {
      if (err instanceof ApiError && err.errors.length) setErrors(err.errors);
      else setFailure(err);
    } finally {
      setBusy(false);
    }
  };

  const runTest = async () => {
    setFailure(null);
    setBusy(true);
    try {
      setTest(
        await ok(
          api.client.POST('/v1/buyers/{id}/endpoint/test', {
            params: { path: { id: buyerId } },
            body: { post: alsoPost },
          }),
        ),
      );
      onTested();
    } catch (err) {
      setFailure(err);
    } finally {
      setBusy(false);
    }
  };

  const editor = (f: JsonField, label: string, hint: string) => (
    <Field label={label} hint={hint} error={errorsOf(f)}>
      <textarea
        name={f}
        rows={6}
        class="mono"
        value={texts[f]}
        onInput={(ev) => setTexts({ ...texts, [f]: ev.currentTarget.value })}
      />
    </Field>
  );

  return (
    <Panel title={<>Endpoint {e ? <Badge value={e.status} /> : <span class="muted">– none yet</span>}</>}>
      {e?.pauseReason ? (
        <div class="note note-warn" data-testid="endpoint-paused">
          Paused{e.pausedBy === 'system' ? ' by the system' : ''}: {e.pauseReason}
        </div>
      ) : null}
      <div class="grid-2">
        <Field label="Ping URL" hint="empty: the lead is posted directly" error={errorsOf('pingUrl')}>
          <input name="pingUrl" value={pingUrl} onInput={(ev) => setPingUrl(ev.currentTarget.value)} />
        </Field>
        <Field label="Post URL" error={errorsOf('postUrl')}>
          <input name="postUrl" value={postUrl} onInput={(ev) => setPostUrl(ev.currentTarget.value)} />
        </Field>
        <Field label="Authentication" error={errorsOf('auth')}>
          <select name="authKind" value={authKind} onChange={(ev) => setAuthKind(ev.currentTarget.value as never)}>
            <option value="none">none</option>
            <option value="header">header token</option>
            <option value="basic">basic</option>
            <option value="hmac">Standard Webhooks HMAC</option>
          </select>
        </Field>
        {authKind === 'header' || authKind === 'basic' ? (
          <Field label={authKind === 'header' ? 'Header name' : 'User name'}>
            <input name="authName" value={authName} onInput={(ev) => setAuthName(ev.currentTarget.value)} />
          </Field>
        ) : null}
        {authKind !== 'none' ? (
          <Field
            label={authKind === 'hmac' ? 'Key (whsec_…)' : authKind === 'basic' ? 'Password' : 'Token'}
            hint={e?.auth.secretSet ? 'stored – leave empty to keep it' : 'never shown again'}
          >
            <input
              name="secret"
              type="password"
              autocomplete="off"
              value={secret}
              onInput={(ev) => setSecret(ev.currentTarget.value)}
            />
          </Field>
        ) : null}
        <Field label="Timeout per call (ms)" hint="at most 10000" error={errorsOf('timeoutMs')}>
          <input
            name="timeoutMs"
            type="number"
            value={timeoutMs}
            onInput={(ev) => setTimeoutMs(ev.currentTarget.value)}
          />
        </Field>
        <Field label="Status">
          <select
            name="status"
            value={status}
            onChange={(ev) => setStatus(ev.currentTarget.value as Endpoint['status'])}
          >
            <option value="active">active</option>
            <option value="paused">paused</option>
          </select>
        </Field>
      </div>
      {pingUrl.trim() ? (
        <div class="grid-2">
          {editor(
            'pingTemplate',
            'Ping template',
            'zip, state, city and answers only: {{zip}}, {{answers.roof_age|number}}',
          )}
          {editor('pingRules', 'Ping rules', 'accepted, bid, pingId, reason: {"path": …} or {"jsonata": …}')}
        </div>
      ) : null}
      <div class="grid-2">
        {editor('postTemplate', 'Post template', 'every field, {{leadId}}, {{pingId}}, {{bid}}')}
        {editor('postRules', 'Post rules', 'accepted, reason')}
      </div>
      <section data-testid="endpoint-status-query">
        <h3>Status query (optional)</h3>
        <p class="muted">
          Asked when a post goes unanswered (a timeout), before it is sent again: the buyer says whether it took the
          lead. Accepted or rejected by these rules settles the post; anything else leaves it unknown.
        </p>
        <div class="grid-2">
          <Field label="Status URL" hint="empty: no status query" error={errorsOf('statusUrl')}>
            <input name="statusUrl" value={statusUrl} onInput={(ev) => setStatusUrl(ev.currentTarget.value)} />
          </Field>
          <Field label="Status method" error={errorsOf('statusMethod')}>
            <select
              name="statusMethod"
              value={statusMethod}
              onChange={(ev) => setStatusMethod(ev.currentTarget.value as Endpoint['statusMethod'])}
            >
              <option value="GET">GET (query string)</option>
              <option value="POST">POST (body)</option>
            </select>
          </Field>
        </div>
        {statusUrl.trim() ? (
          <div class="grid-2">
            {editor(
              'statusTemplate',
              'Status template',
              'optional: {{idempotencyKey}}, {{leadId}}, {{pingId}} only; empty: idempotency_key=<key>',
            )}
            {editor('statusRules', 'Status rules', 'accepted, reason')}
          </div>
        ) : null}
      </section>
      <ErrorNote error={failure} />
      <div class="row-actions">
        <Button variant="primary" busy={busy} onClick={() => void save()} data-testid="endpoint-save">
          Save endpoint
        </Button>
        {e ? (
          <>
            <label class="check">
              <input type="checkbox" checked={alsoPost} onChange={(ev) => setAlsoPost(ev.currentTarget.checked)} /> post
              too
            </label>
            <Button busy={busy} onClick={() => void runTest()} data-testid="endpoint-test">
              Test endpoint
            </Button>
          </>
        ) : null}
      </div>
      {test ? (
        <div data-testid="endpoint-test-result">
          {test.ping ? <TestCall title="Ping" call={test.ping} /> : null}
          {test.post ? <TestCall title="Post" call={test.post} /> : null}
        </div>
      ) : null}
    </Panel>
  );
}

function TestCall({ title, call }: { title: string; call: NonNullable<TestAnswer['ping']> }) {
  return (
    <div class="grid-2">
      <div>
        <h3>
          {title}: mapped request ({call.request.method} {call.request.url})
        </h3>
        <pre class="mono">{call.request.body}</pre>
      </div>
      <div>
        <h3>
          Parsed answer: <Badge value={call.outcome} />{' '}
          {call.bid !== null ? <span data-testid="endpoint-test-bid">bid {call.bid}</span> : null}
          {call.reason ? <span class="muted"> {call.reason}</span> : null}
        </h3>
        <pre class="mono">
          {call.response ? `HTTP ${call.response.status}\n${call.response.body}` : 'no answer'} ({call.latencyMs} ms)
        </pre>
      </div>
    </div>
  );
}

function CallLog({ calls }: { calls: Call[] }) {
  if (!calls.length) return <Empty title="No calls yet">Test the endpoint to see what it answers.</Empty>;
  return (
    <table class="table" data-testid="endpoint-log">
      <thead>
        <tr>
          <th>When</th>
          <th>Call</th>
          <th>Outcome</th>
          <th>Bid</th>
          <th>Latency</th>
          <th>Request and answer</th>
        </tr>
      </thead>
      <tbody>
        {calls.map((c) => (
          <tr key={c.id}>
            <td>{dateTime(c.at)}</td>
            <td>
              {c.kind} {c.step}
            </td>
            <td>
              <Badge value={c.outcome} /> {c.reason ?? ''}
            </td>
            <td>{c.bid ?? '–'}</td>
            <td>{c.latencyMs} ms</td>
            <td>
              <details>
                <summary>{c.request.url}</summary>
                <pre class="mono">
                  {Object.entries(c.request.headers)
                    .map(([k, v]) => `${k}: ${v}`)
                    .join('\n')}
                  {'\n\n'}
                  {c.request.body}
                  {'\n\n'}
                  {c.response ? `HTTP ${c.response.status}\n${c.response.body}` : 'no answer'}
                </pre>
              </details>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
