// tools/server/alloc.ts: the server's stages as pure functions, held to
// their promises over random supply curves and request sets.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { REJ_CAPACITY, REJ_CLIENT, REJ_DEADLINE, REJ_POLICY } from "../../protocol/messages";
import {
  DEFAULT_CLASS_RULES,
  allocate,
  byPriority,
  capacityPackets,
  classify,
  decide,
  retryAfterS,
  type Allocation,
  type Demand,
  type Grid,
} from "../../tools/server/alloc";

/** Absolute slot of the grids' first slot: not 0, so that an offset mistake shows. */
const FROM = 1000;

interface Case {
  grid: Grid;
  demands: Demand[];
}

const base = { fixedStart: -1, group: -1, groupMax: 0 };

function energy(cls: number, order: number, start: number, end: number, need: number, maxPerSlot: number): Demand {
  return { ...base, cls, order, maxPerSlot, windows: [start, end, need], profile: null, earliest: start, latestEnd: end };
}

function profile(cls: number, order: number, earliest: number, latestEnd: number, counts: number[]): Demand {
  return { ...base, cls, order, maxPerSlot: Math.max(...counts), windows: [], profile: counts, earliest, latestEnd };
}

/** A window [a, b) inside [FROM, FROM + len). */
function windowArb(len: number): fc.Arbitrary<[number, number]> {
  return fc.integer({ min: 1, max: len }).chain((b) => fc.integer({ min: 0, max: b - 1 }).map((a) => [FROM + a, FROM + b] as [number, number]));
}

type Kinds = "flex" | "all";

function demandArb(len: number, classes: number, kinds: Kinds, groups: boolean): fc.Arbitrary<Omit<Demand, "order">> {
  // A group is a client: every demand of it shares the same rated power.
  const group = groups ? fc.integer({ min: -1, max: 2 }).map((g) => [g, 2 + 4 * g] as [number, number]) : fc.constant([-1, 0] as [number, number]);
  const cls = fc.integer({ min: 0, max: classes });
  const flex = fc.tuple(windowArb(len), fc.integer({ min: 1, max: 8 }), cls, group).chain(([[a, b], max, c, [g, gm]]) =>
    fc.oneof(
      fc.integer({ min: 1, max: max * (b - a) }).map((need) => ({ ...base, cls: c, maxPerSlot: max, windows: [a, b, need], profile: null, earliest: a, latestEnd: b, group: g, groupMax: gm })),
      fc.integer({ min: 1, max: b - a }).chain((w) =>
        fc.integer({ min: 1, max: max * w }).map((per) => {
          const windows: number[] = [];
          for (let s = a; s < b; s += w) windows.push(s, Math.min(b, s + w), Math.ceil((per * (Math.min(b, s + w) - s)) / w));
          return { ...base, cls: c, maxPerSlot: max, windows, profile: null, earliest: a, latestEnd: b, group: g, groupMax: gm };
        }),
      ),
    ),
  );
  if (kinds === "flex") return flex;
  const prof = fc.tuple(windowArb(len), cls, group).chain(([[a, b], c, [g, gm]]) =>
    fc
      .array(fc.integer({ min: 0, max: 8 }), { minLength: 1, maxLength: b - a })
      .filter((p) => p.some((n) => n > 0))
      .map((p) => ({ ...base, cls: c, maxPerSlot: Math.max(...p), windows: [], profile: p, earliest: a, latestEnd: b, group: g, groupMax: gm })),
  );
  return fc.oneof(flex, prof);
}

function caseArb(kinds: Kinds, groups = false, maxDemands = 8): fc.Arbitrary<Case> {
  return fc.record({ len: fc.integer({ min: 1, max: 30 }), classes: fc.integer({ min: 1, max: 4 }) }).chain(({ len, classes }) =>
    fc.record({
      grid: fc.record({
        capacity: fc.array(fc.integer({ min: 0, max: 30 }), { minLength: len, maxLength: len }),
        shares: fc.array(fc.integer({ min: 0, max: 5 }), { minLength: classes, maxLength: classes }),
      }).map((g): Grid => ({ from: FROM, capacity: Int32Array.from(g.capacity), shares: g.shares })),
      demands: fc.array(demandArb(len, classes, kinds, groups), { minLength: 1, maxLength: maxDemands }).map((ds) => ds.map((d, i): Demand => ({ ...d, order: i }))),
    }),
  );
}

