// Messages against cbor-x, the CBOR library host programs use: every frame
// the device seals decodes with cbor-x to the same value, and every valid
// message cbor-x encodes (preferred options) opens on the device to the
// same value, byte for byte the device's own encoding.
import { createHmac } from "node:crypto";
import { Encoder } from "cbor-x";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { CborValue } from "../../protocol/cbor";
import { open, seal } from "../../protocol/envelope";
import * as M from "../../protocol/messages";
import { EXAMPLES, EXAMPLE_KEY, EXAMPLE_TIME, frameOf, sha256 } from "../../tools/protocol/examples";
import { cborXDecode, cborXEncode, cborXToDevice, deviceToCborX } from "../support/cbor-oracle";
import { limitsAndMessageArb } from "../support/messages-arb";

const key = EXAMPLE_KEY;

/** The envelope as cbor-x encodes it, with the MAC computed over cbor-x's bytes. */
function cborXSeal(type: number, seq: number, time: number, body: CborValue): Uint8Array {
  const f = cborXEncode(deviceToCborX([1, type, seq, time, body, new Uint8Array(8)]));
  const mac = createHmac("sha256", key).update(f.subarray(0, f.length - 9)).digest();
  f.set(mac.subarray(0, 8), f.length - 8);
  return f;
}

const messages = fc.tuple(limitsAndMessageArb, fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), fc.integer({ min: 0, max: 0xffffffff }));

describe("messages and cbor-x", () => {
  it("cbor-x decodes every example frame to the sealed fields", () => {
    for (const e of EXAMPLES) {
      const f = frameOf(e);
      expect(cborXToDevice(cborXDecode(f)), e.name).toEqual([1, e.type, e.seq, EXAMPLE_TIME, e.body, f.subarray(f.length - 8)]);
    }
  });

  it("cbor-x decodes every frame the device seals to the same value", () => {
    fc.assert(
      fc.property(messages, ([{ msg }, seq, time]) => {
        const f = seal(msg.type, seq, time, msg.body, key, sha256, new Uint8Array(2048)) as Uint8Array;
        expect(cborXToDevice(cborXDecode(f))).toEqual([1, msg.type, seq, time, msg.body, f.subarray(f.length - 8)]);
      }),
      { numRuns: 2000 },
    );
  });

  it("every valid message encoded by cbor-x opens on the device, and the bytes are the device's own", () => {
    fc.assert(
      fc.property(messages, ([{ lim, msg }, seq, time]) => {
        const f = cborXSeal(msg.type, seq, time, msg.body);
        expect(f).toEqual(seal(msg.type, seq, time, msg.body, key, sha256, new Uint8Array(2048)));
        const o = open(f, key, sha256, M.isUp(msg.type), 0, lim);
        expect(o.e).toBe(0);
        expect(o.env).toEqual({ type: msg.type, seq, time, body: msg.body });
      }),
      { numRuns: 2000 },
    );
  });

  it("cbor-x's default options are not the canonical form, and the device refuses what they write", () => {
    // A config map from a plain object: cbor-x writes text keys and a 16-bit map head by default.
    const loose = new Encoder().encode([1, M.CONFIG, 7, EXAMPLE_TIME, { 1: 60 }, new Uint8Array(8)]);
    expect(open(new Uint8Array(loose), key, sha256, false, 0, { horizonSlots: 144, maxPerSlot: new Uint16Array(2) }).e).toBeGreaterThan(0);
  });
});
