import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { ConflictError } from './collection.js';
import { bad, compact, parse } from './control-input.js';
import { registerSwitches } from './control-switches.js';
import type { DirRoom, DirUser, Provider } from './generate.js';
import { structureView } from './groups.js';
import { Org } from './org.js';
import type { SandboxState } from './state.js';
import { describeState } from './state-view.js';

const providerSchema = z.enum(['google', 'microsoft']);
// Longer than any real address allows: a hostile directory may list values too long to index.
const email = z
  .string()
  .regex(/^[^@\s]+@[^@\s]+\.[^@\s]+$/, 'must be an email address')
  .max(8_000);
const name = z.string().trim().min(1).max(512);
const nullableInt = (max: number) => z.number().int().min(0).max(max).nullable();

const userCreate = z.strictObject({
  email,
  name,
  suspended: z.boolean().optional(),
  mailbox: z.boolean().optional(),
});
const userPatch = z
  .strictObject({ name, suspended: z.boolean(), mailbox: z.boolean(), accessDenied: z.boolean() })
  .partial()
  .refine((v) => Object.keys(v).length > 0, 'nothing to change');
const roomFields = {
  name,
  capacity: nullableInt(100_000),
  building: z.string().trim().min(1).max(256).nullable(),
  floor: z.number().int().min(-20).max(300).nullable(),
};
const roomCreate = z.strictObject({
  email: email.optional(),
  ...roomFields,
  capacity: roomFields.capacity.optional(),
  building: roomFields.building.optional(),
  floor: roomFields.floor.optional(),
});
const roomPatch = z
  .strictObject(roomFields)
  .partial()
  .refine((v) => Object.keys(v).length > 0, 'nothing to change');
const listQuery = z.object({
  offset: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});
function userView({ pos: _pos, ...u }: DirUser) {
  return { ...u, name: u.displayName };
}

function roomView({ pos: _pos, ...r }: DirRoom) {
  return r;
}

/** The control API (`/_sandbox/...`): change the org and the switches, read counters and ground truth. */
export function registerControl(app: FastifyInstance, state: SandboxState): void {
  const config = { kind: 'control' as const };
  const orgOf = (provider: unknown, reply: FastifyReply): { org: Org; provider: Provider } | undefined => {
    const p = providerSchema.safeParse(provider);
    const org = p.success ? state[p.data]?.org : undefined;
    if (!p.success || !org) {
      reply.code(404).send({ error: `provider ${String(provider)} is not enabled in this sandbox` });
      return undefined;
    }
    return { org, provider: p.data };
  };

  app.get('/_sandbox/state', { config }, () => describeState(state));

  for (const what of ['users', 'rooms'] as const) {
    app.get<{ Params: { provider: string } }>(`/_sandbox/:provider/${what}`, { config }, (req, reply) => {
      const o = orgOf(req.params.provider, reply);
      const q = o && parse(listQuery, req.query, reply);
      if (!o || !q) {
        return reply;
      }
      const coll = what === 'users' ? o.org.users : o.org.rooms;
      const page = coll.page(coll.positionOf(q.offset), q.limit);
      const items =
        what === 'users'
          ? (page.items as DirUser[]).map((u) => ({ ...userView(u), ...structureView(o.org, u) }))
          : (page.items as DirRoom[]).map(roomView);
      return { total: coll.liveCount, offset: q.offset, limit: q.limit, [what]: items };
    });

    app.delete<{ Params: { provider: string; email: string } }>(
      `/_sandbox/:provider/${what}/:email`,
      { config },
      (req, reply) => {
        const o = orgOf(req.params.provider, reply);
        if (!o) {
          return reply;
        }
        const removed = (what === 'users' ? o.org.users : o.org.rooms).remove(req.params.email);
        return removed
          ? reply.code(204).send()
          : reply.code(404).send({ error: `${req.params.email} not found` });
      },
    );
  }

  app.post<{ Params: { provider: string } }>('/_sandbox/:provider/users', { config }, (req, reply) => {
    const o = orgOf(req.params.provider, reply);
    const body = o && parse(userCreate, req.body, reply);
    if (!o || !body) {
      return reply;
    }
    if (!body.email.toLowerCase().endsWith(`@${o.org.domain}`)) {
      return bad(reply, `email must be in the domain ${o.org.domain}`);
    }
    try {
      return reply.code(201).send(userView(o.org.users.add((pos) => o.org.newUser(pos, body))));
    } catch (err) {
      return err instanceof ConflictError
        ? reply.code(409).send({ error: err.message })
        : Promise.reject(err);
    }
  });

  app.patch<{ Params: { provider: string; email: string } }>(
    '/_sandbox/:provider/users/:email',
    { config },
    (req, reply) => {
      const o = orgOf(req.params.provider, reply);
      const body = o && parse(userPatch, req.body, reply);
      if (!o || !body) {
        return reply;
      }
      const { name: newName, ...flags } = body;
      const patch: Partial<DirUser> = {
        ...compact(flags),
        ...(newName === undefined ? {} : { displayName: newName, ...Org.splitName(newName) }),
      };
      const updated = o.org.users.update(req.params.email, patch);
      return updated ? userView(updated) : reply.code(404).send({ error: `${req.params.email} not found` });
    },
  );

  app.post<{ Params: { provider: string } }>('/_sandbox/:provider/rooms', { config }, (req, reply) => {
    const o = orgOf(req.params.provider, reply);
    const body = o && parse(roomCreate, req.body, reply);
    if (!o || !body) {
      return reply;
    }
    try {
      return reply.code(201).send(roomView(o.org.rooms.add((pos) => o.org.newRoom(pos, body))));
    } catch (err) {
      return err instanceof ConflictError
        ? reply.code(409).send({ error: err.message })
        : Promise.reject(err);
    }
  });

  app.patch<{ Params: { provider: string; email: string } }>(
    '/_sandbox/:provider/rooms/:email',
    { config },
    (req, reply) => {
      const o = orgOf(req.params.provider, reply);
      const body = o && parse(roomPatch, req.body, reply);
      if (!o || !body) {
        return reply;
      }
      const { floor, ...rest } = body;
      const patch: Partial<DirRoom> = {
        ...compact(rest),
        ...(floor === undefined
          ? {}
          : { floorNumber: floor, floorLabel: floor === null ? null : String(floor) }),
      };
      const updated = o.org.rooms.update(req.params.email, patch);
      return updated ? roomView(updated) : reply.code(404).send({ error: `${req.params.email} not found` });
    },
  );

  registerSwitches(app, state, config);
}
