// The day's charts (tools/sim/chart.ts) and its summary table
// (tools/sim/summary.ts): well-formed, self-contained SVG whose bars add up
// to the data, a row per appliance, escaped text; aligned summary lines.

import { describe, expect, it } from "vitest";
import { SLICE_COLOURS, STATE_COLOURS, esc, slicesSvg, timelineSvg, type Connectivity, type SlicesDay, type TimelineDay } from "../../tools/sim/chart";
import { alignColumns, summaryLines, type DaySummary } from "../../tools/sim/summary";

const T0 = 1_750_464_000; // 2025-06-21 00:00 UTC

/**
 * A small XML well-formedness check, enough for what the charts write: tags
 * balance, attributes are quoted and not repeated, no raw "<" or a stray
 * "&" in text or values. Returns the problems found and the elements seen.
 */
function checkXml(xml: string): { problems: string[]; elements: { name: string; attrs: Record<string, string> }[] } {
  const problems: string[] = [];
  const elements: { name: string; attrs: Record<string, string> }[] = [];
  const stack: string[] = [];
  const badAmp = /&(?!(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);)/;
  let roots = 0;
  let last = 0;
  const text = (s: string) => {
    if (badAmp.test(s)) problems.push(`stray & in text: ${s.slice(0, 40)}`);
    if (stack.length === 0 && s.trim() !== "") problems.push(`text outside the root: ${s.slice(0, 40)}`);
  };
  for (const m of xml.matchAll(/<[^<>]*>|</g)) {
    text(xml.slice(last, m.index));
    last = m.index + m[0].length;
    const tag = m[0];
    if (tag === "<") {
      problems.push(`raw < at ${m.index}`);
      continue;
    }
    if (tag.startsWith("<?") || tag.startsWith("<!--")) continue;
    const close = /^<\/([A-Za-z_][\w:.-]*)\s*>$/.exec(tag);
    if (close) {
      const open = stack.pop();
      if (open !== close[1]) problems.push(`</${close[1]}> closes <${open}>`);
      continue;
    }
    const start = /^<([A-Za-z_][\w:.-]*)((?:\s+[A-Za-z_][\w:.-]*="[^"<]*")*)\s*(\/?)>$/.exec(tag);
    if (!start) {
      problems.push(`not a tag: ${tag.slice(0, 60)}`);
      continue;
    }
    if (stack.length === 0 && roots++ > 0) problems.push("more than one root element");
    const attrs: Record<string, string> = {};
    for (const a of start[2].matchAll(/([A-Za-z_][\w:.-]*)="([^"]*)"/g)) {
      if (a[1] in attrs) problems.push(`<${start[1]}> repeats ${a[1]}`);
      if (badAmp.test(a[2])) problems.push(`stray & in ${a[1]}`);
      attrs[a[1]] = a[2];
    }
    elements.push({ name: start[1], attrs });
    if (start[3] !== "/") stack.push(start[1]);
  }
  text(xml.slice(last));
  if (stack.length > 0) problems.push(`unclosed: ${stack.join(" ")}`);
  if (roots !== 1) problems.push(`${roots} root elements`);
  return { problems, elements };
}

function unesc(s: string): string {
  return s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, "&");
}

