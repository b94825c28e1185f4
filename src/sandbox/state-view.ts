import type { FaultConfig, QuotaConfig } from './config.js';
import type { ConsentMode, PageSizeConfig, SandboxState } from './state.js';

/** `GET /_sandbox/state`. */
export type SandboxStateView = {
  url: string;
  google: {
    domain: string;
    adminEmail: string;
    customerId: string;
    clientEmail: string;
    clientId: string;
    delegation: { granted: boolean; scopes: string[] | null };
    keyRevoked: boolean;
    users: number;
    rooms: number;
  } | null;
  microsoft: {
    domain: string;
    tenantId: string;
    clientId: string;
    consent: { granted: boolean; mode: ConsentMode };
    secretExpired: boolean;
    users: number;
    rooms: number;
    roomLists: number;
  } | null;
  faults: FaultConfig;
  quotas: QuotaConfig;
  pageSize: PageSizeConfig;
};

export function describeState(state: SandboxState): SandboxStateView {
  const g = state.google;
  const m = state.microsoft;
  return {
    url: state.url,
    google: g
      ? {
          domain: g.org.domain,
          adminEmail: g.adminEmail,
          customerId: g.customerId,
          clientEmail: g.key.client_email,
          clientId: g.key.client_id,
          delegation: g.delegation,
          keyRevoked: g.keyRevoked,
          users: g.org.users.liveCount,
          rooms: g.org.rooms.liveCount,
        }
      : null,
    microsoft: m
      ? {
          domain: m.org.domain,
          tenantId: m.tenantId,
          clientId: m.clientId,
          consent: m.consent,
          secretExpired: m.secretExpired,
          users: m.org.users.liveCount,
          rooms: m.org.rooms.liveCount,
          roomLists: m.org.roomLists.length,
        }
      : null,
    faults: state.faults,
    quotas: state.quotas,
    pageSize: state.pageSize,
  };
}
