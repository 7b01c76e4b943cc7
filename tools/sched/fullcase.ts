// The bar's case of a full local reallocation (../shared/quality.md:
// "one full local reallocation, 16 clients x 144 slots"): 16 paired
// clients and a full request table (32 open requests: energy by a
// deadline, thermal bands and programs), a day of forecasts learnt, a
// battery; what the benchmark times and the tests check runs.

import { KIND_ENERGY, KIND_PROFILE, KIND_THERMAL } from "../../protocol/messages";
import { LocalScheduler } from "../../firmware/local";
import { HORIZON } from "../../firmware/plan";
import { MAX_REQUESTS, RQ_PENDING, RQ_SCHEDULED, RequestTable } from "../../firmware/requests";
import { seededRandom } from "../sim/random";
import { buildRealloc, runRealloc, type ReallocInput } from "../device/realloc-case.device";

export const FULL_CLIENTS = 16;
const SLOT_MIN = 10;
const PACKET_WH = 10;

export interface FullCase {
  sched: LocalScheduler;
  rq: RequestTable;
  /** Absolute slot the reallocation starts at (a midnight). */
  first: number;
  /** The case as data (what the interpreter is given to build the same). */
  input: ReallocInput;
}

/** The case as data, the same for the same seed. */
export function fullCaseInput(seed = 1): ReallocInput {
  const random = seededRandom(seed);
  const ratedW = Array.from({ length: FULL_CLIENTS }, (_, i) => [2200, 2000, 3700, 2000][i % 4]);
  const prio = Array.from({ length: FULL_CLIENTS }, (_, i) => i % 8);
  const maxPerSlot = [0, ...ratedW.map((w) => Math.floor((w * SLOT_MIN) / 60 / PACKET_WH))];
  const first = Math.floor(Date.UTC(2025, 5, 21) / 1000 / (SLOT_MIN * 60));
  const shape = new LocalScheduler(FULL_CLIENTS, ratedW, prio, maxPerSlot, SLOT_MIN, PACKET_WH, 11000);
  // A day of meter readings: PV on a clear-sky shape, an evening peak of baseload.
  const records: number[][] = [];
  for (let k = 0; k < HORIZON; k++) {
    const pv = Math.round(700 * shape.clearSky(first - HORIZON + k));
    const base = 60 + (k >= 108 && k < 132 ? 80 : 0);
    records.push([first - HORIZON + k, Math.max(0, base - pv), Math.max(0, pv - base), pv, 0]);
  }
  const rows: number[][] = [];
  const profiles: number[][] = [];
  for (let i = 0; i < MAX_REQUESTS; i++) {
    const c = (i % FULL_CLIENTS) + 1;
    const kind = [KIND_ENERGY, KIND_THERMAL, KIND_PROFILE, KIND_ENERGY][(c - 1) % 4];
    const earliest = first + Math.floor(random() * 48);
    const end = Math.min(first + HORIZON, earliest + 36 + Math.floor(random() * 96));
    const per = maxPerSlot[c];
    // Half admitted before (scheduled), half new (pending): both kinds of work.
    const state = i % 2 ? RQ_SCHEDULED : RQ_PENDING;
    const p = kind === KIND_PROFILE ? Array.from({ length: 12 }, (_, k) => (k < 3 ? 30 : 4)) : [];
    profiles.push(p);
    if (kind === KIND_PROFILE) rows.push([i + 1, c, kind, earliest, end, p.reduce((a, x) => a + x, 0), 0, 0, state]);
    else if (kind === KIND_THERMAL) rows.push([i + 1, c, kind, first, first + HORIZON, 20, 6, per, state]);
    else rows.push([i + 1, c, kind, earliest, end, 100 + Math.floor(random() * 800), 0, per, state]);
  }
  // 4 kWh in the battery (500 Wh reserve, 5 kW), 4.2 kW of import allowed.
  return { clients: FULL_CLIENTS, ratedW, prio, maxPerSlot, slotMin: SLOT_MIN, packetWh: PACKET_WH, fuseW: 11000, first, records, rows, profiles, supply: [4000, 500, 5000, 4200] };
}

/** The case, the same for the same seed. */
export function fullCase(seed = 1): FullCase {
  const input = fullCaseInput(seed);
  const { sched, rq } = buildRealloc(input);
  return { sched, rq, first: input.first, input };
}

/** One full local reallocation of the case (what is timed): 4 kWh in the battery, 4.2 kW of import allowed. */
export function reallocateFull(f: FullCase): number {
  return runRealloc(f.input, f.sched, f.rq);
}
