// What the main job prints and draws after a simulated day: the summary
// (tools/sim/summary.ts) and the two charts (tools/sim/chart.ts), gathered
// from the world's server, router, household and board.

import * as M from "../../protocol/messages";
import { classify } from "../server/alloc";
import { SLICE_COLOURS, hhmm, slicesSvg, timelineSvg, type Connectivity, type Interval, type RequestWindow, type SliceSeries } from "./chart";
import { summaryLines, type ApplianceDay } from "./summary";
import type { World } from "./world";

const ROW_COLOURS = ["#1f77b4", "#9467bd", "#2ca02c", "#d62728", "#8c564b", "#e377c2"];
/** Names of the server's classes, top first. */
const CLASS_NAMES = ["emergency", "priority 1", "priority 2", "priority 3"];

export interface DayReport {
  lines: string[];
  slicesSvg: string;
  timelineSvg: string;
}

/** The relay's closed intervals from the board's record of its pin. */
function onIntervals(w: World, pin: string, endS: number): Interval[] {
  const out: Interval[] = [];
  let since = -1;
  for (const t of w.board.pins.transitions(pin)) {
    const s = w.scenario.startS + Math.floor(t.atMs / 1000);
    if (t.level === 1 && since < 0) since = s;
    if (t.level === 0 && since >= 0) {
      out.push({ startS: since, endS: s });
      since = -1;
    }
  }
  if (since >= 0) out.push({ startS: since, endS: endS });
  return out;
}

/** The outages imposed, when and what they cost: load unserved and PV curtailed while islanded. */
function outageText(w: World, truth: { unservedWh: number; curtailedWh: number }[]): string | undefined {
  if (w.outages.length === 0) return undefined;
  const parts = w.outages.map((o) => `${o.kind === "cloud" ? "cloud lost" : "islanded"} ${hhmm(o.startS)}-${o.endS ? hhmm(o.endS) : "end"}`);
  if (w.outages.some((o) => o.kind === "islanded")) {
    const unserved = truth.reduce((x, t) => x + t.unservedWh, 0);
    const curtailed = truth.reduce((x, t) => x + t.curtailedWh, 0);
    parts.push(`load unserved ${Math.round(unserved)} Wh, PV curtailed ${Math.round(curtailed)} Wh`);
  }
  return parts.join("; ");
}

