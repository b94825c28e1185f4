import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { createDirectoryProvider } from '../../src/providers/index.js';
import { NoopLimiter, type ProviderLimiter } from '../../src/providers/limiter.js';
import type { ProviderRuntime, ProviderUrls } from '../../src/providers/runtime.js';
import type {
  DirectoryProvider,
  GoogleCredentials,
  MicrosoftCredentials,
  ProviderReason,
} from '../../src/providers/types.js';
import { ProviderError } from '../../src/providers/types.js';
import type { Sandbox } from '../../src/sandbox/index.js';

export const quietLogger = pino({ level: 'silent' });

export function sandboxUrls(sb: Sandbox, googleApiUrl = sb.url): ProviderUrls {
  return {
    googleTokenUrl: `${sb.url}/token`,
    googleApiUrl,
    microsoftLoginUrl: sb.url,
    microsoftGraphUrl: sb.url,
  };
}

export function googleCredentials(sb: Sandbox): GoogleCredentials {
  const g = sb.google;
  if (!g) {
    throw new Error('sandbox has no Google org');
  }
  return {
    provider: 'google',
    domain: g.domain,
    adminEmail: g.adminEmail,
    key: g.serviceAccountKey,
    customerId: g.customerId,
  };
}

export function microsoftCredentials(
  sb: Sandbox,
  overrides: Partial<MicrosoftCredentials> = {},
): MicrosoftCredentials {
  const m = sb.microsoft;
  if (!m) {
    throw new Error('sandbox has no Microsoft org');
  }
  return {
    provider: 'microsoft',
    domain: m.domain,
    tenantId: m.tenantId,
    clientId: m.clientId,
    clientSecret: m.clientSecret,
    ...overrides,
  };
}

export function providerFor(
  credentials: GoogleCredentials | MicrosoftCredentials,
  urls: ProviderUrls,
  opts: Partial<Omit<ProviderRuntime, 'urls'>> & { limiter?: ProviderLimiter } = {},
): DirectoryProvider {
  return createDirectoryProvider(credentials, {
    limiter: new NoopLimiter(),
    logger: quietLogger,
    serviceAccountId: 'ser_test',
    ...opts,
    urls,
  });
}

/** The reason code a promise fails with (or 'resolved'). */
export async function reasonOf(p: Promise<unknown>): Promise<ProviderReason | 'resolved' | string> {
  try {
    await p;
    return 'resolved';
  } catch (err) {
    return err instanceof ProviderError ? err.reason : `not a ProviderError: ${String(err)}`;
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) {
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * A pass-through in front of the sandbox that adds the one Google route the adapter uses and the
 * sandbox does not serve yet: Directory `users.get` (`GET /admin/directory/v1/users/{userKey}`). It
 * answers it from the sandbox's own `users.list`, sent with the caller's token (so the sandbox still
 * checks the token, the admin subject, the scope and the Directory quota). Everything else is
 * forwarded unchanged.
 */
export async function startUsersGetShim(
  sandboxUrl: string,
): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', sandboxUrl);
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) {
        if (typeof v === 'string' && k !== 'host' && k !== 'content-length') {
          headers[k] = v;
        }
      }
      const get = /^\/admin\/directory\/v1\/users\/([^/]+)$/.exec(url.pathname);
      if (req.method === 'GET' && get) {
        const wanted = decodeURIComponent(get[1] as string).toLowerCase();
        let pageToken: string | undefined;
        for (;;) {
          const list = new URL('/admin/directory/v1/users', sandboxUrl);
          list.searchParams.set('customer', 'my_customer');
          list.searchParams.set('maxResults', '500');
          if (pageToken) {
            list.searchParams.set('pageToken', pageToken);
          }
          const r = await fetch(list, { headers });
          const text = await r.text();
          if (!r.ok) {
            res.writeHead(r.status, { 'content-type': 'application/json' }).end(text);
            return;
          }
          const body = JSON.parse(text) as {
            users?: { id: string; primaryEmail: string }[];
            nextPageToken?: string;
          };
          const hit = body.users?.find((u) => u.primaryEmail.toLowerCase() === wanted || u.id === wanted);
          if (hit) {
            res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(hit));
            return;
          }
          pageToken = body.nextPageToken;
          if (!pageToken) {
            res.writeHead(404, { 'content-type': 'application/json' }).end(
              JSON.stringify({
                error: {
                  code: 404,
                  message: 'Resource Not Found: userKey',
                  errors: [{ message: 'Resource Not Found: userKey', domain: 'global', reason: 'notFound' }],
                },
              }),
            );
            return;
          }
        }
      }
      const body = req.method === 'GET' || req.method === 'HEAD' ? undefined : await readBody(req);
      const r = await fetch(url, { method: req.method ?? 'GET', headers, ...(body ? { body } : {}) });
      const out: Record<string, string> = {};
      r.headers.forEach((v, k) => {
        if (k !== 'content-length' && k !== 'transfer-encoding' && k !== 'content-encoding') {
          out[k] = v;
        }
      });
      res.writeHead(r.status, out).end(Buffer.from(await r.arrayBuffer()));
    })().catch((err: unknown) => {
      res.writeHead(502).end(String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
