/**
 * The suppression lists' reads (#23) under a burst: the lookups of one moment (pings arriving together) go to the
 * database together – one statement over the agencies' entries and one over the Do-Not-Call entries for the whole
 * burst (db/suppression.ts `readLists`) – and each lookup still gets exactly its own hits: its agency's lists for
 * its values, the platform's lists for its phone, nothing of another agency's. Inside a transaction (the sale's)
 * the same answers come one statement at a time.
 */
import { Readable } from 'node:stream';

import type { Database } from '../../db/connection';
import { prepareKeyStore } from '../../db/key-store';
import { loadDncFile, loadSuppressionCsv, suppressionHits } from '../../db/suppression';
import { openTestPostgres } from '../helpers/db';
import { recordingDatabase } from '../helpers/recording';
import { makeAgency } from '../helpers/world';

let database: Database;

beforeAll(async () => {
  database = await openTestPostgres();
  await prepareKeyStore(database.db);
});

afterAll(async () => {
  await database.close();
});

const file = (lines: string[]) => Readable.from([lines.join('\n') + '\n']);

test('a burst of lookups is answered by one statement per table, each lookup with exactly its own hits', async () => {
  const db = database.db;
  const a = await makeAgency(db);
  const b = await makeAgency(db);
  // Agency A lists a number and an address; agency B lists another number; the platform lists numbers nationally
  // and in Texas. Numbers from 737 555-01xx: made for this test only (the platform lists are shared).
  await loadSuppressionCsv(
    db,
    { agencyId: a.id, list: 'do_not_contact', country: 'US' },
    file(['7375550101', 'gone@example.com']),
  );
  await loadSuppressionCsv(db, { agencyId: b.id, list: 'litigator', country: 'US' }, file(['7375550102']));
  await loadDncFile(db, { list: 'national_dnc', state: null }, file(['7375550103', '7375550101']));
  await loadDncFile(db, { list: 'state_dnc', state: 'TX' }, file(['7375550103']));

  const asked = [
    { agencyId: a.id, phoneE164: '+17375550101', email: null },
    { agencyId: b.id, phoneE164: '+17375550101', email: 'gone@example.com' },
    { agencyId: b.id, phoneE164: '+17375550102', email: null },
    { agencyId: a.id, phoneE164: '+17375550102', email: 'GONE@example.com ' },
    { agencyId: a.id, phoneE164: '+17375550103', email: null },
    { agencyId: b.id, phoneE164: null, email: 'someone@example.com' },
    { agencyId: a.id, phoneE164: '+17375550199', email: 'someone@example.com' },
  ];
  const expected = [
    [
      { list: 'do_not_contact', dnc: false },
      { list: 'national_dnc', dnc: true },
    ],
    [{ list: 'national_dnc', dnc: true }],
    [{ list: 'litigator', dnc: false }],
    [{ list: 'do_not_contact', dnc: false }],
    [
      { list: 'national_dnc', dnc: true },
      { list: 'state_dnc:TX', dnc: true },
    ],
    [],
    [],
  ];

  // One at a time, inside a transaction (the sale's path): the reference answers.
  const one = await db.transaction(async (tx) => {
    const out = [];
    for (const q of asked) out.push(await suppressionHits(db, q.agencyId, q, tx));
    return out;
  });
  expect(one).toEqual(expected);

  // All at once through a handle whose statements are recorded: the same answers, two statements for the burst.
  const url = process.env.TEST_DATABASE_URL!;
  const recorded = await recordingDatabase(url);
  try {
    // The keys first (each scope's salt read once per handle, then kept), so the burst's statements are the lists'.
    await Promise.all(asked.map((q) => suppressionHits(recorded.database.db, q.agencyId, q)));
    recorded.statements.length = 0;
    const burst = await Promise.all(asked.map((q) => suppressionHits(recorded.database.db, q.agencyId, q)));
    expect(burst).toEqual(expected);
    expect(recorded.statements).toHaveLength(2);
    expect(recorded.statements.filter((s) => /from "suppression_entries"/.test(s))).toHaveLength(1);
    expect(recorded.statements.filter((s) => /from "dnc_entries"/.test(s))).toHaveLength(1);
  } finally {
    await recorded.database.close();
  }
});
