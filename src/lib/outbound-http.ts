import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { BlockList, isIP } from 'node:net';

/**
 * POSTs to URLs that outsiders chose (callbacks, notification channels) without letting them reach
 * our own network: only http(s), and unless allowed, no loopback, private, link-local, CGNAT,
 * multicast or unspecified addresses — checked on the address actually connected to (a custom DNS
 * lookup), so a name that resolves to 127.0.0.1 is refused as well.
 */
const blocked = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  blocked.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  // Site-local (deprecated, still routed inside some networks).
  ['fec0::', 10],
  // Local-use NAT64 (RFC 8215): translated by the site's own gateway, to anything.
  ['64:ff9b:1::', 48],
  ['ff00::', 8],
] as const) {
  blocked.addSubnet(net, prefix, 'ipv6');
}

/** The 16 bytes of an IPv6 address (`isIP(a) === 6`), a trailing dotted quad included. */
function ipv6Bytes(address: string): number[] {
  let text = address.split('%')[0] ?? '';
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (quad) {
    const [a, b, c, d] = quad.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, quad.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
  return groups.flatMap((g) => {
    const v = Number.parseInt(g || '0', 16);
    return [v >> 8, v & 0xff];
  });
}

/**
 * The IPv4 address an IPv6 one carries to the IPv4 internet, checked like any IPv4 target:
 * IPv4-mapped (::ffff:a.b.c.d, in either notation), NAT64 (64:ff9b::/96, RFC 6052) and 6to4
 * (2002:AABB:CCDD::/16, RFC 3056). Undefined for any other address.
 */
function embeddedIpv4(address: string): string | undefined {
  const b = ipv6Bytes(address);
  const v4 = (at: number) => b.slice(at, at + 4).join('.');
  const zeros = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  if (zeros(0, 10) && b[10] === 0xff && b[11] === 0xff) {
    return v4(12);
  }
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zeros(4, 12)) {
    return v4(12);
  }
  if (b[0] === 0x20 && b[1] === 0x02) {
    return v4(2);
  }
  return undefined;
}

export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) {
    return blocked.check(address, 'ipv4');
  }
  if (family === 6) {
    const v4 = embeddedIpv4(address);
    if (v4 !== undefined) {
      return blocked.check(v4, 'ipv4');
    }
    return blocked.check(address, 'ipv6');
  }
  return true;
}

export class OutboundUrlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OutboundUrlError';
  }
}

/** Syntax checks: absolute http(s) URL, no credentials, at most 2,048 characters. */
export function parseOutboundUrl(raw: string): URL {
  if (raw.length > 2048) {
    throw new OutboundUrlError('URL is longer than 2048 characters');
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new OutboundUrlError('must be an absolute URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new OutboundUrlError('must use http or https');
  }
  if (url.username || url.password) {
    throw new OutboundUrlError('must not contain credentials');
  }
  return url;
}

/** How long a callback host may take to resolve when a request names it. */
export const RESOLVE_TIMEOUT_MS = 5_000;

function resolveHost(host: string, timeoutMs: number): Promise<string[]> {
  if (isIP(host)) {
    return Promise.resolve([host]);
  }
  return new Promise<string[]>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new OutboundUrlError(`host ${host} did not resolve within ${timeoutMs} ms`)),
      timeoutMs,
    );
    dnsLookup(host, { all: true }, (err, found: LookupAddress[]) => {
      clearTimeout(timer);
      if (err) {
        reject(new OutboundUrlError(`host ${host} does not resolve`));
      } else {
        resolve(found.map((a) => a.address));
      }
    });
  });
}

const hostOf = (url: URL) => url.hostname.replace(/^\[|\]$/g, '');

async function checkHost(host: string, timeoutMs: number): Promise<void> {
  if ((await resolveHost(host, timeoutMs)).some(isPrivateAddress)) {
    throw new OutboundUrlError(`host ${host} resolves to a private, loopback or link-local address`);
  }
}

/** Resolves the URL's host and refuses private targets unless `allowPrivate`. */
export async function checkOutboundUrl(
  raw: string,
  allowPrivate: boolean,
  timeoutMs = RESOLVE_TIMEOUT_MS,
): Promise<URL> {
  const url = parseOutboundUrl(raw);
  if (!allowPrivate) {
    await checkHost(hostOf(url), timeoutMs);
  }
  return url;
}

/**
 * `checkOutboundUrl` for many URLs at once (a bulk request): each distinct host is resolved once,
 * all at the same time, each within `timeoutMs`. Returns the problem of each URL that has one.
 */
