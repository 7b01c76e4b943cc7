// The reference energy server's allocator (tools/server/alloc.ts) over a
// case, given the same requests at the same times and the same capacity as
// the local scheduler: at each event (tools/sched/local.ts's events), the
// capacity from the local scheduler's own availability() on the same inputs,
// and decide() of the new and retried requests (candidates) against those
// admitted before (committed: what they still need from now; a program
// started is fixed where it runs). No incumbent is passed: the committed
// demands are re-cut to what they still need from now, so the old
// placements would not fit the new grid anyway. The
// classes are as the server makes them (classify() with the server's
// default rules and shares [1, 4, 3, 2]).
//
// Priorities: classify() reads 0 as the most important, as the router
// pairs clients (firmware/config.ts): the paired priority goes in as it is.

import { allocate, classify, decide, DEFAULT_CLASS_RULES, type Demand, type Grid } from "../server/alloc";
import { HORIZON } from "../../firmware/plan";
import { windowAt, windowNeeds, type SchedCase } from "./case";
import { availabilityAt, REPLAN_SLOTS, RETRY_SLOTS, schedulerOf, type Knowledge } from "./local";
import { BatteryState, emptyOutcome, emptyPlan, settleSlot, type Outcome, type Plan } from "./settle";

/** The reference server's defaults (tools/server/server.ts). */
const SHARES = [1, 4, 3, 2];
const RULES = { ...DEFAULT_CLASS_RULES, classes: SHARES.length };

export type ServerOptions = Knowledge;

export interface ServerRun {
  plan: Plan;
  outcome: Outcome;
  rejections: number;
  /** Per job: the slot of the day it was admitted in, -1 never. */
  admittedAt: number[];
}

export function runServer(c: SchedCase, o: ServerOptions = {}): ServerRun {
  const pk = c.packetWh;
  const local = schedulerOf(c, o.forecast);
  const plan = emptyPlan(c);
  const outcome = emptyOutcome(c);
  const battery = new BatteryState(c);
  /** Per job: admitted, retry slot while rejected (-1: not waiting), rejections so far. */
  const admitted = c.jobs.map(() => false);
  const admittedAt = c.jobs.map(() => -1);
  const retryAt = c.jobs.map((j) => j.arrival);
  const rejections = new Int32Array(c.jobs.length);
  const started = new Int32Array(c.jobs.length).fill(-1);
  /** Per job: Wh still needed per window. */
  const need = windowNeeds(c);
  /** Packets per slot of the day planned per job by the last decision. */
  const planned = c.jobs.map(() => new Int32Array(c.slots));
  const rejected = new Set<number>();
  let lastAllowance = -1;

  /** Job i as the server sees it from slot k on (absolute slots). */
  const demandOf = (i: number, k: number): Demand | null => {
    const j = c.jobs[i];
    const abs = c.firstSlot;
    const per = Math.max(1, Math.floor(j.maxWhPerSlot / pk));
    const cls = classify(c.clients[j.client].priority, j.emergency, rejections[i], j.end - k, RULES);
    const base = { cls, order: i, maxPerSlot: per, group: j.client, groupMax: per };
    if (j.profileWh.length) {
      const profile = j.profileWh.map((wh) => Math.ceil(wh / pk));
      if (started[i] >= 0) {
        if (started[i] + profile.length <= k) return null;
        return { ...base, windows: [], profile, earliest: abs + started[i], latestEnd: abs + started[i] + profile.length, fixedStart: abs + started[i] };
      }
      if (Math.max(k, j.earliest) + profile.length > j.end) return null;
      return { ...base, windows: [], profile, earliest: abs + Math.max(k, j.earliest), latestEnd: abs + j.end, fixedStart: -1 };
    }
    const windows: number[] = [];
    for (let w = 0; w < j.windows.length; w += 3) {
      const from = Math.max(k, j.windows[w]);
      const left = Math.ceil(need[i][w / 3] / pk - 1e-9);
      // An admitted request asks what its window can still hold (as the server re-cuts its open requests); a new one all it needs.
      if (from < j.windows[w + 1] && left > 0) windows.push(abs + from, abs + j.windows[w + 1], admitted[i] ? Math.min(left, per * (j.windows[w + 1] - from)) : left);
    }
    return windows.length ? { ...base, windows, profile: null, earliest: 0, latestEnd: 0, fixedStart: -1 } : null;
  };

  for (let k = 0; k < c.slots; k++) {
    let event = k === 0 || k % REPLAN_SLOTS === 0 || c.importWh[k] !== lastAllowance;
    lastAllowance = c.importWh[k];
    const candidates: number[] = [];
    c.jobs.forEach((j, i) => {
      if (!admitted[i] && retryAt[i] === k && k < j.end) candidates.push(i);
    });
    if (candidates.length) event = true;
    if (event) {
      const n = Math.min(HORIZON, c.slots - k);
      availabilityAt(local, c, k, n, battery.socWh, o.allowanceKnown ?? true);
      const grid: Grid = { from: c.firstSlot + k, capacity: Int32Array.from(local.cap.subarray(0, n)), shares: SHARES };
      const committed: number[] = [];
      const committedDemands: Demand[] = [];
      for (let i = 0; i < c.jobs.length; i++) {
        if (!admitted[i]) continue;
        const d = demandOf(i, k);
        if (!d) continue;
        committed.push(i);
        committedDemands.push(d);
      }
      const cand: number[] = [];
      const candDemands: Demand[] = [];
      for (const i of candidates) {
        const d = demandOf(i, k);
        if (d) {
          cand.push(i);
          candDemands.push(d);
        }
      }
      const decision = cand.length ? decide(grid, committedDemands, candDemands) : { allocation: allocate(grid, committedDemands), reasons: [] as number[] };
      const placements = decision.allocation.placements;
      cand.forEach((i, q) => {
        if (decision.reasons[q] === 0) {
          admitted[i] = true;
          admittedAt[i] = k;
        }
        else {
          rejections[i]++;
          rejected.add(i);
          retryAt[i] = k + RETRY_SLOTS;
        }
      });
      const members = committed.concat(cand);
      members.forEach((i, q) => {
        planned[i].fill(0, k);
        if (!admitted[i]) return;
        const p = placements[q];
        for (let m = 0; m < p.counts.length; m++) {
          const s = p.lo + m - c.firstSlot;
          if (s >= k && s < c.slots) planned[i][s] = p.counts[m];
        }
      });
    }
    // Execution: a program starts where it is placed and runs whole; the rest take their packets, at most what each window still needs.
    c.jobs.forEach((j, i) => {
      if (!admitted[i]) return;
      if (j.profileWh.length) {
        if (started[i] < 0 && planned[i][k] > 0) started[i] = k;
        if (started[i] >= 0) plan[i][k] = j.profileWh[k - started[i]] ?? 0;
        return;
      }
      const w = windowAt(j, k) / 3;
      if (w < 0) return;
      const wh = Math.min(planned[i][k] * pk, need[i][w]);
      plan[i][k] = wh;
      need[i][w] -= wh;
    });
    settleSlot(c, plan, k, battery, outcome);
    let clientsWh = 0;
    for (const s of outcome.servedWh) clientsWh += s[k];
    local.record(c.firstSlot + k, Math.round(outcome.importWh[k]), Math.round(outcome.exportWh[k]), c.pvWh[k], Math.round(clientsWh));
  }
  return { plan, outcome, rejections: rejected.size, admittedAt };
}
