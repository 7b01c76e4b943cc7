// The end-of-day summary of a simulated day as aligned plain-text lines:
// the figures of the day, then a table with a row per appliance and a
// total. The caller gathers the counts; this only derives the ratios (PV
// self-consumption, average uplink bit rate) and lays them out.

/** What one appliance got in the day. */
export interface ApplianceDay {
  name: string;
  requests: number;
  accepted: number;
  deliveredPackets: number;
  /** As metered or modelled. */
  energyWh: number;
  switchings: number;
  interruptions: number;
  deadlinesMet: number;
  deadlinesMissed: number;
}

export interface DaySummary {
  title: string;
  /** Length of the simulated run, for the average bit rate. */
  durationS: number;
  packetWh: number;
  requests: number;
  accepted: number;
  rejected: number;
  emergencies: number;
  deliveredPackets: number;
  pvWh: number;
  /** PV energy used in the home (appliances, base load, battery), not exported. */
  pvSelfUsedWh: number;
  importWh: number;
  exportWh: number;
  peakImportW: number;
  /** MQTT bytes on the wire, both directions, headers included. */
  upBytes: number;
  downBytes: number;
  appliances: ApplianceDay[];
  /** Seconds the router spent in each connectivity state (design section 3), in the order first entered; none when unknown. */
  connectivity?: [string, number][];
  /** The outage of the day, in words (when, and what it cost), when there was one. */
  outage?: string;
}

/** Seconds as hours with one decimal: "11.5 h". */
function hours(s: number): string {
  return `${(s / 3600).toFixed(1)} h`;
}

/** A whole number with thousands separators: 12,345. */
function int(n: number): string {
  const r = Math.round(n);
  return (r < 0 ? "-" : "") + String(Math.abs(r)).replace(/\B(?=(\d{3})+$)/g, ",");
}

/** Columns padded to their widest cell; those from rightFrom on (numbers) to the right, the others to the left. */
export function alignColumns(rows: string[][], rightFrom: number, gapChars = 2): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) =>
    row
      .map((cell, i) => (i < rightFrom ? cell.padEnd(widths[i]) : cell.padStart(widths[i])))
      .join(" ".repeat(gapChars))
      .trimEnd(),
  );
}

export function summaryLines(s: DaySummary): string[] {
  const selfPct = s.pvWh > 0 ? `${Math.round((100 * s.pvSelfUsedWh) / s.pvWh)} %` : "-";
  const upBitS = s.durationS > 0 ? ((8 * s.upBytes) / s.durationS).toFixed(1) : "-";
  const durationH = s.durationS / 3600;
  const figures = [
    ["requests", `${int(s.requests)}: accepted ${int(s.accepted)}, rejected ${int(s.rejected)}, emergencies ${int(s.emergencies)}`],
    ["delivered", `${int(s.deliveredPackets)} packets of ${int(s.packetWh)} Wh = ${int(s.deliveredPackets * s.packetWh)} Wh`],
    ["PV", `${int(s.pvWh)} Wh, self-consumption ${selfPct} (${int(s.pvSelfUsedWh)} Wh used in the home)`],
    ["grid", `import ${int(s.importWh)} Wh, export ${int(s.exportWh)} Wh, peak import ${int(s.peakImportW)} W`],
    ["wire", `up ${int(s.upBytes)} B, down ${int(s.downBytes)} B, uplink average ${upBitS} bit/s over ${Number(durationH.toFixed(2))} h`],
  ];
  if (s.connectivity && s.connectivity.length > 0) figures.push(["router", s.connectivity.map(([st, sec]) => `${st} ${hours(sec)}`).join(", ")]);
  if (s.outage) figures.push(["outage", s.outage]);
  const header = ["appliance", "requests", "accepted", "packets", "energy Wh", "switchings", "interruptions", "deadlines met", "missed"];
  const row = (a: ApplianceDay) => [a.name, a.requests, a.accepted, a.deliveredPackets, a.energyWh, a.switchings, a.interruptions, a.deadlinesMet, a.deadlinesMissed];
  const total: ApplianceDay = { name: "total", requests: 0, accepted: 0, deliveredPackets: 0, energyWh: 0, switchings: 0, interruptions: 0, deadlinesMet: 0, deadlinesMissed: 0 };
  for (const a of s.appliances) {
    for (const k of Object.keys(total) as (keyof ApplianceDay)[]) if (k !== "name") total[k] += a[k];
  }
  const table = [header, ...[...s.appliances, total].map((a) => row(a).map((v) => (typeof v === "number" ? int(v) : v)))];
  const lines = alignColumns(table, 1);
  const rule = "-".repeat(Math.max(...lines.map((l) => l.length)));
  return [s.title, "=".repeat(s.title.length), ...alignColumns(figures, figures[0].length), "", lines[0], rule, ...lines.slice(1, -1), rule, lines[lines.length - 1]];
}
