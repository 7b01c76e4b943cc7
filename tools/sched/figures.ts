// The figures of the scheduling benchmark (issue 5, ../shared/quality.md
// "scheduling"), from a case and what happened in it (settle.ts or the
// LP's own flows).

import { weightOf } from "../../firmware/local";
import { jobWh, type Job, type SchedCase } from "./case";
import type { Outcome } from "./settle";

export interface Figures {
  requestedWh: number;
  /** Energy drawn inside each job's windows, up to what it asked: Wh, and % of requested. */
  servedWh: number;
  servedPct: number;
  /** Served Wh times the job's weight (firmware/local.ts weightOf). */
  weightedWh: number;
  /** Share of the PV production used in the home (appliances, baseload, battery), %. */
  pvSelfPct: number;
  /** The most imported in one slot, as an average power, W. */
  peakImportW: number;
  /** Relay switchings of one appliance in one clock hour, the most of any, and whose. */
  switchingsPerHour: number;
  switchingsClient: string;
}

/** The weight of a job in the objective: the local scheduler's own. */
export function jobWeight(c: SchedCase, j: Job): number {
  return weightOf(c.clients[j.client].priority, j.emergency);
}

/** Wh a job got by its deadline: inside each window, at most what the window asks. */
export function servedByDeadline(j: Job, served: ArrayLike<number>): number {
  const inside = (from: number, to: number) => {
    let wh = 0;
    for (let k = from; k < to; k++) wh += served[k];
    return wh;
  };
  if (j.profileWh.length) return Math.min(jobWh(j), inside(j.earliest, j.end));
  let wh = 0;
  for (let w = 0; w < j.windows.length; w += 3) wh += Math.min(j.windows[w + 2], inside(j.windows[w], j.windows[w + 1]));
  return wh;
}

/**
 * Switchings of one relay per clock hour, from the fraction of each slot it
 * is closed (a slot's energy as one run at the client's rated power; a
 * program's relay stays closed through every slot of its run), placed as
 * the router places it (firmware/agent.ts wantOn): at the start of a slot
 * whose relay is already closed (the run goes on) and of an odd absolute
 * slot, else at the end (an even one), so that two slots in a row make one
 * run; and a slot left open for less than one packet's time at
 * the rated power (packetS) counts as closed throughout, as the router
 * keeps the relay on to the boundary there (a full slot of whole packets
 * falls a few seconds short). A slot-level model: the router's own margin
 * and the relays' minimum on and off times are not in it.
 */
export function switchingsPerHour(c: SchedCase, onFraction: ArrayLike<number>, packetS = 0): number[] {
  const perHour: number[] = new Array(Math.ceil((c.slots * c.slotS) / 3600)).fill(0);
  let on = false;
  const flip = (slot: number, want: boolean) => {
    if (want !== on) perHour[Math.floor((slot * c.slotS) / 3600)]++;
    on = want;
  };
  for (let k = 0; k < c.slots; k++) {
    const f = Math.min(1, Math.max(0, onFraction[k]));
    // Shorter than a second (or a packet's time open): nothing switches.
    const full = (1 - f) * c.slotS < Math.max(1, packetS);
    const none = f * c.slotS < 1;
    if (none) flip(k, false);
    else if (full) flip(k, true);
    else if (on || (c.firstSlot + k) % 2 === 1) {
      flip(k, true);
      flip(k, false);
    } else {
      flip(k, false);
      flip(k, true);
    }
  }
  return perHour;
}

/** Fraction of each slot a client's relay is closed. */
export function onFractions(c: SchedCase, o: Outcome, client: number): Float64Array {
  const f = new Float64Array(c.slots);
  const fullWh = (c.clients[client].ratedW * c.slotS) / 3600;
  c.jobs.forEach((j, i) => {
    if (j.client !== client) return;
    for (let k = 0; k < c.slots; k++) {
      const wh = o.servedWh[i][k];
      if (wh > 1e-9) f[k] += j.profileWh.length ? 1 : wh / fullWh;
    }
  });
  return f;
}

/**
 * Energy owed to admitted jobs delivered by their deadlines, % of what was
 * owed (100 when nothing was admitted). A job admitted in slot a owes what
 * it asks from then on: its whole energy or program, a thermal band the
 * windows that end after a; a job admitted in part (admittedWh given and
 * below that) owes only admittedWh, and what it got beyond it in a window
 * does not count.
 */
export function acceptedServedPct(c: SchedCase, o: Outcome, admittedAt: number[], admittedWh?: number[]): number {
  let owedWh = 0;
  let servedWh = 0;
  c.jobs.forEach((j, i) => {
    const a = admittedAt[i];
    if (a < 0) return;
    let owed = 0;
    let served = 0;
    if (j.kind !== "thermal") {
      owed = jobWh(j);
      served = servedByDeadline(j, o.servedWh[i]);
    }
    else {
      for (let w = 0; w < j.windows.length; w += 3) {
        if (j.windows[w + 1] <= a) continue;
        let wh = 0;
        for (let k = j.windows[w]; k < j.windows[w + 1]; k++) wh += o.servedWh[i][k];
        owed += j.windows[w + 2];
        served += Math.min(j.windows[w + 2], wh);
      }
    }
    if (admittedWh) owed = Math.min(owed, admittedWh[i]);
    owedWh += owed;
    servedWh += Math.min(owed, served);
  });
  return owedWh > 0 ? (100 * servedWh) / owedWh : 100;
}

export function figures(c: SchedCase, o: Outcome): Figures {
  let requestedWh = 0;
  let servedWh = 0;
  let weightedWh = 0;
  c.jobs.forEach((j, i) => {
    const wh = servedByDeadline(j, o.servedWh[i]);
    requestedWh += jobWh(j);
    servedWh += wh;
    weightedWh += jobWeight(c, j) * wh;
  });
  let pvWh = 0;
  let exportWh = 0;
  let peakImportWh = 0;
  for (let k = 0; k < c.slots; k++) {
    pvWh += c.pvWh[k];
    exportWh += o.exportWh[k];
    peakImportWh = Math.max(peakImportWh, o.importWh[k]);
  }
  let switchings = 0;
  let switchingsClient = "";
  c.clients.forEach((cl, i) => {
    const m = Math.max(...switchingsPerHour(c, onFractions(c, o, i), (c.packetWh * 3600) / cl.ratedW));
    if (m > switchings) {
      switchings = m;
      switchingsClient = cl.name;
    }
  });
  return {
    requestedWh,
    servedWh,
    servedPct: requestedWh > 0 ? (100 * servedWh) / requestedWh : 100,
    weightedWh,
    pvSelfPct: pvWh > 0 ? (100 * (pvWh - Math.min(pvWh, exportWh))) / pvWh : 100,
    peakImportW: (peakImportWh * 3600) / c.slotS,
    switchingsPerHour: switchings,
    switchingsClient,
  };
}
