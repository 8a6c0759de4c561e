/**
 * Every call this project makes into its workflows from outside them, in one
 * module: starting a lead's workflow (intake, the stuck-leads job, a dispute's
 * re-offer, the tests) and a sale's redelivery, typed by the workflow
 * functions; the `claim`, `bid` and
 * `manualAction` Updates bounded in time, and the `cancelOffer` signal. The
 * workflow ids come from domain/ids.ts; the message definitions from
 * workflows/messages.ts. Callers never name a workflow type by string.
 */
import crypto from 'node:crypto';

import { type Client, WorkflowExecutionAlreadyStartedError, type WorkflowHandle } from '@temporalio/client';
import type { UpdateDefinition } from '@temporalio/common';

import { claimAttemptKey } from '../claims/vocabulary';
import { leadWorkflowId, redeliveryWorkflowId, returnReofferWorkflowId } from '../domain/ids';
import { rechargeWorkflowId } from '../domain/recharge';
import type * as workflows from '../workflows';
import {
  type BidRequest,
  type BidResult,
  bidUpdate,
  cancelOfferSignal,
  type ClaimRequest,
  type ClaimResult,
  claimUpdate,
  type ManualAction,
  type ManualActionResult,
  manualActionUpdate,
} from '../workflows/messages';
import type { RechargeInput } from '../workflows/recharge';
import type { RedeliveryInput } from '../workflows/redelivery';
import { leadSearchAttributes } from '../workflows/search-attributes';
import type { LeadWorkflowInput } from '../workflows/types';

type LeadWorkflow = typeof workflows.leadWorkflow;
/** The registered names (checked against the workflows' exports, so a rename fails to compile); ops/audit.ts's visibility query uses the lead's. */
export const LEAD_WORKFLOW = 'leadWorkflow' satisfies keyof typeof workflows;
const REDELIVERY_WORKFLOW = 'redeliveryWorkflow' satisfies keyof typeof workflows;
const RECHARGE_WORKFLOW = 'rechargeWorkflow' satisfies keyof typeof workflows;
/** The payments reconciliation (workflows/reconcile.ts), for the Schedule that runs it and the tests. */
export const RECONCILE_PAYMENTS_WORKFLOW = 'reconcilePaymentsWorkflow' satisfies keyof typeof workflows;

export interface LeadToRoute {
  id: string;
  agencyId: string;
  campaignId: string;
  /** Intake found the person suppressed (#23): straight to manual review. */
  reviewReason?: LeadWorkflowInput['reviewReason'];
}

/**
 * Starts a lead's routing workflow. Its id is the lead's business id and a
 * closed workflow's id is never reused (`REJECT_DUPLICATE`), so however often
 * this runs for a lead (intake retries, the stuck-leads job) the lead gets one auction.
 * `eager`: with a worker in this process (npm start; the client shares its
 * NativeConnection), the server hands the first workflow task straight back in
 * the start's answer, so route-and-open runs without a trip through matching.
 * `disputeId`: another run for the same lead, a returned lead's re-offer (its
 * id and its offer children's ids name the dispute).
 */
export async function startLeadWorkflow(
  client: Client,
  taskQueue: string,
  lead: LeadToRoute,
  opts: { eager?: boolean; disputeId?: string } = {},
): Promise<'started' | 'already_started'> {
  const run = opts.disputeId === undefined ? {} : { disputeId: opts.disputeId };
  try {
    await client.workflow.start<LeadWorkflow>(LEAD_WORKFLOW, {
      taskQueue,
      requestEagerStart: opts.eager ?? false,
      workflowId:
        run.disputeId === undefined ? leadWorkflowId(lead.id) : returnReofferWorkflowId(lead.id, run.disputeId),
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      args: [
        {
          leadId: lead.id,
          agencyId: lead.agencyId,
          campaignId: lead.campaignId,
          ...run,
          ...(lead.reviewReason ? { reviewReason: lead.reviewReason } : {}),
        },
      ],
      typedSearchAttributes: leadSearchAttributes(lead.id, lead.campaignId, lead.agencyId),
    });
    return 'started';
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return 'already_started';
    throw err;
  }
}

