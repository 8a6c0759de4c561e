/**
 * The zod schemas of api/routes/agencies.ts, kept beside it (agencies, their
 * settings and service lines). Shapes several route modules share are in
 * api/schemas.ts, the building blocks in api/schema-blocks.ts.
 */
import { z } from 'zod';

import { isValidTimeZone } from '../../domain/caps';
import { isPhoneCountry } from '../../domain/contact-checks';
import { MAX_RETENTION_DAYS } from '../../domain/types';
import { Id, int, IsoTime, list, ServiceLineKey, State, text, ZipPrefix } from '../schema-blocks';

export const AgencyCreate = z
  .object({
    name: text(200),
    timeZone: text(64)
      .refine((tz) => isValidTimeZone(tz), { message: 'not a known IANA time zone' })
      .optional()
      .describe('IANA zone for caps and reports, default UTC'),
  })
  .strict();
const Percentage = z.number().min(0).max(1);
export const AgencySettingsSchema = z
  .object({
    duplicateWindowDays: int(0, 3650).describe(
      'duplicate window in days (intake and "never the same person twice"); default 30, 0 = off',
    ),
    requireConsent: z.boolean().describe('refuse leads without consent evidence; default false'),
    phoneCountry: z
      .string()
      .refine((c) => isPhoneCountry(c), {
        message: 'an ISO 3166-1 alpha-2 region code libphonenumber knows, e.g. "US", "CA", "GB"',
      })
      .describe('the region a phone number without a country code is read in (intake, pings); default US'),
    autoPauseAfterFailures: int(0, 1000).describe(
      'pause a buyer after this many consecutive failed deliveries; default 5, 0 = never',
    ),
    retentionDays: int(1, MAX_RETENTION_DAYS).describe(
      "days a lead's personal fields are kept; the daily erase-expired-leads job erases them from older leads (docs/compliance.md); absent: kept until an erasure request (the default)",
    ),
    returns: z
      .object({
        windowDays: int(0, 3650).optional(),
        allowedReasons: z
          .array(z.string().regex(/^[a-z0-9_]{1,64}$/, 'a reason code: a-z, 0-9, _'))
          .max(50)
          .optional(),
        maxReturnRate: Percentage.optional().describe('returns ÷ purchases over the last 30 days, 0..1'),
      })
      .strict(),
    selfService: z
      .object({
        enabled: z.boolean().optional(),
        maxCaps: z
          .object({
            daily: int(0, 1_000_000).optional(),
            weekly: int(0, 1_000_000).optional(),
            monthly: int(0, 1_000_000).optional(),
          })
          .strict()
          .optional(),
        allowedStates: z.array(State).max(60).optional(),
        allowedZipPrefixes: z.array(ZipPrefix).max(10_000).optional(),
        allowFilters: z.boolean().optional().describe('buyers may set their own lead filters (default off)'),
      })
      .strict(),
  })
  .partial()
  .strict();
/** A PATCH of the settings: a key set to null goes back to its default. */
export const AgencySettingsPatch = z
  .object({
    duplicateWindowDays: AgencySettingsSchema.shape.duplicateWindowDays.nullable(),
    requireConsent: AgencySettingsSchema.shape.requireConsent.nullable(),
    phoneCountry: AgencySettingsSchema.shape.phoneCountry.nullable(),
    autoPauseAfterFailures: AgencySettingsSchema.shape.autoPauseAfterFailures.nullable(),
    retentionDays: AgencySettingsSchema.shape.retentionDays.nullable(),
    returns: AgencySettingsSchema.shape.returns.nullable(),
    selfService: AgencySettingsSchema.shape.selfService.nullable(),
  })
  .partial()
  .strict();
export const ServiceLineCreate = z.object({ key: ServiceLineKey, name: text(200) }).strict();
export const AgencyView = z.object({ id: Id, name: z.string(), timeZone: z.string(), createdAt: IsoTime });
export const ServiceLineView = z.object({ id: Id, key: z.string(), name: z.string(), createdAt: IsoTime });

/** The answers these routes document (their `responses`), each a named component by its key. */
export const Responses = {
  AgencyCreated: z.object({ agency: AgencyView, adminKey: z.string().describe('shown once') }),
  ServiceLine: z.object({ serviceLine: ServiceLineView }),
  ServiceLines: list('serviceLines', ServiceLineView),
  Settings: z.object({ settings: AgencySettingsSchema }),
};
