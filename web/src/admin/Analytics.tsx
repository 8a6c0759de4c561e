/**
 * Analytics: the server-side report (GET /v1/reports, computed in SQL over
 * the leads and both ledgers) grouped by day, campaign, source or buyer,
 * filtered by a date range in the agency time zone, a page of groups at a
 * time; totals, simple SVG charts of the page, the table, and CSV buttons for
 * the streamed exports (leads, sales, both ledgers, the report) with the same
 * filters. Below, for the same dates: each buyer endpoint's pings, bids,
 * posts and timeouts (GET /v1/reports/endpoints), and the leads refused at
 * intake and pings rejected, by reason and by source (GET /v1/reports/refusals).
 * Nothing is computed from individual leads in the browser.
 */
import { useState } from 'preact/hooks';

import { ok } from '../shared/api';
import { duration, num, pct, shortId } from '../shared/format';
import { CsvButton, type Range, RangeFields, rangeFilter, REFUSAL_REASONS, RefusalCountsTable } from '../shared/supply';
import type { EndpointReport, RefusalReport, Report, ReportGroup, ReportRow } from '../shared/types';
import { Button, Empty, ErrorNote, Field, Loading, Panel, useAsync } from '../shared/ui';
import { BarChart, ChartCard, GroupedBars } from './charts';
import { useConsole } from './context';

const GROUPS: { id: ReportGroup; label: string }[] = [
  { id: 'day', label: 'Day' },
  { id: 'campaign', label: 'Campaign' },
  { id: 'source', label: 'Source' },
  { id: 'buyer', label: 'Buyer' },
];
const PAGE = 50;

function rowLabel(r: ReportRow, group: ReportGroup): string {
  if (group === 'day') return r.key;
  if (group === 'source' && r.key === 'none') return 'No source (agency)';
  return r.name ?? `${group} ${shortId(r.key)}`;
}

export function Analytics() {
  const { api } = useConsole();
  const [group, setGroup] = useState<ReportGroup>('day');
  const [range, setRange] = useState<Range>({ from: '', to: '' });
  /** The cursors of the pages before this one (the first page has none). */
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const cursor = cursors[cursors.length - 1] ?? null;
  const report = useAsync(
    () =>
      ok(
        api.client.GET('/v1/reports', {
          params: { query: { groupBy: group, limit: PAGE, ...rangeFilter(range), ...(cursor ? { cursor } : {}) } },
        }),
      ),
    [api, group, range.from, range.to, cursor],
  );
  const endpoints = useAsync(
    () => ok(api.client.GET('/v1/reports/endpoints', { params: { query: rangeFilter(range) } })),
    [api, range.from, range.to],
  );
  const refusals = useAsync(
    () => ok(api.client.GET('/v1/reports/refusals', { params: { query: rangeFilter(range) } })),
    [api, range.from, range.to],
  );
  const filter = (next: { group?: ReportGroup; range?: Range }) => {
    if (next.group) setGroup(next.group);
    if (next.range) setRange(next.range);
    setCursors([null]);
  };
  const dates = rangeFilter(range);

  return (
    <div class="page">
      <div class="page-head">
        <div>
          <h1>Analytics</h1>
          <p class="muted">
            Leads, sales, returns, revenue, payouts and margin, computed by the server from the ledgers
            {report.data ? ` · days in ${report.data.timeZone}` : ''}.
          </p>
        </div>
        <Button
          onClick={() => {
            void report.reload();
            void endpoints.reload();
            void refusals.reload();
          }}
          busy={report.loading && !!report.data}
        >
          Refresh
        </Button>
      </div>
      <div class="filters">
        <Field label="Group by">
          <select
            name="groupBy"
            value={group}
            onChange={(e) => filter({ group: e.currentTarget.value as ReportGroup })}
          >
            {GROUPS.map((g) => (
              <option key={g.id} value={g.id}>
                {g.label}
              </option>
            ))}
          </select>
        </Field>
        <RangeFields range={range} onChange={(r) => filter({ range: r })} />
      </div>
      <div class="row-actions csv-row" data-testid="csv-buttons">
        <span class="muted">CSV, same dates:</span>
        <CsvButton
          csv={() =>
            api.client.GET('/v1/exports/report.csv', {
              params: { query: { groupBy: group, ...dates } },
              parseAs: 'text',
            })
          }
          file={`report-${group}.csv`}
        >
          Report
        </CsvButton>
        <CsvButton
          csv={() => api.client.GET('/v1/exports/leads.csv', { params: { query: dates }, parseAs: 'text' })}
          file="leads.csv"
        >
          Leads
        </CsvButton>
        <CsvButton
          csv={() => api.client.GET('/v1/exports/sales.csv', { params: { query: dates }, parseAs: 'text' })}
          file="sales.csv"
        >
          Sales
        </CsvButton>
        <CsvButton
          csv={() => api.client.GET('/v1/exports/ledger.csv', { params: { query: dates }, parseAs: 'text' })}
          file="ledger.csv"
        >
          Buyer ledger
        </CsvButton>
        <CsvButton
          csv={() => api.client.GET('/v1/exports/source-ledger.csv', { params: { query: dates }, parseAs: 'text' })}
          file="source-ledger.csv"
        >
          Source ledger
        </CsvButton>
      </div>
      <ErrorNote error={report.error} />
      {report.data ? <ReportView report={report.data} group={group} /> : !report.error ? <Loading /> : null}
      {report.data && (cursors.length > 1 || report.data.nextCursor) ? (
        <div class="more">
          <Button size="sm" disabled={cursors.length <= 1} onClick={() => setCursors((c) => c.slice(0, -1))}>
            Previous page
          </Button>
          <span class="muted"> page {cursors.length} </span>
          <Button
            size="sm"
            disabled={!report.data.nextCursor}
            onClick={() => setCursors((c) => [...c, report.data!.nextCursor])}
          >
            Next page
          </Button>
        </div>
      ) : null}
      <ErrorNote error={endpoints.error} />
      {endpoints.data ? <EndpointsPanel report={endpoints.data} /> : null}
      <ErrorNote error={refusals.error} />
      {refusals.data ? <RefusalsPanel report={refusals.data} /> : null}
    </div>
  );
}

