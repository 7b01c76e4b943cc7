// The shipped file, not the sources: build/router.js as npm run build makes
// it (minified, the firmware's own property names shortened), booted in Node
// on the Espruino stand-in over a simulated board (bundleFirmware in
// test/support/espruino-standin.ts). Every other Node test runs the
// TypeScript sources; here a name the build shortened but something outside
// the bundle reads (the board's configuration, the console's answers, an
// Espruino API) shows up as a failure.

import { mkdtempSync, readFileSync } from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REQ_ERRORS } from "../../firmware/agent";
import type { RouterConfig } from "../../firmware/config";
import { bootRouter, CONFIG_FILE, KEY_FILE } from "../../firmware/router";
import { RQ_STATE_NAMES } from "../../firmware/requests";
import { SimBoard } from "../../hal/sim/board";
import { build, type BuildResult } from "../../tools/build/build";
import { flashConfig, projectConfig, World } from "../../tools/sim/world";
import { bundleFirmware } from "../support/espruino-standin";

/** The console as a technician uses it (firmware/router.ts bootRouter). */
interface Console {
  status(): { [key: string]: unknown } & { meters: { [key: string]: unknown }[] };
  restart(): void;
  request(spec: { [key: string]: unknown }): { [key: string]: unknown };
  requests(): { [key: string]: unknown }[];
}

/** The keys of a value at every depth, e.g. {a: [{b: 1}]} -> {a: [{b: "number"}]}. */
function shape(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(shape);
  if (v !== null && typeof v === "object") return Object.fromEntries(Object.keys(v).sort().map((k) => [k, shape((v as { [k: string]: unknown })[k])]));
  return typeof v;
}

/** A loopback port nobody listens on: the router's broker connection is refused. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((r) => server.close(r));
  return port;
}

/** A board with the configuration and a 32-byte key in flash, as the flasher leaves it. */
function flashedBoard(config: RouterConfig): SimBoard {
  const board = new SimBoard();
  flashConfig(board.flash, config);
  board.flash.write(KEY_FILE, new Uint8Array(32).map((_, i) => i + 1));
  return board;
}

/** Pulses of 50 ms every 100 ms on a meter input. */
function pulse(board: SimBoard, pin: string, n: number): void {
  for (let i = 0; i < n; i++) {
    board.pins.drive(pin, 1);
    board.run(50);
    board.pins.drive(pin, 0);
    board.run(50);
  }
}

let bundle: BuildResult;
let code: string;

beforeAll(async () => {
  bundle = await build({ outFile: join(mkdtempSync(join(tmpdir(), "sden-bundle-")), "router.js") });
  code = readFileSync(bundle.file, "latin1");
}, 60_000);

describe("the device bundle on the Espruino stand-in", () => {
  let config: RouterConfig;
  let board: SimBoard;
  const R = () => board.globals.R as Console;

  beforeAll(async () => {
    config = { ...projectConfig(), broker: { host: "127.0.0.1", port: await closedPort(), keepAliveS: 60 } };
    board = flashedBoard(config);
    board.start(bundleFirmware(code));
    board.run(2000);
  });
  afterAll(() => board?.powerCut(false));

  it("is the shipped kind of bundle: the firmware's own property names shortened", () => {
    expect(bundle.mangled).toBeGreaterThan(100);
    expect(code).not.toMatch(/\.lastSwitchMs\b/);
    expect(code).toMatch(/\.fuseLimitW\b/);
  });

  it("boots from the configuration in flash and prints its banner", () => {
    expect(board.uncaught).toEqual([]);
    // The values first (board, ids, fuse, packet, slot, heartbeat, watchdog...), then a line per record.
    const values = Object.fromEntries(Object.entries(config).filter(([, v]) => !Array.isArray(v)));
    expect(board.lines[0]).toBe(`sden-router ${bundle.version} (config from ${CONFIG_FILE}) ${JSON.stringify(values)}`);
    const r = config.relays[2];
    expect(board.lines).toContain(`relays 2 ${JSON.stringify(r)}`);
    expect(board.lines).toContain("boot 1; type R.status() for the state");
  });

  it("R.status() answers the documented keys with the board's values", () => {
    pulse(board, config.meters[0].pin, 5);
    const s = R().status();
    expect(s).toMatchObject({ fw: bundle.version, state: "running", errors: [], relays: [0, 0, 0, 0], loadW: 0, fuseLimitW: config.fuseLimitW, boot: 1, link: "offline", time: 0, slot: 0, requests: 0, pendingAcks: 0, flashFull: false });
    expect(s.uptimeS).toBeGreaterThanOrEqual(2);
    expect(Object.keys(s.mem as object).sort()).toEqual(["free", "total", "used"]);
    expect(s.meters.map((m) => m.name)).toEqual(config.meters.map((m) => m.name));
    // 1000 impulses per kWh: 5 pulses are 5 Wh.
    expect(s.meters[0]).toMatchObject({ pulses: 5, wh: 5, noise: 0 });
  });

  it("R.status() has the same keys at every depth as the sources' router", () => {
    const ref = flashedBoard(config);
    ref.start((hal) => bootRouter(hal, { version: "sources" }));
    ref.run(2000);
    expect(shape(R().status())).toEqual(shape((ref.globals.R as Console).status()));
    ref.powerCut(false);
  });

  it("R.request() answers {ok, id, error, code}: refused until the server has given the time", () => {
    expect(R().request({ client: "ev", endMin: 300, wh: 5000 })).toEqual({ ok: false, id: 0, error: REQ_ERRORS[3], code: 3 });
    expect(R().request({ client: "sauna", endMin: 300, wh: 5000 })).toEqual({ ok: false, id: 0, error: 'unknown client "sauna"', code: 1 });
    expect(R().requests()).toEqual([]);
  });

  it("R.restart() saves the totals; the next boot restores them and counts the boot", () => {
    R().restart();
    board.run(1000);
    expect(board.boots.map((b) => b.reason)).toEqual(["power-on", "restart"]);
    const s = R().status();
    expect(s).toMatchObject({ state: "running", boot: 2 });
    expect(s.meters[0]).toMatchObject({ pulses: 5, wh: 5 });
    expect(board.lines.filter((l) => l.startsWith("sden-router ") && l.includes("config from"))).toHaveLength(2);
    expect(board.uncaught).toEqual([]);
  });
});

