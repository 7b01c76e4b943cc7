// The optimum of a case (../shared/quality.md: "the linear-programming
// optimum of the same scenario (HiGHS) is the ceiling"), with perfect
// knowledge of the whole day: every request, PV and baseload known from
// midnight. Maximises the priority-weighted energy served (weight:
// firmware/local.ts weightOf) subject to, per slot:
//   PV + discharge + import + unserved baseload = baseload + loads + charge + export
//   import <= the allowance and what the grid can give (fuse, 0 islanded)
//   each job at most its client's power per slot, only inside its windows,
//     at most each window's energy; a client's jobs share its power
//   a program placed whole: start variables y (one start at most),
//     its load in slot k the sum of y[s] * profile[k - s]
//   the battery: soc[k+1] = soc[k] + eta * charge - discharge, between
//     the reserve and the capacity, charge and discharge within their limits
//   the router's power rule: the rated power of the clients on never above
//     the fuse, or islanded the battery's power (a client is on in a slot it
//     draws in, a program through its whole run).
// Unserved baseload costs far more than any appliance's weight (it is only
// there so that a case where PV and the battery cannot carry the baseload
// still solves); import and export cost a little, so that among the optima
// the one that imports least, then exports least, is found (they never
// trade served energy for less import). The starts y are binary (a MIP) when `integer`, else relaxed to
// [0, 1] (the LP relaxation: an upper bound on the MIP).

import { createRequire } from "node:module";
import { jobWh, type SchedCase } from "./case";
import { jobWeight } from "./figures";
import { emptyOutcome, type Outcome } from "./settle";

const require = createRequire(import.meta.url);

interface HighsColumn {
  Primal: number;
}
interface HighsSolution {
  Status: string;
  ObjectiveValue: number;
  Columns: Record<string, HighsColumn>;
}
interface Highs {
  solve(problem: string, options?: Record<string, unknown>): HighsSolution;
}

let solver: Promise<Highs> | undefined;

/** The HiGHS solver (WebAssembly), loaded once. */
export function highs(): Promise<Highs> {
  solver ??= (require("highs") as () => Promise<Highs>)();
  return solver;
}

export interface Optimum {
  /** "Optimal" when solved to optimality; the solver's status otherwise. */
  status: string;
  /** MIP (programs whole) or LP relaxation. */
  integer: boolean;
  /** The optimal priority-weighted energy served, Wh x weight (unserved baseload and import costs left out). */
  weightedWh: number;
  outcome: Outcome;
  /** Columns and rows of the model. */
  columns: number;
  rows: number;
}

export interface LpOptions {
  integer?: boolean;
  /** Seconds HiGHS may take (a MIP returns its best so far, not "Optimal"). */
  timeLimitS?: number;
  /**
   * The home battery as the house's inverter runs it (tools/sched/settle.ts):
   * while the grid gives, the battery gives all it can (its power, or down
   * to its reserve), and it never charges then. The router switches
   * appliances, not the inverter: this is the optimum of what a router can
   * reach. Without it (default) the optimum runs the battery too, keeping it
   * for an outage it knows is coming. (The inverter's other rule, a surplus
   * charges the battery before any export, is left free: the optimum stays
   * a ceiling above the house's.)
   */
  houseBattery?: boolean;
}

/** Weight of a Wh of unserved baseload: above any appliance's. */
const BASELOAD_WEIGHT = 1000;
/** Costs of a Wh imported and exported: tie-breaks only (least import, then most PV kept in the home). */
const IMPORT_COST = 1e-4;
const EXPORT_COST = 1e-5;

