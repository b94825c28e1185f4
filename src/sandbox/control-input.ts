import type { FastifyReply } from 'fastify';
import type { z } from 'zod';

export type Defined<T> = { [K in keyof T]?: Exclude<T[K], undefined> };

/** Drops undefined keys (zod partials carry them; exactOptionalPropertyTypes does not accept them). */
export function compact<T extends object>(o: T): Defined<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Defined<T>;
}

export function bad(reply: FastifyReply, message: string): FastifyReply {
  return reply.code(400).send({ error: message });
}

export function parse<T>(schema: z.ZodType<T>, value: unknown, reply: FastifyReply): T | undefined {
  const r = schema.safeParse(value ?? {});
  if (r.success) {
    return r.data;
  }
  bad(
    reply,
    r.error.issues.map((i) => `${i.path.length ? `${i.path.join('.')}: ` : ''}${i.message}`).join('; '),
  );
  return undefined;
}
