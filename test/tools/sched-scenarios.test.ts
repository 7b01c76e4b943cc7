// The scheduling benchmark on the named scenarios (tools/sched/ over
// tools/sim/scenario.ts): each case is the same for the same seed, the
// outages are where the scenarios say, and every scheduler stays inside
// what the house can do and below the optimum.

import { describe, expect, it } from "vitest";
import { HORIZON } from "../../firmware/plan";
import { MAX_REQUESTS } from "../../firmware/requests";
import { caseOf, jobWh } from "../../tools/sched/case";
import { acceptedServedPct, figures } from "../../tools/sched/figures";
import { fullCase, reallocateFull, FULL_CLIENTS } from "../../tools/sched/fullcase";
import { runLocal } from "../../tools/sched/local";
import { optimum } from "../../tools/sched/lp";
import { runServer } from "../../tools/sched/server";
import { buildScenario, SCENARIO_NAMES } from "../../tools/sim/scenario";

describe("scheduling scenarios", () => {
  it("each named scenario's case is the same for the same seed and differs for another", () => {
    for (const name of SCENARIO_NAMES) {
      expect(caseOf(buildScenario(name, { seed: 3 }))).toEqual(caseOf(buildScenario(name, { seed: 3 })));
      expect(JSON.stringify(caseOf(buildScenario(name, { seed: 3 })).jobs)).not.toBe(JSON.stringify(caseOf(buildScenario(name, { seed: 4 })).jobs));
    }
  });

  it("islanded-outage: no import allowed and none possible for 6 hours, the allowance elsewhere", () => {
    const s = buildScenario("islanded-outage", { seed: 1 });
    const c = caseOf(s);
    expect(s.outage).toMatchObject({ kind: "islanded", importCapW: 0 });
    const { fromSlot, toSlot } = s.outage!;
    expect((toSlot - fromSlot) * s.slotS).toBe(6 * 3600);
    for (let k = 0; k < s.slots; k++) {
      const out = k >= fromSlot && k < toSlot;
      expect(s.importWh[k], `slot ${k}`).toBe(out ? 0 : 700);
      expect(c.gridWh[k], `slot ${k}`).toBe(out ? 0 : Math.floor((s.fuseLimitW * s.slotS) / 3600));
    }
    expect(s.battery).not.toBeNull();
    expect(s.priorities["water-heater"]).toBe(0);
  });

  it("cloud-outage: a 3 kW import cap for 12 hours, the grid still there", () => {
    const s = buildScenario("cloud-outage", { seed: 1 });
    const c = caseOf(s);
    const { fromSlot, toSlot } = s.outage!;
    expect(s.outage?.kind).toBe("cloud");
    expect((toSlot - fromSlot) * s.slotS).toBe(12 * 3600);
    for (let k = 0; k < s.slots; k++) expect(s.importWh[k]).toBe(k >= fromSlot && k < toSlot ? 500 : 700);
    expect(Math.min(...c.gridWh)).toBeGreaterThan(0);
  });

  it("the scenarios without an outage keep the microgrid's allowance all day", () => {
    for (const name of ["sunny-summer", "winter"] as const) {
      const s = buildScenario(name);
      expect(s.outage).toBeNull();
      expect(new Set(s.importWh)).toEqual(new Set([700]));
    }
  });

  it("a case's jobs are the scenario's requests, in slots of the day", () => {
    const s = buildScenario("winter", { seed: 2 });
    const c = caseOf(s);
    expect(c.jobs).toHaveLength(s.requests.length);
    for (const j of c.jobs) {
      expect(j.earliest).toBeGreaterThanOrEqual(j.arrival);
      expect(j.end).toBeLessThanOrEqual(c.slots);
      expect(jobWh(j)).toBeGreaterThan(0);
      if (j.kind === "profile") expect(j.end - j.earliest).toBeGreaterThanOrEqual(j.profileWh.length);
    }
  });

  for (const name of SCENARIO_NAMES) {
    it(`${name}: the local scheduler and the server stay below the optimum and within each client's power`, async () => {
      const c = caseOf(buildScenario(name, { seed: 1 }));
      const best = await optimum(c);
      for (const run of [runLocal(c), runServer(c)]) {
        const f = figures(c, run.outcome);
        expect(f.servedPct).toBeLessThanOrEqual(100 + 1e-9);
        expect(f.weightedWh).toBeLessThanOrEqual(best.weightedWh + 1e-6);
        for (let i = 0; i < c.jobs.length; i++) for (const wh of run.plan[i]) expect(wh).toBeLessThanOrEqual(c.jobs[i].maxWhPerSlot + 1e-9);
        // Islanded slots import nothing.
        run.outcome.importWh.forEach((wh, k) => expect(wh).toBeLessThanOrEqual(c.gridWh[k] + 1e-9));
      }
    });
  }

  it("with enough supply, the local scheduler delivers every accepted Wh by its deadline", () => {
    for (const name of ["sunny-summer", "winter", "cloud-outage"] as const) {
      const c = caseOf(buildScenario(name, { seed: 1 }));
      const run = runLocal(c);
      expect(run.admittedAt.every((a) => a >= 0)).toBe(true);
      expect(acceptedServedPct(c, run.outcome, run.admittedAt)).toBeCloseTo(100, 6);
    }
  });

  it("the full reallocation case fills the table and the horizon for 16 clients", () => {
    const f = fullCase(1);
    expect(f.rq.count()).toBe(MAX_REQUESTS);
    reallocateFull(f);
    expect(f.sched.n).toBe(HORIZON);
    let planned = 0;
    for (let cl = 1; cl <= FULL_CLIENTS; cl++) for (const p of f.sched.row(cl)) planned += p;
    expect(planned).toBeGreaterThan(0);
    // The same case twice gives the same plan.
    const g = fullCase(1);
    reallocateFull(g);
    expect(Array.from(g.sched.counts)).toEqual(Array.from(f.sched.counts));
  });
});
