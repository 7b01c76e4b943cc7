// tools/flash/flash.schema.json and tools/flash/config.ts: every field of
// flash.config.json refused with a message naming it, and the schema in
// agreement with the router's own validator (firmware/config.ts).

import { readFileSync } from "node:fs";
import { Ajv } from "ajv";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { validateConfig } from "../../firmware/config";
import { boardFileFor, boardPart, boardPins, checkFlashConfig, fieldName, SCHEMA } from "../../tools/flash/config";

const shipped = JSON.parse(readFileSync(new URL("../../flash.config.json", import.meta.url), "utf8"));
const copy = (): { [k: string]: unknown } => JSON.parse(JSON.stringify(shipped));

type Schema = { type?: string; minimum?: number; maximum?: unknown; enum?: unknown[]; pattern?: string; maxLength?: number; minLength?: number; $ref?: string; properties?: { [k: string]: Schema }; items?: Schema; required?: string[] };

const resolveRef = (s: Schema): Schema => (s.$ref ? { ...SCHEMA.definitions[s.$ref.split("/").pop()!], ...s, $ref: undefined } : s);

/** Every leaf field of the schema as a JSON pointer into the shipped config (lists at their first record), with its schema. */
function leaves(s: Schema, path: string, out: [string, Schema][]): [string, Schema][] {
  s = resolveRef(s);
  if (s.properties) for (const [k, v] of Object.entries(s.properties)) leaves(v, `${path}/${k}`, out);
  else if (s.items) leaves(s.items, `${path}/0`, out);
  else out.push([path, s]);
  return out;
}

/** Values the field must refuse, from its own schema: wrong types, the numbers just outside its range, a value not in its list, a string its pattern refuses. */
function badValues(s: Schema): unknown[] {
  s = resolveRef(s);
  if (s.enum) return ["not-one-of-them", null, ...(s.enum.every((v) => typeof v === "number") ? [7, 61] : [1])];
  if (s.type === "integer") return ["12", 1.5, null, true, ...(s.minimum !== undefined ? [s.minimum - 1] : []), ...(typeof s.maximum === "number" ? [s.maximum + 1] : [])];
  if (s.type === "boolean") return ["true", 1, null];
  if (s.type === "string") return [42, null, ...(s.minLength ? [""] : []), ...(s.maxLength ? ["a".repeat(s.maxLength + 1)] : []), ...(s.pattern ? ["tab\there"] : [])];
  throw new Error("a field type the test does not know: " + JSON.stringify(s));
}

/** The config with the value at a JSON pointer set (undefined: removed). */
function withValue(c: { [k: string]: unknown }, pointer: string, v: unknown): { [k: string]: unknown } {
  const parts = pointer.split("/").slice(1);
  let o = c as { [k: string]: unknown };
  for (const p of parts.slice(0, -1)) {
    if (o[p] === undefined) o[p] = {};
    o = o[p] as { [k: string]: unknown };
  }
  const last = parts[parts.length - 1];
  if (v === undefined) delete o[last];
  else o[last] = v;
  return c;
}

