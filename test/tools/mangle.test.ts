// Which property names the build shortens (tools/build/mangle.ts): the
// firmware's own, never one that the board's configuration, the console,
// the Espruino API or a bundle's compile-time input uses.

import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { bootRouter } from "../../firmware/router";
import { SimBoard } from "../../hal/sim/board";
import { manglePattern, manglePlan } from "../../tools/build/mangle";
import { flashConfig, projectConfig } from "../../tools/sim/world";

const root = fileURLToPath(new URL("../..", import.meta.url));
const router = manglePlan(root, fileURLToPath(new URL("../../firmware/main.ts", import.meta.url)));

/** Every key of a value, at every depth. */
function keysOf(v: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(v)) for (const x of v) keysOf(x, out);
  else if (v !== null && typeof v === "object") {
    for (const [k, x] of Object.entries(v)) {
      out.add(k);
      keysOf(x, out);
    }
  }
  return out;
}

const shortened = (names: Iterable<string>) => [...names].filter((n) => router.mangle.includes(n));

describe("the names the device bundle shortens", () => {
  it("are the firmware's own: class members, internal records, codec options", () => {
    expect(router.mangle).toEqual(expect.arrayContaining(["lastSwitchMs", "applyEntry", "timerDueMs", "sendDue", "connectFrame"]));
    expect(router.mangle.length).toBeGreaterThan(200);
  });

  it("never a key of the board's configuration (sden.cfg, flash.config.json)", () => {
    expect(shortened(keysOf(projectConfig()))).toEqual([]);
    // Optional keys the project's configuration leaves out.
    expect(shortened(["standingWh", "telemetryS", "keepAliveS", "debounceMs"])).toEqual([]);
  });

  it("never a name of the console: R's methods, R.status(), R.request()'s spec and answer, R.requests()", () => {
    const board = new SimBoard();
    flashConfig(board.flash, projectConfig());
    board.start((hal) => bootRouter(hal, { version: "test" }));
    const R = board.globals.R as { [name: string]: (...a: unknown[]) => unknown };
    const seen = new Set(Object.keys(R));
    keysOf(R.status(), seen);
    keysOf(R.request({ client: "ev", endMin: 60, wh: 100 }), seen);
    expect(seen).toContain("pendingAcks");
    expect(shortened(seen)).toEqual([]);
    expect(shortened(["client", "startMin", "endMin", "wh", "maxW", "profileWh", "whPerWindow", "windowMin"])).toEqual([]);
    expect(shortened(["id", "client", "state", "earliest", "end", "done"])).toEqual([]);
    board.powerCut(false);
  });

  it("never a name of a built-in or of the Espruino API", () => {
    const api = ["length", "push", "subarray", "set", "write", "on", "end", "connect", "host", "port", "repeat", "edge", "debounce", "state", "time", "lastTime"];
    const modules = ["SHA256", "readArrayBuffer", "getStats", "trashBytes", "eraseAll", "getFree", "compact", "memory", "usage", "free", "total", "CRC32", "toUint8Array", "enableWatchdog"];
    expect(shortened([...api, ...modules, "message", "toString", "constructor", "prototype"])).toEqual([]);
  });

  it("in the protocol check, never a key of its input (tools/device/protocol-check.device.ts)", () => {
    const check = manglePlan(root, fileURLToPath(new URL("../../tools/device/protocol-check.device.ts", import.meta.url)));
    const input = ["hmac", "key", "frames", "limits", "cbor", "type", "seq", "time", "body"];
    expect(input.filter((n) => check.mangle.includes(n))).toEqual([]);
    // The router's own `type` is shortened there: the plan follows the bundle.
    expect(router.mangle).toContain("type");
  });

  it("a string literal that can only be text (an argument typed string, a part of a concatenation) does not keep a name whole; one used as a key does", () => {
    const fixture = fileURLToPath(new URL("../fixtures/mangle", import.meta.url));
    const plan = manglePlan(fixture, fileURLToPath(new URL("../fixtures/mangle/firmware/main.ts", import.meta.url)));
    expect(plan.mangle).toEqual(expect.arrayContaining(["queueSize", "retryMs"]));
    expect(plan.keptOwn).toEqual(expect.arrayContaining(["listedMs", "quotedMs"]));
  });

  it("make an esbuild pattern that matches exactly those names", () => {
    const re = manglePattern(["qHead", "lastSwitchMs"]);
    expect(["qHead", "lastSwitchMs", "qHeads", "xqHead", "length"].filter((n) => re.test(n))).toEqual(["qHead", "lastSwitchMs"]);
    expect(manglePattern([]).test("")).toBe(false);
  });
});
