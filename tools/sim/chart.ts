// Charts of a simulated day as self-contained SVG text (no libraries, no
// scripts, no external references):
//   slicesSvg   per slot, the delivered energy stacked by priority slice,
//               with the supply drawn as step lines over it: the "energy
//               network slicing" figure of the SDEN paper (Fig. 5).
//   timelineSvg per appliance a row: its requested windows, when its relay
//               was on, the packets it got per slot, missed deadlines.
// Both mark, when given, the router's connectivity state (design section
// 3: boot, online, failsafe, local) as a strip over the plot, a block per
// stretch of time in one state, and an outage as a band behind it.
// Every text and attribute value goes through esc(); every bar carries its
// slot and value (data-slot, data-v) so a test or a reader can check it.

/** One stacked series: a value per slot (Wh or packets, >= 0). */
export interface SliceSeries {
  label: string;
  color: string;
  values: ArrayLike<number>;
}

/** A supply curve drawn over the bars as a step line. */
export interface SupplyLine {
  label: string;
  color: string;
  values: ArrayLike<number>;
  dashed?: boolean;
}

/** A stretch of time the router spent in one connectivity state. */
export interface StateSpan extends Interval {
  state: string;
}

/** An outage the world imposed (the cloud gone, the grid down), drawn behind the plot. */
export interface OutageBand extends Interval {
  label: string;
}

/** What the charts mark of the connection, both optional. */
export interface Connectivity {
  states?: StateSpan[];
  outages?: OutageBand[];
}

export interface SlicesDay extends Connectivity {
  title: string;
  /** Unix seconds at the start of slot 0 (labels are UTC). */
  startS: number;
  slotS: number;
  /** What a value counts: "Wh" or "packets". */
  unit: string;
  /** Stacked bottom to top; all of the same length (the slot count). */
  slices: SliceSeries[];
  supply: SupplyLine[];
}

/** The slices' colours: priority 1 green and 2 blue and the buffer yellow, as in the paper's figure. */
export const SLICE_COLOURS = {
  baseload: "#9e9e9e",
  emergency: "#d62728",
  "priority 1": "#2ca02c",
  "priority 2": "#1f77b4",
  "priority 3": "#9467bd",
  "battery charge": "#f2b701",
  pv: "#ff7f0e",
  capacity: "#222222",
} as const;

export interface Interval {
  startS: number;
  endS: number;
}

/** A requested window: earliest start to deadline; missed marks its deadline. */
export interface RequestWindow extends Interval {
  missed?: boolean;
}

export interface TimelineRow {
  name: string;
  color: string;
  windows: RequestWindow[];
  /** When the relay was closed. */
  on: Interval[];
  /** Packets delivered per slot of the day (optional). */
  packets?: ArrayLike<number>;
}

export interface TimelineDay extends Connectivity {
  title: string;
  startS: number;
  slotS: number;
  slots: number;
  rows: TimelineRow[];
}

export interface ChartSize {
  widthPx: number;
  heightPx: number;
}

const FONT = 'font-family="sans-serif" font-size="12"';
/** The connectivity states' colours, light enough to sit over a plot; another state is grey. */
export const STATE_COLOURS: Record<string, string> = { boot: "#bdbdbd", online: "#a1d99b", failsafe: "#fdae6b", local: "#6baed6" };
const OUTAGE_COLOUR = "#d62728";
/** Height of the connectivity strip, and the gap under it. */
const STRIP_PX = 10;
const STRIP_GAP_PX = 6;
const MISSED_COLOUR = "#d62728";
/** The timeline's legend stands for every row's own colour. */
const LEGEND_GREY = "#555555";
const LEGEND_ROW_PX = 18;

/** Text for XML content and attribute values; drops the control characters XML does not allow. */
export function esc(text: string): string {
  return text
    .replace(/[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]/g, "")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}

/** A coordinate with at most 2 decimals, never "-0" or an exponent. */
function px(x: number): string {
  const r = Math.round(x * 100) / 100;
  return r === 0 ? "0" : String(r);
}