/** Packets of a placement in absolute slot s. */
function at(a: Allocation, i: number, s: number): number {
  const p = a.placements[i];
  const k = s - p.lo;
  return k >= 0 && k < p.counts.length ? p.counts[k] : 0;
}

/** The window of a flex demand that holds s: its index, or -1. */
function windowAt(d: Demand, s: number): number {
  for (let w = 0; w < d.windows.length; w += 3) if (s >= d.windows[w] && s < d.windows[w + 1]) return w / 3;
  return -1;
}

function windowSum(a: Allocation, i: number, d: Demand, w: number, fromSlot = d.windows[3 * w]): number {
  let n = 0;
  for (let s = fromSlot; s < d.windows[3 * w + 1]; s++) n += at(a, i, s);
  return n;
}

function groupUse(a: Allocation, demands: Demand[], g: number, s: number): number {
  let n = 0;
  demands.forEach((d, i) => {
    if (d.group === g) n += at(a, i, s);
  });
  return n;
}

/** Room a flex demand still had in slot s: below its max per slot and its group's. */
function hadRoom(a: Allocation, demands: Demand[], i: number, s: number): boolean {
  const d = demands[i];
  return at(a, i, s) < d.maxPerSlot && (d.group < 0 || groupUse(a, demands, d.group, s) < d.groupMax);
}

/** The invariants every allocation keeps, whatever the demands. */
function checkAllocation(grid: Grid, demands: Demand[], a: Allocation): void {
  const len = grid.capacity.length;
  for (let s = FROM; s < FROM + len; s++) {
    let used = 0;
    demands.forEach((_, i) => (used += at(a, i, s)));
    expect(used, `slot ${s} above its capacity`).toBeLessThanOrEqual(grid.capacity[s - FROM]);
    expect(a.free[s - FROM]).toBe(grid.capacity[s - FROM] - used);
    for (const g of new Set(demands.filter((d) => d.group >= 0).map((d) => d.group))) {
      const max = demands.find((d) => d.group === g)?.groupMax ?? 0;
      expect(groupUse(a, demands, g, s), `group ${g} above its rated power in slot ${s}`).toBeLessThanOrEqual(max);
    }
  }
  demands.forEach((d, i) => {
    const p = a.placements[i];
    let total = 0;
    for (let k = 0; k < p.counts.length; k++) total += p.counts[k];
    expect(p.placed).toBe(total);
    if (d.profile) {
      if (p.start < 0) {
        expect(total).toBe(0);
        expect(p.complete).toBe(false);
        return;
      }
      // Whole, contiguous, as given, inside its window.
      expect(p.complete).toBe(true);
      expect(p.start).toBeGreaterThanOrEqual(d.earliest);
      expect(p.start + d.profile.length).toBeLessThanOrEqual(d.latestEnd);
      for (let s = p.lo; s < p.lo + p.counts.length; s++) {
        const k = s - p.start;
        expect(at(a, i, s)).toBe(k >= 0 && k < d.profile.length ? d.profile[k] : 0);
      }
      return;
    }
    let complete = true;
    for (let s = p.lo; s < p.lo + p.counts.length; s++) {
      expect(at(a, i, s)).toBeLessThanOrEqual(d.maxPerSlot);
      if (windowAt(d, s) < 0) expect(at(a, i, s)).toBe(0);
    }
    for (let w = 0; w < d.windows.length / 3; w++) {
      const got = windowSum(a, i, d, w);
      expect(got).toBeLessThanOrEqual(d.windows[3 * w + 2]);
      if (got < d.windows[3 * w + 2]) complete = false;
    }
    expect(p.complete).toBe(complete);
  });
}

