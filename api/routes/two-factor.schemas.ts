/**
 * The zod schemas of api/routes/two-factor.ts, kept beside it: TOTP
 * enrolment, recovery codes, the second step of a sign-in, passkeys (the
 * WebAuthn JSON that @simplewebauthn/browser produces), and the agency's
 * "require two-factor" setting.
 */
import { z } from 'zod';

import { Id, IsoTime, text } from '../schema-blocks';
import { SecondFactorKindSchema } from './session.schemas';

const TotpCode = z.string().regex(/^\d{6}$/, 'six digits');
const RecoveryCode = z
  .string()
  .regex(/^[A-Za-z0-9 -]{10,14}$/, 'a recovery code (xxxxx-xxxxx)')
  .describe('one of the recovery codes, dashes and case ignored');
const Base64Url = z.string().regex(/^[A-Za-z0-9_-]{1,4096}$/, 'base64url');
const BigBase64Url = z.string().regex(/^[A-Za-z0-9_-]{1,65536}$/, 'base64url');
const ClientExtensionResults = z.record(z.string(), z.unknown()).describe('the client extension results, as given');

/** A new passkey as the browser answers `navigator.credentials.create` (RegistrationResponseJSON). */
export const RegistrationResponse = z.object({
  id: Base64Url,
  rawId: Base64Url,
  type: z.literal('public-key'),
  authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional(),
  clientExtensionResults: ClientExtensionResults,
  response: z.object({
    clientDataJSON: BigBase64Url,
    attestationObject: BigBase64Url,
    authenticatorData: BigBase64Url.optional(),
    transports: z.array(z.string().max(32)).max(10).optional(),
    publicKeyAlgorithm: z.number().int().optional(),
    publicKey: BigBase64Url.optional(),
  }),
});

/** A passkey's signature as the browser answers `navigator.credentials.get` (AuthenticationResponseJSON). */
export const AuthenticationResponse = z.object({
  id: Base64Url,
  rawId: Base64Url,
  type: z.literal('public-key'),
  authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional(),
  clientExtensionResults: ClientExtensionResults,
  response: z.object({
    clientDataJSON: BigBase64Url,
    authenticatorData: BigBase64Url,
    signature: BigBase64Url,
    userHandle: Base64Url.optional(),
  }),
});

export const TotpConfirm = z.object({ code: TotpCode }).strict();
export const TotpDisable = z
  .object({
    code: TotpCode.optional(),
    password: z.string().min(1).max(1024).optional().describe("the account's password, instead of a code"),
  })
  .strict()
  .refine((b) => (b.code === undefined) !== (b.password === undefined), {
    message: 'give either code or password',
    path: ['code'],
  });
export const RecoveryCodesRegenerate = z.object({ code: TotpCode.describe('a current TOTP code') }).strict();

export const SecondFactorBody = z
  .object({
    totp: TotpCode.optional(),
    recoveryCode: RecoveryCode.optional(),
    passkey: AuthenticationResponse.optional().describe('the answer to POST /v1/auth/second-factor/options'),
  })
  .strict()
  .refine((b) => [b.totp, b.recoveryCode, b.passkey].filter((x) => x !== undefined).length === 1, {
    message: 'give exactly one of totp, recoveryCode or passkey',
    path: ['totp'],
  });

export const PasskeyCreate = z.object({ name: text(100), response: RegistrationResponse }).strict();
export const PasskeySignIn = z.object({ response: AuthenticationResponse }).strict();
export const TwoFactorRequirementChange = z.object({ required: z.boolean() }).strict();
export const PasskeyParams = z.object({ id: Id }).strict();

export const PasskeyView = z.object({ id: Id, name: z.string(), createdAt: IsoTime, lastUsedAt: IsoTime.nullable() });

/** WebAuthn options as @simplewebauthn/browser's startRegistration/startAuthentication take them (`optionsJSON`). */
const WebAuthnOptions = z.record(z.string(), z.unknown());

/**
 * The answers these routes document (their `responses`), each a named component by its key.
 */
export const Responses = {
  TwoFactorStatus: z.object({
    totp: z.boolean().describe('TOTP is enabled'),
    recoveryCodesLeft: z.number().int(),
    passkeys: z.number().int(),
    secondFactors: z.array(SecondFactorKindSchema).describe('what a sign-in may finish with'),
  }),
  TotpEnrolment: z.object({
    otpauthUrl: z.string().describe('otpauth:// URL for an authenticator app'),
    qrSvg: z.string().describe('the URL as a QR code (SVG)'),
    secret: z.string().describe('the seed in base32, for typing in by hand'),
  }),
  RecoveryCodes: z.object({ recoveryCodes: z.array(z.string()).describe('shown once; each works once') }),
  TotpDisabled: z.object({ totp: z.literal(false) }),
  SignedInFull: z.object({ stage: z.literal('full') }),
  CreationOptions: z.object({ options: WebAuthnOptions.describe('PublicKeyCredentialCreationOptionsJSON') }),
  RequestOptions: z.object({ options: WebAuthnOptions.describe('PublicKeyCredentialRequestOptionsJSON') }),
  Passkey: z.object({ passkey: PasskeyView }),
  Passkeys: z.object({ passkeys: z.array(PasskeyView) }),
  PasskeyDeleted: z.object({ deleted: z.literal(true) }),
  TwoFactorRequirement: z.object({ requireTwoFactor: z.boolean() }),
};
