/**
 * The supply side as both the agency console and the source portal show it:
 * a payout rule in words, a source's leads with their outcomes and payouts,
 * its ledger, the date range filter of the lists and exports, and the posting
 * spec (GET /v1/source/spec, GET /v1/sources/:id/spec) rendered for people:
 * the ping/post flow, the fields of each body, the refusals and a curl example
 * per allowed campaign; the refusals of leads and pings by reason (#23), as
 * the agency's report and the source's own page count them.
 */
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';

import type { TypedAnswer } from './api';
import { downloadCsv } from './download';
import { credits, dateTime, num, shortId } from './format';
import type {
  PayoutRule,
  PostingSpec,
  RefusalCount,
  RefusalReason,
  SourceLead,
  SourceLedgerEntry,
  SourceOutcome,
} from './types';
import { Badge, Button, Empty, Field, Panel, useAction } from './ui';

export function payoutText(rule: PayoutRule | Record<string, unknown>): string {
  const r = rule as { kind?: string; amount?: number; shareBps?: number };
  if (r.kind === 'fixed') return `${credits(r.amount ?? 0)} per sold lead`;
  if (r.kind === 'share') return `${(r.shareBps ?? 0) / 100}% of the sale price`;
  return '–';
}

const OUTCOME_TONE: Record<SourceOutcome, string> = { pending: 'info', sold: 'ok', unsold: 'muted', returned: 'warn' };

function OutcomeBadge({ outcome }: { outcome: SourceOutcome }) {
  return <Badge tone={OUTCOME_TONE[outcome]}>{outcome}</Badge>;
}

