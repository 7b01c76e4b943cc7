// The household's physical models (tools/sim/appliances.ts) and the home
// battery (tools/sim/battery.ts): what each draws for a relay sequence,
// what it counts, and the physical limits it keeps whatever the router does.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  DISHWASHER_PROGRAM,
  EvCharger,
  ProgramMachine,
  WASHER_PROGRAM,
  WaterHeater,
  createAppliance,
  programSlotsWh,
  programWs,
  type Appliance,
  type ApplianceSpec,
  type EvSpec,
  type ProgramSpec,
  type WaterHeaterSpec,
} from "../../tools/sim/appliances";
import { HomeBattery, type BatterySpec } from "../../tools/sim/battery";

const T0 = 1_750_464_000; // 2025-06-21 00:00 UTC
const H = 3600;

function washer(runs = [{ loadS: T0 + 8 * H, earliestS: T0 + 8 * H, endS: T0 + 16 * H }]): ProgramSpec {
  return { model: "program", name: "washer", ratedW: 2200, program: WASHER_PROGRAM, runs };
}

function ev(session = { plugS: T0 + 9 * H, departS: T0 + 17 * H, arriveWh: 30000, targetWh: 48000 }): EvSpec {
  return { model: "ev", name: "ev", ratedW: 3700, minW: 1400, batteryWh: 60000, taperFromWh: 54000, sessions: [session] };
}

function waterHeater(over: Partial<WaterHeaterSpec> = {}): WaterHeaterSpec {
  return {
    model: "water-heater",
    name: "water-heater",
    ratedW: 2000,
    litres: 150,
    thermostatC: 65,
    hysteresisK: 5,
    minC: 45,
    startC: 50,
    coldC: 12,
    ambientC: 18,
    lossWPerK: 1.6,
    draws: [],
    ...over,
  };
}

/** Steps a model through (seconds, relay) pairs; returns the Wh of each step. */
function drive(a: Appliance, steps: [number, boolean][]): number[] {
  return steps.map(([dtS, on]) => a.advance(dtS, on));
}

const sum = (xs: number[]) => xs.reduce((s, x) => s + x, 0);

