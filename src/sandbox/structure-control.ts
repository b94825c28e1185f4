import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { parse } from './control-input.js';
import type { DirUser } from './generate.js';
import { findOrgUnit, type WithOrgUnit } from './org-units.js';
import type { SandboxState } from './state.js';

const move = z.strictObject({ org_unit_path: z.string().min(1).max(1000) });

/**
 * Control API for an org with `structure`: `PUT /_sandbox/google/users/{email}/org_unit` moves a
 * user to another org unit (as an admin would in the Admin console), so a test can watch a user
 * leave a selection.
 */
export function registerStructureControl(app: FastifyInstance, state: SandboxState): void {
  app.put<{ Params: { email: string } }>(
    '/_sandbox/google/users/:email/org_unit',
    { config: { kind: 'control' as const } },
    (req, reply) => {
      const org = state.google?.org;
      const body = org && parse(move, req.body, reply);
      if (!org || !body) {
        return org ? reply : reply.code(404).send({ error: 'google is not enabled in this sandbox' });
      }
      const unit = org.structure ? findOrgUnit(body.org_unit_path) : undefined;
      if (!unit) {
        return reply.code(400).send({ error: `no org unit ${body.org_unit_path} in this sandbox org` });
      }
      const patch: Partial<DirUser> & WithOrgUnit = { orgUnitPath: unit };
      const updated = org.users.update(req.params.email, patch);
      return updated
        ? { email: updated.email, orgUnitPath: unit }
        : reply.code(404).send({ error: `${req.params.email} not found` });
    },
  );
}
