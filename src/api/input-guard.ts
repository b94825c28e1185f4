import type { FastifyRequest } from 'fastify';
import { AppError, ValidationError } from '../errors.js';
import { findUnstorableText, storableText } from '../lib/text.js';

const DESCRIPTION = 'must not contain NUL characters or unpaired UTF-16 surrogates';

/**
 * How deep a body's objects and arrays may nest. Every schema is far shallower (3 levels at most),
 * and the NUL scan looks no deeper: a body of 10,000 nested objects would otherwise reach a route
 * that ignores unknown fields and be accepted. Default 32.
 */
export const MAX_BODY_DEPTH = 32;
const DEPTH_DESCRIPTION = `must not nest objects or arrays more than ${MAX_BODY_DEPTH} levels deep`;

/** Whether objects or arrays in `value` nest more than `max` levels (iterative: no stack to overflow). */
export function nestedDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const [v, depth] = next;
    if (typeof v !== 'object' || v === null) {
      continue;
    }
    if (depth >= max) {
      return true;
    }
    for (const child of Object.values(v)) {
      stack.push([child, depth + 1]);
    }
  }
  return false;
}

/**
 * A `preValidation` hook for every route (server.ts): text Postgres cannot store (NUL, unpaired
 * surrogates; lib/text.ts) is refused here, in one place, before any schema, handler or service sees
 * it. A path parameter holding it names nothing that exists: 404, as an unknown id. A query or body
 * field: the validation error naming the field, which errors.ts renders as 422 (token endpoints: 400
 * `invalid_request`; HTML pages: their error page). Object keys count too, and so do fields a route
 * ignores: a client sending NUL is broken, and an ignored field today may be read tomorrow. A body
 * nesting deeper than MAX_BODY_DEPTH is refused the same way.
 */
export async function refuseUnstorableText(req: FastifyRequest): Promise<void> {
  if (nestedDeeperThan(req.body, MAX_BODY_DEPTH)) {
    throw new ValidationError(`body ${DEPTH_DESCRIPTION}`, {
      body: [{ key: 'errors.invalid', description: DEPTH_DESCRIPTION }],
    });
  }
  if (findUnstorableText(req.params) !== undefined) {
    throw new AppError('not_found', 'Nothing exists at this path (it holds a NUL or an unpaired surrogate)');
  }
  for (const [part, value] of [
    ['querystring', req.query],
    ['body', req.body],
  ] as const) {
    const at = findUnstorableText(value);
    if (at !== undefined) {
      // The field's name is echoed back: without the offending characters, and never empty.
      const field = storableText(at) || part;
      throw new ValidationError(`${field} ${DESCRIPTION}`, {
        [field]: [{ key: 'errors.invalid', description: DESCRIPTION }],
      });
    }
  }
}
