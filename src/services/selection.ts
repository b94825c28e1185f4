import { z } from 'zod';
import type { DbOrTx } from '../db/client.js';
import { copySelectionEmails, storeSelectionEmails } from '../db/queries/selection-emails.js';
import { type FieldProblem, ValidationError } from '../errors.js';
import {
  domainName,
  isEmailAddress,
  MAX_SELECTION_EMAILS,
  MAX_SELECTION_TARGETS,
  orgUnitPath,
  type StoredSelection,
} from '../lib/selection.js';
import { hasUnstorableText } from '../lib/text.js';
import {
  type DirectoryProvider,
  isProviderError,
  type ProviderName,
  type SelectionTarget,
  type ServiceCredentials,
} from '../providers/types.js';
import type { AppContext } from './context.js';

/**
 * A selection as the API takes it (`selection` of `POST /v1/provisioning_runs` and of a Service
 * Account's registration): every part optional, at least one entry in all; a user any part names
 * is selected. Unknown keys are refused: a typo must not widen a run to the whole directory.
 * Entries are checked here one by one (syntax, then a live lookup of org units and groups) so a
 * list of 50,000 gets a few clear messages, not 50,000.
 */
export const selectionInputSchema = z
  .strictObject({
    org_units: z
      .array(
        z.strictObject({
          path: z.string().describe("Google org unit path, e.g. /Engineering or '/Customer Support'"),
          include_children: z.boolean().default(true).describe('Also the units below it (default true)'),
        }),
      )
      .max(MAX_SELECTION_TARGETS, `at most ${MAX_SELECTION_TARGETS} org units`)
      .default([])
      .describe('Google only'),
    groups: z
      .array(z.string())
      .max(MAX_SELECTION_TARGETS, `at most ${MAX_SELECTION_TARGETS} groups`)
      .default([])
      .describe(
        'Google: group email or id (nested groups included); Microsoft: group object id (transitive members)',
      ),
    domains: z
      .array(z.string())
      .max(MAX_SELECTION_TARGETS, `at most ${MAX_SELECTION_TARGETS} domains`)
      .default([])
      .describe("Users whose address is in one of the tenant's domains"),
    emails: z
      .array(z.string())
      .max(
        MAX_SELECTION_EMAILS,
        `at most ${MAX_SELECTION_EMAILS} emails per selection; split the list over several runs`,
      )
      .default([])
      .describe(
        'Explicit users; emails the directory does not have are reported as skipped (user_not_found)',
      ),
  })
  .describe('Part of the directory: the users named by any of its parts');
export type SelectionInput = z.infer<typeof selectionInputSchema>;

/** A checked selection: what is stored on the owner, and its explicit emails (stored apart). */
export type ResolvedSelection = { selection: StoredSelection; emails: string[] };

/** Problems reported per field at most (a 50,000-entry list with many bad ones gets the first few). */
const MAX_PROBLEMS = 10;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Org units and groups looked up at once. */
const LOOKUPS_IN_FLIGHT = 4;

function quote(s: string): string {
  const shown = s.length > 80 ? `${s.slice(0, 80)}…` : s;
  return JSON.stringify(shown.replace(/\p{Cc}/gu, '\uFFFD'));
}

/**
 * Checks a selection: syntax first (every part), then, when that is clean, each org unit and group
 * live through the provider (Google users.list by org unit, groups.get; Graph /groups/{id}). An
 * unknown one is a 422 naming it. `field` prefixes the field names (`selection`).
 */
export async function resolveSelection(
  provider: DirectoryProvider,
  providerName: ProviderName,
  input: SelectionInput,
  field = 'selection',
  signal?: AbortSignal,
): Promise<ResolvedSelection> {
  const problems: Record<string, FieldProblem[]> = {};
  const add = (name: string, description: string) => {
    const list = problems[`${field}.${name}`] ?? [];
    if (list.length < MAX_PROBLEMS) {
      list.push({ key: 'errors.invalid', description });
    }
    problems[`${field}.${name}`] = list;
  };
  const orgUnits: StoredSelection['org_units'] = [];
  if (input.org_units.length > 0 && providerName === 'microsoft') {
    add('org_units', 'Microsoft 365 has no org units; select by groups, domains or emails');
  }
  input.org_units.forEach((u, i) => {
    const path = orgUnitPath(u.path);
    if (path === undefined) {
      add('org_units', `entry ${i} (${quote(u.path)}) is not an org unit path such as /Engineering/Platform`);
    } else if (!orgUnits.some((o) => o.path.toLowerCase() === path.toLowerCase())) {
      orgUnits.push({ path, include_children: u.include_children });
    }
  });
  const groups: string[] = [];
  input.groups.forEach((g, i) => {
    const key = g.trim();
    const ok =
      !hasUnstorableText(key) &&
      key.length > 0 &&
      key.length <= 320 &&
      (providerName === 'microsoft' ? GUID.test(key) : isEmailAddress(key) || /^[0-9a-z]{6,64}$/i.test(key));
    if (!ok) {
      add(
        'groups',
        `entry ${i} (${quote(g)}) is not ${providerName === 'microsoft' ? "a group's object id (a GUID)" : "a group's email or id"}`,
      );
    } else if (!groups.includes(key.toLowerCase())) {
      groups.push(key.toLowerCase());
    }
  });
  const domains: string[] = [];
  input.domains.forEach((d, i) => {
    const name = hasUnstorableText(d) ? undefined : domainName(d);
    if (name === undefined) {
      add('domains', `entry ${i} (${quote(d)}) is not a domain name such as example.com`);
    } else if (!domains.includes(name)) {
      domains.push(name);
    }
  });
  const emails: string[] = [];
  const seen = new Set<string>();
  let bad = 0;
  input.emails.forEach((e, i) => {
    const email = e.trim();
    if (!isEmailAddress(email)) {
      bad += 1;
      add('emails', `entry ${i} (${quote(e)}) is not an email address`);
    } else if (!seen.has(email.toLowerCase())) {
      seen.add(email.toLowerCase());
      emails.push(email);
    }
  });
  if (bad > MAX_PROBLEMS) {
    (problems[`${field}.emails`] as FieldProblem[]).push({
      key: 'errors.invalid',
      description: `${bad} entries in all are not email addresses`,
    });
  }
  if (
    orgUnits.length + groups.length + domains.length + emails.length === 0 &&
    Object.keys(problems).length === 0
  ) {
    add('', 'must name at least one org unit, group, domain or email');
  }
  if (Object.keys(problems).length > 0) {
    throw new ValidationError('Invalid selection', tidy(problems, field));
  }
  await checkTargets(provider, providerName, orgUnits, groups, field, signal);
  return { selection: { org_units: orgUnits, groups, domains, emails: emails.length }, emails };
}

