/**
 * `npm run replay`: replays lead workflows against the current workflow code
 * and prints what happened to the lead, Temporal history beside the database.
 *
 *   npm run replay -- <leadId | workflowId>        every workflow of the lead (LeadId search attribute), from TEMPORAL_ADDRESS
 *   npm run replay -- --file history.json [more…]  histories saved with `temporal workflow show --output json`
 *   npm run replay -- --query "<visibility query>" many at once, before a deploy (no timeline)
 *   npm run replay -- --retirable                  the open workflows that still need the v1 branch (ops/retirable.ts)
 *
 * Options: --all (show workflow-task events too), --no-db (history only), --json.
 * The database is DATABASE_URL, or PGlite in LW_DATA_DIR (default .data; PGlite
 * is single-process: stop `npm start` first or point LW_DATA_DIR at a copy).
 *
 * Exit codes: 0 every history replayed deterministically; 1 nondeterminism (or
 * another replay failure), which is printed with the workflow it hit; 2 usage
 * or connection errors.
 *
 * Linking history and database: every timeline event is shown under the
 * history event that wrote it. An event links to the completion of the nearest
 * activity of the kind that writes such events (openOffer → targeted/excluded,
 * postAndCharge → claim_attempted/won/claim_failed, closeOffer → lost/expired…)
 * whose run (scheduled … completed) contains its time; events the API wrote
 * itself (viewed, claims refused from the database) stand alone, marked `api`.
 */
import fs from 'node:fs';
import path from 'node:path';

