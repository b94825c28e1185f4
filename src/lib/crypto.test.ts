import { describe, expect, it } from 'vitest';
import {
  DecryptionError,
  generateKeyringEntry,
  hashToken,
  hmacSignature,
  Keyring,
  newOpaqueToken,
  safeEqual,
} from './crypto.js';

const key = (id: string, fill: number) => ({ id, key: Buffer.alloc(32, fill) });

describe('Keyring', () => {
  it('round-trips unicode text and never emits the plaintext', () => {
    const ring = new Keyring([key('a', 1)]);
    const secret = 'søper-sécret 🔑 with spaces';
    const ct = ring.encrypt(secret);
    expect(ct).not.toContain(secret);
    expect(ct.startsWith('v1.a.')).toBe(true);
    expect(ring.decrypt(ct)).toBe(secret);
  });

  it('uses a fresh IV each time', () => {
    const ring = new Keyring([key('a', 1)]);
    expect(ring.encrypt('x')).not.toBe(ring.encrypt('x'));
  });

  it('encrypts with the first key and decrypts with any key in the ring', () => {
    const old = new Keyring([key('old', 1)]);
    const rotated = new Keyring([key('new', 2), key('old', 1)]);
    const ct = old.encrypt('value');
    expect(rotated.decrypt(ct)).toBe('value');
    expect(rotated.needsRotation(ct)).toBe(true);
    const fresh = rotated.encrypt('value');
    expect(Keyring.keyIdOf(fresh)).toBe('new');
    expect(rotated.needsRotation(fresh)).toBe(false);
  });

  it('names a missing key and detects tampering', () => {
    const ring = new Keyring([key('a', 1)]);
    const other = new Keyring([key('b', 2)]);
    expect(() => other.decrypt(ring.encrypt('v'))).toThrow(/"a", which is not in ENCRYPTION_KEYS/);
    const ct = ring.encrypt('value');
    const parts = ct.split('.');
    const body = Buffer.from(parts[4] ?? '', 'base64url');
    body[0] = (body[0] ?? 0) ^ 1;
    parts[4] = body.toString('base64url');
    expect(() => ring.decrypt(parts.join('.'))).toThrow(DecryptionError);
    expect(() => ring.decrypt('not a ciphertext')).toThrow(DecryptionError);
  });

  it('rejects keys that are not 32 bytes', () => {
    expect(() => new Keyring([{ id: 'x', key: Buffer.alloc(16) }])).toThrow(/32 bytes/);
    expect(() => new Keyring([])).toThrow();
  });

  it('generates keyring entries that parse back', () => {
    const entry = generateKeyringEntry('k9');
    const [id, b64] = entry.split(':');
    expect(id).toBe('k9');
    expect(Buffer.from(b64 ?? '', 'base64').length).toBe(32);
  });
});

describe('tokens and signatures', () => {
  it('makes opaque tokens of at least 32 random bytes, base64url', () => {
    const t = newOpaqueToken();
    expect(t).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(new Set(Array.from({ length: 100 }, () => newOpaqueToken())).size).toBe(100);
  });

  it('hashes with SHA-256 hex', () => {
    expect(hashToken('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('signs like Cronofy-HMAC-SHA256 (base64 HMAC-SHA256 of the body)', () => {
    // RFC 4231 test case 2.
    expect(hmacSignature('what do ya want for nothing?', 'Jefe')).toBe(
      Buffer.from('5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843', 'hex').toString(
        'base64',
      ),
    );
  });

  it('compares in constant time and handles different lengths', () => {
    expect(safeEqual('abc', 'abc')).toBe(true);
    expect(safeEqual('abc', 'abd')).toBe(false);
    expect(safeEqual('abc', 'abcd')).toBe(false);
  });
});
