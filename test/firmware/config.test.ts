import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { validateConfig } from "../../firmware/config";

const good = JSON.parse(readFileSync(new URL("../../flash.config.json", import.meta.url), "utf8"));
const copy = () => structuredClone(good);

/** Sets a value at a path like "relays.0.pin" (undefined deletes it). */
function withValue(path: string, value: unknown) {
  const c = copy();
  const keys = path.split(".");
  let o = c;
  for (const k of keys.slice(0, -1)) o = o[k];
  const last = keys[keys.length - 1];
  if (value === undefined) delete o[last];
  else o[last] = value;
  return c;
}

/** The field as the message names it: relays.0.pin -> relays[0].pin */
const named = (path: string) => path.replace(/\.(\d+)/g, "[$1]");

describe("configuration validation", () => {
  it("accepts the shipped flash.config.json", () => {
    expect(validateConfig(good)).toEqual([]);
  });

  const bad: [string, unknown[]][] = [
    ["board", ["ESP8266", 1, ""]],
    ["gridId", ["", "a/b", "#", "x".repeat(25), 7]],
    ["routerId", ["", "a+b", null]],
    ["fuseLimitW", [0, -1, 99, 100001, 1.5, "11000", null]],
    ["meterSaveWh", [0, 1001, 2.5]],
    ["packetWh", [0, -10, 10001]],
    ["slotMin", [0, 7, 61, 10.5]],
    ["heartbeatS", [0, 4, 3601]],
    ["watchdogS", [0, 1, 301]],
    ["relays", ["x", {}, null, Array(17).fill(good.relays[0])]],
    ["relays.0.name", ["", "a b", 3]],
    ["relays.0.pin", ["", "X5", "D99", "D5 ", 5, "A16", "LED9"]],
    ["relays.0.ratedW", [0, -2200, 50001, 2200.5, "2200"]],
    ["relays.0.bootOn", ["no", 0, null]],
    ["relays.0.minOnS", [-1, 3601, 0.5]],
    ["relays.0.minOffS", [-1, 3601]],
    ["meters", [{}, "none", Array(9).fill(good.meters[0])]],
    ["meters.0.pin", ["Z1", "", 34]],
    ["meters.0.pulsesPerKwh", [0, -1000, 100001, 1000.5, "1000"]],
    ["meters.0.role", ["grid", "", 1]],
    ["meters.0.minWidthMs", [0, 1001]],
    ["meters.0.debounceMs", [-1, 101, 30]],
  ];
  for (const [path, values] of bad) {
    for (const v of values) {
      it(`refuses ${path} = ${JSON.stringify(v)?.slice(0, 40)} with a message naming ${named(path)}`, () => {
        const errors = validateConfig(withValue(path, v));
        expect(errors.length).toBeGreaterThan(0);
        expect(errors.some((e) => e.startsWith(named(path)))).toBe(true);
      });
    }
    if (!/\.\d+$/.test(path)) {
      it(`refuses a config without ${path}`, () => {
        const errors = validateConfig(withValue(path, undefined));
        expect(errors.some((e) => e.startsWith(named(path)))).toBe(true);
      });
    }
  }

  it("refuses an unknown (misspelt) field by name", () => {
    const c = copy();
    c.fuseLimtW = 11000;
    expect(validateConfig(c)).toContainEqual(expect.stringMatching(/^fuseLimtW: unknown field/));
  });

  it("refuses a client on a relay when there are no relays", () => {
    const c = copy();
    c.relays = [];
    c.clients = [{ name: "ev", kind: "energy", relay: 0, meter: -1, priority: 1 }];
    expect(validateConfig(c)).toEqual(["clients[0].relay: must be a whole number from 0 to -1 (a relay's index); got 0"]);
  });

  it("refuses a pin used twice", () => {
    const errors = validateConfig(withValue("meters.0.pin", good.relays[1].pin));
    expect(errors).toContainEqual(expect.stringMatching(/^meters\[0\]\.pin: pin D26 is already used/));
  });

  it("refuses relays on at boot that exceed the fuse", () => {
    const c = copy();
    for (const r of c.relays) r.bootOn = true;
    c.fuseLimitW = 5000;
    expect(validateConfig(c)).toContainEqual(expect.stringMatching(/^relays\[\]\.bootOn: relays on at boot draw 9900 W/));
  });

  it("says what the fix is, with the value it got", () => {
    const says = (path: string, v: unknown) => validateConfig(withValue(path, v));
    expect(says("meters.0.pulsesPerKwh", 0)).toEqual(["meters[0].pulsesPerKwh: must be a whole number from 1 to 100000 imp/kWh; got 0"]);
    expect(says("relays.0.ratedW", 2200.5)).toEqual(["relays[0].ratedW: must be a whole number from 1 to 50000 W; got 2200.5"]);
    expect(says("relays.0.pin", "Q99")).toEqual(['relays[0].pin: must be a pin name such as D5, A0 or B12; got "Q99"']);
    expect(says("relays.0.bootOn", "no")).toEqual(['relays[0].bootOn: must be one of true, false; got "no"']);
    expect(says("gridId", "a/b")).toEqual(["gridId: must be 1-24 letters, digits, '-' or '_'; got \"a/b\""]);
    expect(says("slotMin", 7)).toEqual(["slotMin: must be one of 1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60; got 7"]);
    expect(says("meters.0.debounceMs", 30)).toEqual(["meters[0].debounceMs: must be a whole number from 0 to 29 ms; got 30"]);
    expect(says("clients.0.meter", 0)).toEqual(["clients[0].meter: must be one of -1, 3, 4, 5 (a sub meter's index, or -1 for none); got 0"]);
    expect(says("clients.0.standingWh", 500)).toEqual(["clients[0].standingWh: must be absent unless kind is thermal; got 500"]);
    expect(says("clients.1.relay", 0)).toEqual(["clients[1].relay: relay 0 is already used by clients[0]"]);
    expect(says("relays.1", "x")).toEqual(['relays[1]: must be an object with name, pin, ratedW, bootOn, minOnS, minOffS; got "x"']);
    expect(says("relays", Array(17).fill(good.relays[0]))[0]).toBe("relays: must be a list of at most 16 relays; got 17");
    expect(says("broker.port", 0)).toEqual(["broker.port: must be a whole number from 1 to 65535 (a TCP port); got 0"]);
  });

  it("takes the connectivity fields, each optional, at the edges of their ranges", () => {
    expect(good.failsafeMissed ?? good.localAfterS ?? good.localOnly ?? good.importW).toBeUndefined();
    const edges: [string, unknown[]][] = [
      ["failsafeMissed", [1, 10]],
      ["localAfterS", [60, 86400]],
      ["localOnly", [true, false]],
      ["importW", [0, good.fuseLimitW]],
    ];
    for (const [key, values] of edges) for (const v of values) expect(validateConfig(withValue(key, v)), `${key} = ${v}`).toEqual([]);
  });

  it("refuses negative or absurd connectivity limits, naming the field, the range and what it got", () => {
    const says = (path: string, v: unknown) => validateConfig(withValue(path, v));
    for (const v of [0, -1, -120, 11, 1e9, 1.5, "2", null]) expect(says("failsafeMissed", v)).toEqual([`failsafeMissed: must be a whole number from 1 to 10 heartbeats; got ${JSON.stringify(v)}`]);
    for (const v of [0, -1, -900, 59, 86401, 1e12, Infinity, 900.5, "900"]) expect(says("localAfterS", v)).toEqual([`localAfterS: must be a whole number from 60 to 86400 s; got ${JSON.stringify(v)}`]);
    for (const v of ["yes", 1, 0, null, "true"]) expect(says("localOnly", v)).toEqual([`localOnly: must be true or false; got ${JSON.stringify(v)}`]);
    for (const v of [-1, -5000, good.fuseLimitW + 1, 1e9, 0.5, "0", null]) expect(says("importW", v)).toEqual([`importW: must be a whole number from 0 to ${good.fuseLimitW} W; got ${JSON.stringify(v)}`]);
  });

  it("refuses non-objects as a whole", () => {
    for (const v of [null, undefined, 1, "x", [], true]) expect(validateConfig(v)).toEqual(["config: must be a JSON object"]);
  });

  it("never throws, whatever value a field holds, and refuses every non-number in a number field", () => {
    const numeric = ["fuseLimitW", "relays.2.ratedW", "meters.1.pulsesPerKwh", "slotMin", "relays.0.minOnS"];
    const other = ["board", "relays.1.pin", "meters.3.role", "relays.0.bootOn", "gridId"];
    fc.assert(
      fc.property(fc.constantFrom(...numeric, ...other), fc.anything(), (path, v) => {
        const errors = validateConfig(withValue(path, v));
        if (numeric.includes(path) && typeof v !== "number") return errors.some((e) => e.startsWith(named(path)));
        return Array.isArray(errors);
      }),
      { numRuns: 3000 },
    );
  });

  it("never throws on random documents", () => {
    fc.assert(fc.property(fc.anything(), (v) => validateConfig(v).length > 0), { numRuns: 2000 });
  });
});

