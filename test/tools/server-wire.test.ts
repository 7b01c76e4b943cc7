// tools/server/wire.ts: the host envelope (cbor-x, node:crypto) against the
// device's (protocol/envelope.ts): the same bytes for the same message, each
// opens what the other seals, and they refuse the same frames.
import { Encoder } from "cbor-x";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import * as C from "../../protocol/cbor";
import type { CborValue } from "../../protocol/cbor";
import { open, seal } from "../../protocol/envelope";
import * as M from "../../protocol/messages";
import { EXAMPLES, EXAMPLE_KEY, EXAMPLE_LIMITS, EXAMPLE_TIME, frameOf, sha256 } from "../../tools/protocol/examples";
import { decodeItem, encodeItem, macOf, openFrame, sealFrame } from "../../tools/server/wire";
import { fromHex } from "../support/bytes";
import { limitsAndMessageArb } from "../support/messages-arb";

const key = EXAMPLE_KEY;
const lim = EXAMPLE_LIMITS;

function deviceSeal(type: number, seq: number, time: number, body: CborValue): Uint8Array {
  const f = seal(type, seq, time, body, key, sha256, new Uint8Array(4096));
  if (typeof f === "number") throw new Error(`seal: ${f}`);
  return f;
}

/** Bytes with a MAC that is right for them: what only a key holder can make. */
function remac(f: Uint8Array): Uint8Array {
  const out = Uint8Array.from(f);
  if (out.length > 9) out.set(macOf(key, out.subarray(0, out.length - 9)), out.length - 8);
  return out;
}

const messages = fc.tuple(limitsAndMessageArb, fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), fc.integer({ min: 0, max: 0xffffffff }));