describe("a washing machine's program (deferrable, non-interruptible)", () => {
  it("draws exactly its program's energy when run uninterrupted, and meets its deadline", () => {
    const m = new ProgramMachine(washer(), T0);
    const wh = drive(m, [
      [8 * H, false],
      [7200, true],
      [H, true],
    ]);
    expect(programWs(WASHER_PROGRAM)).toBe(3_780_000); // 1,050 Wh
    expect(m.counters.deliveredWs).toBe(programWs(WASHER_PROGRAM));
    expect(wh[1]).toBeCloseTo(1050, 9);
    expect(wh[2]).toBe(0);
    expect(m.doneAtS).toEqual([T0 + 8 * H + 7200]);
    expect(m.counters).toMatchObject({ switchings: 1, interruptions: 0, deadlinesMet: 1, deadlinesMissed: 0, onS: 2 * H + 7200 - H });
  });

  it("pauses when the relay opens mid-program, resumes where it stopped and counts the interruption", () => {
    const m = new ProgramMachine(washer(), T0);
    m.advance(8 * H, false);
    m.advance(600, true); // 300 s fill, then 300 s of heating
    expect(m.state).toBe("running");
    expect(m.powerW(true)).toBe(2000);
    expect(m.advance(900, false)).toBe(0);
    expect(m.state).toBe("paused");
    expect(m.progressS).toBe(600);
    expect(m.powerW(true)).toBe(2000); // still in the heating phase
    m.advance(7200, true);
    expect(m.counters.deliveredWs).toBe(programWs(WASHER_PROGRAM));
    expect(m.doneAtS).toEqual([T0 + 8 * H + 7200 + 900]);
    expect(m.counters).toMatchObject({ interruptions: 1, switchings: 3, deadlinesMet: 1 });
  });

  it("opening the relay after the program is done is no interruption", () => {
    const m = new ProgramMachine(washer(), T0 + 8 * H);
    drive(m, [
      [7200, true],
      [60, false],
    ]);
    expect(m.counters.interruptions).toBe(0);
    expect(m.counters.switchings).toBe(2);
  });

  it("draws nothing before it is loaded, whatever the relay", () => {
    const m = new ProgramMachine(washer(), T0);
    expect(m.advance(8 * H, true)).toBe(0);
    expect(m.state).toBe("loaded");
    expect(m.advance(60, true)).toBeCloseTo((60 * 100) / 3600, 9);
  });

  it("counts a missed deadline once, when it passes and not again when the program ends late", () => {
    const m = new ProgramMachine(washer(), T0);
    m.advance(16 * H, false);
    expect(m.counters.deadlinesMissed).toBe(1);
    m.advance(3 * H, true);
    expect(m.doneAtS).toEqual([T0 + 16 * H + 7200]);
    expect(m.counters).toMatchObject({ deadlinesMissed: 1, deadlinesMet: 0 });
  });

  it("finishing exactly at the deadline meets it", () => {
    const m = new ProgramMachine(washer([{ loadS: T0, earliestS: T0, endS: T0 + 7200 }]), T0);
    m.advance(7200, true);
    expect(m.counters).toMatchObject({ deadlinesMet: 1, deadlinesMissed: 0 });
  });

  it("runs a day's second load after the first is done", () => {
    const runs = [
      { loadS: T0 + H, earliestS: T0 + H, endS: T0 + 5 * H },
      { loadS: T0 + 4 * H, earliestS: T0 + 4 * H, endS: T0 + 12 * H },
    ];
    const m = new ProgramMachine(washer(runs), T0);
    m.advance(24 * H, true);
    expect(m.doneAtS).toEqual([T0 + H + 7200, T0 + 4 * H + 7200]);
    expect(m.counters.deliveredWs).toBe(2 * programWs(WASHER_PROGRAM));
    expect(m.counters.deadlinesMet).toBe(2);
  });

  it("requests its program as whole Wh per slot, each slot rounded up", () => {
    const slots = programSlotsWh(DISHWASHER_PROGRAM, 600);
    expect(slots).toEqual([159, 300, 25, 25, 25, 300, 17, 17, 9, 9]);
    expect(sum(slots)).toBeGreaterThanOrEqual(programWs(DISHWASHER_PROGRAM) / 3600);
    expect(sum(slots) - programWs(DISHWASHER_PROGRAM) / 3600).toBeLessThan(slots.length);
    const [r] = new ProgramMachine(washer(), T0).requests(600);
    expect(r).toEqual({ kind: "profile", atS: T0 + 8 * H, appliance: "washer", earliestS: T0 + 8 * H, endS: T0 + 16 * H, profileWh: programSlotsWh(WASHER_PROGRAM, 600) });
  });

  it("refuses a phase above its rated power", () => {
    expect(() => new ProgramMachine({ ...washer(), ratedW: 1500 }, T0)).toThrow(/phase "heat"/);
  });
});

describe("an EV charger (energy by deadline, interruptible)", () => {
  it("charges at rated power, tapers near full and stops at the car's target", () => {
    const c = new EvCharger(ev({ plugS: T0, departS: T0 + 20 * H, arriveWh: 50000, targetWh: 60000 }), T0);
    expect(c.powerW(true)).toBe(3700);
    c.advance(H, true);
    expect(c.socWh).toBeCloseTo(53700, 9);
    c.advance(600, true);
    expect(c.powerW(true)).toBeLessThan(3700);
    expect(c.powerW(true)).toBeGreaterThanOrEqual(1400);
    c.advance(10 * H, true);
    expect(c.socWh).toBe(60000);
    expect(c.powerW(true)).toBe(0);
    expect(c.advance(H, true)).toBe(0);
    expect(c.counters.deliveredWs).toBe(10000 * 3600);
  });

  it("stops at the target and meets the deadline; the car leaves at departure", () => {
    const c = new EvCharger(ev(), T0);
    const wh = drive(c, [
      [9 * H, true],
      [8 * H, true],
      [H, true],
    ]);
    expect(wh[0]).toBe(0); // not plugged in yet
    expect(wh[1]).toBeCloseTo(18000, 9);
    expect(wh[2]).toBe(0); // gone
    expect(c.plugged).toBe(false);
    expect(c.counters).toMatchObject({ deadlinesMet: 1, deadlinesMissed: 0 });
  });

  it("counts a missed deadline and the energy the car lacked", () => {
    const c = new EvCharger(ev(), T0);
    drive(c, [
      [9 * H, false],
      [2 * H, true],
      [7 * H, false],
    ]);
    expect(c.counters).toMatchObject({ deadlinesMet: 0, deadlinesMissed: 1, interruptions: 1, switchings: 2 });
    expect(c.shortWh).toBeCloseTo(18000 - 7400, 9);
  });

  it("asks for its energy between plug-in and departure, at most its rated power", () => {
    expect(new EvCharger(ev(), T0).requests()).toEqual([{ kind: "energy", atS: T0 + 9 * H, appliance: "ev", earliestS: T0 + 9 * H, deadlineS: T0 + 17 * H, wh: 18000, maxW: 3700 }]);
  });
});