describe("a simulated day of the device bundle against the embedded broker and the reference server", () => {
  let w: World;
  /** R.requests() at 13:00, after the household's last request. */
  let listed: ReturnType<World["R"]["requests"]>;
  beforeAll(async () => {
    w = await World.create({ scenario: "sunny-summer", seed: 1, firmware: bundleFirmware(code) });
    await w.run(13 * 3_600_000);
    listed = w.R.requests();
    await w.run(11 * 3_600_000);
  }, 120_000);
  afterAll(async () => {
    await w?.close();
  });

  it("runs the bundle, not the sources, from the configuration the world flashed", () => {
    expect(w.router).toBeUndefined();
    expect(w.board.lines[0]).toContain(`sden-router ${bundle.version} (config from`);
    expect(w.board.lines[0]).toContain(`"board":"${w.config.board}"`);
    expect(w.board.lines[0]).toContain(`(config from ${CONFIG_FILE})`);
    expect(w.reflashes).toBe(1);
    expect(w.board.uncaught).toEqual([]);
  });

  it("takes the time from the server and is online", () => {
    const s = w.R.status();
    expect(s.link).toBe("online");
    expect(Math.abs(s.time - w.nowS())).toBeLessThanOrEqual(5);
    expect(s.slot).toBe(Math.floor(s.time / w.scenario.slotS));
  });

  it("takes the household's console requests once it has the time, and the server schedules them", () => {
    expect(w.userRequests.length).toBe(w.scenario.requests.length);
    const server = w.server.router(w.config.gridId, w.config.routerId);
    for (const u of w.userRequests) {
      expect(u, u.request.appliance).toMatchObject({ ok: true });
      const q = server?.requests.get(u.id);
      expect(q?.status, `request ${u.id}`).not.toBe("rejected");
      expect(q?.plan.reduce((a, b) => a + b, 0), `request ${u.id}`).toBeGreaterThan(0);
    }
    for (const a of w.household.appliances) expect(a.counters.deadlinesMissed, a.name).toBe(0);
    // R.requests() listed the open ones with the console's keys and state names.
    expect(listed.length).toBeGreaterThan(0);
    expect(listed.map((r) => r.id)).toContain(w.userRequests[w.userRequests.length - 1].id);
    for (const r of listed) {
      expect(Object.keys(r).sort()).toEqual(["client", "done", "doneBy", "earliest", "end", "id", "state"]);
      expect(RQ_STATE_NAMES).toContain(r.state);
    }
  });

  it("switches a program's relay on at a slot boundary, in a slot the server planned", () => {
    const clients = w.config.clients ?? [];
    const slotS = w.scenario.slotS;
    let programStarts = 0;
    clients.forEach((c, i) => {
      for (const t of w.board.pins.transitions(w.config.relays[c.relay].pin)) {
        if (t.level !== 1) continue;
        const s = w.scenario.startS + Math.floor(t.atMs / 1000);
        expect(w.server.planOf(w.config.gridId, w.config.routerId, i + 1, Math.floor(s / slotS), 1)[0], `${c.name} on at ${s}`).toBeGreaterThan(0);
        if (c.kind !== "profile") continue;
        // The pump steps 5 s.
        expect(s % slotS, `${c.name} starts at a slot boundary`).toBeLessThanOrEqual(5);
        programStarts++;
      }
    });
    expect(programStarts).toBeGreaterThanOrEqual(2);
  });

  it("acknowledges slots to the server with metered energy, and the server refused none of its frames", () => {
    const st = w.server.stats();
    expect(st.acks).toBeGreaterThan(20);
    expect(st.refused.reduce((a, b) => a + b, 0)).toBe(0);
    expect(st.requestsAccepted).toBe(w.userRequests.length);
    const server = w.server.router(w.config.gridId, w.config.routerId);
    const first = Math.floor(w.scenario.startS / w.scenario.slotS);
    const ev = (w.config.clients ?? []).findIndex((c) => c.name === "ev");
    let evWh = 0;
    for (const [slot, [, wh]] of server?.acks.get(ev + 1) ?? []) if (slot >= first) evWh += wh;
    // The EV's sub-meter saw what it took, within a packet per slot.
    const truth = w.household.slots.reduce((a, s) => a + s.applianceWh[ev], 0);
    expect(Math.abs(evWh - truth)).toBeLessThanOrEqual(w.config.packetWh * w.scenario.slots);
    expect(evWh).toBeGreaterThan(0);
  });
});
