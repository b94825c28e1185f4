/**
 * Text Postgres cannot store. A `text` column refuses NUL (22021 "invalid byte sequence for encoding
 * UTF8: 0x00") and `jsonb` refuses `\u0000` (22P05) and unpaired surrogates (22P02); postgres.js turns
 * an unpaired surrogate in a `text` value into U+FFFD without a word. Neither is ever meaningful in a
 * name, an email or an id, so input carrying one is refused (api/) and provider data is cleaned
 * (providers/) before any of it reaches SQL.
 */

/** NUL, or a UTF-16 surrogate without its partner (not well-formed Unicode). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching NUL is the point.
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const UNSTORABLE_ALL = new RegExp(UNSTORABLE.source, 'g');

/** Whether `value` holds a NUL or an unpaired surrogate. */
export function hasUnstorableText(value: string): boolean {
  return UNSTORABLE.test(value);
}

/** `value` without its NULs and unpaired surrogates (everything else kept as it is). */
export function storableText(value: string): string {
  return UNSTORABLE.test(value) ? value.replace(UNSTORABLE_ALL, '') : value;
}

/** `storableText` for optional provider fields: null or undefined is null. */
export function storableTextOrNull(value: string | null | undefined): string | null {
  return typeof value === 'string' ? storableText(value) : null;
}

/**
 * Where in a parsed value (an object, array or string: a query, a body) the first string or object
 * key holding unstorable text is, as a dotted path (`service_account_authorizations.0.email`); `''`
 * for the value itself; undefined when there is none. Depth-limited: deeper values are not looked at
 * (bodies are size-limited and every schema is shallower).
 */
export function findUnstorableText(value: unknown, path = '', depth = 0): string | undefined {
  if (typeof value === 'string') {
    return hasUnstorableText(value) ? path : undefined;
  }
  if (depth > 32 || typeof value !== 'object' || value === null) {
    return undefined;
  }
  const entries: [string, unknown][] = Array.isArray(value)
    ? value.map((v, i) => [String(i), v])
    : Object.entries(value);
  for (const [key, v] of entries) {
    const at = path ? `${path}.${key}` : key;
    if (hasUnstorableText(key)) {
      return at;
    }
    const found = findUnstorableText(v, at, depth + 1);
    if (found !== undefined) {
      return found;
    }
  }
  return undefined;
}
