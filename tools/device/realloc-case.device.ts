// The bar's case of a full local reallocation as plain data, and the one
// way to build it: tools/sched/fullcase.ts builds it on Node (the benchmark
// and the tests), tools/device/realloc.device.ts on the 2v29 interpreter
// (npm run test:device), so both schedule the same thing. Device code:
// plain loops and typed arrays only.

import { LocalScheduler } from "../../firmware/local";
import { RequestTable } from "../../firmware/requests";

/** The case, JSON all through (it goes to the interpreter as a build constant). */
export interface ReallocInput {
  clients: number;
  ratedW: number[];
  prio: number[];
  /** Per client id (index 0 unused). */
  maxPerSlot: number[];
  slotMin: number;
  packetWh: number;
  fuseW: number;
  /** Absolute slot the reallocation starts at. */
  first: number;
  /** The meter readings of the day before: [slot, import, export, pv, clients] Wh. */
  records: number[][];
  /** The request table's rows: RequestTable.add's fields, and a program's profile (empty: none). */
  rows: number[][];
  profiles: number[][];
  /** reallocate()'s battery and import: socWh, reserveWh, batteryW, importW. */
  supply: number[];
}

/** The scheduler and request table of a case. */
export function buildRealloc(input: ReallocInput): { sched: LocalScheduler; rq: RequestTable } {
  const sched = new LocalScheduler(input.clients, input.ratedW, input.prio, input.maxPerSlot, input.slotMin, input.packetWh, input.fuseW);
  for (let i = 0; i < input.records.length; i++) {
    const r = input.records[i];
    sched.record(r[0], r[1], r[2], r[3], r[4]);
  }
  const rq = new RequestTable();
  for (let i = 0; i < input.rows.length; i++) rq.add(input.rows[i], 0, input.profiles[i].length ? new Uint8Array(input.profiles[i]) : undefined);
  return { sched: sched, rq: rq };
}

/** One full reallocation of the case: the number of requests admitted. */
export function runRealloc(input: ReallocInput, sched: LocalScheduler, rq: RequestTable): number {
  const s = input.supply;
  return sched.reallocate(rq, input.first, 144, s[0], s[1], s[2], s[3]);
}

/** What a reallocation decided, one line each: the verdicts, the packets per request, each client's row in hex. */
export function reallocLines(input: ReallocInput, sched: LocalScheduler, admitted: number): string[] {
  const out: string[] = ["realloc admitted " + admitted];
  let reason = "";
  let placed = "";
  for (let i = 0; i < input.rows.length; i++) {
    reason += " " + sched.reason[i];
    placed += " " + sched.placed[i] + "/" + sched.hint[i];
  }
  out.push("realloc reason" + reason);
  out.push("realloc placed" + placed);
  for (let c = 1; c <= input.clients; c++) {
    const row = sched.row(c);
    let h = "";
    for (let k = 0; k < row.length; k++) h += (row[k] < 16 ? "0" : "") + row[k].toString(16);
    out.push("realloc row " + c + " " + h);
  }
  return out;
}