function clsOf(d: Demand, grid: Grid): number {
  return Math.min(d.cls, grid.shares.length - 1);
}

/** The slices of a slot as allocate() cuts them: floor of each share, the rounding to the top. */
function slicesOf(grid: Grid, avail: number): number[] {
  const sum = grid.shares.reduce((x, y) => x + y, 0);
  const out = grid.shares.map((sh) => (sum > 0 ? Math.floor((avail * sh) / sum) : 0));
  out[0] += avail - out.reduce((x, y) => x + y, 0);
  return out;
}

describe("allocate", () => {
  it("keeps every slot within its capacity, every demand within its max per slot and window, every profile whole", () => {
    fc.assert(
      fc.property(caseArb("all", true), ({ grid, demands }) => checkAllocation(grid, demands, allocate(grid, demands))),
      { numRuns: 1500 },
    );
  });

  it("leaves no capacity idle in a slot while an interruptible demand could still take it there", () => {
    fc.assert(
      fc.property(caseArb("all", true), ({ grid, demands }) => {
        const a = allocate(grid, demands);
        for (let s = FROM; s < FROM + grid.capacity.length; s++) {
          if (a.free[s - FROM] === 0) continue;
          demands.forEach((d, i) => {
            const w = windowAt(d, s);
            if (d.profile || w < 0 || !hadRoom(a, demands, i, s)) return;
            // It took all it still needed in that window: nothing later, window full.
            expect(windowSum(a, i, d, w, s + 1), `demand ${i} left packets for later with capacity idle in slot ${s}`).toBe(0);
            expect(windowSum(a, i, d, w)).toBe(d.windows[3 * w + 2]);
          });
        }
      }),
      { numRuns: 1500 },
    );
  });

  it("serves higher classes first: while one is short in a slot, the classes below get no more than their own slices", () => {
    fc.assert(
      fc.property(caseArb("flex"), ({ grid, demands }) => {
        const a = allocate(grid, demands);
        for (let s = FROM; s < FROM + grid.capacity.length; s++) {
          const slices = slicesOf(grid, grid.capacity[s - FROM]);
          demands.forEach((d, i) => {
            const w = windowAt(d, s);
            if (w < 0 || !hadRoom(a, demands, i, s) || windowSum(a, i, d, w) === d.windows[3 * w + 2]) return;
            const c = clsOf(d, grid);
            let below = 0;
            demands.forEach((e, j) => {
              if (clsOf(e, grid) > c) below += at(a, j, s);
            });
            expect(below, `classes below ${c} took more than their slices in slot ${s}`).toBeLessThanOrEqual(slices.slice(c + 1).reduce((x, y) => x + y, 0));
          });
        }
      }),
      { numRuns: 1500 },
    );
  });

  it("with all the capacity in the top slice, a lower class gets nothing in a slot where a higher one is short", () => {
    fc.assert(
      fc.property(caseArb("flex"), ({ grid, demands }) => {
        const top: Grid = { ...grid, shares: grid.shares.map((_, c) => (c === 0 ? 1 : 0)) };
        const a = allocate(top, demands);
        for (let s = FROM; s < FROM + grid.capacity.length; s++) {
          demands.forEach((d, i) => {
            const w = windowAt(d, s);
            if (w < 0 || !hadRoom(a, demands, i, s) || windowSum(a, i, d, w) === d.windows[3 * w + 2]) return;
            demands.forEach((e, j) => {
              if (clsOf(e, top) > clsOf(d, top)) expect(at(a, j, s)).toBe(0);
            });
          });
        }
      }),
      { numRuns: 1000 },
    );
  });

  it("is earliest deadline first inside a class: a later deadline gets packets in a slot only when the earlier one took all it could", () => {
    fc.assert(
      fc.property(caseArb("flex"), ({ grid, demands }) => {
        const a = allocate(grid, demands);
        for (let s = FROM; s < FROM + grid.capacity.length; s++) {
          demands.forEach((da, i) => {
            const wa = windowAt(da, s);
            if (wa < 0 || !hadRoom(a, demands, i, s)) return;
            const keyA = da.windows[3 * wa + 1];
            demands.forEach((db, j) => {
              const wb = windowAt(db, s);
              if (j === i || wb < 0 || clsOf(db, grid) !== clsOf(da, grid) || at(a, j, s) === 0) return;
              const keyB = db.windows[3 * wb + 1];
              if (keyA > keyB || (keyA === keyB && da.order > db.order)) return;
              // B (later deadline) got packets while A had room: A needed nothing more in that window.
              expect(windowSum(a, i, da, wa, s + 1)).toBe(0);
              expect(windowSum(a, i, da, wa)).toBe(da.windows[3 * wa + 2]);
            });
          });
        }
      }),
      { numRuns: 1500 },
    );
  });

  it("gives an energy request full slots back to back from the start of its window where every slot can hold them: one run, the partial slot last", () => {
    // The router runs slots in a row as one run of the relay (firmware/agent.ts, wantOn): full slots back
    // to back switch a charger on and off once; a partial slot among them costs two more switchings.
    // Competitors of its class whose every window ends no earlier do not break the run up (earliest
    // deadline first is per slot: a thermal band's window that ends first would).
    const arb = fc.record({ len: fc.integer({ min: 1, max: 30 }), classes: fc.integer({ min: 1, max: 4 }) }).chain(({ len, classes }) =>
      fc.record({
        ev: fc.tuple(windowArb(len), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 0, max: classes - 1 })).chain(([[a, b], max, cls]) =>
          fc.integer({ min: 1, max: max * (b - a) }).map((need) => energy(cls, 0, a, b, need, max)),
        ),
        capacity: fc.array(fc.integer({ min: 0, max: 30 }), { minLength: len, maxLength: len }),
        shares: fc.array(fc.integer({ min: 0, max: 5 }), { minLength: classes, maxLength: classes }),
        others: fc.array(demandArb(len, classes, "flex", false), { maxLength: 6 }),
      }),
    );
    fc.assert(
      fc.property(arb, ({ ev, capacity, shares, others }) => {
        const [a, b, need] = ev.windows;
        const max = ev.maxPerSlot;
        const grid: Grid = { from: FROM, capacity: Int32Array.from(capacity, (c, k) => (FROM + k >= a && FROM + k < b ? Math.max(c, max) : c)), shares };
        const demands = [ev, ...others.map((d, i): Demand => ({ ...d, cls: ev.cls, order: i + 1 })).filter((d) => d.windows[1] >= b)];
        const alloc = allocate(grid, demands);
        const got: number[] = [];
        for (let s = a; s < b; s++) got.push(at(alloc, 0, s));
        const want = got.map((_, k) => Math.max(0, Math.min(max, need - k * max)));
        expect(got).toEqual(want);
      }),
      { numRuns: 1500 },
    );
  });

  it("lets a class take a whole slot when the classes above need none of their slices (unused capacity flows down)", () => {
    const grid: Grid = { from: FROM, capacity: Int32Array.from([10, 10]), shares: [5, 3, 2] };
    const a = allocate(grid, [energy(2, 0, FROM, FROM + 2, 20, 10)]);
    expect(Array.from(a.placements[0].counts)).toEqual([10, 10]);
    expect(a.placements[0].complete).toBe(true);
  });

  it("keeps each class's slice for it in a short slot; with all of it in the top slice the emergency is served first", () => {
    const grid: Grid = { from: FROM, capacity: Int32Array.from([10]), shares: [1, 1] };
    const a = allocate(grid, [energy(1, 0, FROM, FROM + 1, 10, 10), energy(0, 1, FROM, FROM + 1, 8, 10)]);
    // Slices of 5 and 5, each class fills its own and nothing is left over.
    expect(a.placements[1].placed).toBe(5);
    expect(a.placements[0].placed).toBe(5);
    const strict = allocate({ ...grid, shares: [1, 0] }, [energy(1, 0, FROM, FROM + 1, 10, 10), energy(0, 1, FROM, FROM + 1, 8, 10)]);
    expect(strict.placements[1].placed).toBe(8);
    expect(strict.placements[0].placed).toBe(2);
  });

  it("starts a profile in the first slot where all of it fits, and holds its slots against later demands", () => {
    const grid: Grid = { from: FROM, capacity: Int32Array.from([5, 2, 5, 5, 5]), shares: [1] };
    const a = allocate(grid, [profile(0, 0, FROM, FROM + 5, [4, 4]), energy(0, 1, FROM, FROM + 5, 25, 5)]);
    expect(a.placements[0].start).toBe(FROM + 2);
    expect(Array.from(a.placements[0].counts)).toEqual([0, 0, 4, 4, 0]);
    expect(Array.from(a.placements[1].counts)).toEqual([5, 2, 1, 1, 5]);
  });
});

