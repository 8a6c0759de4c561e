/**
 * The audit log: who changed what in the agency, from what to what, newest
 * first (GET /v1/audit-log). Filters by actor (a person's id or a key's id),
 * object (type and id) and time; the filters travel in the URL, and the CSV
 * button downloads the same entries (GET /v1/exports/audit-log.csv).
 */
import { useState } from 'preact/hooks';

import { ok } from '../shared/api';
import { dateTime, label, shortId, show } from '../shared/format';
import { CsvButton } from '../shared/supply';
import type { Schemas } from '../shared/types';
import { Badge, Button, Empty, ErrorNote, Field, Loading, Panel, useAsync, useMorePages } from '../shared/ui';
import { useConsole } from './context';
import { navigate, useLocation } from './router';

type Entry = Schemas['AuditEntryView'];
type ObjectType = Schemas['AuditObjectType'];
const OBJECT_TYPES: ObjectType[] = [
  'buyer',
  'campaign',
  'wallet',
  'agency_settings',
  'lead',
  'dispute',
  'api_key',
  'source',
  'membership',
  'user',
];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The API query of the page's URL: only well-formed values (the API would refuse the rest). */
function filtersOf(q: URLSearchParams) {
  const id = (k: string) => (UUID.test(q.get(k) ?? '') ? q.get(k)! : undefined);
  const at = (k: string) => {
    const v = q.get(k);
    const t = v ? Date.parse(v) : NaN;
    return Number.isFinite(t) ? new Date(t).toISOString() : undefined;
  };
  const objectType = q.get('objectType') as ObjectType | null;
  return {
    ...(id('actorUserId') ? { actorUserId: id('actorUserId') } : {}),
    ...(id('actorKeyId') ? { actorKeyId: id('actorKeyId') } : {}),
    ...(objectType && OBJECT_TYPES.includes(objectType) ? { objectType } : {}),
    ...(id('objectId') ? { objectId: id('objectId') } : {}),
    ...(at('from') ? { from: at('from') } : {}),
    ...(at('to') ? { to: at('to') } : {}),
  };
}

export function AuditLog() {
  const { api } = useConsole();
  const { query } = useLocation();
  const filters = filtersOf(query);
  const key = JSON.stringify(filters);
  const { extra, setExtra, cursor, setCursor, more } = useMorePages('entries', (cursor) =>
    api.client.GET('/v1/audit-log', { params: { query: { ...filters, limit: 50, cursor } } }),
  );
  const list = useAsync(async () => {
    const page = await ok(api.client.GET('/v1/audit-log', { params: { query: { ...filters, limit: 50 } } }));
    setExtra([]);
    setCursor(page.nextCursor);
    return page;
  }, [key]);
  const entries = [...(list.data?.entries ?? []), ...extra];
  return (
    <div class="page">
      <div class="page-head">
        <div>
          <h1>Audit log</h1>
          <p class="muted">
            Every change in the agency: who made it (a person, or a key and its maker), and what changed.
          </p>
        </div>
        <CsvButton
          csv={() => api.client.GET('/v1/exports/audit-log.csv', { params: { query: filters }, parseAs: 'text' })}
          file="audit-log.csv"
        >
          Download CSV
        </CsvButton>
      </div>
      <AuditFilters query={query} />
      <ErrorNote error={list.error} />
      {list.loading && !list.data ? <Loading /> : null}
      {list.data && entries.length === 0 ? <Empty title="No change matches" /> : null}
      {entries.length ? (
        <Panel>
          <div class="table-wrap">
            <table class="table" data-testid="audit-table">
              <thead>
                <tr>
                  <th>When</th>
                  <th>Who</th>
                  <th>What</th>
                  <th>Changes</th>
                </tr>
              </thead>
              <tbody>
                {entries.map((e) => (
                  <AuditRow key={e.id} entry={e} />
                ))}
              </tbody>
            </table>
          </div>
        </Panel>
      ) : null}
      {cursor ? <Button onClick={() => void more()}>More</Button> : null}
    </div>
  );
}

