// The local scheduler: what a household relies on when the router is its
// own energy server. Admitted energy arrives inside its window, no slot
// goes above what the household can serve or the fuse allows, emergencies
// come first, programs run whole, rejections say when they would fit.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { LocalScheduler, sliceOf, weightOf } from "../../firmware/local";
import { HORIZON as H, Plan } from "../../firmware/plan";
import { F_DONE, F_EMERGENCY, F_REJECTS, RQ_ACCEPTED, RQ_PENDING, RQ_REJECTED, RQ_RUNNING, RequestTable } from "../../firmware/requests";
import { KIND_ENERGY, KIND_PROFILE, KIND_THERMAL, REJ_CAPACITY, REJ_DEADLINE } from "../../protocol/messages";

const SLOT_MIN = 10;
const PACKET_WH = 10;
/** A slot's absolute index at noon UTC on 2026-06-21 (a 10-minute slot: 144 a day). */
const JUNE_NOON = Math.floor(Date.UTC(2026, 5, 21, 12) / 600000);
const DEC_NOON = Math.floor(Date.UTC(2026, 11, 21, 12) / 600000);

interface House {
  clients: number;
  ratedW: Float64Array;
  prio: Uint8Array;
  maxPerSlot: Uint16Array;
  fuseW: number;
}

function house(ratedW: number[], prio: number[], fuseW: number): House {
  const n = ratedW.length;
  const max = new Uint16Array(n + 1);
  for (let i = 0; i < n; i++) max[i + 1] = Math.min(255, Math.max(1, Math.floor((ratedW[i] * SLOT_MIN) / 60 / PACKET_WH)));
  return { clients: n, ratedW: Float64Array.from(ratedW), prio: Uint8Array.from(prio), maxPerSlot: max, fuseW };
}

function scheduler(h: House): LocalScheduler {
  return new LocalScheduler(h.clients, h.ratedW, h.prio, h.maxPerSlot, SLOT_MIN, PACKET_WH, h.fuseW);
}

/** A request as the agent keeps it: [client, kind, earliest, end, packets, window, perSlot, state], with extras. */
interface Req {
  client: number;
  kind: number;
  earliest: number;
  end: number;
  packets: number;
  window: number;
  perSlot: number;
  state: number;
  profile?: number[];
  emergency?: boolean;
  rejects?: number;
  done?: number;
}

let nextId = 1;
function table(reqs: Req[]): RequestTable {
  const rq = new RequestTable();
  for (const r of reqs) {
    const row = rq.add([nextId++, r.client, r.kind, r.earliest, r.end, r.packets, r.window, r.perSlot, r.state], 0, r.profile ? Uint8Array.from(r.profile) : undefined);
    rq.set(row, F_EMERGENCY, r.emergency ? 1 : 0);
    rq.set(row, F_REJECTS, r.rejects ?? 0);
    rq.set(row, F_DONE, r.done ?? 0);
  }
  return rq;
}

function energy(client: number, earliest: number, end: number, packets: number, perSlot: number, state = RQ_PENDING): Req {
  return { client, kind: KIND_ENERGY, earliest, end, packets, window: 0, perSlot, state };
}

function profile(client: number, earliest: number, end: number, p: number[], state = RQ_PENDING): Req {
  return { client, kind: KIND_PROFILE, earliest, end, packets: p.reduce((a, b) => a + b, 0), window: 0, perSlot: 0, state, profile: p };
}

/** Sets a flat capacity (packets per slot), all of it green or all import; on the grid (the fuse bounds the clients on). */
function flat(s: LocalScheduler, first: number, n: number, packets: number, green: boolean): void {
  s.availability(first, n, 0, 0, 0, 1);
  s.cap.fill(packets, 0, n);
  s.green.fill(green ? packets : 0, 0, n);
}

function rowOf(s: LocalScheduler, c: number, n: number): number[] {
  return Array.from(s.row(c).subarray(0, n));
}

const sum = (a: ArrayLike<number>, lo = 0, hi = a.length): number => {
  let t = 0;
  for (let k = lo; k < hi; k++) t += a[k];
  return t;
};

