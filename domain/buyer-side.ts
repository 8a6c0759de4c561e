/**
 * The buyer's side of the market, as pure rules: its own price on a campaign,
 * its alert settings (which channels, a minimum price, quiet hours), the
 * pipeline status transitions of the leads it bought, and the eligibility
 * profile the loaders build from a buyer row (schedule, pauses, filters in
 * the buyer's zone, or the agency's).
 */
import { DateTime } from 'luxon';

import type { LeadFilters } from './filters';
import { minutesOf, type Pause, type WeeklySchedule } from './schedule';
import { type AlertChannel, type BuyerPriceKind, PIPELINE_STATUSES, type PipelineStatus } from './types';

export type { AlertChannel, PipelineStatus } from './types';

// ─── per-buyer price ─────────────────────────────────────────────────────────

export interface BuyerPriceRule {
  kind: BuyerPriceKind;
  /** fixed: credits; percent: -100..1000 on the campaign price (+20 = 20 % more). */
  value: number;
}

/** The buyer's own price of a lead the campaign prices at `base`: whole credits, never below 0. */
export function buyerPrice(base: number, rule: BuyerPriceRule | null | undefined): number {
  if (!rule) return base;
  if (rule.kind === 'fixed') return Math.max(0, Math.round(rule.value));
  return Math.max(0, Math.round((base * (100 + rule.value)) / 100));
}

// ─── alerts ──────────────────────────────────────────────────────────────────

export interface AlertSettings {
  /** Where alerts go (offer alerts and the low-balance alert); none: no alerts. */
  channels?: AlertChannel[];
  /** Offer alerts only for leads at this price or more. */
  minPrice?: number;
  /** No offer alerts between these wall-clock times (buyer's zone); from > to spans midnight. */
  quietHours?: { from: string; to: string };
}

/** Whether the wall clock at `now` (in the zone) is inside the quiet hours. */
export function inQuietHours(quiet: AlertSettings['quietHours'], now: Date, timeZone: string): boolean {
  if (!quiet) return false;
  const from = minutesOf(quiet.from);
  const to = minutesOf(quiet.to);
  if (from === null || to === null || from === to) return false;
  const dt = DateTime.fromJSDate(now, { zone: timeZone });
  const m = dt.hour * 60 + dt.minute;
  return from < to ? m >= from && m < to : m >= from || m < to;
}

/**
 * The channels an offer alert goes out on for this buyer, or none: opted-in
 * channels that the buyer has set up, when the price reaches its minimum and
 * it is not inside its quiet hours.
 */
export function offerAlertChannels(
  settings: AlertSettings,
  configured: (channel: AlertChannel) => boolean,
  input: { price: number; now: Date; timeZone: string },
): AlertChannel[] {
  const channels = settings.channels ?? [];
  if (!channels.length) return [];
  if (settings.minPrice !== undefined && input.price < settings.minPrice) return [];
  if (inQuietHours(settings.quietHours, input.now, input.timeZone)) return [];
  return channels.filter(configured);
}

// ─── pipeline ────────────────────────────────────────────────────────────────

const FINAL_PIPELINE_STATUSES: readonly PipelineStatus[] = ['won_job', 'lost_job'];

/**
 * A lead moves forward through new → contacted → appointment → quoted and ends
 * won_job or lost_job (steps may be skipped; lost_job is reachable from any
 * open status). Marking the current status again (a new note or job value) is
 * allowed; going back, or leaving a final status, is not.
 */
export function pipelineMoveProblem(from: PipelineStatus | null, to: PipelineStatus): string | null {
  const current = from ?? 'new';
  if (current === to) return null;
  if (FINAL_PIPELINE_STATUSES.includes(current)) return `the lead is already ${current}; that is final`;
  if (PIPELINE_STATUSES.indexOf(to) < PIPELINE_STATUSES.indexOf(current))
    return `cannot go back from ${current} to ${to}`;
  return null;
}

// ─── the settings, and the eligibility profile of a buyer row ────────────────

/** The buyer-side settings as written on a buyer (creation, the agency's PATCH, the buyer's own). */
export interface BuyerSideSettings {
  timeZone?: string | null;
  schedule?: WeeklySchedule | null;
  pauses?: Pause[];
  filters?: LeadFilters | null;
  alerts?: AlertSettings;
  lowBalanceThreshold?: number | null;
}

export interface BuyerSideColumns {
  timeZone: string | null;
  schedule: WeeklySchedule | null;
  pauses: Pause[] | null;
  filters: LeadFilters | null;
}

/** What the eligibility rules need of a buyer's hours and filters: its columns, its zone defaulting to the agency's. */
export function buyerSideProfile(row: BuyerSideColumns, agencyTimeZone: string | null | undefined) {
  return {
    timeZone: row.timeZone ?? agencyTimeZone ?? 'UTC',
    schedule: row.schedule,
    pauses: row.pauses ?? [],
    filters: row.filters,
  };
}