/** The CPLEX LP text of a case, and what its columns mean. */
export function lpModel(c: SchedCase, integer: boolean, houseBattery = false): { text: string; starts: number[][]; columns: number; rows: number } {
  const n = c.slots;
  const slotH = c.slotS / 3600;
  const obj: string[] = [];
  const rows: string[] = [];
  const bounds: string[] = [];
  const binaries: string[] = [];
  /** Per slot: the terms of the loads in it. */
  const load: string[][] = Array.from({ length: n }, () => []);
  /** Per client and slot: what must be off unless the client is on (Wh terms with their most, or a program's start covering the slot). */
  const onTerms: [string, number][][][] = c.clients.map(() => Array.from({ length: n }, () => []));
  /** Per client and slot: the terms of its jobs (shared rating). */
  const byClient: string[][][] = c.clients.map(() => Array.from({ length: n }, () => []));
  const starts: number[][] = [];
  let columns = 0;
  const coef = (x: number) => (Number.isInteger(x) ? String(x) : x.toPrecision(12));
  c.jobs.forEach((j, i) => {
    const w = jobWeight(c, j);
    const js: number[] = [];
    starts.push(js);
    if (j.profileWh.length) {
      const total = jobWh(j);
      const ys: string[] = [];
      for (let s = j.earliest; s + j.profileWh.length <= j.end && s + j.profileWh.length <= n; s++) {
        const y = `y_${i}_${s}`;
        js.push(s);
        ys.push(y);
        columns++;
        obj.push(`${coef(w * total)} ${y}`);
        bounds.push(`0 <= ${y} <= 1`);
        if (integer) binaries.push(y);
        j.profileWh.forEach((wh, m) => {
          if (wh > 0) {
            load[s + m].push(`${coef(wh)} ${y}`);
            byClient[j.client][s + m].push(`${coef(wh)} ${y}`);
          }
          // A program's relay is closed through its whole run.
          onTerms[j.client][s + m].push([y, 1]);
        });
      }
      if (ys.length) rows.push(`one_${i}: ${ys.join(" + ")} <= 1`);
      return;
    }
    for (let k3 = 0; k3 < j.windows.length; k3 += 3) {
      const xs: string[] = [];
      for (let k = j.windows[k3]; k < j.windows[k3 + 1] && k < n; k++) {
        const x = `x_${i}_${k}`;
        xs.push(x);
        columns++;
        obj.push(`${coef(w)} ${x}`);
        bounds.push(`0 <= ${x} <= ${coef(j.maxWhPerSlot)}`);
        load[k].push(x);
        byClient[j.client][k].push(x);
        onTerms[j.client][k].push([x, j.maxWhPerSlot]);
      }
      if (xs.length) rows.push(`win_${i}_${k3 / 3}: ${xs.join(" + ")} <= ${coef(j.windows[k3 + 2])}`);
    }
  });
  const b = c.battery;
  for (let k = 0; k < n; k++) {
    const lhs = [`g_${k}`, `u_${k}`];
    const rhs = [`e_${k}`];
    columns += 3;
    obj.push(`- ${IMPORT_COST} g_${k}`, `- ${EXPORT_COST} e_${k}`, `- ${BASELOAD_WEIGHT} u_${k}`);
    bounds.push(`0 <= g_${k} <= ${coef(Math.min(c.importWh[k], c.gridWh[k]))}`, `0 <= u_${k} <= ${coef(c.baseloadWh[k])}`);
    if (b) {
      lhs.push(`d_${k}`);
      rhs.push(`c_${k}`);
      columns += 3;
      // As the house's battery (self-consumption), it charges from PV only: at most the PV surplus over the baseload.
      bounds.push(`0 <= c_${k} <= ${coef(Math.min(b.maxChargeW * slotH, Math.max(0, c.pvWh[k] - c.baseloadWh[k])))}`, `0 <= d_${k} <= ${coef(b.maxDischargeW * slotH)}`, `${Math.min(b.reserveWh, b.socWh)} <= s_${k + 1} <= ${b.capacityWh}`);
      // soc[k+1] = soc[k] + eta * charge - discharge (soc[0] the spec's, a constant). A battery
      // below its reserve at the start may stay there (the bound a little looser than the inverter: still a ceiling).
      const prev = k === 0 ? "" : ` - s_${k}`;
      rows.push(`bat_${k}: s_${k + 1}${prev} - ${coef(b.roundTripPct / 100)} c_${k} + d_${k} = ${k === 0 ? b.socWh : 0}`);
      const gridMax = Math.min(c.importWh[k], c.gridWh[k]);
      if (houseBattery && gridMax > 0) {
        // z_k: the slot imports. Then nothing charges, and the battery gives
        // at least its power (w_k 0) or all it has above the reserve (w_k 1),
        // whichever is less: each bound through the smallest big M that holds.
        const dMax = b.maxDischargeW * slotH;
        const cMax = b.maxChargeW * slotH;
        const room = b.capacityWh - b.reserveWh;
        columns += 2;
        binaries.push(`z_${k}`, `w_${k}`);
        bounds.push(`0 <= z_${k} <= 1`, `0 <= w_${k} <= 1`);
        rows.push(`imp_${k}: g_${k} - ${coef(gridMax)} z_${k} <= 0`);
        rows.push(`nochg_${k}: c_${k} + ${coef(cMax)} z_${k} <= ${coef(cMax)}`);
        rows.push(`wz_${k}: w_${k} - z_${k} <= 0`);
        // d >= dMax (z - w)
        rows.push(`dpow_${k}: d_${k} - ${coef(dMax)} z_${k} + ${coef(dMax)} w_${k} >= 0`);
        // d >= (soc - reserve) - room (2 - z - w), soc[0] the spec's
        const soc = k === 0 ? "" : ` - s_${k}`;
        rows.push(`dsoc_${k}: d_${k}${soc} - ${coef(room)} z_${k} - ${coef(room)} w_${k} >= ${coef((k === 0 ? b.socWh : 0) - b.reserveWh - 2 * room)}`);
      }
    }
    // The balance: supply on the left, uses on the right, moved over.
    const uses = rhs.concat(load[k]).map((t) => ` - ${t}`).join("");
    rows.push(`bal_${k}: ${lhs.join(" + ")}${uses} = ${coef(c.baseloadWh[k] - c.pvWh[k])}`);
    c.clients.forEach((cl, ci) => {
      if (byClient[ci][k].length > 1) rows.push(`rate_${ci}_${k}: ${byClient[ci][k].join(" + ")} <= ${coef((cl.ratedW * c.slotS) / 3600)}`);
    });
    // The router's power rule: the rated power of the clients on in a slot
    // never passes the fuse, or islanded the battery inverter's power (an
    // overloaded island trips). A binary on_c_k per client that may be on,
    // only where all of them could pass it.
    const powerW = c.gridWh[k] > 0 ? c.fuseLimitW : b ? b.maxDischargeW : 0;
    const may = c.clients.map((_, ci) => ci).filter((ci) => onTerms[ci][k].length > 0);
    if (may.reduce((w, ci) => w + c.clients[ci].ratedW, 0) > powerW) {
      for (const ci of may) {
        const on = `on_${ci}_${k}`;
        columns++;
        bounds.push(`0 <= ${on} <= 1`);
        if (integer) binaries.push(on);
        onTerms[ci][k].forEach(([v, most], t) => rows.push(`onif_${ci}_${k}_${t}: ${v} - ${coef(most)} ${on} <= 0`));
      }
      rows.push(`power_${k}: ${may.map((ci) => `${coef(c.clients[ci].ratedW)} on_${ci}_${k}`).join(" + ")} <= ${coef(powerW)}`);
    }
  }
  const text = ["Maximize", ` obj: ${obj.join(" + ").replace(/\+ -/g, "-")}`, "Subject To", ...rows.map((r) => ` ${r}`), "Bounds", ...bounds.map((x) => ` ${x}`), ...(binaries.length ? ["Binary", ...binaries.map((y) => ` ${y}`)] : []), "End"].join("\n");
  return { text, starts, columns, rows: rows.length };
}