describe("decide", () => {
  /** Committed demands and candidates from one random case. */
  const splitArb = fc.tuple(caseArb("all", true, 10), fc.integer({ min: 0, max: 10 }));

  it("admits only what it serves completely, never at the cost of a committed demand, and gives every rejection a reason", () => {
    fc.assert(
      fc.property(splitArb, ([{ grid, demands }, k]) => {
        const committed = demands.slice(0, Math.min(k, demands.length));
        const candidates = demands.slice(committed.length);
        const before = allocate(grid, committed);
        const d = decide(grid, committed, candidates);
        expect(d.reasons.length).toBe(candidates.length);
        const members = committed.concat(candidates);
        checkAllocation(grid, members, d.allocation);
        committed.forEach((_, i) => {
          const p = d.allocation.placements[i];
          if (before.placements[i].complete) expect(p.complete).toBe(true);
          expect(p.placed).toBeGreaterThanOrEqual(before.placements[i].placed);
        });
        candidates.forEach((c, i) => {
          const p = d.allocation.placements[committed.length + i];
          if (d.reasons[i] === 0) expect(p.complete).toBe(true);
          else {
            expect(p.placed).toBe(0);
            expect([REJ_CAPACITY, REJ_DEADLINE]).toContain(d.reasons[i]);
            // "deadline": not even the whole supply serves it in its window; "capacity": the supply would.
            expect(allocate(grid, [c]).placements[0].complete).toBe(d.reasons[i] === REJ_CAPACITY);
          }
        });
      }),
      { numRuns: 600 },
    );
  });

  it("when one slot is short, admits candidates first fit in priority order: class, then deadline, then arrival", () => {
    const oneSlot = fc.record({
      cap: fc.integer({ min: 0, max: 30 }),
      shares: fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 4 }),
      needs: fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 1, max: 10 })), { minLength: 1, maxLength: 8 }),
    });
    fc.assert(
      fc.property(oneSlot, ({ cap, shares, needs }) => {
        const grid: Grid = { from: FROM, capacity: Int32Array.from([cap]), shares };
        const cands = needs.map(([c, n], i) => energy(c, i, FROM, FROM + 1, n, 10));
        const d = decide(grid, [], cands);
        let left = cap;
        const want = cands.map(() => REJ_CAPACITY);
        for (const i of cands.map((_, i) => i).sort((a, b) => byPriority(cands[a], cands[b]))) {
          if (cands[i].windows[2] <= left) {
            left -= cands[i].windows[2];
            want[i] = 0;
          } else if (cands[i].windows[2] > cap) want[i] = REJ_DEADLINE;
        }
        expect(d.reasons).toEqual(want);
      }),
      { numRuns: 1000 },
    );
  });

  it("an emergency wins a short slot over a low class that came first; the low one is rejected for capacity", () => {
    const grid: Grid = { from: FROM, capacity: Int32Array.from([10, 10]), shares: [1, 4, 3, 2] };
    const low = energy(3, 0, FROM, FROM + 2, 15, 10);
    const urgent = energy(0, 1, FROM, FROM + 2, 12, 10);
    const d = decide(grid, [], [low, urgent]);
    expect(d.reasons).toEqual([REJ_CAPACITY, 0]);
    expect(d.allocation.placements[1].placed).toBe(12);
  });

  it("moves a committed demand in time for a higher class but never drops it", () => {
    const grid: Grid = { from: FROM, capacity: Int32Array.from([10, 10, 10]), shares: [1, 0] };
    const committed = [energy(1, 0, FROM, FROM + 3, 10, 10)];
    const d = decide(grid, committed, [energy(0, 1, FROM, FROM + 1, 10, 10), energy(0, 2, FROM, FROM + 3, 15, 10)]);
    expect(d.reasons).toEqual([0, REJ_CAPACITY]);
    expect(d.allocation.placements[0].complete).toBe(true);
    expect(Array.from(d.allocation.placements[0].counts)).toEqual([0, 10, 0]);
  });

  it("keeps the incumbent placements when a fresh allocation would serve a committed demand less", () => {
    const grid: Grid = { from: FROM, capacity: Int32Array.from([5, 4]), shares: [1] };
    // Fresh, the energy request (first come) takes 4 of slot 0 and the profile fits nowhere; the incumbent had both.
    const committed = [energy(0, 0, FROM, FROM + 2, 5, 4), profile(0, 1, FROM, FROM + 2, [4])];
    const fresh = allocate(grid, committed);
    const incumbent = [
      { lo: FROM, counts: Uint16Array.from([1, 4]), start: -1, complete: true, placed: 5 },
      { lo: FROM, counts: Uint16Array.from([4, 0]), start: FROM, complete: true, placed: 4 },
    ];
    expect(fresh.placements.every((p) => p.complete)).toBe(false);
    const d = decide(grid, committed, [energy(0, 2, FROM, FROM + 2, 1, 1)], incumbent);
    expect(d.allocation.placements.slice(0, 2)).toEqual(incumbent);
    expect(d.reasons).toEqual([REJ_CAPACITY]);
  });
});

