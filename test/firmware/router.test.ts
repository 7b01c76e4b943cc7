// The router booted on the simulated board: what a technician sees on the
// console, and what it does with a bad configuration.

import { readFileSync } from "node:fs";
import { describe, expect, it, vi } from "vitest";
import { Records } from "../../hal/records";
import { CONFIG_FILE, METER_RECORDS, METER_RECORD_BYTES, SEQ_RECORDS, SEQ_RECORD_BYTES, bootRouter, type Router, type RouterStatus } from "../../firmware/router";
import { JOURNAL_FILE_BYTES, JOURNAL_NAME } from "../../firmware/agent";
import type { RouterConfig } from "../../firmware/config";
import { SimBoard } from "../../hal/sim/board";
import { SimFlash } from "../../hal/sim/flash";
import { flashConfig } from "../../tools/sim/world";

const config = JSON.parse(readFileSync(new URL("../../flash.config.json", import.meta.url), "utf8")) as RouterConfig;

/** A board flashed with c as sden.cfg, as the flasher writes it; then prepare. */
function boot(c: unknown = config, prepare?: (b: SimBoard) => void, pins?: string[], flash?: SimFlash) {
  const board = new SimBoard({ pins, flash });
  flashConfig(board.flash, c);
  prepare?.(board);
  let router: Router | undefined;
  board.start((hal) => {
    router = bootRouter(hal, { version: "1.2.3+test" });
  });
  const status = () => (board.globals.R as { status(): RouterStatus }).status();
  return { board, status, router: () => router as Router };
}

const ascii = (s: string) => new Uint8Array(Buffer.from(s, "latin1"));

