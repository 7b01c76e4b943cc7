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

export const FULL_CLIENTS = 16;
const SLOT_MIN = 10;
const PACKET_WH = 10;

export interface FullCase {
  sched: LocalScheduler;
  rq: RequestTable;
  /** Absolute slot the reallocation starts at (a midnight). */
  first: number;
}

/** The case, the same for the same seed. */
export function fullCase(seed = 1): FullCase {
  const random = seededRandom(seed);
  const ratedW = Array.from({ length: FULL_CLIENTS }, (_, i) => [2200, 2000, 3700, 2000][i % 4]);
  const prio = Array.from({ length: FULL_CLIENTS }, (_, i) => i % 8);
  const maxPerSlot = [0, ...ratedW.map((w) => Math.floor((w * SLOT_MIN) / 60 / PACKET_WH))];
  const sched = new LocalScheduler(FULL_CLIENTS, ratedW, prio, maxPerSlot, SLOT_MIN, PACKET_WH, 11000);
  const first = Math.floor(Date.UTC(2025, 5, 21) / 1000 / (SLOT_MIN * 60));
  // A day of meter readings: PV on a clear-sky shape, an evening peak of baseload.
  for (let k = 0; k < HORIZON; k++) {
    const pv = Math.round(700 * sched.clearSky(first - HORIZON + k));
    const base = 60 + (k >= 108 && k < 132 ? 80 : 0);
    sched.record(first - HORIZON + k, Math.max(0, base - pv), Math.max(0, pv - base), pv, 0);
  }
  const rq = new RequestTable();
  for (let i = 0; i < MAX_REQUESTS; i++) {
    const c = (i % FULL_CLIENTS) + 1;
    const kind = [KIND_ENERGY, KIND_THERMAL, KIND_PROFILE, KIND_ENERGY][(c - 1) % 4];
    const earliest = first + Math.floor(random() * 48);
    const end = Math.min(first + HORIZON, earliest + 36 + Math.floor(random() * 96));
    const per = maxPerSlot[c];
    // Half admitted before (scheduled), half new (pending): both kinds of work.
    const state = i % 2 ? RQ_SCHEDULED : RQ_PENDING;
    if (kind === KIND_PROFILE) {
      const p = new Uint8Array(12).map((_, k) => (k < 3 ? 30 : 4));
      rq.add([i + 1, c, kind, earliest, end, p.reduce((a, x) => a + x, 0), 0, 0, state], 0, p);
    } else if (kind === KIND_THERMAL) rq.add([i + 1, c, kind, first, first + HORIZON, 20, 6, per, state], 0, undefined);
    else rq.add([i + 1, c, kind, earliest, end, 100 + Math.floor(random() * 800), 0, per, state], 0, undefined);
  }
  return { sched, rq, first };
}

/** One full local reallocation of the case (what is timed): 4 kWh in the battery, 4.2 kW of import allowed. */
export function reallocateFull(f: FullCase): number {
  return f.sched.reallocate(f.rq, f.first, HORIZON, 4000, 500, 5000, 4200);
}
