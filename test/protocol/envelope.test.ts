// protocol/envelope.ts: sealed frames open with the right key only, once,
// in the right direction; nothing else gets through or changes state.
import { createHmac } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CBOR_E_FULL, CBOR_E_INCOMPLETE, CBOR_E_TRAILING, decodeCbor, encodeCbor } from "../../protocol/cbor";
import type { CborValue } from "../../protocol/cbor";
import { MAC_BYTES, Peer, open, seal } from "../../protocol/envelope";
import * as M from "../../protocol/messages";
import { EXAMPLES, EXAMPLE_KEY, EXAMPLE_LIMITS, EXAMPLE_TIME, frameOf, sha256 } from "../../tools/protocol/examples";
import { limitsAndMessageArb } from "../support/messages-arb";

const key = EXAMPLE_KEY;
const lim = EXAMPLE_LIMITS;

function sealed(type: number, seq: number, body: CborValue, k = key): Uint8Array {
  const f = seal(type, seq, EXAMPLE_TIME, body, k, sha256, new Uint8Array(1024));
  if (typeof f === "number") throw new Error(`seal: ${f}`);
  return f;
}

/** A frame whose MAC is right for its bytes but whose fields are what the test wants. */
function forged(fields: CborValue[], k = key): Uint8Array {
  const out = new Uint8Array(1024);
  out[0] = 0x80 | (fields.length + 1);
  let at = 1;
  for (const f of fields) at = encodeCbor(f, out, at, 4);
  const mac = createHmac("sha256", k).update(out.subarray(0, at)).digest().subarray(0, MAC_BYTES);
  out[at] = 0x48;
  out.set(mac, at + 1);
  return out.slice(0, at + 9);
}

const HB = [10, 10];

describe("seal and open", () => {
  it.each(EXAMPLES.map((e) => [e.name, e] as const))("the example %s opens to what was sealed", (_, e) => {
    const o = open(frameOf(e), key, sha256, M.isUp(e.type), 0, lim);
    expect(o.e).toBe(0);
    expect(o.env).toEqual({ type: e.type, seq: e.seq, time: EXAMPLE_TIME, body: e.body });
  });

  it("the MAC is HMAC-SHA256 over every byte before the mac item, truncated to 8 bytes", () => {
    const f = sealed(M.HEARTBEAT, 7, HB);
    const want = createHmac("sha256", key).update(f.subarray(0, f.length - 9)).digest().subarray(0, 8);
    expect(f[f.length - 9]).toBe(0x48);
    expect(Buffer.from(f.subarray(f.length - 8))).toEqual(want);
    expect(decodeCbor(f, 4, 100).v).toEqual([1, M.HEARTBEAT, 7, EXAMPLE_TIME, HB, f.subarray(f.length - 8)]);
  });

  it("every valid message of every type survives seal and open", () => {
    fc.assert(
      fc.property(limitsAndMessageArb, fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), fc.integer({ min: 0, max: 0xffffffff }), ({ lim, msg }, seq, time) => {
        const f = seal(msg.type, seq, time, msg.body, key, sha256, new Uint8Array(2048));
        if (typeof f === "number") return false;
        const o = open(f, key, sha256, M.isUp(msg.type), seq - 1, lim);
        expect(o.e).toBe(0);
        expect(o.env).toEqual({ type: msg.type, seq, time, body: msg.body });
        return true;
      }),
      { numRuns: 2000 },
    );
  });

  it("a frame that does not fit the scratch buffer is refused by seal with CBOR_E_FULL", () => {
    const len = sealed(M.HEARTBEAT, 7, HB).length;
    for (let n = 0; n < len; n++) expect(seal(M.HEARTBEAT, 7, EXAMPLE_TIME, HB, key, sha256, new Uint8Array(n))).toBe(-CBOR_E_FULL);
    expect(seal(M.HEARTBEAT, 7, EXAMPLE_TIME, HB, key, sha256, new Uint8Array(len))).toEqual(sealed(M.HEARTBEAT, 7, HB));
  });

  it("a sealed frame is an array of its own size: reusing the scratch buffer leaves it as it was", () => {
    const scratch = new Uint8Array(512);
    const first = seal(M.HEARTBEAT, 7, EXAMPLE_TIME, HB, key, sha256, scratch) as Uint8Array;
    const copy = first.slice();
    seal(M.SCHEDULE, 8, EXAMPLE_TIME, [2, 0, [1, 2, 3], 4], key, sha256, scratch);
    expect(first).toEqual(copy);
    expect(first.buffer.byteLength).toBe(first.length);
    expect(open(first, key, sha256, false, 0, lim).e).toBe(0);
  });
});

