// What a day of the router must show, checked on any World after its run
// (test/integration and test/e2e share these).

import { expect, it } from "vitest";
import type { World } from "../../tools/sim/world";

/** Slot boundaries are at multiples of the slot length; the pump steps 5 s. */
const STEP_S = 5;

export function checkDay(world: () => World): void {
  it("routes every request of the household: taken by the router, accepted by the server", () => {
    const w = world();
    expect(w.userRequests.length).toBeGreaterThanOrEqual(3);
    for (const u of w.userRequests) expect(u, u.request.appliance).toMatchObject({ ok: true });
    const r = w.server.router(w.config.gridId, w.config.routerId);
    expect(r).toBeDefined();
    for (const u of w.userRequests) expect(r?.requests.get(u.id)?.status, `request ${u.id}`).not.toBe("rejected");
    expect(w.router?.agent?.counters.accepted).toBe(w.userRequests.length);
  });

  it("delivers every request by its deadline; a washing machine or dishwasher once started is never interrupted", () => {
    const w = world();
    for (const a of w.household.appliances) {
      expect(a.counters.deadlinesMissed, a.name).toBe(0);
      if (a.kind === "profile") expect(a.counters.interruptions, a.name).toBe(0);
    }
  });

  it("switches relays only where the schedule says, and programs on at slot boundaries", () => {
    const w = world();
    const clients = w.config.clients ?? [];
    const slotS = w.scenario.slotS;
    clients.forEach((c, i) => {
      const pin = w.config.relays[c.relay].pin;
      for (const t of w.board.pins.transitions(pin)) {
        if (t.level !== 1) continue;
        const s = w.scenario.startS + Math.floor(t.atMs / 1000);
        const slot = Math.floor(s / slotS);
        // The server planned packets for this client in the slot the relay closed in.
        const planned = w.server.planOf(w.config.gridId, w.config.routerId, i + 1, slot, 1)[0];
        expect(planned, `${c.name} on at ${new Date(s * 1000).toISOString()}`).toBeGreaterThan(0);
        if (c.kind === "profile") expect(s % slotS, `${c.name} starts at a slot boundary`).toBeLessThanOrEqual(STEP_S);
      }
    });
  });

  it("switches no appliance's relay more than 4 times in any hour (on and off counted)", () => {
    const w = world();
    for (const c of w.config.clients ?? []) {
      const perHour = new Map<number, number>();
      let level = -1;
      for (const t of w.board.pins.transitions(w.config.relays[c.relay].pin)) {
        // The boot's first write sets the level; a switching changes it.
        if (level !== -1 && t.level !== level) perHour.set(Math.floor(t.atMs / 3_600_000), (perHour.get(Math.floor(t.atMs / 3_600_000)) ?? 0) + 1);
        level = t.level;
      }
      expect(Math.max(0, ...perHour.values()), c.name).toBeLessThanOrEqual(4);
    }
  });

  it("acknowledges every slot with what was metered: within one packet per client per slot, each slot once", () => {
    const w = world();
    const r = w.server.router(w.config.gridId, w.config.routerId);
    const clients = w.config.clients ?? [];
    const first = Math.floor(w.scenario.startS / w.scenario.slotS);
    let acked = 0;
    clients.forEach((c, i) => {
      const acks = r?.acks.get(i + 1) ?? new Map<number, [number, number]>();
      for (let k = 0; k < w.scenario.slots - 1; k++) {
        const truthWh = w.household.slots[k].applianceWh[i];
        const ack = acks.get(first + k);
        if (truthWh < w.config.packetWh / 2) continue;
        expect(ack, `${c.name} slot ${k}: ${truthWh} Wh delivered, not acked`).toBeDefined();
        if (!ack) continue;
        acked++;
        const [packets, wh] = ack;
        // The packets acked are the metered energy in packets.
        expect(Math.abs(packets * w.config.packetWh - wh), `${c.name} slot ${k}`).toBeLessThanOrEqual(w.config.packetWh);
        // A sub-meter measures the client itself; otherwise the main meter minus the known rest.
        if (c.meter >= 0) expect(Math.abs(wh - truthWh), `${c.name} slot ${k}`).toBeLessThanOrEqual(w.config.packetWh);
      }
    });
    expect(acked).toBeGreaterThan(20);
    const st = w.server.stats();
    expect(st.refused.reduce((a, b) => a + b, 0)).toBe(0);
  });

  it("never goes above the fuse, and the router refused nothing the server sent", () => {
    const w = world();
    expect(w.board.uncaught).toEqual([]);
    const a = w.router?.agent;
    expect(a?.counters.framesRefused).toBe(0);
    expect(a?.counters.schedulesRefused).toBe(0);
    expect(w.router?.relays?.refusals(4)).toBe(0);
  });
}
