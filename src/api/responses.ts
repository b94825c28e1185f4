import { z } from 'zod';

/**
 * The response schemas every route shares: the error shapes rendered by errors.ts, the token
 * endpoints' RFC 6749 errors, empty answers and HTML pages. Each route spreads the set it can answer
 * with next to its own success schema, so the OpenAPI document (`/docs`) lists them all.
 *
 * Error bodies are loose objects: fastify-type-provider-zod serializes every declared status through
 * its schema, and a strict object would strip a field errors.ts adds (the 422's `message`).
 */

/** `{"error": {"code", "message", "requestId"}}`: every JSON error but bad input and token errors. */
export const errorBody = z.looseObject({
  error: z.looseObject({
    code: z.string().describe('one of the closed set of error codes (src/errors.ts ErrorCode)'),
    message: z.string(),
    requestId: z.string().describe('also the x-request-id header, and in the logs'),
  }),
});

/** Cronofy's 422: `{"errors": {"field": [{"key": "errors.…", "description": "…"}]}}`. */
export const fieldErrorsBody = z.looseObject({
  errors: z.record(z.string(), z.array(z.object({ key: z.string(), description: z.string() }))),
  message: z.string().optional(),
});

/** RFC 6749 §5.2 at `/oauth/token*`: 400 `invalid_grant` …, and 429 `rate_limited`. */
export const oauthErrorBody = z.looseObject({
  error: z
    .string()
    .describe('invalid_grant | invalid_client | invalid_request | unsupported_grant_type | rate_limited'),
  error_description: z.string().optional(),
});

const described = <T extends z.ZodType>(schema: T, description: string) => schema.describe(description);

/** The JSON API's error answers, by status. */
export const jsonErrors = {
  400: described(errorBody, 'Malformed request (bad JSON, a URL that is not UTF-8, unstorable text)'),
  401: described(errorBody, 'Missing, unknown, expired or revoked credentials (WWW-Authenticate: Bearer)'),
  403: described(errorBody, 'Valid credentials without the right (scope, token kind)'),
  404: described(errorBody, "Unknown, or another Application's object"),
  422: described(fieldErrorsBody, 'Invalid input, by field'),
  429: described(errorBody, 'Rate limited: retry after the Retry-After header (seconds)'),
} as const;

/** The JSON API's errors for a route that also calls a provider live (registration, resources). */
export const providerErrors = {
  ...jsonErrors,
  502: described(errorBody, 'The provider refused in a way no service expected'),
  503: described(errorBody, 'The provider could not be reached (provider_unavailable)'),
} as const;

/** The token endpoints' errors. */
export const tokenErrors = {
  400: described(oauthErrorBody, 'RFC 6749 error (invalid_grant, invalid_client, invalid_request, …)'),
  429: described(oauthErrorBody, '`rate_limited`: retry after the Retry-After header (seconds)'),
} as const;

/** A success without a body (202 Accepted, a revocation's 200). */
export const emptyBody = (description: string) => z.undefined().describe(description);

/** A server-rendered page (the authorize page, /relink, /admin): HTML, errors included. */
export const htmlPage = (description: string) => ({
  description,
  content: { 'text/html': { schema: z.string() } },
});

/** A plain-text answer (`/metrics`, the admin scope's 401). */
export const plainText = (description: string) => ({
  description,
  content: { 'text/plain': { schema: z.string() } },
});

/** A 303 redirect; where to is in the Location header. */
export const redirect = (description: string) => z.undefined().describe(description);

/** The fields every token response has (RFC 6749 §5.1, as Cronofy sends them). */
export const tokenPairFields = {
  token_type: z.literal('bearer'),
  access_token: z.string(),
  expires_in: z.number().int(),
  refresh_token: z.string(),
  scope: z.string(),
};

/**
 * Route options for a hot route whose answers our own code builds from typed values: plain
 * `JSON.stringify` instead of the zod serializer, which re-validates and copies every answer (about
 * 9% of the API's CPU on `GET /v1/userinfo`). Its schemas still document the route in `/docs`.
 */
export const plainJsonAnswers = {
  serializerCompiler: () => (data: unknown) => JSON.stringify(data),
} as const;