export function SourceLeadsTable({ leads, campaignName }: { leads: SourceLead[]; campaignName(id: string): string }) {
  if (!leads.length)
    return (
      <Empty title="No lead in this range">Leads posted with the source key show up here with their outcome.</Empty>
    );
  return (
    <div class="table-wrap">
      <table class="table" data-testid="source-leads">
        <thead>
          <tr>
            <th>Received</th>
            <th>Lead</th>
            <th>Campaign</th>
            <th>Sub id</th>
            <th>Outcome</th>
            <th class="num">Payout</th>
          </tr>
        </thead>
        <tbody>
          {leads.map((l) => (
            <tr key={l.id} data-lead-id={l.id}>
              <td>{dateTime(l.createdAt)}</td>
              <td>
                <code>{shortId(l.id)}</code>
              </td>
              <td>{campaignName(l.campaignId)}</td>
              <td class="muted">{l.subId ?? '–'}</td>
              <td>
                <OutcomeBadge outcome={l.outcome} />
              </td>
              <td class="num" data-testid="lead-payout">
                {num(l.payout)}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** A source ledger's entry kinds in words (the table is the buyer's ledger table: web/src/buyer/Wallet.tsx). */
export const NO_PAYOUT_YET = 'No entries yet: a payout is written when a lead of this source is sold.';
export const SOURCE_LEDGER_KINDS: Record<SourceLedgerEntry['kind'], string> = {
  payout: 'Payout',
  reversal: 'Reversal (return)',
  settlement: 'Settlement',
  adjustment: 'Adjustment',
};
/** The same kinds as the source reads them in its portal: a settlement is a payment it received. */
export const SOURCE_PORTAL_LEDGER_KINDS: Record<SourceLedgerEntry['kind'], string> = {
  ...SOURCE_LEDGER_KINDS,
  settlement: 'Paid to you (settlement)',
  adjustment: 'Adjustment by the agency',
};

/** Why a lead or a ping was refused, in words (the codes of the API's answers). */
export const REFUSAL_REASONS: Record<RefusalReason, string> = {
  invalid_phone: 'Invalid phone number',
  invalid_email: 'Email cannot receive mail',
  disposable_email: 'Disposable email address',
  suppressed: 'Suppressed (opt-out or Do-Not-Call)',
  duplicate_lead: 'Duplicate lead',
  consent_required: 'Consent evidence missing',
  campaign_paused: 'Campaign paused',
  source_paused: 'Source paused',
  post_contradicts_ping: 'Post contradicts its ping',
  no_eligible_buyer: 'No buyer would take it',
};

/** Refusals counted by reason: leads refused at intake and pings rejected. */
export function RefusalCountsTable({ counts, testId }: { counts: RefusalCount[]; testId: string }) {
  if (!counts.length) return <Empty title="Nothing refused in this range">Every lead and ping was taken.</Empty>;
  return (
    <div class="table-wrap">
      <table class="table" data-testid={testId}>
        <thead>
          <tr>
            <th>Reason</th>
            <th>Code</th>
            <th class="num">Leads</th>
            <th class="num">Pings</th>
          </tr>
        </thead>
        <tbody>
          {counts.map((c) => (
            <tr key={c.reason} data-reason={c.reason}>
              <td>{REFUSAL_REASONS[c.reason]}</td>
              <td>
                <code>{c.reason}</code>
              </td>
              <td class="num">{num(c.leads)}</td>
              <td class="num">{num(c.pings)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export interface Range {
  from: string;
  to: string;
}

/** The from/to day inputs (days in the agency time zone, both inclusive). */
export function RangeFields({ range, onChange }: { range: Range; onChange(r: Range): void }) {
  return (
    <>
      <Field label="From">
        <input
          type="date"
          name="from"
          value={range.from}
          onChange={(e) => onChange({ ...range, from: e.currentTarget.value })}
        />
      </Field>
      <Field label="To">
        <input
          type="date"
          name="to"
          value={range.to}
          onChange={(e) => onChange({ ...range, to: e.currentTarget.value })}
        />
      </Field>
    </>
  );
}

/** The set ends of a range, for a typed call's query (`{ ...rangeFilter(range) }`): an unset end is left out. */
export function rangeFilter(range: Range): { from?: string; to?: string } {
  return { ...(range.from ? { from: range.from } : {}), ...(range.to ? { to: range.to } : {}) };
}

/** A button that downloads one CSV export: `csv` makes the typed call (`parseAs: 'text'`). */
export function CsvButton({
  csv,
  file,
  children,
}: {
  csv: () => Promise<TypedAnswer<string>>;
  file: string;
  children: ComponentChildren;
}) {
  const [run, busy] = useAction(() => downloadCsv(csv(), file));
  return (
    <Button size="sm" busy={busy} onClick={() => void run()} data-testid={`csv-${file.replace(/\.csv$/, '')}`}>
      {children}
    </Button>
  );
}

// ─── the posting spec ────────────────────────────────────────────────────────

interface JsonSchema {
  type?: string | string[];
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
  format?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  additionalProperties?: JsonSchema | boolean;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  const?: unknown;
}

function typeOf(s: JsonSchema): string {
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(' | ');
  const alts = s.anyOf ?? s.oneOf;
  if (alts) return alts.map(typeOf).join(' | ');
  const t = Array.isArray(s.type) ? s.type.join(' | ') : (s.type ?? 'any');
  if (t === 'array' && s.items) return `${typeOf(s.items)}[]`;
  if (t === 'object' && !s.properties && s.additionalProperties && typeof s.additionalProperties === 'object')
    return `object of ${typeOf(s.additionalProperties)}`;
  return s.format ? `${t} (${s.format})` : t;
}

function limitsOf(s: JsonSchema): string {
  const out: string[] = [];
  if (s.minLength !== undefined || s.maxLength !== undefined)
    out.push(`${s.minLength ?? 0}–${s.maxLength ?? '…'} chars`);
  if (s.minimum !== undefined || s.maximum !== undefined) out.push(`${s.minimum ?? '…'}–${s.maximum ?? '…'}`);
  // A short pattern says something (`^[A-Za-z]{2}$`); a long one (a UUID, an e-mail, a timestamp) is noise next to its format.
  if (s.pattern && !s.format && s.pattern.length <= 40) out.push(`pattern ${s.pattern}`);
  return out.join(', ');
}

/** One row per field, nested objects flattened to dotted paths (`fields.zip`). */
function fieldRows(
  schema: JsonSchema,
  prefix = '',
): { path: string; type: string; required: boolean; about: string }[] {
  const rows: { path: string; type: string; required: boolean; about: string }[] = [];
  for (const [name, s] of Object.entries(schema.properties ?? {})) {
    const path = prefix ? `${prefix}.${name}` : name;
    const required = (schema.required ?? []).includes(name);
    const about = [s.description, limitsOf(s)].filter(Boolean).join(' · ');
    rows.push({ path, type: s.properties ? 'object' : typeOf(s), required, about });
    if (s.properties) rows.push(...fieldRows(s, path));
  }
  return rows;
}

function FieldTable({ schema, testId }: { schema: Record<string, unknown>; testId: string }) {
  const rows = fieldRows(schema as JsonSchema);
  return (
    <div class="table-wrap">
      <table class="table" data-testid={testId}>
        <thead>
          <tr>
            <th>Field</th>
            <th>Type</th>
            <th>Required</th>
            <th>Notes</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.path}>
              <td>
                <code>{r.path}</code>
              </td>
              <td class="muted">{r.type}</td>
              <td>{r.required ? <Badge tone="brand">required</Badge> : <span class="muted">optional</span>}</td>
              <td class="muted">{r.about}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function PostingSpecView({ spec }: { spec: PostingSpec }) {
  const [copied, setCopied] = useState<string | null>(null);
  return (
    <>
      <Panel title="How to send a lead">
        <ol class="spec-flow" data-testid="spec-flow">
          {spec.flow.map((step, i) => (
            <li key={i}>{step}</li>
          ))}
        </ol>
        <p class="fine">
          Every call carries the source key: <code>Authorization: Bearer $SOURCE_KEY</code>.
        </p>
      </Panel>
      <Panel title="Campaigns you may post into">
        {spec.campaigns.length === 0 ? (
          <Empty title="No campaign allowed yet">
            The agency allows campaigns for this source, each with its payout rule.
          </Empty>
        ) : (
          spec.campaigns.map((c) => (
            <div class="spec-campaign" key={c.campaignId} data-testid="spec-campaign">
              <h3>
                {c.name} <span class="muted">· pays {payoutText(c.payout)}</span>
              </h3>
              <p class="fine">
                campaignId <code>{c.campaignId}</code>
              </p>
              {c.curl.map((line, i) => (
                <div class="spec-curl" key={i}>
                  <pre data-testid="spec-curl">{line}</pre>
                  <Button
                    size="sm"
                    variant="ghost"
                    onClick={() =>
                      void navigator.clipboard?.writeText(line).then(() => setCopied(`${c.campaignId}:${i}`))
                    }
                  >
                    {copied === `${c.campaignId}:${i}` ? 'Copied' : 'Copy'}
                  </Button>
                </div>
              ))}
            </div>
          ))
        )}
      </Panel>
      <div class="grid-2">
        <Panel title={`1 · Ping: ${spec.ping.method} ${spec.ping.path}`}>
          <p class="muted">The non-identifying fields only (never the name, phone or email).</p>
          <FieldTable schema={spec.ping.body} testId="spec-ping-fields" />
        </Panel>
        <Panel title={`2 · Post: ${spec.post.method} ${spec.post.path}`}>
          <p class="muted">The full lead with the accepted ping's id, before it expires.</p>
          <FieldTable schema={spec.post.body} testId="spec-post-fields" />
        </Panel>
      </div>
      <Panel title="Refusals">
        <div class="table-wrap">
          <table class="table">
            <thead>
              <tr>
                <th>Code</th>
                <th class="num">HTTP status</th>
              </tr>
            </thead>
            <tbody>
              {Object.entries(spec.refusals).map(([code, status]) => (
                <tr key={code}>
                  <td>
                    <code>{code}</code>
                  </td>
                  <td class="num">{status}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </Panel>
    </>
  );
}
