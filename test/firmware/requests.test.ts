// The request table: ids never collide, a request goes on the wire as a
// valid item asking for what is still needed, and comes back unchanged.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { F_DONE, F_KEPT, F_STATE, MAX_REQUESTS, RQ_PENDING, RQ_REJECTED, RequestTable } from "../../firmware/requests";
import * as M from "../../protocol/messages";

const lim: M.Limits = { horizonSlots: 144, maxPerSlot: new Uint16Array([0, 36, 61, 41]) };

/** A request as RequestTable.add takes it: [id, client, kind, earliest, end, packets, window, perSlot, state], and its profile. */
interface Req {
  v: number[];
  profile: Uint8Array | undefined;
}

const requestArb: fc.Arbitrary<Req> = fc.integer({ min: 1, max: 3 }).chain((client) =>
  fc.tuple(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 1, max: 40 })).chain(([earliest, len]) => {
    const max = lim.maxPerSlot[client];
    const req = (kind: number, packets: number, window: number, perSlot: number, profile?: number[]): Req => ({
      v: [7, client, kind, 5000 + earliest, 5000 + earliest + len, packets, window, perSlot, RQ_PENDING],
      profile: profile && Uint8Array.from(profile),
    });
    const profile = fc.array(fc.integer({ min: 0, max }), { minLength: 1, maxLength: len }).filter((p) => p.some((x) => x > 0)).map((p) => req(M.KIND_PROFILE, p.reduce((a, b) => a + b, 0), 0, 0, p));
    const energy = fc.integer({ min: 1, max }).chain((per) => fc.integer({ min: 1, max: per * len }).map((n) => req(M.KIND_ENERGY, n, 0, per)));
    const thermal = fc.tuple(fc.integer({ min: 1, max }), fc.integer({ min: 1, max: len })).chain(([per, w]) => fc.integer({ min: 1, max: per * w }).map((n) => req(M.KIND_THERMAL, n, w, per)));
    return fc.oneof(profile, energy, thermal);
  }),
);

/** Row i's journaled fields. */
function fieldsOf(t: RequestTable, i: number): number[] {
  return t.fields(i, [], 0) as number[];
}

describe("RequestTable", () => {
  const r = (id: number) => [id, 1, M.KIND_ENERGY, 0, 10, 5, 0, 1, RQ_PENDING];

  it("hands out ids that are never in use, wrapping at 65535 and skipping 0", () => {
    const t = new RequestTable();
    t.lastId = 65533;
    t.add(r(65535), 0, undefined);
    t.add(r(1), 0, undefined);
    t.lastId = 65533;
    expect(t.nextId()).toBe(65534);
    t.lastId = 65534;
    expect(t.nextId()).toBe(2);
  });

  it("refuses a 33rd open request", () => {
    const t = new RequestTable();
    for (let i = 1; i <= MAX_REQUESTS; i++) expect(t.add(r(i), 0, undefined)).toBeGreaterThanOrEqual(0);
    expect(t.add(r(99), 0, undefined)).toBe(-1);
    expect(t.count()).toBe(MAX_REQUESTS);
  });

  it("a freed row is reused clean: no fields, no profile of the request before", () => {
    const t = new RequestTable();
    const p = t.add([1, 1, M.KIND_PROFILE, 0, 10, 3, 0, 0, RQ_PENDING, 9, 9, 2, 1], 0, Uint8Array.from([1, 2]));
    t.free(p);
    expect(t.find(1)).toBe(-1);
    const e = t.add(r(2), 0, undefined);
    expect(e).toBe(p);
    expect(fieldsOf(t, e)).toEqual([...r(2), 0, 0, 0, 0]);
    expect(t.profiles[e]).toBeUndefined();
  });

  it("every request goes on the wire as an item validateBody accepts, and reads back as the same request (property)", () => {
    fc.assert(
      fc.property(requestArb, fc.integer({ min: 0, max: 4 }), (q, ago) => {
        const t = new RequestTable();
        const row = t.add(q.v, 0, q.profile);
        const now = q.v[3] - ago;
        const item = t.item(row, now);
        expect(M.validateBody(M.REQUEST, [item], lim)).toBe(0);
        const back = new RequestTable();
        const b = back.addItem(item, now, RQ_PENDING);
        expect(fieldsOf(back, b)).toEqual(fieldsOf(t, row));
        expect(back.profiles[b] && [...back.profiles[b]]).toEqual(q.profile && [...q.profile]);
        expect(t.get(row, F_STATE)).toBe(RQ_PENDING);
      }),
      { numRuns: 500 },
    );
  });

  it("a request partly delivered asks only for the rest: energy packets, or the profile's remaining slots", () => {
    const t = new RequestTable();
    const e = t.add([1, 2, M.KIND_ENERGY, 100, 130, 50, 0, 20, RQ_PENDING], 0, undefined);
    t.set(e, F_DONE, 30);
    expect(t.item(e, 110)).toEqual([1, 2, M.KIND_ENERGY, 0, 20, 20, 20]);
    const p = t.add([2, 1, M.KIND_PROFILE, 100, 120, 10, 0, 0, RQ_PENDING], 0, Uint8Array.from([4, 3, 2, 1]));
    t.set(p, F_DONE, 2);
    expect(t.item(p, 102)).toEqual([2, 1, M.KIND_PROFILE, 0, 18, [2, 1]]);
    expect(t.remaining(e)).toBe(20);
  });

  it("a row's journaled fields load back into another row, from any field on", () => {
    const t = new RequestTable();
    const a = t.add([5, 3, M.KIND_THERMAL, 10, 50, 6, 4, 2, RQ_PENDING, 0, 0, 0, 0], 0, undefined);
    t.load(a, F_STATE, [RQ_REJECTED, 1234, 2, 1, 1], 0);
    const list = t.fields(a, [99], 0);
    expect(list.length).toBe(F_KEPT + 1);
    const b = new RequestTable();
    b.add(list, 1, undefined);
    expect(fieldsOf(b, 0)).toEqual([5, 3, M.KIND_THERMAL, 10, 50, 6, 4, 2, RQ_REJECTED, 1234, 2, 1, 1]);
  });
});