// Valid configurations generated from the rules (restated here, not taken
// from firmware/config.ts), and single breaks of each rule.

const ID_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_".split("");
const HOST_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789.-".split("");
const PINS = [
  ...Array.from({ length: 48 }, (_, i) => "D" + i),
  ..."ABCEFGH".split("").flatMap((l) => Array.from({ length: 16 }, (_, i) => l + i)),
  "LED1", "LED2", "LED3", "BTN", "BTN1", "BTN2", "BTN3",
];
const id = (max: number) => fc.string({ unit: fc.constantFrom(...ID_CHARS), minLength: 1, maxLength: max });
const int = (min: number, max: number) => fc.integer({ min, max });

const relayArb = fc.record({ name: id(24), ratedW: int(1, 50000), bootOn: fc.boolean(), minOnS: int(0, 3600), minOffS: int(0, 3600) });
const meterArb = int(1, 1000).chain((minWidthMs) =>
  fc.record({
    name: id(24),
    pulsesPerKwh: int(1, 100000),
    role: fc.constantFrom("import", "export", "pv", "sub", "sub"),
    minWidthMs: fc.constant(minWidthMs),
    debounceMs: int(0, Math.min(100, minWidthMs - 1)),
  }),
);
const clientArb = fc.record({ kind: fc.constantFrom("profile", "energy", "thermal"), priority: int(0, 7), standingWh: fc.option(int(1, 100000)) });