describe("a water heater (thermal band)", () => {
  it("heats to its thermostat and not above; the energy is the heat stored plus the loss", () => {
    const w = new WaterHeater(waterHeater(), T0);
    const capacityWhPerK = (150 * 4186) / 3600;
    const wh = w.advance(5400, true);
    expect(w.maxSeenC).toBeLessThanOrEqual(65);
    expect(w.maxSeenC).toBeGreaterThan(64.99);
    expect(w.tempC).toBeGreaterThan(64.8);
    expect(w.powerW(true)).toBe(0); // thermostat open
    const lossMaxWh = 1.6 * (65 - 18) * 1.5;
    expect(wh).toBeGreaterThanOrEqual(capacityWhPerK * (w.tempC - 50));
    expect(wh).toBeLessThanOrEqual(capacityWhPerK * (w.tempC - 50) + lossMaxWh);
    expect(wh).toBeGreaterThan(capacityWhPerK * (64 - 50));
  });

  it("the thermostat heats again only below its hysteresis", () => {
    const w = new WaterHeater(waterHeater({ startC: 62 }), T0);
    expect(w.powerW(true)).toBe(0);
    w.advance(H, true);
    expect(w.counters.deliveredWs).toBe(0);
    expect(w.tempC).toBeLessThan(62);
    const cooled = new WaterHeater(waterHeater({ startC: 61, draws: [{ atS: T0, litres: 10, durationS: 60 }] }), T0);
    cooled.advance(60, false);
    expect(cooled.tempC).toBeLessThan(60);
    expect(cooled.powerW(true)).toBe(2000);
    cooled.advance(H, true);
    expect(cooled.maxSeenC).toBeGreaterThan(64.99);
  });

  it("loses heat towards the ambient air with the relay open, and a draw cools the tank", () => {
    const w = new WaterHeater(waterHeater({ startC: 60, draws: [{ atS: T0 + 20 * H, litres: 50, durationS: 600 }] }), T0);
    const temps: number[] = [];
    for (let h = 0; h < 20; h++) {
      w.advance(H, false);
      temps.push(w.tempC);
    }
    for (let i = 1; i < temps.length; i++) expect(temps[i]).toBeLessThan(temps[i - 1]);
    // About 1.6 W/K * 42 K = 67 W: some 0.4 K an hour at first.
    expect(60 - temps[0]).toBeGreaterThan(0.3);
    expect(60 - temps[0]).toBeLessThan(0.5);
    const before = w.tempC;
    w.advance(600, false);
    // A third of the tank replaced by 12 degC water, mixed as it comes in.
    expect(w.tempC).toBeLessThan(before - 0.25 * (before - 12));
    expect(w.tempC).toBeGreaterThan(before - 0.34 * (before - 12));
    expect(w.counters.deliveredWs).toBe(0);
  });

  it("counts time below its band and draws that start below it", () => {
    const w = new WaterHeater(waterHeater({ startC: 46, draws: [{ atS: T0, litres: 30, durationS: 300 }, { atS: T0 + H, litres: 30, durationS: 300 }] }), T0);
    w.advance(2 * H, false);
    expect(w.coldDraws).toBe(1);
    expect(w.belowBandS).toBeGreaterThan(H);
  });

  it("asks for a day's heat in hourly windows, within its power", () => {
    const [r] = new WaterHeater(waterHeater({ draws: [{ atS: T0 + 7 * H, litres: 30, durationS: 300 }] }), T0).requests();
    expect(r).toMatchObject({ kind: "thermal", atS: T0, earliestS: T0, endS: T0 + 24 * H, windowS: H, maxW: 2000, minC: 45, maxC: 65 });
    if (r.kind !== "thermal") throw new Error("kind");
    // Loss at 55 degC (1.6 W/K * 37 K * 24 h = 1,421 Wh) and 30 l heated by 43 K (1,500 Wh), over 24 windows.
    expect(r.whPerWindow).toBe(Math.ceil((1.6 * 37 * 24 * H + 30 * 4186 * 43) / 3600 / 24));
  });
});