/** Each buyer endpoint over the dates: what it was sent and how it answered. */
function EndpointsPanel({ report }: { report: EndpointReport }) {
  return (
    <Panel title="Buyer endpoints">
      {report.rows.length ? (
        <div class="table-wrap">
          <table class="table" data-testid="endpoint-report">
            <thead>
              <tr>
                <th>Buyer</th>
                <th class="num">Pings sent</th>
                <th class="num">Bids</th>
                <th class="num">Average bid</th>
                <th class="num">Posts</th>
                <th class="num">Accepted</th>
                <th class="num">Acceptance</th>
                <th class="num">Unanswered posts</th>
                <th class="num">Timeouts</th>
              </tr>
            </thead>
            <tbody>
              {report.rows.map((r) => (
                <tr key={r.buyerId} data-buyer-id={r.buyerId}>
                  <td>{r.name}</td>
                  <td class="num">{num(r.pings)}</td>
                  <td class="num">{num(r.bids)}</td>
                  <td class="num">{r.avgBid === null ? '–' : num(r.avgBid)}</td>
                  <td class="num">{num(r.posts)}</td>
                  <td class="num">{num(r.postsAccepted)}</td>
                  <td class="num">{r.postAcceptanceRate === null ? '–' : pct(r.postAcceptanceRate)}</td>
                  <td class="num">{num(r.postsUnknown)}</td>
                  <td class="num">{num(r.timeouts)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : (
        <Empty title="No buyer endpoint">Buyers whose own systems bid through ping-post show up here.</Empty>
      )}
      <p class="fine">
        A post resent with the same idempotency key is one post; test calls are not counted. Acceptance is posts
        accepted ÷ posts.
      </p>
    </Panel>
  );
}

/** Leads refused at intake and pings rejected over the dates, by reason, and each source's share. */
function RefusalsPanel({ report }: { report: RefusalReport }) {
  return (
    <div class="grid-2">
      <Panel title="Refused, by reason">
        <RefusalCountsTable counts={report.byReason} testId="refusal-reasons" />
      </Panel>
      <Panel title="Refused, by source">
        {report.bySource.length ? (
          <div class="table-wrap">
            <table class="table" data-testid="refusal-sources">
              <thead>
                <tr>
                  <th>Source</th>
                  <th class="num">Leads</th>
                  <th class="num">Pings</th>
                  <th>Reasons</th>
                </tr>
              </thead>
              <tbody>
                {report.bySource.map((s) => (
                  <tr key={s.sourceId} data-source-id={s.sourceId}>
                    <td>{s.sourceId === 'none' ? 'No source (agency)' : (s.name ?? shortId(s.sourceId))}</td>
                    <td class="num">{num(s.leads)}</td>
                    <td class="num">{num(s.pings)}</td>
                    <td class="muted">
                      {s.reasons.map((c) => `${REFUSAL_REASONS[c.reason]} ${c.leads + c.pings}`).join(' · ')}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : (
          <Empty title="Nothing refused in this range">No source had a lead or ping refused.</Empty>
        )}
      </Panel>
    </div>
  );
}

function ReportView({ report, group }: { report: Report; group: ReportGroup }) {
  const rows = report.rows;
  if (!rows.length) return <Empty title="Nothing in this range">No lead, sale or ping in these days.</Empty>;
  const sum = (k: 'leads' | 'sold' | 'revenue' | 'payouts' | 'margin' | 'returned' | 'pings' | 'pingsAccepted') =>
    rows.reduce((a, r) => a + r[k], 0);
  const leads = sum('leads');
  const sold = sum('sold');
  const pings = sum('pings');
  const labelled = rows.map((r) => ({ r, label: rowLabel(r, group) }));
  return (
    <>
      <div class="stat-grid">
        <Tile label="Leads" value={num(leads)} sub={`${num(sold)} sold · ${num(sum('returned'))} returned`} />
        <Tile label="Fill rate" value={pct(leads ? sold / leads : NaN)} sub="sold ÷ leads" />
        <Tile label="Revenue" value={num(sum('revenue'))} sub="charges less refunds" />
        <Tile label="Payouts" value={num(sum('payouts'))} sub="to sources, less reversals" />
        <Tile
          label="Margin"
          value={num(sum('margin'))}
          sub={pings ? `${num(pings)} pings, ${pct(sum('pingsAccepted') / pings)} accepted` : 'revenue − payouts'}
        />
      </div>
      <div class="grid-2">
        <ChartCard title={`Revenue, payouts and margin per ${group}`} sub="credits">
          <GroupedBars
            series={[
              { name: 'Revenue', color: '#6366f1' },
              { name: 'Payouts', color: '#f59e0b' },
              { name: 'Margin', color: '#10b981' },
            ]}
            rows={labelled.map(({ r, label }) => ({ label, values: [r.revenue, r.payouts, Math.max(0, r.margin)] }))}
          />
        </ChartCard>
        <ChartCard title={`Fill rate per ${group}`} sub="sold ÷ leads">
          <BarChart
            color="#10b981"
            max={1}
            rows={labelled.map(({ r, label }) => ({
              label,
              value: r.fillRate ?? 0,
              text: r.fillRate === null ? '–' : pct(r.fillRate),
              sub: `${r.sold}/${r.leads} leads`,
            }))}
          />
        </ChartCard>
      </div>
      <Panel title={`Per ${group}`}>
        <div class="table-wrap">
          <table class="table" data-testid="report-table">
            <thead>
              <tr>
                <th>{GROUPS.find((g) => g.id === group)!.label}</th>
                <th class="num">Leads</th>
                <th class="num">Offered</th>
                <th class="num">Sold</th>
                <th class="num">Unsold</th>
                <th class="num">Returned</th>
                <th class="num">Revenue</th>
                <th class="num">Payouts</th>
                <th class="num">Margin</th>
                <th class="num">Fill rate</th>
                <th class="num">Time to claim</th>
                <th class="num">Pings (accepted)</th>
              </tr>
            </thead>
            <tbody>
              {labelled.map(({ r, label }) => (
                <tr key={r.key} data-key={r.key}>
                  <td>{label}</td>
                  <td class="num">{num(r.leads)}</td>
                  <td class="num">{num(r.offered)}</td>
                  <td class="num">{num(r.sold)}</td>
                  <td class="num">{num(r.unsold)}</td>
                  <td class="num">{num(r.returned)}</td>
                  <td class="num">{num(r.revenue)}</td>
                  <td class="num">{num(r.payouts)}</td>
                  <td class={`num ${r.margin < 0 ? 'neg' : ''}`}>{num(r.margin)}</td>
                  <td class="num">{r.fillRate === null ? '–' : pct(r.fillRate)}</td>
                  <td class="num">{r.avgSecondsToClaim === null ? '–' : duration(r.avgSecondsToClaim * 1000)}</td>
                  <td class="num">
                    {num(r.pings)} ({num(r.pingsAccepted)})
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <p class="fine">
          Totals and charts cover this page of {rows.length} {rows.length === 1 ? 'group' : 'groups'}; the report CSV
          holds every group.
        </p>
      </Panel>
    </>
  );
}

function Tile({ label, value, sub }: { label: string; value: string; sub?: string }) {
  return (
    <div class="stat">
      <div class="stat-label">{label}</div>
      <div class="stat-value">{value}</div>
      {sub ? <div class="stat-sub">{sub}</div> : null}
    </div>
  );
}