export async function checkOutboundUrls(
  raws: string[],
  allowPrivate: boolean,
  timeoutMs = RESOLVE_TIMEOUT_MS,
): Promise<Map<string, string>> {
  const problems = new Map<string, string>();
  const byHost = new Map<string, string[]>();
  for (const raw of new Set(raws)) {
    try {
      const host = hostOf(parseOutboundUrl(raw));
      byHost.set(host, [...(byHost.get(host) ?? []), raw]);
    } catch (err) {
      problems.set(raw, (err as Error).message);
    }
  }
  if (!allowPrivate) {
    await Promise.all(
      [...byHost].map(async ([host, urls]) => {
        try {
          await checkHost(host, timeoutMs);
        } catch (err) {
          for (const raw of urls) {
            problems.set(raw, err instanceof OutboundUrlError ? err.message : 'is not a usable URL');
          }
        }
      }),
    );
  }
  return problems;
}

export type PostResult = { status: number } | { error: string };

/**
 * Kept-alive connections per receiver origin: at organization scale one receiver takes thousands
 * of callbacks, and a TCP (and TLS) handshake each would cost more than the POST itself.
 */
const agents = {
  http: new HttpAgent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 256, timeout: 30_000 }),
  https: new HttpsAgent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 256, timeout: 30_000 }),
};

/**
 * One POST attempt; never stores or returns the response body. `timeoutMs` is a total deadline
 * from the start until the response's status line, so a receiver that trickles bytes cannot hold a
 * sending slot for longer than that.
 */
export function postJson(
  raw: string,
  body: string,
  headers: Record<string, string>,
  opts: { timeoutMs: number; allowPrivate: boolean },
): Promise<PostResult> {
  let url: URL;
  try {
    url = parseOutboundUrl(raw);
  } catch (err) {
    return Promise.resolve({ error: (err as Error).message });
  }
  const guardedLookup: typeof dnsLookup = ((
    hostname: string,
    options: object,
    callback: (...a: unknown[]) => void,
  ) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) {
        callback(err);
        return;
      }
      const allowed = opts.allowPrivate ? addresses : addresses.filter((a) => !isPrivateAddress(a.address));
      if (allowed.length === 0) {
        callback(
          new OutboundUrlError(`host ${hostname} resolves to a private, loopback or link-local address`),
        );
        return;
      }
      if ((options as { all?: boolean }).all) {
        callback(null, allowed);
      } else {
        const first = allowed[0] as LookupAddress;
        callback(null, first.address, first.family);
      }
    });
  }) as typeof dnsLookup;
  if (
    !opts.allowPrivate &&
    isIP(url.hostname.replace(/^\[|\]$/g, '')) &&
    isPrivateAddress(url.hostname.replace(/^\[|\]$/g, ''))
  ) {
    return Promise.resolve({ error: `address ${url.hostname} is private, loopback or link-local` });
  }
  const https = url.protocol === 'https:';
  const send = https ? httpsRequest : httpRequest;
  const started = Date.now();
  const attempt = (timeoutMs: number, retryStale: boolean): Promise<PostResult> =>
    new Promise((resolve) => {
      let done = false;
      const finish = (result: PostResult | Promise<PostResult>) => {
        if (!done) {
          done = true;
          clearTimeout(deadline);
          resolve(result);
        }
      };
      const req = send(
        url,
        {
          method: 'POST',
          agent: https ? agents.https : agents.http,
          lookup: guardedLookup,
          timeout: timeoutMs,
          headers: {
            'content-type': 'application/json; charset=utf-8',
            'content-length': Buffer.byteLength(body),
            ...headers,
          },
        },
        (res) => {
          res.resume();
          finish({ status: res.statusCode ?? 0 });
        },
      );
      const timedOut = () => req.destroy(new Error(`timed out after ${opts.timeoutMs} ms`));
      const deadline = setTimeout(timedOut, timeoutMs);
      req.on('timeout', timedOut);
      req.on('error', (err: NodeJS.ErrnoException) => {
        // A kept-alive connection the receiver closed while it sat idle fails on its first write:
        // that is no answer from the receiver, so try once more on a new connection.
        const stale = req.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE');
        const left = opts.timeoutMs - (Date.now() - started);
        finish(stale && retryStale && left > 0 ? attempt(left, false) : { error: err.message });
      });
      req.end(body);
    });
  return attempt(opts.timeoutMs, true);
}
