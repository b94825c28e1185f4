import type { FastifyReply, FastifyRequest } from 'fastify';
import type { DirUser } from '../generate.js';
import { odata } from '../http.js';
import type { Org } from '../org.js';
import { addressesOf, indexFromAddress, upnOf } from '../org-shape.js';
import type { MicrosoftTenant, SandboxState } from '../state.js';
import { sendGraphError } from './errors.js';
import { contextUrl, project } from './odata.js';

/**
 * A mailbox as Graph's `/users/{key}` resolves it: by object id or user principal name only (with
 * shapes, a mail or proxy address that is not the UPN is not found, as in Graph).
 */
export function findGraphMailbox(org: Org, key: string): ReturnType<Org['findMailbox']> {
  const found = org.findMailbox(key);
  if (!org.shapes) {
    return found;
  }
  const k = key.toLowerCase();
  if (found && 'user' in found) {
    return k === found.user.id.toLowerCase() || k === upnOf(found.user).toLowerCase() ? found : undefined;
  }
  if (found) {
    return found;
  }
  const i = indexFromAddress(k);
  const user = i === undefined ? undefined : org.users.at(i);
  return user && upnOf(user).toLowerCase() === k ? { user } : undefined;
}

const STRING = "'((?:[^']|'')*)'";
const MAIL_EQ = new RegExp(`^mail\\s+eq\\s+${STRING}$`, 'i');
const PROXY_ANY = new RegExp(`^proxyAddresses/any\\((\\w+):\\s*\\1\\s+eq\\s+${STRING}\\)$`, 'i');

/** One clause of an address filter, or undefined when the clause is not one. */
function clause(text: string): { kind: 'mail' | 'proxy'; value: string } | undefined {
  const t = text.trim();
  const mail = MAIL_EQ.exec(t);
  if (mail) {
    return { kind: 'mail', value: (mail[1] ?? '').replace(/''/g, "'") };
  }
  const proxy = PROXY_ANY.exec(t);
  return proxy ? { kind: 'proxy', value: (proxy[2] ?? '').replace(/''/g, "'") } : undefined;
}

/**
 * `/users?$filter=mail eq '…' or proxyAddresses/any(p:p eq 'smtp:…')` (either clause alone, or both
 * joined by `or`). As in Graph, one clause is a default query, while `or` across them is an advanced
 * query: it needs `ConsistencyLevel: eventual` and `$count=true` (else 400 Request_UnsupportedQuery).
 * Proxy addresses compare case-insensitively (`smtp:` matches the `SMTP:` primary). Returns false when
 * the filter is not an address filter (the caller answers it).
 */
export function serveAddressFilter(
  state: SandboxState,
  t: MicrosoftTenant,
  req: FastifyRequest,
  reply: FastifyReply,
  select: string[] | null,
  render: { record: (u: DirUser) => Record<string, unknown>; defaultProps: readonly string[] },
): boolean {
  const q = odata(req.query);
  const raw = q.get('$filter');
  if (raw === undefined) {
    return false;
  }
  const parts = raw.split(/\s+or\s+/i);
  const clauses = parts.map(clause);
  if (clauses.some((c) => c === undefined) || clauses.length > 2) {
    return false;
  }
  const advanced =
    String(req.headers.consistencylevel ?? '').toLowerCase() === 'eventual' && q.get('$count') === 'true';
  if (clauses.length > 1 && !advanced) {
    sendGraphError(
      req,
      reply,
      400,
      'Request_UnsupportedQuery',
      "Unsupported or invalid query filter clause specified for property 'proxyAddresses' of resource 'User'.",
    );
    return true;
  }
  const matches = new Map<string, DirUser>();
  for (const c of clauses as { kind: 'mail' | 'proxy'; value: string }[]) {
    const address = c.kind === 'proxy' ? (/^smtp:(.*)$/i.exec(c.value)?.[1] ?? '') : c.value;
    const user = userByAddress(t.org, address.toLowerCase());
    if (!user) {
      continue;
    }
    const ok =
      c.kind === 'mail'
        ? user.mailbox && user.email.toLowerCase() === address.toLowerCase()
        : addressesOf(user).includes(address.toLowerCase());
    if (ok) {
      matches.set(user.id, user);
    }
  }
  const value = [...matches.values()].map((u) => project(render.record(u), select ?? render.defaultProps));
  reply.send({
    '@odata.context': contextUrl(state, select ? `users(${select.join(',')})` : 'users'),
    ...(q.get('$count') === 'true' ? { '@odata.count': value.length } : {}),
    value,
  });
  return true;
}

/** The user whose mail or proxy address is `address` (lower-cased), if any. */
function userByAddress(org: Org, address: string): DirUser | undefined {
  const direct = org.users.find(address);
  if (direct) {
    return direct;
  }
  const i = indexFromAddress(address);
  const user = i === undefined ? undefined : org.users.at(i);
  return user && addressesOf(user).includes(address) ? user : undefined;
}