describe("what open refuses", () => {
  it("a frame sealed with another router's key", () => {
    const other = new Uint8Array(32).fill(7);
    expect(open(sealed(M.HEARTBEAT, 7, HB, other), key, sha256, false, 0, lim).e).toBe(M.E_MAC);
  });

  it("a replayed frame, and any seq not above the highest accepted", () => {
    const f = sealed(M.HEARTBEAT, 7, HB);
    expect(open(f, key, sha256, false, 6, lim).e).toBe(0);
    expect(open(f, key, sha256, false, 7, lim).e).toBe(M.E_REPLAY);
    expect(open(f, key, sha256, false, 100, lim).e).toBe(M.E_REPLAY);
  });

  it("a router's own up message reflected back down to it, and a down message sent up", () => {
    expect(open(sealed(M.NACK_UP, 9, [1, 2, 3]), key, sha256, false, 0, lim).e).toBe(M.E_TYPE);
    expect(open(sealed(M.NACK_DOWN, 9, [1, 2, 3]), key, sha256, true, 0, lim).e).toBe(M.E_TYPE);
  });

  it("a frame with any single byte changed", () => {
    for (const e of EXAMPLES) {
      const f = frameOf(e);
      for (let i = 0; i < f.length; i++) {
        for (const x of [0x01, 0x80, 0xff]) {
          const g = f.slice();
          g[i] ^= x;
          expect(open(g, key, sha256, M.isUp(e.type), 0, lim).e, `${e.name}: byte ${i} ^ ${x}`).toBeGreaterThan(0);
        }
      }
    }
  });

  it("a frame cut short at any length, and one with a byte after it", () => {
    const f = sealed(M.HEARTBEAT, 7, HB);
    for (let n = 0; n < f.length; n++) expect(open(f.subarray(0, n), key, sha256, false, 0, lim).e).toBe(CBOR_E_INCOMPLETE);
    const longer = new Uint8Array(f.length + 1);
    longer.set(f);
    expect(open(longer, key, sha256, false, 0, lim).e).toBe(CBOR_E_TRAILING);
  });

  // Fields with a correct MAC: the checks after the MAC must still refuse them.
  const envelopes: [string, CborValue[], number][] = [
    ["version 2", [2, M.HEARTBEAT, 7, EXAMPLE_TIME, HB], M.E_VERSION],
    ["version 0", [0, M.HEARTBEAT, 7, EXAMPLE_TIME, HB], M.E_VERSION],
    ["an unknown type", [1, 30, 7, EXAMPLE_TIME, HB], M.E_TYPE],
    ["seq 0", [1, M.HEARTBEAT, 0, EXAMPLE_TIME, HB], M.E_ENVELOPE],
    ["a negative seq", [1, M.HEARTBEAT, -7, EXAMPLE_TIME, HB], M.E_ENVELOPE],
    ["a negative time", [1, M.HEARTBEAT, 7, -1, HB], M.E_ENVELOPE],
    ["a time beyond 32 bits", [1, M.HEARTBEAT, 7, 2 ** 32, HB], M.E_ENVELOPE],
    ["a type that is text", [1, "hb", 7, EXAMPLE_TIME, HB], M.E_ENVELOPE],
    ["five fields and a MAC", [1, M.HEARTBEAT, 7, EXAMPLE_TIME, HB, 0], M.E_ENVELOPE],
    ["a bad body", [1, M.HEARTBEAT, 7, EXAMPLE_TIME, [0, 10]], M.E_RANGE],
    ["a schedule for a client the router does not have", [1, M.SCHEDULE, 7, EXAMPLE_TIME, [9, 0, [1], 1]], M.E_CLIENT],
  ];
  it.each(envelopes)("%s, even with a valid MAC", (_, fields, reason) => {
    expect(open(forged(fields), key, sha256, false, 0, lim).e).toBe(reason);
  });

  it("an envelope that is not an array, or has a MAC of the wrong length", () => {
    expect(open(new Uint8Array([0x01]), key, sha256, false, 0, lim).e).toBe(M.E_ENVELOPE);
    const f = sealed(M.HEARTBEAT, 7, HB);
    const short = f.slice(0, f.length - 1);
    short[short.length - 8] = 0x47;
    expect(open(short, key, sha256, false, 0, lim).e).toBe(M.E_ENVELOPE);
  });
});

