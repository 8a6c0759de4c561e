/**
 * Two-factor and passkeys (#20): a signed-in person enrols TOTP (QR code,
 * confirmation, ten recovery codes shown once), regenerates the codes, turns
 * TOTP off, and registers, lists and deletes passkeys; a sign-in that owes its
 * second factor finishes here with a TOTP code, a recovery code or a passkey
 * (a new session id: nothing planted survives); a passkey with user
 * verification is also a whole way in; an agency owner decides whether the
 * agency requires a second factor of its owners and admins.
 *
 * The checks that refuse replays are in db/two-factor.ts (one conditional
 * statement each); the code rules and the per-user guess limit in
 * api/second-factor.ts.
 */
import { verify as verifyPassword } from '@node-rs/argon2';
import {
  type AuthenticationResponseJSON,
  generateAuthenticationOptions,
  generateRegistrationOptions,
  type RegistrationResponseJSON,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from '@simplewebauthn/server';
import { renderSVG } from 'uqr';

import { membershipsOf, userById, type UserRow } from '../../db/accounts';
import { requiresTwoFactor, setRequireTwoFactor } from '../../db/agencies';
import { isUniqueViolation } from '../../db/ledger';
import {
  addPasskey,
  consumeChallenge,
  deletePasskey,
  disableTotp,
  enableTotp,
  issueChallenge,
  passkeyByCredentialId,
  type PasskeyRow,
  passkeysOf,
  recordPasskeyUse,
  replaceRecoveryCodes,
  secondFactorsOf,
  startTotpEnrolment,
  unusedRecoveryCodes,
} from '../../db/two-factor';
import { Problem } from '../problem';
import { type AnyRoute, AUTH_ERRORS, BAD_INPUT, BODY_ERRORS, NOT_FOUND, type ResponseDoc, route } from '../route';
import {
  CHALLENGE_TTL_MS,
  challengeOfResponse,
  checkGuessesLeft,
  confirmStep,
  newRecoveryCodes,
  newTotpSeed,
  relyingParty,
  totpUrl,
  verifyRecoveryCode,
  verifyTotp,
  wrongCode,
} from '../second-factor';
import type { ApiServices } from '../services';
import type { SignedIn } from '../sessions';
import { startSession } from '../sessions';
import {
  PasskeyCreate,
  PasskeyParams,
  PasskeySignIn,
  RecoveryCodesRegenerate,
  Responses,
  SecondFactorBody,
  TotpConfirm,
  TotpDisable,
  TwoFactorRequirementChange,
} from './two-factor.schemas';

const RP_NAME = 'Leadwire';

/** What a session route can answer besides its own statuses. */
const SESSION_ERRORS: Record<number, ResponseDoc> = {
  401: {
    description:
      'not signed in (`unauthorized`), or the sign-in still owes its second factor (`second_factor_required`)',
  },
  403: {
    description:
      'an API key (`session_required`), another site (`cross_site_request`) or no CSRF token (`csrf_token_invalid`)',
  },
};
const CODE_ERRORS: Record<number, ResponseDoc> = {
  401: {
    description:
      'not signed in (`unauthorized`), the second factor still owed (`second_factor_required`), or the code not accepted (`second_factor_invalid`: wrong, or used already)',
  },
  429: { description: 'too many wrong codes for this account (`rate_limited`); Retry-After says when to try again' },
};

const passkeyView = (p: PasskeyRow) => ({
  id: p.id,
  name: p.name,
  createdAt: p.createdAt.toISOString(),
  lastUsedAt: p.lastUsedAt?.toISOString() ?? null,
});

/** The signed-in person (session routes always have one). */
const me = (signedIn: SignedIn | null): SignedIn => {
  if (!signedIn) throw new Problem(401, 'unauthorized', 'Sign in first.');
  return signedIn;
};

/** The user as stored now (a session's copy may predate the enrolment it is checking). */
async function freshUser(services: ApiServices, signedIn: SignedIn): Promise<UserRow> {
  const user = await userById(services.db, signedIn.user.id);
  if (!user) throw new Problem(401, 'unauthorized', 'Sign in first.');
  return user;
}

/**
 * Checks a passkey's answer to a challenge issued for `purpose` (and the
 * session, when bound): the challenge is used up first (a replayed answer
 * finds it gone), then the signature, origin, RP id and counter. Answers the
 * passkey and whether the person was verified (PIN, biometrics).
 */
async function verifyPasskeyAnswer(
  services: ApiServices,
  req: Parameters<typeof relyingParty>[1],
  response: AuthenticationResponseJSON,
  purpose: 'authentication' | 'second_factor',
  sessionId: string | null,
  fail: (what: string) => Problem,
): Promise<{ passkey: PasskeyRow; userVerified: boolean }> {
  const challenge = challengeOfResponse(response);
  if (!challenge || !(await consumeChallenge(services.db, challenge, purpose, sessionId)))
    throw fail('The passkey answered no challenge of ours, or one used or expired already: ask for new options.');
  const passkey = await passkeyByCredentialId(services.db, response.id);
  if (!passkey) throw fail('That passkey is not registered here.');
  const { rpID, origin } = relyingParty(services, req);
  let result: Awaited<ReturnType<typeof verifyAuthenticationResponse>>;
  try {
    result = await verifyAuthenticationResponse({
      response,
      expectedChallenge: challenge,
      expectedOrigin: origin,
      expectedRPID: rpID,
      credential: {
        id: passkey.credentialId,
        publicKey: Buffer.from(passkey.publicKey, 'base64url'),
        counter: passkey.counter,
      },
      requireUserVerification: false,
    });
  } catch {
    throw fail('The passkey signature was not accepted.');
  }
  if (!result.verified) throw fail('The passkey signature was not accepted.');
  if (!(await recordPasskeyUse(services.db, passkey.id, result.authenticationInfo.newCounter)))
    throw fail('The passkey signature counter went backwards (a cloned authenticator?).');
  return { passkey, userVerified: result.authenticationInfo.userVerified };
}

async function requestOptions(
  services: ApiServices,
  req: Parameters<typeof relyingParty>[1],
  purpose: 'authentication' | 'second_factor',
  sessionId: string | null,
  allow: PasskeyRow[] | null,
) {
  const { rpID } = relyingParty(services, req);
  const options = await generateAuthenticationOptions({
    rpID,
    userVerification: purpose === 'authentication' ? 'required' : 'preferred',
    ...(allow
      ? {
          allowCredentials: allow.map((p) => ({
            id: p.credentialId,
            transports: p.transports as AuthenticatorTransportFuture[],
          })),
        }
      : {}),
  });
  await issueChallenge(services.db, { challenge: options.challenge, purpose, sessionId, ttlMs: CHALLENGE_TTL_MS });
  return options;
}
type AuthenticatorTransportFuture = NonNullable<RegistrationResponseJSON['response']['transports']>[number];

export const twoFactorRoutes: AnyRoute[] = [
  // ─── the account: TOTP and recovery codes ──────────────────────────────────
  route({
    method: 'get',
    path: '/v1/account/two-factor',
    operationId: 'twoFactorStatus',
    tag: 'Account',
    summary: 'My second factors: TOTP on or off, recovery codes left, passkeys',
    session: 'full',
    responses: {
      200: { description: 'the state', schema: Responses.TwoFactorStatus },
      ...BAD_INPUT,
      ...SESSION_ERRORS,
    },
    async handler({ signedIn, services }) {
      const { user } = me(signedIn);
      const fresh = await freshUser(services, me(signedIn));
      return {
        status: 200,
        body: {
          totp: fresh.totpEnabledAt !== null,
          recoveryCodesLeft: fresh.totpEnabledAt ? await unusedRecoveryCodes(services.db, user.id) : 0,
          passkeys: (await passkeysOf(services.db, user.id)).length,
          secondFactors: await secondFactorsOf(services.db, user),
        },
      };
    },
  }),

  route({
    method: 'post',
    path: '/v1/account/totp',
    operationId: 'startTotp',
    tag: 'Account',
    summary: 'Start TOTP enrolment: a new seed as an otpauth URL, a QR code and base32; confirm it with a code',
    session: 'full',
    responses: {
      200: { description: 'the seed to scan (not active until confirmed)', schema: Responses.TotpEnrolment },
      409: { description: 'TOTP is on already: turn it off first (`conflict`)' },
      ...BAD_INPUT,
      ...SESSION_ERRORS,
    },
    async handler({ signedIn, services }) {
      const { user } = me(signedIn);
      const seed = newTotpSeed();
      if (!(await startTotpEnrolment(services.db, user.id, seed)))
        throw new Problem(409, 'conflict', 'TOTP is on already; turn it off before enrolling a new authenticator.');
      const otpauthUrl = totpUrl(seed, user.email);
      return { status: 200, body: { otpauthUrl, qrSvg: renderSVG(otpauthUrl), secret: seed } };
    },
  }),

  route({
    method: 'post',
    path: '/v1/account/totp/confirm',
    operationId: 'confirmTotp',
    tag: 'Account',
    summary: 'Turn TOTP on with a code from the new authenticator; answers ten recovery codes, shown this once',
    session: 'full',
    body: TotpConfirm,
    responses: {
      200: { description: 'TOTP is on', schema: Responses.RecoveryCodes },
      409: { description: 'no enrolment started, or TOTP is on already (`conflict`)' },
      ...BODY_ERRORS,
      ...SESSION_ERRORS,
      ...CODE_ERRORS,
    },
    async handler({ signedIn, body, services }) {
      const user = await freshUser(services, me(signedIn));
      if (user.totpEnabledAt || !user.totpSeedSealed)
        throw new Problem(409, 'conflict', 'Start an enrolment first (POST /v1/account/totp).');
      const step = confirmStep(services, user, body.code);
      const { codes, hashes } = newRecoveryCodes();
      if (!(await enableTotp(services.db, user.id, step, hashes))) throw wrongCode(services, user.id, 'code');
      return { status: 200, body: { recoveryCodes: codes } };
    },
  }),

  route({
    method: 'post',
    path: '/v1/account/totp/disable',
    operationId: 'disableTotp',
    tag: 'Account',
    summary: 'Turn TOTP off (a current code, or the password); the recovery codes go with it',
    session: 'full',
    body: TotpDisable,
    responses: {
      200: { description: 'TOTP is off', schema: Responses.TotpDisabled },
      409: { description: 'TOTP is not on (`conflict`)' },
      ...BODY_ERRORS,
      ...SESSION_ERRORS,
      ...CODE_ERRORS,
    },
    async handler({ signedIn, body, services }) {
      const user = await freshUser(services, me(signedIn));
      if (!user.totpEnabledAt) throw new Problem(409, 'conflict', 'TOTP is not on.');
      if (body.code !== undefined) await verifyTotp(services, user, body.code);
      else {
        checkGuessesLeft(services, user.id);
        const ok = user.passwordHash
          ? await verifyPassword(user.passwordHash, body.password!).catch(() => false)
          : false;
        if (!ok) throw wrongCode(services, user.id, 'password', 'The password is not right.');
      }
      await disableTotp(services.db, user.id);
      return { status: 200, body: { totp: false as const } };
    },
  }),

  route({
    method: 'post',
    path: '/v1/account/recovery-codes',
    operationId: 'regenerateRecoveryCodes',
    tag: 'Account',
    summary: 'Ten new recovery codes (a current TOTP code needed); the old ones stop working',
    session: 'full',
    body: RecoveryCodesRegenerate,
    responses: {
      200: { description: 'the new codes, shown this once', schema: Responses.RecoveryCodes },
      409: { description: 'TOTP is not on (`conflict`)' },
      ...BODY_ERRORS,
      ...SESSION_ERRORS,
      ...CODE_ERRORS,
    },
    async handler({ signedIn, body, services }) {
      const user = await freshUser(services, me(signedIn));
      if (!user.totpEnabledAt) throw new Problem(409, 'conflict', 'TOTP is not on.');
      await verifyTotp(services, user, body.code);
      const { codes, hashes } = newRecoveryCodes();
      await replaceRecoveryCodes(services.db, user.id, hashes);
      return { status: 200, body: { recoveryCodes: codes } };
    },
  }),

  // ─── the second step of a sign-in ──────────────────────────────────────────
  route({
    method: 'post',
    path: '/v1/auth/second-factor/options',
    operationId: 'secondFactorPasskeyOptions',
    tag: 'Sign-in',
    summary: "Passkey options for the second step of a sign-in (the person's own passkeys)",
    session: 'any',
    responses: {
      200: { description: 'request options', schema: Responses.RequestOptions },
      ...BAD_INPUT,
      ...SESSION_ERRORS,
    },
    async handler({ signedIn, req, services }) {
      const { session, user } = me(signedIn);
      const mine = await passkeysOf(services.db, user.id);
      return {
        status: 200,
        body: { options: await requestOptions(services, req, 'second_factor', session.id, mine) },
      };
    },
  }),

  route({
    method: 'post',
    path: '/v1/auth/second-factor',
    operationId: 'secondFactor',
    tag: 'Sign-in',
    summary:
      'Finish a sign-in with a TOTP code, a recovery code or a passkey: the session is replaced by a fully signed-in one (a new id)',
    session: 'any',
    body: SecondFactorBody,
    responses: {
      200: { description: 'signed in (a new session cookie)', schema: Responses.SignedInFull },
      409: { description: 'this session is signed in fully already (`conflict`)' },
      ...BODY_ERRORS,
      ...SESSION_ERRORS,
      ...CODE_ERRORS,
    },
    async handler({ signedIn, body, req, res, services }) {
      const s = me(signedIn);
      if (s.session.stage === 'full') throw new Problem(409, 'conflict', 'This session is signed in already.');
      const user = await freshUser(services, s);
      if (body.totp !== undefined) {
        if (!user.totpEnabledAt) throw wrongCode(services, user.id, 'totp');
        await verifyTotp(services, user, body.totp, 'totp');
      } else if (body.recoveryCode !== undefined) {
        await verifyRecoveryCode(services, user, body.recoveryCode);
      } else {
        checkGuessesLeft(services, user.id);
        const fail = (what: string) => wrongCode(services, user.id, 'passkey', what);
        const { passkey } = await verifyPasskeyAnswer(
          services,
          req,
          body.passkey as AuthenticationResponseJSON,
          'second_factor',
          s.session.id,
          fail,
        );
        if (passkey.userId !== user.id) throw fail('That passkey is not yours.');
      }
      await startSession(services.db, req, res, {
        user,
        membershipId: s.session.membershipId,
        method: s.session.method,
        stage: 'full',
        ip: services.clientIp(req),
      });
      return { status: 200, body: { stage: 'full' as const } };
    },
  }),

  // ─── passkeys: a whole way in ──────────────────────────────────────────────
  route({
    method: 'post',
    path: '/v1/auth/passkey/options',
    operationId: 'passkeySignInOptions',
    tag: 'Sign-in',
    summary:
      'Options to sign in with a passkey (discoverable: no email needed); the challenge lasts five minutes, once',
    responses: { 200: { description: 'request options', schema: Responses.RequestOptions }, ...BAD_INPUT },
    async handler({ req, services }) {
      return { status: 200, body: { options: await requestOptions(services, req, 'authentication', null, null) } };
    },
  }),

  route({
    method: 'post',
    path: '/v1/auth/passkey',
    operationId: 'passkeySignIn',
    tag: 'Sign-in',
    summary:
      'Sign in with a passkey: with user verification (PIN, biometrics) it counts as both factors; answers a session cookie',
    body: PasskeySignIn,
    responses: {
      200: { description: 'signed in (a new session cookie)', schema: Responses.SignedInFull },
      401: { description: 'the passkey was not accepted (`second_factor_invalid`)' },
      ...BODY_ERRORS,
    },
    async handler({ body, req, res, services }) {
      const fail = (what: string) =>
        new Problem(401, 'second_factor_invalid', what, {
          errors: [{ in: 'body', path: 'response', message: 'not accepted' }],
        });
      const { passkey, userVerified } = await verifyPasskeyAnswer(
        services,
        req,
        body.response as AuthenticationResponseJSON,
        'authentication',
        null,
        fail,
      );
      if (!userVerified)
        throw fail('The authenticator did not verify the person (PIN or biometrics); sign in with a password.');
      const user = await userById(services.db, passkey.userId);
      if (!user || user.disabledAt) throw fail('That passkey is not registered here.');
      const [membership] = await membershipsOf(services.db, user.id);
      await startSession(services.db, req, res, {
        user,
        membershipId: membership?.id ?? null,
        method: 'passkey',
        stage: 'full',
        ip: services.clientIp(req),
      });
      return { status: 200, body: { stage: 'full' as const } };
    },
  }),

  // ─── the account: passkeys ─────────────────────────────────────────────────
  route({
    method: 'post',
    path: '/v1/account/passkeys/options',
    operationId: 'passkeyRegistrationOptions',
    tag: 'Account',
    summary: 'Options to register a new passkey (the challenge is bound to this session, five minutes, once)',
    session: 'full',
    responses: {
      200: { description: 'creation options', schema: Responses.CreationOptions },
      ...BAD_INPUT,
      ...SESSION_ERRORS,
    },
    async handler({ signedIn, req, services }) {
      const { session, user } = me(signedIn);
      const { rpID } = relyingParty(services, req);
      const existing = await passkeysOf(services.db, user.id);
      const options = await generateRegistrationOptions({
        rpName: RP_NAME,
        rpID,
        userName: user.email,
        userDisplayName: user.displayName,
        userID: new TextEncoder().encode(user.id),
        attestationType: 'none',
        excludeCredentials: existing.map((p) => ({
          id: p.credentialId,
          transports: p.transports as AuthenticatorTransportFuture[],
        })),
        authenticatorSelection: { residentKey: 'required', userVerification: 'preferred' },
      });
      await issueChallenge(services.db, {
        challenge: options.challenge,
        purpose: 'registration',
        sessionId: session.id,
        ttlMs: CHALLENGE_TTL_MS,
      });
      return { status: 200, body: { options } };
    },
  }),

  route({
    method: 'post',
    path: '/v1/account/passkeys',
    operationId: 'addPasskey',
    tag: 'Account',
    summary: 'Register a passkey: the answer to the options, checked and stored with a name',
    session: 'full',
    body: PasskeyCreate,
    responses: {
      201: { description: 'registered', schema: Responses.Passkey },
      409: { description: 'this authenticator is registered already (`conflict`)' },
      ...BODY_ERRORS,
      ...SESSION_ERRORS,
    },
    async handler({ signedIn, body, req, services }) {
      const { session, user } = me(signedIn);
      const response = body.response as RegistrationResponseJSON;
      const invalid = (detail: string) =>
        new Problem(400, 'validation_failed', detail, {
          errors: [{ in: 'body', path: 'response', message: 'not accepted' }],
        });
      const challenge = challengeOfResponse(response);
      if (!challenge || !(await consumeChallenge(services.db, challenge, 'registration', session.id)))
        throw invalid('The answer is to no challenge of this session, or one used or expired: ask for new options.');
      const { rpID, origin } = relyingParty(services, req);
      let result: Awaited<ReturnType<typeof verifyRegistrationResponse>>;
      try {
        result = await verifyRegistrationResponse({
          response,
          expectedChallenge: challenge,
          expectedOrigin: origin,
          expectedRPID: rpID,
          requireUserVerification: false,
        });
      } catch {
        throw invalid('The passkey registration was not accepted.');
      }
      if (!result.verified || !result.registrationInfo) throw invalid('The passkey registration was not accepted.');
      const { credential } = result.registrationInfo;
      try {
        const row = await addPasskey(services.db, {
          userId: user.id,
          credentialId: credential.id,
          publicKey: Buffer.from(credential.publicKey).toString('base64url'),
          counter: credential.counter,
          transports: credential.transports ?? response.response.transports ?? [],
          name: body.name,
        });
        return { status: 201, body: { passkey: passkeyView(row) } };
      } catch (err) {
        if (isUniqueViolation(err, 'passkeys_credential_uq'))
          throw new Problem(409, 'conflict', 'This authenticator is registered already.');
        throw err;
      }
    },
  }),

  route({
    method: 'get',
    path: '/v1/account/passkeys',
    operationId: 'listPasskeys',
    tag: 'Account',
    summary: 'My passkeys',
    session: 'full',
    responses: { 200: { description: 'the passkeys', schema: Responses.Passkeys }, ...BAD_INPUT, ...SESSION_ERRORS },
    async handler({ signedIn, services }) {
      const rows = await passkeysOf(services.db, me(signedIn).user.id);
      return { status: 200, body: { passkeys: rows.map(passkeyView) } };
    },
  }),

  route({
    method: 'post',
    path: '/v1/account/passkeys/:id/delete',
    operationId: 'deletePasskey',
    tag: 'Account',
    summary: 'Delete one of my passkeys',
    session: 'full',
    params: PasskeyParams,
    responses: {
      200: { description: 'deleted', schema: Responses.PasskeyDeleted },
      ...BAD_INPUT,
      ...SESSION_ERRORS,
      ...NOT_FOUND,
    },
    async handler({ signedIn, params, services }) {
      if (!(await deletePasskey(services.db, me(signedIn).user.id, params.id)))
        throw new Problem(404, 'not_found', 'passkey not found');
      return { status: 200, body: { deleted: true as const } };
    },
  }),

  // ─── the agency's requirement ──────────────────────────────────────────────
  route({
    method: 'get',
    path: '/v1/settings/two-factor',
    operationId: 'getTwoFactorRequirement',
    tag: 'Agencies',
    summary: 'Whether the agency requires a second factor of its owners and admins',
    responses: {
      200: { description: 'the setting', schema: Responses.TwoFactorRequirement },
      ...BAD_INPUT,
      ...AUTH_ERRORS,
    },
    async handler({ principal, services }) {
      return { status: 200, body: { requireTwoFactor: await requiresTwoFactor(services.db, principal.agencyId) } };
    },
  }),

  route({
    method: 'post',
    path: '/v1/settings/two-factor',
    operationId: 'setTwoFactorRequirement',
    tag: 'Agencies',
    summary:
      'Require (or stop requiring) a second factor of the agency’s owners and admins – agency owners only; until they enrol one, their organisation routes answer 403 `two_factor_required`',
    body: TwoFactorRequirementChange,
    responses: {
      200: { description: 'the setting as changed', schema: Responses.TwoFactorRequirement },
      ...BODY_ERRORS,
      ...AUTH_ERRORS,
      403: {
        description: 'not an agency owner (`forbidden`), or the caller owes a second factor (`two_factor_required`)',
      },
    },
    async handler({ principal, body, services }) {
      await setRequireTwoFactor(services.db, principal.agencyId, body.required);
      return { status: 200, body: { requireTwoFactor: body.required } };
    },
  }),
];
