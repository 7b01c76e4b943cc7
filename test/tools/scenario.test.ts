// Named, seeded scenarios (tools/sim/scenario.ts): the same seed gives the
// same day, other seeds other user events, and every request is one the
// household's appliances can physically serve inside the day.

import { describe, expect, it } from "vitest";
import { WaterHeater, programSlotsWh, programWs, type ApplianceSpec } from "../../tools/sim/appliances";
import { SCENARIO_NAMES, buildHousehold, buildScenario, perSlotWh, type ApplianceRequest, type Scenario } from "../../tools/sim/scenario";

const DAY_S = 86400;
const SEEDS = [1, 2, 3, 17, 99, 12345];

/** The window of a request: earliest start to its end or deadline. */
function windowOf(r: ApplianceRequest): [number, number] {
  return [r.earliestS, r.kind === "energy" ? r.deadlineS : r.endS];
}

function specOf(s: Scenario, name: string): ApplianceSpec {
  const spec = s.appliances.find((a) => a.name === name);
  if (!spec) throw new Error(`no appliance ${name}`);
  return spec;
}

describe("scenarios", () => {
  it("the same name and seed give the identical day", () => {
    for (const name of SCENARIO_NAMES) for (const seed of SEEDS) expect(buildScenario(name, { seed })).toEqual(buildScenario(name, { seed }));
  });

  it("different seeds give different user events", () => {
    for (const name of SCENARIO_NAMES) {
      const days = SEEDS.map((seed) => JSON.stringify(buildScenario(name, { seed }).requests));
      expect(new Set(days).size).toBe(SEEDS.length);
    }
  });

  it("sunny-summer is the default, on a Saturday in June; winter is a workday in January", () => {
    const summer = buildScenario();
    expect(summer).toMatchObject({ name: "sunny-summer", seed: 1, dayOfYear: 172, season: "summer", dayType: "saturday", startS: Date.UTC(2025, 5, 21) / 1000, slotS: 600, slots: 144 });
    expect(buildScenario("winter")).toMatchObject({ dayOfYear: 15, season: "winter", dayType: "workday", startS: Date.UTC(2025, 0, 15) / 1000 });
  });

  it("the day starts at UTC midnight on a slot boundary, with whole Wh per slot that keep the profiles' energy", () => {
    for (const name of SCENARIO_NAMES) {
      const s = buildScenario(name, { slotMin: 15 });
      expect(s.startS % DAY_S).toBe(0);
      expect(s.slots).toBe(96);
      for (const [wh, profile] of [
        [s.baseloadWh, s.baseload],
        [s.pvWh, s.pv],
      ] as const) {
        expect(wh).toHaveLength(96);
        for (const x of wh) expect(Number.isInteger(x) && x >= 0).toBe(true);
        const exactWh = profile.watts.reduce((a, w) => a + w / 4, 0);
        expect(Math.abs(wh.reduce((a, x) => a + x, 0) - exactWh)).toBeLessThanOrEqual(0.5);
      }
    }
    expect(buildScenario("sunny-summer").pvWh.reduce((a, x) => a + x, 0)).toBeGreaterThan(buildScenario("winter").pvWh.reduce((a, x) => a + x, 0));
  });

  it("perSlotWh rounds on the running total", () => {
    const flat = { watts: new Array(96).fill(100), source: "test" };
    const slots = perSlotWh(flat, 600);
    expect(slots.reduce((a, x) => a + x, 0)).toBe(2400);
    expect(new Set(slots)).toEqual(new Set([16, 17]));
  });

  it("refuses an unknown name and a slot that does not divide the day", () => {
    expect(() => buildScenario("monsoon" as never)).toThrow(/unknown scenario "monsoon"/);
    expect(() => buildScenario("winter", { slotMin: 7 })).toThrow(/slotMin/);
  });

  for (const name of SCENARIO_NAMES) {
    for (const seed of SEEDS) {
      it(`${name}, seed ${seed}: every request is in the day, in order, within its appliance's rating and window`, () => {
        const s = buildScenario(name, { seed });
        expect(new Set(s.appliances.map((a) => a.name)).size).toBe(s.appliances.length);
        expect(new Set(s.requests.map((r) => r.appliance))).toEqual(new Set(s.appliances.map((a) => a.name)));
        s.requests.forEach((r, i) => {
          if (i > 0) expect(r.atS).toBeGreaterThanOrEqual(s.requests[i - 1].atS);
          const [fromS, toS] = windowOf(r);
          const windowS = toS - fromS;
          expect(r.atS).toBeGreaterThanOrEqual(s.startS);
          expect(r.atS).toBeLessThanOrEqual(fromS);
          expect(fromS).toBeGreaterThanOrEqual(s.startS);
          expect(toS).toBeLessThanOrEqual(s.startS + DAY_S);
          expect(windowS).toBeGreaterThan(0);
          const spec = specOf(s, r.appliance);
          switch (r.kind) {
            case "profile":
              if (spec.model !== "program") throw new Error("a profile request from a program");
              expect(r.profileWh).toEqual(programSlotsWh(spec.program, s.slotS));
              expect(r.profileWh.length * s.slotS).toBeLessThanOrEqual(windowS);
              expect(r.profileWh.reduce((a, x) => a + x, 0)).toBeLessThanOrEqual((spec.ratedW * windowS) / 3600);
              expect(r.profileWh.reduce((a, x) => a + x, 0)).toBeGreaterThanOrEqual(programWs(spec.program) / 3600);
              break;
            case "energy":
              expect(r.maxW).toBe(spec.ratedW);
              expect(r.wh).toBeGreaterThan(0);
              expect(r.wh).toBeLessThanOrEqual((r.maxW * windowS) / 3600);
              break;
            case "thermal":
              expect(r.maxW).toBe(spec.ratedW);
              expect(windowS % r.windowS).toBe(0);
              expect(r.whPerWindow).toBeGreaterThan(0);
              expect(r.whPerWindow).toBeLessThanOrEqual((r.maxW * r.windowS) / 3600);
              expect(r.minC).toBeLessThan(r.maxC);
              break;
          }
        });
      });
    }
  }

  it("a relay closed over every request's whole window meets every deadline and keeps the tank in its band", () => {
    for (const name of SCENARIO_NAMES) {
      for (const seed of SEEDS.slice(0, 3)) {
        const s = buildScenario(name, { seed });
        const { appliances } = buildHousehold(s);
        for (let i = 0; i < s.slots; i++) {
          const t = s.startS + i * s.slotS;
          for (const a of appliances) {
            const on = s.requests.some((r) => r.appliance === a.name && t >= windowOf(r)[0] && t < windowOf(r)[1]);
            a.advance(s.slotS, on);
          }
        }
        for (const a of appliances) {
          expect(a.counters.deadlinesMissed, `${name} seed ${seed} ${a.name}`).toBe(0);
          if (a.kind !== "thermal") expect(a.counters.deadlinesMet, `${name} seed ${seed} ${a.name}`).toBe(1);
          if (a instanceof WaterHeater) {
            expect(a.belowBandS, `${name} seed ${seed}`).toBe(0);
            expect(a.coldDraws).toBe(0);
            expect(a.maxSeenC).toBeLessThanOrEqual(a.spec.thermostatC);
          }
        }
      }
    }
  });

  it("buildHousehold gives fresh models each time, at the day's start, and the battery of the spec", () => {
    const s = buildScenario("winter", { seed: 5 });
    const one = buildHousehold(s);
    const two = buildHousehold(s);
    one.appliances[0].advance(3600, true);
    expect(two.appliances[0].tS).toBe(s.startS);
    expect(two.appliances[0].counters.onS).toBe(0);
    expect(one.battery?.socWh).toBe(s.battery?.socWh);
    expect(one.battery).not.toBe(two.battery);
  });
});
