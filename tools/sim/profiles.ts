// Household load and PV production for the simulated home, from the real
// data in ../shared/data when it is beside the checkout (BDEW H0 load
// profile, PVGIS typical year) and from built-in synthetic shapes otherwise,
// so that a fresh clone runs on its own.

import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const dataDir = join(dirname(fileURLToPath(import.meta.url)), "../../../shared/data");

export type Season = "winter" | "summer" | "transition";
export type DayType = "workday" | "saturday" | "sunday";

/** 96 quarter-hour average powers in W for one day, and where they came from. */
export interface DayProfile {
  watts: number[];
  source: string;
}

/**
 * Household base load for a day, scaled to annualKwh (H0 is normalised to
 * 1,000 kWh a year).
 */
export function baseload(season: Season, day: DayType, annualKwh: number): DayProfile {
  const file = join(dataDir, "bdew-slp-h0.csv");
  const scale = annualKwh / 1000;
  if (existsSync(file)) {
    const watts = readFileSync(file, "utf8")
      .split("\n")
      .slice(1)
      .map((l) => l.split(","))
      .filter((f) => f[0] === "H0" && f[1] === season && f[2] === day)
      .map((f) => Number(f[4]) * scale);
    if (watts.length === 96) return { watts, source: "BDEW H0 (shared/data)" };
  }
  // Synthetic: a night floor, a morning and a larger evening peak.
  const watts: number[] = [];
  for (let q = 0; q < 96; q++) {
    const h = q / 4;
    const bump = (c: number, w: number, a: number) => a * Math.exp(-((h - c) ** 2) / (2 * w * w));
    watts.push((60 + bump(7.5, 1.2, 120) + bump(13, 1.5, 90) + bump(19.5, 2, 200)) * scale * (season === "winter" ? 1.2 : season === "summer" ? 0.85 : 1));
  }
  return { watts, source: "synthetic" };
}

/**
 * PV output in W per quarter hour of a day of the year (1-365), for kWp of
 * panels: P = kWp * G(h)/1000 * 0.8 from the PVGIS hourly irradiance.
 */
export function pv(dayOfYear: number, kWp: number): DayProfile {
  const file = join(dataDir, "pvgis-tmy-45.000N-8.000E.csv");
  if (existsSync(file)) {
    const rows = readFileSync(file, "utf8")
      .split("\n")
      .filter((l) => /^\d{8}:\d{4},/.test(l))
      .map((l) => l.split(","));
    if (rows.length === 8760) {
      const day = rows.slice((dayOfYear - 1) * 24, dayOfYear * 24).map((f) => Number(f[3]));
      const watts: number[] = [];
      for (let q = 0; q < 96; q++) watts.push(Math.max(0, (kWp * 1000 * day[Math.floor(q / 4)] * 0.8) / 1000));
      return { watts, source: "PVGIS typical year (shared/data)" };
    }
  }
  // Synthetic clear sky: a sine from 6:00 to 20:00 in summer, 8:00 to 16:30 in winter.
  const summer = Math.cos(((dayOfYear - 172) / 365) * 2 * Math.PI);
  const half = 4.25 + 2.75 * summer;
  const peak = kWp * 1000 * (0.55 + 0.25 * summer) * 0.8;
  const watts: number[] = [];
  for (let q = 0; q < 96; q++) {
    const x = (q / 4 + 0.125 - 13) / half;
    watts.push(Math.abs(x) < 1 ? peak * Math.cos((x * Math.PI) / 2) : 0);
  }
  return { watts, source: "synthetic clear sky" };
}