/** Checks the root of a chart: an SVG of its own size, nothing fetched from outside. */
function expectSelfContainedSvg(svg: string, widthPx: number, heightPx?: number) {
  const { problems, elements } = checkXml(svg);
  expect(problems).toEqual([]);
  const root = elements[0];
  expect(root.name).toBe("svg");
  expect(root.attrs.xmlns).toBe("http://www.w3.org/2000/svg");
  expect(root.attrs.width).toBe(String(widthPx));
  if (heightPx !== undefined) expect(root.attrs.height).toBe(String(heightPx));
  expect(root.attrs.viewBox).toBe(`0 0 ${root.attrs.width} ${root.attrs.height}`);
  expect(svg).not.toMatch(/<script|href=|url\(/);
  return elements;
}

describe("the XML check the chart tests rely on", () => {
  it("finds what is wrong", () => {
    expect(checkXml('<svg a="1"><g></g></svg>').problems).toEqual([]);
    expect(checkXml("<svg><g></svg>").problems).not.toEqual([]);
    expect(checkXml("<svg>a & b</svg>").problems).not.toEqual([]);
    expect(checkXml("<svg>a < b</svg>").problems).not.toEqual([]);
    expect(checkXml("<svg a=1></svg>").problems).not.toEqual([]);
    expect(checkXml('<svg a="1" a="2"></svg>').problems).not.toEqual([]);
    expect(checkXml("<svg/><svg/>").problems).not.toEqual([]);
  });
});

function slicesDay(n = 144): SlicesDay {
  const wave = (amp: number, phase: number) => Array.from({ length: n }, (_, i) => Math.max(0, Math.round(amp * Math.sin((i / n) * Math.PI * 2 + phase))));
  return {
    title: 'Slices <day 172> & "friends"',
    startS: T0,
    slotS: 600,
    unit: "packets",
    slices: [
      { label: "baseload", color: SLICE_COLOURS.baseload, values: Array.from({ length: n }, () => 5) },
      { label: "emergency", color: SLICE_COLOURS.emergency, values: wave(3, 1) },
      { label: "priority 1", color: SLICE_COLOURS["priority 1"], values: wave(20, 0) },
      { label: "priority 2", color: SLICE_COLOURS["priority 2"], values: new Uint16Array(wave(12, 2)) },
      { label: "battery charge", color: SLICE_COLOURS["battery charge"], values: wave(8, 4) },
    ],
    supply: [
      { label: "PV", color: SLICE_COLOURS.pv, values: wave(40, 0) },
      { label: "PV + battery + import allowance", color: SLICE_COLOURS.capacity, values: wave(40, 0).map((v) => v + 10), dashed: true },
    ],
  };
}

describe("slicesSvg", () => {
  it("is a well-formed, self-contained SVG with a title, axes in hours and a legend of every series", () => {
    const day = slicesDay();
    const svg = slicesSvg(day);
    const elements = expectSelfContainedSvg(svg, 960, 440);
    expect(svg).toContain("<title>Slices &lt;day 172&gt; &amp; &quot;friends&quot;</title>");
    for (const h of ["00:00", "04:00", "12:00", "22:00"]) expect(svg).toContain(`>${h}</text>`);
    const legendTexts = /<g class="legend">([\s\S]*?)<\/g>/.exec(svg)![1].match(/<text[^>]*>[^<]*<\/text>/g)!.map((t) => unesc(t.replace(/<[^>]+>/g, "")));
    expect(legendTexts).toEqual([...day.slices, ...day.supply].map((s) => s.label));
    expect(elements.filter((e) => e.name === "polyline")).toHaveLength(2);
    expect(svg).toContain("packets per slot (10 min)");
  });

  it("stacks each slot's bars to the slot's total, bottom to top in the slices' order", () => {
    const day = slicesDay();
    const svg = slicesSvg(day);
    const pxPerUnit = Number(/<g class="bars" data-px-per-unit="([^"]+)"/.exec(svg)![1]);
    expect(pxPerUnit).toBeGreaterThan(0);
    const bars = checkXml(svg).elements.filter((e) => e.name === "rect" && e.attrs["data-slot"] !== undefined);
    for (let i = 0; i < 144; i++) {
      const mine = bars.filter((b) => Number(b.attrs["data-slot"]) === i);
      const total = day.slices.reduce((a, s) => a + s.values[i], 0);
      const heights = mine.reduce((a, b) => a + Number(b.attrs.height), 0);
      expect(Math.abs(heights - total * pxPerUnit)).toBeLessThanOrEqual(0.01 * mine.length + 1e-9);
      // Every non-zero value has its bar, in order, each on top of the one before.
      const expected = day.slices.map((s, k) => [k, s.values[i]] as const).filter(([, v]) => v > 0);
      expect(mine.map((b) => [Number(b.attrs["data-series"]), Number(b.attrs["data-v"])])).toEqual(expected);
      for (let k = 1; k < mine.length; k++) {
        expect(Number(mine[k].attrs.y) + Number(mine[k].attrs.height)).toBeCloseTo(Number(mine[k - 1].attrs.y), 1);
      }
      // The stack stands on the axis.
      if (mine.length > 0) expect(Number(mine[0].attrs.y) + Number(mine[0].attrs.height)).toBeCloseTo(392, 1);
    }
  });

  it("draws each supply curve as a step line at its values", () => {
    const day = slicesDay(24);
    const svg = slicesSvg(day);
    const pxPerUnit = Number(/data-px-per-unit="([^"]+)"/.exec(svg)![1]);
    const line = checkXml(svg).elements.find((e) => e.name === "polyline" && e.attrs["data-label"] === "PV")!;
    const ys = line.attrs.points.split(" ").map((p) => Number(p.split(",")[1]));
    expect(ys).toHaveLength(48);
    const baseY = 440 - 48; // the plot's bottom: the height less the axis margin
    for (let i = 0; i < 24; i++) {
      expect(ys[2 * i]).toBe(ys[2 * i + 1]);
      expect(baseY - ys[2 * i]).toBeCloseTo(day.supply[0].values[i] * pxPerUnit, 1);
    }
  });

  it("refuses series of different lengths and negative values", () => {
    const day = slicesDay(10);
    expect(() => slicesSvg({ ...day, supply: [{ label: "PV", color: "#000", values: [1, 2] }] })).toThrow(/same number of slots/);
    expect(() => slicesSvg({ ...day, slices: [{ label: "x", color: "#000", values: [1, -1, 0, 0, 0, 0, 0, 0, 0, 0] }] })).toThrow(/"x" slot 1/);
  });

  it("copes with an empty day", () => {
    const svg = slicesSvg({ title: "nothing", startS: T0, slotS: 600, unit: "Wh", slices: [{ label: "a", color: "#111", values: new Array(6).fill(0) }], supply: [] });
    expectSelfContainedSvg(svg, 960);
    expect(svg).not.toContain("data-slot");
  });
});

