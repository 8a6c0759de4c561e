/**
 * A real OpenID provider for the single sign-on tests: `oidc-provider` (ESM-only,
 * loaded with a real dynamic import) as an issuer on 127.0.0.1 with one
 * confidential client, people the test defines (their email, whether it is
 * verified, their name), and a programmatic interaction that signs in
 * whoever the test names with `signInAs` – no form, but the provider's own
 * login, consent, code, token, ID token and userinfo endpoints.
 *
 * `Browser` follows redirects with fetch and a cookie jar per host and port,
 * as a browser navigating top-level would.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

import { importEsm } from '../../lib/esm';

interface Person {
  email: string;
  email_verified: boolean;
  name?: string;
}

interface ProviderLike {
  callback(): (req: http.IncomingMessage, res: http.ServerResponse) => void;
  interactionDetails(req: http.IncomingMessage, res: http.ServerResponse): Promise<{ params: Record<string, string> }>;
  interactionFinished(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    result: Record<string, unknown>,
    options: { mergeWithLastSubmission: boolean },
  ): Promise<void>;
  Grant: new (init: { accountId: string; clientId: string }) => {
    addOIDCScope(s: string): void;
    save(): Promise<string>;
  };
}

export interface TestProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Defines (or redefines) a person the provider can sign in. */
  person(id: string, claims: Person): void;
  /** Who the next interaction signs in. */
  signInAs(id: string): void;
  close(): Promise<void>;
}

export async function startTestProvider(opts: { redirectUri: string }): Promise<TestProvider> {
  const { default: Provider } = (await importEsm('oidc-provider')) as {
    default: new (issuer: string, config: Record<string, unknown>) => ProviderLike;
  };
  const people = new Map<string, Person>();
  let next: string | null = null;
  const clientId = 'leadwire-test';
  const clientSecret = 'test-client-secret-6f1c2a9e8b7d';

  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const { privateKey: signingKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: [opts.redirectUri],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_post',
      },
    ],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    cookies: { keys: ['test-provider-cookie-key'] },
    jwks: { keys: [{ ...signingKey.export({ format: 'jwk' }), kid: 'test', alg: 'RS256', use: 'sig' }] },
    ttl: { AccessToken: 600, AuthorizationCode: 60, Grant: 600, IdToken: 600, Interaction: 600, Session: 600 },
    findAccount: (_ctx: unknown, id: string) => {
      const person = people.get(id);
      if (!person) return undefined;
      return { accountId: id, claims: () => ({ sub: id, ...person }) };
    },
  });
  const handle = provider.callback();

  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (!req.url?.startsWith('/interaction/')) return handle(req, res);
    void (async () => {
      try {
        const details = await provider.interactionDetails(req, res);
        const accountId = next;
        if (!accountId) throw new Error('the test named nobody to sign in');
        const grant = new provider.Grant({ accountId, clientId: details.params.client_id! });
        grant.addOIDCScope('openid email profile');
        const grantId = await grant.save();
        await provider.interactionFinished(
          req,
          res,
          { login: { accountId }, consent: { grantId } },
          { mergeWithLastSubmission: false },
        );
      } catch (err) {
        res.statusCode = 500;
        res.end(String(err));
      }
    })();
  });

  return {
    issuer,
    clientId,
    clientSecret,
    person: (id, claims) => people.set(id, claims),
    signInAs: (id) => {
      next = id;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A browser's navigation: fetch without following redirects, cookies kept per origin. */
export class Browser {
  readonly jar = new Map<string, Map<string, string>>();

  cookie(origin: string, name: string): string | undefined {
    return this.jar.get(origin)?.get(name);
  }

  async get(url: string): Promise<Response> {
    const u = new URL(url);
    const cookies = [...(this.jar.get(u.origin) ?? new Map<string, string>())].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await fetch(u, { redirect: 'manual', headers: cookies ? { cookie: cookies } : {} });
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const gone = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a) || /^\s*expires=thu, 01 jan 1970/i.test(a));
      const jar = this.jar.get(u.origin) ?? new Map<string, string>();
      if (gone || !value) jar.delete(name);
      else jar.set(name, value);
      this.jar.set(u.origin, jar);
    }
    return res;
  }

  /**
   * Follows redirects from `url` until one leaves for `stopAt` (an origin and
   * path prefix), or a page answers; answers the last URL asked for, that
   * response, and the location it pointed to (absolute).
   */
  async follow(
    url: string,
    stop: (location: URL) => boolean,
  ): Promise<{ url: string; res: Response; location: URL | null }> {
    let current = url;
    for (let hop = 0; hop < 20; hop++) {
      const res = await this.get(current);
      const location = res.headers.get('location');
      if (res.status < 300 || res.status >= 400 || !location) return { url: current, res, location: null };
      const next = new URL(location, current);
      if (stop(next)) return { url: current, res, location: next };
      current = next.href;
    }
    throw new Error(`too many redirects from ${url}`);
  }
}
