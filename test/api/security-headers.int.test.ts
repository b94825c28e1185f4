import { describe, expect, it } from 'vitest';
import { buildServer, REQUEST_TIMEOUT_MS } from '../../src/api/server.js';
import { useTestApp } from '../helpers/app.js';

// Pages a browser shows are never framed (clickjacking) nor content-sniffed; API answers are not
// sniffed either. A client that sends its request too slowly is cut off.
const ADMIN_TOKEN = 'admin-token-for-tests-0123456789';
const t = useTestApp({ workers: false, env: { ADMIN_TOKEN } });

describe('security headers', () => {
  it.each([
    ['/admin', true],
    ['/admin/queues', true],
    ['/admin/runs', true],
    [
      '/enterprise_connect/oauth/authorize?client_id=nope&redirect_uri=https://x.example/cb&scope=read_write',
      false,
    ],
    ['/relink/pro_doesnotexist', false],
  ])('%s: X-Frame-Options DENY, frame-ancestors none, nosniff', async (path, admin) => {
    const res = await fetch(`${t.url}${path}`, {
      headers: admin ? { authorization: `Bearer ${ADMIN_TOKEN}` } : {},
      redirect: 'manual',
    });
    expect(res.headers.get('x-frame-options'), `${path} ${res.status}`).toBe('DENY');
    expect(res.headers.get('content-security-policy')).toMatch(/frame-ancestors 'none'/);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    // Without the token too (the 401 page).
    const anonymous = await fetch(`${t.url}${path}`, { redirect: 'manual' });
    expect(anonymous.headers.get('x-frame-options')).toBe('DENY');
  });

  it('API answers carry nosniff and no frame policy of their own', async () => {
    const res = await fetch(`${t.url}/v1/userinfo`);
    expect(res.status).toBe(401);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('gives a client a bounded time to send its request (Node enforces requestTimeout)', async () => {
    // Node checks the deadline every 30 s (connectionsCheckingInterval), so the test reads the setting.
    expect(t.server.server.requestTimeout).toBe(REQUEST_TIMEOUT_MS);
    expect(REQUEST_TIMEOUT_MS).toBeLessThanOrEqual(60_000);
    const server = await buildServer(t.runtime.app, { requestTimeoutMs: 500 });
    try {
      expect(server.server.requestTimeout).toBe(500);
    } finally {
      await server.close();
    }
  });
});
