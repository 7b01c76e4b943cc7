// Named, seeded scenarios for a simulated day: the household (its flexible
// appliances and their user events, PV, battery, base load) and the
// requests its users make at the router's console. A scenario is plain
// data, the same for the same name and seed; buildHousehold() turns it into
// fresh models to run.
//
// Times are unix seconds; the day starts at UTC midnight, so slot i of the
// day is the microgrid's slot floor(startS / slotS) + i (design section 1).
// The load and PV profiles come from profiles.ts (shared/data when present).

import { createAppliance, DISHWASHER_PROGRAM, WASHER_PROGRAM, type Appliance, type ApplianceRequest, type ApplianceSpec } from "./appliances";
import { HomeBattery, type BatterySpec } from "./battery";
import { seasonOf } from "./home";
import { baseload, pv, type DayProfile, type DayType, type Season } from "./profiles";
import { seededRandom } from "./random";

export type { ApplianceRequest, EnergyRequest, ProfileRequest, ThermalRequest } from "./appliances";

export const SCENARIO_NAMES = ["sunny-summer", "winter", "islanded-outage", "cloud-outage"] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

export interface ScenarioOptions {
  seed?: number;
  /** Slot length (design: L = 10 min). */
  slotMin?: number;
  /** The calendar year of the day (for the weekday of the load profile). */
  year?: number;
}

export interface Scenario {
  name: ScenarioName;
  seed: number;
  year: number;
  dayOfYear: number;
  season: Season;
  dayType: DayType;
  /** UTC midnight of the day, unix seconds. */
  startS: number;
  slotS: number;
  /** Slots in the day. */
  slots: number;
  annualKwh: number;
  kWp: number;
  baseload: DayProfile;
  pv: DayProfile;
  /** Whole Wh per slot (rounded on the running total, so the day's sum is kept). */
  baseloadWh: number[];
  pvWh: number[];
  battery: BatterySpec | null;
  appliances: ApplianceSpec[];
  /** Every appliance's requests, in the order the users make them (atS). */
  requests: ApplianceRequest[];
  /** Each appliance's priority as paired (0 the most important, as firmware/config.ts), by name. */
  priorities: Record<string, number>;
  /** Import the household may plan on per slot, Wh: the microgrid's allowance, the cap while the cloud is lost, 0 while islanded. */
  importWh: number[];
  /** The main fuse: the grid never gives more than this, W. */
  fuseLimitW: number;
  /** The outage of the day, when there is one: slots [fromSlot, toSlot) of the day. */
  outage: Outage | null;
}

/**
 * An outage: "islanded", the grid is down (nothing can be imported, PV and
 * battery only); "cloud", the energy server is unreachable and the router
 * schedules locally, importing at most importCapW.
 */
export interface Outage {
  kind: "islanded" | "cloud";
  fromSlot: number;
  toSlot: number;
  importCapW: number;
}

const DAY_S = 86400;
const MIN = 60;

/** What differs between the named days; the household is the same. */
interface NamedDay {
  dayOfYear: number;
  coldC: number;
  ambientC: number;
  tankStartC: number;
  batterySocWh: number;
  /** The outage of the day: from an hour of the day, for some hours. */
  outage?: { kind: Outage["kind"]; fromH: number; hours: number; importCapW: number };
}

/** The microgrid's import allowance outside outages (as tools/sim/world.ts gives the server): 4.2 kW. */
export const IMPORT_ALLOWANCE_W = 4200;
/** The household's main fuse (flash.config.json fuseLimitW). */
export const FUSE_LIMIT_W = 11000;
/** The appliances' priorities as flash.config.json pairs them: the water heater is the critical load. */
const PRIORITIES: Record<string, number> = { "water-heater": 0, ev: 1, washer: 2, dishwasher: 3 };

const DAYS: Record<ScenarioName, NamedDay> = {
  "sunny-summer": { dayOfYear: 172, coldC: 16, ambientC: 20, tankStartC: 55, batterySocWh: 3000 },
  winter: { dayOfYear: 15, coldC: 8, ambientC: 15, tankStartC: 50, batterySocWh: 2000 },
  // A mid-October day: the grid fails from 11:00 to 17:00, 6 h on PV (2.7
  // kW at most) and the battery, while the car and the machines wait.
  "islanded-outage": { dayOfYear: 288, coldC: 12, ambientC: 18, tankStartC: 52, batterySocWh: 8000, outage: { kind: "islanded", fromH: 11, hours: 6, importCapW: 0 } },
  // A Saturday in February, the family at home: the energy server is
  // unreachable from 06:00 to 18:00; the router schedules locally with a
  // 3 kW import cap, on little PV.
  "cloud-outage": { dayOfYear: 46, coldC: 9, ambientC: 16, tankStartC: 50, batterySocWh: 2500, outage: { kind: "cloud", fromH: 6, hours: 12, importCapW: 3000 } },
};

