import { createHmac, timingSafeEqual } from 'node:crypto';
import { LruMap } from '../lib/lru.js';

/** Verified JWTs remembered (signJwt's tokens: one per client per hour). */
const VERIFIED_KEPT = 1_000;

/**
 * Stateless, HMAC-signed values: access tokens and page tokens carry their own data, so a 200k-user
 * run issues 200k tokens without the sandbox remembering any of them.
 */
export class Signer {
  constructor(private readonly key: string | Buffer) {}

  mac(data: string, bytes = 32): string {
    return createHmac('sha256', this.key).update(data).digest().subarray(0, bytes).toString('base64url');
  }

  check(data: string, mac: string, bytes = 32): boolean {
    const want = Buffer.from(this.mac(data, bytes));
    const got = Buffer.from(mac);
    return want.length === got.length && timingSafeEqual(want, got);
  }

  /** `<prefix><b64url(json)>.<mac>` */
  signToken(prefix: string, payload: object): string {
    const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
    return `${prefix}${body}.${this.mac(body)}`;
  }

  verifyToken<T>(prefix: string, token: string): T | undefined {
    if (!token.startsWith(prefix)) {
      return undefined;
    }
    const [body, mac, extra] = token.slice(prefix.length).split('.');
    if (!body || !mac || extra !== undefined || !this.check(body, mac)) {
      return undefined;
    }
    try {
      return JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as T;
    } catch {
      return undefined;
    }
  }

  /** A compact JWT (HS256) — what Graph bearer tokens look like on the wire. */
  signJwt(payload: object): string {
    const head = Buffer.from(JSON.stringify({ typ: 'JWT', alg: 'HS256' })).toString('base64url');
    const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
    return `${head}.${body}.${this.mac(`${head}.${body}`)}`;
  }

  /**
   * The payload of a JWT this signer signed, or undefined. A token is immutable and every request
   * carries one, so the last few verified are remembered (the same answer, without the MAC again).
   */
  verifyJwt<T>(token: string): T | undefined {
    const known = this.verified.get(token);
    if (known !== undefined) {
      return known as T;
    }
    const payload = this.verifyJwtNow<T>(token);
    if (payload !== undefined) {
      this.verified.set(token, payload);
    }
    return payload;
  }

  private readonly verified = new LruMap<string, unknown>(VERIFIED_KEPT);

  private verifyJwtNow<T>(token: string): T | undefined {
    const parts = token.split('.');
    if (parts.length !== 3) {
      return undefined;
    }
    const [head, body, mac] = parts as [string, string, string];
    if (!this.check(`${head}.${body}`, mac)) {
      return undefined;
    }
    try {
      return JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as T;
    } catch {
      return undefined;
    }
  }
}

/**
 * Opaque page tokens: base64url of `kind:segment:position` plus a short MAC, so a token from another
 * listing, an edited token or garbage is refused with the provider's 400. The key derives from the
 * seed, so the same seed gives byte-identical pages.
 */
export class PageTokens {
  private readonly signer: Signer;

  constructor(seed: number) {
    this.signer = new Signer(`sandbox-page-token-${seed}`);
  }

  encode(kind: string, segment: number, pos: number): string {
    const data = `${kind}:${segment}:${pos}`;
    return Buffer.from(`${data}:${this.signer.mac(data, 9)}`).toString('base64url');
  }

  decode(kind: string, token: string): { segment: number; pos: number } | undefined {
    const text = Buffer.from(token, 'base64url').toString('utf8');
    const m = /^([a-z0-9.]+):(\d{1,3}):(\d{1,12}):([A-Za-z0-9_-]{12})$/.exec(text);
    if (!m || m[1] !== kind || !this.signer.check(`${m[1]}:${m[2]}:${m[3]}`, m[4] as string, 9)) {
      return undefined;
    }
    return { segment: Number(m[2]), pos: Number(m[3]) };
  }
}