describe("weights and classes", () => {
  it("weighs an emergency 16 and a priority p packet 8 - p", () => {
    expect([weightOf(0, false), weightOf(7, false), weightOf(3, true)]).toEqual([8, 1, 16]);
  });

  it("classes: emergency 0, priority 0 (critical) alone in 1, 1-4 in 2, 5-7 in 3, lifted one class per two rejections, never into 0 nor, but for critical load, into 1", () => {
    const h = house([1000, 1000, 1000, 1000, 1000, 1000], [0, 4, 7, 7, 1, 5], 20000);
    const rq = table([energy(1, 0, 10, 1, 1), energy(2, 0, 10, 1, 1), energy(3, 0, 10, 1, 1), { ...energy(4, 0, 10, 1, 1), rejects: 9 }, { ...energy(3, 0, 10, 1, 1), emergency: true }, energy(5, 0, 10, 1, 1), energy(6, 0, 10, 1, 1)]);
    const s = scheduler(h);
    expect([0, 1, 2, 3, 4, 5, 6].map((i) => s.classOf(rq, i))).toEqual([1, 2, 3, 2, 0, 2, 3]);
    const critical = table([{ ...energy(1, 0, 10, 1, 1), rejects: 9 }]);
    expect(s.classOf(critical, 0)).toBe(1);
    const aged = table([{ ...energy(3, 0, 10, 1, 1), rejects: 2 }]);
    expect(s.classOf(aged, 0)).toBe(2);
  });

  it("slices: class 1 fills 6/8 of a slot in the first pass, classes to 2 7/8, all of it after", () => {
    expect([0, 1, 2, 3].map(sliceOf)).toEqual([8, 6, 7, 8]);
  });
});

describe("availability", () => {
  it("with no import allowed, no PV and an empty battery nothing can be served", () => {
    const s = scheduler(house([2000], [0], 20000));
    s.record(JUNE_NOON - 144, 300, 0, 0, 0);
    s.availability(JUNE_NOON, H, 0, 0, 5000, 0);
    expect(sum(s.cap, 0, H)).toBe(0);
  });

  it("the import allowance less the forecast baseload of each slot of the day", () => {
    const s = scheduler(house([2000], [0], 20000));
    // Import 350 Wh with 100 Wh to the clients: 250 Wh of baseload in that slot of day; 50 Wh in the others seen.
    s.record(DEC_NOON - 144, 350, 0, 0, 100);
    s.record(DEC_NOON - 143, 50, 0, 0, 0);
    // 6 kW for 10 minutes: 1,000 Wh.
    s.availability(DEC_NOON, 3, 0, 0, 0, 6000);
    // The slot of day never seen takes the average baseload: 250 * 3/4 + 50 / 4 = 200.
    expect(Array.from(s.cap.subarray(0, 3))).toEqual([75, 95, 80]);
    expect(Array.from(s.green.subarray(0, 3))).toEqual([0, 0, 0]);
  });

  it("a battery gives what is above its reserve, at most its power in a slot, baseload first", () => {
    const s = scheduler(house([2000], [0], 20000));
    s.record(DEC_NOON - 144, 100, 0, 0, 0);
    // 3 kW: 500 Wh a slot; 1,500 Wh above the reserve; over 4 slots at night.
    s.availability(DEC_NOON + 72, 4, 2000, 500, 3000, 0);
    const wh = Array.from(s.green.subarray(0, 4)).map((p) => p * PACKET_WH);
    // 100 Wh of baseload in each slot comes off first; the 1,100 Wh left are spread: 275 a slot.
    expect(wh).toEqual([270, 270, 270, 270]);
    expect(Array.from(s.cap.subarray(0, 4))).toEqual([27, 27, 27, 27]);
  });

  it("a clear-sky day of PV history gives a forecast of the same shape", () => {
    const s = scheduler(house([2000], [0], 20000));
    const day = JUNE_NOON - 72 - 144;
    // All of it exported: no baseload.
    for (let k = 0; k < 144; k++) {
      const pv = Math.round(600 * s.clearSky(day + k));
      s.record(day + k, 0, pv, pv, 0);
    }
    s.availability(day + 144, 144, 0, 0, 0, 0);
    const fc0 = Array.from(s.green.subarray(0, 144));
    const want = fc0.map((_, k) => Math.floor((600 * s.clearSky(day + 144 + k)) / PACKET_WH));
    // The learnt peak carries the rounding of the meter's whole Wh.
    for (let k = 0; k < 144; k++) expect(Math.abs(fc0[k] - want[k])).toBeLessThanOrEqual(1);
    // Sun from about 04:00 to 20:00 UTC in June at noonH 12, centred on noon (slot 72 begins at noon).
    const centre = fc0.reduce((a, f, k) => a + f * k, 0) / sum(fc0);
    expect(Math.abs(centre - 71.5)).toBeLessThan(0.5);
    expect(fc0[12]).toBe(0);
    expect(fc0[36]).toBeGreaterThan(0);
  });

  it("a cloudy morning lowers the rest of the day's PV forecast", () => {
    const s = scheduler(house([2000], [0], 20000));
    const day = JUNE_NOON - 72 - 144;
    const pv = (k: number, peak: number) => Math.round(peak * s.clearSky(day + k));
    for (let k = 0; k < 144; k++) s.record(day + k, 0, pv(k, 600), pv(k, 600), 0);
    s.availability(day + 144 + 72, 1, 0, 0, 0, 0);
    const clear = s.green[0];
    // Clouds from sunrise to 10:00 UTC: a third of the clear-sky production.
    for (let k = 144; k < 144 + 60; k++) s.record(day + k, 0, pv(k, 200), pv(k, 200), 0);
    s.availability(day + 144 + 72, 1, 0, 0, 0, 0);
    expect(clear).toBe(59);
    expect(s.green[0]).toBeLessThan(clear / 2);
  });
});

