/**
 * The master keys' tools (docs/security.md):
 *
 *   npm run keys:generate [-- <id>]   prints a new master key entry `<id>:<base64 of 32 random bytes>`
 *   npm run keys:rotate               re-encrypts every stored secret under the current (first) master key of
 *                                     LEADWIRE_MASTER_KEYS, in batches, until none is left under another key
 *
 * `keys:rotate` opens the database as the processes do (DATABASE_URL, else the running `npm start`'s, else PGlite
 * in LW_DATA_DIR), so it first checks that every key the stored secrets name is configured and seals any secret
 * still in clear. The worker runs the same job in the background (a batch every 30 s); this command finishes it now
 * and says when the old keys may be removed.
 */
import { loadConfig, openDatabaseFor } from '../bin/runtime';
import { withRunningStack } from '../bin/stack';
import { rotateSecrets } from '../db/key-store';
import { generateMasterKey, keyStore } from '../lib/key-store';

async function rotate(): Promise<number> {
  const { config } = withRunningStack(loadConfig());
  const database = await openDatabaseFor(config);
  try {
    let moved = 0;
    for (;;) {
      const pass = await rotateSecrets(database.db, 500);
      moved += pass.moved;
      if (pass.moved === 0) {
        const current = keyStore().currentKeyId;
        if (pass.staleKeyIds.length > 0) {
          console.error(`secrets under ${pass.staleKeyIds.join(', ')} could not be moved to "${current}"`);
          return 1;
        }
        const others = keyStore().keyIds.filter((id) => id !== current);
        console.log(
          `${moved} secret row(s) re-encrypted; every stored secret is under master key "${current}".` +
            (others.length
              ? ` ${others.map((k) => `"${k}"`).join(', ')} may now be removed from LEADWIRE_MASTER_KEYS.`
              : ''),
        );
        return 0;
      }
    }
  } finally {
    await database.close();
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === 'generate') {
    console.log(generateMasterKey(rest[0]));
    return 0;
  }
  if (command === 'rotate') return rotate();
  console.error('usage: tsx ops/keys.ts generate [<id>] | rotate');
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
