/**
 * Old histories still replay: every saved history under test/fixtures/histories
 * runs against the current workflow code. A nondeterministic change (an
 * activity added, removed or reordered without patching) fails here.
 */
import fs from 'node:fs';
import path from 'node:path';

import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';

import { HISTORIES_DIR } from '../helpers/histories';
import { workflowBundle } from '../helpers/temporal';

// Replay workers log their start and stop at INFO; only problems matter here.
try {
  Runtime.install({ logger: new DefaultLogger('WARN') });
} catch {
  /* installed by an earlier test file */
}

const files = fs.existsSync(HISTORIES_DIR) ? fs.readdirSync(HISTORIES_DIR).filter((f) => f.endsWith('.json')) : [];

const REPRESENTATIVE_RUNS = [
  'ping-post-won',
  'expired-fallback-won',
  'expired-fallback-won.child',
  'push-round-robin',
  'shared-two-winners',
  'manual-review-assign',
  'highest-bid-auction',
];

/** Paths only the lean lifecycle has (#22: buyers' own systems in the auction), each behind its patch. */
const LEAN_ONLY_RUNS = ['ping-tree-won', 'highest-bid-endpoints-won'];

/** Small histories (#26): the route, the sale and the claim's answer with ids and the values the workflow decides on. */
const SMALL_HISTORY_RUNS = ['first-claim-small-history'];

test('the replay fixtures cover the representative runs, as the lean lifecycle ran them and as the first one (v1-) did', () => {
  const names = files.map((f) => f.replace(/\.json$/, ''));
  expect(names).toEqual(expect.arrayContaining([...REPRESENTATIVE_RUNS, ...REPRESENTATIVE_RUNS.map((n) => `v1-${n}`)]));
  expect(names).toEqual(expect.arrayContaining([...LEAN_ONLY_RUNS, ...SMALL_HISTORY_RUNS]));
});

test.each(files)('%s replays against the current workflow code', async (file) => {
  const history = historyFromJSON(JSON.parse(fs.readFileSync(path.join(HISTORIES_DIR, file), 'utf8')));
  await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, file);
});