export function report(w: World, hours: number): DayReport {
  const s = w.scenario;
  const cfg = w.config;
  const clients = cfg.clients ?? [];
  const slots = Math.min(s.slots, Math.ceil((hours * 3600) / s.slotS));
  const first = Math.floor(s.startS / s.slotS);
  const endS = s.startS + hours * 3600;
  const agent = w.router?.agent;
  const link = agent?.link;
  const truth = w.household.slots.slice(0, slots);
  // The router's connectivity states and the outages, on both charts.
  const outageLabel = (kind: string) => (kind === "cloud" ? "cloud gone (no broker, no server)" : "grid down (islanded)");
  const conn: Connectivity = {
    states: w.conn.map((c) => ({ state: c.state, startS: c.startS, endS: Math.min(c.endS, endS) })),
    outages: w.outages.map((o) => ({ label: outageLabel(o.kind), startS: o.startS, endS: o.endS || endS })),
  };

  // The slicing chart: packets the server allocated per slot by class, and storage.
  const rows = w.server.slices(first, first + slots);
  // Slots the router ran as local server: the server planned nothing there,
  // so they show what the router delivered (its acks), each client in the
  // class the server would give it.
  const r = w.server.router(cfg.gridId, cfg.routerId);
  for (const span of w.conn.filter((c) => c.state === "local")) {
    for (let k = Math.ceil((span.startS - s.startS) / s.slotS); k < Math.min(slots, Math.floor((span.endS - s.startS) / s.slotS)); k++) {
      const row = rows[k];
      row.packets = row.packets.map(() => 0);
      for (const [client, bySlot] of r?.acks ?? []) {
        const info = r?.clients.get(client);
        const ack = bySlot.get(first + k);
        if (!info || !ack) continue;
        const cls = Math.min(row.packets.length - 1, classify(info.priority, false, 0, Infinity, w.server.rules));
        row.packets[cls] += ack[0];
      }
    }
  }
  const classes = Math.max(1, ...rows.map((r) => r.packets.length));
  const series: SliceSeries[] = [];
  for (let c = 0; c < classes; c++) {
    const name = CLASS_NAMES[c] ?? `priority ${c}`;
    series.push({ label: name, color: (SLICE_COLOURS as Record<string, string>)[name] ?? "#777777", values: rows.map((r) => r.packets[c] ?? 0) });
  }
  series.push({ label: "battery charge", color: SLICE_COLOURS["battery charge"], values: truth.map((t) => Math.round(t.chargeWh / cfg.packetWh)) });
  const slices = slicesSvg({
    title: `${s.name}, seed ${s.seed}: packets per slot by priority slice and storage${w.conn.some((c) => c.state === "local") ? " (while local: as delivered)" : ""}`,
    startS: s.startS,
    slotS: s.slotS,
    unit: "packets",
    slices: series,
    supply: [
      { label: "PV", color: SLICE_COLOURS.pv, values: truth.map((t) => Math.round(t.pvWh / cfg.packetWh)) },
      { label: "capacity", color: SLICE_COLOURS.capacity, values: rows.map((r) => r.capacity), dashed: true },
    ],
    ...conn,
  });

  // The timeline: per appliance its windows, relay-on intervals and packets per slot.
  const appliances: ApplianceDay[] = [];
  const timelineRows = clients.map((c, i) => {
    const a = w.household.appliances[i];
    const mine = w.userRequests.filter((u) => u.request.appliance === c.name);
    const windows: RequestWindow[] = mine.map((u) => {
      const r = u.request;
      const end = r.kind === "energy" ? r.deadlineS : r.endS;
      return { startS: r.earliestS, endS: end, missed: a.counters.deadlinesMissed > 0 && end <= endS };
    });
    const packets = truth.map((t) => Math.round(t.applianceWh[i] / cfg.packetWh));
    appliances.push({
      name: c.name,
      requests: mine.length,
      accepted: mine.filter((u) => u.ok).length,
      deliveredPackets: packets.reduce((x, y) => x + y, 0),
      energyWh: a.counters.deliveredWs / 3600,
      switchings: w.board.pins.transitions(cfg.relays[c.relay].pin).filter((t) => t.level === 1).length,
      interruptions: a.counters.interruptions,
      deadlinesMet: a.counters.deadlinesMet,
      deadlinesMissed: a.counters.deadlinesMissed,
    });
    return { name: c.name, color: ROW_COLOURS[i % ROW_COLOURS.length], windows, on: onIntervals(w, cfg.relays[c.relay].pin, endS), packets };
  });
  const timeline = timelineSvg({ title: `${s.name}, seed ${s.seed}: appliances`, startS: s.startS, slotS: s.slotS, slots, rows: timelineRows, ...conn });

  const pvWh = truth.reduce((x, t) => x + t.pvWh, 0);
  const exportWh = truth.reduce((x, t) => x + t.exportWh, 0);
  const st = w.server.stats();
  const lines = summaryLines({
    title: `sden-router on the simulated board: ${hours} h of the ${s.name} day (seed ${s.seed}), ${s.season}, ${s.dayType}`,
    durationS: hours * 3600,
    packetWh: cfg.packetWh,
    requests: agent ? agent.counters.submitted : 0,
    // Requests the server or the local server admitted, each once (a request decided locally is admitted again by the server when the cloud is back).
    accepted: w.userRequests.filter((u) => {
      const q = r?.requests.get(u.id);
      const local = r?.local.get(u.id)?.outcome;
      return u.ok && ((q && q.status !== "rejected" && q.status !== "cancelled") || (local !== undefined && local !== M.LR_REFUSED));
    }).length,
    rejected: agent ? agent.counters.rejected : 0,
    emergencies: agent ? agent.counters.emergencies : 0,
    deliveredPackets: appliances.reduce((x, a) => x + a.deliveredPackets, 0),
    pvWh,
    pvSelfUsedWh: Math.max(0, pvWh - exportWh),
    importWh: truth.reduce((x, t) => x + t.importWh, 0),
    exportWh,
    peakImportW: w.household.peakImportW,
    upBytes: link ? link.counts[0] : 0,
    downBytes: link ? link.counts[1] : 0,
    appliances,
    connectivity: w.connSeconds(),
    outage: outageText(w, truth),
  });
  lines.push("");
  lines.push(`server: ${st.requestsReceived} requests received, ${st.requestsAccepted} accepted, ${st.acks} acks (${st.ackRepeats} repeats ignored), ${st.localReports} local reports (${st.localDecisions} decisions), ${st.framesIn} frames in, ${st.framesOut} out`);
  if (agent) {
    const c = agent.counters;
    lines.push(`router: ${c.schedules} schedules run (${c.schedulesRefused} refused), ${c.acks} acks delivered, ${c.delivered} requests delivered, ${c.expired} expired, ${c.framesRefused} frames refused, ${c.compactions} compactions`);
  }
  return { lines, slicesSvg: slices, timelineSvg: timeline };
}
