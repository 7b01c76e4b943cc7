// The scheduling benchmark's pieces (tools/sched/): the figures on cases
// whose answer is known by hand, the house's physics, the two controllers
// without a schedule as they are defined, and the optimum on tiny cases.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { weightOf } from "../../firmware/local";
import { threshold, uncontrolled } from "../../tools/sched/controllers";
import { acceptedServedPct, figures, servedByDeadline, switchingsPerHour } from "../../tools/sched/figures";
import { optimum } from "../../tools/sched/lp";
import { settle } from "../../tools/sched/settle";
import { makeCase, planOf } from "./sched-support";

const BATTERY = { capacityWh: 1000, maxChargeW: 6000, maxDischargeW: 6000, roundTripPct: 90, socWh: 0, reserveWh: 0 };

describe("figures", () => {
  it("one appliance on flat PV: served, weighted, self-consumption, peak import", () => {
    // 4 slots of 100 Wh PV; 200 Wh asked in [0, 4), run in slots 0 and 1.
    const c = makeCase({ slots: 4, pvWh: 100, jobs: [{ windows: [0, 4, 200] }] });
    const f = figures(c, settle(c, planOf([[100, 100, 0, 0]])));
    expect(f.requestedWh).toBe(200);
    expect(f.servedPct).toBe(100);
    expect(f.weightedWh).toBe(weightOf(0, false) * 200);
    expect(f.pvSelfPct).toBe(50);
    expect(f.peakImportW).toBe(0);
  });

  it("peak import is the largest slot import as an average power", () => {
    // Baseload 150 Wh a slot on 100 Wh PV; the appliance takes 100 Wh in slot 0: 150 Wh imported there = 900 W.
    const c = makeCase({ slots: 2, pvWh: 100, baseloadWh: 150, jobs: [{ windows: [0, 2, 100] }] });
    const f = figures(c, settle(c, planOf([[100, 0]])));
    expect(f.peakImportW).toBeCloseTo(900, 9);
    expect(f.pvSelfPct).toBe(100);
  });

  it("energy outside a window or beyond what it asks does not count", () => {
    const c = makeCase({ slots: 6, jobs: [{ kind: "thermal", windows: [0, 3, 50, 3, 6, 50] }] });
    // 80 Wh in the first window (30 too many), 20 in the second.
    expect(servedByDeadline(c.jobs[0], [80, 0, 0, 0, 20, 0])).toBe(70);
    const e = makeCase({ slots: 6, jobs: [{ earliest: 1, end: 4, windows: [1, 4, 100] }] }).jobs[0];
    expect(servedByDeadline(e, [100, 30, 0, 0, 100, 0])).toBe(30);
  });

  it("a program counts whole or for what it got inside its window", () => {
    const c = makeCase({ slots: 5, jobs: [{ kind: "profile", earliest: 1, end: 4, profileWh: [60, 40] }] });
    expect(servedByDeadline(c.jobs[0], [0, 60, 40, 0, 0])).toBe(100);
    expect(servedByDeadline(c.jobs[0], [0, 0, 0, 60, 40])).toBe(60);
  });

  it("switchings: a run over whole slots is one on and one off; partial slots meet at even-odd boundaries", () => {
    const c = makeCase({ slots: 6, firstSlot: 1000, jobs: [] });
    expect(switchingsPerHour(c, [1, 1, 1, 0, 0, 0])).toEqual([2]);
    // Slot 1000 is even (on at its end), 1001 odd (on at its start): one run across the boundary.
    expect(switchingsPerHour(c, [0.5, 0.5, 0, 0, 0, 0])).toEqual([2]);
    // Odd then even: two runs.
    expect(switchingsPerHour(c, [0, 0.5, 0.5, 0, 0, 0])).toEqual([4]);
    // Half of every slot: on and off every 20 minutes.
    expect(switchingsPerHour(c, [0.5, 0.5, 0.5, 0.5, 0.5, 0.5])).toEqual([6]);
    expect(switchingsPerHour(c, [0, 0, 0, 0, 0, 0])).toEqual([0]);
    // A part slot after a closed one: the relay stays closed into it and opens when the slot's packets are in (agent.ts wantOn's "on").
    expect(switchingsPerHour(c, [0, 1, 0.5, 0, 0, 0])).toEqual([2]);
    expect(switchingsPerHour(c, [1, 0.5, 0, 1, 0.5, 0])).toEqual([4]);
  });

  it("switchings: a slot open for less than a packet's time counts as closed throughout", () => {
    const c = makeCase({ slots: 6, firstSlot: 1000, jobs: [] });
    // 61 packets of 10 Wh at 3,700 W: 594 s of a 600 s slot; a packet takes 9.7 s.
    const f = (61 * 10 * 3600) / 3700 / 600;
    expect(switchingsPerHour(c, [f, f, f, 0, 0, 0], (10 * 3600) / 3700)).toEqual([2]);
    expect(switchingsPerHour(c, [f, f, f, 0, 0, 0])).toEqual([4]);
  });

  it("a program's relay stays closed through its run, whatever it draws", () => {
    const c = makeCase({ slots: 6, clients: [{ name: "washer", ratedW: 2000, priority: 2 }], jobs: [{ kind: "profile", profileWh: [300, 20, 20] }] });
    const f = figures(c, settle(c, planOf([[300, 20, 20, 0, 0, 0]])));
    expect(f.switchingsPerHour).toBe(2);
    expect(f.switchingsClient).toBe("washer");
  });

  it("accepted energy counts only what admitted jobs were owed from their admission", () => {
    const c = makeCase({ slots: 4, jobs: [{ kind: "thermal", windows: [0, 2, 50, 2, 4, 50] }, { client: 1, windows: [0, 4, 100] }] });
    const o = settle(c, planOf([[0, 0, 50, 0], [0, 0, 0, 0]]));
    // Thermal admitted in slot 2: owed the second window only, served; the energy job never admitted.
    expect(acceptedServedPct(c, o, [2, -1])).toBe(100);
    expect(acceptedServedPct(c, o, [0, -1])).toBe(50);
    expect(acceptedServedPct(c, o, [-1, -1])).toBe(100);
  });
});

