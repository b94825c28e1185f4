/**
 * The Application side of the hand-off bench (bench/handoff.ts), run as its own process so its CPU
 * is visible: an HTTP server that answers every provisioning callback 200 at once, then redeems the
 * callback's code with the official `cronofy` SDK, at most HANDOFF_IN_FLIGHT redemptions in flight.
 * - 429 (any route, DESIGN §6): wait `Retry-After` seconds, then retry that code;
 * - any other failure (400 invalid_request for a rate limit, invalid_grant for a dead code, 5xx,
 *   network): the Account is lost, by reason, unless a newer callback for it brings a new code.
 * Callbacks may repeat (at-least-once): Accounts are counted by email.
 *
 * Driven over IPC by the bench: `{type:"config", apiUrl, clientId, clientSecret}` once (it answers
 * callbacks from the start, and redeems once configured), `{type:"stats"}` → `{type:"stats", …}`.
 */
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import Cronofy from 'cronofy';

type Config = { apiUrl: string; clientId: string; clientSecret: string };
type Entry = { code: string; newer?: string; state: 'queued' | 'inflight' | 'ok' | 'lost'; reason?: string };
type SdkError = Error & {
  statusCode?: number;
  code?: string;
  error?: { entity?: { error?: string; error_description?: string } | string };
};

const IN_FLIGHT = Number(process.env.HANDOFF_IN_FLIGHT ?? 32);

// The SDK turns an HTTP error into `{statusCode, error:{entity: body}}` and drops the headers; its
// axios instance (the SDK's own dependency) still sees them: remember each 429's Retry-After by body.
const sdkRequire = createRequire(createRequire(import.meta.url).resolve('cronofy'));
type AxiosLike = {
  interceptors: {
    response: {
      use: (ok: (r: unknown) => unknown, fail: (e: { response?: AxiosResponseLike }) => unknown) => void;
    };
  };
};
type AxiosResponseLike = { status: number; headers: Record<string, unknown>; data: unknown };
const axios = (sdkRequire('axios') as { default: AxiosLike }).default;
const retryAfterOf = new WeakMap<object, number>();
axios.interceptors.response.use(
  (r) => r,
  (e) => {
    const res = e.response;
    if (res?.status === 429) {
      if (typeof res.data !== 'object' || res.data === null) {
        res.data = { error: 'rate_limited', body: res.data };
      }
      const header = Number(res.headers['retry-after']);
      retryAfterOf.set(res.data as object, Number.isFinite(header) ? header : Number.NaN);
    }
    return Promise.reject(e);
  },
);

let config: Config | undefined;
let url = '';
const redirectPath = '/callback';
const entries = new Map<string, Entry>();
const queue: string[] = [];
const errorCallbacks = new Map<string, string>();
const lost: Record<string, number> = {};
const attemptFailures: Record<string, number> = {};
const descriptions: Record<string, string> = {};
const retryAfterSeen: Record<string, number> = {};
const t = {
  firstCallbackAt: 0,
  lastNewCallbackAt: 0,
  lastCallbackAt: 0,
  firstOkAt: 0,
  lastOkAt: 0,
  saturatedSince: 0,
  saturatedMs: 0,
};
const n = {
  callbacks: 0,
  duplicates: 0,
  duplicatesAfterOk: 0,
  badSignature: 0,
  badBody: 0,
  ok: 0,
  okWhileSaturated: 0,
  rateLimited429: 0,
  retriedWithNewerCode: 0,
  inFlight: 0,
};

const bump = (rec: Record<string, number>, key: string, by = 1) => {
  rec[key] = (rec[key] ?? 0) + by;
  if (rec[key] === 0) {
    delete rec[key];
  }
};

function setInFlight(delta: number): void {
  const now = Date.now();
  const wasSaturated = n.inFlight >= IN_FLIGHT;
  n.inFlight += delta;
  const isSaturated = n.inFlight >= IN_FLIGHT;
  if (!wasSaturated && isSaturated) {
    t.saturatedSince = now;
  } else if (wasSaturated && !isSaturated) {
    t.saturatedMs += now - t.saturatedSince;
  }
}

function onCode(email: string, code: string): void {
  const e = entries.get(email);
  if (!e) {
    entries.set(email, { code, state: 'queued' });
    queue.push(email);
    t.lastNewCallbackAt = Date.now();
  } else {
    n.duplicates += 1;
    if (e.state === 'ok') {
      n.duplicatesAfterOk += 1;
    } else if (e.state === 'queued') {
      e.code = code;
    } else if (e.state === 'inflight') {
      e.newer = code;
    } else {
      // Lost so far, but a later attempt brought a fresh code: try again.
      bump(lost, e.reason ?? 'unknown', -1);
      e.code = code;
      e.state = 'queued';
      delete e.reason;
      queue.push(email);
    }
  }
  pump();
}

function pump(): void {
  while (config && n.inFlight < IN_FLIGHT && queue.length > 0) {
    const email = queue.shift();
    const e = email === undefined ? undefined : entries.get(email);
    if (e?.state === 'queued') {
      void redeem(config, e);
    }
  }
}

