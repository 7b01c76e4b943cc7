// When the grid has nothing to give, the server rejects with a retry time;
// the router asks again at that time, and after three rejections it
// escalates the request as an emergency, once (design section 1, message
// class 5).

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { World } from "../../tools/sim/world";

describe("a request rejected again and again", () => {
  let w: World;
  beforeAll(async () => {
    // No import allowed and a winter night: no supply at all until the PV of the morning.
    w = await World.create({ scenario: "winter", seed: 2, importWh: 0 });
    await w.run(7 * 3_600_000);
  }, 120_000);
  afterAll(async () => {
    await w?.close();
  });

  it("is sent again at its retry time and escalated as an emergency once, after three rejections", () => {
    const a = w.router?.agent;
    const st = w.server.stats();
    expect(a?.counters.rejected).toBeGreaterThanOrEqual(3);
    expect(st.requestsRejected.reduce((x, y) => x + y, 0)).toBeGreaterThanOrEqual(3);
    expect(a?.counters.emergencies).toBeGreaterThanOrEqual(1);
    expect(st.emergencies).toBe(a?.counters.emergencies);
    // Each rejected request is escalated at most once.
    expect(a?.counters.emergencies).toBeLessThanOrEqual(w.userRequests.length + 1);
  });

  it("keeps the request open through its rejections (nothing the household asked for is dropped)", () => {
    const server = w.server.router(w.config.gridId, w.config.routerId);
    for (const u of w.userRequests) {
      if (!u.ok) continue;
      const open = w.R.requests().some((r) => r.id === u.id);
      const st = server?.requests.get(u.id)?.status;
      expect(open || st === "done" || st === "expired", `${u.request.appliance} ${u.id}: ${st}`).toBe(true);
    }
  });
});
