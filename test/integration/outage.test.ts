// The broker disappears for an hour in the middle of the day: the router
// keeps running its cached schedule under its lease, switches no relay
// outside it (nor because the connection went), never reboots, and once the
// broker is back everything it held is delivered, exactly once.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PinWrite } from "../../hal/sim/pins";
import { projectConfig, World } from "../../tools/sim/world";

const HOUR = 3_600_000;

describe("the broker disappears for an hour", () => {
  let w: World;
  let downAtMs = 0;
  let upAtMs = 0;
  /** The router's plan as it was when the broker went: [client][slot offset from then]. */
  const planBefore: { slot: number; lease: number; counts: number[] }[] = [];
  let acksBefore = 0;

  beforeAll(async () => {
    // Long leases, so that the hour is covered by the schedule the router holds;
    // and failsafe all the hour (the local server would take over after localAfterS).
    w = await World.create({ scenario: "sunny-summer", seed: 1, server: { leaseSlots: 24 }, config: { ...projectConfig(), localAfterS: 7200 } });
    await w.run(11 * HOUR);
    const a = w.router?.agent;
    if (!a || !w.broker) throw new Error("no agent or no embedded broker");
    const slot = a.currentSlot();
    for (let c = 1; c <= (w.config.clients ?? []).length; c++) {
      const counts = [];
      for (let k = 0; k < 12; k++) counts.push(a.plan.at(c, slot + k));
      planBefore.push({ slot, lease: a.plan.lease[c - 1], counts });
    }
    acksBefore = w.server.stats().acks;
    downAtMs = w.board.clock.worldMs();
    await w.broker.stop();
    await w.run(HOUR);
    upAtMs = w.board.clock.worldMs();
    await w.broker.restart();
    await w.run(2 * HOUR);
  }, 120_000);
  afterAll(async () => {
    await w?.close();
  });

  it("the router held the hour without the server: no reboot, and it knew it was offline", () => {
    expect(w.board.boots.map((b) => b.reason)).toEqual(["power-on"]);
    expect(w.router?.agent?.link?.counts[4]).toBeGreaterThanOrEqual(1); // drops
    expect(w.R.status().link).toBe("online");
  });

  it("every relay switched during the hour as the cached schedule said, and none when the connection went", () => {
    const clients = w.config.clients ?? [];
    const slotS = w.scenario.slotS;
    let switched = 0;
    clients.forEach((c, i) => {
      const inHour = w.board.pins.transitions(w.config.relays[c.relay].pin).filter((t: PinWrite) => t.atMs > downAtMs && t.atMs < upAtMs);
      for (const t of inHour) {
        switched++;
        const slot = Math.floor((w.scenario.startS + Math.floor(t.atMs / 1000)) / slotS);
        const p = planBefore[i];
        const planned = p.counts[slot - p.slot] ?? 0;
        if (t.level === 1) {
          expect(slot < p.lease, `${c.name} on at slot ${slot} under its lease ${p.lease}`).toBe(true);
          expect(planned, `${c.name} on in slot ${slot}`).toBeGreaterThan(0);
        }
        // Nothing switched in the seconds the connection went.
        expect(t.atMs - downAtMs, `${c.name} switched as the broker went`).toBeGreaterThan(10_000);
      }
    });
    // The EV was charging under its schedule through the hour.
    expect(switched).toBeGreaterThan(0);
  });

  it("the slots of the hour were acknowledged once the broker was back, each exactly once", () => {
    const st = w.server.stats();
    const r = w.server.router(w.config.gridId, w.config.routerId);
    expect(st.ackRepeats).toBe(0);
    expect(st.acks - acksBefore).toBeGreaterThanOrEqual(6 + 6);
    const day0 = Math.floor(w.scenario.startS / w.scenario.slotS);
    const first = Math.floor(downAtMs / 1000 / w.scenario.slotS);
    let delivered = 0;
    (w.config.clients ?? []).forEach((c, i) => {
      for (let k = first; k < first + 6; k++) {
        if (w.household.slots[k].applianceWh[i] < w.config.packetWh / 2) continue;
        delivered++;
        expect(r?.acks.get(i + 1)?.get(day0 + k), `${c.name} slot ${k}`).toBeDefined();
      }
    });
    expect(delivered).toBeGreaterThan(0);
    expect(w.router?.agent?.summary().pendingAcks).toBe(0);
  });
});
