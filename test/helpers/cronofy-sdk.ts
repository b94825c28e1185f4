import { createRequire } from 'node:module';
import Cronofy from 'cronofy';

/** What the official SDK rejects with on an HTTP error: the status and the body, not the headers. */
export type SdkError = Error & { statusCode?: number; error?: { entity?: unknown } };

type AxiosResponse = { status: number; headers: Record<string, unknown>; data: unknown };
type AxiosLike = {
  interceptors: {
    response: {
      use: (ok: (r: unknown) => unknown, fail: (e: { response?: AxiosResponse }) => unknown) => number;
    };
  };
};

// The SDK drops response headers from its errors; its own axios still sees them. An app that
// honours Retry-After through the SDK reads it there: remember each 429's header by its body.
const sdkRequire = createRequire(createRequire(import.meta.url).resolve('cronofy'));
const axios = (sdkRequire('axios') as { default: AxiosLike }).default;
const retryAfter = new WeakMap<object, string | undefined>();
axios.interceptors.response.use(
  (r) => r,
  (e) => {
    const res = e.response;
    if (res?.status === 429) {
      if (typeof res.data !== 'object' || res.data === null) {
        res.data = { body: res.data };
      }
      const header = res.headers['retry-after'];
      retryAfter.set(res.data as object, typeof header === 'string' ? header : undefined);
    }
    return Promise.reject(e);
  },
);

/** The `Retry-After` header of the 429 this SDK error came from, if it had one. */
export function retryAfterOf(err: SdkError): string | undefined {
  const entity = err.error?.entity;
  return typeof entity === 'object' && entity !== null ? retryAfter.get(entity) : undefined;
}

/** An SDK client pointed at our server, as DESIGN §6 says apps do it. */
export function sdkClient(apiUrl: string, config: ConstructorParameters<typeof Cronofy>[0]): Cronofy {
  const client = new Cronofy(config);
  client.urls.api = apiUrl;
  return client;
}
