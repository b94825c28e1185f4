import { describe, expect, test } from 'vitest';
import { PageTokens, Signer } from './signing.js';

describe('PageTokens', () => {
  test('round-trips, is opaque, and refuses other listings, edits and garbage', () => {
    const pages = new PageTokens(42);
    const token = pages.encode('g.users', 0, 1500);
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(pages.decode('g.users', token)).toEqual({ segment: 0, pos: 1500 });
    expect(pages.decode('g.rooms', token)).toBeUndefined();
    const forged = Buffer.from(
      Buffer.from(token, 'base64url').toString().replace(':1500:', ':1501:'),
    ).toString('base64url');
    expect(pages.decode('g.users', forged)).toBeUndefined();
    expect(pages.decode('g.users', 'nope')).toBeUndefined();
    expect(new PageTokens(43).decode('g.users', token)).toBeUndefined();
    expect(new PageTokens(42).encode('g.users', 0, 1500)).toBe(token);
  });
});

describe('Signer', () => {
  test('signed tokens and JWTs verify only with the same key and unaltered', () => {
    const a = new Signer('a');
    const token = a.signToken('ya29.', { sub: 'x' });
    expect(a.verifyToken('ya29.', token)).toEqual({ sub: 'x' });
    expect(new Signer('b').verifyToken('ya29.', token)).toBeUndefined();
    const jwt = a.signJwt({ tid: 't' });
    expect(a.verifyJwt(jwt)).toEqual({ tid: 't' });
    const [h, , s] = jwt.split('.');
    expect(a.verifyJwt(`${h}.${Buffer.from('{"tid":"u"}').toString('base64url')}.${s}`)).toBeUndefined();
  });
});
