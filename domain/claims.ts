/**
 * The claim vocabulary lives in claims/vocabulary.ts. The frozen first
 * lifecycle (workflows/v1/, never edited) still imports these two names from
 * here; this file goes with v1 (docs/operations.md, retiring v1).
 */
export { claimOutcomeOf, type TimelineEventInput } from '../claims/vocabulary';
