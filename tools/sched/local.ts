// The router's local scheduler (firmware/local.ts) over a case, called the
// way the agent calls it: the household's requests in a RequestTable
// (firmware/requests.ts), a reallocation at each event, each client's row
// handed to a Plan (firmware/plan.ts), and every slot executed from the
// plan as the agent does (a program started runs whole; an interruptible
// client's packets go to its requests earliest deadline first).
//
// Events: the first slot, each request's arrival, each rejected request's
// retry (ESCALATE_AFTER rejections make it an emergency, as the agent
// does), a change of the import allowance (the outage starts or ends), and
// every hour, so that the battery's real state and the forecasts learnt
// from the meters come in. Forecasts (Forecast): "exact" gives the
// scheduler the day's real PV and baseload; "learnt" lets it forecast them
// itself (LocalScheduler.record), trained on the day before, taken to be
// the same day: the baseload forecast is then exact and the PV one the
// clear-sky shape scaled to the PV seen, as on the device.
//
// The figures come from settle.ts run slot by slot as the plan is executed
// (the battery's state then feeds the next reallocation).

import { KIND_ENERGY, KIND_PROFILE, KIND_THERMAL, REJ_CAPACITY } from "../../protocol/messages";
import { LocalScheduler } from "../../firmware/local";
import { HORIZON, Plan as RouterPlan } from "../../firmware/plan";
import {
  ESCALATE_AFTER,
  F_DONE,
  F_EMERGENCY,
  F_END,
  F_KIND,
  F_PACKETS,
  F_REJECTS,
  F_RETRY_AT,
  F_STATE,
  MAX_REQUESTS,
  RQ_PENDING,
  RQ_REJECTED,
  RQ_RUNNING,
  RQ_SCHEDULED,
  RequestTable,
} from "../../firmware/requests";
import { windowAt, windowNeeds, type Job, type SchedCase } from "./case";
import { BatteryState, emptyOutcome, emptyPlan, settleSlot, type Outcome, type Plan } from "./settle";

/** Slots a rejected request waits before it is sent again (the reference server's default retry). */
export const RETRY_SLOTS = 3;
/** A reallocation at least this often, slots (an hour). */
export const REPLAN_SLOTS = 6;

/** Where the router that sees the case is: PVGIS data at 8 degrees east, solar noon 32 min before 12:00 UTC. */
const NOON_H = 12 - 8 / 15;

/**
 * How the scheduler knows the day's PV and baseload: "learnt", its own
 * forecasts (record()); "exact", the case's own figures (the scenarios
 * "without forecast error" of ../shared/quality.md).
 */
export type Forecast = "learnt" | "exact";

/**
 * The local scheduler with the case's PV as its forecast: its clear-sky
 * shape is the day's real PV (at a peak of 1 Wh), and it learns nothing
 * more from the meters. Its baseload forecast is exact from the day before.
 */
class ExactForecast extends LocalScheduler {
  constructor(
    private readonly c: SchedCase,
    ...args: ConstructorParameters<typeof LocalScheduler>
  ) {
    super(...args);
  }

  override clearSky(s: number): number {
    const k = s - this.c.firstSlot;
    return k >= 0 && k < this.c.slots ? this.c.pvWh[k] : 0;
  }

  override record(): void {}
}

/** The LocalScheduler of a case's household, paired as the agent pairs it (client ids from 1). */
export function schedulerOf(c: SchedCase, forecast: Forecast = "exact"): LocalScheduler {
  const slotMin = c.slotS / 60;
  const ratedW = c.clients.map((cl) => cl.ratedW);
  const prio = c.clients.map((cl) => cl.priority);
  const maxPerSlot = [0, ...c.clients.map((cl) => Math.max(1, Math.floor((cl.ratedW * slotMin) / 60 / c.packetWh)))];
  const args = [c.clients.length, ratedW, prio, maxPerSlot, slotMin, c.packetWh, c.fuseLimitW] as const;
  const s = forecast === "exact" ? new ExactForecast(c, ...args) : new LocalScheduler(...args);
  s.noonH = NOON_H;
  // The day before, taken to be the same day: what the meters told the router.
  for (let k = 0; k < c.slots; k++) {
    const net = c.baseloadWh[k] - c.pvWh[k];
    LocalScheduler.prototype.record.call(s, c.firstSlot - c.slots + k, Math.max(0, net), Math.max(0, -net), c.pvWh[k], 0);
  }
  if (forecast === "exact") s.pvPeakWh = 1;
  return s;
}

