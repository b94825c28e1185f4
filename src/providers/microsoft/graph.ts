import {
  AuthenticationHandler,
  Client,
  RedirectHandler,
  RedirectHandlerOptions,
  RetryHandler,
  RetryHandlerOptions,
  TelemetryHandler,
} from '@microsoft/microsoft-graph-client';
import { GraphHTTPMessageHandler } from './transport.js';

export const GRAPH_ORIGIN = 'https://graph.microsoft.com';

/**
 * A Graph client: the SDK's default middleware order, with the RetryHandler set to 0 retries (it
 * would otherwise retry 429/503/504 three times on top of our queue's retries) and our last handler
 * (transport.ts). graph-client only adds the token for https Graph (or custom https) hosts, so the
 * request keeps Graph's origin through the chain and the last handler sends it to MICROSOFT_GRAPH_URL
 * when that is not the real Graph (providers.md §3.3, variant B): the real auth, retry, redirect and
 * telemetry middleware all run unchanged.
 */
export function createGraphClient(graphUrl: string, getAccessToken: () => Promise<string>): Client {
  const root = graphUrl.replace(/\/+$/, '');
  const last =
    root === GRAPH_ORIGIN
      ? new GraphHTTPMessageHandler()
      : new GraphHTTPMessageHandler((url) =>
          url.startsWith(GRAPH_ORIGIN) ? root + url.slice(GRAPH_ORIGIN.length) : url,
        );
  return Client.initWithMiddleware({
    defaultVersion: 'v1.0',
    middleware: [
      new AuthenticationHandler({ getAccessToken }),
      new RetryHandler(new RetryHandlerOptions(0, 0)),
      new RedirectHandler(new RedirectHandlerOptions()),
      new TelemetryHandler(),
      last,
    ],
  });
}

/**
 * A nextLink as a cursor: always on Graph's own origin (whatever origin the server wrote), so a stored
 * cursor does not depend on MICROSOFT_GRAPH_URL and graph-client accepts it (it parses https only).
 */
export function canonicalGraphLink(link: string, graphUrl: string): string {
  const root = graphUrl.replace(/\/+$/, '');
  return link.startsWith(root) && root !== GRAPH_ORIGIN ? GRAPH_ORIGIN + link.slice(root.length) : link;
}
