/**
 * The naive baseline of the throughput bench (issue 18): what a first version that does one thing at a
 * time would reach — list a page, then for each mailbox on it check its calendars, insert its row and
 * POST its callback, one after another, with the product's own provider adapters (the real SDKs, no
 * limiter waits). Run on a sample and extrapolated to the whole org: its pages at the sample's cost per
 * page, its Accounts at the sample's cost per Account (time spent on mailboxes that were skipped or
 * refused included), so a 20,000-mailbox org at 50 ms is not waited out for twenty minutes.
 */
import postgres from 'postgres';
import { createLogger } from '../src/logger.js';
import { createDirectoryProvider } from '../src/providers/index.js';
import { NoopLimiter } from '../src/providers/limiter.js';
import type { ServiceCredentials } from '../src/providers/types.js';

export type NaiveInput = {
  credentials: ServiceCredentials;
  sandboxUrl: string;
  databaseUrl: string;
  /** Where each Account's callback is POSTed (the bench's receiver). */
  callbackUrl: string;
  /** Accounts measured. */
  sample: number;
  /** The org's directory entries (its pages) and the Accounts a run made of them, for the extrapolation. */
  listed: number;
  accounts: number;
};

export type NaiveResult = {
  sample: number;
  sampleSeconds: number;
  pagesListed: number;
  secondsPerPage: number;
  secondsPerAccount: number;
  /** Extrapolated: the org's pages × secondsPerPage + its Accounts × secondsPerAccount. */
  orgSecondsExtrapolated: number;
  accountsPerSecExtrapolated: number;
};

export async function runNaiveBaseline(input: NaiveInput): Promise<NaiveResult> {
  const sql = postgres(input.databaseUrl, { max: 1, onnotice: () => {} });
  await sql`create table if not exists naive_accounts (email text primary key, provider_id text not null, calendars jsonb not null)`;
  await sql`truncate naive_accounts`;
  const provider = createDirectoryProvider(input.credentials, {
    urls: {
      googleTokenUrl: `${input.sandboxUrl}/token`,
      googleApiUrl: input.sandboxUrl,
      microsoftLoginUrl: input.sandboxUrl,
      microsoftGraphUrl: input.sandboxUrl,
    },
    limiter: new NoopLimiter(),
    logger: createLogger({ level: 'silent' }),
    serviceAccountId: 'naive-baseline',
  });
  let accounts = 0;
  let pages = 0;
  let listingMs = 0;
  const started = performance.now();
  try {
    let cursor: string | null = null;
    let pageSize = 0;
    while (accounts < input.sample) {
      const t0 = performance.now();
      const page = await provider.listUsersPage(cursor);
      listingMs += performance.now() - t0;
      pages += 1;
      pageSize = Math.max(pageSize, page.items.length);
      for (const user of page.items) {
        if (accounts >= input.sample) {
          break;
        }
        if (user.suspended || !user.hasMailbox || user.guest) {
          continue;
        }
        const calendars = await provider
          .listCalendars({ kind: user.kind, email: user.email, providerId: user.providerId })
          .catch(() => undefined);
        if (!calendars) {
          continue;
        }
        await sql`insert into naive_accounts values (${user.email}, ${user.providerId}, ${JSON.stringify(calendars)}) on conflict do nothing`;
        const res = await fetch(input.callbackUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          // No code: the receiver counts only callbacks that carry one, and this is not the product's.
          body: JSON.stringify({ authorization: { email: user.email, code: '' } }),
        });
        await res.arrayBuffer();
        accounts += 1;
      }
      cursor = page.nextCursor;
      if (!cursor) {
        break;
      }
    }
    const sampleSeconds = (performance.now() - started) / 1000;
    const secondsPerPage = listingMs / 1000 / pages;
    const secondsPerAccount = (sampleSeconds - listingMs / 1000) / Math.max(1, accounts);
    const orgPages = Math.ceil(input.listed / Math.max(1, pageSize));
    const orgSeconds = orgPages * secondsPerPage + input.accounts * secondsPerAccount;
    return {
      sample: accounts,
      sampleSeconds,
      pagesListed: pages,
      secondsPerPage,
      secondsPerAccount,
      orgSecondsExtrapolated: orgSeconds,
      accountsPerSecExtrapolated: input.accounts / orgSeconds,
    };
  } finally {
    await provider.close();
    await sql`drop table if exists naive_accounts`.catch(() => {});
    await sql.end({ timeout: 5 });
  }
}
