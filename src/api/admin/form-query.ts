import { z } from 'zod';

/**
 * A dashboard filter form sends every field, empty ones as `""`: each field accepts the empty string
 * (no filter) or a valid value, and `withoutBlanks` drops the empty ones before the query is used.
 */
export const blankOr = <T extends z.ZodType>(schema: T) => z.union([z.literal(''), schema]).optional();

export function withoutBlanks<T extends Record<string, unknown>>(
  q: T,
): { [K in keyof T]: Exclude<T[K], ''> } {
  return Object.fromEntries(Object.entries(q).filter(([, v]) => v !== '')) as {
    [K in keyof T]: Exclude<T[K], ''>;
  };
}

/** The filters of a query as URL parameters (no cursor, no empty field), for paging links. */
export function filterParams(q: Record<string, unknown>, extra: Record<string, string> = {}): string {
  const entries = Object.entries(q).filter(
    (e): e is [string, string | number] =>
      e[0] !== 'cursor' && (typeof e[1] === 'string' ? e[1] !== '' : typeof e[1] === 'number'),
  );
  return new URLSearchParams([
    ...entries.map(([k, v]): [string, string] => [k, String(v)]),
    ...Object.entries(extra),
  ]).toString();
}
