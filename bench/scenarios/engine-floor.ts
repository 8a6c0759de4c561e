/**
 * (6) Engine floor: what the engine itself sustains on this machine, so
 *     Leadwire's throughput can be read against it. On the stack's own dev
 *     server, a worker with the Leadwire worker's settings
 *     (bench/processes/floor-worker.ts, its own process and task queue) runs
 *     a workflow that starts, runs ONE local activity (one single-row insert
 *     into a scratch table of the bench database) and completes
 *     (bench/floor/workflow.ts). Workflows are started open-loop at rising
 *     rates, each step judged by throughput's saturation rules
 *     (bench/lib/rates.ts). Reports the sustained rate and, when
 *     `throughput` ran earlier in the same run, Leadwire's sustained leads/s
 *     as a ratio to it.
 */
import crypto from 'node:crypto';
import path from 'node:path';

import { Client, Connection } from '@temporalio/client';
import type { Pool } from 'pg';

import { FLOOR_TABLE, FLOOR_TABLE_DDL } from '../floor/activities';
import type { engineFloorWorkflow } from '../floor/workflow';
import { nowMs, sleep } from '../lib/client';
import { climbRates, judgeStep, sendOpenLoop, type StepJudgement, sustained } from '../lib/rates';
import {
  cpuWindow,
  loadAverage,
  msPer,
  percentOfCore,
  type Proc,
  rssMb,
  spawnTs,
  stopProc,
  temporalRssMb,
} from '../lib/stack';
import { summarize, type Summary } from '../lib/stats';
import type { BenchContext, ScenarioResult } from './context';

interface FloorStep extends StepJudgement {
  offeredRate: number;
  seconds: number;
  sent: number;
  /** Workflows the server accepted (start answered). */
  started: number;
  /** Workflows whose activity committed its row. */
  completed: number;
  startErrors: number;
  /** From the start call: its answer, and the activity's commit (the workflow completes in the same task). */
  stages: { startAnswer: Summary; completed: Summary };
  /** The last workflow of the step: its status and history length (events). */
  lastWorkflow: { status: string; historyLength: number } | null;
  cpuPercent: Record<string, number>;
  /** CPU milliseconds per completed workflow, by process. */
  cpuMsPerWorkflow: Record<string, number>;
  rssMb: Record<string, number | null>;
  loadAverage: number[];
}

