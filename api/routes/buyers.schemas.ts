/**
 * The zod schemas of api/routes/buyers.ts, kept beside it (buyers: their
 * settings (hours, pauses, filters, alerts, delivery), keys, credits, ledger,
 * stats and change history). Shapes several route modules share are in
 * api/schemas.ts, the building blocks in api/schema-blocks.ts.
 */
import { z } from 'zod';

import { isValidTimeZone } from '../../domain/caps';
import { isFilterField } from '../../domain/filters';
import { scheduleProblems, WEEKDAYS } from '../../domain/schedule';
import { PHONE_TYPES, WEBHOOK_PAYLOAD_VERSIONS } from '../../domain/types';
import {
  Credits,
  Email,
  HttpUrl,
  Id,
  int,
  IsoTime,
  list,
  Nullable,
  recordKey,
  RESERVED_KEYS,
  ServiceLineKey,
  State,
  StatusCounts,
  text,
  Zip,
} from '../schema-blocks';
import {
  AlertChannelSchema,
  BuyerStatusSchema,
  CapsSchema,
  ChangeActorSchema,
  FilterMatchSchema,
  LedgerEntryKindSchema,
  PageQuery,
  PhoneFormatSchema,
} from '../schemas';
import { AuditActionSchema, AuditActorView } from './audit.schemas';

const MappingPath = z
  .string()
  .regex(/^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$/, 'a dotted path of the payload, e.g. "lead.phone"')
  .max(200)
  .refine((p) => !p.split('.').some((k) => RESERVED_KEYS.has(k)), { message: 'is a reserved name' });
export const FieldMappingSchema = z
  .object({
    rename: z
      .record(MappingPath, recordKey(100))
      .refine((r) => Object.keys(r).length <= 100, { message: 'at most 100 renames' })
      .optional(),
    static: z
      .record(recordKey(100), z.union([text(1000, 0), z.number().finite(), z.boolean()]))
      .refine((r) => Object.keys(r).length <= 100, { message: 'at most 100 static values' })
      .optional(),
    omit: z.array(MappingPath).max(100).optional(),
  })
  .strict()
  .describe(
    'how the webhook JSON is shaped: rename payload paths (e.g. {"lead.phone": "phone_number"}), add static values, omit paths',
  );
const PhoneTo = z.string().regex(/^\+?[1-9]\d{6,14}$/, 'a phone number in E.164 form, e.g. +15125550100');
export const DeliverySchema = z
  .object({
    webhookUrl: HttpUrl.optional(),
    email: Email.optional(),
    fieldMapping: FieldMappingSchema.optional(),
    smsTo: PhoneTo.optional().describe('SMS channel: the number the provider texts'),
    voiceTo: PhoneTo.optional().describe('voice channel: the number the provider calls'),
    phoneFormat: PhoneFormatSchema.optional().describe(
      "the lead's phone number in deliveries: `as_sent` (default, what the source sent) or `e164` (normalised at intake)",
    ),
    payloadVersion: z
      .union(WEBHOOK_PAYLOAD_VERSIONS.map((v) => z.literal(v)))
      .optional()
      .describe(
        'the shape of its webhook bodies: 1 (default, the first shape: the event beside its fields) or 2 (`{type, timestamp, data}` for every event type; the OpenAPI `webhooks` section)',
      ),
  })
  .strict();
const TimeZone = text(64).refine((tz) => isValidTimeZone(tz), { message: 'not a known IANA time zone' });
const HHMM = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$|^24:00$/, 'a time "HH:MM" (24-hour; "24:00" ends the day)');
const TimeRangeSchema = z.object({ from: HHMM, to: HHMM }).strict();
export const WeeklyScheduleSchema = z
  .object(
    Object.fromEntries(WEEKDAYS.map((d) => [d, z.array(TimeRangeSchema).max(12).optional()])) as Record<
      (typeof WEEKDAYS)[number],
      z.ZodOptional<z.ZodArray<typeof TimeRangeSchema>>
    >,
  )
  .strict()
  .superRefine((s, ctx) => {
    for (const [path, message] of scheduleProblems(s))
      ctx.addIssue({ code: 'custom', path: path.split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : p)), message });
  })
  .describe(
    'hours of operation per weekday (mon…sun) on the buyer\'s wall clock, e.g. {"mon":[{"from":"08:00","to":"17:00"}]}; a day absent is closed',
  );
