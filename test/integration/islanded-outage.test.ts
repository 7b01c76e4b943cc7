// A 6-hour islanded grid outage in the simulated home (issue 5, the
// scenario "islanded-outage" of ../shared/quality.md): the grid fails for
// 6 hours and the inverter tells the router at its console (R.island(true));
// the router serves the household as local server from PV and the home
// battery, which the inverter reports every slot (R.battery). Nothing can be
// imported: load beyond what PV and the battery give would black the house
// out, so the test counts that load, and the critical load (the water
// heater, priority 0) must stay served. Then the grid is back
// (R.island(false)) and the router returns to the cloud, reporting what it
// decided.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { WaterHeater } from "../../tools/sim/appliances";
import type { SlotTruth } from "../../tools/sim/household";
import { World } from "../../tools/sim/world";

describe("a 6-hour islanded grid outage", () => {
  let w: World;
  let from = 0;
  let to = 0;
  let outage: SlotTruth[] = [];
  const heater = { belowBandS: 0, coldDraws: 0 };
  let heaterWhBefore = 0;

  beforeAll(async () => {
    w = await World.create({ scenario: "islanded-outage", seed: 1 });
    const o = w.scenario.outage;
    if (!o || o.kind !== "islanded") throw new Error("the scenario has no islanded outage");
    from = o.fromSlot;
    to = o.toSlot;
    const slotMs = w.scenario.slotS * 1000;
    await w.run(from * slotMs);
    const h = w.household.appliances.find((a) => a.name === "water-heater") as WaterHeater;
    heater.belowBandS = h.belowBandS;
    heater.coldDraws = h.coldDraws;
    heaterWhBefore = h.counters.deliveredWs / 3600;
    await w.run((to - from) * slotMs);
    heater.belowBandS = h.belowBandS - heater.belowBandS;
    heater.coldDraws = h.coldDraws - heater.coldDraws;
    heaterWhBefore = h.counters.deliveredWs / 3600 - heaterWhBefore;
    outage = w.household.slots.slice(from, to);
    await w.run(2 * 3_600_000);
  }, 240_000);
  afterAll(async () => {
    await w?.close();
  });

  it("lasts 6 hours, and the router acted as local server through it, from its first minute to its end", () => {
    expect((to - from) * w.scenario.slotS).toBe(6 * 3600);
    const startS = w.scenario.startS + from * w.scenario.slotS;
    const endS = w.scenario.startS + to * w.scenario.slotS;
    const local = w.conn.find((c) => c.state === "local" && c.startS <= startS + 60 && c.endS >= endS);
    expect(local, JSON.stringify(w.conn)).toBeDefined();
  });

  it("nothing was imported, and no load went unserved: the household stayed within PV and the battery", () => {
    expect(outage.reduce((a, t) => a + t.importWh, 0)).toBe(0);
    expect(outage.reduce((a, t) => a + t.unservedWh, 0)).toBe(0);
    // Every slot's load was met by PV and the battery, which took the surplus or covered the deficit.
    for (const t of outage) expect(t.baseloadWh + t.applianceWh.reduce((x, y) => x + y, 0)).toBeLessThanOrEqual(t.pvWh + t.dischargeWh + 2);
    expect(outage.reduce((a, t) => a + t.chargeWh + t.dischargeWh, 0)).toBeGreaterThan(0);
  });

  it("the critical load was served: the water heater got energy and its water never went below its band", () => {
    expect(heaterWhBefore).toBeGreaterThan(0);
    expect(heater.belowBandS).toBe(0);
    expect(heater.coldDraws).toBe(0);
  });

  it("no relay switched above the fuse or chattered, and nothing escaped", () => {
    expect(w.board.uncaught).toEqual([]);
    expect(w.router?.relays?.refusals(4)).toBe(0);
  });

  it("back on the grid, the router returned to the cloud and reported what it decided while islanded", () => {
    expect(w.conn[w.conn.length - 1].state).toBe("online");
    const r = w.server.router(w.config.gridId, w.config.routerId);
    expect(w.server.stats().localReports).toBeGreaterThanOrEqual(1);
    // Every slot the appliances drew energy in the outage was acknowledged with its metered Wh.
    const day0 = Math.floor(w.scenario.startS / w.scenario.slotS);
    (w.config.clients ?? []).forEach((c, i) => {
      for (let k = from; k < to; k++) {
        if (w.household.slots[k].applianceWh[i] < w.config.packetWh / 2) continue;
        expect(r?.acks.get(i + 1)?.get(day0 + k), `${c.name} slot ${k}`).toBeDefined();
      }
    });
  });
});
