// A simulated day over a real broker (the embedded aedes on loopback): the
// router firmware on the simulated board, the reference energy server and
// the household. The household's requests are routed, decided, scheduled,
// executed at slot boundaries and acknowledged with metered energy.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { World } from "../../tools/sim/world";
import { checkDay } from "./day-checks";

describe("a simulated day over the embedded broker", () => {
  let w: World;
  beforeAll(async () => {
    w = await World.create({ scenario: "sunny-summer", seed: 1 });
    await w.run(24 * 3_600_000);
  }, 120_000);
  afterAll(async () => {
    await w?.close();
  });

  checkDay(() => w);
});

describe("a winter day over the embedded broker", () => {
  let w: World;
  beforeAll(async () => {
    w = await World.create({ scenario: "winter", seed: 2 });
    await w.run(24 * 3_600_000);
  }, 120_000);
  afterAll(async () => {
    await w?.close();
  });

  it("every request the household made was taken, and every deadline met", () => {
    expect(w.userRequests.length).toBeGreaterThanOrEqual(3);
    for (const u of w.userRequests) expect(u, u.request.appliance).toMatchObject({ ok: true });
    for (const a of w.household.appliances) expect(a.counters.deadlinesMissed, a.name).toBe(0);
  });
});