describe("flash.config.json schema", () => {
  it("accepts the shipped flash.config.json", () => {
    expect(checkFlashConfig(shipped)).toEqual([]);
  });

  it("has a description on every field, its range or allowed values in it", () => {
    for (const [path, s] of leaves(SCHEMA, "", [])) {
      const d = resolveRef(s) as Schema & { description?: string };
      expect(d.description, path).toMatch(/\w/);
    }
  });

  const fields = leaves(SCHEMA, "", []);
  // One case per field and bad value (the connectivity fields are optional: set them first).
  const cases = fields.flatMap(([path, s]) => badValues(s).map((v) => [path, v] as [string, unknown]));
  it.each(cases)("refuses %s = %j with a message naming the field", (path, v) => {
    const problems = checkFlashConfig(withValue(copy(), path, v));
    const field = fieldName(path);
    expect(problems.some((p) => p.startsWith(field + ":")), `${field} = ${JSON.stringify(v)}: ${problems.join(" | ")}`).toBe(true);
    // Each message says what is wrong and what was got or how to fix it.
    for (const p of problems) expect(p).toMatch(/: (must|missing|unknown|an NRF52)/);
  });

  it("names every missing required field and what it is for", () => {
    for (const k of SCHEMA.required as string[]) {
      const c = copy();
      delete c[k];
      const problems = checkFlashConfig(c);
      expect(problems.find((p) => p.startsWith(k + ": missing; add it (")), k).toBeDefined();
    }
  });

  it("names a misspelt field instead of ignoring it", () => {
    const c = copy();
    (c.relays as { [k: string]: unknown }[])[1].ratedWatts = 100;
    c.slotMinutes = 10;
    const problems = checkFlashConfig(c);
    expect(problems).toContain("slotMinutes: unknown field; expected one of " + Object.keys(SCHEMA.properties).join(", ") + " (a misspelt field would otherwise be ignored)");
    expect(problems.find((p) => p.startsWith("relays[1].ratedWatts: unknown field"))).toBeDefined();
  });

  it("refuses a debounce filter as long as the shortest pulse, and an import above the fuse", () => {
    const c = copy();
    (c.meters as { [k: string]: unknown }[])[2].debounceMs = 30;
    c.importW = 11001;
    expect(checkFlashConfig(c)).toEqual([
      'meters[2].debounceMs: must be below 30; got 30 (Contact bounce filter, 0-100 ms and below minWidthMs (or real pulses are filtered out).)',
      "importW: must be at most 11000; got 11001 (Grid import the local scheduler may plan for, 0 W up to fuseLimitW.)",
    ]);
  });

  it("refuses what only the router's validator can see: a pin used twice, a client's relay past the list", () => {
    const c = copy();
    (c.meters as { pin: string }[])[0].pin = "D25";
    (c.clients as { relay: number }[])[3].relay = 9;
    expect(checkFlashConfig(c)).toEqual(["meters[0].pin: pin D25 is already used by relays[0]", "clients[3].relay: must be a whole number from 0 to 3 (a relay's index); got 9"]);
  });

  it("refuses WiFi on a board that has none, and a standing request on a client that is not thermal", () => {
    const c = copy();
    c.board = "NRF52";
    // Meter pins the nRF52 has (the shipped ones are ESP32 input pins).
    (c.meters as { pin: string }[]).forEach((m, i) => (m.pin = "D" + (2 + i)));
    (c.clients as { standingWh?: number }[])[0].standingWh = 500;
    expect(checkFlashConfig(c)).toEqual(['clients[0].standingWh: must be absent unless kind is "thermal"; got 500', "flash.wifi: an NRF52 board has no WiFi; remove flash.wifi"]);
  });

  it("refuses a connection that is no serial port, BLE address or tcp://host:port", () => {
    for (const port of ["ttyUSB0", "tcp://host", "aa:bb:cc:dd:ee", "http://x:1"]) {
      const problems = checkFlashConfig(withValue(copy(), "/flash/connection/port", port));
      expect(problems[0], port).toMatch(/^flash\.connection\.port: must match pattern .*; got .* \(A serial port \(\/dev\/ttyUSB0, COM3\), a BLE address/);
    }
    for (const port of ["/dev/ttyUSB0", "COM3", "aa:bb:cc:dd:ee:ff", "tcp://192.168.1.50:23"]) expect(checkFlashConfig(withValue(copy(), "/flash/connection/port", port))).toEqual([]);
  });
});

describe("pins against the board's (tools/flash/boards/*.json), before anything is sent", () => {
  const withPins = (board: string, relayPin: string, meterPin = "D34", spareOf = board) => {
    const c = copy();
    c.board = board;
    if (board !== "ESPRUINO_WIFI") delete (c as { flash?: { wifi?: unknown } }).flash!.wifi;
    (c.relays as { pin: string }[])[0].pin = relayPin;
    (c.meters as { pin: string }[])[0].pin = meterPin;
    // The other pins as this board names them, none of them wrong.
    const spare: { [b: string]: string[] } = { ESP32: ["D26", "D27", "D14", "D32", "D33", "D18", "D19", "D21"], ESPRUINO_WIFI: ["B3", "B4", "B5", "B6", "B7", "B8", "B9", "B10"], NRF52: ["D2", "D3", "D4", "D5", "D6", "D7", "D8", "D9"] };
    (c.relays as { pin: string }[]).slice(1).forEach((r, i) => (r.pin = spare[spareOf][i]));
    (c.meters as { pin: string }[]).slice(1).forEach((m, i) => (m.pin = spare[spareOf][3 + i]));
    return c;
  };
  const ESP32_OUTPUTS = "D0, D2, D4-D5, D12-D19, D21-D23, D25-D27, D32-D33";

  it("refuses a pin the ESP32 does not have, naming the field and the pins it has", () => {
    expect(checkFlashConfig(withPins("ESP32", "A0"))).toEqual([`relays[0].pin: A0 does not exist on ESP32; use an output pin: ${ESP32_OUTPUTS}`]);
    expect(checkFlashConfig(withPins("ESP32", "H15"))).toEqual([`relays[0].pin: H15 does not exist on ESP32; use an output pin: ${ESP32_OUTPUTS}`]);
    expect(checkFlashConfig(withPins("ESP32", "D20"))).toEqual([`relays[0].pin: D20 does not exist on ESP32; use an output pin: ${ESP32_OUTPUTS}`]);
    expect(checkFlashConfig(withPins("ESP32", "D25", "D40"))).toEqual([`meters[0].pin: D40 does not exist on ESP32; use one of D0, D2, D4-D5, D12-D19, D21-D23, D25-D27, D32-D39`]);
  });

  it("refuses an ESP32 input-only pin driving a relay, and takes it for a meter", () => {
    for (const pin of ["D34", "D35", "D36", "D37", "D38", "D39"]) {
      expect(checkFlashConfig(withPins("ESP32", pin, "D25"))).toEqual([`relays[0].pin: ${pin} is input-only on ESP32 and cannot drive a relay; use an output pin: ${ESP32_OUTPUTS} (an input-only pin suits a meter)`]);
      expect(checkFlashConfig(withPins("ESP32", "D25", pin))).toEqual([]);
    }
  });

  it("refuses the pins wired to the ESP32's flash chip and its serial console", () => {
    expect(checkFlashConfig(withPins("ESP32", "D6"))).toEqual([`relays[0].pin: D6 is wired to the module's SPI flash chip on ESP32; use an output pin: ${ESP32_OUTPUTS}`]);
    expect(checkFlashConfig(withPins("ESP32", "D25", "D1"))[0]).toMatch(/^meters\[0\]\.pin: D1 is the serial console's TX \(USB, used for flashing\) on ESP32; use one of D0, D2/);
  });

  it("checks an Espruino WiFi's and an nRF52's pins as Espruino names them", () => {
    expect(checkFlashConfig(withPins("ESPRUINO_WIFI", "A0", "B1"))).toEqual([]);
    expect(checkFlashConfig(withPins("ESPRUINO_WIFI", "LED1", "BTN"))).toEqual([]);
    expect(checkFlashConfig(withPins("ESPRUINO_WIFI", "A2", "B1"))[0]).toMatch(/^relays\[0\]\.pin: A2 is the ESP8266 WiFi module's serial RX on ESPRUINO_WIFI; use an output pin: A0-A1, A4-A8, A10, B0-B1, B3-B10, B13-B15/);
    expect(checkFlashConfig(withPins("ESPRUINO_WIFI", "D25", "B1"))[0]).toMatch(/^relays\[0\]\.pin: D25 does not exist on ESPRUINO_WIFI; use an output pin: A0/);
    expect(checkFlashConfig(withPins("ESPRUINO_WIFI", "B1", "BTN"))).toEqual([]);
    expect(checkFlashConfig(withPins("ESPRUINO_WIFI", "BTN", "B1"))[0]).toMatch(/^relays\[0\]\.pin: BTN is input-only on ESPRUINO_WIFI/);
    expect(checkFlashConfig(withPins("NRF52", "D31", "D0"))).toEqual([]);
    expect(checkFlashConfig(withPins("NRF52", "D32", "D0"))).toEqual(["relays[0].pin: D32 does not exist on NRF52; use an output pin: D0-D31"]);
  });

  it("checks against the board description the upload uses (--board-file)", () => {
    const linux = new URL("../../tools/flash/boards/LINUX.json", import.meta.url).pathname;
    expect(checkFlashConfig(withPins("ESP32", "D11", "D30", "NRF52"), linux)).toEqual([]);
    expect(checkFlashConfig(withPins("ESP32", "D11", "D33", "NRF52"), linux)).toEqual(["meters[0].pin: D33 does not exist on ESP32 (as LINUX.json describes it); use one of D0-D32"]);
  });

  it("every board file lists its pins, no pin twice, every name one the schema takes", () => {
    const pattern = new RegExp(SCHEMA.definitions.pin.pattern);
    for (const board of [...SCHEMA.properties.board.enum, "LINUX"]) {
      const pins = boardPins(boardFileFor(board))!;
      const all = [...pins.outputs, ...pins.inputOnly, ...Object.keys(pins.reserved)];
      expect(pins.outputs.length, board).toBeGreaterThan(0);
      expect(new Set(all).size, board).toBe(all.length);
      for (const p of all) expect(p, board).toMatch(pattern);
    }
  });
});

// The schema alone (without the router's validator, which checkFlashConfig adds).
const schemaOnly = new Ajv({ allErrors: true, $data: true, strict: false }).compile(SCHEMA);

/**
 * A value for a field, valid or not: numbers around and inside a range,
 * other types, and for pins and names, strings in and out of the rule.
 * Pins come from a set the shipped config does not use (a pin twice is the
 * router's rule alone, tested above), and client indexes stay in the lists.
 */
const anyValue = fc.oneof(
  fc.integer({ min: -2, max: 12 }),
  fc.integer({ min: -100, max: 200000 }),
  fc.constantFrom(0, 1, 2, 5, 7, 10, 15, 16, 30, 59, 60, 61, 99, 100, 101, 1000, 1001, 3600, 3601, 10000, 10001, 50000, 50001, 86400, 86401, 100000, 100001),
  fc.constantFrom("D2", "A9", "H15", "H16", "D48", "LED3", "BTN4", "", "x y", "ok-name", "a".repeat(24), "a".repeat(25), "ESP32", "NRF52", "thermal", "pv", "sub", "energy"),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.double({ noNaN: true, min: -10, max: 10 }),
);

/** The values at the edges of a field's rule as the schema states it (the router's rule may differ: that is what the test looks for). */
function edges(s: Schema): unknown[] {
  s = resolveRef(s);
  if (s.enum) return [...s.enum, ...s.enum.map((v) => (typeof v === "number" ? v + 1 : v + "x"))];
  if (s.type === "integer") {
    const max = typeof s.maximum === "number" ? s.maximum : 11000;
    return [s.minimum! - 1, s.minimum, Math.floor((s.minimum! + max) / 2), max, max + 1];
  }
  if (s.type === "string") return [s.maxLength ? "a".repeat(s.maxLength) : "a", s.maxLength ? "a".repeat(s.maxLength + 1) : "", "a-b_C9", "a.b"];
  return [true, false, "true"];
}

const schemaAtPath = new Map(leaves(SCHEMA, "", []));
const valueFor = (path: string) => fc.oneof(fc.constantFrom(...edges(schemaAtPath.get(path.replace("/1/", "/0/"))!)), anyValue);

const mutablePaths = leaves(SCHEMA, "", [])
  .map(([p]) => p)
  // Which relay or meter a client has, its name and the meters' pins are
  // checked across records by the router alone (tested above).
  .filter((p) => !p.startsWith("/flash") && !/\/clients\/0\/(relay|meter|name)$/.test(p) && !/\/meters\/0\/pin$/.test(p))
  .flatMap((p) => (/\/(relays|meters|clients)\/0\//.test(p) && !/\/pin$/.test(p) ? [p, p.replace("/0/", "/1/")] : [p]));

describe("the schema and firmware/config.ts agree", () => {
  it("accept and refuse the same configurations (fast-check)", () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...mutablePaths).chain((p) => fc.tuple(fc.constant(p), valueFor(p))), { minLength: 1, maxLength: 3 }), (changes) => {
        const c = copy();
        // The first relay's pin only changes to pins nothing else uses (anyValue has none of the shipped ones).
        for (const [path, v] of changes) withValue(c, path, v);
        const board = boardPart(c) as unknown as { [k: string]: unknown };
        // bootOn relays above the fuse is the router's cross-field rule (not a schema's).
        const relays = board.relays as { bootOn?: unknown; ratedW?: unknown }[];
        const bootW = relays.reduce((w, r) => w + (r.bootOn === true && Number.isInteger(r.ratedW) ? (r.ratedW as number) : 0), 0);
        if (Number.isInteger(board.fuseLimitW) && bootW > (board.fuseLimitW as number)) return;
        const bySchema = schemaOnly(c);
        const byRouter = validateConfig(board).length === 0;
        expect(bySchema, `schema ${bySchema}, router ${byRouter}: ${JSON.stringify(changes)} ${JSON.stringify(schemaOnly.errors?.[0])} ${validateConfig(board)[0]}`).toBe(byRouter);
      }),
      { numRuns: 3000 },
    );
  });
});