describe("the house (settle)", () => {
  it("the battery takes the surplus with its loss and gives it back later", () => {
    const c = makeCase({ slots: 2, pvWh: [200, 0], battery: BATTERY, jobs: [{ windows: [0, 2, 200], maxWhPerSlot: 200 }] });
    const o = settle(c, planOf([[0, 200]]));
    expect(o.chargeWh[0]).toBe(200);
    expect(o.dischargeWh[1]).toBeCloseTo(180, 9);
    expect(o.importWh[1]).toBeCloseTo(20, 9);
    expect(o.exportWh[0]).toBe(0);
  });

  it("an islanded slot asked for more than PV gives: the baseload first, the appliances pro rata", () => {
    const c = makeCase({ slots: 1, pvWh: 100, baseloadWh: 50, gridWh: 0, jobs: [{ windows: [0, 1, 50] }, { client: 1, windows: [0, 1, 50] }] });
    const o = settle(c, planOf([[50], [50]]));
    expect(o.servedWh[0][0]).toBe(25);
    expect(o.servedWh[1][0]).toBe(25);
    expect(o.importWh[0]).toBe(0);
    expect(o.unservedBaseWh).toBe(0);
  });
});

describe("controllers without a schedule", () => {
  it("uncontrolled: full power from arrival until done; a program whole at once", () => {
    const c = makeCase({ slots: 5, jobs: [{ earliest: 1, windows: [1, 5, 250] }, { client: 1, kind: "profile", earliest: 2, end: 5, profileWh: [70, 30] }] });
    const p = uncontrolled(c);
    expect(Array.from(p[0])).toEqual([0, 100, 100, 50, 0]);
    expect(Array.from(p[1])).toEqual([0, 0, 70, 30, 0]);
  });

  it("uncontrolled: a thermal band heats at the start of each window", () => {
    const c = makeCase({ slots: 6, jobs: [{ kind: "thermal", windows: [0, 3, 150, 3, 6, 50] }] });
    expect(Array.from(uncontrolled(c)[0])).toEqual([100, 50, 0, 50, 0, 0]);
  });

  it("threshold: runs on a surplus at least its power, else at the last moment", () => {
    // No PV: 200 Wh by slot 4 at 100 Wh a slot: slots 2 and 3.
    const dark = makeCase({ slots: 4, jobs: [{ windows: [0, 4, 200] }] });
    expect(Array.from(threshold(dark)[0])).toEqual([0, 0, 100, 100]);
    // A surplus of 120 Wh in slot 1 (PV 150, baseload 30) takes the first 100.
    const sunny = makeCase({ slots: 4, pvWh: [0, 150, 50, 0], baseloadWh: 30, jobs: [{ windows: [0, 4, 200] }] });
    expect(Array.from(threshold(sunny)[0])).toEqual([0, 100, 0, 100]);
  });

  it("threshold: the surplus left by the first appliance decides for the next", () => {
    const c = makeCase({ slots: 3, pvWh: [150, 0, 0], jobs: [{ windows: [0, 3, 100] }, { client: 1, windows: [0, 3, 100] }] });
    const p = threshold(c);
    expect(Array.from(p[0])).toEqual([100, 0, 0]);
    expect(Array.from(p[1])).toEqual([0, 0, 100]);
  });

  it("threshold: a program starts on its peak's surplus or at its latest start", () => {
    const c = makeCase({ slots: 6, jobs: [{ kind: "profile", end: 6, profileWh: [80, 20] }] });
    expect(Array.from(threshold(c)[0])).toEqual([0, 0, 0, 0, 80, 20]);
    const sun = makeCase({ slots: 6, pvWh: [0, 90, 0, 0, 0, 0], jobs: [{ kind: "profile", end: 6, profileWh: [80, 20] }] });
    expect(Array.from(threshold(sun)[0])).toEqual([0, 80, 20, 0, 0, 0]);
  });
});

