/**
 * The live route table of a server, for tests that walk every route (the API reference, hostile
 * input, authentication): a new route is covered, or the walking test names it, without editing a
 * hand-kept list.
 */

export type LiveRoute = { method: string; url: string };

/** Parses `printRoutes({ commonPrefix: false })`: one line per tree node, four columns per level. */
export function routeTable(tree: string): LiveRoute[] {
  const out: LiveRoute[] = [];
  const stack: string[] = [];
  for (const line of tree.split('\n')) {
    const m = /^((?:[│ ] {3})*)[├└]── (.*?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!m) {
      continue;
    }
    const depth = (m[1] ?? '').length / 4;
    stack.length = depth;
    const url = `${stack[depth - 1] ?? ''}${m[2] ?? ''}`;
    stack[depth] = url;
    for (const method of m[3]?.split(', ') ?? []) {
      out.push({ method, url });
    }
  }
  return out;
}

/**
 * Every route a server answers, but HEAD (Fastify's twin of each GET) and wildcard routes (the
 * /relink catch-all, static files), which print without their prefix.
 */
export function liveRoutes(server: { printRoutes: (opts: { commonPrefix: false }) => string }): LiveRoute[] {
  return routeTable(server.printRoutes({ commonPrefix: false })).filter(
    (r) => r.method !== 'HEAD' && !r.url.includes('*'),
  );
}

/** Routes served by libraries (bull-board, the reference's own pages), not by our handlers. */
export const isThirdPartyRoute = (url: string) =>
  url.startsWith('/admin/queues') || url === '/docs' || url.startsWith('/docs/');

/** `/v1/x/:id` with its parameters filled in. */
export function fillPath(url: string, params: Record<string, string>): string {
  return url.replace(/:(\w+)/g, (_, name: string) => encodeURIComponent(params[name] ?? `missing-${name}`));
}
