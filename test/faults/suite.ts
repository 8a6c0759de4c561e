/**
 * One fault stack per test file (test/faults/harness.ts) in the topology asked for, with a database
 * handle and a Temporal client on it, and `run()`: a scenario (scenario.ts) that must end with no
 * violation, real traffic and some sales. Shared by faults.test.ts, cluster.test.ts and the cluster
 * smoke test.
 */
import { Client, Connection } from '@temporalio/client';
import type { Pool } from 'pg';

import { type Database, openDatabase } from '../../db/connection';
import { sleep, type Stack, startStack, type Topology } from './harness';
import {
  type FaultContext,
  type FaultResult,
  runScenario,
  type ScenarioOptions,
  type ScenarioReport,
} from './scenario';

const log = (m: string) => process.stdout.write(`${m}\n`);

const BASE: Pick<ScenarioOptions, 'traffic' | 'beforeMs' | 'afterMs'> = {
  traffic: { leadsPerSecond: 1.5, claimProbability: 0.4, pollMs: 300 },
  beforeMs: 6_000,
  afterMs: 6_000,
};

export interface FaultSuite {
  readonly stack: Stack;
  readonly database: Database;
  readonly pool: Pool;
  readonly temporal: Client;
  run(
    opts: Omit<ScenarioOptions, 'traffic' | 'beforeMs' | 'afterMs'> & Partial<ScenarioOptions>,
  ): Promise<ScenarioReport>;
}

/**
 * Registers beforeAll/afterAll; `topology` defaults to LW_FAULTS_TOPOLOGY (harness.ts); `env`, asked for when the
 * stack starts, is extra environment for the product's processes.
 */
export function faultSuite(opts: { topology?: Topology; env?: () => NodeJS.ProcessEnv } = {}): FaultSuite {
  let stack: Stack | undefined;
  let database: Database | undefined;
  let connection: Connection | undefined;
  let temporal: Client | undefined;
  const need = <T>(v: T | undefined): T => {
    if (v === undefined) throw new Error('the fault stack is not up (beforeAll failed?)');
    return v;
  };

  beforeAll(async () => {
    const url = process.env.TEST_DATABASE_URL;
    if (!url) throw new Error('TEST_DATABASE_URL is not set: run through jest (test/setup/global-setup.ts)');
    stack = await startStack({ databaseUrl: url, log, topology: opts.topology, env: opts.env?.() });
    database = await openDatabase({ url, poolSize: 4 });
    connection = await Connection.connect({ address: stack.temporal.address });
    temporal = new Client({ connection });
  });

  afterAll(async () => {
    await connection?.close();
    await stack?.close();
    await database?.close();
  });

  return {
    get stack() {
      return need(stack);
    },
    get database() {
      return need(database);
    },
    get pool() {
      return need(database).raw as Pool;
    },
    get temporal() {
      return need(temporal);
    },
    async run(scenario) {
      const report = await runScenario(need(stack), need(database), need(temporal), { ...BASE, ...scenario }, log);
      expect(report.violations).toEqual([]);
      expect(report.traffic.leadsAccepted).toBeGreaterThan(10);
      expect(report.counts.assignments).toBeGreaterThan(0);
      return report;
    },
  };
}

/** The fault "Postgres cut for `ms`": every proxied connection dropped (Temporal's too, in the cluster), new ones refused. */
export function databaseCut(ms: number, description: string): (ctx: FaultContext) => Promise<FaultResult> {
  return async ({ stack }) => {
    const proxies = Object.values(stack.proxies).filter((p) => p !== undefined);
    const dropped = () => proxies.reduce((n, p) => n + p.stats.dropped, 0);
    const before = dropped();
    const t = Date.now();
    await stack.cutDatabase();
    await sleep(ms);
    await stack.restoreDatabase();
    const restoredAt = Date.now();
    return {
      faults: 1,
      description,
      outageMs: restoredAt - t,
      restoredAt,
      notes: { connectionsDropped: dropped() - before },
    };
  };
}
