import type { FastifyRequest } from 'fastify';

/** Which wire format a route speaks; faults, counters and error bodies follow it. */
export type RouteKind = 'google-token' | 'google-api' | 'microsoft-token' | 'graph' | 'control';

declare module 'fastify' {
  interface FastifyContextConfig {
    kind?: RouteKind;
    /** Graph routes addressed to one mailbox: the path parameter naming it (for concurrency limits). */
    mailboxParam?: string;
    /** The JSON batch envelope: its requests are delayed and faulted one by one, the envelope is not. */
    envelope?: boolean;
  }
}

export type Query = Record<string, string | string[] | undefined>;

/** The first value of a query parameter (repeated parameters keep the first, as most servers do). */
export function param(query: unknown, name: string): string | undefined {
  const v = (query as Query | undefined)?.[name];
  return Array.isArray(v) ? v[0] : v;
}

/** OData system query options, whose names Graph matches case-insensitively (`$skipToken`, `$skiptoken`). */
export function odata(query: unknown): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries((query as Query | undefined) ?? {})) {
    const value = Array.isArray(v) ? v[0] : v;
    if (value !== undefined) {
      out.set(k.toLowerCase(), value);
    }
  }
  return out;
}

export function bearer(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  if (!h) {
    return undefined;
  }
  const m = /^Bearer\s+(.*)$/i.exec(h);
  return m ? (m[1] ?? '').trim() : undefined;
}

/** A form or JSON body as a string map (token endpoints accept `application/x-www-form-urlencoded`). */
export function formBody(req: FastifyRequest): Record<string, string> {
  const b = req.body;
  if (!b || typeof b !== 'object') {
    return {};
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(b as Record<string, unknown>)) {
    if (typeof v === 'string') {
      out[k] = v;
    }
  }
  return out;
}

/** A positive integer parameter in [min, max], `fallback` when absent, or an error string. */
export function intParam(
  raw: string | undefined,
  fallback: number,
  min: number,
  max: number,
): { value: number } | { error: string } {
  if (raw === undefined || raw === '') {
    return { value: fallback };
  }
  if (!/^-?\d+$/.test(raw)) {
    return { error: raw };
  }
  const n = Number(raw);
  return n < min || n > max ? { error: raw } : { value: n };
}

/** FNV-1a over a string, hex — cheap deterministic etags and change keys. */
export function fnv(text: string): string {
  let h = 0x811c9dc5;
  for (let k = 0; k < text.length; k++) {
    h ^= text.charCodeAt(k);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}
