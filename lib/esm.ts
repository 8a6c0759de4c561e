/**
 * A real dynamic `import()` from CommonJS code, for the ESM-only packages
 * (openid-client, oidc-provider): TypeScript's CommonJS output would turn
 * `import()` into `require()`, which cannot load them.
 *
 * The function's source carries a random tag, unique per evaluation of this
 * module: V8 caches compiled code by its source text, and a cached
 * `return import(…)` keeps the loader of the context that compiled it first.
 * Under Jest (one VM context per test file) an untagged copy in a second test
 * file would import through the first file's torn-down environment.
 */
import crypto from 'node:crypto';

export const importEsm = new Function('specifier', `return import(specifier); // ${crypto.randomUUID()}`) as (
  specifier: string,
) => Promise<unknown>;