describe("classification, availability and retry hints", () => {
  const rules = DEFAULT_CLASS_RULES;

  it("puts emergencies on top, client priorities 0-2, 3-5 and 6-7 (0 most important) into classes 1, 2 and 3", () => {
    expect(classify(0, true, 0, 100, rules)).toBe(0);
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((p) => classify(p, false, 0, 100, rules))).toEqual([1, 1, 1, 2, 2, 2, 3, 3]);
  });

  it("raises a class for each run of rejections and for a close deadline, never into the emergency class", () => {
    expect(classify(7, false, 2, 100, rules)).toBe(2);
    expect(classify(7, false, 4, 100, rules)).toBe(1);
    expect(classify(7, false, 0, rules.urgentSlots, rules)).toBe(2);
    expect(classify(0, false, 10, 0, rules)).toBe(1);
  });

  it("counts whole packets of production and import less the baseload", () => {
    expect(capacityPackets({ pvWh: 1234, windWh: 100, importWh: 500, baseloadWh: 300 }, 10)).toBe(153);
    expect(capacityPackets({ pvWh: 0, windWh: 0, importWh: 0, baseloadWh: 300 }, 10)).toBe(0);
  });

  it("tells a capacity rejection to retry at a slot boundary ahead, a deadline or unknown client not to wait", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 1, max: 60 }), fc.integer({ min: 1, max: 12 }), (now, slotMin, ahead) => {
        for (const reason of [REJ_CAPACITY, REJ_POLICY]) {
          const t = retryAfterS(reason, now, slotMin, ahead);
          expect(t).toBeGreaterThan(0);
          expect(t).toBeLessThanOrEqual(86400);
          if (t < 86400) expect((now + t) % (slotMin * 60)).toBe(0);
        }
        expect(retryAfterS(REJ_DEADLINE, now, slotMin, ahead)).toBe(0);
        expect(retryAfterS(REJ_CLIENT, now, slotMin, ahead)).toBe(0);
      }),
    );
  });
});
