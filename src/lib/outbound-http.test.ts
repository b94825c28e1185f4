import { createServer } from 'node:http';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  checkOutboundUrl,
  checkOutboundUrls,
  isPrivateAddress,
  parseOutboundUrl,
  postJson,
} from './outbound-http.js';

describe('outbound URL safety', () => {
  it('classifies addresses', () => {
    for (const a of [
      '127.0.0.1',
      '10.1.2.3',
      '172.16.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '0.0.0.0',
      '::1',
      'fe80::1',
      'fd00::1',
      '::ffff:127.0.0.1',
      '::ffff:7f00:1',
      '100.64.0.1',
      // NAT64 and 6to4 carrying a private IPv4 address; site-local; local-use NAT64.
      '64:ff9b::127.0.0.1',
      '64:ff9b::a9fe:a9fe',
      '2002:7f00:1::1',
      '2002:c0a8:101::',
      'fec0::1',
      'feff::1',
      '64:ff9b:1::808:808',
    ]) {
      expect(isPrivateAddress(a), a).toBe(true);
    }
    for (const a of ['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '64:ff9b::8.8.8.8', '2002:808:808::1']) {
      expect(isPrivateAddress(a), a).toBe(false);
    }
  });

  it('accepts only absolute http(s) URLs without credentials', () => {
    expect(parseOutboundUrl('https://app.example.com/cb?x=1').hostname).toBe('app.example.com');
    expect(() => parseOutboundUrl('ftp://x.example.com')).toThrow(/http or https/);
    expect(() => parseOutboundUrl('/relative')).toThrow(/absolute/);
    expect(() => parseOutboundUrl('https://user:pw@x.example.com')).toThrow(/credentials/);
    expect(() => parseOutboundUrl(`https://x.example.com/${'a'.repeat(3000)}`)).toThrow(/2048/);
  });

  it('refuses loopback targets, by literal address and by name, unless allowed', async () => {
    await expect(checkOutboundUrl('http://127.0.0.1:9/cb', false)).rejects.toThrow(/private/);
    await expect(checkOutboundUrl('http://localhost:9/cb', false)).rejects.toThrow(/private/);
    await expect(checkOutboundUrl('http://[::1]:9/cb', false)).rejects.toThrow(/private/);
    await expect(checkOutboundUrl('http://127.0.0.1:9/cb', true)).resolves.toBeInstanceOf(URL);
    expect(
      await postJson('http://localhost:9/cb', '{}', {}, { timeoutMs: 1000, allowPrivate: false }),
    ).toEqual({
      error: expect.stringMatching(/private/),
    });
  });

  it('checks a bulk of URLs by host: each host once, a problem per URL', async () => {
    const urls = Array.from({ length: 1_000 }, (_, i) => `http://localhost:9/cb/${i}`);
    const problems = await checkOutboundUrls(
      [...urls, 'ftp://x.example.com/', 'http://nx.invalid/cb'],
      false,
    );
    expect(problems.size).toBe(1_002);
    expect(problems.get('http://localhost:9/cb/999')).toMatch(/host localhost resolves to a private/);
    expect(problems.get('ftp://x.example.com/')).toMatch(/http or https/);
    expect(problems.get('http://nx.invalid/cb')).toMatch(/does not resolve|did not resolve/);
    expect((await checkOutboundUrls(urls, true)).size).toBe(0);
  });

  it('sends again on a new connection when a kept-alive one turns out closed, and only then', async () => {
    const served = new WeakMap<Socket, number>();
    let dropped = 0;
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const n = (served.get(req.socket) ?? 0) + 1;
        served.set(req.socket, n);
        if (n > 1 || req.url === '/always-drop') {
          // What a receiver that closed an idle kept-alive connection looks like to the sender.
          dropped += 1;
          req.socket.destroy();
          return;
        }
        res.writeHead(200).end('OK');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    const post = (path: string) =>
      postJson(`${base}${path}`, '{}', {}, { timeoutMs: 2_000, allowPrivate: true });
    try {
      expect(await post('/a')).toEqual({ status: 200 });
      expect(await post('/b')).toEqual({ status: 200 });
      expect(dropped).toBe(1);
      // A fresh connection that drops is the receiver's answer: no second try.
      expect(await post('/always-drop')).toEqual({
        error: expect.stringMatching(/socket hang up|ECONNRESET/),
      });
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