/** Solves a case: its optimum and the flows of the optimal solution. */
export async function optimum(c: SchedCase, o: LpOptions = {}): Promise<Optimum> {
  const integer = o.integer ?? false;
  const model = lpModel(c, integer, o.houseBattery);
  const h = await highs();
  const sol = h.solve(model.text, { time_limit: o.timeLimitS ?? 30, output_flag: false });
  const at = (name: string) => sol.Columns[name]?.Primal ?? 0;
  const n = c.slots;
  const outcome = emptyOutcome(c);
  let weightedWh = 0;
  c.jobs.forEach((j, i) => {
    const w = jobWeight(c, j);
    if (j.profileWh.length) {
      for (const s of model.starts[i]) {
        const y = at(`y_${i}_${s}`);
        j.profileWh.forEach((wh, m) => (outcome.servedWh[i][s + m] += y * wh));
        weightedWh += w * y * jobWh(j);
      }
      return;
    }
    for (let k = 0; k < n; k++) {
      const x = at(`x_${i}_${k}`);
      outcome.servedWh[i][k] = x;
      weightedWh += w * x;
    }
  });
  for (let k = 0; k < n; k++) {
    outcome.chargeWh[k] = at(`c_${k}`);
    outcome.dischargeWh[k] = at(`d_${k}`);
    outcome.importWh[k] = at(`g_${k}`);
    outcome.exportWh[k] = at(`e_${k}`);
    outcome.unservedBaseWh += at(`u_${k}`);
  }
  return { status: sol.Status, integer, weightedWh, outcome, columns: model.columns, rows: model.rows };
}
