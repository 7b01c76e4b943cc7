// The schedule cache: what a schedule says is what the router runs, nothing
// outside it, nothing at or after its lease.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { HORIZON as H, Plan } from "../../firmware/plan";


describe("Plan", () => {
  it("gives the counts of a schedule in its slots and 0 before, after and at or after the lease", () => {
    const p = new Plan(4);
    p.set(2, 1000, [3, 0, 5], 1002);
    expect([p.at(2, 999), p.at(2, 1000), p.at(2, 1001), p.at(2, 1002), p.at(2, 1003)]).toEqual([0, 3, 0, 0, 0]);
    expect(p.at(1, 1000)).toBe(0);
  });

  it("a newer schedule replaces the plan from its first slot and keeps the slots before it", () => {
    const p = new Plan(1);
    p.set(1, 100, [1, 2, 3, 4], 200);
    p.set(1, 102, [9], 200);
    expect([100, 101, 102, 103].map((s) => p.at(1, s))).toEqual([1, 2, 9, 0]);
  });

  it("a gap between the old plan and a later schedule reads 0", () => {
    const p = new Plan(1);
    p.set(1, 100, [7, 7], 400);
    p.set(1, 105, [1], 400);
    expect([100, 101, 102, 103, 104, 105].map((s) => p.at(1, s))).toEqual([7, 7, 0, 0, 0, 1]);
  });

  it("unknown clients read 0 and never touch another client's ring", () => {
    const p = new Plan(2);
    p.set(1, 10, [5], 20);
    expect([p.at(0, 10), p.at(3, 10), p.at(2, 10)]).toEqual([0, 0, 0]);
  });

  it("matches a model over any sequence of schedules (property)", () => {
    const sched = fc.record({
      c: fc.integer({ min: 1, max: 3 }),
      first: fc.integer({ min: 0, max: 400 }),
      counts: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: H }),
      lease: fc.integer({ min: 0, max: 700 }),
    });
    fc.assert(
      fc.property(fc.array(sched, { minLength: 1, maxLength: 12 }), (list) => {
        // Schedules arrive in time order: each starts at or after the previous one's first slot.
        list.sort((a, b) => a.first - b.first);
        const p = new Plan(3);
        const model = [new Map<number, number>(), new Map<number, number>(), new Map<number, number>()];
        const lease = [0, 0, 0];
        for (const s of list) {
          const m = model[s.c - 1];
          for (const k of [...m.keys()]) if (k >= s.first || k < s.first + s.counts.length - H) m.delete(k);
          s.counts.forEach((n, k) => m.set(s.first + k, n));
          lease[s.c - 1] = s.lease;
          p.set(s.c, s.first, s.counts, s.lease);
        }
        for (let c = 1; c <= 3; c++) {
          for (let slot = 0; slot < 700; slot++) {
            const want = slot < lease[c - 1] ? (model[c - 1].get(slot) ?? 0) : 0;
            if (p.at(c, slot) !== want) return false;
          }
        }
        return true;
      }),
      { numRuns: 200 },
    );
  });
});