/** Any day of relay switching: steps of 1 s to 2 h with the relay on or off. */
const relaySequence = fc.array(fc.tuple(fc.integer({ min: 1, max: 7200 }), fc.boolean()), { minLength: 1, maxLength: 40 });

const specs: ApplianceSpec[] = [
  washer(),
  { ...washer(), name: "dishwasher", ratedW: 2000, program: DISHWASHER_PROGRAM },
  ev(),
  waterHeater({ draws: [{ atS: T0 + 7 * H, litres: 40, durationS: 600 }, { atS: T0 + 10 * H, litres: 80, durationS: 300 }] }),
];

describe("any relay sequence, on every model", () => {
  it("draws >= 0 and never more than rated power for the time on; the counters agree with the relay", () => {
    fc.assert(
      fc.property(fc.constantFrom(...specs), relaySequence, (spec, steps) => {
        const a = createAppliance(spec, T0 + 6 * H);
        let onS = 0;
        let switchings = 0;
        let prev = false;
        for (const [dtS, on] of steps) {
          const wh = a.advance(dtS, on);
          expect(wh).toBeGreaterThanOrEqual(0);
          expect(wh).toBeLessThanOrEqual((a.ratedW * (on ? dtS : 0)) / 3600 + 1e-9);
          if (on) onS += dtS;
          if (on !== prev) switchings++;
          prev = on;
        }
        expect(a.counters.onS).toBe(onS);
        expect(a.counters.switchings).toBe(switchings);
        expect(a.counters.interruptions).toBeLessThanOrEqual(Math.ceil(switchings / 2));
        expect(Number.isInteger(a.counters.deliveredWs)).toBe(true);
        if (a instanceof ProgramMachine) expect(a.counters.deliveredWs).toBeLessThanOrEqual(programWs(a.spec.program) * a.spec.runs.length);
        if (a instanceof EvCharger) expect(a.socWh).toBeLessThanOrEqual(48000);
        if (a instanceof WaterHeater) {
          expect(a.maxSeenC).toBeLessThanOrEqual(65);
          expect(a.minSeenC).toBeGreaterThanOrEqual(12);
        }
      }),
      { numRuns: 200 },
    );
  });

  it("draws the same however the time is cut into steps", () => {
    fc.assert(
      fc.property(fc.constantFrom(...specs), relaySequence, fc.integer({ min: 2, max: 7 }), (spec, steps, parts) => {
        const whole = createAppliance(spec, T0 + 6 * H);
        const split = createAppliance(spec, T0 + 6 * H);
        for (const [dtS, on] of steps) {
          whole.advance(dtS, on);
          const piece = Math.floor(dtS / parts);
          for (let i = 0; i < parts - 1; i++) split.advance(piece, on);
          split.advance(dtS - piece * (parts - 1), on);
        }
        expect(split.counters).toEqual(whole.counters);
        expect(split.tS).toBe(whole.tS);
      }),
      { numRuns: 100 },
    );
  });

  it("refuses a step that is not a whole number of seconds", () => {
    const a = createAppliance(ev(), T0);
    expect(() => a.advance(1.5, true)).toThrow(/whole number of seconds/);
    expect(() => a.advance(-1, true)).toThrow(/whole number of seconds/);
  });
});