async function redeem(cfg: Config, e: Entry): Promise<void> {
  e.state = 'inflight';
  setInFlight(1);
  let code = e.code;
  try {
    for (;;) {
      const client = new Cronofy({ client_id: cfg.clientId, client_secret: cfg.clientSecret });
      client.urls.api = cfg.apiUrl;
      const request = {
        client_id: cfg.clientId,
        client_secret: cfg.clientSecret,
        grant_type: 'authorization_code',
        code,
        redirect_uri: `${url}${redirectPath}`,
      };
      try {
        const token = await client.requestAccessToken(request);
        if (typeof token.access_token !== 'string') {
          throw Object.assign(new Error('no access_token'), { statusCode: 200 });
        }
        const now = Date.now();
        e.state = 'ok';
        n.ok += 1;
        if (n.inFlight >= IN_FLIGHT) {
          n.okWhileSaturated += 1;
        }
        t.firstOkAt ||= now;
        t.lastOkAt = now;
        return;
      } catch (raw) {
        const err = raw as SdkError;
        const entity = err.error?.entity;
        const body = typeof entity === 'object' && entity !== null ? entity : undefined;
        if (err.statusCode === 429) {
          n.rateLimited429 += 1;
          const secs = (body && retryAfterOf.get(body)) ?? Number.NaN;
          bump(retryAfterSeen, Number.isFinite(secs) ? String(secs) : 'missing');
          await new Promise((r) => setTimeout(r, (Number.isFinite(secs) ? Math.max(secs, 0) : 1) * 1000));
          continue;
        }
        const reason = err.statusCode
          ? `${err.statusCode} ${body?.error ?? 'error'}`
          : `network ${err.code ?? err.message}`;
        bump(attemptFailures, reason);
        if (descriptions[reason] === undefined) {
          descriptions[reason] =
            body?.error_description ?? (typeof entity === 'string' ? entity : err.message);
        }
        if (e.newer) {
          code = e.newer;
          delete e.newer;
          n.retriedWithNewerCode += 1;
          continue;
        }
        e.state = 'lost';
        e.reason = reason;
        bump(lost, reason);
        return;
      }
    }
  } finally {
    setInFlight(-1);
    pump();
  }
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    // Answer first, as an Application should: the redemption happens after the 200.
    res.writeHead(200, { 'content-type': 'text/plain' }).end('OK');
    const now = Date.now();
    n.callbacks += 1;
    t.firstCallbackAt ||= now;
    t.lastCallbackAt = now;
    const body = Buffer.concat(chunks).toString('utf8');
    const signature = req.headers['cronofy-hmac-sha256'];
    if (config && typeof signature === 'string') {
      const checker = new Cronofy({ client_secret: config.clientSecret });
      if (!checker.hmacValid({ hmac: signature, body })) {
        n.badSignature += 1;
      }
    }
    let auth: { code?: string; email?: string; error_key?: string; error?: string } | undefined;
    try {
      auth = (JSON.parse(body) as { authorization?: typeof auth }).authorization;
    } catch {
      auth = undefined;
    }
    const email = auth?.email?.toLowerCase();
    if (!email) {
      n.badBody += 1;
    } else if (auth?.code) {
      onCode(email, auth.code);
    } else {
      errorCallbacks.set(email, auth?.error_key ?? auth?.error ?? 'unknown');
    }
  });
});
server.keepAliveTimeout = 60_000;

function stats() {
  const counts = { queued: 0, inflight: 0, ok: 0, lost: 0 };
  for (const e of entries.values()) {
    counts[e.state] += 1;
  }
  const errorKeys: Record<string, number> = {};
  for (const key of errorCallbacks.values()) {
    bump(errorKeys, key);
  }
  const saturatedMs = t.saturatedMs + (n.inFlight >= IN_FLIGHT ? Date.now() - t.saturatedSince : 0);
  const cpu = process.cpuUsage();
  return {
    type: 'stats',
    inFlightLimit: IN_FLIGHT,
    ...n,
    distinct: entries.size,
    errorCallbacks: errorCallbacks.size,
    errorKeys,
    states: counts,
    lost,
    attemptFailures,
    descriptions,
    retryAfterSeen,
    ...t,
    saturatedMs,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    rssMb: Math.round(process.memoryUsage().rss / 1048576),
  };
}

process.on('message', (msg: { type: string } & Partial<Config>) => {
  if (msg.type === 'config' && msg.apiUrl && msg.clientId && msg.clientSecret) {
    config = { apiUrl: msg.apiUrl, clientId: msg.clientId, clientSecret: msg.clientSecret };
    pump();
  } else if (msg.type === 'stats') {
    process.send?.(stats());
  }
});
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));

server.listen(Number(process.env.HANDOFF_RECEIVER_PORT ?? 0), '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  url = `http://127.0.0.1:${port}`;
  process.send?.({ type: 'listening', url, callbackUrl: `${url}${redirectPath}` });
});
