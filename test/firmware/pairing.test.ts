// The console API for pairing (firmware/pairing.ts, docs/console.md) on the
// simulated board: what a technician types, what the router answers, what
// it keeps in flash, and what the relays and the server see.

import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { COMPACT_FLAG } from "../../firmware/agent";
import { validateConfig, type RouterConfig } from "../../firmware/config";
import { PAIR_RECORDS, PAIR_RECORD_BYTES, PASSWORD_RECORDS, PASSWORD_RECORD_BYTES, type ConsoleAnswer, type PulseAnswer } from "../../firmware/pairing";
import { CONFIG_FILE, NET_FILE, bootRouter, type RouterStatus } from "../../firmware/router";
import { SimBoard } from "../../hal/sim/board";
import { SimFlash } from "../../hal/sim/flash";
import type { Firmware } from "../../hal/sim/board";
import { build } from "../../tools/build/build";
import { flashConfig, World } from "../../tools/sim/world";
import { bundleFirmware } from "../support/espruino-standin";

const project = JSON.parse(readFileSync(new URL("../../flash.config.json", import.meta.url), "utf8")) as RouterConfig;
/** The project's board with a free relay channel and a free sub-meter, for a fifth appliance. */
const config: RouterConfig = {
  ...project,
  relays: [...project.relays, { name: "pump", pin: "D13", ratedW: 1100, bootOn: false, minOnS: 0, minOffS: 30 }],
  meters: [...project.meters, { name: "pump-meter", pin: "D21", pulsesPerKwh: 1000, role: "sub", minWidthMs: 30, debounceMs: 5 }],
};
const PUMP = { name: "pool-pump", kind: "energy", relay: 4, meter: 6, priority: 4 };

interface Api {
  status(): RouterStatus;
  clients(): ConsoleAnswer;
  pair(spec: unknown): ConsoleAnswer;
  unpair(client: unknown): ConsoleAnswer;
  identify(client: unknown): ConsoleAnswer;
  pulses(meter: unknown): PulseAnswer & ConsoleAnswer;
  password(pw: unknown): ConsoleAnswer;
  request(spec: unknown): { ok: boolean; id: number; error: string };
  requests(): { id: number; client: number }[];
}

const bytes = (s: string) => new Uint8Array(Buffer.from(s, "latin1"));

/** A board flashed with c as sden.cfg (as the flasher writes it), or with none (inFlash false). */
function boot(c: RouterConfig = config, inFlash = true, flash?: SimFlash, firmware?: Firmware) {
  const board = new SimBoard({ flash });
  if (inFlash) flashConfig(board.flash, c);
  board.start(
    firmware ??
      ((hal) => {
        bootRouter(hal, { version: "1.2.3+test" });
      }),
  );
  const R = () => board.globals.R as Api;
  return { board, R };
}

/** Every file in flash with its bytes: what "changes nothing" compares. */
function files(board: SimBoard): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of board.flash.list()) out[n] = Buffer.from(board.flash.read(n)!).toString("hex");
  return out;
}

const names = (a: ConsoleAnswer) => a.clients!.map((c) => c.name);

describe("R.clients()", () => {
  it("lists the paired clients with their ids, relays, meters, priorities and rated power", () => {
    const { R } = boot();
    expect(R().clients()).toEqual({
      ok: true,
      clients: project.clients!.map((c, i) => ({ id: i + 1, ...c, ratedW: project.relays[c.relay].ratedW })),
    });
  });

  it("answers with a refusal when the configuration was refused at boot", () => {
    const { R } = boot({ ...config, fuseLimitW: 1 });
    for (const a of [R().clients(), R().pair(PUMP), R().unpair(1), R().identify(1)]) {
      expect(a).toEqual({ ok: false, error: "config refused" });
    }
    // No input runs either.
    expect(R().pulses(0).ok).toBe(false);
  });
});

