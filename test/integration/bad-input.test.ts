// Bad input and faults at the router: requests outside a client's limits,
// for unknown clients, with deadlines in the past or beyond the horizon are
// refused with a reason; forged frames are refused; schedules for unknown
// clients, beyond the fuse or with an expired lease are refused and NACKed;
// nothing refused changes the router's state.

import mqtt from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CborValue } from "../../protocol/cbor";
import { seal } from "../../protocol/envelope";
import * as M from "../../protocol/messages";
import { topicDown, topicLocal, topicLocalAnswer } from "../../protocol/topics";
import { decode, encode } from "cbor-x";
import { sha256 } from "../../tools/protocol/examples";
import { World, projectConfig } from "../../tools/sim/world";

const HOUR = 3_600_000;

describe("bad input at the router", () => {
  let w: World;
  let client: mqtt.MqttClient;
  beforeAll(async () => {
    // A fuse that holds the EV and the washer together, not a third load.
    w = await World.create({ config: { ...projectConfig(), fuseLimitW: 6000 } });
    await w.run(HOUR);
    client = await mqtt.connectAsync({ host: "127.0.0.1", port: w.brokerPort, protocolVersion: 4, clientId: "bad-input-test" });
  }, 60_000);
  afterAll(async () => {
    await client?.endAsync();
    await w?.close();
  });

  it("refuses requests outside the client's limits, for unknown clients, in the past or beyond the horizon, with the reason", () => {
    const before = w.R.requests().length;
    expect(w.R.request({ client: "sauna", endMin: 60, wh: 1000 })).toMatchObject({ ok: false, error: 'unknown client "sauna"' });
    expect(w.R.request({ client: "ev", startMin: 60, endMin: 30, wh: 1000 }).error).toMatch(/endMin must be after startMin/);
    expect(w.R.request({ client: "ev", startMin: -30, endMin: 30, wh: 1000 }).error).toMatch(/endMin must be after startMin/);
    expect(w.R.request({ client: "ev", endMin: 25 * 60, wh: 1000 })).toMatchObject({ ok: false, error: "window outside the horizon or in the past" });
    expect(w.R.request({ client: "ev", endMin: 60, wh: 10000, maxW: 3700 })).toMatchObject({ ok: false, error: "above the client's rated power" });
    expect(w.R.request({ client: "ev", endMin: 60, wh: 1000, maxW: 11000 })).toMatchObject({ ok: false, error: "above the client's rated power" });
    expect(w.R.request({ client: "washer", endMin: 60, profileWh: [] }).error).toMatch(/profileWh/);
    expect(w.R.request({ client: "washer", endMin: 30, profileWh: [300, 300, 300, 300] })).toMatchObject({ ok: false, error: "window outside the horizon or in the past" });
    expect(w.R.requests().length).toBe(before);
  });

  it("takes a smart appliance's request on the local topic and answers it there; a malformed one is refused with its reason", async () => {
    const answers: number[][] = [];
    const local = topicLocal(w.config.gridId, w.config.routerId);
    client.on("message", (topic, payload) => {
      if (topic === topicLocalAnswer(w.config.gridId, w.config.routerId)) answers.push(decode(payload) as number[]);
    });
    await client.subscribeAsync(topicLocalAnswer(w.config.gridId, w.config.routerId), { qos: 1 });
    const ev = 3;
    const ask = async (body: unknown) => {
      await client.publishAsync(local, Buffer.from(encode(body)), { qos: 1 });
      await w.run(10_000);
    };
    await ask([ev, M.KIND_ENERGY, 0, 240, 5000, 3700]);
    await ask([ev, M.KIND_PROFILE, 0, 240, [100]]);
    await ask([9, M.KIND_ENERGY, 0, 240, 5000, 3700]);
    await ask([ev, M.KIND_ENERGY, 0, 240, 5000]);
    await ask("not a request");
    await w.run(10_000);
    expect(answers.length).toBe(5);
    const [taken, kind, unknown, short, text] = answers;
    expect(taken[0]).toBe(ev);
    expect(taken[1]).toBeGreaterThan(0);
    expect(w.R.requests().some((r) => r.id === taken[1] && r.client === ev)).toBe(true);
    expect(kind).toEqual([ev, 0, 2]);
    expect(unknown).toEqual([9, 0, 1]);
    expect(short).toEqual([ev, 0, 8]);
    expect(text).toEqual([0, 0, 8]);
  });

  /** Publishes a down frame as the server would, with the router's key (or another). */
  async function down(type: number, seq: number, timeS: number, body: CborValue, key = w.key): Promise<void> {
    const f = seal(type, seq, timeS, body, key, sha256, new Uint8Array(1024));
    if (typeof f === "number") throw new Error(`seal failed: ${f}`);
    await client.publishAsync(topicDown(w.config.gridId, w.config.routerId), Buffer.from(f), { qos: 1 });
    await w.run(10_000);
  }

  it("refuses a forged schedule and a replayed one, changing nothing", async () => {
    const a = w.router?.agent;
    if (!a) throw new Error("no agent");
    const refused = a.counters.framesRefused;
    const slot = a.currentSlot();
    const plan = [0, 1, 2, 3].map((k) => a.plan.at(3, slot + k));
    await down(M.SCHEDULE, a.peer.lastSeq + 1, w.nowS(), [3, 1, [61, 61], 4], new Uint8Array(32).fill(7));
    await down(M.SCHEDULE, a.peer.lastSeq, w.nowS(), [3, 1, [61, 61], 4]);
    expect(a.counters.framesRefused - refused).toBe(2);
    expect([0, 1, 2, 3].map((k) => a.plan.at(3, slot + k))).toEqual(plan);
  });

  it("NACKs a schedule whose lease has ended, one beyond the fuse, and one for an unknown client", async () => {
    const a = w.router?.agent;
    if (!a) throw new Error("no agent");
    const r = w.server.router(w.config.gridId, w.config.routerId);
    const nacks = (e: number) => r?.nacks[e] ?? 0;
    const [lease, fuse, client] = [nacks(M.E_LEASE), nacks(M.E_FUSE), nacks(M.E_CLIENT)];
    const slotS = w.config.slotMin * 60;
    let seq = a.peer.lastSeq + 1000;
    // Sent two hours ago with a one-hour lease.
    await down(M.SCHEDULE, seq++, w.nowS() - 2 * 3600, [3, 0, [10], 6]);
    // The EV and the washer fit under 6,000 W; the dishwasher on top does not.
    const first = Math.floor(w.nowS() / slotS) * slotS;
    await down(M.SCHEDULE, seq++, first, [3, 2, [10], 6]);
    await down(M.SCHEDULE, seq++, first, [1, 2, [10], 6]);
    const before = a.plan.at(2, a.currentSlot() + 2);
    await down(M.SCHEDULE, seq++, first, [2, 2, [10], 6]);
    // Client 9 is nobody's.
    await down(M.SCHEDULE, seq, first, [9, 2, [10], 6]);
    await w.run(30_000);
    expect(nacks(M.E_LEASE) - lease).toBe(1);
    expect(nacks(M.E_FUSE) - fuse).toBe(1);
    expect(nacks(M.E_CLIENT) - client).toBe(1);
    expect(a.plan.at(2, a.currentSlot() + 2)).toBe(before);
    expect(a.plan.at(3, Math.floor(first / slotS) + 2)).toBe(10);
  });
});
