// protocol/hmac.ts: HMAC-SHA256 built on a bare SHA-256 (the device's native one).
import { createHash, createHmac } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { hmacSha256, sameBytes } from "../../protocol/hmac";
import { fromHex, toHex } from "../support/bytes";
import { RFC4231 } from "./rfc4231";

const sha256 = (d: Uint8Array) => new Uint8Array(createHash("sha256").update(d).digest());

describe("hmacSha256", () => {
  it.each(RFC4231.map((v) => [v.name, v] as const))("RFC 4231 %s", (_, v) => {
    expect(toHex(hmacSha256(sha256, fromHex(v.key), fromHex(v.data))).slice(0, v.mac.length)).toBe(v.mac);
  });

  it("agrees with node:crypto's HMAC for any key and message, keys longer than a block included", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ maxLength: 300 }), (k, m) => {
        expect(toHex(hmacSha256(sha256, k, m))).toBe(createHmac("sha256", k).update(m).digest("hex"));
      }),
      { numRuns: 500 },
    );
  });
});

describe("sameBytes", () => {
  it("compares the first n bytes, and is false when either side is shorter", () => {
    expect(sameBytes(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 4]), 2)).toBe(true);
    expect(sameBytes(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 4]), 3)).toBe(false);
    expect(sameBytes(new Uint8Array([9, 2, 3]), new Uint8Array([1, 2, 3]), 3)).toBe(false);
    expect(sameBytes(new Uint8Array([1, 2]), new Uint8Array([1, 2, 3]), 3)).toBe(false);
  });
});
