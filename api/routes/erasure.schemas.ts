/**
 * The zod schemas of api/routes/erasure.ts, kept beside it: one person's erasure request (#23 item 6). The phone
 * number or email goes in and never comes out: a request is shown by its kind, counts and time.
 */
import { z } from 'zod';

import { SUPPRESSION_KINDS } from '../../domain/types';
import { Id, IsoTime, list, Nullable, text } from '../schema-blocks';

export const ErasureRequestCreate = z
  .object({
    value: text(254).describe(
      "the person's phone number (any format; without a country code it is read in the agency's `phoneCountry`) or email address",
    ),
    suppress: z
      .boolean()
      .optional()
      .describe("also put the person on the agency's do_not_contact list (stored as a keyed HMAC); default false"),
  })
  .strict();

export const ErasureRequestView = z.object({
  id: Id,
  kind: z.enum(SUPPRESSION_KINDS).describe('whether the person was named by phone or by email'),
  leads: z.number().int().describe("the person's leads erased"),
  counts: z
    .record(z.string(), z.number().int())
    .describe('rows erased per table (leads, offer_events, endpoint_calls, delivery_attempts…)'),
  suppressed: z.boolean().describe('the person was put on the do_not_contact list'),
  requestedBy: z.string().describe('who asked, as shown at the time'),
  requestedByUserId: Nullable(Id),
  at: IsoTime,
});

/** The answers these routes document (their `responses`), each a named component by its key. */
export const Responses = {
  ErasureRequest: z.object({ request: ErasureRequestView }),
  ErasureRequests: list('requests', ErasureRequestView),
};
