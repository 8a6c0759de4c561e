/**
 * Replay fixtures: histories of representative runs, saved as JSON (the
 * format of `temporal workflow show --output json`) and replayed against the
 * current workflow code by test/workflows/replay.test.ts, so a change that
 * breaks determinism fails CI.
 *
 * Record them again with `LW_RECORD_HISTORIES=1 npm test -- test/workflows`
 * only when a deliberate, versioned change makes old histories obsolete.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';

import { ensureTemporalCli } from '../../temporal/dev-server';

export const HISTORIES_DIR = path.resolve(__dirname, '../fixtures/histories');

/** Saves a finished workflow's history under `name` when recording is switched on. */
export async function recordHistory(client: Client, workflowId: string, name: string): Promise<void> {
  if (process.env.LW_RECORD_HISTORIES !== '1') return;
  const handle = client.workflow.getHandle(workflowId);
  await handle.result().catch(() => undefined);
  // The CLI writes the canonical JSON form (the SDK's historyToJSON trips over two protobufjs copies in this tree).
  const cli = await ensureTemporalCli();
  const json = execFileSync(
    cli,
    ['workflow', 'show', '--output', 'json', '--address', process.env.TEMPORAL_ADDRESS!, '--workflow-id', workflowId],
    {
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  fs.mkdirSync(HISTORIES_DIR, { recursive: true });
  fs.writeFileSync(path.join(HISTORIES_DIR, `${name}.json`), json);
}

/**
 * A finished workflow's history as Temporal stores, sends and replays it: the proto-encoded History. Its `length` is
 * the history's size (a workflow task carries it; #26), and its bytes hold every payload as the data converter wrote
 * it (JSON), so a value absent from them is absent from the history.
 */
export async function encodedHistory(client: Client, workflowId: string): Promise<Buffer> {
  const handle = client.workflow.getHandle(workflowId);
  await handle.result().catch(() => undefined);
  return Buffer.from(temporal.api.history.v1.History.encode(await handle.fetchHistory()).finish());
}
