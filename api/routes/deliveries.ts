/**
 * A sale's deliveries, for the agency: every channel's state and every
 * attempt (status, latency, the answer's first bytes, the wait before the
 * next one), and **redeliver** – send a sale again on one channel, with the
 * same Standard Webhooks message id, through `redeliveryWorkflow` (its own
 * small workflow, so it works long after the lead's workflow finished).
 */
import { agencyAssignment } from '../../db/assignments';
import { buyerById } from '../../db/buyers';
import { listDeliveries, listDeliveryAttempts } from '../../db/deliveries';
import { appendEvents } from '../../db/offers';
import { messageIdOf } from '../../domain/delivery';
import { startRedelivery } from '../../temporal/calls';
import { notFound, Problem } from '../problem';
import { type AnyRoute, AUTH_ERRORS, BAD_INPUT, BODY_ERRORS, NOT_FOUND, route } from '../route';
import { IdParams } from '../schemas';
import type { ApiServices } from '../services';
import { deliveryAttemptView } from '../views';
import { RedeliverCreate, Responses } from './deliveries.schemas';

/** The buyer setting each sending channel needs. */
const CHANNEL_SETTING = { webhook: 'webhookUrl', email: 'email', sms: 'smsTo', voice: 'voiceTo' } as const;

async function loadAssignment(services: ApiServices, agencyId: string, id: string) {
  const a = await agencyAssignment(services.db, agencyId, id);
  if (!a) throw notFound('assignment');
  return a;
}

export const deliveryRoutes: AnyRoute[] = [
  route({
    method: 'get',
    path: '/v1/assignments/:id/deliveries',
    operationId: 'assignmentDeliveries',
    tag: 'Deliveries',
    summary:
      "A sale's deliveries: each channel's state and every attempt (status, latency, response snippet, next retry)",
    params: IdParams,
    responses: {
      200: { description: 'the deliveries and their attempts', schema: Responses.Deliveries },
      ...BAD_INPUT,
      ...NOT_FOUND,
      ...AUTH_ERRORS,
    },
    async handler({ principal, params, services }) {
      const a = await loadAssignment(services, principal.agencyId, params.id);
      const rows = await listDeliveries(services.db, a.id);
      const attempts = await listDeliveryAttempts(services.db, a.id);
      return {
        status: 200,
        body: {
          assignmentId: a.id,
          deliveries: rows.map((d) => ({
            channel: d.channel,
            status: d.status,
            attempts: d.attempts,
            lastError: d.lastError,
          })),
          attempts: attempts.map(deliveryAttemptView),
        },
      };
    },
  }),

  route({
    method: 'post',
    path: '/v1/assignments/:id/redeliver',
    operationId: 'redeliver',
    tag: 'Deliveries',
    summary:
      'Send a sale again on one channel (the same webhook-id, a fresh signature); answers at once, the attempts follow',
    description:
      'Runs even when the webhook endpoint is paused after a 410 (an explicit request). Each attempt is logged like the first delivery (`GET /v1/assignments/:id/deliveries`, `delivery_attempted` on the timeline).',
    params: IdParams,
    body: RedeliverCreate,
    responses: {
      202: { description: 'started', schema: Responses.RedeliveryStarted },
      409: { description: 'the buyer has no setting for that channel (`channel_not_configured`)' },
      ...BODY_ERRORS,
      ...NOT_FOUND,
      ...AUTH_ERRORS,
    },
    async handler({ principal, params, body, services }) {
      const a = await loadAssignment(services, principal.agencyId, params.id);
      const buyer = await buyerById(services.db, a.buyerId);
      if (!buyer?.delivery[CHANNEL_SETTING[body.channel]]) {
        throw new Problem(
          409,
          'channel_not_configured',
          `The buyer has no ${CHANNEL_SETTING[body.channel]} for the ${body.channel} channel.`,
          {
            errors: [{ in: 'body', path: 'channel', message: 'not configured for this buyer' }],
          },
        );
      }
      const { workflowId } = await startRedelivery(services.temporal, services.taskQueue, {
        assignmentId: a.id,
        channel: body.channel,
      });
      await appendEvents(services.db, [
        {
          leadId: a.leadId,
          offerId: a.offerId,
          type: 'redelivery_requested',
          buyerId: a.buyerId,
          reason: body.channel,
          data: { assignmentId: a.id, channel: body.channel, workflowId },
        },
      ]);
      return {
        status: 202,
        body: { assignmentId: a.id, channel: body.channel, workflowId, messageId: messageIdOf(a.id, body.channel) },
      };
    },
  }),
];
