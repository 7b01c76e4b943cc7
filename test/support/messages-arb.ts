// fast-check generators of valid messages (every type, every request kind)
// for the limits they are checked against.
import fc from "fast-check";
import type { CborMap, CborValue } from "../../protocol/cbor";
import * as M from "../../protocol/messages";
import type { Limits } from "../../protocol/messages";

export interface Msg {
  type: number;
  body: CborValue;
}

/** Limits with 1-8 known clients (ids 1..n), each allowed 1..400 packets a slot, and a horizon of 1..288 slots. */
export const limitsArb: fc.Arbitrary<Limits> = fc
  .record({ horizon: fc.integer({ min: 1, max: 288 }), max: fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 1, maxLength: 8 }) })
  .map((r) => ({ horizonSlots: r.horizon, maxPerSlot: new Uint16Array([0, ...r.max]) }));

const u16 = fc.integer({ min: 1, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const ascii = (min: number, max: number) => fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), minLength: min, maxLength: max });

function clientArb(lim: Limits): fc.Arbitrary<number> {
  return fc.integer({ min: 1, max: lim.maxPerSlot.length - 1 });
}

/** [earliest, end) inside the horizon. */
function windowArb(lim: Limits): fc.Arbitrary<[number, number]> {
  return fc.integer({ min: 1, max: lim.horizonSlots }).chain((end) => fc.integer({ min: 0, max: end - 1 }).map((e) => [e, end] as [number, number]));
}

function requestArb(lim: Limits): fc.Arbitrary<CborValue[]> {
  return fc.tuple(u16, clientArb(lim), windowArb(lim)).chain(([id, c, [e, end]]) => {
    const max = lim.maxPerSlot[c];
    const slots = end - e;
    const profile = fc
      .array(fc.integer({ min: 0, max }), { minLength: 1, maxLength: slots })
      .filter((p) => p.some((n) => n > 0))
      .map((p): CborValue[] => [id, c, M.KIND_PROFILE, e, end, p]);
    const energy = fc
      .integer({ min: 1, max })
      .chain((per) => fc.integer({ min: 1, max: per * slots }).map((n): CborValue[] => [id, c, M.KIND_ENERGY, e, end, n, per]));
    const thermal = fc
      .tuple(fc.integer({ min: 1, max }), fc.integer({ min: 1, max: slots }))
      .chain(([per, w]) => fc.integer({ min: 1, max: per * w }).map((n): CborValue[] => [id, c, M.KIND_THERMAL, e, end, n, w, per]));
    return fc.oneof(profile, energy, thermal);
  });
}

function triples(a: fc.Arbitrary<number[]>): fc.Arbitrary<number[]> {
  return fc.array(a, { minLength: 1, maxLength: M.MAX_ITEMS }).map((xs) => xs.flat());
}

/** Every message type, valid for lim. */
export function messageArb(lim: Limits): fc.Arbitrary<Msg> {
  const client = clientArb(lim);
  const m = (type: number, body: fc.Arbitrary<CborValue>) => body.map((b) => ({ type, body: b }));
  const configKeys: [number, number, number][] = [
    [M.CFG_HEARTBEAT_S, 10, 3600],
    [M.CFG_FAILSAFE_MISSES, 1, 10],
    [M.CFG_LOCAL_AFTER_S, 0, 86400],
    [M.CFG_TELEMETRY_S, 60, 86400],
    [M.CFG_IMPORT_WH, 0, 100000],
    [M.CFG_LOCAL_ONLY, 0, 1],
  ];
  const safe = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
  const totals = fc.array(safe, { maxLength: 8 });
  const pairing = fc.tuple(u16, fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: 15 }), fc.option(fc.integer({ min: 0, max: 15 })), fc.integer({ min: 1, max: 50000 }), fc.integer({ min: 0, max: 7 }), ascii(1, 16));
  return fc.oneof(
    m(M.HELLO, fc.tuple(ascii(1, 32), u32, fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 64, max: 0xffff }))),
    m(M.REQUEST, fc.array(requestArb(lim), { minLength: 1, maxLength: 4 })),
    m(M.ACK, triples(client.chain((c) => fc.tuple(fc.constant(c), fc.integer({ min: 0, max: lim.maxPerSlot[c] }), fc.integer({ min: 0, max: 0xffff }))))),
    m(M.EMERGENCY, fc.tuple(u16, client, fc.integer({ min: 1, max: 2 }))),
    m(M.TELEMETRY, fc.tuple(u32, fc.array(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), { maxLength: 8 })).map(([b, w]) => [b, ...w])),
    m(M.PAIRING, fc.oneof(u16.map((c) => [c, 0]), pairing)),
    m(M.NACK_UP, fc.tuple(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.integer({ min: 0, max: 31 }), fc.integer({ min: 1, max: 255 }))),
    m(M.ACCEPT, fc.array(u16, { minLength: 1, maxLength: M.MAX_ITEMS })),
    m(M.REJECT, triples(fc.tuple(u16, fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 86400 })))),
    m(
      M.SCHEDULE,
      client.chain((c) =>
        fc.integer({ min: 1, max: lim.horizonSlots }).chain((len) =>
          fc.tuple(fc.constant(c), fc.integer({ min: 0, max: lim.horizonSlots - len }), fc.array(fc.integer({ min: 0, max: lim.maxPerSlot[c] }), { minLength: len, maxLength: len }), fc.integer({ min: 1, max: lim.horizonSlots })),
        ),
      ),
    ),
    m(M.HEARTBEAT, fc.oneof(fc.tuple(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 1, max: 10000 })), fc.tuple(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 1, max: 10000 }), fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER })))),
    m(
      M.CONFIG,
      fc.subarray(configKeys, { minLength: 1 }).chain((keys) =>
        fc.tuple(...keys.map(([k, lo, hi]) => fc.integer({ min: lo, max: hi }).map((v) => [k, v] as [number, number]))).map((kv) => {
          const b: CborMap = {};
          for (const [k, v] of kv) b[k] = v;
          return b;
        }),
      ),
    ),
    m(M.NACK_DOWN, fc.tuple(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.integer({ min: 0, max: 31 }), fc.integer({ min: 1, max: 255 }))),
    m(M.BACKUP, fc.tuple(u32, u32, totals)),
    m(M.LOCAL_REPORT, fc.array(fc.tuple(u16, client, fc.integer({ min: M.LR_ADMITTED, max: M.LR_RUNNING }), u32), { minLength: 1, maxLength: M.MAX_ITEMS }).map((xs) => xs.flat())),
    m(M.STORED, fc.tuple(u32)),
    m(
      M.RESTORE,
      fc.tuple(safe, safe, fc.integer({ min: 0, max: 0xffff }), u32, totals, fc.array(pairing, { maxLength: 16 }), fc.array(requestArb(lim), { maxLength: 4 }), u32),
    ),
  );
}

/** Limits and a message valid for them. */
export const limitsAndMessageArb = limitsArb.chain((lim) => messageArb(lim).map((msg) => ({ lim, msg })));