describe("R.pair()", () => {
  it("pairs an appliance with the next id, saves it, restarts and boots with it", () => {
    const { board, R } = boot();
    const flashed = board.flash.read(CONFIG_FILE)!.slice();
    expect(R().pair({ ...PUMP, ratedW: 1200 })).toEqual({ ok: true, id: 5, restart: true });
    // The answer reaches the console before the restart.
    expect(board.boots.map((b) => b.reason)).toEqual(["power-on"]);
    board.run(2000);
    expect(board.boots.map((b) => b.reason)).toEqual(["power-on", "restart"]);
    expect(board.lines.filter((l) => l.startsWith("sden-router 1.2.3+test (config from sden.par)"))).toHaveLength(1);
    const c = R().clients().clients!;
    expect(c).toHaveLength(5);
    // ratedW is the relay channel's: the fuse counts it.
    expect(c[4]).toEqual({ id: 5, ...PUMP, ratedW: 1200 });
    // The flashed configuration is never rewritten: the change is a record of its own.
    expect(board.flash.read(CONFIG_FILE)).toEqual(flashed);
    expect(board.flash.list(PAIR_RECORDS).length).toBeGreaterThan(0);
    expect(R().status().state).toBe("running");
  });

  it("keeps the pairing through a power cut, and a newly flashed configuration replaces it", () => {
    const { board, R } = boot();
    R().pair(PUMP);
    board.run(2000);
    board.powerCut();
    expect(names(R().clients())).toEqual([...project.clients!.map((c) => c.name), "pool-pump"]);
    flashConfig(board.flash, { ...config, clients: project.clients!.slice(0, 1) });
    board.powerCut();
    expect(names(R().clients())).toEqual(["washer"]);
  });

  it("keeps the pairing, the password and the network secrets when a cut compaction erases the store, and saves again after it", () => {
    const { board, R } = boot();
    const net = bytes(JSON.stringify({ s: "home-net", p: "wifi-pw", u: "home-1", b: "broker-pw" }));
    board.flash.write(NET_FILE, net);
    R().password("pw");
    R().pair(PUMP);
    board.run(2000);
    // Power went during a compaction: the next boot erases everything but what it must keep.
    board.flash.write(COMPACT_FLAG, new Uint8Array([1]));
    board.powerCut();
    expect(board.lines).toContain("flash compaction was cut: store erased, restoring from the server");
    expect(board.flash.list(COMPACT_FLAG)).toEqual([]);
    expect(board.flash.read(NET_FILE)).toEqual(net);
    expect(names(R().clients())).toContain("pool-pump");
    expect(board.password).toBe("pw");
    // The kept record files take the next saves (appended after what was copied).
    expect(R().unpair("pool-pump").ok).toBe(true);
    board.run(2000);
    expect(R().password("pw2")).toEqual({ ok: true });
    board.powerCut();
    expect(R().clients().clients).toHaveLength(4);
    expect(board.password).toBe("pw2");
  });

  it("refuses to pair without a configuration in flash, and writes nothing", () => {
    const { board, R } = boot(config, false);
    const before = Buffer.from(board.flash.bytes());
    expect(R().pair(PUMP)).toEqual({ ok: false, error: "config refused" });
    board.run(2000);
    expect(Buffer.compare(Buffer.from(board.flash.bytes()), before)).toBe(0);
    expect(board.boots).toHaveLength(1);
  });

  it("a power cut at any flash operation of a save leaves the old clients or the new ones, never a refused configuration", () => {
    // Pairing and unpairing the pump in turn: the record's saves append,
    // start the second file, then replace the older one (hal/records.ts).
    const change = (R: () => Api, k: number) => (k % 2 ? R().unpair("pool-pump") : R().pair(PUMP));
    for (let k = 0; k < 5; k++) {
      let cuts = 0;
      for (let at = 0; ; at++) {
        const flash = new SimFlash();
        const { board, R } = boot(config, true, flash);
        for (let j = 0; j < k; j++) {
          change(R, j);
          board.run(2000);
        }
        const before = R().clients().clients!.length;
        flash.cutAt(at, { tornBytes: 7 });
        try {
          change(R, k);
        } catch {
          cuts++;
          board.powerCut();
          expect(R().status().state).toBe("running");
          expect([before, 9 - before]).toContain(R().clients().clients!.length);
          continue;
        }
        flash.cancelCut();
        board.run(2000);
        expect(R().clients().clients).toHaveLength(9 - before);
        break;
      }
      expect(cuts).toBeGreaterThan(0);
    }
  });

  // What a wrong call gets: the message validateConfig gives at boot for
  // the same configuration, and nothing changes.
  const bad: [string, unknown][] = [
    ["a name already paired", { ...PUMP, name: "washer" }],
    ["a relay already used", { ...PUMP, relay: 0 }],
    ["an unknown relay", { ...PUMP, relay: 9 }],
    ["an unknown meter", { ...PUMP, meter: 9 }],
    ["a meter already used", { ...PUMP, meter: 3 }],
    ["a meter that is not a sub-meter", { ...PUMP, meter: 0 }],
    ["a priority above 7", { ...PUMP, priority: 8 }],
    ["an unknown kind", { ...PUMP, kind: "heater" }],
    ["a name with a space", { ...PUMP, name: "pool pump" }],
    ["a name over 16 characters", { ...PUMP, name: "a-very-long-pump-name" }],
    ["a missing field", { name: "pump", kind: "energy", relay: 4, priority: 1 }],
    ["an unknown field", { ...PUMP, colour: "blue" }],
    ["a standing request on an energy client", { ...PUMP, standingWh: 3000 }],
    ["a ratedW of 0", { ...PUMP, ratedW: 0 }],
    ["a ratedW that is not a number", { ...PUMP, ratedW: "1100" }],
    ["no object", "pool-pump"],
    ["nothing", undefined],
  ];
  for (const [what, spec] of bad) {
    it(`refuses ${what} with the boot's message and changes nothing`, () => {
      const { board, R } = boot();
      const before = files(board);
      const a = R().pair(spec);
      const next: RouterConfig = JSON.parse(JSON.stringify({ ...config, clients: [...config.clients!] }));
      let client: unknown = spec;
      if (spec && typeof spec === "object") {
        const { ratedW, ...rest } = spec as { ratedW?: number };
        client = rest;
        if (ratedW !== undefined) next.relays[(spec as { relay: number }).relay].ratedW = ratedW;
      }
      next.clients!.push(client as never);
      const problems = validateConfig(next);
      expect(problems.length).toBeGreaterThan(0);
      expect(a).toEqual({ ok: false, error: problems.join("; ") });
      expect(a.error).toMatch(/^(clients\[4\]|relays\[4\])/);
      board.run(3000);
      expect(board.boots).toHaveLength(1);
      expect(files(board)).toEqual(before);
      expect(R().clients().clients).toHaveLength(4);
    });
  }

  it("a 17th client is refused: the configuration holds at most 16", () => {
    const many = {
      ...config,
      relays: Array.from({ length: 16 }, (_, i) => ({ name: `r${i}`, pin: `D${i + 1}`, ratedW: 100, bootOn: false, minOnS: 0, minOffS: 0 })),
      clients: Array.from({ length: 16 }, (_, i) => ({ name: `c${i}`, kind: "energy" as const, relay: i, meter: -1, priority: 1 })),
    };
    const { R } = boot(many);
    expect(R().pair({ name: "c16", kind: "energy", relay: 0, meter: -1, priority: 1 }).error).toMatch(/^clients: must be a list of at most 16 clients; got 17/);
  });

  it("pairs the 16th client of the largest configuration, every name 16 characters, and keeps it", () => {
    const long = (p: string, i: number) => p + "-".repeat(13) + String(i).padStart(2, "0");
    const big: RouterConfig = {
      ...config,
      fuseLimitW: 100000,
      relays: Array.from({ length: 16 }, (_, i) => ({ name: long("r", i), pin: `D${i + 1}`, ratedW: 50000, bootOn: false, minOnS: 3600, minOffS: 3600 })),
      meters: Array.from({ length: 8 }, (_, i) => ({ name: long("m", i), pin: `A${i}`, pulsesPerKwh: 100000, role: "sub" as const, minWidthMs: 1000, debounceMs: 100 })),
      clients: Array.from({ length: 15 }, (_, i) => ({ name: long("c", i), kind: "thermal" as const, relay: i, meter: i < 8 ? i : -1, priority: 7, standingWh: 100000 })),
    };
    const { board, R } = boot(big);
    expect(R().pair({ name: long("c", 15), kind: "thermal", relay: 15, meter: -1, priority: 7, ratedW: 50000, standingWh: 100000 })).toEqual({ ok: true, id: 16, restart: true });
    board.run(2000);
    board.powerCut();
    expect(R().clients().clients).toHaveLength(16);
  });

  it("accepts exactly what validateConfig accepts (property)", () => {
    const spec = fc.record(
      {
        name: fc.constantFrom("pump", "washer", "x", "bad name", ""),
        kind: fc.constantFrom("profile", "energy", "thermal", "heat"),
        relay: fc.integer({ min: -1, max: 6 }),
        meter: fc.integer({ min: -2, max: 7 }),
        priority: fc.integer({ min: -1, max: 8 }),
        ratedW: fc.constantFrom(0, 1, 900, 50000, 50001),
        standingWh: fc.constantFrom(0, 500),
      },
      { requiredKeys: ["name", "kind", "relay", "meter", "priority"] },
    );
    fc.assert(
      fc.property(spec, (s) => {
        const { board, R } = boot();
        const before = files(board);
        const a = R().pair(s);
        const next: RouterConfig = JSON.parse(JSON.stringify(config));
        const { ratedW, ...client } = s;
        if (ratedW !== undefined && next.relays[s.relay]) next.relays[s.relay].ratedW = ratedW;
        next.clients!.push(client as never);
        const problems = validateConfig(next);
        expect(a.ok).toBe(problems.length === 0);
        if (a.ok) expect(a.id).toBe(5);
        else {
          expect(a.error).toBe(problems.join("; "));
          expect(files(board)).toEqual(before);
        }
      }),
      { numRuns: 150 },
    );
  });
});