/** The smallest round number at or above v whose fifths are round too (an axis of 5 steps). */
function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/** Intervals sorted, with those that touch or overlap merged: one block per stretch. */
function merged(intervals: Interval[]): Interval[] {
  const out: Interval[] = [];
  for (const iv of [...intervals].sort((a, b) => a.startS - b.startS)) {
    const last = out[out.length - 1];
    if (last && iv.startS <= last.endS) last.endS = Math.max(last.endS, iv.endS);
    else out.push({ startS: iv.startS, endS: iv.endS });
  }
  return out;
}

/** "hh:mm" of a unix time, in UTC (the simulated days run in UTC). */
export function hhmm(unixS: number): string {
  const d = ((unixS % 86400) + 86400) % 86400;
  return `${String(Math.floor(d / 3600)).padStart(2, "0")}:${String(Math.floor((d % 3600) / 60)).padStart(2, "0")}`;
}

function svgOpen(size: ChartSize, title: string): string[] {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${size.widthPx}" height="${size.heightPx}" viewBox="0 0 ${size.widthPx} ${size.heightPx}" ${FONT}>`,
    `<title>${esc(title)}</title>`,
    `<rect x="0" y="0" width="${size.widthPx}" height="${size.heightPx}" fill="#ffffff"/>`,
    `<text x="${px(size.widthPx / 2)}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`,
  ];
}

interface LegendItem {
  label: string;
  color: string;
  /** "box": a filled swatch; "line": a stroke; "light": a pale band. */
  mark: "box" | "line" | "dash" | "light" | "cross";
}

/** Legend items in rows under the title, wrapped to the width; returns the lines and the height used. */
function legend(items: LegendItem[], leftPx: number, topPx: number, widthPx: number): { svg: string[]; heightPx: number } {
  const svg = ['<g class="legend">'];
  let x = leftPx;
  let y = topPx;
  for (const it of items) {
    const w = 22 + it.label.length * 6.5 + 16;
    if (x + w > leftPx + widthPx && x > leftPx) {
      x = leftPx;
      y += LEGEND_ROW_PX;
    }
    const c = esc(it.color);
    if (it.mark === "box") svg.push(`<rect x="${px(x)}" y="${px(y - 9)}" width="14" height="10" fill="${c}"/>`);
    else if (it.mark === "light") svg.push(`<rect x="${px(x)}" y="${px(y - 9)}" width="14" height="10" fill="${c}" fill-opacity="0.2" stroke="${c}" stroke-opacity="0.5"/>`);
    else if (it.mark === "cross") svg.push(`<path d="M${px(x + 2)} ${px(y - 9)}L${px(x + 12)} ${px(y + 1)}M${px(x + 12)} ${px(y - 9)}L${px(x + 2)} ${px(y + 1)}" stroke="${c}" stroke-width="2"/>`);
    else svg.push(`<line x1="${px(x)}" y1="${px(y - 4)}" x2="${px(x + 14)}" y2="${px(y - 4)}" stroke="${c}" stroke-width="2"${it.mark === "dash" ? ' stroke-dasharray="4 3"' : ""}/>`);
    svg.push(`<text x="${px(x + 20)}" y="${px(y)}">${esc(it.label)}</text>`);
    x += w;
  }
  svg.push("</g>");
  return { svg, heightPx: y - topPx + LEGEND_ROW_PX };
}

/** The time axis under a plot: ticks on whole hours, labelled every few hours. */
function timeAxis(startS: number, slotS: number, slots: number, x0: number, plotW: number, yPx: number): string[] {
  const spanS = slots * slotS;
  const everyH = Math.max(1, Math.ceil(spanS / 3600 / 12));
  const svg = ['<g class="x-axis">', `<line x1="${px(x0)}" y1="${px(yPx)}" x2="${px(x0 + plotW)}" y2="${px(yPx)}" stroke="#000000"/>`];
  const firstS = Math.ceil(startS / 3600) * 3600;
  for (let t = firstS; t <= startS + spanS; t += 3600) {
    const x = x0 + ((t - startS) / spanS) * plotW;
    const labelled = Math.round(t / 3600) % everyH === 0;
    svg.push(`<line x1="${px(x)}" y1="${px(yPx)}" x2="${px(x)}" y2="${px(yPx + (labelled ? 6 : 3))}" stroke="#000000"/>`);
    if (labelled) svg.push(`<text x="${px(x)}" y="${px(yPx + 19)}" text-anchor="middle">${hhmm(t)}</text>`);
  }
  svg.push(`<text x="${px(x0 + plotW)}" y="${px(yPx + 34)}" text-anchor="end">time (UTC)</text>`, "</g>");
  return svg;
}

