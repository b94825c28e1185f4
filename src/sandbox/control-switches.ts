import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { checkFaultShares, faultPatchSchema, quotaPatchSchema, resolveQuotas } from './config.js';
import { bad, compact, parse } from './control-input.js';
import { newClientSecret, newServiceAccountKey, type SandboxState } from './state.js';

const delegation = z.strictObject({
  granted: z.boolean(),
  scopes: z.array(z.string().min(1)).nullable().optional(),
});
const consent = z.strictObject({
  granted: z.boolean(),
  mode: z.enum(['consent_required', 'service_principal_missing', 'roles_missing']).optional(),
});
const secret = z.strictObject({ expired: z.boolean().optional(), rotate: z.boolean().optional() });
const googleKey = z.strictObject({ revoked: z.boolean().optional(), rotate: z.boolean().optional() });
const faultsBody = faultPatchSchema
  .extend({ quotas: z.union([z.boolean(), quotaPatchSchema]).optional() })
  .strict();

/** Credential switches, faults and quotas, counters. */
export function registerSwitches(
  app: FastifyInstance,
  state: SandboxState,
  config: { kind: 'control' },
): void {
  const need = <T>(tenant: T | undefined, provider: string, reply: FastifyReply): T | undefined => {
    if (!tenant) {
      reply.code(404).send({ error: `provider ${provider} is not enabled in this sandbox` });
    }
    return tenant;
  };

  app.post('/_sandbox/google/delegation', { config }, (req, reply) => {
    const g = need(state.google, 'google', reply);
    const body = g && parse(delegation, req.body, reply);
    if (!g || !body) {
      return reply;
    }
    if (!body.granted) {
      g.epoch += 1;
    }
    g.delegation = { granted: body.granted, scopes: body.scopes ?? null };
    return { delegation: g.delegation };
  });

  app.post('/_sandbox/google/key', { config }, async (req, reply) => {
    const g = need(state.google, 'google', reply);
    const body = g && parse(googleKey, req.body, reply);
    if (!g || !body) {
      return reply;
    }
    if (body.rotate) {
      const { key, publicKey } = await newServiceAccountKey(g.key);
      g.key = key;
      g.publicKey = publicKey;
      g.keyRevoked = false;
      g.epoch += 1;
    }
    if (body.revoked !== undefined) {
      g.keyRevoked = body.revoked;
      if (body.revoked) {
        g.epoch += 1;
      }
    }
    return { keyRevoked: g.keyRevoked, serviceAccountKey: g.key };
  });

  app.post('/_sandbox/microsoft/consent', { config }, (req, reply) => {
    const m = need(state.microsoft, 'microsoft', reply);
    const body = m && parse(consent, req.body, reply);
    if (!m || !body) {
      return reply;
    }
    if (!body.granted && m.consent.granted) {
      m.epoch += 1;
    }
    m.consent = { granted: body.granted, mode: body.mode ?? m.consent.mode };
    return { consent: m.consent };
  });

  app.post('/_sandbox/microsoft/secret', { config }, (req, reply) => {
    const m = need(state.microsoft, 'microsoft', reply);
    const body = m && parse(secret, req.body, reply);
    if (!m || !body) {
      return reply;
    }
    if (body.rotate) {
      m.clientSecret = newClientSecret();
      m.secretExpired = false;
    }
    if (body.expired !== undefined) {
      m.secretExpired = body.expired;
    }
    return { clientSecret: m.clientSecret, secretExpired: m.secretExpired };
  });

  app.put('/_sandbox/faults', { config }, (req, reply) => {
    const body = parse(faultsBody, req.body, reply);
    if (!body) {
      return reply;
    }
    const { quotas, ...faults } = body;
    const next = { ...state.faults, ...compact(faults) };
    const problem = checkFaultShares(next);
    if (problem) {
      return bad(reply, problem);
    }
    state.faults = next;
    if (quotas !== undefined) {
      state.quotas =
        typeof quotas === 'boolean'
          ? { ...state.quotas, enabled: quotas }
          : resolveQuotas({ ...state.quotas, ...compact(quotas) });
    }
    return { faults: state.faults, quotas: state.quotas };
  });

  app.get('/_sandbox/counters', { config }, () => state.counters.snapshot());
  app.post('/_sandbox/counters/reset', { config }, () => {
    state.counters.reset();
    return state.counters.snapshot();
  });
}
