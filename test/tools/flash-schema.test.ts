// tools/flash/flash.schema.json and tools/flash/config.ts: every field of
// flash.config.json refused with a message naming it, and the schema in
// agreement with the router's own validator (firmware/config.ts).

import { readFileSync } from "node:fs";
import { Ajv } from "ajv";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { validateConfig } from "../../firmware/config";
import { boardPart, checkFlashConfig, fieldName, SCHEMA } from "../../tools/flash/config";

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
