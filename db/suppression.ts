/**
 * Suppression and Do-Not-Call lists (#23 item 3): the keyed HMACs and the
 * lists' rows. Tables: suppression_salts, suppression_entries (an agency's
 * lists), dnc_entries (the platform's national and state lists).
 *
 * A value is never stored: only HMAC-SHA256 of `<kind>:<normalised>`
 * (domain/suppression.ts) under a key derived from the key store's sealed
 * HMAC root with HKDF, purpose `suppression.hmac`, and the scope's salt (one
 * per agency, one for the platform, random, made on first use). A plain or
 * salted hash of a ten-digit number falls to enumerating the ten billion
 * numbers; this one needs the root, which is only ever in the processes'
 * memory.
 *
 * Bulk loads (a CSV upload, the registry's files) write batches with one
 * INSERT … SELECT FROM unnest(…) ON CONFLICT DO NOTHING each: one statement per
 * few thousand lines, whatever the file's length, and an entry already listed
 * stays as it was (its first `added_at` and source).
 */
import crypto from 'node:crypto';

import { and, count, eq, inArray, sql } from 'drizzle-orm';

import {
  csvLine,
  firstLine,
  hasWrittenConsent,
  hmacInput,
  registryNumber,
  type SuppressionHit,
  type SuppressionValue,
  type SuppressionVerdict,
  suppressionVerdict,
} from '../domain/suppression';
import {
  AGENCY_SUPPRESSION_LISTS,
  type AgencySuppressionList,
  type ConsentEvidence,
  type DncList,
  type DncRule,
  type SuppressionKind,
  type SuppressionSource,
} from '../domain/types';
import { turnBatcher } from '../lib/burst';
import { type KeyStore, keyStore } from '../lib/key-store';
import { type AuditBy, recordChange } from './audit';
import type { DbOrTx } from './connection';
import { dncFilterOf } from './dnc-filter';
import { committedHmacKey, hmacKey } from './key-store';
import { leadById } from './leads';
import { dncEntries, suppressionEntries, suppressionSalts } from './schema';

const PURPOSE = 'suppression.hmac';
const PLATFORM = 'platform';

/** Whose key: an agency's lists, or the platform's Do-Not-Call lists. */
export type SuppressionScope = { agencyId: string } | 'platform';

const scopeName = (scope: SuppressionScope) => (scope === PLATFORM ? PLATFORM : scope.agencyId);

/** Hashes values under one scope's key (derived once per use: a bulk load hashes a million values with it). */
export interface SuppressionHasher {
  (value: SuppressionValue): string;
}

const hashers = new WeakMap<object, Map<string, { store: KeyStore; key: Promise<Buffer> }>>();

/** The process's cached keys of one database, by scope. */
function keysOf(db: DbOrTx): Map<string, { store: KeyStore; key: Promise<Buffer> }> {
  let byScope = hashers.get(db);
  if (!byScope) hashers.set(db, (byScope = new Map()));
  return byScope;
}

/** The hasher of a scope's key: HMAC-SHA256 of the value's normalised form, hex. */
const hasherWith =
  (key: Buffer): SuppressionHasher =>
  (value) =>
    crypto.createHmac('sha256', key).update(hmacInput(value), 'utf8').digest('hex');

/**
 * The scope's hasher: its salt (made on first use; two processes making it at once agree on the first) and the
 * key derived from it, kept per database and scope for the process (neither changes once made), so a check on
 * intake's path or in a sale costs the two hashes and nothing more. Give it the database, not a transaction.
 */
export async function suppressionHasher(db: DbOrTx, scope: SuppressionScope): Promise<SuppressionHasher> {
  const name = scopeName(scope);
  const store = keyStore();
  const byScope = keysOf(db);
  let cached = byScope.get(name);
  if (!cached || cached.store !== store) {
    const key = (async () => {
      let [row] = await db.select().from(suppressionSalts).where(eq(suppressionSalts.scope, name));
      if (!row) {
        await db
          .insert(suppressionSalts)
          .values({ scope: name, salt: crypto.randomBytes(16).toString('base64') })
          .onConflictDoNothing();
        [row] = await db.select().from(suppressionSalts).where(eq(suppressionSalts.scope, name));
      }
      return hmacKey(db, PURPOSE, Buffer.from(row!.salt, 'base64'));
    })();
    key.catch(() => byScope.delete(name)); // a failed read is not remembered
    byScope.set(name, (cached = { store, key }));
  }
  return hasherWith(await cached.key);
}