/** Legend items for the states present (in STATE_COLOURS' order, then others) and the outages. */
function connLegend(day: Connectivity): LegendItem[] {
  const seen = [...new Set((day.states ?? []).map((s) => s.state))];
  const order = Object.keys(STATE_COLOURS);
  seen.sort((a, b) => (order.indexOf(a) + 1 || 99) - (order.indexOf(b) + 1 || 99) || (a < b ? -1 : 1));
  const items = seen.map((st): LegendItem => ({ label: `router ${st}`, color: STATE_COLOURS[st] ?? LEGEND_GREY, mark: "box" }));
  for (const label of [...new Set((day.outages ?? []).map((o) => o.label))]) items.push({ label, color: OUTAGE_COLOUR, mark: "light" });
  return items;
}

/** Space the connectivity strip takes over a plot (none without states). */
function stripPx(day: Connectivity): number {
  return day.states && day.states.length > 0 ? STRIP_PX + STRIP_GAP_PX : 0;
}

/**
 * The connectivity strip at yPx (a block per state span, each carrying its
 * state and seconds) and the outages as pale bands from yPx down to
 * bottomPx, clipped to the plotted time.
 */
function connMarks(day: Connectivity, startS: number, spanS: number, x0: number, plotW: number, yPx: number, bottomPx: number): string[] {
  const xOf = (t: number) => x0 + (Math.min(Math.max(t - startS, 0), spanS) / spanS) * plotW;
  const svg: string[] = [];
  for (const o of day.outages ?? []) {
    const x = xOf(o.startS);
    const w = xOf(o.endS) - x;
    if (w > 0) svg.push(`<rect class="outage" x="${px(x)}" y="${px(yPx)}" width="${px(w)}" height="${px(bottomPx - yPx)}" fill="${OUTAGE_COLOUR}" fill-opacity="0.08" stroke="${OUTAGE_COLOUR}" stroke-opacity="0.4" stroke-dasharray="4 3" data-label="${esc(o.label)}"><title>${esc(`${o.label} ${hhmm(o.startS)}-${hhmm(o.endS)}`)}</title></rect>`);
  }
  if (!day.states || day.states.length === 0) return svg;
  svg.push('<g class="conn">');
  for (const s of day.states) {
    const x = xOf(s.startS);
    const w = xOf(s.endS) - x;
    if (!(w > 0)) continue;
    svg.push(
      `<rect class="state" x="${px(x)}" y="${px(yPx)}" width="${px(w)}" height="${STRIP_PX}" fill="${esc(STATE_COLOURS[s.state] ?? LEGEND_GREY)}" data-state="${esc(s.state)}" data-s="${s.endS - s.startS}"><title>${esc(`router ${s.state} ${hhmm(s.startS)}-${hhmm(s.endS)}`)}</title></rect>`,
    );
  }
  svg.push(`<text x="${px(x0 - 6)}" y="${px(yPx + STRIP_PX - 1)}" text-anchor="end" font-size="10">router</text>`, "</g>");
  return svg;
}

function slotCount(day: SlicesDay): number {
  const lengths = [...day.slices, ...day.supply].map((s) => s.values.length);
  const n = lengths[0] ?? 0;
  if (lengths.some((l) => l !== n)) throw new RangeError(`slicesSvg: every series needs the same number of slots (${lengths.join(", ")})`);
  for (const s of day.slices) for (let i = 0; i < n; i++) if (!(s.values[i] >= 0)) throw new RangeError(`slicesSvg: "${s.label}" slot ${i}: ${s.values[i]} is not a value >= 0`);
  return n;
}

/**
 * Stacked bars of each slot's energy by slice, bottom to top in the order
 * given, and the supply curves as step lines over them.
 */
