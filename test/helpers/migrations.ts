/**
 * Migration folders for the tests of one migration over data written before it. Drizzle's migrator applies the
 * migrations newer than the newest one applied, so such a test migrates a database with a folder of the migrations
 * before it, writes its data, then applies a folder holding the migration alone.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { MIGRATIONS_DIR } from '../../db/connection';

export interface JournalEntry {
  idx: number;
  tag: string;
  when: number;
}

/** The project's migration journal (db/migrations/meta/_journal.json), its entries in order. */
export function migrationJournal(): JournalEntry[] {
  const journal = JSON.parse(fs.readFileSync(path.join(MIGRATIONS_DIR, 'meta/_journal.json'), 'utf8')) as {
    entries: JournalEntry[];
  };
  return journal.entries;
}

/** Temporary migration folders, removed together by `remove()`. */
export class MigrationFolders {
  private readonly dirs: string[] = [];

  /** A folder holding a journal of these entries (as given: a test may restamp `when`) and their SQL files. */
  folder(entries: JournalEntry[]): string {
    const journal = JSON.parse(fs.readFileSync(path.join(MIGRATIONS_DIR, 'meta/_journal.json'), 'utf8')) as object;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leadwire-migrations-'));
    this.dirs.push(dir);
    fs.mkdirSync(path.join(dir, 'meta'));
    fs.writeFileSync(path.join(dir, 'meta/_journal.json'), JSON.stringify({ ...journal, entries }));
    for (const e of entries) fs.copyFileSync(path.join(MIGRATIONS_DIR, `${e.tag}.sql`), path.join(dir, `${e.tag}.sql`));
    return dir;
  }

  /** The migrations before `tag` (`before`), and `tag` alone (`only`), with its journal stamp. */
  around(tag: string): { before: string; only: string; when: number } {
    const entries = migrationJournal();
    const entry = entries.find((e) => e.tag === tag);
    if (!entry) throw new Error(`no migration ${tag} in the journal`);
    return {
      before: this.folder(entries.filter((e) => e.when < entry.when)),
      only: this.folder([entry]),
      when: entry.when,
    };
  }

  remove(): void {
    for (const dir of this.dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  }
}
