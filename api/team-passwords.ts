/**
 * The passwords first-run setup and accepting an invitation need, behind
 * three small functions: hash a new password, check one against the policy,
 * verify a stored one. A stand-in (argon2id with OWASP's minimum parameters,
 * length ≥ 12) until lib/passwords.ts lands: swap these bodies for its
 * hashPassword / passwordProblem / verifyPassword when merging.
 */
import { Algorithm, hash, verify } from '@node-rs/argon2';

const PARAMS = { algorithm: Algorithm.Argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export const hashNewPassword = (password: string): Promise<string> => hash(password, PARAMS);

/** Why `password` cannot be a new password, or null. */
export function newPasswordProblem(password: string): string | null {
  const length = [...password].length;
  if (length < 12) return 'Use at least 12 characters.';
  if (length > 256) return 'Use at most 256 characters.';
  return null;
}

export async function verifyStoredPassword(stored: string | null, password: string): Promise<boolean> {
  if (!stored) return false;
  try {
    return await verify(stored, password);
  } catch {
    return false;
  }
}
