/**
 * The zod schemas of api/routes/account.ts: a signed-in person's own account
 * (display name, password) and their sessions.
 */
import { z } from 'zod';

import { SIGN_IN_METHODS } from '../../domain/accounts';
import { Id, IsoTime, Nullable } from '../schema-blocks';
import { DisplayName, PasswordInput, UserView } from './session.schemas';

export const AccountPatchBody = z.object({ displayName: DisplayName }).strict();

export const PasswordChangeBody = z
  .object({
    currentPassword: PasswordInput.optional().describe('required when the person has a password'),
    newPassword: PasswordInput,
  })
  .strict();

export const SessionView = z.object({
  id: Id,
  current: z.boolean().describe('the session this request was made with'),
  method: z.enum(SIGN_IN_METHODS),
  device: z.string().describe('browser and system from its User-Agent, e.g. "Chrome on Linux"'),
  ip: Nullable(z.string()),
  createdAt: IsoTime,
  lastUsedAt: IsoTime,
  expiresAt: IsoTime,
});

export const Responses = {
  User: UserView,
  Sessions: z.object({ sessions: z.array(SessionView) }),
};
