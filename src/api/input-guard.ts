import type { FastifyRequest } from 'fastify';
import { AppError, ValidationError } from '../errors.js';
import { findUnstorableText, storableText } from '../lib/text.js';

const DESCRIPTION = 'must not contain NUL characters or unpaired UTF-16 surrogates';

/**
 * A `preValidation` hook for every route (server.ts): text Postgres cannot store (NUL, unpaired
 * surrogates; lib/text.ts) is refused here, in one place, before any schema, handler or service sees
 * it. A path parameter holding it names nothing that exists: 404, as an unknown id. A query or body
 * field: the validation error naming the field, which errors.ts renders as 422 (token endpoints: 400
 * `invalid_request`; HTML pages: their error page). Object keys count too, and so do fields a route
 * ignores: a client sending NUL is broken, and an ignored field today may be read tomorrow.
 */
export async function refuseUnstorableText(req: FastifyRequest): Promise<void> {
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
