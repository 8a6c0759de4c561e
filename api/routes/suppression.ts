/**
 * Suppression and Do-Not-Call lists (#23 item 3): an agency's lists (add,
 * search, remove one number or address, upload a CSV) and the platform's
 * Do-Not-Call lists (the operator uploads the registry's files). A value is
 * hashed on arrival (db/suppression.ts) and never stored or answered back;
 * an upload streams through with constant memory.
 */
import type { Request } from 'express';

import { agencySettings } from '../../db/agencies';
import {
  addSuppressionEntries,
  agencyEntriesOf,
  BadFileHeader,
  dncListsOf,
  loadDncFile,
  type LoadReport,
  loadSuppressionCsv,
  recordSuppressionChange,
  removeSuppressionEntry,
  suppressionCounts,
  suppressionHasher,
} from '../../db/suppression';
import { DEFAULT_PHONE_COUNTRY } from '../../domain/contact-checks';
import { suppressionValue } from '../../domain/suppression';
import { auditBy } from '../audit';
import { notFound, Problem } from '../problem';
import { type AnyRoute, AUTH_ERRORS, BAD_INPUT, BODY_ERRORS, type FileBody, NOT_FOUND, route } from '../route';
import type { ApiServices } from '../services';
import { suppressionEntryView } from '../views';
import {
  DncUploadQuery,
  EntryParams,
  Responses,
  SuppressionAdd,
  SuppressionSearch,
  SuppressionUploadQuery,
} from './suppression.schemas';

const CSV_TYPES = ['text/csv', 'text/plain'];

export async function countryOf(services: ApiServices, agencyId: string): Promise<string> {
  return (await agencySettings(services.db, agencyId)).phoneCountry ?? DEFAULT_PHONE_COUNTRY;
}

/** The value of a request, normalised as intake normalises a lead's, or a 400 naming the field. */
export function valueOf(raw: string, country: string) {
  const read = suppressionValue(raw, country);
  if (!read.ok)
    throw new Problem(400, 'validation_failed', `value: ${read.detail}`, {
      errors: [{ in: 'body', path: 'value', message: read.detail }],
    });
  return read.value;
}

/** An upload's body, as it streams: text/csv or text/plain, never buffered whole. */
function uploadBody(req: Request): Request {
  const length = req.headers['content-length'];
  if (req.headers['transfer-encoding'] === undefined && (length === undefined || length === '0'))
    throw new Problem(400, 'validation_failed', 'Send the file as the request body.', {
      errors: [{ in: 'body', path: '', message: 'empty' }],
    });
  if (!req.is(CSV_TYPES))
    throw new Problem(415, 'unsupported_media_type', 'Send the file with "Content-Type: text/csv" (or text/plain).');
  return req;
}

/** A file refused whole (its first line) is a 400; nothing of it was stored. */
async function loading(run: () => Promise<LoadReport>): Promise<LoadReport> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof BadFileHeader)
      throw new Problem(400, 'bad_file', `${err.message}; nothing was stored.`, {
        errors: [{ in: 'body', path: 'line 1', message: err.message }],
      });
    throw err;
  }
}

/** How the document shows an upload's body (the handler streams it from the request itself). */
const csvFile = (example: string): FileBody => ({
  mediaTypes: CSV_TYPES,
  description: 'The file: one column, one value per line, a header line optional.',
  example,
});

const UPLOAD_ERRORS = {
  400: {
    description:
      'the first line is neither a header nor a value (`bad_file`, nothing stored), or bad query (`validation_failed`)',
  },
  415: { description: 'the body is not text/csv or text/plain (`unsupported_media_type`)' },
};