function timelineDay(): TimelineDay {
  return {
    title: "Appliances, day 172",
    startS: T0,
    slotS: 600,
    slots: 144,
    rows: [
      { name: "washer", color: "#2ca02c", windows: [{ startS: T0 + 8 * 3600, endS: T0 + 16 * 3600 }], on: [{ startS: T0 + 10 * 3600, endS: T0 + 11 * 3600 }, { startS: T0 + 11 * 3600, endS: T0 + 12 * 3600 }], packets: Object.assign(new Array(144).fill(0), { 60: 18, 61: 33, 62: 5 }) },
      { name: "ev", color: "#9467bd", windows: [{ startS: T0 + 9 * 3600, endS: T0 + 17 * 3600, missed: true }], on: [{ startS: T0 + 12 * 3600, endS: T0 + 13 * 3600 }] },
      { name: 'Oma\'s <sauna> & "spa"', color: "#d62728", windows: [], on: [] },
    ],
  };
}

describe("timelineSvg", () => {
  it("is a well-formed, self-contained SVG with a row per appliance, names escaped", () => {
    const day = timelineDay();
    const svg = timelineSvg(day);
    const elements = expectSelfContainedSvg(svg, 960);
    const rows = elements.filter((e) => e.name === "g" && e.attrs.class === "row");
    expect(rows.map((r) => unesc(r.attrs["data-name"]))).toEqual(day.rows.map((r) => r.name));
    expect(svg).toContain(">Oma&apos;s &lt;sauna&gt; &amp; &quot;spa&quot;</text>");
    expect(svg).not.toContain("<sauna>");
  });

  it("draws the windows, one block per stretch the relay was on, packets per slot and missed deadlines", () => {
    const svg = timelineSvg(timelineDay());
    const { elements } = checkXml(svg);
    const of = (cls: string) => elements.filter((e) => e.attrs.class === cls);
    expect(of("window")).toHaveLength(2);
    expect(of("on")).toHaveLength(2); // the washer's two touching hours are one block
    const plotW = 960 - 120 - 20;
    const washerOn = of("on")[0];
    expect(Number(washerOn.attrs.x)).toBeCloseTo(120 + (10 / 24) * plotW, 1);
    expect(Number(washerOn.attrs.width)).toBeCloseTo((2 / 24) * plotW, 1);
    expect(of("packets").map((e) => [e.attrs["data-slot"], e.attrs["data-v"]])).toEqual([
      ["60", "18"],
      ["61", "33"],
      ["62", "5"],
    ]);
    // The most packets are the darkest.
    expect(Number(of("packets")[1].attrs["fill-opacity"])).toBe(1);
    expect(Number(of("packets")[2].attrs["fill-opacity"])).toBeLessThan(Number(of("packets")[0].attrs["fill-opacity"]));
    expect(of("missed")).toHaveLength(1);
    expect(svg).toContain("ev: deadline 17:00 missed");
  });

  it("labels the packets when the slots are wide enough", () => {
    const day = { ...timelineDay(), slotS: 3600, slots: 24 };
    day.rows = [{ name: "ev", color: "#000", windows: [], on: [], packets: [0, 3, 37] }];
    const svg = timelineSvg(day);
    expect(svg).toMatch(/>37<\/text>/);
    expectSelfContainedSvg(svg, 960);
  });
});