/**
 * The scope's hasher inside a transaction (the sale's): the cached one, else one made from what is committed,
 * read through the transaction and creating nothing – on PGlite's single connection a read through the database
 * would wait for the transaction to end. Null when the scope has no salt (or the database no HMAC root) yet:
 * nothing was ever listed under it, since an entry is written only after its salt.
 */
async function committedHasher(db: DbOrTx, scope: SuppressionScope, tx: DbOrTx): Promise<SuppressionHasher | null> {
  const name = scopeName(scope);
  const store = keyStore();
  const cached = hashers.get(db)?.get(name);
  let key = cached && cached.store === store ? await cached.key : null;
  if (!key) {
    const [row] = await tx.select().from(suppressionSalts).where(eq(suppressionSalts.scope, name));
    key = row ? await committedHmacKey(tx, PURPOSE, Buffer.from(row.salt, 'base64')) : null;
    if (!key) return null;
    // Salt and root never change once made: the key is the one suppressionHasher would derive.
    keysOf(db).set(name, { store, key: Promise.resolve(key) });
  }
  return hasherWith(key);
}

export type SuppressionEntryRow = typeof suppressionEntries.$inferSelect;

/** Adds HMACs to an agency's list; answers how many were new (the others were listed already). */
export async function addSuppressionEntries(
  db: DbOrTx,
  input: {
    agencyId: string;
    list: AgencySuppressionList;
    source: SuppressionSource;
    note?: string | null;
    entries: { kind: SuppressionKind; hmac: string }[];
  },
): Promise<number> {
  if (!input.entries.length) return 0;
  const rows = (await db.execute(sql`
    WITH added AS (
      INSERT INTO suppression_entries (agency_id, list, kind, hmac, source, note)
      SELECT ${input.agencyId}::uuid, ${input.list}, e.kind, decode(e.hmac, 'hex'), ${input.source}, ${input.note ?? null}
      FROM unnest(${sql.param(input.entries.map((e) => e.kind))}::text[], ${sql.param(input.entries.map((e) => e.hmac))}::text[]) AS e(kind, hmac)
      ON CONFLICT (agency_id, list, hmac) DO NOTHING
      RETURNING 1
    )
    SELECT count(*)::int AS n FROM added`)) as unknown as { rows: { n: number }[] };
  return Number(rows.rows[0]?.n ?? 0);
}

/**
 * A change of an agency's lists in its audit log: the list, what kind of entries, how many and how they came –
 * never a number, an address or an HMAC (the log is read by more people than the list).
 */
export function recordSuppressionChange(
  db: DbOrTx,
  input: {
    agencyId: string;
    by: AuditBy;
    action: 'listed' | 'unlisted';
    list: AgencySuppressionList;
    source: SuppressionSource | 'removed';
    entries: number;
    kind?: SuppressionKind;
  },
): Promise<boolean> {
  const { agencyId, by, action, list, source, entries, kind } = input;
  return recordChange(db, {
    agencyId,
    by,
    objectType: 'suppression_list',
    objectId: agencyId,
    action,
    changes: {
      list: { from: null, to: list },
      entries: { from: null, to: entries },
      ...(kind ? { kind: { from: null, to: kind } } : {}),
    },
    note: source === 'csv' ? 'CSV upload' : source === 'api' ? 'added by API' : source === 'removed' ? null : source,
  });
}

/** Adds phone HMACs to a platform Do-Not-Call list (a state's when `state` is given); answers how many were new. */
async function addDncEntries(
  db: DbOrTx,
  input: { list: DncList; state: string | null; hmacs: string[] },
): Promise<number> {
  if (!input.hmacs.length) return 0;
  const rows = (await db.execute(sql`
    WITH added AS (
      INSERT INTO dnc_entries (list, state, hmac)
      SELECT ${input.list}, ${input.state ?? ''}, decode(h, 'hex') FROM unnest(${sql.param(input.hmacs)}::text[]) AS h
      ON CONFLICT DO NOTHING
      RETURNING 1
    )
    SELECT count(*)::int AS n FROM added`)) as unknown as { rows: { n: number }[] };
  return Number(rows.rows[0]?.n ?? 0);
}