export function slicesSvg(day: SlicesDay, size: ChartSize = { widthPx: 960, heightPx: 440 }): string {
  const n = slotCount(day);
  const left = 64;
  const right = 20;
  const plotW = size.widthPx - left - right;
  const items: LegendItem[] = [
    ...day.slices.map((s): LegendItem => ({ label: s.label, color: s.color, mark: "box" })),
    ...day.supply.map((s): LegendItem => ({ label: s.label, color: s.color, mark: s.dashed ? "dash" : "line" })),
    ...connLegend(day),
  ];
  const leg = legend(items, left, 46, plotW);
  const stripY = 46 + leg.heightPx + 4;
  const top = stripY + stripPx(day);
  const bottom = 48;
  const plotH = size.heightPx - top - bottom;
  if (plotW <= 0 || plotH <= 0) throw new RangeError("slicesSvg: the chart is too small for its legend");

  let peak = 0;
  for (let i = 0; i < n; i++) {
    let stack = 0;
    for (const s of day.slices) stack += s.values[i];
    peak = Math.max(peak, stack);
    for (const s of day.supply) peak = Math.max(peak, s.values[i]);
  }
  const yMax = niceMax(peak);
  const pxPerUnit = plotH / yMax;
  const slotW = n > 0 ? plotW / n : plotW;
  const gap = slotW > 4 ? 1 : 0;
  const baseY = top + plotH;

  const svg = svgOpen(size, day.title);
  svg.push(...leg.svg);
  // Y axis and grid.
  svg.push('<g class="y-axis">');
  for (let k = 0; k <= 5; k++) {
    const v = (yMax * k) / 5;
    const y = baseY - v * pxPerUnit;
    svg.push(`<line x1="${px(left)}" y1="${px(y)}" x2="${px(left + plotW)}" y2="${px(y)}" stroke="#dddddd"/>`);
    svg.push(`<text x="${px(left - 6)}" y="${px(y + 4)}" text-anchor="end">${px(v)}</text>`);
  }
  svg.push(`<line x1="${px(left)}" y1="${px(top)}" x2="${px(left)}" y2="${px(baseY)}" stroke="#000000"/>`);
  svg.push(`<text transform="translate(14 ${px(top + plotH / 2)}) rotate(-90)" text-anchor="middle">${esc(day.unit)} per slot (${px(day.slotS / 60)} min)</text>`);
  svg.push("</g>");
  // Bars.
  svg.push(`<g class="bars" data-px-per-unit="${pxPerUnit}" shape-rendering="crispEdges">`);
  for (let i = 0; i < n; i++) {
    let y = baseY;
    day.slices.forEach((s, k) => {
      const v = s.values[i];
      if (v === 0) return;
      const h = v * pxPerUnit;
      y -= h;
      svg.push(`<rect x="${px(left + i * slotW)}" y="${px(y)}" width="${px(slotW - gap)}" height="${px(h)}" fill="${esc(s.color)}" data-slot="${i}" data-series="${k}" data-v="${v}"/>`);
    });
  }
  svg.push("</g>");
  // Supply as step lines on top.
  svg.push('<g class="supply">');
  for (const s of day.supply) {
    const pts: string[] = [];
    for (let i = 0; i < n; i++) {
      const y = px(baseY - s.values[i] * pxPerUnit);
      pts.push(`${px(left + i * slotW)},${y}`, `${px(left + (i + 1) * slotW)},${y}`);
    }
    if (pts.length > 0) svg.push(`<polyline points="${pts.join(" ")}" fill="none" stroke="${esc(s.color)}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ""} data-label="${esc(s.label)}"/>`);
  }
  svg.push("</g>");
  svg.push(...connMarks(day, day.startS, n * day.slotS, left, plotW, stripY, baseY));
  svg.push(...timeAxis(day.startS, day.slotS, n, left, plotW, baseY));
  svg.push("</svg>");
  return svg.join("\n") + "\n";
}

/**
 * One row per appliance: its requested windows as light bands, the relay's
 * on intervals as solid blocks, packets per slot as cells whose intensity
 * grows with the count (labelled when there is room), and a red cross at
 * each missed deadline.
 */