/** A job as a request row's fields from F_ID on (RequestTable.add), in packets and absolute slots. */
export function requestFields(c: SchedCase, j: Job, id: number): [number[], Uint8Array | undefined] {
  const pk = c.packetWh;
  const abs = (k: number) => c.firstSlot + k;
  const per = Math.max(1, Math.floor(j.maxWhPerSlot / pk));
  if (j.kind === "profile") {
    const p = new Uint8Array(j.profileWh.map((wh) => Math.ceil(wh / pk)));
    return [[id, j.client + 1, KIND_PROFILE, abs(j.earliest), abs(j.end), p.reduce((a, x) => a + x, 0), 0, 0, RQ_PENDING], p];
  }
  if (j.kind === "thermal") {
    const w = j.windows[1] - j.windows[0];
    return [[id, j.client + 1, KIND_THERMAL, abs(j.earliest), abs(j.end), Math.ceil(j.windows[2] / pk), w, per, RQ_PENDING], undefined];
  }
  return [[id, j.client + 1, KIND_ENERGY, abs(j.earliest), abs(j.end), Math.ceil(j.windows[2] / pk), 0, per, RQ_PENDING], undefined];
}

/** What a run of the local scheduler over a case gives. */
export interface LocalRun {
  plan: Plan;
  outcome: Outcome;
  /** Reallocations made, and requests rejected at least once. */
  reallocations: number;
  rejections: number;
  /** Per job: the slot of the day it was first admitted in, -1 never (what it asks from then on is owed by its deadline). */
  admittedAt: number[];
  /** Per job: Wh promised when it was admitted (all it asks, or less when admitted in part), 0 never admitted. */
  admittedWh: number[];
}

/** How much the scheduler knows ahead. */
export interface Knowledge {
  /** PV and baseload (default exact). */
  forecast?: Forecast;
  /**
   * The import allowance of every slot ahead, an outage included (default
   * true: an announced outage, planned maintenance); false: only the
   * allowance of the slot it plans in, assumed for the whole horizon (an
   * outage comes unannounced and its end is not known).
   */
  allowanceKnown?: boolean;
  /**
   * With the allowance known: the battery is kept for the slots without
   * import (the house's inverter holds it until an outage starts, as a
   * backup reserve raised for a storm; the router has no such control
   * today), and the scheduler counts it there only. Default false: the
   * battery covers any shortfall as it comes (self-consumption).
   */
  keepBattery?: boolean;
}

/**
 * Availability (LocalScheduler.availability) of slots k .. k + n - 1 of
 * the day. With the allowance known, each slot gets the capacity computed
 * with its own allowance: one call per distinct allowance in the horizon,
 * each slot's figures taken from the call with its allowance.
 */