/** The scenario of a named day; the same name and seed give the same day. */
export function buildScenario(name: ScenarioName = "sunny-summer", options: ScenarioOptions = {}): Scenario {
  const seed = options.seed ?? 1;
  const slotS = (options.slotMin ?? 10) * MIN;
  const year = options.year ?? 2025;
  if (!SCENARIO_NAMES.includes(name)) throw new RangeError(`unknown scenario "${name}"; one of ${SCENARIO_NAMES.join(", ")}`);
  if (!Number.isInteger(slotS) || slotS <= 0 || DAY_S % slotS !== 0) throw new RangeError(`slotMin must divide a day into whole slots, not ${options.slotMin}`);
  const day = DAYS[name];
  const startS = Date.UTC(year, 0, 1) / 1000 + (day.dayOfYear - 1) * DAY_S;
  const season = seasonOf(day.dayOfYear);
  const weekday = new Date(startS * 1000).getUTCDay();
  const dayType: DayType = weekday === 0 ? "sunday" : weekday === 6 ? "saturday" : "workday";
  const annualKwh = 4000;
  const kWp = 6;
  const load = baseload(season, dayType, annualKwh);
  const solar = pv(day.dayOfYear, kWp);

  const random = seededRandom(seed);
  /** A time of the day between two clock times (hours), to the minute. */
  const at = (fromH: number, toH: number) => startS + Math.floor(fromH * 60 + random() * (toH - fromH) * 60) * MIN;
  const between = (lo: number, hi: number) => Math.floor(lo + random() * (hi - lo + 1));

  // The outage days (islanded-outage, cloud-outage) have the summer day's user events.
  const washerLoad = name === "winter" ? at(6.5, 8) : at(7.5, 9.5);
  const dishLoad = name === "winter" ? at(19.75, 20.75) : at(12.5, 14);
  const dishEnd = name === "winter" ? at(23.5, 23.99) : at(18.5, 21);
  const washerEnd = washerLoad + between(8 * 60, 10 * 60) * MIN;
  // Summer: a Saturday at home, the car plugged in mid-morning; winter: on
  // charge since the evening before, leaving for work.
  const plugS = name === "winter" ? startS : at(9, 10.5);
  const departS = name === "winter" ? at(6.75, 7.75) : at(16.5, 19);
  const batteryWh = 60000;
  const arriveWh = Math.round(batteryWh * (0.45 + random() * 0.2));
  const showers = [at(6.5, 7.5), at(7.5, 8.5), at(19, 21.5)];
  const kitchen = [at(12, 13), at(18.5, 19.5), at(20, 21)];

  const appliances: ApplianceSpec[] = [
    { model: "program", name: "washer", ratedW: 2200, program: WASHER_PROGRAM, runs: [{ loadS: washerLoad, earliestS: washerLoad, endS: washerEnd }] },
    { model: "program", name: "dishwasher", ratedW: 2000, program: DISHWASHER_PROGRAM, runs: [{ loadS: dishLoad, earliestS: dishLoad, endS: dishEnd }] },
    { model: "ev", name: "ev", ratedW: 3700, minW: 1400, batteryWh, taperFromWh: 54000, sessions: [{ plugS, departS, arriveWh, targetWh: 48000 }] },
    {
      model: "water-heater",
      name: "water-heater",
      ratedW: 2000,
      litres: 150,
      thermostatC: 65,
      hysteresisK: 5,
      minC: 45,
      startC: day.tankStartC,
      coldC: day.coldC,
      ambientC: day.ambientC,
      lossWPerK: 1.6,
      draws: [
        ...showers.map((atS) => ({ atS, litres: between(25, 35), durationS: between(5, 8) * MIN })),
        ...kitchen.map((atS) => ({ atS, litres: between(3, 6), durationS: MIN })),
      ],
    },
  ];
  const battery: BatterySpec = { capacityWh: 10000, maxChargeW: 5000, maxDischargeW: 5000, roundTripPct: 90, socWh: day.batterySocWh, reserveWh: 500 };
  const requests = appliances.flatMap((spec) => createAppliance(spec, startS).requests(slotS)).sort((a, b) => a.atS - b.atS);
  const slots = DAY_S / slotS;
  const outage: Outage | null = day.outage
    ? { kind: day.outage.kind, fromSlot: Math.floor((day.outage.fromH * 3600) / slotS), toSlot: Math.ceil(((day.outage.fromH + day.outage.hours) * 3600) / slotS), importCapW: day.outage.importCapW }
    : null;
  const importWh: number[] = [];
  for (let k = 0; k < slots; k++) {
    const capW = outage && k >= outage.fromSlot && k < outage.toSlot ? outage.importCapW : IMPORT_ALLOWANCE_W;
    importWh.push(Math.floor((capW * slotS) / 3600));
  }

  return {
    name,
    seed,
    year,
    dayOfYear: day.dayOfYear,
    season,
    dayType,
    startS,
    slotS,
    slots,
    annualKwh,
    kWp,
    baseload: load,
    pv: solar,
    baseloadWh: perSlotWh(load, slotS),
    pvWh: perSlotWh(solar, slotS),
    battery,
    appliances,
    requests,
    priorities: { ...PRIORITIES },
    importWh,
    fuseLimitW: FUSE_LIMIT_W,
    outage,
  };
}

/** Fresh models of a scenario's household, their time at the day's start. */
export function buildHousehold(s: Scenario): { appliances: Appliance[]; battery: HomeBattery | null } {
  return { appliances: s.appliances.map((spec) => createAppliance(spec, s.startS)), battery: s.battery ? new HomeBattery(s.battery) : null };
}

/**
 * Whole Wh per slot of a day profile (96 quarter-hour powers): each slot's
 * share of the exact energy, rounded on the running total so that rounding
 * never adds up over the day.
 */
export function perSlotWh(profile: DayProfile, slotS: number): number[] {
  const quarterS = DAY_S / profile.watts.length;
  /** Ws from midnight to t. */
  const upTo = (t: number) => {
    const q = Math.floor(t / quarterS);
    let ws = 0;
    for (let i = 0; i < q; i++) ws += profile.watts[i] * quarterS;
    return q < profile.watts.length ? ws + profile.watts[q] * (t - q * quarterS) : ws;
  };
  const out: number[] = [];
  for (let t = 0; t < DAY_S; t += slotS) out.push(Math.round(upTo(t + slotS) / 3600) - Math.round(upTo(t) / 3600));
  return out;
}
