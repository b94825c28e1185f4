import { randomFillSync } from 'node:crypto';

const POOL_BYTES = 4096;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let offset = POOL_BYTES;

/**
 * `n` bytes from the CSPRNG, drawn from a pool filled 4 KiB at a time (each `randomBytes` call costs
 * a trip into OpenSSL: at several ids, a code and an IV per Account, that was a measurable share of a
 * worker's CPU). Returns a copy, never a view of the pool. Bytes are never handed out twice.
 */
export function randomBytesPooled(n: number): Buffer {
  if (n > POOL_BYTES) {
    return randomFillSync(Buffer.allocUnsafe(n));
  }
  if (offset + n > POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  const out = Buffer.allocUnsafe(n);
  pool.copy(out, 0, offset, offset + n);
  // Spent bytes are overwritten, so a later read of the pool cannot see what was handed out.
  pool.fill(0, offset, offset + n);
  offset += n;
  return out;
}