/** The agency's (or agencies') entries with these HMACs (search, the checks), in list order. */
export async function agencyEntriesOf(
  db: DbOrTx,
  agencyId: string | string[],
  hmacs: string[],
): Promise<SuppressionEntryRow[]> {
  if (!hmacs.length) return [];
  return db
    .select()
    .from(suppressionEntries)
    .where(
      and(
        typeof agencyId === 'string'
          ? eq(suppressionEntries.agencyId, agencyId)
          : inArray(suppressionEntries.agencyId, agencyId),
        // Every list named, so the key (agency, list, hmac) answers it.
        inArray(suppressionEntries.list, [...AGENCY_SUPPRESSION_LISTS]),
        inArray(suppressionEntries.hmac, hmacs),
      ),
    )
    .orderBy(suppressionEntries.list);
}

/** A Do-Not-Call list's name as the checks and counts say it: `national_dnc`, `state_dnc:TX`. */
const dncListName = (r: { list: string; state: string }) => (r.state ? `${r.list}:${r.state}` : r.list);

/** The platform's Do-Not-Call lists holding this HMAC: `national_dnc`, `state_dnc:TX`… */
export async function dncListsOf(db: DbOrTx, hmac: string): Promise<string[]> {
  const rows = await db
    .select({ list: dncEntries.list, state: dncEntries.state })
    .from(dncEntries)
    .where(eq(dncEntries.hmac, hmac));
  return rows.map(dncListName).sort();
}

/** One lead's or ping's read of the lists: the agency's (its HMACs under the agency's key) and the platform's. */
interface ListRead {
  agencyId: string;
  /** The phone's and the email's HMACs under the agency's key. */
  own: string[];
  /** The phone's HMAC under the platform's key, or null (no phone). */
  dnc: string | null;
}

/** What a list read found: the agency's entries (their lists, in list order) and the Do-Not-Call lists. */
interface ListsFound {
  own: AgencySuppressionList[];
  dnc: string[];
}

/**
 * Reads the lists for one lead or ping through `within`: the agency's entries and the platform's Do-Not-Call
 * entries. Outside a transaction, every read of one event-loop turn (a burst of pings) goes to the database
 * together – one statement per table for the whole burst, both at once – rather than two statements per ping one
 * after the other. Inside one (the sale's), one statement at a time on its connection.
 */
async function readLists(db: DbOrTx, read: ListRead, within: DbOrTx): Promise<ListsFound> {
  if (within !== db) {
    const own = await agencyEntriesOf(within, read.agencyId, read.own);
    return { own: own.map((e) => e.list), dnc: read.dnc ? await dncListsOf(within, read.dnc) : [] };
  }
  let batch = listReaders.get(db);
  if (!batch) listReaders.set(db, (batch = turnBatcher((reads: ListRead[]) => readListsTogether(db, reads))));
  return batch(read);
}

const listReaders = new WeakMap<object, (read: ListRead) => Promise<ListsFound>>();

/**
 * Many reads at once: one statement over the agency entries of all of them, one over the Do-Not-Call entries – only
 * for the phones the process's filter of the platform lists (db/dnc-filter.ts) says are perhaps listed, when it has
 * a current one; the answer for those is the database's.
 */
async function readListsTogether(db: DbOrTx, reads: ListRead[]): Promise<ListsFound[]> {
  const agencyIds = [...new Set(reads.filter((r) => r.own.length).map((r) => r.agencyId))];
  const ownHmacs = [...new Set(reads.flatMap((r) => r.own))];
  const filter = dncFilterOf(db);
  const allDnc = [...new Set(reads.flatMap((r) => (r.dnc ? [r.dnc] : [])))];
  const { ask: dncHmacs, screened } = filter ? filter.screen(allDnc) : { ask: allDnc, screened: false };
  const [ownRows, dncRows] = await Promise.all([
    agencyEntriesOf(db, agencyIds, ownHmacs),
    dncHmacs.length
      ? db
          .select({ list: dncEntries.list, state: dncEntries.state, hmac: dncEntries.hmac })
          .from(dncEntries)
          .where(inArray(dncEntries.hmac, dncHmacs))
      : [],
  ]);
  if (screened) filter!.found(dncHmacs, new Set(dncRows.map((row) => row.hmac)));
  // Each read gets exactly its own rows: its agency and its HMACs (another agency's key never makes its HMACs).
  return reads.map((r) => ({
    own: ownRows.filter((row) => row.agencyId === r.agencyId && r.own.includes(row.hmac)).map((row) => row.list),
    dnc: dncRows
      .filter((row) => row.hmac === r.dnc)
      .map(dncListName)
      .sort(),
  }));
}

