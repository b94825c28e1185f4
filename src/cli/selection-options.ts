import { readFile, stat } from 'node:fs/promises';
import type { Command } from 'commander';
import { ValidationError } from '../errors.js';
import { MAX_SELECTION_EMAILS } from '../lib/selection.js';
import type { SelectionInput } from '../services/selection.js';

/** Largest `--emails` file read (50,000 addresses fit in well under this). */
const MAX_EMAILS_FILE_BYTES = 16 * 1024 * 1024;

const collect = (value: string, previous: string[] = []) => [...previous, value];

export type SelectionOptions = {
  orgUnit?: string[];
  orgUnitOnly?: string[];
  group?: string[];
  domain?: string[];
  emails?: string;
};

/** `ec onboard`'s selection flags (each repeatable; together they select any user one of them names). */
export function addSelectionOptions(cmd: Command): Command {
  return cmd
    .option(
      '--org-unit <path>',
      'Google: users of this org unit and the units below it (repeatable)',
      collect,
    )
    .option(
      '--org-unit-only <path>',
      'Google: users of this org unit, not of the units below it (repeatable)',
      collect,
    )
    .option(
      '--group <group>',
      'users of a group, nested groups included: Google email or id, Microsoft object id (repeatable)',
      collect,
    )
    .option(
      '--domain <domain>',
      "users whose address is in one of the tenant's domains (repeatable)",
      collect,
    )
    .option(
      '--emails <file>',
      `users listed in a CSV or text file, one email a line or an "email" column (up to ${MAX_SELECTION_EMAILS})`,
    );
}

/** The selection the flags name, or undefined for none (the Service Account's own, or everything). */
export async function selectionFromOptions(opts: SelectionOptions): Promise<SelectionInput | undefined> {
  const orgUnits = [
    ...(opts.orgUnit ?? []).map((path) => ({ path, include_children: true })),
    ...(opts.orgUnitOnly ?? []).map((path) => ({ path, include_children: false })),
  ];
  const emails = opts.emails === undefined ? [] : await readEmailsFile(opts.emails);
  if (orgUnits.length + (opts.group?.length ?? 0) + (opts.domain?.length ?? 0) + emails.length === 0) {
    if (opts.emails !== undefined) {
      throw new ValidationError(`--emails: ${opts.emails} holds no email addresses`);
    }
    return undefined;
  }
  return { org_units: orgUnits, groups: opts.group ?? [], domains: opts.domain ?? [], emails };
}

async function readEmailsFile(path: string): Promise<string[]> {
  let bytes: Buffer;
  try {
    if ((await stat(path)).size > MAX_EMAILS_FILE_BYTES) {
      throw new ValidationError(
        `--emails: ${path} is larger than ${MAX_EMAILS_FILE_BYTES / 1024 / 1024} MiB`,
      );
    }
    bytes = await readFile(path);
  } catch (err) {
    if (err instanceof ValidationError) {
      throw err;
    }
    throw new ValidationError(
      `--emails: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new ValidationError(`--emails: ${path} is not UTF-8 text`);
  }
  return emailsOfCsv(text);
}

/**
 * The emails of a CSV export or a plain list: the column headed `email` (or `e-mail`, `email
 * address`, `primary email`, any case) when the first line has one, else the first column. Blank
 * lines are skipped; quoted fields (with `""` inside) are understood.
 */
export function emailsOfCsv(text: string): string[] {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const first = csvFields(lines[0] ?? '');
  const header = first.findIndex((f) => /^(primary )?e-?mail( address)?$/i.test(f.trim()));
  const column = Math.max(0, header);
  const out: string[] = [];
  for (const line of header >= 0 ? lines.slice(1) : lines) {
    if (line.trim() === '') {
      continue;
    }
    const value = (csvFields(line)[column] ?? '').trim();
    if (value !== '') {
      out.push(value);
    }
  }
  return out;
}

function csvFields(line: string): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') {
        quoted = false;
      } else {
        field += ch;
      }
    } else if (ch === '"' && field === '') {
      quoted = true;
    } else if (ch === ',' || ch === ';' || ch === '\t') {
      fields.push(field);
      field = '';
    } else {
      field += ch;
    }
  }
  fields.push(field);
  return fields;
}
