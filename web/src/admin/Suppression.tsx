/**
 * Suppression lists (#23 item 3): how many numbers and addresses each of the
 * agency's lists and the platform's Do-Not-Call lists hold, a CSV upload with
 * its progress and its report (bad lines by line number), a search by number
 * or address that tells which lists hold it (and takes an entry off), and a
 * single add. Nothing here shows a stored value: there is none, only HMACs.
 */
import { useState } from 'preact/hooks';

import { messageOf, ok } from '../shared/api';
import { dateTime, label } from '../shared/format';
import type { Schemas } from '../shared/types';
import { Badge, Button, ErrorNote, Field, Loading, Panel, toast, useAction, useAsync } from '../shared/ui';
import { useConsole } from './context';

type List = Schemas['SuppressionAdd']['list'];
type Report = Schemas['SuppressionLoaded'];
type Found = Schemas['SuppressionFound'];
const LISTS: List[] = ['do_not_contact', 'litigator', 'returned_fraud'];

export function SuppressionPage() {
  const { api } = useConsole();
  const [version, setVersion] = useState(0);
  const counts = useAsync(() => ok(api.client.GET('/v1/suppression')), [version]);
  const changed = () => setVersion((v) => v + 1);
  return (
    <div class="page">
      <div class="page-head">
        <div>
          <h1>Suppression lists</h1>
          <p class="muted">
            People who must not be called. A lead whose phone or email is listed goes to review as{' '}
            <code>suppressed</code> and is never sold. Numbers are kept only as keyed hashes.
          </p>
        </div>
      </div>
      <ErrorNote error={counts.error} />
      {counts.loading && !counts.data ? <Loading /> : null}
      {counts.data ? (
        <Panel title="Lists">
          <table class="table" data-testid="suppression-counts">
            <tbody>
              {LISTS.map((l) => (
                <tr key={l} data-list={l}>
                  <td>{label(l)}</td>
                  <td class="num">{counts.data!.lists.find((c) => c.list === l)?.count ?? 0}</td>
                </tr>
              ))}
              {counts.data.platform.map((c) => (
                <tr key={c.list} data-list={c.list}>
                  <td>
                    {label(c.list.replace(':', ' '))} <span class="muted">(platform)</span>
                  </td>
                  <td class="num">{c.count}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </Panel>
      ) : null}
      <UploadPanel onLoaded={changed} />
      <SearchPanel onChange={changed} />
    </div>
  );
}

function UploadPanel({ onLoaded }: { onLoaded(): void }) {
  const { api } = useConsole();
  const [list, setList] = useState<List>('do_not_contact');
  const [file, setFile] = useState<File | null>(null);
  const [progress, setProgress] = useState<number | null>(null);
  const [report, setReport] = useState<Report | null>(null);
  const [error, setError] = useState<unknown>(null);
  const send = async () => {
    if (!file) return;
    setReport(null);
    setError(null);
    setProgress(0);
    try {
      const r = await api.upload<Report>(`/v1/suppression/uploads?list=${list}`, file, setProgress);
      setReport(r);
      onLoaded();
    } catch (err) {
      setError(err);
    } finally {
      setProgress(null);
    }
  };
  return (
    <Panel title="Upload a CSV">
      <p class="muted">One column of phone numbers or emails, one per line; a header line is optional.</p>
      <div class="row">
        <ListField label="List" list={list} onChange={setList} />
        <Field label="File">
          <input
            type="file"
            accept=".csv,text/csv,text/plain"
            data-testid="upload-file"
            onChange={(e) => setFile(e.currentTarget.files?.[0] ?? null)}
          />
        </Field>
      </div>
      <Button variant="primary" busy={progress !== null} disabled={!file} onClick={() => void send()}>
        Upload
      </Button>
      {progress !== null ? (
        <div data-testid="upload-progress">
          <progress max={1} value={progress} /> {Math.round(progress * 100)}% sent
        </div>
      ) : null}
      <ErrorNote error={error} />
      {report ? (
        <div data-testid="upload-report">
          <p>
            {report.lines} lines: <strong>{report.added}</strong> added, {report.alreadyListed} already listed,{' '}
            {report.rejected} refused{report.header ? ' (header skipped)' : ''}.
          </p>
          {report.errors.length ? (
            <ul class="muted">
              {report.errors.map((e) => (
                <li key={e.line}>
                  line {e.line}: {e.message}
                </li>
              ))}
            </ul>
          ) : null}
        </div>
      ) : null}
    </Panel>
  );
}

function SearchPanel({ onChange }: { onChange(): void }) {
  const { api } = useConsole();
  const [value, setValue] = useState('');
  const [list, setList] = useState<List>('do_not_contact');
  const [found, setFound] = useState<Found | null>(null);
  const search = async () => {
    try {
      setFound(await ok(api.client.POST('/v1/suppression/search', { body: { value } })));
    } catch (err) {
      setFound(null);
      toast(messageOf(err), 'bad');
    }
  };
  const [add, adding] = useAction(
    async () => {
      await ok(api.client.POST('/v1/suppression/entries', { body: { list, value } }));
      onChange();
      await search();
    },
    { success: 'Added' },
  );
  const [remove] = useAction(
    async (id: string) => {
      await ok(api.client.DELETE('/v1/suppression/entries/{id}', { params: { path: { id } } }));
      onChange();
      await search();
    },
    { success: 'Removed' },
  );
  return (
    <Panel title="Search a number or email">
      <form
        class="row"
        onSubmit={(e) => {
          e.preventDefault();
          void search();
        }}
      >
        <Field label="Phone or email">
          <input value={value} onInput={(e) => setValue(e.currentTarget.value)} data-testid="search-value" />
        </Field>
        <Button type="submit" disabled={!value.trim()}>
          Search
        </Button>
        <ListField label="Add to" list={list} onChange={setList} />
        <Button busy={adding} disabled={!value.trim()} onClick={() => void add()}>
          Add
        </Button>
      </form>
      {found ? (
        <div data-testid="search-result">
          {found.suppressed ? <Badge value="suppressed">suppressed</Badge> : <Badge value="passed">not listed</Badge>}
          <ul>
            {found.entries.map((e) => (
              <li key={e.id} data-testid="search-entry">
                {label(e.list)} · {e.source} · {dateTime(e.addedAt)}
                {e.note ? <span class="muted"> · {e.note}</span> : null}{' '}
                <Button size="sm" onClick={() => void remove(e.id)}>
                  Remove
                </Button>
              </li>
            ))}
            {found.dnc.map((l) => (
              <li key={l}>{label(l.replace(':', ' '))} (platform list)</li>
            ))}
          </ul>
        </div>
      ) : null}
    </Panel>
  );
}

/** One of the agency's lists, chosen. */
function ListField({ label: text, list, onChange }: { label: string; list: List; onChange(l: List): void }) {
  return (
    <Field label={text}>
      <select value={list} onChange={(e) => onChange(e.currentTarget.value as List)}>
        {LISTS.map((l) => (
          <option key={l} value={l}>
            {label(l)}
          </option>
        ))}
      </select>
    </Field>
  );
}
