/**
 * Passwords (#20): argon2id through `@node-rs/argon2` with OWASP's minimum
 * parameters (19 MiB, 2 passes, 1 lane), and the policy a new password must
 * meet – NIST SP 800-63B style: at least 12 characters, at most 256, not a
 * known common password (the 49,000 of `@zxcvbn-ts/language-common`, also
 * with digits or symbols tacked on), not the person's email.
 *
 * A sign-in for an unknown email verifies the password against a dummy hash,
 * so the answer takes the same work whether or not the account exists
 * (`verifications` counts every verification, so a test can assert the work).
 * A password is never logged: nothing here writes one anywhere.
 */
import { Algorithm, hash, verify } from '@node-rs/argon2';
import { dictionary } from '@zxcvbn-ts/language-common';

const PARAMS = { algorithm: Algorithm.Argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

const PASSWORD_MIN = 12;
const PASSWORD_MAX = 256;

let verificationCount = 0;
/** How many password verifications this process has done (real and dummy alike). */
export const verifications = (): number => verificationCount;

export function hashPassword(password: string): Promise<string> {
  return hash(password, PARAMS);
}

/** Whether `password` matches `stored`; a malformed hash is a mismatch, never a throw. */
export async function verifyPassword(stored: string, password: string): Promise<boolean> {
  verificationCount++;
  try {
    return await verify(stored, password);
  } catch {
    return false;
  }
}

let dummy: Promise<string> | null = null;
/** The same work as verifying a real password, for an email that has no account (or no password): always false. */
export async function verifyNothing(password: string): Promise<false> {
  dummy ??= hashPassword('leadwire dummy password for unknown accounts');
  await verifyPassword(await dummy, password);
  return false;
}

let common: Set<string> | null = null;
function isCommon(candidate: string): boolean {
  common ??= new Set(dictionary['passwords-common'] as string[]);
  return common.has(candidate);
}

/**
 * Why `password` cannot be a new password, or null when it can. `email`: the
 * person's address (its name part is refused inside the password).
 */
export function passwordProblem(password: string, email?: string): string | null {
  const length = [...password].length;
  if (length < PASSWORD_MIN) return `Use at least ${PASSWORD_MIN} characters.`;
  if (length > PASSWORD_MAX) return `Use at most ${PASSWORD_MAX} characters.`;
  const lower = password.toLowerCase();
  const core = lower.replace(/[\d\W_]+$/u, '').replace(/^[\d\W_]+/u, '');
  if (isCommon(lower) || (core.length >= 4 && isCommon(core)))
    return 'This password is one of the most common ones: choose another.';
  if (new Set(lower).size <= 2) return 'This password repeats one or two characters: choose another.';
  const name = email?.split('@')[0]?.toLowerCase();
  if (name && name.length >= 4 && lower.includes(name)) return 'Do not use your email address in your password.';
  return null;
}