describe("esc", () => {
  it("escapes the five XML characters and drops control characters XML cannot hold", () => {
    expect(esc(`a<b>&"c'\x00\x1b\t`)).toBe("a&lt;b&gt;&amp;&quot;c&apos;\t");
  });
});

const summary: DaySummary = {
  title: "Day 172 (sunny-summer, seed 1)",
  durationS: 86400,
  packetWh: 10,
  requests: 5,
  accepted: 4,
  rejected: 1,
  emergencies: 0,
  deliveredPackets: 2350,
  pvWh: 35338,
  pvSelfUsedWh: 24100,
  importWh: 3012,
  exportWh: 11238,
  peakImportW: 5400,
  upBytes: 123456,
  downBytes: 234567,
  appliances: [
    { name: "washer", requests: 1, accepted: 1, deliveredPackets: 105, energyWh: 1050, switchings: 2, interruptions: 0, deadlinesMet: 1, deadlinesMissed: 0 },
    { name: "ev", requests: 2, accepted: 1, deliveredPackets: 1365, energyWh: 13646, switchings: 6, interruptions: 2, deadlinesMet: 0, deadlinesMissed: 1 },
  ],
};

describe("summaryLines", () => {
  it("derives the PV self-consumption and the average uplink rate", () => {
    const text = summaryLines(summary).join("\n");
    expect(text).toContain("self-consumption 68 %");
    expect(text).toContain("uplink average 11.4 bit/s over 24 h");
    expect(text).toContain("2,350 packets of 10 Wh = 23,500 Wh");
    expect(text).toContain("peak import 5,400 W");
    expect(summaryLines({ ...summary, pvWh: 0, pvSelfUsedWh: 0 }).join("\n")).toContain("self-consumption - ");
  });

  it("says how long the router was in each connectivity state, and the outage, only when known", () => {
    const lines = summaryLines({ ...summary, connectivity: [["online", 42480], ["failsafe", 900], ["local", 43020]], outage: "cloud lost 06:00-18:00" });
    expect(lines.find((l) => l.startsWith("router"))).toMatch(/^router\s+online 11\.8 h, failsafe 0\.3 h, local 11\.9 h$/);
    expect(lines.find((l) => l.startsWith("outage"))).toMatch(/^outage\s+cloud lost 06:00-18:00$/);
    const plain = summaryLines(summary).join("\n");
    expect(plain).not.toMatch(/^(router|outage) /m);
  });

  it("lays the appliances out in aligned columns, with a total", () => {
    const lines = summaryLines(summary);
    const header = lines.findIndex((l) => l.startsWith("appliance"));
    const table = lines.slice(header).filter((l) => !/^-+$/.test(l));
    expect(table.map((l) => l.split(/\s{2,}/)[0])).toEqual(["appliance", "washer", "ev", "total"]);
    expect(new Set(lines.slice(header).map((l) => l.length)).size).toBe(1);
    expect(table[3].trim().split(/\s+/)).toEqual(["total", "3", "2", "1,470", "14,696", "8", "2", "1", "1"]);
    // Each number ends under the end of its heading.
    const headingEnd = table[0].indexOf("energy Wh") + "energy Wh".length;
    expect(table[1].slice(0, headingEnd).endsWith("1,050")).toBe(true);
  });

  it("alignColumns pads text to the left and numbers to the right", () => {
    expect(
      alignColumns(
        [
          ["a", "10"],
          ["bbb", "2"],
        ],
        1,
      ),
    ).toEqual(["a    10", "bbb   2"]);
  });
});