/** `selection.` (an empty part) is the selection itself. */
function tidy(problems: Record<string, FieldProblem[]>, field: string): Record<string, FieldProblem[]> {
  return Object.fromEntries(Object.entries(problems).map(([k, v]) => [k === `${field}.` ? field : k, v]));
}

async function checkTargets(
  provider: DirectoryProvider,
  providerName: ProviderName,
  orgUnits: StoredSelection['org_units'],
  groups: string[],
  field: string,
  signal: AbortSignal | undefined,
): Promise<void> {
  const targets: { name: string; target: SelectionTarget; shown: string }[] = [
    ...orgUnits.map((u) => ({
      name: 'org_units',
      target: { kind: 'org_unit' as const, path: u.path },
      shown: u.path,
    })),
    ...groups.map((g) => ({ name: 'groups', target: { kind: 'group' as const, key: g }, shown: g })),
  ];
  if (targets.length === 0) {
    return;
  }
  const lookup = provider.selection;
  if (!lookup) {
    throw new ValidationError('Invalid selection', {
      [field]: [`the ${providerName} directory cannot be listed by org unit or group here`],
    });
  }
  const problems: Record<string, FieldProblem[]> = {};
  const note = (key: string, problem: FieldProblem) => {
    problems[key] = [...(problems[key] ?? []), problem];
  };
  for (let i = 0; i < targets.length; i += LOOKUPS_IN_FLIGHT) {
    await Promise.all(
      targets.slice(i, i + LOOKUPS_IN_FLIGHT).map(async ({ name, target, shown }) => {
        const key = `${field}.${name}`;
        try {
          if ((await lookup.findTarget(target, signal)) === null) {
            note(key, {
              key: 'errors.not_found',
              description: `${target.kind === 'org_unit' ? 'org unit' : 'group'} ${quote(shown)} does not exist in the ${providerName} directory`,
            });
          }
        } catch (err) {
          if (isProviderError(err) && !err.retryable) {
            note(key, {
              key: `errors.${err.reason}`,
              description: `${quote(shown)} could not be looked up: ${err.message}${err.reason === 'delegation_not_granted' || err.reason === 'insufficient_permissions' ? groupPermissionFix(providerName) : ''}`,
            });
            return;
          }
          throw err;
        }
      }),
    );
  }
  if (Object.keys(problems).length > 0) {
    throw new ValidationError('Unknown org unit or group in the selection', problems);
  }
}

function groupPermissionFix(provider: ProviderName): string {
  return provider === 'google'
    ? ' (groups need the delegated scope https://www.googleapis.com/auth/admin.directory.group.readonly in the Admin console, Security → API controls → Domain-wide delegation)'
    : ' (groups need the application permission GroupMember.Read.All, with admin consent)';
}

/** Stores a checked selection's explicit emails under `ownerId` (a run or a Service Account). */
export async function storeSelection(
  db: DbOrTx,
  owner: { ownerId: string; serviceAccountId: string },
  resolved: ResolvedSelection,
): Promise<void> {
  if (resolved.emails.length > 0) {
    await storeSelectionEmails(db, owner, resolved.emails);
  }
}

/** A run taking its Service Account's default selection gets its own copy of the emails. */
export async function copyDefaultSelection(
  db: DbOrTx,
  serviceAccountId: string,
  runId: string,
  selection: StoredSelection,
): Promise<void> {
  if (selection.emails > 0) {
    await copySelectionEmails(db, serviceAccountId, runId);
  }
}

/** The selection as the API shows it (explicit emails by count). */
export function selectionJson(selection: StoredSelection | null) {
  return selection === null
    ? null
    : {
        org_units: selection.org_units,
        groups: selection.groups,
        domains: selection.domains,
        emails: selection.emails,
      };
}

/** A registration's selection, checked live with the credential it is registered with. */
export async function resolveRegistrationSelection(
  app: Pick<AppContext, 'providers'>,
  credentials: ServiceCredentials,
  input: SelectionInput,
): Promise<ResolvedSelection> {
  const provider = app.providers.forCredentials(credentials);
  try {
    return await resolveSelection(provider, credentials.provider, input);
  } finally {
    await provider.close();
  }
}
