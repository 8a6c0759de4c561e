/**
 * Delivery channels after a win. The dashboard channel is the buyer's own
 * feed and "my leads": the lead is there the moment the sale commits, so
 * delivering it records the fact on the timeline.
 */
import { eq } from 'drizzle-orm';
import { assignments, deliveries } from '../db/schema';
import { appendEvents } from '../db/timeline';
import type { DeliveryChannel } from '../domain/types';
import type { ActivityDeps } from './deps';

export function deliveryActivities({ db }: ActivityDeps) {
  return {
    /** The channels a sale goes out on (the dashboard always). */
    async deliveryChannels(input: { assignmentId: string }): Promise<DeliveryChannel[]> {
      const [a] = await db.select().from(assignments).where(eq(assignments.id, input.assignmentId));
      return a ? ['dashboard'] : [];
    },

    async deliverToDashboard(input: { assignmentId: string }): Promise<void> {
      const [a] = await db.select().from(assignments).where(eq(assignments.id, input.assignmentId));
      if (!a) throw new Error(`assignment ${input.assignmentId} not found`);
      await db.transaction(async (tx) => {
        const inserted = await tx
          .insert(deliveries)
          .values({ assignmentId: a.id, channel: 'dashboard', status: 'delivered', attempts: 1, deliveredAt: new Date() })
          .onConflictDoNothing()
          .returning({ id: deliveries.id });
        if (inserted.length) {
          await appendEvents(tx, [{ leadId: a.leadId, offerId: a.offerId, type: 'delivered', buyerId: a.buyerId, data: { channel: 'dashboard', assignmentId: a.id } }]);
        }
      });
    },
  };
}
