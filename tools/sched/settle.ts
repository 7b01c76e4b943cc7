// What a plan does in the house: the physics every scheduler of the
// benchmark is judged by (all but the LP, which settles its own flows).
// Per slot, the planned appliance energy runs on top of the baseload; the
// home battery does self-consumption (the policy of tools/sim/battery.ts:
// a surplus charges it, a deficit is covered from it, the round-trip loss
// taken when charging, never below the reserve); the grid gives the rest,
// up to what it can physically give (the fuse, nothing while islanded) and
// takes any surplus. Energy is kept in fractional Wh here, so that a plan
// and the LP's optimum are compared without rounding.
//
// A slot asking more than PV + battery + grid can give is overloaded: the
// baseload is served first and the appliances share what is left pro rata
// (an islanded inverter would rather trip; this is the kinder reading, and
// only the uncontrolled controllers ever overload).

import type { SchedCase } from "./case";

/** A plan: per job (SchedCase.jobs order), Wh per slot of the day. */
export type Plan = Float64Array[];

/** What happened, per slot of the day, Wh. */
export interface Outcome {
  /** Per job: Wh actually drawn per slot. */
  servedWh: Float64Array[];
  chargeWh: Float64Array;
  dischargeWh: Float64Array;
  importWh: Float64Array;
  exportWh: Float64Array;
  /** Baseload not served in overloaded slots (only when PV, battery and grid could not even carry it). */
  unservedBaseWh: number;
}

export function emptyPlan(c: SchedCase): Plan {
  return c.jobs.map(() => new Float64Array(c.slots));
}

/** The battery's state of charge from a start, stepping self-consumption one slot at a time. */
export class BatteryState {
  socWh: number;
  /** The inverter keeps the battery for later (a backup reserve raised for an announced outage): it charges, it gives nothing. */
  held = false;
  constructor(private readonly c: SchedCase) {
    this.socWh = c.battery ? c.battery.socWh : 0;
  }

  /** Wh the battery could give in the next slot. */
  canGiveWh(): number {
    const b = this.c.battery;
    return b && !this.held ? Math.max(0, Math.min((b.maxDischargeW * this.c.slotS) / 3600, this.socWh - b.reserveWh)) : 0;
  }

  /** Self-consumption of one slot's net load (load - PV, Wh): [charged, discharged]. */
  step(netWh: number): [number, number] {
    const b = this.c.battery;
    if (!b) return [0, 0];
    const eta = b.roundTripPct / 100;
    if (netWh < 0) {
      const wh = Math.max(0, Math.min(-netWh, (b.maxChargeW * this.c.slotS) / 3600, (b.capacityWh - this.socWh) / eta));
      this.socWh += wh * eta;
      return [wh, 0];
    }
    const wh = Math.min(netWh, this.canGiveWh());
    this.socWh -= wh;
    return [0, wh];
  }
}

/** A fresh outcome of a case: nothing happened yet. */
export function emptyOutcome(c: SchedCase): Outcome {
  const n = c.slots;
  return {
    servedWh: c.jobs.map(() => new Float64Array(n)),
    chargeWh: new Float64Array(n),
    dischargeWh: new Float64Array(n),
    importWh: new Float64Array(n),
    exportWh: new Float64Array(n),
    unservedBaseWh: 0,
  };
}

/** Runs slot k of a plan in the house, into out; the battery steps on. */
export function settleSlot(c: SchedCase, plan: Plan, k: number, battery: BatteryState, out: Outcome): void {
  let loadWh = 0;
  for (const p of plan) loadWh += p[k];
  const supplyWh = c.pvWh[k] + battery.canGiveWh() + c.gridWh[k];
  const baseWh = Math.min(c.baseloadWh[k], supplyWh);
  out.unservedBaseWh += c.baseloadWh[k] - baseWh;
  const share = loadWh > 0 && baseWh + loadWh > supplyWh ? Math.max(0, supplyWh - baseWh) / loadWh : 1;
  let servedWh = 0;
  for (let j = 0; j < plan.length; j++) servedWh += out.servedWh[j][k] = plan[j][k] * share;
  const netWh = baseWh + servedWh - c.pvWh[k];
  const [charged, discharged] = battery.step(netWh);
  out.chargeWh[k] = charged;
  out.dischargeWh[k] = discharged;
  const gridWh = netWh + charged - discharged;
  // Rounding of the pro-rata share must not show as import beyond the grid.
  out.importWh[k] = gridWh > 1e-9 ? Math.min(gridWh, c.gridWh[k]) : 0;
  out.exportWh[k] = gridWh < 0 ? -gridWh : 0;
}

/** Runs a whole plan in the house. */
export function settle(c: SchedCase, plan: Plan): Outcome {
  const out = emptyOutcome(c);
  const battery = new BatteryState(c);
  for (let k = 0; k < c.slots; k++) settleSlot(c, plan, k, battery, out);
  return out;
}