const Instant = z.iso.datetime({ offset: true });
export const PauseSchema = z
  .object({
    from: Instant.optional().describe('default: now'),
    until: Instant.describe('back at this instant'),
    note: text(200).optional(),
  })
  .strict()
  .refine((p) => !p.from || Date.parse(p.from) < Date.parse(p.until), {
    message: '"until" must be after "from"',
    path: ['until'],
  });
const FilterField = text(120).refine((f) => isFilterField(f), {
  message: 'not a lead field (a field name, "phoneType", or "answers.<question>")',
});
const FilterScalar = z.union([text(1000, 0), z.number().finite(), z.boolean()]);
const FilterRuleSchema = z.discriminatedUnion('op', [
  z.object({ field: FilterField, op: z.literal('equals'), value: FilterScalar }).strict(),
  z.object({ field: FilterField, op: z.literal('in'), values: z.array(FilterScalar).min(1).max(1000) }).strict(),
  z.object({ field: FilterField, op: z.literal('not_in'), values: z.array(FilterScalar).min(1).max(1000) }).strict(),
  z
    .object({
      field: FilterField,
      op: z.literal('range'),
      min: z.number().finite().optional(),
      max: z.number().finite().optional(),
    })
    .strict()
    .refine((r) => r.min !== undefined || r.max !== undefined, {
      message: 'a range needs min, max or both',
      path: ['min'],
    })
    .refine((r) => r.min === undefined || r.max === undefined || r.min <= r.max, {
      message: 'min must not exceed max',
      path: ['max'],
    }),
  z.object({ field: FilterField, op: z.literal('present') }).strict(),
  z.object({ field: FilterField, op: z.literal('absent') }).strict(),
]);
export const LeadFiltersSchema = z
  .object({
    match: FilterMatchSchema.describe('all: every rule must pass; any: one suffices'),
    rules: z.array(FilterRuleSchema).max(50),
  })
  .strict()
  .superRefine((f, ctx) => {
    // A rule on the phone's type names types the metadata knows, so a typo cannot silently refuse every lead.
    f.rules.forEach((r, i) => {
      if (r.field !== 'phoneType') return;
      const values = r.op === 'equals' ? [r.value] : r.op === 'in' || r.op === 'not_in' ? r.values : [];
      values.forEach((v, j) => {
        if (!(PHONE_TYPES as readonly unknown[]).includes(v))
          ctx.addIssue({
            code: 'custom',
            path: r.op === 'equals' ? ['rules', i, 'value'] : ['rules', i, 'values', j],
            message: `not a phone type (one of ${PHONE_TYPES.join(', ')})`,
          });
      });
    });
  })
  .describe(
    "lead filters: rules on lead fields, the phone number's type (`phoneType`: mobile, fixed_line, fixed_line_or_mobile, voip, toll_free…) or qualification answers (equals, in, not_in, range, present, absent)",
  );
export const AlertSettingsSchema = z
  .object({
    channels: z
      .array(AlertChannelSchema)
      .max(4)
      .optional()
      .describe('channels alerts go out on (offer alerts and the low-balance alert); none: no alerts'),
    minPrice: Credits.optional().describe('offer alerts only for leads at this price or more'),
    quietHours: z
      .object({ from: HHMM, to: HHMM })
      .strict()
      .optional()
      .describe("no offer alerts between these wall-clock times (buyer's zone); may span midnight"),
  })
  .strict();