describe("R.unpair()", () => {
  it("unpairs a client by name or id, saves it and restarts; the clients after it move down one id", () => {
    const { board, R } = boot();
    expect(R().unpair("dishwasher")).toEqual({ ok: true, id: 2, restart: true });
    board.run(2000);
    expect(R().clients().clients!.map((c) => [c.id, c.name])).toEqual([[1, "washer"], [2, "ev"], [3, "water-heater"]]);
    expect(R().unpair(3)).toEqual({ ok: true, id: 3, restart: true });
    board.run(2000);
    board.powerCut();
    expect(names(R().clients())).toEqual(["washer", "ev"]);
  });

  it("refuses a client it does not know and changes nothing", () => {
    const { board, R } = boot();
    const before = files(board);
    for (const who of ["nobody", 0, 5, "1", null]) {
      expect(R().unpair(who)).toEqual({ ok: false, error: `client: no ${JSON.stringify(who)}` });
    }
    board.run(3000);
    expect(board.boots).toHaveLength(1);
    expect(files(board)).toEqual(before);
  });
});

describe("R.identify()", () => {
  it("clicks the relay on the pin: on now, off after its minOnS, and never within its minOffS", () => {
    const { board, R } = boot();
    const pin = config.relays[0].pin;
    // Boot counts as a switching: the washer's relay may not go on within its minOffS (60 s).
    board.run(10_000);
    const early = R().identify("washer");
    expect(early).toEqual({ ok: false, error: "relay 0: minOffS", retryS: 50 });
    expect(board.pins.transitions(pin).map((w) => w.level)).toEqual([0]);
    board.run(50_000);
    expect(R().identify(1)).toEqual({ ok: true, id: 1, relay: 0, onS: 60 });
    expect(board.pins.level(pin)).toBe(1);
    // On: a second click would cut it short.
    expect(R().identify(1)).toEqual({ ok: false, error: "relay 0: is on" });
    board.run(59_900);
    expect(board.pins.level(pin)).toBe(1);
    board.run(200);
    const t = board.pins.transitions(pin);
    expect(t.map((w) => w.level)).toEqual([0, 1, 0]);
    expect(t[2].atMs - t[1].atMs).toBe(60_000);
    expect(R().status().relays).toEqual([0, 0, 0, 0, 0]);
  });

  it("clicks for 1 s a relay without a minimum on time", () => {
    const { board, R } = boot();
    board.run(30_000);
    expect(R().identify("pool-pump")).toEqual({ ok: false, error: 'client: no "pool-pump"' });
    R().pair(PUMP);
    board.run(40_000);
    expect(R().identify("pool-pump")).toEqual({ ok: true, id: 5, relay: 4, onS: 1 });
    board.run(2000);
    const t = board.pins.transitions("D13");
    expect(t.map((w) => w.level)).toEqual([0, 1, 0]);
    expect(t[2].atMs - t[1].atMs).toBe(1000);
  });

  it("refuses a click that would take the load above the fuse limit", () => {
    // A relay on at boot that leaves 1,000 W under the fuse: the washer's 2,200 W do not fit.
    const c = { ...config, relays: config.relays.map((r, i) => (i === 4 ? { ...r, ratedW: 10000, bootOn: true } : r)) };
    const { board, R } = boot(c);
    board.run(120_000);
    expect(R().identify("washer")).toEqual({ ok: false, error: "relay 0: fuse" });
    expect(board.pins.transitions(config.relays[0].pin).map((w) => w.level)).toEqual([0]);
    expect(R().status().loadW).toBe(10000);
  });
});

