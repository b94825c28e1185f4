import type { FastifyReply, FastifyRequest } from 'fastify';
import { odata } from '../http.js';
import type { SandboxState } from '../state.js';
import { GRAPH_ERRORS, sendGraphError } from './errors.js';

/** `$top` within [1, max] (default `fallback`); sends Graph's 400 and returns undefined otherwise. */
export function topParam(
  req: FastifyRequest,
  reply: FastifyReply,
  fallback: number,
  max: number,
): number | undefined {
  const raw = odata(req.query).get('$top');
  if (raw === undefined) {
    return fallback;
  }
  const n = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(n >= 1 && n <= max)) {
    GRAPH_ERRORS.badTop(req, reply, raw, max);
    return undefined;
  }
  return n;
}

/** Where a `$skiptoken` points ({segment:0,pos:0} without one); sends the 400 for a bad one. */
export function skipToken(
  state: SandboxState,
  req: FastifyRequest,
  reply: FastifyReply,
  kind: string,
): { segment: number; pos: number } | undefined {
  const raw = odata(req.query).get('$skiptoken');
  if (raw === undefined) {
    return { segment: 0, pos: 0 };
  }
  const at = state.pages.decode(kind, raw);
  if (!at) {
    GRAPH_ERRORS.badPageToken(req, reply);
  }
  return at;
}

/** `$select` resolved against `known` property names (case-insensitively), or a 400. */
export function selectParam(
  req: FastifyRequest,
  reply: FastifyReply,
  known: readonly string[],
  type: string,
): string[] | null | undefined {
  const raw = odata(req.query).get('$select');
  if (raw === undefined || raw.trim() === '') {
    return null;
  }
  const out: string[] = [];
  for (const name of raw.split(',').map((s) => s.trim())) {
    const canonical = known.find((k) => k.toLowerCase() === name.toLowerCase());
    if (!canonical) {
      sendGraphError(
        req,
        reply,
        400,
        'BadRequest',
        `Parsing OData Select and Expand failed: Could not find a property named '${name}' on type 'microsoft.graph.${type}'.`,
      );
      return undefined;
    }
    out.push(canonical);
  }
  return out;
}

export function project(record: Record<string, unknown>, props: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const p of props) {
    out[p] = record[p] ?? null;
  }
  return out;
}

/**
 * `@odata.nextLink`: the same request with its query options kept (`$` unescaped, as Graph writes
 * them) and a fresh `$skiptoken`; absolute, on the sandbox's link origin.
 */
export function nextLink(state: SandboxState, req: FastifyRequest, token: string): string {
  const path = req.url.split('?')[0] ?? '';
  const parts: string[] = [];
  for (const [k, v] of odataEntries(req.query)) {
    const lower = k.toLowerCase();
    if (lower !== '$skiptoken' && lower !== '$skip') {
      parts.push(`${k}=${encodeURIComponent(v)}`);
    }
  }
  parts.push(`$skiptoken=${token}`);
  return `${state.graphLinkOrigin}${path}?${parts.join('&')}`;
}

function odataEntries(query: unknown): [string, string][] {
  const out: [string, string][] = [];
  for (const [k, v] of Object.entries((query as Record<string, unknown>) ?? {})) {
    const value = Array.isArray(v) ? v[0] : v;
    if (typeof value === 'string') {
      out.push([k, value]);
    }
  }
  return out;
}

export function contextUrl(state: SandboxState, fragment: string): string {
  return `${state.graphLinkOrigin}/v1.0/$metadata#${fragment}`;
}