/** The buyer-side settings, the same for the agency (PATCH /v1/buyers/:id) and the buyer itself (PATCH /v1/me). */
export const buyerSideFields = {
  timeZone: TimeZone.nullable().optional().describe("zone of the schedule and quiet hours; null: the agency's"),
  schedule: WeeklyScheduleSchema.nullable().optional().describe('null: always open'),
  pauses: z
    .array(PauseSchema)
    .max(50)
    .optional()
    .describe('pauses with an end ("back Monday 8:00"); replaces the list'),
  filters: LeadFiltersSchema.nullable().optional().describe('null: every lead'),
  alerts: AlertSettingsSchema.optional(),
  lowBalanceThreshold: Credits.nullable()
    .optional()
    .describe('one alert when the balance drops below this; null: none'),
};
export const buyerFields = {
  name: text(200),
  serviceLines: z.array(ServiceLineKey).max(100),
  zipCodes: z.array(Zip).max(10_000),
  states: z.array(State).max(60),
  caps: CapsSchema,
  delivery: DeliverySchema,
  status: BuyerStatusSchema,
};
export const BuyerCreate = z
  .object({
    name: buyerFields.name,
    serviceLines: buyerFields.serviceLines,
    zipCodes: buyerFields.zipCodes.optional(),
    states: buyerFields.states.optional(),
    caps: buyerFields.caps.optional(),
    delivery: buyerFields.delivery.optional(),
    status: buyerFields.status.optional(),
    ...buyerSideFields,
  })
  .strict();
export const BuyerPatch = z
  .object({
    name: buyerFields.name.optional(),
    status: buyerFields.status.optional(),
    pauseReason: text(500).nullable().optional(),
    serviceLines: buyerFields.serviceLines.optional(),
    zipCodes: buyerFields.zipCodes.optional(),
    states: buyerFields.states.optional(),
    caps: buyerFields.caps.optional(),
    delivery: buyerFields.delivery.optional(),
    ...buyerSideFields,
  })
  .strict();
export const BuyerStatsQuery = z
  .object({
    days: z.coerce.number().int().min(1).max(365).default(30).describe('the period: the last N days (default 30)'),
  })
  .strict();
export const BuyersQuery = PageQuery.extend({
  status: BuyerStatusSchema.optional(),
  endpoint: z
    .enum(['set', 'none'])
    .optional()
    .describe('only the buyers with an endpoint for outbound ping-post (set), or only those without one (none)'),
}).strict();
export const CreditsCreate = z
  .object({
    amount: int(1, 100_000_000).describe('credits to add'),
    reference: text(200).optional().describe('e.g. an invoice number'),
  })
  .strict();
export const KeyCreate = z
  .object({ revokeExisting: z.boolean().optional().describe("revoke the buyer's other keys (rotation)") })
  .strict();
export const WebhookSecretRotate = z
  .object({
    overlapSeconds: int(0, 7 * 86_400)
      .optional()
      .describe(
        'how long the previous secret keeps signing beside the new one (a second v1 signature); default 86400, 0 = stops at once',
      ),
  })
  .strict();