/**
 * Every list that holds a lead's phone (E.164) or email: the agency's lists (either value) and the platform's
 * Do-Not-Call lists (the phone). Two keyed hashes under each scope and two indexed reads (shared with the other
 * reads of the same moment, `readLists`); intake, pings and the sale transaction all ask this.
 */
export async function suppressionHits(
  db: DbOrTx,
  agencyId: string,
  contact: { phoneE164?: string | null; email?: string | null },
  /** The transaction to read the lists in (the sale's); the keys come from `db`. */
  within: DbOrTx = db,
): Promise<SuppressionHit[]> {
  const values: SuppressionValue[] = [];
  if (contact.phoneE164) values.push({ kind: 'phone', normalised: contact.phoneE164 });
  if (contact.email) values.push({ kind: 'email', normalised: contact.email.trim().toLowerCase() });
  if (!values.length) return [];
  // Inside a transaction, one statement at a time and nothing through `db` (committedHasher).
  const [agency, platform] =
    within === db
      ? await Promise.all([
          suppressionHasher(db, { agencyId }),
          contact.phoneE164 ? suppressionHasher(db, PLATFORM) : null,
        ])
      : [
          await committedHasher(db, { agencyId }, within),
          contact.phoneE164 ? await committedHasher(db, PLATFORM, within) : null,
        ];
  const found = await readLists(
    db,
    {
      agencyId,
      own: agency ? values.map(agency) : [],
      dnc: platform && contact.phoneE164 ? platform(values[0]!) : null,
    },
    within,
  );
  return [...found.own.map((list) => ({ list, dnc: false })), ...found.dnc.map((list) => ({ list, dnc: true }))];
}

/**
 * The verdict on a lead's contact (domain/suppression.ts `suppressionVerdict`): the lists that hold it, its
 * campaign's Do-Not-Call rule and whether it carries written consent. Intake and the sale transaction ask this.
 */
export async function checkSuppression(
  db: DbOrTx,
  input: {
    agencyId: string;
    phoneE164: string | null;
    email: string | null;
    consent: ConsentEvidence | null;
    rule: DncRule;
    now?: Date;
  },
  within: DbOrTx = db,
): Promise<SuppressionVerdict> {
  const hits = await suppressionHits(db, input.agencyId, input, within);
  return suppressionVerdict(hits, input.rule, hasWrittenConsent(input.consent, input.now ?? new Date()));
}

/** An entry's id in the API: its list and its HMAC (opaque to callers; the HMAC says nothing without the key). */
export const suppressionEntryId = (e: Pick<SuppressionEntryRow, 'list' | 'hmac'>) => `${e.list}.${e.hmac}`;

/** Removes one entry of the agency's lists by its id (`suppressionEntryId`); null when it has none such. */
export async function removeSuppressionEntry(
  db: DbOrTx,
  agencyId: string,
  entryId: string,
): Promise<SuppressionEntryRow | null> {
  const [list, hmac] = entryId.split('.');
  if (!AGENCY_SUPPRESSION_LISTS.includes(list as AgencySuppressionList) || !/^[0-9a-f]{64}$/.test(hmac ?? ''))
    return null;
  const [row] = await db
    .delete(suppressionEntries)
    .where(
      and(
        eq(suppressionEntries.agencyId, agencyId),
        eq(suppressionEntries.list, list as AgencySuppressionList),
        eq(suppressionEntries.hmac, hmac!),
      ),
    )
    .returning();
  return row ?? null;
}

