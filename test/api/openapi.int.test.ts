import { describe, expect, it } from 'vitest';
import { useTestApp } from '../helpers/app.js';
import { isThirdPartyRoute, routeTable } from '../helpers/routes.js';

// The API reference at /docs is generated from the route schemas: every route the server has (but
// bull-board's and the reference's own) must be in the document, with its answers — the success and
// the error shapes — so a route without a response schema fails here.

const t = useTestApp({ sandbox: { google: false, microsoft: { users: 2, rooms: 1 } } });

type Operation = {
  responses?: Record<string, { description?: string; content?: Record<string, { schema?: unknown }> }>;
};
type OpenApi = { openapi: string; paths: Record<string, Record<string, Operation>> };

/** Fastify's `/v1/x/:id` as OpenAPI's `/v1/x/{id}` (and a wildcard as @fastify/swagger names it). */
const openApiPath = (url: string) => url.replace(/:(\w+)/g, '{$1}').replace(/\*$/, '{*}');

async function document(): Promise<OpenApi> {
  const res = await fetch(`${t.url}/docs/json`);
  expect(res.status).toBe(200);
  return (await res.json()) as OpenApi;
}

describe('the API reference', () => {
  it('renders at /docs from local assets, with the raw document at /docs/json and /docs/openapi.json', async () => {
    const page = await fetch(`${t.url}/docs`, { redirect: 'follow' });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toContain('swagger-ui');
    // Every script and stylesheet the page loads is ours: nothing from a CDN.
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] ?? '');
    expect(assets.length).toBeGreaterThan(0);
    for (const asset of assets) {
      expect(asset).not.toMatch(/^(https?:)?\/\//);
      const res = await fetch(new URL(asset, `${t.url}/docs/`));
      expect(res.status, asset).toBe(200);
    }
    const doc = await document();
    expect(doc.openapi).toMatch(/^3\./);
    const alias = (await (await fetch(`${t.url}/docs/openapi.json`)).json()) as OpenApi;
    expect(Object.keys(alias.paths)).toEqual(Object.keys(doc.paths));
  });

  it('documents every route with its responses, error shapes included', async () => {
    const doc = await document();
    // Wildcard routes (the /relink catch-all, static files) print without their prefix: left out, as
    // in hostile-input.int.test.ts.
    const routes = routeTable(t.server.printRoutes({ commonPrefix: false })).filter(
      (r) => r.method !== 'HEAD' && !r.url.includes('*') && !isThirdPartyRoute(r.url),
    );
    expect(routes.length).toBeGreaterThan(30);
    const missing: string[] = [];
    for (const { method, url } of routes) {
      const responses = doc.paths[openApiPath(url)]?.[method.toLowerCase()]?.responses ?? {};
      const statuses = Object.keys(responses);
      const needs = [
        statuses.some((s) => /^[23]\d\d$/.test(s)) ? undefined : 'a success',
        url.startsWith('/v1/') && !(statuses.includes('401') && statuses.includes('429'))
          ? '401+429'
          : undefined,
        url.startsWith('/oauth/') && !(statuses.includes('400') && statuses.includes('429'))
          ? '400+429'
          : undefined,
        /^\/(admin|relink|enterprise_connect)/.test(url) &&
        !Object.values(responses).some((r) => r.content?.['text/html'])
          ? 'text/html'
          : undefined,
      ].filter((n) => n !== undefined);
      if (needs.length > 0) {
        missing.push(`${method} ${url} (has ${statuses.join(',') || 'nothing'}) needs ${needs.join(', ')}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('uses the shared error shapes', async () => {
    const doc = await document();
    const schemaOf = (path: string, method: string, status: string, type = 'application/json') =>
      JSON.stringify(doc.paths[path]?.[method]?.responses?.[status]?.content?.[type]?.schema ?? null);
    expect(schemaOf('/v1/service_accounts', 'post', '401')).toMatch(/"requestId"/);
    expect(schemaOf('/v1/service_accounts', 'post', '422')).toMatch(/"errors"/);
    expect(schemaOf('/v1/resources', 'get', '429')).toMatch(/"code"/);
    expect(schemaOf('/oauth/token', 'post', '400')).toMatch(/"error_description"/);
    expect(schemaOf('/oauth/token', 'post', '429')).toMatch(/"error_description"/);
    expect(schemaOf('/oauth/token', 'post', '200')).toMatch(/"access_token"/);
    expect(schemaOf('/enterprise_connect/oauth/authorize', 'get', '200', 'text/html')).not.toBe('null');
  });
});