import { Client, Connection } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { type History, historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { type ReplayResult, Worker } from '@temporalio/worker';

import { loadConfig } from '../bin/runtime';
import { withRunningStack } from '../bin/stack';
import { openDatabase } from '../db/connection';
import { type LeadRecords, leadRecords } from '../db/leads';
import type { TimelineEvent } from '../db/offers';
import { parseWorkflowId } from '../domain/ids';
import { commandLine, UsageError } from '../lib/cli';
import { installTemporalRuntime } from '../observability/temporal';
import { leadWorkflowHandle } from '../temporal/calls';
import { connectionOptions } from '../temporal/connection';
import { openWorkflowsNeedingV1, type RetirementBlocker } from './retirable';

// ─── history ─────────────────────────────────────────────────────────────────

type Payloads = { payloads?: unknown[] | null } | null | undefined;
type Attrs = Record<string, unknown>;
type Proto = Record<string, unknown>;

export interface HistoryRow {
  workflowId: string;
  eventId: number;
  atMs: number;
  /** e.g. ActivityTaskCompleted */
  type: string;
  text: string;
  activityType?: string;
  /** For a completed or failed activity (or a local activity's marker): when it was scheduled. */
  scheduledMs?: number;
  /** When the activity's work ended (a local activity completes before its marker is written). */
  doneMs?: number;
  /** Workflow task bookkeeping, hidden unless --all. */
  noise: boolean;
}

const toNumber = (v: unknown): number =>
  v && typeof v === 'object' && 'toNumber' in v ? (v as { toNumber(): number }).toNumber() : Number(v ?? 0);
const tsMs = (ts: unknown): number => {
  const t = (ts ?? {}) as { seconds?: unknown; nanos?: unknown };
  return toNumber(t.seconds) * 1000 + Math.floor(toNumber(t.nanos) / 1e6);
};
const durationText = (d: unknown): string => {
  const ms = tsMs(d);
  return ms >= 1000 ? `${ms / 1000}s` : `${ms}ms`;
};

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;
/** Ids shortened to 8 characters: the timeline is for reading; full ids are in the header. */
export const shortIds = (s: string): string => s.replace(UUID, (id) => `${id.slice(0, 8)}…`);

/** A compact one-line summary of decoded payloads. */
export function summarize(payloads: Payloads, max = 140): string {
  const list = payloads?.payloads ?? [];
  if (!list.length) return '';
  const values = list.map((p) => {
    try {
      return defaultPayloadConverter.fromPayload(p as never);
    } catch {
      return '<undecodable>';
    }
  });
  const text = shortIds(JSON.stringify(values.length === 1 ? values[0] : values) ?? '');
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function decodeFirst(payloads: Payloads): unknown {
  const p = payloads?.payloads?.[0];
  if (!p) return undefined;
  try {
    return defaultPayloadConverter.fromPayload(p as never);
  } catch {
    return undefined;
  }
}

const NOISE = new Set(['WorkflowTaskScheduled', 'WorkflowTaskStarted', 'WorkflowTaskCompleted', 'ActivityTaskStarted']);

/** Every event of a history as a readable row (type, time, what it carried). */
export function historyRows(history: History, workflowId: string): HistoryRow[] {
  const scheduled = new Map<number, { type: string; atMs: number }>();
  const rows: HistoryRow[] = [];
  for (const e of (history.events ?? []) as Proto[]) {
    const key = Object.keys(e).find((k) => k.endsWith('EventAttributes') && e[k]);
    const a = (key ? e[key] : {}) as Attrs;
    const type = key ? key.replace(/EventAttributes$/, '').replace(/^./, (c) => c.toUpperCase()) : 'Unknown';
    const eventId = toNumber(e.eventId);
    const atMs = tsMs(e.eventTime);
    const row: HistoryRow = { workflowId, eventId, atMs, type, text: type, noise: NOISE.has(type) };
    const get = (o: unknown, ...p: string[]): unknown =>
      p.reduce<unknown>((x, k) => (x && typeof x === 'object' ? (x as Attrs)[k] : undefined), o);
    switch (type) {
      case 'WorkflowExecutionStarted':
        row.text = `started ${String(get(a, 'workflowType', 'name'))} ${summarize(a.input as Payloads)}`;
        break;
      case 'WorkflowExecutionCompleted':
        row.text = `completed → ${summarize(a.result as Payloads)}`;
        break;
      case 'WorkflowExecutionFailed':
        row.text = `FAILED: ${String(get(a, 'failure', 'message'))}`;
        break;
      case 'WorkflowExecutionTerminated':
        row.text = `TERMINATED: ${String(a.reason ?? '')}`;
        break;
      case 'ActivityTaskScheduled': {
        const name = String(get(a, 'activityType', 'name'));
        scheduled.set(eventId, { type: name, atMs });
        row.activityType = name;
        row.text = `activity ${name} scheduled ${summarize(a.input as Payloads)}`;
        break;
      }
      case 'ActivityTaskStarted': {
        const s = scheduled.get(toNumber(a.scheduledEventId));
        row.activityType = s?.type;
        row.text = `activity ${s?.type ?? '?'} started (attempt ${toNumber(a.attempt)})`;
        break;
      }
      case 'ActivityTaskCompleted':
      case 'ActivityTaskFailed':
      case 'ActivityTaskTimedOut':
      case 'ActivityTaskCanceled': {
        const s = scheduled.get(toNumber(a.scheduledEventId));
        row.activityType = s?.type;
        row.scheduledMs = s?.atMs;
        const took = s ? ` in ${atMs - s.atMs} ms` : '';
        row.text =
          type === 'ActivityTaskCompleted'
            ? `activity ${s?.type ?? '?'} completed${took} → ${summarize(a.result as Payloads)}`
            : `activity ${s?.type ?? '?'} ${type.replace('ActivityTask', '').toLowerCase()}${took}: ${String(get(a, 'failure', 'message') ?? '')}`;
        break;
      }
      case 'MarkerRecorded': {
        // The lean lifecycle's database steps are local activities: their record is a marker, not activity events.
        const name = String(a.markerName);
        const details = (a.details ?? {}) as Record<string, Payloads>;
        if (name === 'core_local_activity') {
          const data = decodeFirst(details.data) as
            | { activity_type?: string; attempt?: number; original_schedule_time?: unknown; complete_time?: unknown }
            | undefined;
          const scheduledMs = data?.original_schedule_time ? tsMs(data.original_schedule_time as never) : atMs;
          const doneMs = data?.complete_time ? tsMs(data.complete_time as never) : atMs;
          row.activityType = data?.activity_type;
          row.scheduledMs = scheduledMs;
          row.doneMs = doneMs;
          const failure = get(details, 'failure');
          row.text = `local activity ${data?.activity_type ?? '?'} ${failure ? 'failed' : 'completed'} in ${Math.max(0, doneMs - scheduledMs)} ms (attempt ${data?.attempt ?? 1}) → ${summarize(details.result)}`;
        } else if (name === 'core_patch') {
          const patch = decodeFirst(details['patch-data']) as { id?: string } | undefined;
          row.text = `patch ${patch?.id ?? '?'}`;
        } else row.text = `marker ${name}`;
        break;
      }
      case 'TimerStarted':
        row.text = `timer ${String(a.timerId)} started (${durationText(a.startToFireTimeout)})`;
        break;
      case 'TimerFired':
        row.text = `timer ${String(a.timerId)} fired`;
        break;
      case 'TimerCanceled':
        row.text = `timer ${String(a.timerId)} cancelled`;
        break;
      case 'WorkflowExecutionUpdateAccepted':
        row.text = `update ${String(get(a, 'acceptedRequest', 'input', 'name'))} accepted ${summarize(get(a, 'acceptedRequest', 'input', 'args') as Payloads)}`;
        break;
      case 'WorkflowExecutionUpdateCompleted': {
        const failure = get(a, 'outcome', 'failure', 'message');
        row.text = `update ${shortIds(String(get(a, 'meta', 'updateId')))} completed → ${failure ? `failure: ${String(failure)}` : summarize(get(a, 'outcome', 'success') as Payloads)}`;
        break;
      }
      case 'WorkflowExecutionSignaled':
        row.text = `signal ${String(a.signalName)} ${summarize(a.input as Payloads)}`;
        break;
      case 'StartChildWorkflowExecutionInitiated':
        row.text = `child ${String(get(a, 'workflowType', 'name'))} ${String(a.workflowId)} starting ${summarize(a.input as Payloads)}`;
        break;
      case 'ChildWorkflowExecutionStarted':
        row.text = `child ${String(get(a, 'workflowExecution', 'workflowId'))} started`;
        break;
      case 'ChildWorkflowExecutionCompleted':
        row.text = `child ${String(get(a, 'workflowExecution', 'workflowId'))} completed → ${summarize(a.result as Payloads)}`;
        break;
      case 'ChildWorkflowExecutionFailed':
        row.text = `child ${String(get(a, 'workflowExecution', 'workflowId'))} FAILED: ${String(get(a, 'failure', 'message'))}`;
        break;
      default:
        break;
    }
    rows.push(row);
  }
  return rows;
}

/** The workflow id a history belongs to is not in the history itself; a started event's input names the lead. */
export function leadIdOfHistory(history: History): string | null {
  const first = (history.events ?? [])[0] as Proto | undefined;
  const input = decodeFirst((first?.workflowExecutionStartedEventAttributes as Attrs | undefined)?.input as Payloads);
  const leadId = input && typeof input === 'object' ? (input as { leadId?: unknown }).leadId : undefined;
  return typeof leadId === 'string' ? leadId : null;
}

// ─── replay ──────────────────────────────────────────────────────────────────

export interface NamedHistory {
  workflowId: string;
  history: History;
}

export interface ReplayOutcome {
  workflowId: string;
  runId: string;
  ok: boolean;
  error?: string;
  nondeterminism?: boolean;
}

/** Replays histories against the current workflow code (bundled from workflows/, or a prebuilt bundle). */
export async function replayHistories(
  histories: AsyncIterable<NamedHistory> | Iterable<NamedHistory>,
  opts: { workflowBundle?: { code: string } } = {},
): Promise<ReplayOutcome[]> {
  const options = opts.workflowBundle
    ? { workflowBundle: opts.workflowBundle }
    : { workflowsPath: require.resolve('../workflows') };
  const out: ReplayOutcome[] = [];
  for await (const r of Worker.runReplayHistories(
    { ...options, replayName: 'leadwire-replay' },
    histories as never,
  ) as AsyncIterable<ReplayResult>) {
    out.push({
      workflowId: r.workflowId,
      runId: r.runId,
      ok: !r.error,
      ...(r.error ? { error: r.error.message, nondeterminism: r.error.name === 'DeterminismViolationError' } : {}),
    });
  }
  return out;
}

// ─── the timeline beside the history ─────────────────────────────────────────

/**
 * Which activity writes which timeline events (others are the API's own). A
 * sale also records the dashboard delivery, and closes the offer (`lost` for
 * the others) when it fills the last place.
 */
const WRITERS: Record<string, RegExp> = {
  routeAndOpen: /^(targeted|excluded)$/,
  openOffer: /^(targeted|excluded)$/,
  postAndCharge: /^(claim_attempted|claim_failed|won|delivered|lost)$/,
  pushAssign: /^(claim_attempted|claim_failed|won|delivered|lost|expired)$/,
  assignDirect: /^(assigned|claim_attempted|claim_failed|won|delivered|lost)$/,
  closeOffer: /^(lost|expired|cancelled)$/,
  recordEvents: /^(claim_attempted|claim_failed|fell_through|reoffered|bid\w*)$/,
  setLeadStatus: /^(manual_review|rejected)$/,
  recordDeliveryFailure: /^(delivery_failed|buyer_paused|paused)$/,
};
const writes = (activity: string, type: string): boolean =>
  (WRITERS[activity]?.test(type) ?? false) || (/^deliver/.test(activity) && /^deliver/.test(type));

/** Links each timeline event to the activity completion that wrote it (index into rows), or -1. */
export function linkEvents(rows: HistoryRow[], events: TimelineEvent[]): number[] {
  return events.map((ev) => {
    const at = Date.parse(ev.at);
    let best = -1;
    let bestDistance = Infinity;
    rows.forEach((r, i) => {
      const completed = r.type === 'ActivityTaskCompleted' || (r.type === 'MarkerRecorded' && r.doneMs !== undefined);
      if (!completed || !r.activityType || r.scheduledMs === undefined) return;
      if (!writes(r.activityType, ev.type)) return;
      const doneMs = r.doneMs ?? r.atMs;
      // Workflow-stamped times come a little before the scheduling; database times fall inside the run.
      if (at < r.scheduledMs - 2_000 || at > doneMs + 1_000) return;
      const distance = Math.abs(doneMs - at);
      if (distance < bestDistance) [best, bestDistance] = [i, distance];
    });
    return best;
  });
}

const describeEvent = (e: TimelineEvent): string =>
  shortIds(
    [
      e.type,
      e.buyerId ? `buyer ${e.buyerId}` : '',
      e.reason ? `(${e.reason})` : '',
      e.data && Object.keys(e.data).length ? summarizeData(e.data) : '',
    ]
      .filter(Boolean)
      .join(' '),
  );
function summarizeData(data: Record<string, unknown>): string {
  const { snapshot: _snapshot, ...rest } = data;
  const text = JSON.stringify(rest);
  return text === '{}' ? '' : text.length > 100 ? `${text.slice(0, 99)}…` : text;
}

// ─── printing ────────────────────────────────────────────────────────────────

const clock = (ms: number) => new Date(ms).toISOString().slice(11, 23);

export function renderRecords(r: LeadRecords): string[] {
  const out: string[] = [];
  const l = r.lead;
  out.push(`Lead ${l.id}  status ${l.status}${l.statusReason ? ` (${l.statusReason})` : ''}`);
  out.push(
    `  agency ${l.agencyId}  campaign ${l.campaignId}  workflow ${l.workflowId}  created ${l.createdAt.toISOString()}`,
  );
  for (const o of r.offers) {
    const ts = r.targets.filter((t) => t.offerId === o.id);
    const excluded = ts.filter((t) => !t.eligible);
    const reasons = Object.entries(
      excluded.reduce<Record<string, number>>((m, t) => ((m[t.reason ?? '?'] = (m[t.reason ?? '?'] ?? 0) + 1), m), {}),
    )
      .map(([k, n]) => `${k} ${n}`)
      .join(', ');
    out.push(
      `  offer ${o.id} (${o.kind}, depth ${o.depth}, price ${o.price}, maxWinners ${o.maxWinners}) ${o.status}${o.closeReason ? ` (${o.closeReason})` : ''}` +
        `  opened ${o.openedAt.toISOString()} closes ${o.closesAt.toISOString()}`,
    );
    out.push(
      `    eligibility: ${ts.length - excluded.length} eligible, ${excluded.length} excluded${reasons ? ` (${reasons})` : ''}  workflow ${o.workflowId}`,
    );
    const claims = r.events.filter((e) => e.offerId === o.id && (e.type === 'won' || e.type === 'claim_failed'));
    for (const c of claims)
      out.push(`    claim by ${c.buyerId}: ${c.type === 'won' ? 'won' : `failed (${c.reason})`} at ${c.at}`);
  }
  for (const a of r.assignments) {
    const charge = r.ledger.find((e) => e.id === a.chargeEntryId);
    const ds = r.deliveries
      .filter((d) => d.assignmentId === a.id)
      .map((d) => `${d.channel} ${d.status}${d.attempts > 1 ? ` after ${d.attempts} attempts` : ''}`);
    out.push(
      `  assignment ${a.id} buyer ${a.buyerId} ${a.status}${a.exclusive ? ' exclusive' : ' shared'}: charged ${charge ? -charge.amount : '?'} ` +
        `(ledger ${a.chargeEntryId}, balance after ${charge?.balanceAfter ?? '?'})  deliveries: ${ds.join(', ') || 'none'}`,
    );
  }
  for (const e of r.ledger.filter((x) => x.kind !== 'charge'))
    out.push(`  ledger ${e.kind} ${e.amount} buyer ${e.buyerId} (${e.idempotencyKey})`);
  return out;
}

/** History rows (one column) with the database events each produced under it (the other). */
export function renderTimeline(rows: HistoryRow[], events: TimelineEvent[], opts: { all?: boolean } = {}): string[] {
  const links = linkEvents(rows, events);
  const byRow = new Map<number, TimelineEvent[]>();
  const loose: TimelineEvent[] = [];
  events.forEach((e, i) =>
    links[i]! >= 0 ? byRow.set(links[i]!, [...(byRow.get(links[i]!) ?? []), e]) : loose.push(e),
  );

  type Line = { atMs: number; order: number; text: string[] };
  const lines: Line[] = [];
  const width = 170;
  rows.forEach((r, i) => {
    const linked = byRow.get(i) ?? [];
    if (r.noise && !opts.all && !linked.length) return;
    const head = `${clock(r.atMs)}  ${shortIds(r.workflowId).padEnd(26)} #${String(r.eventId).padEnd(3)} ${r.text}`;
    const text = [head.length > width ? `${head.slice(0, width - 1)}…` : head];
    for (const e of linked) text.push(`${' '.repeat(14)}└─ db: ${describeEvent(e)}`);
    lines.push({ atMs: r.atMs, order: 0, text });
  });
  for (const e of loose)
    lines.push({
      atMs: Date.parse(e.at),
      order: 1,
      text: [`${clock(Date.parse(e.at))}  ${'(api / database only)'.padEnd(31)} └─ db: ${describeEvent(e)}`],
    });
  lines.sort((a, b) => a.atMs - b.atMs || a.order - b.order);
  return [
    `time (UTC)    workflow                   event  history  └─ the database rows it wrote`,
    ...lines.flatMap((l) => l.text),
  ];
}

// ─── CLI ─────────────────────────────────────────────────────────────────────

interface Args {
  target: string | null;
  files: string[];
  query: string | null;
  retirable: boolean;
  all: boolean;
  db: boolean;
  json: boolean;
}

const HELP = `Usage: npm run replay -- <leadId|workflowId> [--all] [--json]
       npm run replay -- --file history.json [--file …] [--no-db]
       npm run replay -- --query "<visibility query>"
       npm run replay -- --retirable [--json]

Replays a lead's workflow histories against today's workflow code (a non-determinism is a failure)
and prints its timeline beside the database's records (docs/operations.md#replay-a-lead). Exit 0:
every history replays; 1: one does not; 2: bad arguments or the replay could not run.

Options:
  --file PATH      a saved history (repeatable; further paths after the first argument count too)
  --query Q        every workflow a visibility query finds
  --retirable      list the open workflows that still need the v1 lifecycle (exit 1 while any is open)
  --all            every timeline event, not only the lead's story
  --no-db          replay only; do not read the database
  --json           the result as JSON
  --help           this text`;

function parseReplayArgs(argv: string[]): Args {
  return commandLine(
    {
      help: HELP,
      positionals: true,
      options: {
        file: { type: 'string', multiple: true },
        query: { type: 'string' },
        retirable: { type: 'boolean' },
        all: { type: 'boolean' },
        'no-db': { type: 'boolean' },
        json: { type: 'boolean' },
      },
    },
    argv,
    ({ values, positionals }) => {
      const [target = null, ...more] = positionals;
      const args: Args = {
        target,
        files: [...((values.file as string[] | undefined) ?? []), ...more],
        query: (values.query as string | undefined) ?? null,
        retirable: values.retirable === true,
        all: values.all === true,
        db: values['no-db'] !== true,
        json: values.json === true,
      };
      if (!args.target && !args.files.length && args.query === null && !args.retirable)
        throw new UsageError('say what to replay: a lead id, --file, --query or --retirable');
      return args;
    },
  );
}

async function connect(): Promise<{ client: Client; close(): Promise<void> }> {
  const { config } = withRunningStack(loadConfig());
  if (!config.temporal)
    throw new Error(
      'TEMPORAL_ADDRESS is not set and no running `npm start` was found in LW_DATA_DIR (or replay a saved history with --file)',
    );
  const connection = await Connection.connect(connectionOptions(config.temporal));
  return { client: new Client({ connection, namespace: config.temporalNamespace }), close: () => connection.close() };
}

/** The lead's workflows (root and fallback children) with their histories. */
export async function fetchLeadHistories(
  client: Client,
  target: string,
): Promise<{ leadId: string | null; histories: NamedHistory[] }> {
  // A lead's id, or the id of any of its workflows (its own, an offer child, a returned lead's re-offer).
  const parsed = parseWorkflowId(target);
  const leadId =
    parsed && parsed.kind !== 'redelivery' ? parsed.leadId : /^[0-9a-f-]{36}$/i.test(target) ? target : null;
  const ids: { workflowId: string; runId?: string }[] = [];
  if (leadId) {
    for await (const wf of client.workflow.list({ query: `LeadId = '${leadId}'` }))
      ids.push({ workflowId: wf.workflowId, runId: wf.runId });
    if (!ids.length) ids.push({ workflowId: leadWorkflowHandle(client, leadId).workflowId }); // visibility may lag a freshly started workflow
  } else {
    ids.push({ workflowId: target });
  }
  ids.sort((a, b) => a.workflowId.length - b.workflowId.length || a.workflowId.localeCompare(b.workflowId));
  const histories: NamedHistory[] = [];
  for (const id of ids)
    histories.push({
      workflowId: id.workflowId,
      history: await client.workflow.getHandle(id.workflowId, id.runId).fetchHistory(),
    });
  return { leadId: leadId ?? (histories[0] ? leadIdOfHistory(histories[0].history) : null), histories };
}

function printOutcomes(outcomes: ReplayOutcome[]): void {
  for (const o of outcomes) {
    if (o.ok)
      console.log(`  ✓ ${o.workflowId} (run ${o.runId}) replays deterministically against the current workflow code`);
    else
      console.log(
        `  ✗ ${o.workflowId} (run ${o.runId}) ${o.nondeterminism ? 'NONDETERMINISM' : 'REPLAY FAILED'}: ${o.error}`,
      );
  }
}

/** `--retirable`: 0 when no open workflow needs the v1 branch (it can be retired), 1 while some do (listed). */
function reportRetirable(blockers: RetirementBlocker[], json: boolean): number {
  if (json) console.log(JSON.stringify({ retirable: blockers.length === 0, needV1: blockers }, null, 2));
  else if (!blockers.length)
    console.log(
      'No open workflow needs the v1 lifecycle: it can be retired (docs/operations.md, "Upgrading workflow code").',
    );
  else {
    console.log(`${blockers.length} open workflow(s) still need the v1 lifecycle (workflows/v1):`);
    for (const b of blockers) console.log(`  ${b.workflowId}`);
  }
  return blockers.length ? 1 : 0;
}

export async function main(argv: string[]): Promise<number> {
  const args = parseReplayArgs(argv);
  installTemporalRuntime();

  if (args.retirable) {
    const { client, close } = await connect();
    try {
      return reportRetirable(await openWorkflowsNeedingV1(client), args.json);
    } finally {
      await close();
    }
  }

  if (args.query !== null) {
    const { client, close } = await connect();
    try {
      const outcomes = await replayHistories(
        client.workflow.list({ query: args.query }).intoHistories() as AsyncIterable<NamedHistory>,
      );
      const bad = outcomes.filter((o) => !o.ok);
      if (args.json) console.log(JSON.stringify({ replayed: outcomes.length, failed: bad.length, outcomes }, null, 2));
      else {
        console.log(
          `Replayed ${outcomes.length} workflow(s) matching ${JSON.stringify(args.query)} against the current workflow code:`,
        );
        printOutcomes(bad.length ? bad : outcomes.slice(0, 20));
        if (!bad.length && outcomes.length > 20) console.log(`  … and ${outcomes.length - 20} more, all deterministic`);
        console.log(
          bad.length ? `${bad.length} of ${outcomes.length} failed.` : `All ${outcomes.length} deterministic.`,
        );
      }
      return bad.length ? 1 : 0;
    } finally {
      await close();
    }
  }

  let leadId: string | null = null;
  let histories: NamedHistory[] = [];
  if (args.files.length || !args.target) {
    const files = args.target ? [args.target, ...args.files] : args.files;
    histories = files.map((f) => ({
      workflowId: path.basename(f).replace(/\.json$/, ''),
      history: historyFromJSON(JSON.parse(fs.readFileSync(f, 'utf8'))),
    }));
    leadId = histories.map((h) => leadIdOfHistory(h.history)).find(Boolean) ?? null;
  } else {
    const { client, close } = await connect();
    try {
      ({ leadId, histories } = await fetchLeadHistories(client, args.target));
    } finally {
      await close();
    }
  }

  const outcomes = await replayHistories(histories);
  const rows = histories.flatMap((h) => historyRows(h.history, h.workflowId)).sort((a, b) => a.atMs - b.atMs);
  let records: LeadRecords | null = null;
  if (args.db && leadId) {
    const { config } = withRunningStack(loadConfig());
    const database = await openDatabase({
      url: config.databaseUrl,
      dataDir: path.join(config.dataDir, 'pglite'),
      migrate: false,
    });
    try {
      records = await leadRecords(database.db, leadId);
    } finally {
      await database.close();
    }
  }

  if (args.json) {
    console.log(JSON.stringify({ leadId, outcomes, history: rows, records }, null, 2));
  } else {
    console.log(`Replay of ${histories.length} workflow history(ies)${leadId ? ` of lead ${leadId}` : ''}:`);
    printOutcomes(outcomes);
    console.log('');
    if (records) console.log(renderRecords(records).join('\n'));
    else if (args.db && leadId) console.log(`Lead ${leadId} is not in this database (DATABASE_URL / LW_DATA_DIR).`);
    console.log('');
    console.log(renderTimeline(rows, records?.events ?? [], { all: args.all }).join('\n'));
  }
  return outcomes.every((o) => o.ok) ? 0 : 1;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exit(2);
    },
  );
}
