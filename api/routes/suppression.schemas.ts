/**
 * The zod schemas of api/routes/suppression.ts, kept beside it: an agency's
 * suppression lists and the platform's Do-Not-Call lists (#23 item 3). A
 * number or address goes in and never comes out: entries are shown by list,
 * kind, source and time, never by value.
 */
import { z } from 'zod';

import { AGENCY_SUPPRESSION_LISTS, DNC_LISTS, SUPPRESSION_KINDS, SUPPRESSION_SOURCES } from '../../domain/types';
import { IsoTime, Nullable, State, text } from '../schema-blocks';

const AgencySuppressionListSchema = z
  .enum(AGENCY_SUPPRESSION_LISTS)
  .describe("one of the agency's lists: its own opt-outs, known litigators, people of leads returned as fraud");
const DncListSchema = z.enum(DNC_LISTS).describe("a platform list: the national registry, or one state's");
const SuppressionKindSchema = z.enum(SUPPRESSION_KINDS);
const SuppressionSourceSchema = z
  .enum(SUPPRESSION_SOURCES)
  .describe('how it got on the list: the API, a CSV upload, an approved fraud return');

const ContactValue = text(254).describe(
  "a phone number (any format; without a country code it is read in the agency's `phoneCountry`) or an email address",
);

export const SuppressionAdd = z
  .object({
    list: AgencySuppressionListSchema,
    value: ContactValue,
    note: text(500, 0).optional().describe('why (e.g. "asked on the phone 2026-05-01"); never the value itself'),
  })
  .strict();

export const SuppressionSearch = z.object({ value: ContactValue }).strict();

export const SuppressionUploadQuery = z
  .object({
    list: AgencySuppressionListSchema,
    note: text(500, 0).optional().describe('kept with every entry the upload adds'),
  })
  .strict();

export const DncUploadQuery = z
  .object({
    list: DncListSchema,
    state: State.optional().describe('state_dnc: the state whose list this is (two letters)'),
  })
  .strict();

const EntryId = z
  .string()
  .regex(/^[a-z_]+\.[0-9a-f]{64}$/, 'an entry id as search or add answered it')
  .describe("the entry's id (its list and its HMAC; opaque)");
export const EntryParams = z.object({ id: EntryId }).strict();

export const SuppressionEntryView = z.object({
  id: EntryId,
  list: AgencySuppressionListSchema,
  kind: SuppressionKindSchema,
  source: SuppressionSourceSchema,
  note: Nullable(z.string()),
  addedAt: IsoTime,
});

const LoadReportView = z.object({
  lines: z.number().int().describe('lines read, the header included'),
  added: z.number().int().describe('new entries'),
  alreadyListed: z.number().int().describe('valid lines already on the list (or repeated in the file)'),
  rejected: z.number().int().describe('lines refused'),
  errors: z
    .array(z.object({ line: z.number().int(), message: z.string() }))
    .describe('the first 100 refused lines with their line numbers (1 is the first line)'),
  header: z.boolean().describe('the first line was a header and was skipped'),
});

const ListCount = z.object({ list: z.string(), count: z.number().int() });

export const Responses = {
  SuppressionLists: z.object({
    lists: z
      .array(ListCount.extend({ list: AgencySuppressionListSchema }))
      .describe("the agency's lists, each with its size"),
    platform: z
      .array(ListCount)
      .describe("the platform's Do-Not-Call lists, each with its size (`state_dnc:TX` for a state's)"),
  }),
  SuppressionAdded: z.object({
    entry: SuppressionEntryView,
    added: z.boolean().describe('false: it was already on the list (the entry as it was)'),
  }),
  SuppressionFound: z.object({
    kind: SuppressionKindSchema,
    suppressed: z.boolean().describe('on at least one list'),
    entries: z.array(SuppressionEntryView).describe("the agency's lists that hold it"),
    dnc: z.array(z.string()).describe('the Do-Not-Call lists that hold it (a phone number only)'),
  }),
  SuppressionLoaded: LoadReportView,
};