export function availabilityAt(sched: LocalScheduler, c: SchedCase, k: number, n: number, socWh: number, allowanceKnown: boolean, keepBattery = false): void {
  const b = c.battery;
  const call = (importWh: number) => sched.availability(c.firstSlot + k, n, socWh, b ? b.reserveWh : 0, b ? b.maxDischargeW : 0, (importWh * 3600) / c.slotS);
  const allowances = allowanceKnown ? [...new Set(c.importWh.slice(k, k + n))] : [c.importWh[k]];
  if (allowances.length > 1 && allowances.includes(0)) {
    // Each run of slots with one allowance on its own, in time order. Kept
    // (keepBattery), the battery is counted only in the runs without
    // import. Else it is counted everywhere, but as the house's battery
    // covers every shortfall as it comes, a run after others gets only what
    // they leave of it, taking every packet they may plan as drawn from the
    // battery first (an outage's promises must not count on a battery that
    // the hours before it empty).
    const cap = new Int32Array(n);
    const green = new Int32Array(n);
    let soc = socWh;
    for (let m0 = 0; m0 < n; ) {
      let m1 = m0 + 1;
      while (m1 < n && c.importWh[k + m1] === c.importWh[k + m0]) m1++;
      const a = c.importWh[k + m0];
      sched.availability(c.firstSlot + k + m0, m1 - m0, a && keepBattery ? 0 : soc, b ? b.reserveWh : 0, b ? b.maxDischargeW : 0, (a * 3600) / c.slotS);
      cap.set(sched.cap.subarray(0, m1 - m0), m0);
      green.set(sched.green.subarray(0, m1 - m0), m0);
      for (let m = m0; m < m1 && b && !keepBattery; m++) soc -= Math.min((b.maxDischargeW * c.slotS) / 3600, Math.max(0, cap[m] * c.packetWh + c.baseloadWh[k + m] - c.pvWh[k + m]));
      m0 = m1;
    }
    call(allowances[0]);
    sched.cap.set(cap);
    sched.green.set(green);
    return;
  }
  if (allowances.length === 1) return call(allowances[0]);
  const cap = new Int32Array(n);
  const green = new Int32Array(n);
  // The current slot's allowance last: the power bound of the clients on (the fuse, or islanded the battery's) is the one of now, as on the router.
  for (const a of allowances.slice().reverse()) {
    call(a);
    for (let m = 0; m < n; m++) {
      if (c.importWh[k + m] !== a) continue;
      cap[m] = sched.cap[m];
      green[m] = sched.green[m];
    }
  }
  sched.cap.set(cap);
  sched.green.set(green);
}

/** Runs the local scheduler over a case's day. */
export function runLocal(c: SchedCase, know: Knowledge = {}): LocalRun {
  const sched = schedulerOf(c, know.forecast);
  const rq = new RequestTable();
  const plan = emptyPlan(c);
  const outcome = emptyOutcome(c);
  const battery = new BatteryState(c);
  const routerPlan = new RouterPlan(c.clients.length);
  const rowOf = new Int32Array(c.jobs.length).fill(-1);
  /** Per job: Wh still needed per window (interruptible), and a program's start (-1: not started). */
  const need = windowNeeds(c);
  const started = new Int32Array(c.jobs.length).fill(-1);
  const rejected = new Set<number>();
  const admittedAt = c.jobs.map(() => -1);
  const admittedWh = c.jobs.map(() => 0);
  let reallocations = 0;
  let lastAllowance = -1;
  for (let k = 0; k < c.slots; k++) {
    const now = c.firstSlot + k;
    let event = k === 0 || k % REPLAN_SLOTS === 0 || c.importWh[k] !== lastAllowance;
    lastAllowance = c.importWh[k];
    // New requests, as the user makes them at the console.
    c.jobs.forEach((j, i) => {
      if (j.arrival !== k) return;
      const [fields, profile] = requestFields(c, j, i + 1);
      rowOf[i] = rq.add(fields, 0, profile);
      if (rowOf[i] < 0) throw new Error(`request table full at slot ${k} (${MAX_REQUESTS} rows)`);
      event = true;
    });
    // Rejected requests due to be sent again.
    for (let r = 0; r < MAX_REQUESTS; r++) {
      if (rq.get(r, F_STATE) === RQ_REJECTED && rq.get(r, F_RETRY_AT) <= now) {
        rq.set(r, F_STATE, RQ_PENDING);
        if (rq.get(r, F_REJECTS) >= ESCALATE_AFTER) rq.set(r, F_EMERGENCY, 1);
        event = true;
      }
    }
    if (event) {
      const n = Math.min(HORIZON, c.slots - k);
      // Kept until the first slot without import allowance, when the grid is gone.
      battery.held = !!know.keepBattery && c.importWh[k] > 0 && c.importWh.slice(k).includes(0);
      availabilityAt(sched, c, k, n, battery.socWh, know.allowanceKnown ?? true, know.keepBattery);
      // The plan in force goes in, as the agent gives it: what was promised keeps its slots.
      sched.allocate(rq, routerPlan);
      reallocations++;
      for (let r = 0; r < MAX_REQUESTS; r++) {
        const st = rq.get(r, F_STATE);
        if (st !== RQ_PENDING) continue;
        if (sched.reason[r] === 0) {
          rq.set(r, F_STATE, RQ_SCHEDULED);
          const i = rq.get(r, 0) - 1;
          if (admittedAt[i] < 0) {
            admittedAt[i] = k;
            admittedWh[i] = sched.placed[r] * c.packetWh;
          }
        }
        else {
          rq.set(r, F_STATE, RQ_REJECTED);
          rq.set(r, F_REJECTS, rq.get(r, F_REJECTS) + 1);
          rq.set(r, F_RETRY_AT, now + (sched.reason[r] === REJ_CAPACITY ? RETRY_SLOTS : 1));
          rejected.add(rq.get(r, 0));
        }
      }
      for (let cl = 1; cl <= c.clients.length; cl++) routerPlan.set(cl, now, sched.row(cl).subarray(0, n), now + n);
    }
    execute(c, k, rq, routerPlan, rowOf, need, started, plan);
    settleSlot(c, plan, k, battery, outcome);
    // The meters of the slot that ended, for the scheduler's forecasts.
    let clientsWh = 0;
    for (const s of outcome.servedWh) clientsWh += s[k];
    sched.record(now, Math.round(outcome.importWh[k]), Math.round(outcome.exportWh[k]), c.pvWh[k], Math.round(clientsWh));
  }
  return { plan, outcome, reallocations, rejections: rejected.size, admittedAt, admittedWh };
}

