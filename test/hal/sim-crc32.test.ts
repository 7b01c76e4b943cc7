// The JS CRC-32 used in place of E.CRC32 gives the same numbers.
import * as zlib from "node:zlib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { crc32 } from "../../hal/sim/crc32";
import { ascii } from "../support/bytes";

const zlibCrc32 = (zlib as unknown as { crc32?: (d: Uint8Array) => number }).crc32;

describe("crc32", () => {
  it('gives the check value 0xCBF43926 for "123456789"', () => {
    expect(crc32(ascii("123456789"))).toBe(0xcbf43926);
  });

  it("gives the values E.CRC32 gave on Espruino 2v29", () => {
    // notes/espruino-storage.md, section 6 (measured).
    expect(crc32(new Uint8Array(0))).toBe(0);
    expect(crc32(ascii("abc"))).toBe(891568578);
    expect(crc32(new Uint8Array([1, 2, 3]))).toBe(1438416925);
  });

  it.runIf(zlibCrc32 !== undefined)("matches node's zlib.crc32 on random bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (d) => {
        expect(crc32(d)).toBe((zlibCrc32 as (d: Uint8Array) => number)(d));
      }),
    );
  });
});