describe("R.pulses()", () => {
  it("shows live pulses and power of an input", () => {
    const { board, R } = boot();
    expect(R().pulses(0)).toEqual({ ok: true, meter: 0, lastS: -1, name: "grid-import", pulses: 0, wh: 0, noise: 0, powerW: 0 });
    // 1,000 imp/kWh, one pulse every 2 s: 1 Wh per 2 s, 1,800 W.
    for (let i = 0; i < 10; i++) {
      board.pins.pulse("D34", 50);
      board.run(2000);
    }
    expect(R().pulses(0)).toEqual({ ok: true, meter: 0, lastS: 2, name: "grid-import", pulses: 10, wh: 10, noise: 0, powerW: 1800 });
    board.pins.pulse("D34", 5); // noise
    board.run(3000);
    const p = R().pulses(0);
    expect(p).toMatchObject({ pulses: 10, noise: 1, lastS: 5 });
    // The time since the last pulse bounds the power: it falls as pulses stop.
    expect(p.powerW).toBe(720);
    // The EV's sub-meter, 800 imp/kWh.
    board.pins.pulse("D33", 50);
    board.run(1000);
    board.pins.pulse("D33", 50);
    board.run(100);
    expect(R().pulses(3)).toMatchObject({ meter: 3, name: "ev-meter", pulses: 2, powerW: 4500, lastS: 0 });
  });

  it("refuses an input it does not have", () => {
    const { R } = boot();
    for (const m of [-1, 7, 1.5, "0", undefined]) {
      expect(R().pulses(m)).toEqual({ ok: false, error: `meter: must be 0-6; got ${JSON.stringify(m)}` });
    }
  });
});