/** A returned lead's new auction (an approved dispute with re-offer): one per dispute, however often it is asked for. */
export async function startReofferWorkflow(
  client: Client,
  taskQueue: string,
  lead: LeadToRoute,
  disputeId: string,
): Promise<{ workflowId: string }> {
  await startLeadWorkflow(client, taskQueue, lead, { disputeId });
  return { workflowId: returnReofferWorkflowId(lead.id, disputeId) };
}

/** The handle of a lead's (first) workflow, typed by the workflow function. */
export function leadWorkflowHandle(client: Client, leadId: string): WorkflowHandle<LeadWorkflow> {
  return client.workflow.getHandle<LeadWorkflow>(leadWorkflowId(leadId));
}

/** Sends a sale again on one channel (`redeliveryWorkflow`): a new workflow each time, since the lead's may be long over. */
export async function startRedelivery(
  client: Client,
  taskQueue: string,
  input: RedeliveryInput,
): Promise<{ workflowId: string }> {
  const workflowId = redeliveryWorkflowId(input.assignmentId, input.channel, crypto.randomUUID());
  await client.workflow.start<typeof workflows.redeliveryWorkflow>(REDELIVERY_WORKFLOW, {
    taskQueue,
    workflowId,
    args: [input],
  });
  return { workflowId };
}

/**
 * Starts a buyer's auto-recharge (`rechargeWorkflow`, id `recharge-<buyerId>`), or joins the one in flight
 * (`USE_EXISTING`): one recharge at a time per buyer, a second request while one runs is absorbed. A closed run's id
 * is reused by the buyer's next recharge (`ALLOW_DUPLICATE`).
 */
export async function startRechargeWorkflow(
  client: Client,
  taskQueue: string,
  input: RechargeInput,
): Promise<WorkflowHandle<typeof workflows.rechargeWorkflow>> {
  return client.workflow.start<typeof workflows.rechargeWorkflow>(RECHARGE_WORKFLOW, {
    taskQueue,
    workflowId: rechargeWorkflowId(input.buyerId),
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    args: [input],
  });
}

// ─── Updates and signals, bounded in time ────────────────────────────────────

export class DeadlineExceeded extends Error {
  constructor() {
    super('the workflow did not answer in time');
    this.name = 'DeadlineExceeded';
  }
}

/** An Update a caller waits at most `timeoutMs` for: the gRPC call is cancelled when the deadline passes. */
async function executeUpdateWithin<Ret, Args extends [unknown, ...unknown[]]>(
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
    temporal.workflow
      .getHandle(workflowId)
      .executeUpdate(update, { args: options.args, ...(options.updateId ? { updateId: options.updateId } : {}) }),
  );
  call.catch(() => undefined); // when the deadline wins, the cancelled call's rejection is expected
  try {
    return await Promise.race([call, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** A claim on an offer (the `claim` Update); its id is derived from offer, buyer and requestId, so a retry joins the same attempt. */
export function executeClaim(
  temporal: Client,
  workflowId: string,
  request: ClaimRequest,
  timeoutMs: number,
): Promise<ClaimResult> {
  return executeUpdateWithin(temporal, workflowId, claimUpdate, {
    args: [request],
    updateId: claimAttemptKey(request.offerId, request.buyerId, request.requestId),
    timeoutMs,
  });
}

/** A sealed bid (the `bid` Update), its id derived like a claim's. */
export function executeBid(
  temporal: Client,
  workflowId: string,
  request: BidRequest,
  timeoutMs: number,
): Promise<BidResult> {
  return executeUpdateWithin(temporal, workflowId, bidUpdate, {
    args: [request],
    updateId: `bid:${request.offerId}:${request.buyerId}:${request.requestId}`,
    timeoutMs,
  });
}

/** An admin's decision on a lead in manual review (the `manualAction` Update). */
export function executeManualAction(
  temporal: Client,
  workflowId: string,
  action: ManualAction,
  timeoutMs: number,
): Promise<ManualActionResult> {
  return executeUpdateWithin(temporal, workflowId, manualActionUpdate, { args: [action], timeoutMs });
}

/** Asks an open offer's workflow to cancel it (the `cancelOffer` signal). */
export async function signalCancelOffer(
  temporal: Client,
  workflowId: string,
  offer: { offerId: string; reason: string },
): Promise<void> {
  await temporal.workflow.getHandle(workflowId).signal(cancelOfferSignal, offer);
}