export const BuyerView = z.object({
  id: Id,
  name: z.string(),
  status: BuyerStatusSchema,
  pauseReason: Nullable(z.string()),
  serviceLines: z.array(z.string()),
  zipCodes: z.array(z.string()),
  states: z.array(z.string()),
  caps: CapsSchema,
  delivery: DeliverySchema,
  balance: z.number().int(),
  pausedBy: Nullable(ChangeActorSchema),
  consecutiveDeliveryFailures: z.number().int(),
  webhookPausedAt: Nullable(IsoTime).describe(
    'set when the endpoint answered 410 Gone: no webhook is sent until delivery is changed (PATCH)',
  ),
  webhookPauseReason: Nullable(z.string()),
  timeZone: Nullable(z.string()).describe("the zone of its schedule and quiet hours; null: the agency's"),
  schedule: Nullable(WeeklyScheduleSchema),
  pauses: z.array(PauseSchema),
  filters: Nullable(LeadFiltersSchema),
  alerts: AlertSettingsSchema,
  lowBalanceThreshold: Nullable(z.number().int()),
  lowBalance: z.boolean().describe('the balance is below the low-balance threshold'),
  availability: z
    .object({
      open: z.boolean(),
      opensAt: Nullable(IsoTime).describe('when closed: when it opens again (null: never)'),
      why: Nullable(z.enum(['schedule', 'pause'])),
    })
    .describe('whether it takes leads now, by its hours and pauses'),
  createdAt: IsoTime,
  updatedAt: IsoTime,
});
export const LedgerEntryView = z.object({
  id: Id,
  kind: LedgerEntryKindSchema,
  amount: z.number().int(),
  balanceAfter: z.number().int(),
  reference: Nullable(z.string()),
  leadId: Nullable(Id),
  offerId: Nullable(Id),
  createdAt: IsoTime,
});
export const BuyerChangeView = z.object({
  id: Id,
  buyerId: Id,
  actor: ChangeActorSchema.describe('the side that acted: admin (the agency), buyer, system'),
  by: AuditActorView,
  action: AuditActionSchema,
  changes: z.record(z.string(), z.object({ from: z.unknown(), to: z.unknown() })),
  note: Nullable(z.string()),
  createdAt: IsoTime,
});
const DistributionView = z.object({
  count: z.number().int(),
  min: Nullable(z.number()),
  p50: Nullable(z.number()),
  p90: Nullable(z.number()),
  p99: Nullable(z.number()),
  max: Nullable(z.number()),
  buckets: z.array(z.object({ le: Nullable(z.number()), count: z.number().int() })),
});
export const BuyerStatsView = z.object({
  buyerId: Id,
  since: IsoTime,
  offers: z.object({
    targeted: z.number().int(),
    viewed: z.number().int(),
    claimed: z.number().int(),
    bid: z.number().int(),
    viewedButIgnored: z.number().int(),
  }),
  claims: z.object({
    attempts: z.number().int(),
    won: z.number().int(),
    lost: z.number().int(),
    failed: z.number().int(),
    byReason: z.record(z.string(), z.number().int()),
  }),
  claimLatencyMs: DistributionView.describe('offer opened → first claim attempt (or bid), per offer'),
  deliveries: z.object({
    delivered: z.number().int(),
    failed: z.number().int(),
    successRate: Nullable(z.number()),
    byChannel: z.record(z.string(), z.object({ delivered: z.number().int(), failed: z.number().int() })),
  }),
  pipeline: z
    .object({
      bought: z.number().int(),
      byStatus: StatusCounts,
      closeRate: Nullable(z.number()).describe('won_job ÷ leads bought in the period'),
      jobValue: z.number().int().describe('sum of job values marked won_job'),
      byCampaign: z.record(
        z.string(),
        z.object({
          bought: z.number().int(),
          won: z.number().int(),
          lost: z.number().int(),
          closeRate: Nullable(z.number()),
        }),
      ),
    })
    .describe("what became of the leads it bought (the buyer's pipeline status)"),
});

/** The answers these routes document (their `responses`), each a named component by its key. */
export const Responses = {
  BuyerCreated: z.object({
    buyer: BuyerView,
    apiKey: z.string().describe('shown once'),
    webhookSecret: z
      .string()
      .describe('whsec_…: signs its webhooks per Standard Webhooks; shown once, rotate to see a new one'),
  }),
  WebhookSecret: z.object({
    webhookSecret: z.string().describe('shown once'),
    previousSecretUntil: Nullable(IsoTime).describe('until then the previous secret signs too (a second v1 signature)'),
  }),
  BuyerChanges: list('changes', BuyerChangeView),
  BuyerStats: BuyerStatsView,
  Buyer: z.object({ buyer: BuyerView }),
  Buyers: list('buyers', BuyerView),
  KeyCreated: z.object({ apiKey: z.string().describe('shown once'), revoked: z.number().int() }),
  Credits: z.object({ balance: z.number().int(), entry: LedgerEntryView }),
  Ledger: list('entries', LedgerEntryView),
};