/** A JSON document, broken on purpose by the tests below. */
type Config = { [k: string]: any }; // eslint-disable-line @typescript-eslint/no-explicit-any

const validConfig: fc.Arbitrary<Config> = fc
  .record({
    board: fc.constantFrom("ESP32", "ESPRUINO_WIFI", "NRF52"),
    gridId: id(24),
    routerId: id(24),
    fuseLimitW: int(100, 100000),
    relays: fc.array(relayArb, { minLength: 1, maxLength: 16 }),
    meters: fc.array(meterArb, { maxLength: 8 }),
    pins: fc.shuffledSubarray(PINS, { minLength: 24, maxLength: 24 }),
    meterSaveWh: int(1, 1000),
    packetWh: int(1, 10000),
    slotMin: fc.constantFrom(1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60),
    heartbeatS: int(5, 3600),
    watchdogS: int(2, 300),
    broker: fc.option(fc.record({ host: fc.string({ unit: fc.constantFrom(...HOST_CHARS), minLength: 1, maxLength: 64 }), port: int(1, 65535), keepAliveS: int(10, 3600) })),
    telemetryS: fc.option(int(60, 86400)),
    failsafeMissed: fc.option(int(1, 10)),
    localAfterS: fc.option(int(60, 86400)),
    localOnly: fc.option(fc.boolean()),
    importW: fc.option(int(0, 100000)),
  })
  .chain((c) => {
    const subs = c.meters.flatMap((m, i) => (m.role === "sub" ? [i] : []));
    return fc
      .record({
        relays: fc.shuffledSubarray(c.relays.map((_, i) => i)),
        meters: fc.shuffledSubarray(subs, { minLength: Math.ceil(subs.length / 2) }),
        names: fc.uniqueArray(id(16), { minLength: 16, maxLength: 16 }),
        clients: fc.array(clientArb, { minLength: 16, maxLength: 16 }),
        withClients: fc.constantFrom(true, true, true, false),
      })
      .map((k) => {
        const { pins, broker, telemetryS, failsafeMissed, localAfterS, localOnly, importW, ...rest } = c;
        const relays = c.relays.map((r, i) => ({ ...r, pin: pins[i] }));
        const meters = c.meters.map((m, i) => ({ ...m, pin: pins[16 + i] }));
        // The relays on at boot fit under the fuse.
        const bootW = relays.reduce((sum, r) => sum + (r.bootOn ? r.ratedW : 0), 0);
        if (bootW > 100000) for (const r of relays) r.bootOn = false;
        const config: Config = { ...rest, relays, meters, fuseLimitW: bootW > 100000 ? c.fuseLimitW : Math.max(c.fuseLimitW, bootW) };
        if (broker !== null) config.broker = broker;
        if (telemetryS !== null) config.telemetryS = telemetryS;
        if (failsafeMissed !== null) config.failsafeMissed = failsafeMissed;
        if (localAfterS !== null) config.localAfterS = localAfterS;
        if (localOnly !== null) config.localOnly = localOnly;
        // At most the fuse limit (the one in the config: it may have been raised above for the boot relays).
        if (importW !== null) config.importW = Math.min(importW, config.fuseLimitW);
        if (k.withClients) {
          config.clients = k.relays.map((relay, i) => {
            const { kind, priority, standingWh } = k.clients[i];
            const client: Config = { name: k.names[i], kind, relay, meter: i < k.meters.length ? k.meters[i] : -1, priority };
            if (kind === "thermal" && standingWh !== null) client.standingWh = standingWh;
            return client;
          });
        }
        return config;
      });
  });