/**
 * Slot k of the router's plan: a program scheduled for a client starts when
 * the client has packets and runs whole; an interruptible client's packets
 * go to its open requests, earliest end first, each taking at most what its
 * window still needs (a tank's thermostat, a full car, stop the draw).
 */
function execute(c: SchedCase, k: number, rq: RequestTable, routerPlan: RouterPlan, rowOf: Int32Array, need: number[][], started: Int32Array, plan: Plan): void {
  const now = c.firstSlot + k;
  for (let cl = 1; cl <= c.clients.length; cl++) {
    let whLeft = routerPlan.at(cl, now) * c.packetWh;
    const mine = c.jobs.map((_, i) => i).filter((i) => c.jobs[i].client === cl - 1 && rowOf[i] >= 0 && rq.get(rowOf[i], 0) === i + 1);
    for (const i of mine) {
      const j = c.jobs[i];
      const r = rowOf[i];
      if (j.kind !== "profile") continue;
      if (started[i] < 0 && rq.get(r, F_STATE) === RQ_SCHEDULED && whLeft > 0) {
        started[i] = k;
        rq.set(r, F_STATE, RQ_RUNNING);
      }
      if (started[i] >= 0) {
        const m = k - started[i];
        plan[i][k] = j.profileWh[m] ?? 0;
        rq.set(r, F_DONE, m + 1);
        whLeft = 0;
        if (m + 1 >= j.profileWh.length) finish(rq, rowOf, i);
      }
    }
    const open = mine.filter((i) => c.jobs[i].kind !== "profile" && rowOf[i] >= 0).sort((a, b) => c.jobs[a].end - c.jobs[b].end);
    for (const i of open) {
      const j = c.jobs[i];
      const r = rowOf[i];
      const w = windowAt(j, k) / 3;
      if (w < 0 || whLeft <= 0) continue;
      const wh = Math.min(whLeft, need[i][w], j.maxWhPerSlot - plan[i][k]);
      if (wh <= 0) continue;
      plan[i][k] += wh;
      need[i][w] -= wh;
      whLeft -= wh;
      rq.set(r, F_DONE, rq.get(r, F_DONE) + Math.ceil(wh / c.packetWh));
      if (rq.get(r, F_STATE) === RQ_SCHEDULED) rq.set(r, F_STATE, RQ_RUNNING);
      if (rq.get(r, F_KIND) === KIND_ENERGY && rq.get(r, F_DONE) >= rq.get(r, F_PACKETS)) finish(rq, rowOf, i);
    }
  }
  // Requests whose end has come are closed (delivered or expired).
  for (let i = 0; i < c.jobs.length; i++) if (rowOf[i] >= 0 && rq.get(rowOf[i], 0) === i + 1 && rq.get(rowOf[i], F_END) <= now + 1) finish(rq, rowOf, i);
}

function finish(rq: RequestTable, rowOf: Int32Array, i: number): void {
  rq.free(rowOf[i]);
  rowOf[i] = -1;
}
