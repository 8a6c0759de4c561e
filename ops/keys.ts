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
import { commandLine, UsageError } from '../lib/cli';
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

const HELP = `Usage: npm run keys:generate [-- <id>]
       npm run keys:rotate

The master keys of the key store (docs/security.md).
  generate [<id>]   prints a new master key entry <id>:<base64 of 32 random bytes> for LEADWIRE_MASTER_KEYS
  rotate            re-encrypts every stored secret under the current (first) master key, then says which
                    old keys may be removed
  --help            this text`;

async function main(argv: string[]): Promise<number> {
  const { command, id } = commandLine({ help: HELP, options: {}, positionals: true }, argv, ({ positionals }) => {
    const [command, id, ...rest] = positionals;
    if (command !== 'generate' && command !== 'rotate') throw new UsageError('say generate or rotate');
    if (rest.length || (command === 'rotate' && id !== undefined))
      throw new UsageError(`Unexpected argument '${rest[0] ?? id}'`);
    return { command, id };
  });
  if (command === 'generate') {
    console.log(generateMasterKey(id));
    return 0;
  }
  return rotate();
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
