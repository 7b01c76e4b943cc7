// A full flash: with the broker gone the router cannot back up, so it never
// compacts, and its small flash fills. It says so, refuses what it cannot
// journal, keeps running what it has, and never corrupts the journal; once
// the broker is back it backs up, compacts and journals again.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimFlash } from "../../hal/sim/flash";
import { World } from "../../tools/sim/world";

const HOUR = 3_600_000;

describe("a flash that fills while the server is out of reach", () => {
  let w: World;
  let fullAt = -1;
  let linesAtFull = 0;
  beforeAll(async () => {
    w = await World.create({ scenario: "sunny-summer", seed: 1, flash: new SimFlash({ sizeBytes: 64 * 1024 }), server: { leaseSlots: 36 } });
    await w.run(9 * HOUR);
    await w.broker?.stop();
    // PV noon: the meter saves its totals every 10 Wh, and the trash of its rotations fills the 64 KB.
    await w.run(4 * HOUR, () => {
      if (fullAt < 0 && w.R.status().flashFull) {
        fullAt = w.board.clock.worldMs();
        linesAtFull = w.board.lines.length;
      }
    });
  }, 120_000);
  afterAll(async () => {
    await w?.close();
  });

  it("reports it, on the console and in R.status()", () => {
    expect(fullAt).toBeGreaterThan(0);
    expect(w.board.lines.slice(0, linesAtFull + 1).some((l) => /^flash full/.test(l))).toBe(true);
    expect(w.R.status().flashFull).toBe(true);
  });

  it("keeps running: no reboot, no uncaught error, the meters counting", () => {
    expect(w.board.boots.length).toBe(1);
    expect(w.board.uncaught).toEqual([]);
    expect(w.R.status().meters[2].wh).toBeGreaterThan(1000);
  });

  it("once the broker is back, backs up, compacts, journals again, and its journal reads back whole after a power cut", async () => {
    const before = w.router?.agent?.counters.compactions ?? 0;
    await w.broker?.restart();
    // Within an hour as a rule; up to three on a machine so loaded that
    // network steps settle late (the reconnect's back-off and the
    // BACKUP/STORED exchange then take more simulated time).
    for (let k = 0; k < 18 && (w.router?.agent?.counters.compactions ?? 0) <= before; k++) await w.run(HOUR / 6);
    const a = w.router?.agent;
    expect(a?.counters.compactions).toBeGreaterThan(before);
    expect(w.R.status().flashFull).toBe(false);
    expect(w.board.lines.some((l) => l === "flash: saving again")).toBe(true);
    const open = w.R.requests().map((r) => r.id);
    w.board.powerCut();
    await w.run(5 * 60_000);
    expect(w.R.requests().map((r) => r.id)).toEqual(expect.arrayContaining(open));
    expect(w.R.status().link).toBe("online");
  }, 240_000);
});
