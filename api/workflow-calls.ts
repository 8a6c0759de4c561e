/**
 * Calls from the API into lead workflows, bounded in time: a client never
 * waits longer than the deadline, and the gRPC call is cancelled when it passes.
 */
import type { Client } from '@temporalio/client';
import type { UpdateDefinition } from '@temporalio/common';

export class DeadlineExceeded extends Error {
  constructor() {
    super('the workflow did not answer in time');
    this.name = 'DeadlineExceeded';
  }
}

export async function executeUpdateWithin<Ret, Args extends [unknown, ...unknown[]]>(
  temporal: Client,
  workflowId: string,
  update: UpdateDefinition<Ret, Args>,
  options: { args: Args; updateId?: string; timeoutMs: number },
): Promise<Ret> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new DeadlineExceeded());
    }, options.timeoutMs);
  });
  const call = temporal.withAbortSignal(controller.signal, () =>
    temporal.workflow.getHandle(workflowId).executeUpdate(update, { args: options.args, ...(options.updateId ? { updateId: options.updateId } : {}) }),
  );
  call.catch(() => undefined); // when the deadline wins, the cancelled call's rejection is expected
  try {
    return await Promise.race([call, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