async function floorStep(
  ctx: BenchContext,
  temporal: Client,
  taskQueue: string,
  floorWorker: Proc,
  runTag: string,
  index: number,
  rate: number,
): Promise<FloorStep> {
  const pool = ctx.database.raw as Pool;
  const sentAt = new Map<string, number>();
  const startMs: number[] = [];
  let startErrors = 0;
  let n = 0;
  let lastId: string | null = null;
  const cpu = cpuWindow(ctx.stack, { floorWorker: floorWorker.pid });
  const seconds = ctx.sizes.stepSeconds;
  const loop = await sendOpenLoop(rate, seconds, async (at) => {
    const id = `engine-floor-${runTag}-${index}-${n++}`;
    try {
      await temporal.workflow.start<typeof engineFloorWorkflow>('engineFloorWorkflow', {
        taskQueue,
        workflowId: id,
        args: [id, index],
      });
      sentAt.set(id, at);
      startMs.push(nowMs() - at);
      lastId = id;
    } catch {
      startErrors++;
    }
  });
  // Drain: every started workflow's row written (or 30 s).
  const count = async () =>
    Number(
      (await pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${FLOOR_TABLE} WHERE step = $1`, [index])).rows[0]!.n,
    );
  const drainUntil = nowMs() + 30_000;
  while (nowMs() < drainUntil && (loop.outstanding() > 0 || (await count()) < sentAt.size)) await sleep(100);
  const cpuUsed = cpu.stopSeconds();

  const { rows } = await pool.query<{ id: string; done_at: Date }>(
    `SELECT id, done_at FROM ${FLOOR_TABLE} WHERE step = $1`,
    [index],
  );
  const done: number[] = [];
  let lastDone = loop.start;
  for (const r of rows) {
    const at = sentAt.get(r.id);
    if (at === undefined) continue;
    done.push(r.done_at.getTime() - at);
    lastDone = Math.max(lastDone, r.done_at.getTime());
  }
  const stages = { startAnswer: summarize(startMs), completed: summarize(done) };
  const judged = judgeStep(
    {
      rate,
      seconds,
      sent: loop.sent,
      accepted: sentAt.size,
      completed: done.length,
      intakeErrors: startErrors,
      start: loop.start,
      lastDone,
      p99: stages.completed.p99,
    },
    'workflows',
    'completed',
  );
  let lastWorkflow: FloorStep['lastWorkflow'] = null;
  if (lastId) {
    const d = await temporal.workflow.getHandle(lastId).describe();
    lastWorkflow = { status: d.status.name, historyLength: d.historyLength };
  }
  return {
    offeredRate: rate,
    seconds,
    sent: loop.sent,
    started: sentAt.size,
    completed: done.length,
    startErrors,
    stages,
    lastWorkflow,
    cpuPercent: percentOfCore(cpuUsed),
    cpuMsPerWorkflow: msPer(cpuUsed.cpu, done.length),
    rssMb: { floorWorker: rssMb(floorWorker.pid), temporal: temporalRssMb(ctx.stack) },
    loadAverage: loadAverage(),
    ...judged,
  };
}

/** The processes of the CPU table: Leadwire's per sold lead beside the floor's per workflow (its worker is `floorWorker`). */
const CPU_ROWS: { name: string; leadwire: string; floor: string }[] = [
  { name: 'API', leadwire: 'api', floor: 'api' },
  { name: 'worker', leadwire: 'worker', floor: 'floorWorker' },
  { name: 'Temporal', leadwire: 'temporal', floor: 'temporal' },
  { name: 'Postgres', leadwire: 'postgres_all', floor: 'postgres_all' },
  { name: 'load generator', leadwire: 'loadgen', floor: 'loadgen' },
];

interface CpuTable {
  /** Throughput's step and the floor's step the figures come from (offered rates). */
  leadwireRate: number | null;
  floorRate: number | null;
  rows: { process: string; perSoldLead: number | null; perFloorWorkflow: number | null }[];
}

/**
 * #26 item 5: CPU ms per sold lead by process (throughput's sustained step, else its first) beside the engine
 * floor's per workflow (its sustained step, else its first), in one table; the floor's API stands idle (its
 * figure is the idle cost) and its worker is the floor worker. The total sums the rows.
 */
function cpuTable(leadwire: { rate: number; ms: Record<string, number> } | null, floor: FloorStep | null): CpuTable {
  const rows = CPU_ROWS.map((r) => ({
    process: r.name,
    perSoldLead: leadwire?.ms[r.leadwire] ?? null,
    perFloorWorkflow: floor?.cpuMsPerWorkflow[r.floor] ?? null,
  }));
  const sum = (k: 'perSoldLead' | 'perFloorWorkflow') =>
    rows.every((r) => r[k] === null) ? null : Math.round(rows.reduce((n, r) => n + (r[k] ?? 0), 0) * 10) / 10;
  rows.push({ process: 'total', perSoldLead: sum('perSoldLead'), perFloorWorkflow: sum('perFloorWorkflow') });
  return { leadwireRate: leadwire?.rate ?? null, floorRate: floor?.offeredRate ?? null, rows };
}

function cpuTableText(t: CpuTable): string {
  const v = (n: number | null) => (n === null ? '–' : String(n));
  return [
    `| process | CPU ms per sold lead (throughput at ${v(t.leadwireRate)}/s) | CPU ms per floor workflow (at ${v(t.floorRate)}/s) |`,
    '| --- | --- | --- |',
    ...t.rows.map((r) => `| ${r.process} | ${v(r.perSoldLead)} | ${v(r.perFloorWorkflow)} |`),
  ].join('\n');
}

/**
 * `leadwireRate`: throughput's sustained leads/s in the same run (null when it did not run or sustained none);
 * `leadwireCpu`: its CPU ms per sold lead by process (null when it did not run).
 */
export async function engineFloor(
  ctx: BenchContext,
  leadwireRate: number | null,
  leadwireCpu: { rate: number; ms: Record<string, number> } | null = null,
): Promise<ScenarioResult> {
  await (ctx.database.raw as Pool).query(FLOOR_TABLE_DDL);
  const taskQueue = `${ctx.stack.taskQueue}-engine-floor`;
  const { proc: floorWorker } = await spawnTs(
    'floor worker',
    path.join('bench', 'processes', 'floor-worker.ts'),
    {
      DATABASE_URL: ctx.stack.databaseUrl,
      DATABASE_POOL_SIZE: '20',
      TEMPORAL_ADDRESS: ctx.stack.temporal.address,
      LW_FLOOR_TASK_QUEUE: taskQueue,
      LW_TEMPORAL_LOG_LEVEL: 'ERROR',
    },
    /^FLOOR READY$/,
  );
  const connection = await Connection.connect({ address: ctx.stack.temporal.address });
  const temporal = new Client({ connection });
  const runTag = crypto.randomUUID().slice(0, 8);
  let steps: FloorStep[];
  try {
    let index = 0;
    steps = await climbRates(ctx.sizes.floorRates, async (rate) => {
      if (floorWorker.child?.exitCode !== null)
        throw new Error(`the floor worker exited:\n${floorWorker.tail.join('\n')}`);
      const s = await floorStep(ctx, temporal, taskQueue, floorWorker, runTag, index++, rate);
      ctx.log(
        `engine floor ${rate}/s: achieved ${s.achievedRate}/s (${s.completed}/${s.sent}), completed p50 ${s.stages.completed.p50} p99 ${s.stages.completed.p99} ms, ` +
          `cpu ${JSON.stringify(s.cpuPercent)}${s.why ? `; saturated: ${s.why}` : ''}`,
      );
      return s;
    });
  } finally {
    await connection.close();
    await stopProc(floorWorker);
  }
  const { best, saturatedAt: sat } = sustained(steps);
  const floorRate = best?.achievedRate ?? null;
  const cpu = cpuTable(leadwireCpu, best ?? steps[0] ?? null);
  ctx.log(`CPU per item:\n${cpuTableText(cpu)}`);
  const leadwireToFloor =
    leadwireRate !== null && floorRate ? Math.round((leadwireRate / floorRate) * 100) / 100 : null;
  return {
    scenario: 'engine_floor',
    figures: { steps, sustainedRate: floorRate, leadwireSustainedRate: leadwireRate, leadwireToFloor, cpuTable: cpu },
    headline:
      `sustained ${best ? `${best.achievedRate} workflows/s at ${best.offeredRate}/s offered (completed p50 ${best.stages.completed.p50} p99 ${best.stages.completed.p99} ms, ${best.lastWorkflow?.historyLength ?? '?'} events)` : 'none'}; ` +
      (sat
        ? `saturates at ${sat.offeredRate}/s: ${sat.why}; CPU % of a core then: ${Object.entries(sat.cpuPercent)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')}`
        : `no saturation up to ${ctx.sizes.floorRates[ctx.sizes.floorRates.length - 1]}/s`) +
      `<br>Leadwire ÷ floor: ${leadwireToFloor === null ? 'n/a (throughput did not run in this run, or sustained none)' : `${leadwireRate} ÷ ${floorRate} = ${leadwireToFloor} (target ≥ 0.5)`}` +
      `<br>CPU ms, per sold lead (throughput at ${cpu.leadwireRate ?? '–'}/s) / per floor workflow (at ${cpu.floorRate ?? '–'}/s): ` +
      cpu.rows.map((r) => `${r.process} ${r.perSoldLead ?? '–'} / ${r.perFloorWorkflow ?? '–'}`).join(', ') +
      `<br>steps: ${steps.map((s) => `${s.offeredRate}→${s.achievedRate}/s`).join(', ')}`,
  };
}
