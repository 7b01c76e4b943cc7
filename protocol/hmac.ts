// HMAC-SHA256 (RFC 2104) on top of a SHA-256 the board provides: Espruino's
// native require("crypto").SHA256 on the device, node:crypto in the
// simulator (hal/types.ts, System.sha256). Checked against RFC 4231.

/** SHA-256 of the bytes: 32 bytes. */
export type Sha256 = (data: Uint8Array) => Uint8Array;

/** SHA-256's block size. */
const BLOCK_BYTES = 64;

/** HMAC-SHA256(key, msg): 32 bytes. A key longer than a block is hashed first. */
export function hmacSha256(sha256: Sha256, key: Uint8Array, msg: Uint8Array): Uint8Array {
  const k = key.length > BLOCK_BYTES ? sha256(key) : key;
  const inner = new Uint8Array(BLOCK_BYTES + msg.length);
  const outer = new Uint8Array(BLOCK_BYTES + 32);
  // The key padded with zeros: past its end k[i] is undefined, which ^ takes as 0.
  for (let i = 0; i < BLOCK_BYTES; i++) {
    inner[i] = k[i] ^ 0x36;
    outer[i] = k[i] ^ 0x5c;
  }
  inner.set(msg, BLOCK_BYTES);
  outer.set(sha256(inner), BLOCK_BYTES);
  return sha256(outer);
}

/**
 * True when the first n bytes of a and b are equal. Looks at every byte
 * whatever it finds, so the time taken does not tell a forger how many
 * leading bytes were right.
 */
export function sameBytes(a: Uint8Array, b: Uint8Array, n: number): boolean {
  if (a.length < n || b.length < n) return false;
  let diff = 0;
  for (let i = 0; i < n; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}
