import { Gauge, type Registry } from 'prom-client';
import type { Db } from '../db/client.js';
import { credentialExpiries } from '../db/queries/credential-expiry.js';
import type { Logger } from '../logger.js';

/**
 * `ec_service_account_credential_expiry_seconds{service_account}`: seconds until each Service
 * Account's credential stops working (negative once it has), for every Service Account not revoked
 * whose end date is known — the provider's (a Microsoft secret's, read from Graph) or the admin's
 * `credential_expires_at`. deploy/prometheus/alerts.yml alerts on it 30, 7 and 1 days ahead.
 */
export function registerCredentialExpiryGauge(
  registry: Registry,
  opts: { db: Db; logger: Logger; cacheMs: number },
): void {
  let at = 0;
  let rows: Promise<{ id: string; expiresAt: Date }[]> | undefined;
  new Gauge({
    name: 'ec_service_account_credential_expiry_seconds',
    help: 'Seconds until the Service Account credential expires (negative: expired); only Service Accounts with a known end date',
    labelNames: ['service_account'],
    registers: [registry],
    async collect() {
      this.reset();
      if (!rows || Date.now() - at > opts.cacheMs) {
        at = Date.now();
        rows = credentialExpiries(opts.db);
      }
      try {
        const now = Date.now();
        for (const r of await rows) {
          this.set({ service_account: r.id }, Math.round((r.expiresAt.getTime() - now) / 1000));
        }
      } catch (err) {
        at = 0;
        opts.logger.warn(
          { source: 'postgres', err: err instanceof Error ? err.message : String(err) },
          'metrics source failed',
        );
      }
    },
  });
}
