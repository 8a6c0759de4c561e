/**
 * The zod schemas of api/routes/me.ts, kept beside it (the caller's own view:
 * itself, its wallet, its won leads). Shapes several route modules share are
 * in api/schemas.ts, the building blocks in api/schema-blocks.ts.
 */
import { z } from 'zod';

import { Id, IsoTime, list, text } from '../schema-blocks';
import { AssignmentStatusSchema, CapsSchema, FullLead } from '../schemas';
import { AgencyView } from './agencies.schemas';
import {
  buyerFields,
  buyerSideFields,
  BuyerView,
  LedgerEntryView,
  Responses as BuyersResponses,
} from './buyers.schemas';
import { ConsentClaimView } from './consent.schemas';
import { SourceView } from './sources.schemas';

/** What a buyer may change about itself, within the agency's limits. */
export const MePatch = z
  .object({
    caps: CapsSchema.optional(),
    zipCodes: buyerFields.zipCodes.optional(),
    states: buyerFields.states.optional(),
    status: buyerFields.status
      .optional()
      .describe('pause or resume myself (a pause by the agency or the system is theirs to lift)'),
    pauseReason: text(500).nullable().optional(),
    ...buyerSideFields,
  })
  .strict();
export const WonLeadView = z.object({
  assignmentId: Id,
  offerId: Id,
  price: z.number().int(),
  status: AssignmentStatusSchema,
  wonAt: IsoTime,
  lead: FullLead,
  consentClaim: ConsentClaimView.optional().describe(
    "the consent certificate's claim for me (#23), when the campaign claims one: the provider's answer, or the flag",
  ),
});

/**
 * The answers these routes document (their `responses`), each a named
 * component by its key; one that another module owns is listed by
 * reference (still one component).
 */
export const Responses = {
  Me: z.object({
    kind: z.enum(['root', 'admin', 'buyer', 'source']),
    agency: AgencyView.optional(),
    buyer: BuyerView.optional(),
    source: SourceView.optional(),
  }),
  Wallet: z.object({ balance: z.number().int(), entries: z.array(LedgerEntryView).describe('the latest entries') }),
  WonLeads: list('leads', WonLeadView),
  Ledger: BuyersResponses.Ledger,
};
