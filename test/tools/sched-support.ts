// Small hand-made scheduling cases for the tests of tools/sched/.

import type { BatterySpec } from "../../tools/sim/battery";
import type { Client, Job, SchedCase } from "../../tools/sched/case";

export interface CaseSpec {
  slots: number;
  pvWh?: number[] | number;
  baseloadWh?: number[] | number;
  /** Import the schedulers may plan on per slot (default: as the grid). */
  importWh?: number[] | number;
  /** What the grid can give per slot (default 1,000 Wh). */
  gridWh?: number[] | number;
  battery?: BatterySpec | null;
  clients?: Client[];
  jobs: Partial<Job>[];
  /** Absolute slot of the first slot (its parity places partial slots, figures.ts). */
  firstSlot?: number;
}

const perSlot = (v: number[] | number | undefined, n: number, dflt: number) => (Array.isArray(v) ? v.slice() : new Array(n).fill(v ?? dflt));

/** A case of 10-minute slots; a job defaults to 100 Wh per slot at most on client 0, arriving at its earliest slot. */
export function makeCase(s: CaseSpec): SchedCase {
  const n = s.slots;
  const gridWh = perSlot(s.gridWh, n, 1000);
  return {
    name: "test",
    slots: n,
    slotS: 600,
    firstSlot: s.firstSlot ?? 1000,
    packetWh: 10,
    pvWh: perSlot(s.pvWh, n, 0),
    baseloadWh: perSlot(s.baseloadWh, n, 0),
    importWh: s.importWh === undefined ? gridWh.slice() : perSlot(s.importWh, n, 0),
    gridWh,
    fuseLimitW: 11000,
    battery: s.battery ?? null,
    clients: s.clients ?? [
      { name: "a", ratedW: 600, priority: 0 },
      { name: "b", ratedW: 600, priority: 7 },
    ],
    jobs: s.jobs.map((j) => {
      const earliest = j.earliest ?? 0;
      return { client: 0, kind: "energy", arrival: earliest, earliest, end: n, windows: [], profileWh: [], maxWhPerSlot: 100, emergency: false, ...j } as Job;
    }),
  };
}

/** A plan from rows of Wh per slot. */
export function planOf(rows: number[][]): Float64Array[] {
  return rows.map((r) => Float64Array.from(r));
}