describe("Peer", () => {
  it("tells each refusal's reason and changes nothing else; accept() raises the bar", () => {
    const p = new Peer(key, sha256, lim, 5);
    expect(p.check(sealed(M.HEARTBEAT, 5, HB))).toBeNull();
    expect(p.reason).toBe(M.E_REPLAY);
    expect(p.check(sealed(M.HEARTBEAT, 9, HB, new Uint8Array(32)))).toBeNull();
    expect(p.reason).toBe(M.E_MAC);
    expect(p.check(new Uint8Array([0xff]))).toBeNull();
    expect(p.reason).toBe(2); // CBOR_E_MALFORMED: a break on its own
    expect(p.lastSeq).toBe(5);
    const env = p.check(sealed(M.HEARTBEAT, 6, HB));
    expect(env?.seq).toBe(6);
    expect(p.reason).toBe(0);
    expect(p.lastSeq).toBe(5); // not until accept()
    p.accept(6);
    expect(p.check(sealed(M.HEARTBEAT, 6, HB))).toBeNull();
    expect(p.reason).toBe(M.E_REPLAY);
  });

  it("takes a frame that was overtaken (below the highest, inside the window) once, and nothing at or below the window's floor", () => {
    const p = new Peer(key, sha256, lim, 100);
    const take = (seq: number) => {
      const env = p.check(sealed(M.HEARTBEAT, seq, HB));
      if (env) p.accept(env.seq);
      return env !== null;
    };
    expect(take(100)).toBe(false); // a new Peer has seen everything up to its lastSeq
    expect(take(99)).toBe(false);
    expect(take(105)).toBe(true);
    expect(take(103)).toBe(true); // overtaken by 105
    expect(take(103)).toBe(false);
    expect(p.reason).toBe(M.E_REPLAY);
    expect(take(101)).toBe(true);
    expect(take(100)).toBe(false); // seen before the Peer was made
    expect(take(140)).toBe(true);
    expect(take(108)).toBe(false); // 140 - 32: the floor
    expect(take(109)).toBe(true);
    expect(p.lastSeq).toBe(140);
  });

  it("accepts each seq at most once and exactly those above the floor it has not seen, whatever the order (property, against a model)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 50 }), fc.array(fc.integer({ min: 0, max: 120 }), { maxLength: 80 }), (start, seqs) => {
        const p = new Peer(key, sha256, lim, start);
        const taken = new Set<number>();
        let last = start;
        for (const seq of seqs) {
          const want = seq > start && !taken.has(seq) && seq > last - 32;
          const env = p.check(sealed(M.HEARTBEAT, seq === 0 ? 1 : seq, HB));
          if (seq === 0) continue;
          expect(env !== null).toBe(want);
          if (env) {
            p.accept(env.seq);
            taken.add(seq);
            last = Math.max(last, seq);
          }
        }
        expect(p.lastSeq).toBe(last);
      }),
      { numRuns: 300 },
    );
  });

  it("fuzz: 100,000 random and mutated frames are refused with a reason, never throw, never move lastSeq", () => {
    const seed = Number(process.env.ENVELOPE_FUZZ_SEED ?? 20261123);
    const p = new Peer(key, sha256, lim, 1000);
    const good = EXAMPLES.filter((e) => !M.isUp(e.type)).map((e) => sealed(e.type, 2000, e.body));
    let n = 0, refused = 0;
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 64 }),
          fc.tuple(fc.constantFrom(...good), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 }), fc.nat(3)), { minLength: 1, maxLength: 4 })).map(([f, edits]) => {
            let g = f.slice();
            for (const [at, x, op] of edits) {
              const i = at % (g.length + 1);
              if (op === 0 && i < g.length) g[i] ^= x;
              else if (op === 1) g = g.slice(0, i);
              else if (op === 2) g = new Uint8Array([...g.subarray(0, i), x, ...g.subarray(i)]);
              else if (i < g.length) g = new Uint8Array([...g.subarray(0, i), ...g.subarray(i + 1)]);
            }
            return g;
          }),
        ),
        (frame) => {
          n++;
          const env = p.check(frame);
          if (env !== null) {
            // Only an untouched frame can pass: its bytes equal a sealed one.
            expect(good.some((g) => Buffer.from(g).equals(Buffer.from(frame)))).toBe(true);
          } else {
            expect(p.reason).toBeGreaterThan(0);
            refused++;
          }
          expect(p.lastSeq).toBe(1000);
        },
      ),
      { numRuns: 100_000, seed },
    );
    expect(n).toBe(100_000);
    expect(refused).toBeGreaterThan(99_000);
  });
});
