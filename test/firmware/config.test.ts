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
    expect(validateConfig(withValue("meters.0.pulsesPerKwh", 0))).toEqual([
      "meters[0].pulsesPerKwh: must be from 1 to 100000 impulses per kWh (see the meter's label); got 0",
    ]);
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
