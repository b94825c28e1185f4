import { ConfidentialClientApplication, type INetworkModule, type NetworkResponse } from '@azure/msal-node';
import {
  AuthenticationHandler,
  Client,
  type Context,
  HTTPMessageHandler,
  RedirectHandler,
  RedirectHandlerOptions,
  RetryHandler,
  RetryHandlerOptions,
  TelemetryHandler,
} from '@microsoft/microsoft-graph-client';
import { JWT } from 'google-auth-library';
import { google } from 'googleapis';
import type { GoogleServiceAccountKey, Sandbox } from '../../src/sandbox/index.js';

/**
 * The real SDKs pointed at a sandbox exactly as providers.md §0 proved works: Google's token POST
 * rewritten on the JWT's own transporter, googleapis with a per-API rootUrl; MSAL with a network
 * client that rewrites the login origin; graph-client with only its last handler swapped.
 */

export const SCOPES = {
  directoryUsers: 'https://www.googleapis.com/auth/admin.directory.user.readonly',
  directoryRooms: 'https://www.googleapis.com/auth/admin.directory.resource.calendar.readonly',
  calendar: 'https://www.googleapis.com/auth/calendar.readonly',
} as const;

export function googleJwt(
  sb: Sandbox,
  subject: string | undefined,
  scopes: string[],
  key: GoogleServiceAccountKey = sbGoogle(sb).serviceAccountKey,
): JWT {
  const jwt = new JWT({
    email: key.client_email,
    key: key.private_key,
    scopes,
    ...(subject === undefined ? {} : { subject }),
  });
  jwt.transporter.interceptors.request.add({
    resolved: async (cfg) => {
      const u = new URL(String(cfg.url));
      if (u.origin === 'https://oauth2.googleapis.com') {
        cfg.url = new URL(u.pathname + u.search, sb.url);
      }
      return cfg;
    },
  });
  return jwt;
}

export function googleAdmin(sb: Sandbox, auth: JWT) {
  return google.admin({ version: 'directory_v1', auth, rootUrl: `${sb.url}/` });
}

export function googleCalendar(sb: Sandbox, auth: JWT) {
  return google.calendar({ version: 'v3', auth, rootUrl: `${sb.url}/` });
}

export function sbGoogle(sb: Sandbox): NonNullable<Sandbox['google']> {
  if (!sb.google) {
    throw new Error('sandbox has no Google org');
  }
  return sb.google;
}

export function sbMicrosoft(sb: Sandbox): NonNullable<Sandbox['microsoft']> {
  if (!sb.microsoft) {
    throw new Error('sandbox has no Microsoft org');
  }
  return sb.microsoft;
}

/** msal-node with a network client that sends login.microsoftonline.com traffic to the sandbox. */
export function msalApp(
  sb: Sandbox,
  opts: { clientId?: string; clientSecret?: string } = {},
): ConfidentialClientApplication {
  const m = sbMicrosoft(sb);
  const rewrite = (url: string) => url.replace('https://login.microsoftonline.com', sb.url);
  const send = async <T>(
    method: string,
    url: string,
    options?: { headers?: Record<string, string>; body?: string },
  ) => {
    const res = await fetch(rewrite(url), {
      method,
      headers: options?.headers ?? {},
      ...(method === 'POST' ? { body: options?.body ?? '' } : {}),
    });
    const response: NetworkResponse<T> = {
      status: res.status,
      headers: Object.fromEntries(res.headers),
      body: (await res.json()) as T,
    };
    return response;
  };
  const networkClient: INetworkModule = {
    sendGetRequestAsync: (url, options) => send('GET', url, options),
    sendPostRequestAsync: (url, options) => send('POST', url, options),
  };
  return new ConfidentialClientApplication({
    auth: {
      clientId: opts.clientId ?? m.clientId,
      clientSecret: opts.clientSecret ?? m.clientSecret,
      authority: `https://login.microsoftonline.com/${m.tenantId}`,
    },
    system: { networkClient },
  });
}

/** A Graph token with plain fetch (the response body, whatever the status). */
export async function fetchGraphToken(
  sb: Sandbox,
  form: Partial<Record<'client_id' | 'client_secret' | 'scope' | 'grant_type', string>> = {},
  tenant = sbMicrosoft(sb).tenantId,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const m = sbMicrosoft(sb);
  const res = await fetch(`${sb.url}/${tenant}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      client_id: m.clientId,
      client_secret: m.clientSecret,
      scope: 'https://graph.microsoft.com/.default',
      grant_type: 'client_credentials',
      ...form,
    }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

export async function graphToken(sb: Sandbox): Promise<string> {
  const { status, body } = await fetchGraphToken(sb);
  if (status !== 200) {
    throw new Error(`token endpoint said ${status}: ${JSON.stringify(body)}`);
  }
  return body.access_token as string;
}

/** graph-client over HTTP (variant B): the default chain, last handler rewriting Graph's origin. */
export function graphClient(
  sb: Sandbox,
  getToken: () => Promise<string>,
  opts: { retries?: number } = {},
): Client {
  class LocalHTTPMessageHandler extends HTTPMessageHandler {
    override async execute(ctx: Context): Promise<void> {
      const toSandbox = (url: string) => url.replace('https://graph.microsoft.com', sb.url);
      ctx.request =
        typeof ctx.request === 'string'
          ? toSandbox(ctx.request)
          : new Request(toSandbox(ctx.request.url), ctx.request);
      return super.execute(ctx);
    }
  }
  return Client.initWithMiddleware({
    middleware: [
      new AuthenticationHandler({ getAccessToken: getToken }),
      new RetryHandler(new RetryHandlerOptions(0, opts.retries ?? 0)),
      new RedirectHandler(new RedirectHandlerOptions()),
      new TelemetryHandler(),
      new LocalHTTPMessageHandler(),
    ],
  });
}

/** The rejection of a promise (fails the test when it resolves). */
export async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to fail, but it succeeded');
}
