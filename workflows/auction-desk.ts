/**
 * The bid desk lives in claims/auction-desk.ts. The frozen first lifecycle
 * (workflows/v1/, never edited) still imports it from here; this file goes
 * with v1 (docs/operations.md, retiring v1).
 */
export { AuctionDesk } from '../claims/auction-desk';