/** One broken value: it changes c and says which field the message must name, or null when c has nothing to break. */
interface Break {
  name: string;
  apply: (c: Config, pick: number) => { field: string; says?: string } | null;
}

/** A record of the list (at index pick), or null when the list is empty or absent. */
function recordOf(c: Config, list: string, pick: number): { o: Config; field: string } | null {
  if (list === "") return { o: c, field: "" };
  if (list === "broker") return c.broker ? { o: c.broker, field: "broker." } : null;
  const l = c[list] as Config[] | undefined;
  if (!l || l.length === 0) return null;
  const i = pick % l.length;
  return { o: l[i], field: list + "[" + i + "]." };
}

/** Whole numbers: [list ("" for the top level), key, min, max]. */
const NUMBERS: [string, string, number, number][] = [
  ["", "fuseLimitW", 100, 100000],
  ["", "meterSaveWh", 1, 1000],
  ["", "packetWh", 1, 10000],
  ["", "heartbeatS", 5, 3600],
  ["", "watchdogS", 2, 300],
  ["", "telemetryS", 60, 86400],
  ["", "failsafeMissed", 1, 10],
  ["", "localAfterS", 60, 86400],
  ["relays", "ratedW", 1, 50000],
  ["relays", "minOnS", 0, 3600],
  ["relays", "minOffS", 0, 3600],
  ["meters", "pulsesPerKwh", 1, 100000],
  ["meters", "minWidthMs", 1, 1000],
  ["meters", "debounceMs", 0, 100],
  ["clients", "priority", 0, 7],
  ["broker", "port", 1, 65535],
  ["broker", "keepAliveS", 10, 3600],
];

/** Other values a field refuses: [list, key, bad values]. */
const REFUSED: [string, string, unknown[]][] = [
  ["", "board", ["ESP8266", "", 1, null]],
  ["", "gridId", ["", "a/b", "x".repeat(25), 7]],
  ["", "routerId", ["", "a+b", "#", null]],
  ["", "slotMin", [0, 7, 61, 10.5, "10"]],
  ["", "localOnly", ["yes", 1, 0, null]],
  ["relays", "name", ["", "a b", "x".repeat(25), 3]],
  ["relays", "pin", ["Q99", "D48", "D99", "A16", "H16", "I1", "LED0", "LED4", "BTN0", "BTN4", "d5", "D5 ", "D05", 5]],
  ["relays", "bootOn", ["no", 0, null]],
  ["meters", "name", ["", "a.b", "x".repeat(25)]],
  ["meters", "pin", ["Z1", "", 34]],
  ["meters", "role", ["grid", "", 1]],
  ["clients", "name", ["x".repeat(17), "a b", ""]],
  ["clients", "kind", ["heater", null]],
  ["clients", "meter", [-2, 8, 0.5, "-1"]],
  ["clients", "relay", [-1, 16, 0.5]],
  ["broker", "host", ["", "h".repeat(65), "a b", "a/b", 1883]],
];