describe("R.password()", () => {
  it("sets the console password, keeps it through reboots, and removes it with an empty one", () => {
    const { board, R } = boot();
    expect(board.password).toBe("");
    expect(R().password("s3cret pw~!")).toEqual({ ok: true });
    expect(board.password).toBe("s3cret pw~!");
    board.powerCut();
    expect(board.password).toBe("s3cret pw~!");
    expect(R().password("")).toEqual({ ok: true });
    board.powerCut();
    expect(board.password).toBe("");
  });

  it("locks the console at boot even when the configuration is refused, and can be changed there", () => {
    const { board, R } = boot({ ...config, fuseLimitW: 1 });
    expect(R().password("abc")).toEqual({ ok: true });
    board.powerCut();
    expect(R().status().state).toBe("config-error");
    expect(board.password).toBe("abc");
  });

  it("refuses what the console cannot take, without echoing it, and changes nothing", () => {
    const { board, R } = boot();
    R().password("old");
    const before = files(board);
    for (const pw of ["x".repeat(21), "tab\there", "caf\u00e9", 1234, undefined, null]) {
      expect(R().password(pw)).toEqual({ ok: false, error: "password: 0-20 printable ASCII" });
    }
    expect(files(board)).toEqual(before);
    board.powerCut();
    expect(board.password).toBe("old");
  });
});

