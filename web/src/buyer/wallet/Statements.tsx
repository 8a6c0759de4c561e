/**
 * The wallet's monthly statements (#21 item 6): pick a month with activity, read
 * the statement (opening, each movement by section, closing), print it (a print
 * stylesheet shows only the statement) or download it as CSV. Each card payment
 * links to Stripe's own receipt. The print stylesheet is statements.css.
 */
import './statements.css';

import { useEffect, useState } from 'preact/hooks';

import { type Api, ok } from '../../shared/api';
import { dateTime, money, num } from '../../shared/format';
import { CsvButton } from '../../shared/supply';
import type { Schemas } from '../../shared/types';
import { Button, ErrorNote, Loading, Panel, useAsync } from '../../shared/ui';

type Statement = Schemas['Statement'];
type Section = Schemas['StatementSection'];

const SECTION: Record<Section, string> = {
  topUps: 'Top-ups',
  charges: 'Lead charges',
  returns: 'Returns',
  cardRefunds: 'Card refunds',
  disputes: 'Disputes',
  adjustments: 'Adjustments',
};
const SECTIONS = Object.keys(SECTION) as Section[];

const monthName = (m: string) =>
  new Date(`${m}-15T12:00:00Z`).toLocaleDateString(undefined, { month: 'long', year: 'numeric', timeZone: 'UTC' });

export function Statements({ api }: { api: Api }) {
  const months = useAsync(() => ok(api.client.GET('/v1/me/statements')), []);
  const [month, setMonth] = useState<string | null>(null);
  useEffect(() => {
    if (!month && months.data?.months[0]) setMonth(months.data.months[0]);
  }, [months.data, month]);
  const statement = useAsync(async () => {
    if (!month) return null;
    // Without `?format=csv` the answer is the JSON statement (the document also declares the CSV form).
    const s = await ok(api.client.GET('/v1/me/statements/{month}', { params: { path: { month } } }));
    return typeof s === 'string' ? null : s;
  }, [month]);
  return (
    <Panel title="Statements" class="statement-print">
      <ErrorNote error={months.error ?? statement.error} />
      {months.loading && !months.data ? <Loading /> : null}
      {months.data && !months.data.months.length ? <p class="muted">No statements yet.</p> : null}
      {months.data?.months.length ? (
        <div class="no-print statement-actions">
          <label>
            Month{' '}
            <select name="statement-month" value={month ?? ''} onChange={(e) => setMonth(e.currentTarget.value)}>
              {months.data.months.map((m) => (
                <option key={m} value={m}>
                  {monthName(m)}
                </option>
              ))}
            </select>
          </label>{' '}
          <Button size="sm" onClick={() => window.print()}>
            Print
          </Button>{' '}
          {month ? (
            <CsvButton
              csv={() =>
                api.client.GET('/v1/me/statements/{month}.csv', { params: { path: { month } }, parseAs: 'text' })
              }
              file={`statement-${month}.csv`}
            >
              Download CSV
            </CsvButton>
          ) : null}
        </div>
      ) : null}
      {statement.data ? <StatementView s={statement.data} /> : null}
    </Panel>
  );
}

function StatementView({ s }: { s: Statement }) {
  return (
    <div data-testid="statement">
      <h3>
        {monthName(s.month)} <span class="muted">({s.timeZone})</span>
      </h3>
      <table class="table">
        <tbody>
          <tr>
            <th>Opening balance</th>
            <td class="num" data-testid="statement-opening">
              {num(s.openingBalance)}
            </td>
          </tr>
          {SECTIONS.map((k) => (
            <tr key={k}>
              <td>{SECTION[k]}</td>
              <td class="num" data-testid={`statement-total-${k}`}>
                {(s.totals[k] ?? 0) > 0 ? '+' : ''}
                {num(s.totals[k] ?? 0)}
              </td>
            </tr>
          ))}
          <tr>
            <th>Closing balance</th>
            <td class="num" data-testid="statement-closing">
              {num(s.closingBalance)}
            </td>
          </tr>
        </tbody>
      </table>
      {s.lines.length ? (
        <div class="table-wrap">
          <table class="table" data-testid="statement-lines">
            <thead>
              <tr>
                <th>When</th>
                <th>What</th>
                <th>Details</th>
                <th class="num">Credits</th>
                <th class="num">Balance</th>
              </tr>
            </thead>
            <tbody>
              {s.lines.map((l) => (
                <tr key={l.id}>
                  <td>{dateTime(l.at)}</td>
                  <td>{SECTION[l.section]}</td>
                  <td>
                    {l.payment ? (
                      <span>
                        {l.payment.cardBrand ?? 'card'} ···· {l.payment.cardLast4 ?? '????'},{' '}
                        {money(l.payment.amount, l.payment.currency)}
                        {l.payment.receiptUrl ? (
                          <>
                            {' – '}
                            <a href={l.payment.receiptUrl} target="_blank" rel="noopener noreferrer">
                              receipt
                            </a>
                          </>
                        ) : null}
                      </span>
                    ) : (
                      <span class="muted">{l.reference ?? (l.leadId ? `lead ${l.leadId.slice(0, 8)}` : '')}</span>
                    )}
                  </td>
                  <td class={`num ${l.amount < 0 ? 'neg' : 'pos'}`}>
                    {l.amount > 0 ? '+' : ''}
                    {num(l.amount)}
                  </td>
                  <td class="num">{num(l.balanceAfter)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : (
        <p class="muted">No movements this month.</p>
      )}
    </div>
  );
}
