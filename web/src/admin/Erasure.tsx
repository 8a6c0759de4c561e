/**
 * Retention and erasure (#23 item 6): a form that erases one person's personal fields everywhere, by phone or
 * email (optionally putting them on the do_not_contact list), and the list of past requests – by kind, counts,
 * who and when, never the person, whose identifier is not stored. The agency's retention period is set on the
 * settings page (`RetentionSettings`, below).
 */
import { useEffect, useState } from 'preact/hooks';

import { ok } from '../shared/api';
import { dateTime, label } from '../shared/format';
import { Badge, Button, Empty, ErrorNote, Field, Loading, Panel, useAction, useAsync } from '../shared/ui';
import { useConsole } from './context';

export function ErasurePage() {
  const { api } = useConsole();
  const [version, setVersion] = useState(0);
  const requests = useAsync(() => ok(api.client.GET('/v1/erasure-requests', { params: { query: {} } })), [version]);
  const [value, setValue] = useState('');
  const [suppress, setSuppress] = useState(false);
  const [erase, erasing] = useAction(
    async () => {
      await ok(api.client.POST('/v1/erasure-requests', { body: { value: value.trim(), suppress } }));
      setValue('');
      setVersion((v) => v + 1);
    },
    { success: 'Erased' },
  );
  return (
    <div class="page">
      <div class="page-head">
        <div>
          <h1>Erasure requests</h1>
          <p class="muted">
            Erase one person's personal fields from every lead and every stored copy, by phone number or email. The
            ledger and reports stay; the person's identifier is never stored.
          </p>
        </div>
      </div>
      <Panel title="Erase a person">
        <form
          class="row"
          data-testid="erasure-form"
          onSubmit={(e) => {
            e.preventDefault();
            if (value.trim() && confirm('Erase this person everywhere? This cannot be undone.')) void erase();
          }}
        >
          <Field label="Phone or email">
            <input value={value} onInput={(e) => setValue(e.currentTarget.value)} data-testid="erasure-value" />
          </Field>
          <label class="check">
            <input
              type="checkbox"
              checked={suppress}
              onChange={(e) => setSuppress(e.currentTarget.checked)}
              data-testid="erasure-suppress"
            />{' '}
            Also add to the do-not-contact list
          </label>
          <Button type="submit" variant="primary" busy={erasing} disabled={!value.trim()}>
            Erase
          </Button>
        </form>
      </Panel>
      <Panel title="Past requests">
        <ErrorNote error={requests.error} />
        {requests.loading && !requests.data ? <Loading /> : null}
        {requests.data && !requests.data.requests.length ? <Empty title="No erasure requests yet" /> : null}
        {requests.data?.requests.length ? (
          <table class="table" data-testid="erasure-requests">
            <thead>
              <tr>
                <th>When</th>
                <th>By</th>
                <th>Named by</th>
                <th class="num">Leads</th>
                <th>Rows erased</th>
                <th>Suppressed</th>
              </tr>
            </thead>
            <tbody>
              {requests.data.requests.map((r) => (
                <tr key={r.id} data-testid="erasure-request">
                  <td>{dateTime(r.at)}</td>
                  <td>{r.requestedBy}</td>
                  <td>{r.kind}</td>
                  <td class="num">{r.leads}</td>
                  <td class="muted">
                    {Object.entries(r.counts)
                      .map(([table, n]) => `${label(table)} ${n}`)
                      .join(' · ') || 'none'}
                  </td>
                  <td>{r.suppressed ? <Badge value="suppressed">do not contact</Badge> : 'no'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
      </Panel>
    </div>
  );
}

/** The agency's retention period (settings page): days a lead's personal fields are kept, or off. */
export function RetentionSettings() {
  const { api } = useConsole();
  const current = useAsync(() => ok(api.client.GET('/v1/settings')), [api]);
  const [days, setDays] = useState('');
  useEffect(() => setDays(current.data?.settings.retentionDays?.toString() ?? ''), [current.data]);
  const [save, saving] = useAction(
    async () => {
      const retentionDays = days.trim() ? Number(days) : null;
      const res = await ok(api.client.PATCH('/v1/settings', { body: { retentionDays } }));
      current.set(res);
    },
    { success: 'Retention saved' },
  );
  if (current.loading && !current.data) return <Loading />;
  return (
    <Panel title="Retention">
      <ErrorNote error={current.error} />
      <form
        class="row"
        data-testid="retention-form"
        onSubmit={(e) => {
          e.preventDefault();
          void save();
        }}
      >
        <Field
          label="Keep personal fields for (days)"
          hint="Empty: kept until an erasure request. A daily job erases the name, phone, email and address of older leads."
        >
          <input
            type="number"
            min={1}
            max={3650}
            value={days}
            onInput={(e) => setDays(e.currentTarget.value)}
            data-testid="retention-days"
          />
        </Field>
        <Button type="submit" busy={saving}>
          Save retention
        </Button>
      </form>
    </Panel>
  );
}
