/**
 * The zod schemas of api/routes/exports.ts, kept beside it (the CSV exports).
 * Shapes several route modules share are in api/schemas.ts, the building
 * blocks in api/schema-blocks.ts.
 */
import { Id } from '../schema-blocks';
import { RangeQuery } from '../schemas';
import { ReportGroupSchema } from './reports.schemas';

export const SourceLedgerExportQuery = RangeQuery.extend({
  sourceId: Id.optional().describe('admin: one source (default: every source)'),
}).strict();
export const ReportExportQuery = RangeQuery.extend({ groupBy: ReportGroupSchema.default('day') }).strict();