/** How many entries each of the agency's lists holds, and each platform list. */
export async function suppressionCounts(
  db: DbOrTx,
  agencyId: string,
): Promise<{ agency: { list: AgencySuppressionList; count: number }[]; platform: { list: string; count: number }[] }> {
  const [agency, platform] = await Promise.all([
    db
      .select({ list: suppressionEntries.list, count: count() })
      .from(suppressionEntries)
      .where(eq(suppressionEntries.agencyId, agencyId))
      .groupBy(suppressionEntries.list),
    db
      .select({ list: dncEntries.list, state: dncEntries.state, count: count() })
      .from(dncEntries)
      .groupBy(dncEntries.list, dncEntries.state),
  ]);
  return {
    agency: agency.map((r) => ({ list: r.list, count: Number(r.count) })),
    platform: platform.map((r) => ({ list: dncListName(r), count: Number(r.count) })),
  };
}

/**
 * A return approved as fraud (db/disputes.ts, inside its transaction): the lead's E.164 number and address on the
 * agency's `returned_fraud` list, noted with the dispute. Answers how many entries were new.
 */
export async function suppressReturnedLead(
  db: DbOrTx,
  tx: DbOrTx,
  input: { agencyId: string; leadId: string; disputeId: string },
): Promise<number> {
  const lead = await leadById(tx, input.leadId);
  if (!lead) return 0;
  const hash = await suppressionHasher(db, { agencyId: input.agencyId });
  const values: SuppressionValue[] = [];
  if (lead.phoneE164) values.push({ kind: 'phone', normalised: lead.phoneE164 });
  if (lead.fields.email) values.push({ kind: 'email', normalised: lead.fields.email.trim().toLowerCase() });
  return addSuppressionEntries(tx, {
    agencyId: input.agencyId,
    list: 'returned_fraud',
    source: 'return',
    note: `dispute:${input.disputeId}`,
    entries: values.map((v) => ({ kind: v.kind, hmac: hash(v) })),
  });
}

// ─── bulk loads: a CSV upload, the registry's area-code files ─────────────────

/** Lines at most this long; a longer one is refused (a file without newlines cannot grow memory). */
const MAX_LINE = 1000;
/** Lines per INSERT: one statement per batch, the next batch parsed while it runs. */
const BATCH = 5000;
/** Refused lines reported with their line numbers (the count goes on). */
const MAX_REPORTED = 100;

/** What a bulk load did: every line counted, the refused ones named with their line numbers (the first 100). */
export interface LoadReport {
  lines: number;
  /** New entries. */
  added: number;
  /** Valid lines already listed (or repeated in the file). */
  alreadyListed: number;
  rejected: number;
  errors: { line: number; message: string }[];
  /** A header line that was skipped. */
  header: boolean;
}

/** The whole file is refused before anything is stored (its first line is neither a header nor a value). */
export class BadFileHeader extends Error {
  override name = 'BadFileHeader';
}

/** Splits a byte stream into lines (LF or CRLF) with constant memory: async iteration pulls a chunk at a time. */
async function* linesOf(input: AsyncIterable<Buffer | string>): AsyncGenerator<string> {
  let rest = '';
  const decoder = new TextDecoder('utf-8');
  for await (const chunk of input) {
    const text = rest + (typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true }));
    let from = 0;
    for (let at = text.indexOf('\n'); at >= 0; at = text.indexOf('\n', from)) {
      yield text.charCodeAt(at - 1) === 13 ? text.slice(from, at - 1) : text.slice(from, at);
      from = at + 1;
    }
    rest = text.slice(from);
    // A line longer than any value: only its first characters are kept, so it is refused as too long, never buffered.
    if (rest.length > MAX_LINE * 4) rest = rest.slice(0, MAX_LINE + 1);
  }
  rest += decoder.decode();
  if (rest) yield rest.replace(/\r$/, '');
}

/**
 * Streams lines into batches: `parse` reads each (null to skip it, a string to refuse it with that message),
 * `store` writes a batch and answers how many were new. One batch is written while the next is read, so memory
 * holds two batches whatever the file's size. `first` judges line 1 (a header, a value, or the whole file refused).
 */