export function timelineSvg(day: TimelineDay, size: Partial<ChartSize> = {}): string {
  const rowH = 36;
  const left = 120;
  const right = 20;
  const widthPx = size.widthPx ?? 960;
  const plotW = widthPx - left - right;
  const leg = legend(
    [
      { label: "requested window", color: LEGEND_GREY, mark: "light" },
      { label: "relay on", color: LEGEND_GREY, mark: "box" },
      { label: "packets per slot (darker: more)", color: LEGEND_GREY, mark: "box" },
      { label: "deadline missed", color: MISSED_COLOUR, mark: "cross" },
      ...connLegend(day),
    ],
    left,
    46,
    plotW,
  );
  const stripY = 46 + leg.heightPx + 4;
  const top = stripY + stripPx(day);
  const heightPx = size.heightPx ?? top + day.rows.length * rowH + 48;
  const spanS = day.slots * day.slotS;
  if (plotW <= 0 || spanS <= 0) throw new RangeError("timelineSvg: needs slots and a width");
  const xOf = (t: number) => left + (Math.min(Math.max(t - day.startS, 0), spanS) / spanS) * plotW;
  const slotW = plotW / day.slots;

  const svg = svgOpen({ widthPx, heightPx }, day.title);
  svg.push(...leg.svg);
  day.rows.forEach((row, r) => {
    const y0 = top + r * rowH;
    const c = esc(row.color);
    svg.push(`<g class="row" data-name="${esc(row.name)}">`);
    if (r % 2 === 1) svg.push(`<rect x="${px(left)}" y="${px(y0)}" width="${px(plotW)}" height="${rowH}" fill="#f4f4f4"/>`);
    svg.push(`<text x="${px(left - 8)}" y="${px(y0 + rowH / 2 + 4)}" text-anchor="end">${esc(row.name)}</text>`);
    for (const w of row.windows) {
      svg.push(`<rect class="window" x="${px(xOf(w.startS))}" y="${px(y0 + 3)}" width="${px(xOf(w.endS) - xOf(w.startS))}" height="${rowH - 6}" fill="${c}" fill-opacity="0.15" stroke="${c}" stroke-opacity="0.4"/>`);
    }
    for (const on of merged(row.on)) {
      svg.push(`<rect class="on" x="${px(xOf(on.startS))}" y="${px(y0 + 7)}" width="${px(xOf(on.endS) - xOf(on.startS))}" height="10" fill="${c}"/>`);
    }
    const packets = row.packets;
    if (packets) {
      let most = 0;
      for (let i = 0; i < packets.length; i++) most = Math.max(most, packets[i]);
      for (let i = 0; i < Math.min(packets.length, day.slots); i++) {
        const p = packets[i];
        if (!(p > 0)) continue;
        const x = left + i * slotW;
        svg.push(`<rect class="packets" shape-rendering="crispEdges" x="${px(x)}" y="${px(y0 + 20)}" width="${px(slotW)}" height="12" fill="${c}" fill-opacity="${px(0.2 + (0.8 * p) / most)}" data-slot="${i}" data-v="${p}"><title>${esc(`${row.name} ${hhmm(day.startS + i * day.slotS)}: ${p} packets`)}</title></rect>`);
        if (slotW >= 16) svg.push(`<text x="${px(x + slotW / 2)}" y="${px(y0 + 30)}" text-anchor="middle" font-size="9" fill="#ffffff">${p}</text>`);
      }
    }
    for (const w of row.windows) {
      if (!w.missed) continue;
      const x = xOf(w.endS);
      svg.push(
        `<path class="missed" d="M${px(x - 5)} ${px(y0 + 6)}L${px(x + 5)} ${px(y0 + 16)}M${px(x + 5)} ${px(y0 + 6)}L${px(x - 5)} ${px(y0 + 16)}" stroke="${MISSED_COLOUR}" stroke-width="2"><title>${esc(`${row.name}: deadline ${hhmm(w.endS)} missed`)}</title></path>`,
      );
    }
    svg.push("</g>");
  });
  svg.push(...connMarks(day, day.startS, spanS, left, plotW, stripY, top + day.rows.length * rowH));
  svg.push(...timeAxis(day.startS, day.slotS, day.slots, left, plotW, top + day.rows.length * rowH));
  svg.push("</svg>");
  return svg.join("\n") + "\n";
}