describe("the optimum (HiGHS)", () => {
  it("shares scarce PV by weight: the top priority first", async () => {
    // 200 Wh of PV, no import allowed; 150 Wh asked at weight 8, 100 Wh at weight 1: 8 * 150 + 1 * 50.
    const c = makeCase({ slots: 2, pvWh: 100, importWh: 0, jobs: [{ windows: [0, 2, 150] }, { client: 1, windows: [0, 2, 100] }] });
    const o = await optimum(c);
    expect(o.status).toBe("Optimal");
    expect(o.weightedWh).toBeCloseTo(8 * 150 + 50, 6);
    expect(figures(c, o.outcome).weightedWh).toBeCloseTo(1250, 6);
  });

  it("stores PV in the battery for a later window, less its loss", async () => {
    const c = makeCase({ slots: 2, pvWh: [200, 0], gridWh: 0, battery: BATTERY, jobs: [{ earliest: 1, windows: [1, 2, 200], maxWhPerSlot: 200 }] });
    const o = await optimum(c);
    expect(o.weightedWh).toBeCloseTo(8 * 180, 6);
  });

  it("a program placed whole: the MIP where the relaxation may split it", async () => {
    // PV 100 Wh in slots 1 and 2 only, no import allowed: the program [100, 100] fits only from slot 1.
    const c = makeCase({ slots: 4, pvWh: [0, 100, 100, 0], importWh: 0, jobs: [{ kind: "profile", end: 4, profileWh: [100, 100] }] });
    const mip = await optimum(c, { integer: true });
    expect(mip.status).toBe("Optimal");
    expect(mip.weightedWh).toBeCloseTo(8 * 200, 6);
    expect(Array.from(mip.outcome.servedWh[0]).map((x) => Math.round(x))).toEqual([0, 100, 100, 0]);
    // With 150 Wh of PV in all the MIP cannot run it; the relaxation runs half of it.
    const short = makeCase({ slots: 4, pvWh: [0, 100, 50, 0], importWh: 0, jobs: [{ kind: "profile", end: 4, profileWh: [100, 100] }] });
    expect((await optimum(short, { integer: true })).weightedWh).toBeCloseTo(0, 6);
    expect((await optimum(short)).weightedWh).toBeCloseTo(8 * 100, 6);
  });

  it("keeps the router's power rule: the rated power of the clients on within the fuse, islanded within the battery's power", async () => {
    // Two 600 W clients, 100 Wh each asked in one slot: on the grid (fuse 11 kW) both run.
    const jobs = [{ windows: [0, 1, 100] }, { client: 1, windows: [0, 1, 100] }];
    expect((await optimum(makeCase({ slots: 1, jobs }), { integer: true })).weightedWh).toBeCloseTo(8 * 100 + 1 * 100, 6);
    // Islanded on a 1 kW battery inverter with energy to spare: only one may be on, the one of weight 8.
    const islanded = makeCase({ slots: 1, gridWh: 0, battery: { ...BATTERY, maxDischargeW: 1000, socWh: 1000 }, jobs });
    const o = await optimum(islanded, { integer: true });
    expect(o.weightedWh).toBeCloseTo(8 * 100, 6);
    expect(o.outcome.servedWh[1][0]).toBeCloseTo(0, 9);
    // A program's client counts as on through its whole run, even in a slot it draws nothing in.
    const run = makeCase({ slots: 2, gridWh: 0, battery: { ...BATTERY, maxDischargeW: 1000, socWh: 1000 }, jobs: [{ kind: "profile", end: 2, profileWh: [50, 0] }, { client: 1, windows: [1, 2, 100] }] });
    expect((await optimum(run, { integer: true })).weightedWh).toBeCloseTo(8 * 50, 6);
  });

  it("imports no more than the allowance, and serves nothing outside a window", async () => {
    const c = makeCase({ slots: 3, importWh: [40, 0, 40], gridWh: 1000, jobs: [{ windows: [0, 2, 200] }] });
    const o = await optimum(c);
    expect(o.weightedWh).toBeCloseTo(8 * 40, 6);
    expect(o.outcome.importWh[1]).toBeCloseTo(0, 9);
  });

  it("with the house's battery: it gives first while the grid is there, so it cannot be kept for an outage the optimum knows of", async () => {
    // 300 Wh in the battery (reserve 50), 100 Wh of baseload in slot 0 with the grid, then 2 slots islanded and 400 Wh asked there.
    const c = makeCase({ slots: 3, baseloadWh: [100, 0, 0], gridWh: [1000, 0, 0], battery: { ...BATTERY, socWh: 300, reserveWh: 50 }, jobs: [{ earliest: 1, windows: [1, 3, 400], maxWhPerSlot: 200 }] });
    // Running the battery too, it imports the baseload and keeps 250 Wh for the outage.
    const free = await optimum(c, { integer: true });
    expect(free.weightedWh).toBeCloseTo(8 * 250, 6);
    expect(free.outcome.importWh[0]).toBeCloseTo(100, 6);
    // As the house runs it, the battery carries the baseload first: 150 Wh are left for the outage, and nothing is imported.
    const house = await optimum(c, { integer: true, houseBattery: true });
    expect(house.status).toBe("Optimal");
    expect(house.weightedWh).toBeCloseTo(8 * 150, 6);
    expect(house.outcome.importWh[0]).toBeCloseTo(0, 6);
    expect(house.outcome.dischargeWh[0]).toBeCloseTo(100, 6);
    // A battery at its power limit lets the grid give the rest: 6 kW is 1,000 Wh a slot, so 1,500 Wh of baseload imports 500.
    const big = makeCase({ slots: 1, baseloadWh: 1500, gridWh: 2000, battery: { ...BATTERY, capacityWh: 5000, socWh: 4000 }, jobs: [] });
    const o = await optimum(big, { integer: true, houseBattery: true });
    expect(o.outcome.dischargeWh[0]).toBeCloseTo(1000, 6);
    expect(o.outcome.importWh[0]).toBeCloseTo(500, 6);
  });

  it("with the house's battery: a ceiling of every plan run in the house, and below the optimum that runs the battery", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          pv: fc.array(fc.integer({ min: 0, max: 300 }), { minLength: 8, maxLength: 8 }),
          base: fc.array(fc.integer({ min: 0, max: 100 }), { minLength: 8, maxLength: 8 }),
          grid: fc.array(fc.constantFrom(0, 150, 400), { minLength: 8, maxLength: 8 }),
          soc: fc.integer({ min: 0, max: 1000 }),
          jobs: fc.array(fc.record({ client: fc.integer({ min: 0, max: 1 }), from: fc.integer({ min: 0, max: 6 }), len: fc.integer({ min: 1, max: 8 }), wh: fc.integer({ min: 10, max: 500 }) }), { minLength: 1, maxLength: 3 }),
        }),
        async (r) => {
          const jobs = r.jobs.map((j) => {
            const end = Math.min(8, j.from + j.len);
            return { client: j.client, earliest: j.from, arrival: j.from, end, windows: [j.from, end, j.wh] };
          });
          // PV that the baseload does not take covers it where the grid cannot, so that no plan leaves baseload unserved.
          const c = makeCase({ slots: 8, pvWh: r.pv.map((p, k) => (r.grid[k] ? p : Math.max(p, r.base[k]))), baseloadWh: r.base, gridWh: r.grid, battery: { ...BATTERY, socWh: r.soc, reserveWh: 50 }, jobs });
          const house = await optimum(c, { integer: true, houseBattery: true });
          const free = await optimum(c, { integer: true });
          expect(house.status).toBe("Optimal");
          expect(house.weightedWh).toBeLessThanOrEqual(free.weightedWh + 1e-6);
          for (const plan of [uncontrolled(c), threshold(c), house.outcome.servedWh]) {
            const o = settle(c, plan);
            if (o.unservedBaseWh > 1e-6) continue;
            expect(figures(c, o).weightedWh).toBeLessThanOrEqual(house.weightedWh * (1 + 1e-4) + 1e-6);
          }
          // Its own plan, run in the house, serves what it says (a battery that starts below its reserve is bounded a little looser there).
          if (r.soc >= 50) expect(figures(c, settle(c, house.outcome.servedWh)).weightedWh).toBeCloseTo(house.weightedWh, 3);
        },
      ),
      { numRuns: 40 },
    );
  });

  it("is a ceiling: never below the controllers on random households (energy requests, import as the grid)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          pv: fc.array(fc.integer({ min: 0, max: 300 }), { minLength: 8, maxLength: 8 }),
          base: fc.array(fc.integer({ min: 0, max: 100 }), { minLength: 8, maxLength: 8 }),
          // The grid carries any baseload, so that the optimum never trades appliances for it.
          grid: fc.integer({ min: 100, max: 200 }),
          battery: fc.boolean(),
          jobs: fc.array(fc.record({ client: fc.integer({ min: 0, max: 1 }), from: fc.integer({ min: 0, max: 6 }), len: fc.integer({ min: 1, max: 8 }), wh: fc.integer({ min: 10, max: 500 }) }), { minLength: 1, maxLength: 3 }),
        }),
        async (r) => {
          const jobs = r.jobs.map((j) => {
            const end = Math.min(8, j.from + j.len);
            return { client: j.client, earliest: j.from, arrival: j.from, end, windows: [j.from, end, j.wh] };
          });
          const c = makeCase({ slots: 8, pvWh: r.pv, baseloadWh: r.base, gridWh: r.grid, battery: r.battery ? { ...BATTERY, socWh: 300 } : null, jobs });
          const best = await optimum(c);
          expect(best.status).toBe("Optimal");
          for (const plan of [uncontrolled(c), threshold(c)]) {
            const f = figures(c, settle(c, plan));
            expect(f.servedPct).toBeLessThanOrEqual(100 + 1e-9);
            expect(f.weightedWh).toBeLessThanOrEqual(best.weightedWh + 1e-6);
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});