function AuditRow({ entry: e }: { entry: Entry }) {
  const href = (k: string, v: string) => `/admin/audit?${new URLSearchParams({ [k]: v }).toString()}`;
  return (
    <tr data-testid="audit-row">
      <td class="nowrap">{dateTime(e.at)}</td>
      <td>
        <span class="audit-actor">{e.actor.label}</span>{' '}
        {e.actor.keyId ? (
          <a href={href('actorKeyId', e.actor.keyId)} onClick={go} class="muted">
            key {shortId(e.actor.keyId)}
          </a>
        ) : e.actor.userId ? (
          <a href={href('actorUserId', e.actor.userId)} onClick={go} class="muted">
            person {shortId(e.actor.userId)}
          </a>
        ) : null}
      </td>
      <td>
        <Badge value={e.action}>{label(e.action)}</Badge> {label(e.objectType)}{' '}
        <a href={href('objectId', e.objectId)} onClick={go} class="muted">
          {shortId(e.objectId)}
        </a>
        {e.note ? <div class="muted">{e.note}</div> : null}
      </td>
      <td>
        {Object.entries(e.changes).map(([field, c]) => (
          <div key={field} class="audit-change">
            <strong>{label(field)}</strong>: {show(c.from)} → {show(c.to)}
          </div>
        ))}
      </td>
    </tr>
  );
}

/** In-page navigation for the filter links (a plain click; modified clicks open a tab as usual). */
function go(ev: MouseEvent) {
  if (ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.button !== 0) return;
  ev.preventDefault();
  navigate((ev.currentTarget as HTMLAnchorElement).getAttribute('href')!);
}

function AuditFilters({ query }: { query: URLSearchParams }) {
  const [form, setForm] = useState({
    actor: query.get('actorUserId') ?? query.get('actorKeyId') ?? '',
    actorKind: query.get('actorKeyId') ? 'key' : 'person',
    objectType: query.get('objectType') ?? '',
    objectId: query.get('objectId') ?? '',
    from: query.get('from') ?? '',
    to: query.get('to') ?? '',
  });
  const set = (k: keyof typeof form) => (ev: Event) =>
    setForm({ ...form, [k]: (ev.currentTarget as HTMLInputElement | HTMLSelectElement).value });
  const apply = (ev: Event) => {
    ev.preventDefault();
    const q = new URLSearchParams();
    if (form.actor.trim()) q.set(form.actorKind === 'key' ? 'actorKeyId' : 'actorUserId', form.actor.trim());
    if (form.objectType) q.set('objectType', form.objectType);
    if (form.objectId.trim()) q.set('objectId', form.objectId.trim());
    if (form.from) q.set('from', form.from);
    if (form.to) q.set('to', form.to);
    navigate(`/admin/audit${q.size ? `?${q.toString()}` : ''}`, { replace: true });
  };
  return (
    <form class="filters" onSubmit={apply} data-testid="audit-filters">
      <Field label="Actor">
        <select name="actorKind" value={form.actorKind} onChange={set('actorKind')}>
          <option value="person">person id</option>
          <option value="key">key id</option>
        </select>
        <input name="actor" value={form.actor} onInput={set('actor')} placeholder="id" />
      </Field>
      <Field label="Object">
        <select name="objectType" value={form.objectType} onChange={set('objectType')}>
          <option value="">any</option>
          {OBJECT_TYPES.map((t) => (
            <option key={t} value={t}>
              {label(t)}
            </option>
          ))}
        </select>
        <input name="objectId" value={form.objectId} onInput={set('objectId')} placeholder="id" />
      </Field>
      <Field label="From">
        <input name="from" type="datetime-local" value={form.from} onInput={set('from')} />
      </Field>
      <Field label="To">
        <input name="to" type="datetime-local" value={form.to} onInput={set('to')} />
      </Field>
      <Button type="submit" size="sm">
        Filter
      </Button>
    </form>
  );
}