describe("allocation examples", () => {
  it("an EV fills PV slots first, as one contiguous run at its most per slot", () => {
    const h = house([3600], [3], 20000);
    const s = scheduler(h);
    flat(s, 1000, 20, 10, false);
    // PV between slots 8 and 14.
    for (let k = 8; k < 14; k++) s.green[k] = 10;
    const rq = table([energy(1, 1000, 1020, 24, 6)]);
    expect(s.allocate(rq)).toBe(1);
    expect(rowOf(s, 1, 20)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 6, 6, 6, 6, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(s.placed[0]).toBe(24);
  });

  it("a washing machine's program runs whole where it needs the least import", () => {
    const s = scheduler(house([2000], [3], 20000));
    flat(s, 500, 30, 10, false);
    for (let k = 20; k < 30; k++) s.green[k] = 10;
    const rq = table([profile(1, 505, 530, [3, 1, 0, 3])]);
    expect(s.allocate(rq)).toBe(1);
    const row = rowOf(s, 1, 30);
    expect(row.slice(20, 24)).toEqual([3, 1, 0, 3]);
    expect(sum(row)).toBe(7);
  });

  it("a program's pause (a slot of 0 packets) may fall on a slot that is full", () => {
    const s = scheduler(house([2000, 2000], [0, 0], 20000));
    flat(s, 0, 6, 2, true);
    // A running program takes 3 in slot 1, over its capacity of 2.
    const rq = table([{ ...profile(1, 0, 2, [0, 3]), state: RQ_RUNNING }, profile(2, 0, 6, [2, 0, 2])]);
    s.allocate(rq);
    expect(rowOf(s, 1, 6)).toEqual([0, 3, 0, 0, 0, 0]);
    expect(rowOf(s, 2, 6)).toEqual([2, 0, 2, 0, 0, 0]);
  });

  it("a thermal band gets its packets in every window", () => {
    const s = scheduler(house([3000], [1], 20000));
    flat(s, 0, 24, 5, true);
    const rq = table([{ client: 1, kind: KIND_THERMAL, earliest: 0, end: 24, packets: 4, window: 6, perSlot: 3, state: RQ_PENDING }]);
    expect(s.allocate(rq)).toBe(1);
    const row = rowOf(s, 1, 24);
    for (let w = 0; w < 4; w++) expect(sum(row, 6 * w, 6 * w + 6)).toBe(4);
  });

  it("an emergency takes capacity from an admitted lower-class request", () => {
    const s = scheduler(house([3600, 3600], [7, 7], 20000));
    flat(s, 0, 10, 6, true);
    const rq = table([energy(1, 0, 10, 60, 6, RQ_ACCEPTED), { ...energy(2, 0, 5, 12, 6), emergency: true }]);
    expect(s.allocate(rq)).toBe(1);
    expect(s.reason[1]).toBe(0);
    expect(s.placed[1]).toBe(12);
    // The admitted request keeps what is left, and is told it cannot be served in full.
    expect(s.placed[0]).toBe(48);
    expect(s.reason[0]).toBe(REJ_CAPACITY);
  });

  it("a newcomer never takes what an admitted request holds", () => {
    const s = scheduler(house([3600, 3600], [7, 0], 20000));
    flat(s, 0, 10, 6, true);
    const rq = table([energy(1, 0, 10, 60, 6, RQ_ACCEPTED), energy(2, 0, 5, 12, 6)]);
    expect(s.allocate(rq)).toBe(0);
    expect(s.placed[0]).toBe(60);
    expect(s.reason[1]).toBe(REJ_CAPACITY);
    // Nothing is left in the horizon.
    expect(s.hint[1]).toBe(0);
  });

  it("a newcomer for energy by a deadline, or critical, that does not fit in full is admitted with what fits (an emergency after the others); programs and thermal bands below critical are not", () => {
    const s = scheduler(house([3600, 3600, 2000, 3600, 2000, 3600], [7, 0, 0, 7, 3, 7], 20000));
    flat(s, 100, 20, 8, true);
    // Client 1, admitted before, takes 6 of 8 a slot until 110; 2 a slot are left there.
    const band: Req = { client: 5, kind: KIND_THERMAL, earliest: 100, end: 110, packets: 4, window: 2, perSlot: 3, state: RQ_PENDING };
    const rq = table([energy(1, 100, 110, 60, 6, RQ_ACCEPTED), energy(2, 100, 110, 30, 6), profile(3, 100, 110, [3, 3]), band, energy(4, 100, 110, 30, 6)]);
    expect(s.allocate(rq)).toBe(1);
    expect(s.placed[0]).toBe(60);
    // Critical load admitted in part: the 20 packets that fit.
    expect(s.reason[1]).toBe(0);
    expect(s.placed[1]).toBe(20);
    expect(rowOf(s, 2, 12)).toEqual([2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 0, 0]);
    // A critical program only whole; a priority-3 thermal band only in full; nothing is left for the priority-7 EV.
    expect(s.reason[2]).toBe(REJ_CAPACITY);
    expect(s.placed[2]).toBe(0);
    expect(s.reason[3]).toBe(REJ_CAPACITY);
    expect(s.placed[3]).toBe(0);
    expect(s.reason[4]).toBe(REJ_CAPACITY);
    expect(s.placed[4]).toBe(0);

    // Without the critical newcomer, the priority-7 EV is admitted with the 20 packets there are.
    const s2 = scheduler(house([3600, 3600], [7, 7], 20000));
    flat(s2, 100, 20, 8, true);
    const rq2 = table([energy(1, 100, 110, 60, 6, RQ_ACCEPTED), energy(2, 100, 110, 30, 6)]);
    expect(s2.allocate(rq2)).toBe(1);
    expect(s2.reason[1]).toBe(0);
    expect(s2.placed[1]).toBe(20);
    // An emergency for energy that does not fit whole takes, in part, what every other request leaves: here the critical newcomer's 20 first.
    const s3 = scheduler(house([3600, 2000], [7, 0], 20000));
    flat(s3, 100, 20, 4, true);
    const rq3 = table([{ ...energy(1, 100, 110, 50, 6), emergency: true }, energy(2, 100, 110, 20, 3)]);
    expect(s3.allocate(rq3)).toBe(2);
    expect([s3.reason[0], s3.placed[0]]).toEqual([0, 20]);
    expect([s3.reason[1], s3.placed[1]]).toEqual([0, 20]);
    // An emergency program is decided as if alone, before everything: whole or not at all.
    const s4 = scheduler(house([3600], [7], 20000));
    flat(s4, 100, 20, 4, true);
    const rq4 = table([{ ...profile(1, 100, 110, [6, 6]), emergency: true }]);
    expect(s4.allocate(rq4)).toBe(0);
    expect([s4.reason[0], s4.placed[0]]).toEqual([REJ_CAPACITY, 0]);
  });

  it("a rejection for capacity hints the end by which it would be done; one the window cannot hold says deadline", () => {
    const s = scheduler(house([3600, 3600, 3600], [0, 7, 7], 20000));
    flat(s, 100, 20, 8, true);
    // Client 1, admitted before, holds all of every slot until 110.
    const rq = table([energy(1, 100, 110, 80, 8, RQ_ACCEPTED), energy(2, 100, 110, 30, 6), energy(3, 100, 102, 30, 6)]);
    expect(s.allocate(rq)).toBe(0);
    expect(s.reason[1]).toBe(REJ_CAPACITY);
    // 6 a slot from 110: done by 115.
    expect(s.hint[1]).toBe(115);
    expect(s.reason[2]).toBe(REJ_DEADLINE);
    expect(s.hint[2]).toBe(115);
  });

  it("critical load first: a priority-0 water heater gets a scarce slot before a priority-1 EV that asks earlier", () => {
    const s = scheduler(house([3600, 2000], [1, 0], 20000));
    flat(s, 0, 4, 6, true);
    // Both end with slot 4, and the EV alone would take all 24 packets there.
    const heater: Req = { client: 2, kind: KIND_THERMAL, earliest: 0, end: 4, packets: 10, window: 4, perSlot: 3, state: RQ_PENDING };
    const rq = table([energy(1, 0, 4, 24, 6), heater]);
    expect(s.allocate(rq)).toBe(2);
    expect(s.placed[1]).toBe(10);
    // The EV no longer fits in full: it is admitted with the 14 packets the heater leaves.
    expect(s.reason[0]).toBe(0);
    expect(s.placed[0]).toBe(14);
  });

  it("never switches a client on where the clients on would pass the fuse", () => {
    const s = scheduler(house([4000, 4000, 4000], [0, 0, 0], 9000));
    flat(s, 0, 4, 100, true);
    const rq = table([energy(1, 0, 2, 12, 6), energy(2, 0, 2, 12, 6), energy(3, 0, 4, 12, 6)]);
    expect(s.allocate(rq)).toBe(3);
    expect(rowOf(s, 3, 4)).toEqual([0, 0, 6, 6]);
  });

  it("islanded, the clients on at once never pass the battery's power, whatever the fuse", () => {
    const s = scheduler(house([3700, 2000], [1, 0], 20000));
    // No import: 5 kW of battery carries the house, with plenty of energy.
    s.availability(0, 4, 0, 0, 5000, 0);
    s.cap.fill(100, 0, 4);
    s.green.fill(100, 0, 4);
    const heater: Req = { client: 2, kind: KIND_THERMAL, earliest: 0, end: 4, packets: 10, window: 4, perSlot: 33, state: RQ_PENDING };
    s.allocate(table([energy(1, 0, 4, 61 * 3, 61), heater]));
    const ev = rowOf(s, 1, 4);
    const wh = rowOf(s, 2, 4);
    for (let k = 0; k < 4; k++) expect(ev[k] > 0 && wh[k] > 0, `slot ${k}`).toBe(false);
    expect(sum(wh)).toBe(10);
    expect(sum(ev)).toBe(61 * 3);
    // On the grid the fuse alone bounds them: the two share a slot.
    s.availability(0, 4, 0, 0, 5000, 1000);
    s.cap.fill(100, 0, 4);
    s.green.fill(100, 0, 4);
    s.allocate(table([energy(1, 0, 4, 61 * 3, 61), heater]));
    expect(rowOf(s, 1, 4)[0] > 0 && rowOf(s, 2, 4)[0] > 0).toBe(true);
  });

  it("a running program stays as it runs, whatever the capacity, before anything else", () => {
    const s = scheduler(house([2000, 2000], [0, 7], 20000));
    flat(s, 50, 6, 2, true);
    const rq = table([{ ...profile(1, 48, 56, [2, 2, 3, 3, 1]), state: RQ_RUNNING, done: 2 }, energy(2, 50, 56, 2, 2)]);
    s.allocate(rq);
    expect(rowOf(s, 1, 6)).toEqual([3, 3, 1, 0, 0, 0]);
    // The first slot where all its packets fit (one relay switching), not the one left in slot 2.
    expect(rowOf(s, 2, 6)).toEqual([0, 0, 0, 2, 0, 0]);
  });

  it("an admitted request that cannot be served in full gets what fits once, never more than it asked", () => {
    const s = scheduler(house([6800, 5900], [0, 0], 7100));
    flat(s, 0, 6, 33, false);
    // The first client's program holds the fuse in slot 0: the thermal band misses its first window.
    const band: Req = { client: 2, kind: KIND_THERMAL, earliest: 0, end: 6, packets: 17, window: 1, perSlot: 51, state: RQ_ACCEPTED, emergency: true };
    const rq = table([{ ...profile(1, 0, 1, [1]), emergency: true }, band]);
    s.allocate(rq);
    expect(rowOf(s, 2, 6)).toEqual([0, 17, 17, 17, 17, 17]);
    expect(s.reason[1]).toBe(REJ_CAPACITY);
  });

  it("an admitted request keeps its slots in the plan in force, though PV came up elsewhere", () => {
    const s = scheduler(house([3600], [3], 20000));
    flat(s, 0, 10, 10, false);
    const plan = new Plan(1);
    plan.set(1, 0, [0, 0, 0, 0, 0, 0, 6, 6, 0, 0], 10);
    for (let k = 0; k < 4; k++) s.green[k] = 10;
    s.allocate(table([energy(1, 0, 10, 12, 6, RQ_ACCEPTED)]), plan);
    expect(rowOf(s, 1, 10)).toEqual([0, 0, 0, 0, 0, 0, 6, 6, 0, 0]);
    // Without the plan it goes to the PV.
    s.allocate(table([energy(1, 0, 10, 12, 6, RQ_ACCEPTED)]));
    expect(rowOf(s, 1, 10)).toEqual([6, 6, 0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it("a program keeps its start in the plan in force while it fits there", () => {
    const s = scheduler(house([2000], [3], 20000));
    flat(s, 0, 10, 10, true);
    const plan = new Plan(1);
    plan.set(1, 0, [0, 0, 0, 0, 0, 2, 3, 0, 0, 0], 10);
    s.allocate(table([profile(1, 0, 10, [2, 3])]), plan);
    expect(rowOf(s, 1, 10)).toEqual([0, 0, 0, 0, 0, 2, 3, 0, 0, 0]);
    // No longer fits there: placed anew.
    s.cap[6] = 2;
    s.allocate(table([profile(1, 0, 10, [2, 3])]), plan);
    expect(rowOf(s, 1, 10)).toEqual([2, 3, 0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it("a rejected row (waiting for its retry) and final rows are left out", () => {
    const s = scheduler(house([3600], [0], 20000));
    flat(s, 0, 10, 6, true);
    const rq = table([energy(1, 0, 10, 12, 6, RQ_REJECTED)]);
    expect(s.allocate(rq)).toBe(0);
    expect(sum(s.counts)).toBe(0);
  });
});

// ---- properties over random households and request sets

const CLIENTS = 16;
const N = H;

interface Case {
  ratedW: number[];
  prio: number[];
  fuseW: number;
  cap: number[];
  green: number[];
  reqs: Req[];
}

const FIRST = 5000;

/** One request for client c (at most one per client, so a client's row is its request's placement). */
function reqArb(c: number, max: number): fc.Arbitrary<Req> {
  return fc.record({ lo: fc.integer({ min: -5, max: 100 }), len: fc.integer({ min: 1, max: 60 }), st: fc.constantFrom(RQ_PENDING, RQ_PENDING, RQ_ACCEPTED), emergency: fc.integer({ min: 0, max: 7 }).map((x) => x === 0), rejects: fc.integer({ min: 0, max: 5 }) }).chain(({ lo, len, st, emergency, rejects }) => {
    const earliest = FIRST + lo;
    const end = Math.min(FIRST + N + 4, earliest + len);
    const base = { client: c, earliest, end, state: st, emergency, rejects };
    const prof = fc.array(fc.integer({ min: 0, max }), { minLength: 1, maxLength: 12 }).filter((p) => p.some((x) => x > 0)).map((p): Req => ({ ...base, kind: KIND_PROFILE, packets: p.reduce((a, b) => a + b, 0), window: 0, perSlot: 0, profile: p }));
    const en = fc.integer({ min: 1, max }).chain((per) => fc.integer({ min: 1, max: per * len }).map((n): Req => ({ ...base, kind: KIND_ENERGY, packets: n, window: 0, perSlot: per })));
    const th = fc.tuple(fc.integer({ min: 1, max }), fc.integer({ min: 1, max: len })).chain(([per, w]) => fc.integer({ min: 1, max: per * w }).map((n): Req => ({ ...base, kind: KIND_THERMAL, packets: n, window: w, perSlot: per })));
    return fc.oneof(prof, en, th);
  });
}

const caseArb: fc.Arbitrary<Case> = fc
  .record({
    ratedW: fc.array(fc.integer({ min: 6, max: 110 }).map((x) => x * 100), { minLength: CLIENTS, maxLength: CLIENTS }),
    prio: fc.array(fc.integer({ min: 0, max: 7 }), { minLength: CLIENTS, maxLength: CLIENTS }),
    fuseW: fc.integer({ min: 30, max: 300 }).map((x) => x * 100),
    capBase: fc.integer({ min: 0, max: 120 }),
    capWave: fc.array(fc.integer({ min: 0, max: 60 }), { minLength: N, maxLength: N }),
    greenShare: fc.array(fc.integer({ min: 0, max: 4 }), { minLength: N, maxLength: N }),
    who: fc.uniqueArray(fc.integer({ min: 1, max: CLIENTS }), { minLength: 1, maxLength: CLIENTS }),
  })
  .chain((h) => {
    const cap = h.capWave.map((w) => Math.max(0, h.capBase + w - 30));
    const green = cap.map((c, k) => Math.floor((c * h.greenShare[k]) / 4));
    const max = (c: number) => Math.min(255, Math.max(1, Math.floor((h.ratedW[c - 1] * SLOT_MIN) / 60 / PACKET_WH)));
    return fc.tuple(...h.who.map((c) => reqArb(c, max(c)))).map((reqs): Case => ({ ratedW: h.ratedW, prio: h.prio, fuseW: h.fuseW, cap, green, reqs }));
  });

function run(c: Case, reqs = c.reqs, plan?: Plan): { s: LocalScheduler; rq: RequestTable; admitted: number } {
  const s = scheduler(house(c.ratedW, c.prio, c.fuseW));
  // On the grid: the fuse bounds the clients on at once.
  s.availability(FIRST, N, 0, 0, 0, 1);
  s.cap.set(c.cap);
  s.green.set(c.green);
  const rq = table(reqs);
  return { s, rq, admitted: s.allocate(rq, plan) };
}

/** The scheduler's result as the agent keeps it: a Plan, leased to the horizon's end. */
function planOf(s: LocalScheduler): Plan {
  const p = new Plan(CLIENTS);
  for (let c = 1; c <= CLIENTS; c++) p.set(c, FIRST, s.row(c), FIRST + N);
  return p;
}

/** Checks that the placement of request r (row i) in its client's row serves it in full, inside its window. */
function servedInFull(s: LocalScheduler, r: Req): void {
  const row = rowOf(s, r.client, N);
  const lo = Math.max(0, r.earliest - FIRST);
  const hi = Math.min(N, r.end - FIRST);
  for (let k = 0; k < N; k++) if (k < lo || k >= hi) expect(row[k], `slot ${k} outside [${lo}, ${hi})`).toBe(0);
  if (r.kind === KIND_PROFILE) {
    const p = r.profile!;
    const t = row.findIndex((x, k) => x > 0 && k >= lo);
    const start = t - p.findIndex((x) => x > 0);
    expect(start).toBeGreaterThanOrEqual(lo);
    expect(start + p.length).toBeLessThanOrEqual(hi);
    expect(row.slice(start, start + p.length)).toEqual(p);
    expect(sum(row)).toBe(sum(p));
  } else if (r.kind === KIND_ENERGY) {
    // A window past the horizon: the slots inside owe what the slots after it cannot hold.
    expect(sum(row)).toBe(Math.max(0, r.packets - r.perSlot * Math.max(0, r.end - FIRST - N)));
    for (const x of row) expect(x).toBeLessThanOrEqual(r.perSlot);
  } else {
    for (let a = r.earliest - FIRST; a < hi; a += r.window) {
      const wl = Math.max(0, a);
      const wh = Math.min(a + r.window, hi);
      if (wh > wl) expect(sum(row, wl, wh)).toBeGreaterThanOrEqual(Math.min(r.packets, (wh - wl) * r.perSlot));
    }
    for (const x of row) expect(x).toBeLessThanOrEqual(r.perSlot);
  }
}

/** Packets request r asks of the horizon: what servedInFull checks it got. */
function fullOf(r: Req): number {
  const hi = Math.min(N, r.end - FIRST);
  if (r.kind === KIND_PROFILE) return sum(r.profile!);
  if (r.kind === KIND_ENERGY) return Math.max(0, r.packets - r.perSlot * Math.max(0, r.end - FIRST - N));
  let t = 0;
  for (let a = r.earliest - FIRST; a < hi; a += r.window) t += Math.min(r.packets, Math.max(0, Math.min(a + r.window, hi) - Math.max(0, a)) * r.perSlot);
  return t;
}

/** An admitted request not served in full: what it got is inside its window and never more than it asked for. */
function neverMore(s: LocalScheduler, r: Req): void {
  const row = rowOf(s, r.client, N);
  const lo = Math.max(0, r.earliest - FIRST);
  const hi = Math.min(N, r.end - FIRST);
  for (let k = 0; k < N; k++) if (k < lo || k >= hi) expect(row[k]).toBe(0);
  if (r.kind === KIND_PROFILE) expect(sum(row)).toBe(0);
  else if (r.kind === KIND_ENERGY) expect(sum(row)).toBeLessThan(r.packets);
  else for (let a = r.earliest - FIRST; a < hi; a += r.window) expect(sum(row, Math.max(0, a), Math.max(0, Math.min(a + r.window, hi)))).toBeLessThanOrEqual(r.packets);
}

describe("properties over random households", () => {
  it("every request served in full gets its packets inside its window; a newcomer admitted in part is no program, gets some, never more than it asked; a rejected newcomer gets none; an admitted one never more than it asked", () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const { s, rq } = run(c);
        c.reqs.forEach((r, i) => {
          if (!s.reason[i] && s.placed[i] === fullOf(r)) servedInFull(s, r);
          else if (!s.reason[i]) {
            // Admitted in part: only a newcomer, critical or for energy by a deadline (an admitted request not served in full is told so).
            expect(r.state).toBe(RQ_PENDING);
            if (s.classOf(rq, i) !== 1) expect(r.kind).toBe(KIND_ENERGY);
            expect(r.kind).not.toBe(KIND_PROFILE);
            expect(s.placed[i]).toBeGreaterThan(0);
            expect(s.placed[i]).toBeLessThan(fullOf(r));
            neverMore(s, r);
            for (const x of rowOf(s, r.client, N)) expect(x).toBeLessThanOrEqual(r.perSlot);
          } else if (r.state === RQ_PENDING) expect(sum(s.row(r.client))).toBe(0);
          else neverMore(s, r);
          expect(s.placed[i]).toBe(sum(s.row(r.client)));
        });
      }),
      { numRuns: 60 },
    );
  });

  it("no slot above its capacity, no client above its packets per slot, the clients on never above the fuse", () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const { s } = run(c);
        const h = house(c.ratedW, c.prio, c.fuseW);
        for (let k = 0; k < N; k++) {
          let packets = 0;
          let w = 0;
          for (let cl = 1; cl <= CLIENTS; cl++) {
            const x = s.row(cl)[k];
            packets += x;
            if (x) w += h.ratedW[cl - 1];
            expect(x).toBeLessThanOrEqual(h.maxPerSlot[cl]);
          }
          expect(packets).toBeLessThanOrEqual(c.cap[k]);
          expect(w).toBeLessThanOrEqual(c.fuseW);
        }
      }),
      { numRuns: 60 },
    );
  });

  it("emergencies come first: one served in full, or refused, is decided as if nothing else were asked; one for energy admitted in part gets at most what it would alone", () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const { s } = run(c);
        const alone = run(c, c.reqs.filter((r) => r.emergency));
        let j = 0;
        c.reqs.forEach((r, i) => {
          if (!r.emergency) return;
          const a = alone.s;
          if (a.reason[j] || a.placed[j] === fullOf(r)) {
            expect(s.reason[i]).toBe(a.reason[j]);
            expect(rowOf(s, r.client, N)).toEqual(rowOf(a, r.client, N));
          } else {
            // In part even alone: with the others, what they leave (never more), or nothing.
            expect(r.kind).toBe(KIND_ENERGY);
            expect(s.placed[i]).toBeLessThanOrEqual(a.placed[j]);
            if (!s.reason[i]) expect(s.placed[i]).toBeGreaterThan(0);
          }
          j++;
        });
      }),
      { numRuns: 60 },
    );
  });

  it("what was admitted is still served when allocated again on the plan it made, with the same forecast: in full, or at least what it got", () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const { s } = run(c);
        // The rejected newcomers leave; every other request is now admitted.
        const kept = c.reqs.filter((r, i) => !s.reason[i] || r.state !== RQ_PENDING);
        const first = kept.map((r) => c.reqs.indexOf(r));
        const again = run(c, kept.map((r) => ({ ...r, state: RQ_ACCEPTED })), planOf(s));
        kept.forEach((r, i) => {
          // Admitted in part or not served in full: never less than it got (more when some came free).
          expect(again.s.placed[i]).toBeGreaterThanOrEqual(s.placed[first[i]]);
          if (s.reason[first[i]] || s.placed[first[i]] < fullOf(r)) return;
          expect(again.s.reason[i]).toBe(0);
          servedInFull(again.s, r);
        });
      }),
      { numRuns: 60 },
    );
  });

  it("a rejected request's hint is an end it would be served by on what the others hold; 0 when none in the horizon", () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const { s } = run(c);
        c.reqs.forEach((r, i) => {
          if (!s.reason[i] || r.state !== RQ_PENDING || r.kind === KIND_THERMAL) return;
          // The others' placements, fixed as running programs, and the request alone again.
          const others: Req[] = [];
          for (let cl = 1; cl <= CLIENTS; cl++) {
            const row = rowOf(s, cl, N);
            if (cl !== r.client && row.some((x) => x > 0)) others.push({ ...profile(cl, FIRST, FIRST + N, row), state: RQ_RUNNING });
          }
          const end = s.hint[i] || FIRST + N;
          const retry = run(c, others.concat([{ ...r, end }]));
          // Served in full (not admitted in part) exactly when there was a hint.
          const n = others.length;
          expect(retry.s.reason[n] === 0 && retry.s.placed[n] === fullOf({ ...r, end })).toBe(s.hint[i] > 0);
          if (s.hint[i]) servedInFull(retry.s, { ...r, end });
        });
      }),
      { numRuns: 60 },
    );
  });

  it("an EV alone on an even supply with room for its slice charges in one run: one switch on, one off", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 0, max: 80 }), fc.integer({ min: 1, max: 60 }), fc.integer({ min: 0, max: 60 }), fc.boolean(), (per, lo, len, extra, green) => {
        const s = scheduler(house([per * 360], [4], 100000));
        // Class 2 fills 7/8 of a slot in the first pass: at least its packets per slot.
        flat(s, FIRST, N, 2 * per + extra, green);
        const need = Math.max(1, Math.floor((per * len) / 2));
        s.allocate(table([energy(1, FIRST + lo, FIRST + lo + len, need, per)]));
        const row = rowOf(s, 1, N);
        const on = row.map((x) => (x > 0 ? 1 : 0));
        expect(on.slice(lo, lo + Math.ceil(need / per))).toEqual(Array(Math.ceil(need / per)).fill(1));
        expect(sum(on)).toBe(Math.ceil(need / per));
      }),
      { numRuns: 100 },
    );
  });

  it("is deterministic", () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const a = run(c);
        const b = run(c);
        expect(a.admitted).toBe(b.admitted);
        expect(Array.from(a.s.counts)).toEqual(Array.from(b.s.counts));
        expect(Array.from(a.s.reason)).toEqual(Array.from(b.s.reason));
        expect(Array.from(a.s.hint)).toEqual(Array.from(b.s.hint));
      }),
      { numRuns: 50 },
    );
  });
});