describe("host envelope", () => {
  it.each(EXAMPLES.map((e) => [e.name, e] as const))("seals the example %s to the bytes the device seals", (_, e) => {
    expect(sealFrame(e.type, e.seq, EXAMPLE_TIME, e.body, key)).toEqual(frameOf(e));
  });

  it.each(EXAMPLES.map((e) => [e.name, e] as const))("opens the device's example %s to what was sealed", (_, e) => {
    const o = openFrame(frameOf(e), key, M.isUp(e.type), 0, lim);
    expect(o.e).toBe(0);
    expect(o.env).toEqual({ type: e.type, seq: e.seq, time: EXAMPLE_TIME, body: e.body });
  });

  it("seals every valid message byte-identical to the device, and each side opens the other's frame", () => {
    fc.assert(
      fc.property(messages, ([{ lim, msg }, seq, time]) => {
        const host = sealFrame(msg.type, seq, time, msg.body, key);
        expect(host).toEqual(deviceSeal(msg.type, seq, time, msg.body));
        const d = open(host, key, sha256, M.isUp(msg.type), seq - 1, lim);
        expect(d.e).toBe(0);
        const h = openFrame(host, key, M.isUp(msg.type), seq - 1, lim);
        expect(h.e).toBe(0);
        expect(h.env).toEqual(d.env);
      }),
      { numRuns: 1500 },
    );
  });

  it("refuses exactly the frames the device refuses: bytes changed, cut or added under a right MAC", () => {
    const mutated = messages.chain(([{ lim, msg }, seq, time]) => {
      const f = deviceSeal(msg.type, seq, time, msg.body);
      return fc.tuple(
        fc.constant(lim),
        fc.constant(msg.type),
        fc.oneof(
          fc.tuple(fc.integer({ min: 0, max: f.length - 10 }), fc.integer({ min: 0, max: 255 })).map(([i, b]) => {
            const g = Uint8Array.from(f);
            g[i] = b;
            return remac(g);
          }),
          fc.integer({ min: 0, max: f.length - 1 }).map((n) => f.slice(0, n)),
          fc.uint8Array({ minLength: 1, maxLength: 4 }).map((extra) => {
            const g = new Uint8Array(f.length + extra.length);
            g.set(f.subarray(0, f.length - 9));
            g.set(extra, f.length - 9);
            g.set(f.subarray(f.length - 9), f.length - 9 + extra.length);
            return remac(g);
          }),
        ),
      );
    });
    fc.assert(
      fc.property(mutated, ([lim, type, frame]) => {
        const up = M.isUp(type);
        const d = open(frame, key, sha256, up, 0, lim);
        const h = openFrame(frame, key, up, 0, lim);
        expect(h.e === 0).toBe(d.e === 0);
        if (d.e === 0) expect(h.env).toEqual(d.env);
        else if (d.e >= M.E_SHAPE) expect(h.e).toBe(d.e);
      }),
      { numRuns: 3000 },
    );
  });

  it("refuses a forged MAC, a replayed seq and a frame going the wrong way, with the device's reasons", () => {
    const f = sealFrame(M.HELLO, 9, EXAMPLE_TIME, ["0.1.0", 1, 0, 512], key);
    const forged = Uint8Array.from(f);
    forged[forged.length - 1] ^= 1;
    expect(openFrame(forged, key, true, 0, lim)).toMatchObject({ env: null, e: M.E_MAC, refSeq: 9, refType: M.HELLO });
    expect(openFrame(f, key, true, 9, lim)).toMatchObject({ env: null, e: M.E_REPLAY, refSeq: 9 });
    expect(openFrame(f, key, false, 0, lim)).toMatchObject({ env: null, e: M.E_TYPE });
    expect(openFrame(f, new Uint8Array(32), true, 0, lim).e).toBe(M.E_MAC);
  });

  it.each([
    ["an item cut short", "8301", C.CBOR_E_INCOMPLETE],
    ["bytes after the item", "830102030a", C.CBOR_E_TRAILING],
    ["a break outside an indefinite item", "ff", C.CBOR_E_MALFORMED],
    ["a longer head than needed", "1817", C.CBOR_E_NOT_PREFERRED],
    ["a float that holds an integer", "f93c00", C.CBOR_E_NOT_PREFERRED],
    ["a fraction", "f93e00", C.CBOR_E_UNSUPPORTED],
    ["an indefinite-length array", "9f01ff", C.CBOR_E_NOT_PREFERRED],
    ["a tag", "c11a514b67b0", C.CBOR_E_UNSUPPORTED],
    ["undefined", "f7", C.CBOR_E_UNSUPPORTED],
    ["text beyond ASCII", "62c3a9", C.CBOR_E_TEXT],
    ["an integer beyond 2^53-1", "1b0020000000000000", C.CBOR_E_RANGE],
    ["a text map key", "a1616101", C.CBOR_E_KEY],
    ["map keys out of order", "a202010101", C.CBOR_E_NOT_PREFERRED],
    ["six nested arrays", "81818181818100", C.CBOR_E_DEPTH],
    ["an array of 321 items", "990141" + "00".repeat(321), C.CBOR_E_LENGTH],
  ])("decodeItem refuses %s", (_, hex, e) => {
    expect(decodeItem(fromHex(hex))).toEqual({ v: null, e });
  });

  it("writes integers of 2^32 and more as integers, and maps in canonical key order", () => {
    expect(encodeItem(2 ** 40)).toEqual(fromHex("1b0000010000000000"));
    expect(encodeItem(-(2 ** 40))).toEqual(fromHex("3b000000ffffffffff"));
    expect(encodeItem({ 24: 1, 2: 0, [-1]: 3 })).toEqual(fromHex("a3020018180120 03".replace(" ", "")));
    expect(decodeItem(encodeItem([2 ** 53 - 1, -(2 ** 53 - 1), new Uint8Array([1, 2])])).v).toEqual([2 ** 53 - 1, -(2 ** 53 - 1), new Uint8Array([1, 2])]);
  });

  it("the frame cbor-x writes with its default options is refused", () => {
    const loose = new Uint8Array(new Encoder().encode([1, M.CONFIG, 7, EXAMPLE_TIME, { 1: 60 }, new Uint8Array(8)]));
    expect(openFrame(remac(loose), key, false, 0, lim).e).toBeGreaterThan(0);
  });
});