const batterySpec: BatterySpec = { capacityWh: 10000, maxChargeW: 5000, maxDischargeW: 4000, roundTripPct: 90, socWh: 2000, reserveWh: 500 };

describe("the home battery", () => {
  it("loses the round trip's share: 1,000 Wh in, 900 Wh out", () => {
    const b = new HomeBattery({ ...batterySpec, socWh: 0, reserveWh: 0 });
    expect(b.charge(1000, 3600)).toBe(1000);
    expect(b.socWh).toBe(900);
    expect(b.discharge(2000, 3600)).toBe(900);
    expect(b.socWh).toBe(0);
    expect(b.lossWh).toBe(100);
  });

  it("keeps to its power limits, its capacity and its reserve", () => {
    const b = new HomeBattery(batterySpec);
    expect(b.charge(10000, 600)).toBe(833); // 5 kW for 10 min
    expect(b.discharge(10000, 600)).toBe(666); // 4 kW for 10 min
    const full = new HomeBattery({ ...batterySpec, socWh: 9950 });
    expect(full.charge(1000, 3600)).toBe(55); // 55 * 0.9 = 49.5 Wh of room
    expect(full.socWh).toBe(9999.5);
    expect(full.charge(1000, 3600)).toBe(0);
    const low = new HomeBattery({ ...batterySpec, socWh: 600 });
    expect(low.discharge(1000, 3600)).toBe(100);
    expect(low.discharge(1000, 3600)).toBe(0);
    expect(low.counters.limitedDischargeSteps).toBe(2);
  });

  it("self-consumption charges from a surplus, covers a deficit and sends the rest to the grid", () => {
    const b = new HomeBattery(batterySpec);
    expect(b.selfConsume(-1200, 600)).toEqual({ chargeWh: 833, dischargeWh: 0, gridWh: -367 });
    expect(b.selfConsume(300, 600)).toEqual({ chargeWh: 0, dischargeWh: 300, gridWh: 0 });
    expect(b.selfConsume(0, 600)).toEqual({ chargeWh: 0, dischargeWh: 0, gridWh: 0 });
    expect(() => b.selfConsume(1.5, 600)).toThrow(/whole Wh/);
  });

  it("refuses a spec it cannot model", () => {
    expect(() => new HomeBattery({ ...batterySpec, socWh: 20000 })).toThrow(/at most capacityWh/);
    expect(() => new HomeBattery({ ...batterySpec, roundTripPct: 0 })).toThrow(/roundTripPct/);
    expect(() => new HomeBattery({ ...batterySpec, maxChargeW: 1.5 })).toThrow(/maxChargeW/);
  });

  it("for any load and PV: within its limits, and the energy balances exactly", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: -4000, max: 4000 }), fc.integer({ min: 1, max: 3600 })), { maxLength: 200 }), (steps) => {
        const b = new HomeBattery(batterySpec);
        let charged = 0;
        let discharged = 0;
        for (const [netWh, dtS] of steps) {
          const r = b.selfConsume(netWh, dtS);
          expect(r.chargeWh).toBeGreaterThanOrEqual(0);
          expect(r.dischargeWh).toBeGreaterThanOrEqual(0);
          expect(r.chargeWh).toBeLessThanOrEqual((5000 * dtS) / 3600);
          expect(r.dischargeWh).toBeLessThanOrEqual((4000 * dtS) / 3600);
          expect(r.chargeWh === 0 || r.dischargeWh === 0).toBe(true);
          expect(r.gridWh + r.dischargeWh - r.chargeWh).toBe(netWh);
          expect(b.socWh).toBeLessThanOrEqual(10000);
          expect(b.socWh).toBeGreaterThanOrEqual(500);
          charged += r.chargeWh;
          discharged += r.dischargeWh;
        }
        // In hundredths of a Wh: stored = start + 90 % of what came in - what went out.
        expect(Math.round(b.socWh * 100)).toBe(2000 * 100 + charged * 90 - discharged * 100);
        expect(b.lossWh).toBeCloseTo(charged * 0.1, 6);
      }),
    );
  });
});