/** Fields a configuration may leave out (their defaults apply). */
const OPTIONAL = ["telemetryS", "failsafeMissed", "localAfterS", "localOnly"];

/** Fields a configuration cannot do without: [list, key]. */
const REQUIRED: [string, string][] = [
  ...NUMBERS.filter(([, key]) => !OPTIONAL.includes(key)).map(([list, key]): [string, string] => [list, key]),
  ...REFUSED.filter(([, key]) => !OPTIONAL.includes(key)).map(([list, key]): [string, string] => [list, key]),
  ["", "relays"],
  ["", "meters"],
];

const BREAKS: Break[] = [
  ...NUMBERS.flatMap(([list, key, min, max]): Break[] =>
    [min - 1, max + 1, min + 0.5, String(min), null].map((v) => ({
      name: `${list}.${key} = ${JSON.stringify(v)}`,
      apply: (c, pick) => {
        const r = recordOf(c, list, pick);
        if (!r) return null;
        r.o[key] = v;
        return { field: r.field + key, says: `from ${min} to ` };
      },
    })),
  ),
  ...REFUSED.flatMap(([list, key, values]): Break[] =>
    values.map((v) => ({
      name: `${list}.${key} = ${JSON.stringify(v)}`,
      apply: (c, pick) => {
        const r = recordOf(c, list, pick);
        if (!r) return null;
        r.o[key] = v;
        return { field: r.field + key, says: "got " + JSON.stringify(v) };
      },
    })),
  ),
  ...REQUIRED.map(([list, key]): Break => ({
    name: `${list}.${key} missing`,
    apply: (c, pick) => {
      const r = recordOf(c, list, pick);
      if (!r) return null;
      delete r.o[key];
      return { field: r.field + key };
    },
  })),
  ...["", "relays", "meters", "clients", "broker"].map((list): Break => ({
    name: `${list}: an unknown (misspelt) field`,
    apply: (c, pick) => {
      const r = recordOf(c, list, pick);
      if (!r) return null;
      r.o.colour = "red";
      return { field: r.field + "colour", says: "unknown field" };
    },
  })),
  ...["relays", "meters", "clients"].flatMap((list): Break[] => [
    {
      name: `${list}: a record that is not an object`,
      apply: (c, pick) => {
        if (!c[list]?.length) return null;
        const i = pick % c[list].length;
        c[list][i] = [1];
        return { field: `${list}[${i}]`, says: "an object with name, " };
      },
    },
    {
      name: `${list}: not a list`,
      apply: (c) => {
        if (!c[list]) return null;
        c[list] = { 0: c[list][0] };
        return { field: list, says: "a list" };
      },
    },
    {
      name: `${list}: too many`,
      apply: (c) => {
        if (!c[list]?.length) return null;
        const max = list === "meters" ? 8 : 16;
        while (c[list].length <= max) c[list].push(c[list][0]);
        return { field: list, says: `at most ${max} ` };
      },
    },
  ]),
  {
    name: "broker: not an object",
    apply: (c) => {
      if (!c.broker) return null;
      c.broker = "127.0.0.1:1883";
      return { field: "broker", says: "an object with host, port, keepAliveS" };
    },
  },
  {
    name: "a pin used twice, by relays or meters",
    apply: (c, pick) => {
      const owners = [...c.relays.map((r: Config, i: number) => ["relays", i, r]), ...c.meters.map((m: Config, i: number) => ["meters", i, m])];
      if (owners.length < 2) return null;
      const later = 1 + (pick % (owners.length - 1));
      const earlier = pick % later;
      owners[later][2].pin = owners[earlier][2].pin;
      return { field: `${owners[later][0]}[${owners[later][1]}].pin`, says: "is already used by " + owners[earlier][0] };
    },
  },
  ...["relay", "name", "meter"].map((key): Break => ({
    name: `two clients with the same ${key}`,
    apply: (c, pick) => {
      const l = c.clients as Config[] | undefined;
      if (!l || l.length < 2) return null;
      // The one copied from has a sub-meter (-1, none, may repeat).
      const sources = l.flatMap((o, i) => (key !== "meter" || o.meter >= 0 ? [i] : []));
      if (sources.length === 0) return null;
      const from = sources[pick % sources.length];
      const to = (from + 1 + (pick % (l.length - 1))) % l.length;
      l[to][key] = l[from][key];
      return { field: `clients[${Math.max(from, to)}].${key}`, says: `is already used by clients[${Math.min(from, to)}]` };
    },
  })),
  {
    name: "a client whose relay is past the last relay",
    apply: (c, pick) => {
      if (!c.clients?.length) return null;
      const i = pick % c.clients.length;
      c.clients[i].relay = c.relays.length;
      return { field: `clients[${i}].relay`, says: `from 0 to ${c.relays.length - 1} ` };
    },
  },
  {
    name: "a client whose meter is not a sub-meter",
    apply: (c, pick) => {
      const other = c.meters.findIndex((m: Config) => m.role !== "sub");
      if (!c.clients?.length || other < 0) return null;
      const i = pick % c.clients.length;
      c.clients[i].meter = other;
      return { field: `clients[${i}].meter`, says: "a sub meter" };
    },
  },
  {
    name: "a standing request on a client that is not thermal",
    apply: (c, pick) => {
      if (!c.clients?.length) return null;
      const i = pick % c.clients.length;
      c.clients[i].standingWh = 100;
      c.clients[i].kind = "energy";
      return { field: `clients[${i}].standingWh`, says: "thermal" };
    },
  },
  {
    name: "a debounce as long as the shortest pulse",
    apply: (c, pick) => {
      const r = recordOf(c, "meters", pick);
      if (!r) return null;
      r.o.minWidthMs = 1 + (pick % 100);
      r.o.debounceMs = r.o.minWidthMs;
      return { field: r.field + "debounceMs" };
    },
  },
  ...[-1, 1, 0.5, "0", null].map((v): Break => ({
    name: `importW = ${JSON.stringify(v)} (1 meaning one above fuseLimitW)`,
    apply: (c) => {
      c.importW = v === 1 ? c.fuseLimitW + 1 : v;
      return { field: "importW", says: `from 0 to ${c.fuseLimitW} W` };
    },
  })),
  {
    name: "relays on at boot above the fuse",
    apply: (c, pick) => {
      for (const r of c.relays) r.bootOn = false;
      const r = c.relays[pick % c.relays.length];
      r.bootOn = true;
      r.ratedW = 5000;
      c.fuseLimitW = 4999;
      return { field: "relays[].bootOn", says: "draw 5000 W" };
    },
  },
];

describe("configuration validation, by property", () => {
  it("accepts every valid configuration, at the edges of every range too", () => {
    fc.assert(
      fc.property(validConfig, (c) => {
        expect(validateConfig(c)).toEqual([]);
      }),
      { numRuns: 1000 },
    );
  });

  it("refuses any single broken value with a message naming its field, what is allowed and what it got", () => {
    const applied: { [name: string]: number } = {};
    fc.assert(
      fc.property(validConfig, fc.nat(), (c, pick) => {
        for (const b of BREAKS) {
          const broken = structuredClone(c);
          const expected = b.apply(broken, pick);
          if (!expected) continue;
          applied[b.name] = (applied[b.name] ?? 0) + 1;
          const errors = validateConfig(broken);
          const named = errors.filter((e) => e.startsWith(expected.field + ": "));
          expect(named, `${b.name}: ${JSON.stringify(errors)}`).not.toEqual([]);
          if (expected.says) expect(named.join("\n"), b.name).toContain(expected.says);
        }
      }),
      { numRuns: 150 },
    );
    // Every break was tried on many configurations, none skipped for want of a record.
    for (const b of BREAKS) expect(applied[b.name] ?? 0, b.name).toBeGreaterThan(20);
  });
});
