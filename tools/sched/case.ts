// A scheduling case: one household's day as every scheduler of the
// benchmark sees it (issue 5, "Benchmark"): per slot PV, baseload and the
// import allowance, the battery, the fuse, and the requests as jobs in
// slots of the day (0 = the day's first slot) and Wh. Built from a named
// scenario (tools/sim/scenario.ts) or by hand in a test.

import type { BatterySpec } from "../sim/battery";
import type { Scenario } from "../sim/scenario";

/** What a client needs, in slots of the day and Wh. */
export interface Job {
  /** Index into SchedCase.clients. */
  client: number;
  kind: "energy" | "thermal" | "profile";
  /** Slot of the day the user asks in; nothing is known about the job before. */
  arrival: number;
  /** First slot it may use. */
  earliest: number;
  /** Slot it must be done before (deadline, band end, latest end; exclusive). */
  end: number;
  /**
   * Interruptible jobs: windows as flat triples [start, end, wh, ...] (end
   * exclusive), in time order: an energy request is one window, a thermal
   * band a window per period. Empty for a profile.
   */
  windows: number[];
  /** A profile's Wh per slot from its start, placed whole and contiguous; empty otherwise. */
  profileWh: number[];
  /** The most Wh the job may take in one slot (its client's rated power). */
  maxWhPerSlot: number;
  emergency: boolean;
}

export interface Client {
  name: string;
  ratedW: number;
  /** 0 the most important, 7 the least (firmware/config.ts). */
  priority: number;
}

export interface SchedCase {
  name: string;
  slots: number;
  slotS: number;
  /** Absolute slot of the day's first slot (unix s / slotS). */
  firstSlot: number;
  packetWh: number;
  pvWh: number[];
  baseloadWh: number[];
  /** What the schedulers may plan to import per slot. */
  importWh: number[];
  /** What the grid can physically give per slot: 0 while islanded, else the fuse. */
  gridWh: number[];
  fuseLimitW: number;
  battery: BatterySpec | null;
  clients: Client[];
  jobs: Job[];
}

/** Packet size of the design (section 1: E = 10 Wh). */
export const PACKET_WH = 10;

/** Wh a job asks for in all. */
export function jobWh(j: Job): number {
  let wh = 0;
  for (let k = 2; k < j.windows.length; k += 3) wh += j.windows[k];
  for (const x of j.profileWh) wh += x;
  return wh;
}

/** The window of job j holding slot k, as an index into windows (a multiple of 3), or -1. */
export function windowAt(j: Job, k: number): number {
  for (let w = 0; w < j.windows.length; w += 3) if (k >= j.windows[w] && k < j.windows[w + 1]) return w;
  return -1;
}

/** Per job: Wh each of its windows asks (a copy, for a scheduler to count down). */
export function windowNeeds(c: SchedCase): number[][] {
  return c.jobs.map((j) => {
    const n: number[] = [];
    for (let w = 2; w < j.windows.length; w += 3) n.push(j.windows[w]);
    return n;
  });
}

/** The case of a named scenario's day: its appliances are the clients, their requests the jobs. */
export function caseOf(s: Scenario): SchedCase {
  const slotOf = (t: number) => Math.floor((t - s.startS) / s.slotS);
  /** A deadline in the middle of a slot leaves only the slots before it. */
  const endOf = (t: number) => Math.min(s.slots, slotOf(t));
  const clients: Client[] = s.appliances.map((a) => ({ name: a.name, ratedW: a.ratedW, priority: s.priorities[a.name] ?? 7 }));
  const jobs: Job[] = s.requests.map((r) => {
    const client = clients.findIndex((c) => c.name === r.appliance);
    const maxWhPerSlot = Math.floor((clients[client].ratedW * s.slotS) / 3600);
    // A request made mid-slot is known from the next slot on, as it would be at the router.
    const arrival = Math.ceil((r.atS - s.startS) / s.slotS);
    const earliest = Math.max(arrival, Math.ceil((r.earliestS - s.startS) / s.slotS));
    const base = { client, arrival, earliest, maxWhPerSlot, emergency: false };
    switch (r.kind) {
      case "energy":
        return { ...base, kind: "energy", end: endOf(r.deadlineS), windows: [earliest, endOf(r.deadlineS), r.wh], profileWh: [] };
      case "profile":
        return { ...base, kind: "profile", end: endOf(r.endS), windows: [], profileWh: r.profileWh.slice() };
      case "thermal": {
        const per = Math.max(1, Math.round(r.windowS / s.slotS));
        const windows: number[] = [];
        for (let w = earliest; w < endOf(r.endS); w += per) windows.push(w, Math.min(w + per, endOf(r.endS)), r.whPerWindow);
        return { ...base, kind: "thermal", end: endOf(r.endS), windows, profileWh: [] };
      }
    }
  });
  const gridWh = s.importWh.map((_, k) => (s.outage?.kind === "islanded" && k >= s.outage.fromSlot && k < s.outage.toSlot ? 0 : Math.floor((s.fuseLimitW * s.slotS) / 3600)));
  return {
    name: s.name,
    slots: s.slots,
    slotS: s.slotS,
    firstSlot: Math.floor(s.startS / s.slotS),
    packetWh: PACKET_WH,
    pvWh: s.pvWh.slice(),
    baseloadWh: s.baseloadWh.slice(),
    importWh: s.importWh.slice(),
    gridWh,
    fuseLimitW: s.fuseLimitW,
    battery: s.battery ? { ...s.battery } : null,
    clients,
    jobs,
  };
}
