// The request table: ids never collide, a request goes on the wire as a
// valid item asking for what is still needed, and comes back unchanged.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { F_DONE, F_STATE, MAX_REQUESTS, RQ_PENDING, RequestTable, requestOfItem, type NewRequest } from "../../firmware/requests";
import * as M from "../../protocol/messages";

const lim: M.Limits = { horizonSlots: 144, maxPerSlot: new Uint16Array([0, 36, 61, 41]) };

const requestArb: fc.Arbitrary<NewRequest> = fc.integer({ min: 1, max: 3 }).chain((client) =>
  fc.tuple(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 1, max: 40 })).chain(([earliest, len]) => {
    const max = lim.maxPerSlot[client];
    const base = { client, earliest: 5000 + earliest, end: 5000 + earliest + len, packets: 0, window: 0, perSlot: 0, profile: undefined as Uint8Array | undefined };
    const profile = fc.array(fc.integer({ min: 0, max }), { minLength: 1, maxLength: len }).filter((p) => p.some((x) => x > 0)).map((p) => ({ ...base, kind: M.KIND_PROFILE, packets: p.reduce((a, b) => a + b, 0), profile: Uint8Array.from(p) }));
    const energy = fc.integer({ min: 1, max }).chain((per) => fc.integer({ min: 1, max: per * len }).map((n) => ({ ...base, kind: M.KIND_ENERGY, packets: n, perSlot: per })));
    const thermal = fc.tuple(fc.integer({ min: 1, max }), fc.integer({ min: 1, max: len })).chain(([per, w]) => fc.integer({ min: 1, max: per * w }).map((n) => ({ ...base, kind: M.KIND_THERMAL, packets: n, window: w, perSlot: per })));
    return fc.oneof(profile, energy, thermal);
  }),
);

describe("RequestTable", () => {
  it("hands out ids that are never in use, wrapping at 65535 and skipping 0", () => {
    const t = new RequestTable();
    t.lastId = 65533;
    const r: NewRequest = { client: 1, kind: M.KIND_ENERGY, earliest: 0, end: 10, packets: 5, window: 0, perSlot: 1, profile: undefined };
    t.add(65535, r, RQ_PENDING);
    t.add(1, r, RQ_PENDING);
    t.lastId = 65533;
    expect(t.nextId()).toBe(65534);
    t.lastId = 65534;
    expect(t.nextId()).toBe(2);
  });

  it("refuses a 33rd open request", () => {
    const t = new RequestTable();
    const r: NewRequest = { client: 1, kind: M.KIND_ENERGY, earliest: 0, end: 10, packets: 5, window: 0, perSlot: 1, profile: undefined };
    for (let i = 1; i <= MAX_REQUESTS; i++) expect(t.add(i, r, RQ_PENDING)).toBeGreaterThanOrEqual(0);
    expect(t.add(99, r, RQ_PENDING)).toBe(-1);
    expect(t.count()).toBe(MAX_REQUESTS);
  });

  it("every request goes on the wire as an item validateBody accepts, and reads back as the same request (property)", () => {
    fc.assert(
      fc.property(requestArb, fc.integer({ min: 0, max: 4 }), (r, ago) => {
        const t = new RequestTable();
        const row = t.add(7, r, RQ_PENDING);
        const now = r.earliest - ago;
        const item = t.item(row, now);
        expect(M.validateBody(M.REQUEST, [item], lim)).toBe(0);
        const back = requestOfItem(item, now);
        expect({ ...back, profile: back.profile && [...back.profile] }).toEqual({ ...r, profile: r.profile && [...r.profile] });
        expect(t.get(row, F_STATE)).toBe(RQ_PENDING);
      }),
      { numRuns: 500 },
    );
  });

  it("a request partly delivered asks only for the rest: energy packets, or the profile's remaining slots", () => {
    const t = new RequestTable();
    const e = t.add(1, { client: 2, kind: M.KIND_ENERGY, earliest: 100, end: 130, packets: 50, window: 0, perSlot: 20, profile: undefined }, RQ_PENDING);
    t.set(e, F_DONE, 30);
    expect(t.item(e, 110)).toEqual([1, 2, M.KIND_ENERGY, 0, 20, 20, 20]);
    const p = t.add(2, { client: 1, kind: M.KIND_PROFILE, earliest: 100, end: 120, packets: 10, window: 0, perSlot: 0, profile: Uint8Array.from([4, 3, 2, 1]) }, RQ_PENDING);
    t.set(p, F_DONE, 2);
    expect(t.item(p, 102)).toEqual([2, 1, M.KIND_PROFILE, 0, 18, [2, 1]]);
    expect(t.remaining(p)).toBe(3);
  });
});
