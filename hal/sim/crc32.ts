// CRC-32 as Espruino's E.CRC32 computes it (src/jswrap_espruino.c): IEEE
// 802.3, reflected polynomial 0xEDB88320, initial value and final XOR
// 0xFFFFFFFF, returned unsigned. Table-driven; the simulated board's
// System.crc32 and the tests use it.

const TABLE = new Uint32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  TABLE[n] = c >>> 0;
}

/** CRC-32 (IEEE) of the bytes, as an unsigned 32-bit number. */
export function crc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