describe("router boot and R.status()", () => {
  it("boots on the simulated board and reports firmware, uptime, relays, meters and memory", () => {
    const { board, status } = boot();
    board.run(90_000);
    const s = status();
    expect(s.fw).toBe("1.2.3+test");
    expect(s.state).toBe("running");
    expect(s.uptimeS).toBe(90);
    expect(s.relays).toEqual([0, 0, 0, 0]);
    expect(s.fuseLimitW).toBe(11000);
    expect(s.meters.map((m) => m.name)).toEqual(config.meters.map((m) => m.name));
    expect(s.meters.every((m) => m.wh === 0 && m.pulses === 0)).toBe(true);
    expect(s.boot).toBe(1);
    expect(s.mem.free).toBeGreaterThan(0);
    // Printed too, as one line of the same JSON.
    expect(board.lines.at(-1)).toBe("sden-router " + JSON.stringify(s));
  });

  it("prints a banner with the configuration in effect", () => {
    const { board } = boot();
    // The values first (board, ids, fuse, packet, slot, heartbeat, watchdog, broker...), then a line per record.
    const values = Object.fromEntries(Object.entries(config).filter(([, v]) => !Array.isArray(v)));
    expect(values).toMatchObject({ board: "ESP32", gridId: "demo-grid", routerId: "home-1", fuseLimitW: 11000, watchdogS: 30 });
    expect(board.lines[0]).toBe("sden-router 1.2.3+test (config from sden.cfg) " + JSON.stringify(values));
    expect(board.lines).toContain("relays 2 " + JSON.stringify(config.relays[2]));
    expect(board.lines).toContain("meters 3 " + JSON.stringify(config.meters[3]));
    expect(board.lines).toContain("clients 1 " + JSON.stringify(config.clients![1]));
    expect(board.lines).toContain("boot 1; type R.status() for the state");
  });

  it("counts pulses on a meter input and shows them in the status", () => {
    const { board, status } = boot();
    for (let i = 0; i < 25; i++) {
      board.pins.pulse("D34", 50);
      board.run(500);
    }
    board.pins.pulse("D34", 10); // too short: noise
    board.run(500);
    const m = status().meters[0];
    expect(m.pulses).toBe(25);
    expect(m.wh).toBe(25);
    expect(m.noise).toBe(1);
  });

  it("with no configuration in flash, says which file is missing and how to write it, and drives no pin", () => {
    const { board, status } = boot(config, (b) => b.flash.erase(CONFIG_FILE));
    expect(status()).toMatchObject({ state: "config-error", errors: ["sden.cfg: not in flash; npm run flash writes it"], relays: [] });
    expect(board.lines[0]).toBe("sden-router 1.2.3+test: configuration refused (sden.cfg), all relays held off:\n  sden.cfg: not in flash; npm run flash writes it");
    for (const r of config.relays) expect(board.pins.writes(r.pin)).toEqual([]);
    // The console still answers, and refuses what needs a configuration.
    const R = board.globals.R as { clients(): { ok: boolean; error?: string } };
    expect(R.clients()).toEqual({ ok: false, error: "config refused" });
  });

  it("refuses a bad configuration in flash, names the field and holds every relay off", () => {
    const bad = { ...config, fuseLimitW: -5, relays: config.relays.map((r) => ({ ...r, bootOn: true })) };
    const { board, status } = boot(config, (b) => flashConfig(b.flash, bad));
    const s = status();
    expect(s.state).toBe("config-error");
    expect(s.errors).toContainEqual(expect.stringMatching(/^fuseLimitW: /));
    expect(board.lines.join("\n")).toMatch(/configuration refused \(sden\.cfg\), all relays held off/);
    for (const r of config.relays) {
      expect(board.pins.writes(r.pin).map((w) => w.level)).toEqual([0]);
    }
  });

  it("refuses a configuration in flash that is not JSON", () => {
    const { board, status } = boot(config, (b) => b.flash.write(CONFIG_FILE, ascii("{ not json")));
    expect(status().errors[0]).toMatch(/^sden\.cfg: not valid JSON/);
    // Nothing is guessed: not even the relay pins of the last good configuration are driven.
    for (const r of config.relays) expect(board.pins.writes(r.pin)).toEqual([]);
  });

  it("refuses a configuration that fails a field's check, naming the field, its range and the value", () => {
    const { status } = boot({ ...config, clients: undefined, meters: [{ ...config.meters[0], pulsesPerKwh: 0 }] });
    expect(status().state).toBe("config-error");
    expect(status().errors).toEqual(["meters[0].pulsesPerKwh: must be a whole number from 1 to 100000 imp/kWh; got 0"]);
  });

  it("refuses a configuration whose pins the board does not have, and holds the relays it can drive off", () => {
    const pins = ["D25", "D26", "D27", "D14", "D34", "D35", "D32"]; // no D33
    const { board, status } = boot(config, undefined, pins);
    const s = status();
    expect(s.state).toBe("config-error");
    expect(s.errors).toEqual(["board: Invalid pin (check the configuration's pins)"]);
    for (const r of config.relays) expect(board.pins.level(r.pin)).toBe(0);
    expect(board.boots.length).toBe(1);
  });

  it("compacts flash itself when trash blocks the next record file, before any save fails, and loses nothing", () => {
    // A small store, so the meter's record files fill it with trash quickly.
    const save = vi.spyOn(Records.prototype, "save");
    const { board, status } = boot(config, undefined, undefined, new SimFlash({ sizeBytes: 32 * 1024 }));
    const pulses = 6000;
    for (let i = 0; i < pulses; i++) {
      board.pins.pulse("D34", 50);
      board.run(500);
    }
    expect(board.flash.compactions).toBeGreaterThanOrEqual(2);
    expect(board.flash.wipes).toBe(0);
    // Every save of the meter totals went through.
    const codes = save.mock.results.map((r) => r.value);
    save.mockRestore();
    expect(codes.length).toBeGreaterThan(pulses / config.meterSaveWh);
    expect(codes.filter((c) => c !== 0)).toEqual([]);
    expect(status().meters[0].wh).toBe(pulses);
    board.powerCut();
    expect(status().meters[0].wh).toBeGreaterThanOrEqual(pulses - config.meterSaveWh);
  });

  it("opens record files whose names and sizes hal/records.ts takes (it does not check them)", () => {
    for (const [name, bytes] of [[JOURNAL_NAME, JOURNAL_FILE_BYTES], [METER_RECORDS, METER_RECORD_BYTES], [SEQ_RECORDS, SEQ_RECORD_BYTES]] as const) {
      // Storage names are at most 28 characters with ".0"/".1"; a record's length is a u16.
      expect(name.length).toBeGreaterThan(0);
      expect(name.length).toBeLessThanOrEqual(26);
      expect(bytes % 4).toBe(0);
      expect(bytes).toBeGreaterThanOrEqual(16);
      expect(bytes).toBeLessThanOrEqual(65548);
    }
  });

  it("kicks the watchdog, so a day passes without a watchdog reset", () => {
    const { board } = boot();
    board.run(86_400_000);
    expect(board.boots.map((b) => b.reason)).toEqual(["power-on"]);
  });

  it("a firmware that stops kicking is reset by the watchdog", () => {
    const { board, router } = boot();
    router().stop();
    board.run(60_000);
    expect(board.boots.map((b) => b.reason)).toContain("watchdog");
  });

  it("R.restart() saves the meter totals exactly and boots again", () => {
    const { board, status } = boot();
    for (let i = 0; i < 7; i++) {
      board.pins.pulse("D34", 50);
      board.run(300);
    }
    (board.globals.R as { restart(): void }).restart();
    board.run(1000);
    expect(board.boots.map((b) => b.reason)).toEqual(["power-on", "restart"]);
    const s = status();
    expect(s.meters[0].wh).toBe(7);
    expect(s.boot).toBe(2);
  });
});