async function bulkLoad<T>(
  input: AsyncIterable<Buffer | string>,
  opts: {
    first: (line: string) => 'header' | 'value' | { refused: string };
    parse: (line: string) => T | string | null;
    store: (batch: T[]) => Promise<number>;
    onProgress?: (report: LoadReport) => void;
  },
): Promise<LoadReport> {
  const report: LoadReport = { lines: 0, added: 0, alreadyListed: 0, rejected: 0, errors: [], header: false };
  let batch: T[] = [];
  let writing: Promise<void> = Promise.resolve();
  const flush = async () => {
    const rows = batch;
    batch = [];
    await writing;
    writing = opts.store(rows).then((added) => {
      report.added += added;
      report.alreadyListed += rows.length - added;
      opts.onProgress?.(report);
    });
    // A failed write rejects the next await; keep it from being an unhandled rejection meanwhile.
    writing.catch(() => undefined);
  };
  for await (const line of linesOf(input)) {
    report.lines++;
    if (report.lines === 1) {
      const verdict = opts.first(line);
      if (typeof verdict === 'object') throw new BadFileHeader(verdict.refused);
      if (verdict === 'header') {
        report.header = true;
        continue;
      }
    }
    const parsed = line.length > MAX_LINE ? `longer than ${MAX_LINE} characters` : opts.parse(line);
    if (parsed === null) continue;
    if (typeof parsed === 'string') {
      report.rejected++;
      if (report.errors.length < MAX_REPORTED) report.errors.push({ line: report.lines, message: parsed });
      continue;
    }
    batch.push(parsed);
    if (batch.length >= BATCH) await flush();
  }
  if (batch.length) await flush();
  await writing;
  return report;
}

/**
 * An agency's CSV upload into one of its lists: one column of phone numbers or emails, a header line optional
 * (domain/suppression.ts `firstLine`, `csvLine`); numbers without a country code read in `country`. Good lines
 * load, bad ones are counted and reported with their line numbers; a first line that is neither a header nor a
 * value refuses the file before anything is stored (BadFileHeader).
 */
export async function loadSuppressionCsv(
  db: DbOrTx,
  input: { agencyId: string; list: AgencySuppressionList; country: string; note?: string | null },
  file: AsyncIterable<Buffer | string>,
  onProgress?: (report: LoadReport) => void,
): Promise<LoadReport> {
  const hash = await suppressionHasher(db, { agencyId: input.agencyId });
  return bulkLoad(file, {
    first: (line) => firstLine(line, input.country),
    parse: (line) => {
      const read = csvLine(line, input.country);
      if ('blank' in read) return null;
      return read.ok ? { kind: read.value.kind, hmac: hash(read.value) } : read.detail;
    },
    store: (entries) =>
      addSuppressionEntries(db, {
        agencyId: input.agencyId,
        list: input.list,
        source: 'csv',
        note: input.note,
        entries,
      }),
    onProgress,
  });
}

/**
 * A file of the Do-Not-Call registry's format (one ten-digit number per line, as its area-code files are) into a
 * platform list: `national_dnc`, or `state_dnc` with the state's code.
 */
export async function loadDncFile(
  db: DbOrTx,
  input: { list: DncList; state: string | null },
  file: AsyncIterable<Buffer | string>,
  onProgress?: (report: LoadReport) => void,
): Promise<LoadReport> {
  const hash = await suppressionHasher(db, PLATFORM);
  const notNumber = 'not a ten-digit US number (NPA-NXX-XXXX, digits only)';
  // Every process hears each batch's change on the bus (the table's trigger), a moment after its commit; this one's
  // filter stops answering before the first batch commits and is rebuilt only after the last.
  const release = dncFilterOf(db)?.hold('a Do-Not-Call file is loading');
  try {
    return await bulkLoad(file, {
      first: (line) =>
        registryNumber(line) || !line.trim()
          ? 'value'
          : /^[a-z_ ]+$/i.test(line.trim())
            ? 'header'
            : { refused: `line 1: ${notNumber}` },
      parse: (line) => {
        if (!line.trim()) return null;
        const value = registryNumber(line);
        return value ? { hmac: hash(value) } : notNumber;
      },
      store: (rows) => addDncEntries(db, { list: input.list, state: input.state, hmacs: rows.map((r) => r.hmac) }),
      onProgress,
    });
  } finally {
    release?.();
  }
}