describe("pairing with the server", () => {
  let w: World;
  const R = () => w.board.globals.R as Api;
  const known = () => [...(w.server.router(w.config.gridId, w.config.routerId)?.clients.values() ?? [])].map((c) => [c.client, c.name]);

  beforeAll(async () => {
    w = await World.create({ config, outage: false, scenario: "sunny-summer" });
    await w.run(5 * 60_000);
  }, 60_000);
  afterAll(async () => {
    await w?.close();
  });

  it("a new client is reported after the restart; open requests and meter totals are kept", async () => {
    expect(R().status().link).toBe("online");
    expect(known()).toHaveLength(4);
    const ask = R().request({ client: "ev", endMin: 480, wh: 5000 });
    expect(ask.ok).toBe(true);
    await w.run(60_000);
    const open = R().requests().map((q) => q.id);
    expect(open).toContain(ask.id);
    w.board.pins.pulse("D34", 50);
    await w.run(5000);
    const wh = R().status().meters.map((m) => m.wh);
    expect(R().pair(PUMP)).toEqual({ ok: true, id: 5, restart: true });
    // Until the restart nothing new is taken: it would be journaled under ids the new boot may give to another appliance.
    const late = R().request({ client: "ev", endMin: 480, wh: 1000 });
    expect(late).toMatchObject({ ok: false, error: "restarting" });
    await w.run(3 * 60_000);
    expect(w.board.boots.map((b) => b.reason)).toEqual(["power-on", "restart"]);
    expect(R().requests().map((q) => q.id)).not.toContain(late.id || -1);
    expect(known()).toContainEqual([5, "pool-pump"]);
    expect(R().requests().map((q) => q.id)).toEqual(expect.arrayContaining(open));
    const after = R().status().meters.map((m) => m.wh);
    wh.forEach((v, i) => expect(after[i]).toBeGreaterThanOrEqual(v));
  }, 60_000);

  it("the click is not cut short by the scheduler", async () => {
    await w.run(60_000);
    expect(R().identify("pool-pump")).toEqual({ ok: true, id: 5, relay: 4, onS: 1 });
    w.board.run(900);
    expect(w.board.pins.level("D13")).toBe(1);
    w.board.run(200);
    expect(w.board.pins.level("D13")).toBe(0);
  });

  it("an unpairing that would move the ids of clients with open requests is refused; the last one is unpaired and the server told", async () => {
    const before = files(w.board);
    expect(R().unpair("ev")).toEqual({ ok: false, error: "client 3: busy" });
    expect(files(w.board)).toEqual(before);
    expect(R().unpair("pool-pump")).toEqual({ ok: true, id: 5, restart: true });
    await w.run(3 * 60_000);
    expect(w.board.boots.map((b) => b.reason)).toEqual(["power-on", "restart", "restart"]);
    expect(known().map((k) => k[0])).toEqual([1, 2, 3, 4]);
    expect(names(R().clients())).not.toContain("pool-pump");
  }, 60_000);
});

describe("the pairing records", () => {
  it("have names and sizes hal/records.ts takes (it does not check them)", () => {
    for (const [name, size] of [[PAIR_RECORDS, PAIR_RECORD_BYTES], [PASSWORD_RECORDS, PASSWORD_RECORD_BYTES]] as const) {
      expect(name.length).toBeLessThanOrEqual(26);
      expect(size % 4).toBe(0);
      expect(size).toBeGreaterThanOrEqual(16);
    }
    // The longest password fits one record.
    expect(20 + 16).toBeLessThanOrEqual(PASSWORD_RECORD_BYTES);
  });
});

describe("the device bundle answers as the sources do", () => {
  let firmware: Firmware;
  beforeAll(async () => {
    const b = await build({ outFile: join(mkdtempSync(join(tmpdir(), "sden-pairing-")), "router.js") });
    firmware = bundleFirmware(readFileSync(b.file, "latin1"));
  }, 60_000);

  it("every call, good and bad, through a restart (a name the build shortened would differ)", () => {
    const script = (board: SimBoard, R: () => Api) => {
      const out: unknown[] = [];
      board.run(61_000);
      for (let i = 0; i < 3; i++) {
        board.pins.pulse("D34", 50);
        board.run(2000);
      }
      out.push(R().clients(), R().pair({ ...PUMP, relay: 0 }), R().pair("x"), R().unpair("nobody"), R().identify(9), R().pulses(0), R().pulses(99), R().password(7));
      out.push(R().identify("washer"), R().identify("washer"), R().password("pw"), board.password);
      out.push(R().pair({ ...PUMP, ratedW: 900 }));
      board.run(62_000);
      out.push(board.boots.length, R().clients(), R().identify("pool-pump"), R().unpair(5));
      board.run(2000);
      out.push(board.boots.length, R().clients(), board.password, board.uncaught);
      return out;
    };
    const src = boot();
    const dev = boot(config, true, undefined, firmware);
    const a = script(src.board, src.R);
    expect(script(dev.board, dev.R)).toEqual(a);
    // And the script did what it says.
    expect(a[12]).toEqual({ ok: true, id: 5, restart: true });
    expect(a[13]).toBe(2);
    expect(a[17]).toBe(3);
    expect(a[20]).toEqual([]);
  }, 30_000);
});