export const suppressionRoutes: AnyRoute[] = [
  route({
    method: 'get',
    path: '/v1/suppression',
    operationId: 'suppressionLists',
    tag: 'Suppression',
    summary: "The agency's suppression lists and the platform's Do-Not-Call lists, each with its size",
    responses: { 200: { description: 'the lists', schema: Responses.SuppressionLists }, ...BAD_INPUT, ...AUTH_ERRORS },
    async handler({ principal, services }) {
      const counts = await suppressionCounts(services.db, principal.agencyId);
      return { status: 200, body: { lists: counts.agency, platform: counts.platform } };
    },
  }),

  route({
    method: 'post',
    path: '/v1/suppression/entries',
    operationId: 'addSuppressionEntry',
    tag: 'Suppression',
    summary: "Put one phone number or email address on one of the agency's lists (stored only as a keyed HMAC)",
    description:
      'The number is normalised to E.164 (as intake does), the address lower-cased; the list keeps a keyed HMAC-SHA256 of it, never the value (docs/compliance.md). Adding what is already listed answers the entry as it was (`added: false`).',
    body: SuppressionAdd,
    responses: {
      201: { description: 'added', schema: Responses.SuppressionAdded },
      200: { description: 'already on the list', schema: Responses.SuppressionAdded },
      ...BODY_ERRORS,
      ...AUTH_ERRORS,
    },
    async handler({ principal, body, services }) {
      const value = valueOf(body.value, await countryOf(services, principal.agencyId));
      const hmac = (await suppressionHasher(services.db, { agencyId: principal.agencyId }))(value);
      const added = await services.db.transaction(async (tx) => {
        const n = await addSuppressionEntries(tx, {
          agencyId: principal.agencyId,
          list: body.list,
          source: 'api',
          note: body.note || null,
          entries: [{ kind: value.kind, hmac }],
        });
        if (n)
          await recordSuppressionChange(tx, {
            agencyId: principal.agencyId,
            by: auditBy(principal),
            action: 'listed',
            list: body.list,
            source: 'api',
            entries: n,
            kind: value.kind,
          });
        return n;
      });
      const entry = (await agencyEntriesOf(services.db, principal.agencyId, [hmac])).find((e) => e.list === body.list)!;
      return { status: added ? 201 : 200, body: { entry: suppressionEntryView(entry), added: added > 0 } };
    },
  }),

  route({
    method: 'post',
    path: '/v1/suppression/search',
    operationId: 'searchSuppression',
    tag: 'Suppression',
    summary: 'Which lists hold a phone number or email address',
    description: 'A POST, so the number is not written to access logs as part of a URL.',
    body: SuppressionSearch,
    responses: {
      200: { description: 'the lists that hold it', schema: Responses.SuppressionFound },
      ...BODY_ERRORS,
      ...AUTH_ERRORS,
    },
    async handler({ principal, body, services }) {
      const value = valueOf(body.value, await countryOf(services, principal.agencyId));
      const own = (await suppressionHasher(services.db, { agencyId: principal.agencyId }))(value);
      const entries = await agencyEntriesOf(services.db, principal.agencyId, [own]);
      const dnc =
        value.kind === 'phone'
          ? await dncListsOf(services.db, (await suppressionHasher(services.db, 'platform'))(value))
          : [];
      return {
        status: 200,
        body: {
          kind: value.kind,
          suppressed: entries.length > 0 || dnc.length > 0,
          entries: entries.map(suppressionEntryView),
          dnc,
        },
      };
    },
  }),

  route({
    method: 'delete',
    path: '/v1/suppression/entries/:id',
    operationId: 'removeSuppressionEntry',
    tag: 'Suppression',
    summary: "Take one entry off the agency's list (found by searching its number or address)",
    params: EntryParams,
    responses: { 204: { description: 'removed' }, ...BAD_INPUT, ...NOT_FOUND, ...AUTH_ERRORS },
    async handler({ principal, params, services }) {
      const removed = await services.db.transaction(async (tx) => {
        const row = await removeSuppressionEntry(tx, principal.agencyId, params.id);
        if (row)
          await recordSuppressionChange(tx, {
            agencyId: principal.agencyId,
            by: auditBy(principal),
            action: 'unlisted',
            list: row.list,
            source: 'removed',
            entries: 1,
            kind: row.kind,
          });
        return row;
      });
      if (!removed) throw notFound('suppression entry');
      return { status: 204 };
    },
  }),

  route({
    method: 'post',
    path: '/v1/suppression/uploads',
    operationId: 'uploadSuppressionCsv',
    tag: 'Suppression',
    summary: "Upload a CSV of phone numbers or emails into one of the agency's lists (streamed)",
    description:
      'The body is the file itself (`Content-Type: text/csv`): one column, one number or address per line, a header line optional (`phone`, `email`, `number`, `value`…). ' +
      'It streams through with constant memory, in batches of 5,000. Good lines load; bad ones are counted and the first 100 reported with their line numbers; ' +
      'a first line that is neither a header nor a value refuses the whole file before anything is stored (400 `bad_file`). Loading the same file again adds nothing.',
    query: SuppressionUploadQuery,
    fileBody: csvFile('phone\n+15551234567\n+15557654321\n'),
    responses: {
      200: { description: 'the report', schema: Responses.SuppressionLoaded },
      ...UPLOAD_ERRORS,
      ...AUTH_ERRORS,
    },
    async handler({ principal, query, req, services }) {
      const file = uploadBody(req);
      const country = await countryOf(services, principal.agencyId);
      const report = await loading(() =>
        loadSuppressionCsv(
          services.db,
          { agencyId: principal.agencyId, list: query.list, country, note: query.note || null },
          file,
        ),
      );
      // Batches commit as the file streams, so the upload is logged once, after its last batch, with what it added.
      if (report.added)
        await recordSuppressionChange(services.db, {
          agencyId: principal.agencyId,
          by: auditBy(principal),
          action: 'listed',
          list: query.list,
          source: 'csv',
          entries: report.added,
        });
      return { status: 200, body: report };
    },
  }),

  route({
    method: 'post',
    path: '/v1/dnc/uploads',
    operationId: 'uploadDncFile',
    tag: 'Suppression',
    summary:
      'The platform operator loads a Do-Not-Call registry file (one ten-digit number per line) into a platform list',
    description:
      "The registry's area-code files as they are downloaded: one ten-digit US number per line. `national_dnc`, or `state_dnc` with `state`. " +
      "Kept once for every agency, as keyed HMACs under the platform's key. Streamed like an agency upload.",
    query: DncUploadQuery,
    fileBody: csvFile('2125550100\n2125550101\n2125550102\n'),
    responses: {
      200: { description: 'the report', schema: Responses.SuppressionLoaded },
      ...UPLOAD_ERRORS,
      ...AUTH_ERRORS,
    },
    async handler({ query, req, services }) {
      if ((query.list === 'state_dnc') !== (query.state !== undefined))
        throw new Problem(400, 'validation_failed', 'state: required with state_dnc, and only with it', {
          errors: [{ in: 'query', path: 'state', message: 'required with state_dnc, and only with it' }],
        });
      const file = uploadBody(req);
      const report = await loading(() =>
        loadDncFile(services.db, { list: query.list, state: query.state?.toUpperCase() ?? null }, file),
      );
      return { status: 200, body: report };
    },
  }),
];