describe("the connectivity marks of both charts", () => {
  const H = 3600;
  // A cloud outage from 06:00 to 18:00: failsafe for 15 minutes, then local until a fresh schedule at 18:02.
  const conn: Connectivity = {
    states: [
      { state: "boot", startS: T0, endS: T0 + 60 },
      { state: "online", startS: T0 + 60, endS: T0 + 6 * H + 120 },
      { state: "failsafe", startS: T0 + 6 * H + 120, endS: T0 + 6 * H + 1020 },
      { state: "local", startS: T0 + 6 * H + 1020, endS: T0 + 18 * H + 120 },
      { state: "online", startS: T0 + 18 * H + 120, endS: T0 + 24 * H },
    ],
    outages: [{ label: "cloud gone", startS: T0 + 6 * H, endS: T0 + 18 * H }],
  };
  const charts: [string, (c: Connectivity) => string][] = [
    ["slicesSvg", (c) => slicesSvg({ ...slicesDay(), ...c })],
    ["timelineSvg", (c) => timelineSvg({ ...timelineDay(), ...c })],
  ];

  it.each(charts)("%s draws a block per state span, its width the span's share of the day, in the state's colour", (_, draw) => {
    const svg = draw(conn);
    const blocks = expectSelfContainedSvg(svg, 960).filter((e) => e.name === "rect" && e.attrs.class === "state");
    expect(blocks.map((b) => b.attrs["data-state"])).toEqual(conn.states!.map((s) => s.state));
    const widths = blocks.map((b) => Number(b.attrs.width));
    const total = widths.reduce((a, b) => a + b, 0);
    conn.states!.forEach((s, i) => {
      expect(Number(blocks[i].attrs["data-s"])).toBe(s.endS - s.startS);
      expect(widths[i] / total).toBeCloseTo((s.endS - s.startS) / (24 * H), 3);
      expect(blocks[i].attrs.fill).toBe(STATE_COLOURS[s.state]);
    });
    // The blocks follow each other without gaps or overlaps.
    for (let i = 1; i < blocks.length; i++) expect(Number(blocks[i].attrs.x)).toBeCloseTo(Number(blocks[i - 1].attrs.x) + widths[i - 1], 1);
  });

  it.each(charts)("%s names each state once in its legend, and marks the outage as a band over the plot", (_, draw) => {
    const svg = draw(conn);
    const legendTexts = /<g class="legend">([\s\S]*?)<\/g>/.exec(svg)![1].match(/<text[^>]*>[^<]*<\/text>/g)!.map((t) => t.replace(/<[^>]+>/g, ""));
    expect(legendTexts.filter((t) => t.startsWith("router "))).toEqual(["router boot", "router online", "router failsafe", "router local"]);
    expect(legendTexts).toContain("cloud gone");
    const band = checkXml(svg).elements.filter((e) => e.attrs.class === "outage");
    expect(band).toHaveLength(1);
    const local = checkXml(svg).elements.find((e) => e.attrs["data-state"] === "local")!;
    // The band starts at 06:00, before the router went local (15 minutes of failsafe first).
    expect(Number(band[0].attrs.x)).toBeLessThan(Number(local.attrs.x));
  });

  it.each(charts)("%s without states or outages draws neither, and its plot keeps its place", (_, draw) => {
    const plain = draw({});
    expect(plain).not.toContain('class="state"');
    expect(plain).not.toContain('class="outage"');
    expect(plain).toBe(draw({ states: [], outages: [] }));
  });
});
