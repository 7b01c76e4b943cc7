// Local-only reallocation on demand (issue 5, item 3): R.local(true) makes
// the router act as local server while the cloud is there. The household's
// requests are then decided and served at home, not forwarded; every
// decision is journaled, so a power cut in the middle loses none: after
// the reboot (R.local lasts until then) the router goes back to the cloud
// and reports each of them.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as M from "../../protocol/messages";
import { World } from "../../tools/sim/world";

const HOUR = 3_600_000;

describe("R.local(true) while the cloud is there, then a power cut", () => {
  let w: World;
  let answer: unknown;
  let onS = 0;
  let cutS = 0;
  let during: number[] = [];
  let knownAtCut: number[] = [];
  let servedWh = 0;

  beforeAll(async () => {
    w = await World.create({ scenario: "sunny-summer", seed: 1 });
    await w.run(7 * HOUR);
    onS = w.nowS();
    answer = w.console("local", true);
    await w.run(5 * HOUR);
    cutS = w.nowS();
    during = w.userRequests.filter((u) => u.atS >= onS && u.ok).map((u) => u.id);
    const r = w.server.router(w.config.gridId, w.config.routerId);
    knownAtCut = during.filter((id) => r?.requests.has(id));
    const first = Math.floor((onS - w.scenario.startS) / w.scenario.slotS);
    const last = Math.floor((cutS - w.scenario.startS) / w.scenario.slotS);
    for (let k = first; k < last; k++) servedWh += w.household.slots[k].applianceWh.reduce((a, b) => a + b, 0);
    w.board.powerCut();
    await w.run(2 * HOUR);
  }, 240_000);
  afterAll(async () => {
    await w?.close();
  });

  it("R.local(true) answers the state it leaves, and the router stays local with the link up", () => {
    expect(answer).toBe("local");
    const local = w.conn.find((c) => c.state === "local" && c.startS <= onS + 5);
    expect(local, JSON.stringify(w.conn)).toBeDefined();
    expect(local!.endS).toBeGreaterThanOrEqual(cutS - 10);
  });

  it("the household's requests were decided and served at home, not forwarded to the server", () => {
    expect(during.length).toBeGreaterThanOrEqual(2);
    expect(knownAtCut).toEqual([]);
    expect(servedWh).toBeGreaterThan(1000);
  });

  it("after the power cut the router is back with the cloud, and reports every decision made before the cut", () => {
    expect(w.board.boots.map((b) => b.reason)).toEqual(["power-on", "power-cut"]);
    expect(w.conn[w.conn.length - 1].state).toBe("online");
    const r = w.server.router(w.config.gridId, w.config.routerId);
    for (const id of during) {
      const d = r?.local.get(id);
      expect(d, `request ${id}`).toBeDefined();
      expect([M.LR_ADMITTED, M.LR_RUNNING, M.LR_DELIVERED, M.LR_EXPIRED]).toContain(d!.outcome);
    }
    // What was delivered locally is counted in the report.
    expect(during.some((id) => (r?.local.get(id)?.packets ?? 0) > 0)).toBe(true);
    expect(w.board.uncaught).toEqual([]);
  });
});
