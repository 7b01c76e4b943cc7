// tools/server/server.ts over a real broker (aedes on loopback): a test
// plays the router with an mqtt client and the device's own codec
// (protocol/envelope.ts), so every down message must open and validate as
// the firmware would take it. Time is virtual: the server's clock is a
// variable the test moves, and tick() is called by the test.
import { Aedes } from "aedes";
import { connectAsync, type MqttClient } from "mqtt";
import net from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { CborValue } from "../../protocol/cbor";
import { open, seal } from "../../protocol/envelope";
import * as M from "../../protocol/messages";
import type { Limits } from "../../protocol/messages";
import { topicDown, topicStatus, topicUp } from "../../protocol/topics";
import { EXAMPLE_KEY, EXAMPLE_TIME, sha256 } from "../../tools/protocol/examples";
import { maxPerSlotOf, startServer, type EnergyServer, type RouterState } from "../../tools/server/server";
import { slotOf } from "../../tools/server/wire";

const GRID = "g1";
const ROUTER = "r0042";
const KEY = EXAMPLE_KEY;
const SLOT_S = 600;
/** A slot boundary, so that "the next slot" is SLOT_S away. */
const T0 = Math.floor(EXAMPLE_TIME / SLOT_S) * SLOT_S;

interface Received {
  type: number;
  seq: number;
  time: number;
  body: CborValue;
  qos: number;
}

/** A router played by the test: the device codec over an mqtt client. */
class FakeRouter {
  readonly inbox: Received[] = [];
  /** Frames that did not open with this router's key, by reason. */
  readonly refused: number[] = [];
  lim: Limits = { horizonSlots: 144, maxPerSlot: new Uint16Array(1) };
  seq = 100;
  lastDownSeq = 0;
  private wake: (() => void) | null = null;

  private constructor(
    readonly client: MqttClient,
    readonly routerId: string,
    readonly key: Uint8Array,
    readonly clock: () => number,
  ) {}

  static async connect(url: string, routerId: string, key: Uint8Array, clock: () => number): Promise<FakeRouter> {
    const client = await connectAsync(url, {
      protocolVersion: 4,
      clean: true,
      clientId: `${GRID}-${routerId}-${Math.floor(Math.random() * 1e9).toString(36)}`,
      reconnectPeriod: 0,
      will: { topic: topicStatus(GRID, routerId), payload: Buffer.from("offline"), qos: 1, retain: true },
    });
    const r = new FakeRouter(client, routerId, key, clock);
    client.on("message", (_topic, payload, packet) => r.onMessage(new Uint8Array(payload), packet.qos));
    await client.subscribeAsync(topicDown(GRID, routerId), { qos: 1 });
    return r;
  }

  private onMessage(frame: Uint8Array, qos: number): void {
    const o = open(frame, this.key, sha256, false, this.lastDownSeq, this.lim);
    if (!o.env) this.refused.push(o.e);
    else {
      this.lastDownSeq = o.env.seq;
      this.inbox.push({ ...o.env, qos });
    }
    this.wake?.();
  }

  /** Seals with the device codec and publishes on the up topic; returns the frame. */
  async send(type: number, body: CborValue, seq = ++this.seq): Promise<Uint8Array> {
    const f = seal(type, seq, this.clock(), body, this.key, sha256, new Uint8Array(2048));
    if (typeof f === "number") throw new Error(`seal: ${f}`);
    await this.sendRaw(f);
    return f;
  }

  async sendRaw(frame: Uint8Array): Promise<void> {
    await this.client.publishAsync(topicUp(GRID, this.routerId), Buffer.from(frame), { qos: 1 });
  }

  /** Pairs a client on the router's side too, so that its schedules validate here. */
  async pair(client: number, kind: number, ratedW: number, priority: number, name: string): Promise<void> {
    const lim = new Uint16Array(Math.max(this.lim.maxPerSlot.length, client + 1));
    lim.set(this.lim.maxPerSlot);
    lim[client] = maxPerSlotOf(ratedW, 10, 10);
    this.lim = { horizonSlots: 144, maxPerSlot: lim };
    await this.send(M.PAIRING, [client, kind, 1, null, ratedW, priority, name]);
  }

  /** The next message of a type (taken out of the inbox), waiting for it. */
  async next(type: number, what = ""): Promise<Received> {
    for (let waited = 0; ; waited++) {
      const i = this.inbox.findIndex((m) => m.type === type);
      if (i >= 0) return this.inbox.splice(i, 1)[0];
      if (waited > 500) throw new Error(`no message of type ${type} ${what}; inbox: ${JSON.stringify(this.inbox.map((m) => m.type))}, refused: ${JSON.stringify(this.refused)}`);
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, 20);
      });
    }
  }

  /** Waits until the server has handled everything sent before: a non-envelope is NACKed after it. */
  async sync(): Promise<void> {
    await this.sendRaw(new Uint8Array([0]));
    for (;;) {
      const n = await this.next(M.NACK_DOWN, "(sync)");
      if ((n.body as number[])[2] === M.E_ENVELOPE) return;
      this.inbox.unshift(n);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  drop(type: number): void {
    for (let i = this.inbox.length - 1; i >= 0; i--) if (this.inbox[i].type === type) this.inbox.splice(i, 1);
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}

let broker: Aedes;
let tcp: net.Server;
let url: string;
let now: number;
let server: EnergyServer;
const routers: FakeRouter[] = [];
/** 2,000 Wh a slot: 200 packets. */
const SUPPLY_WH = 2000;

async function router(key = KEY, id = ROUTER): Promise<FakeRouter> {
  const r = await FakeRouter.connect(url, id, key, () => now);
  routers.push(r);
  return r;
}

function state(): RouterState {
  return server.router(GRID, ROUTER) as RouterState;
}

/** A copy of what the server holds for the router that a refused frame must not change (leases: what it sent, optional). */
function snapshot(leases = true): unknown {
  const r = state();
  return {
    lastSeq: r.lastSeq,
    hello: r.hello,
    clients: [...r.clients.values()].map((c) => ({ ...c, leaseEnd: leases ? c.leaseEnd : 0 })),
    requests: [...r.requests.values()].map((q) => ({ id: q.id, status: q.status, plan: Array.from(q.plan), acked: Array.from(q.acked) })),
    acks: [...r.acks.entries()].map(([c, m]) => [c, [...m.entries()]]),
    backup: r.backup,
    telemetry: r.telemetry,
    lastReqId: r.lastReqId,
  };
}

beforeEach(async () => {
  now = T0 + 5;
  broker = await Aedes.createBroker();
  tcp = net.createServer(broker.handle);
  await new Promise<void>((resolve) => tcp.listen(0, "127.0.0.1", resolve));
  url = `mqtt://127.0.0.1:${(tcp.address() as net.AddressInfo).port}`;
  server = await startServer({
    brokerUrl: url,
    routers: [{ gridId: GRID, routerId: ROUTER, key: KEY }],
    supply: () => ({ pvWh: SUPPLY_WH, windWh: 0, importWh: 0 }),
    now: () => now,
    leaseSlots: 12,
    heartbeatS: 60,
  });
});

afterEach(async () => {
  for (const r of routers.splice(0)) await r.close();
  await server.close();
  await new Promise<void>((resolve) => tcp.close(() => resolve()));
  await new Promise<void>((resolve) => broker.close(() => resolve()));
});

describe("the reference server over a broker", () => {
  it("answers HELLO with a heartbeat (QoS 1, in order with what follows) echoing the HELLO's seq, on the server's time", async () => {
    const r = await router();
    const hello = await r.send(M.HELLO, ["0.2.0", 7, 0, 512], 4711);
    const hb = await r.next(M.HEARTBEAT);
    expect(hb.body).toEqual([10, 10, 4711]);
    expect(hb.time).toBe(now);
    expect(hb.qos).toBe(1);
    expect(state().lastSeq).toBe(4711);
    expect(state().hello).toMatchObject({ seq: 4711, firmware: "0.2.0", bootCount: 7, maxFrameBytes: 512 });
    expect(server.stats().bytesIn).toBe(hello.length);
  });

  it("admits a request of a paired client: ACCEPT, then a SCHEDULE the device takes, leased and inside the horizon", async () => {
    const r = await router();
    await r.pair(2, M.KIND_ENERGY, 11000, 4, "EV");
    await r.send(M.REQUEST, [[301, 2, M.KIND_ENERGY, 0, 12, 300, 183]]);
    expect((await r.next(M.ACCEPT)).body).toEqual([301]);
    const s = await r.next(M.SCHEDULE);
    expect(s.qos).toBe(1);
    expect(M.validateBody(M.SCHEDULE, s.body, r.lim)).toBe(0);
    const [client, first, counts, lease] = s.body as [number, number, number[], number];
    expect(client).toBe(2);
    expect(first + counts.length).toBeLessThanOrEqual(144);
    expect(lease).toBe(12);
    // 200 packets a slot of supply, 183 at most for the EV: 183 now and the rest in the next slot.
    expect(first).toBe(0);
    expect(counts).toEqual([183, 117]);
    expect(state().requests.get(301)).toMatchObject({ status: "open", client: 2, earliest: slotOf(now, 10), end: slotOf(now, 10) + 12 });
    expect(server.stats()).toMatchObject({ requestsReceived: 1, requestsAccepted: 1, sendErrors: 0 });
    expect(r.refused).toEqual([]);
  });

  it("rejects what the supply cannot serve, and an unknown client's item, with reasons and retry hints", async () => {
    const r = await router();
    await r.pair(2, M.KIND_ENERGY, 11000, 4, "EV");
    await r.pair(1, M.KIND_PROFILE, 2200, 4, "washer");
    await r.send(M.REQUEST, [[301, 2, M.KIND_ENERGY, 0, 2, 366, 183]]);
    await r.next(M.ACCEPT);
    await r.next(M.SCHEDULE);
    // The EV holds 183 of 200 packets in both slots (leased), and a profile starts at a slot
    // boundary still to come: a 2-slot washer profile by the end of slot 2 does not fit.
    await r.send(M.REQUEST, [
      [302, 1, M.KIND_PROFILE, 0, 3, [20, 20]],
      [303, 9, M.KIND_ENERGY, 0, 6, 10, 5],
      [304, 1, M.KIND_PROFILE, 0, 6, [17]],
    ]);
    expect((await r.next(M.ACCEPT)).body).toEqual([304]);
    const rej = (await r.next(M.REJECT)).body as number[];
    expect(M.validateBody(M.REJECT, rej, r.lim)).toBe(0);
    expect(rej.slice(0, 3)).toEqual([303, M.REJ_CLIENT, 0]);
    expect(rej.slice(3, 5)).toEqual([302, M.REJ_CAPACITY]);
    expect(rej[5]).toBeGreaterThan(0);
    expect(state().requests.get(302)).toMatchObject({ status: "rejected", reason: M.REJ_CAPACITY });
    expect(state().requests.has(303)).toBe(false);
    expect(state().clients.get(1)?.rejections).toBe(0);
    // The 1-slot profile starts in the next slot, not in the one already begun.
    const s = await r.next(M.SCHEDULE);
    expect(s.body).toEqual([1, 1, [17], 12]);
    expect(server.stats().requestsRejected[M.REJ_CAPACITY]).toBe(1);
    expect(server.stats().requestsRejected[M.REJ_CLIENT]).toBe(1);
  });

  it("does not admit a known open request id twice", async () => {
    const r = await router();
    await r.pair(2, M.KIND_ENERGY, 11000, 4, "EV");
    const item = [301, 2, M.KIND_ENERGY, 0, 12, 300, 183];
    await r.send(M.REQUEST, [item]);
    await r.next(M.ACCEPT);
    const plan = Array.from(state().requests.get(301)?.plan ?? []);
    await r.send(M.REQUEST, [item]);
    expect((await r.next(M.ACCEPT)).body).toEqual([301]);
    expect(server.stats().requestsAccepted).toBe(1);
    expect(Array.from(state().requests.get(301)?.plan ?? [])).toEqual(plan);
  });

  it("refuses a forged MAC, a replayed seq, a malformed frame and a bad body with a NACK each, and changes nothing", async () => {
    const r = await router();
    await r.pair(2, M.KIND_ENERGY, 11000, 4, "EV");
    const accepted = await r.send(M.REQUEST, [[301, 2, M.KIND_ENERGY, 0, 12, 300, 183]], 500);
    await r.next(M.ACCEPT);
    await r.sync();
    r.drop(M.SCHEDULE);
    const before = snapshot();
    const forged = Uint8Array.from(accepted);
    forged[forged.length - 3] ^= 0x40;
    const cases: [Uint8Array, number[]][] = [
      [forged, [500, M.REQUEST, M.E_MAC]],
      [accepted, [500, M.REQUEST, M.E_REPLAY]],
      [new Uint8Array([0xff]), [0, 0, 2]],
      [accepted.subarray(0, 12), [0, 0, 1]],
      [seal(M.REQUEST, 501, now, [[302, 2, M.KIND_ENERGY, 0, 145, 10, 5]], KEY, sha256, new Uint8Array(512)) as Uint8Array, [501, M.REQUEST, M.E_HORIZON]],
      [seal(M.ACK, 502, now, [2, 184, 10], KEY, sha256, new Uint8Array(512)) as Uint8Array, [502, M.ACK, M.E_POWER]],
      [seal(M.HEARTBEAT, 503, now, [10, 10], KEY, sha256, new Uint8Array(512)) as Uint8Array, [503, M.HEARTBEAT, M.E_TYPE]],
    ];
    for (const [frame, nack] of cases) {
      await r.sendRaw(frame);
      const n = await r.next(M.NACK_DOWN);
      expect(n.body).toEqual(nack);
    }
    expect(snapshot()).toEqual(before);
    const refused = server.stats().refused;
    expect([refused[M.E_MAC], refused[M.E_REPLAY], refused[1], refused[2], refused[M.E_HORIZON], refused[M.E_POWER], refused[M.E_TYPE]]).toEqual([1, 1, 1, 1, 1, 1, 1]);
  });

  it("refuses a router that signs with the wrong key; a router it does not serve is ignored", async () => {
    const honest = await router();
    const impostor = await router(new Uint8Array(32).fill(7));
    const stranger = await router(KEY, "r9");
    await impostor.send(M.HELLO, ["0.2.0", 1, 0, 512], 900);
    await stranger.send(M.HELLO, ["0.2.0", 1, 0, 512], 900);
    // The NACK is signed with the real router's key: the router can open it, the impostor cannot.
    expect((await honest.next(M.NACK_DOWN)).body).toEqual([900, M.HELLO, M.E_MAC]);
    await honest.sync();
    expect(impostor.refused).toContain(M.E_MAC);
    expect(impostor.inbox).toEqual([]);
    expect(state().hello).toBeNull();
    expect(state().lastSeq).toBe(0);
    expect(server.stats().unknownRouter).toBe(1);
  });

  it("keeps acks per client and slot, once: a repeat changes nothing; delivered packets count for the request", async () => {
    const r = await router();
    await r.pair(2, M.KIND_ENERGY, 11000, 4, "EV");
    await r.send(M.REQUEST, [[301, 2, M.KIND_ENERGY, 0, 12, 300, 183]]);
    await r.next(M.ACCEPT);
    const slot = slotOf(now, 10);
    now += SLOT_S;
    server.tick();
    await r.send(M.ACK, [2, 150, 1503]);
    await r.sync();
    const q = state().requests.get(301);
    expect(state().acks.get(2)?.get(slot)).toEqual([150, 1503]);
    expect(q?.delivered).toBe(150);
    const before = snapshot();
    await r.send(M.ACK, [2, 100, 990]);
    await r.sync();
    const after = snapshot() as { lastSeq: number };
    expect({ ...after, lastSeq: 0 }).toEqual({ ...(before as object), lastSeq: 0 });
    expect(server.stats()).toMatchObject({ acks: 1, ackRepeats: 1 });
  });

  it("stores a BACKUP and answers STORED with its mark; keeps telemetry", async () => {
    const r = await router();
    await r.send(M.TELEMETRY, [17, 5000, 1200]);
    await r.send(M.BACKUP, [812, 17, [5123, 1234, 2345]]);
    expect((await r.next(M.STORED)).body).toEqual([812]);
    expect(state().backup).toMatchObject({ mark: 812, bootCount: 17, totals: [5123, 1234, 2345] });
    expect(state().telemetry).toMatchObject({ bootCount: 17, totals: [5000, 1200] });
  });

  it("answers a wiped router's HELLO (CAP_RESTORE, an old seq) with RESTORE echoing it, then the echo heartbeat and schedules; lastSeq stays", async () => {
    const r = await router();
    await r.pair(2, M.KIND_ENERGY, 11000, 4, "EV");
    await r.pair(1, M.KIND_PROFILE, 2200, 6, "washer");
    await r.send(M.REQUEST, [[301, 2, M.KIND_ENERGY, 0, 24, 500, 183]]);
    await r.next(M.ACCEPT);
    await r.send(M.BACKUP, [40, 17, [5123, 1234]]);
    await r.next(M.STORED);
    await r.sync();
    now += 2 * SLOT_S;
    server.tick();
    await r.sync();
    r.inbox.length = 0;
    const lastSeq = state().lastSeq;
    const before = snapshot(false);
    // Wiped: its seq state is gone; this one is below what the server accepted.
    r.lastDownSeq = 0;
    await r.send(M.HELLO, ["0.2.0", 0, M.CAP_RESTORE, 512], 5);
    const restore = await r.next(M.RESTORE);
    const [helloSeq, seqBack, lastReqId, bootCount, totals, clients, items] = restore.body as [number, number, number, number, number[], CborValue[][], CborValue[][]];
    expect(M.validateBody(M.RESTORE, restore.body, r.lim)).toBe(0);
    expect([helloSeq, seqBack, lastReqId, bootCount, totals]).toEqual([5, lastSeq, 301, 17, [5123, 1234]]);
    expect(clients).toEqual([
      [1, M.KIND_PROFILE, 1, null, 2200, 6, "washer"],
      [2, M.KIND_ENERGY, 1, null, 11000, 4, "EV"],
    ]);
    // Two slots have passed with 183 + 183 planned (no ack): 134 left by the deadline, 22 slots on.
    expect(items).toEqual([[301, 2, M.KIND_ENERGY, 0, 22, 500 - 366, 183]]);
    expect((await r.next(M.HEARTBEAT)).body).toEqual([10, 10, 5]);
    // Every client gets its schedule after the HELLO: the washer, with nothing planned, an empty one.
    const s1 = await r.next(M.SCHEDULE);
    expect(s1.body).toEqual([1, 0, [0], expect.any(Number)]);
    const s = await r.next(M.SCHEDULE);
    expect((s.body as number[])[0]).toBe(2);
    expect(s.seq).toBeGreaterThan(restore.seq);
    expect(state().lastSeq).toBe(lastSeq);
    expect(snapshot(false)).toEqual(before);
  });

  it("takes a wiped router's HELLO with a new seq as accepted: RESTORE tells it that seq as the last", async () => {
    const r = await router();
    await r.send(M.HELLO, ["0.2.0", 3, 0, 512], 40);
    await r.next(M.HEARTBEAT);
    await r.send(M.HELLO, ["0.2.0", 0, M.CAP_RESTORE, 512], 2 ** 40 + 17);
    const restore = await r.next(M.RESTORE);
    // The boot count is the highest the server knows: the HELLO before said 3.
    expect((restore.body as number[]).slice(0, 4)).toEqual([2 ** 40 + 17, 2 ** 40 + 17, 0, 3]);
    expect(state().lastSeq).toBe(2 ** 40 + 17);
    // An old HELLO that does not ask for RESTORE is a replay.
    await r.send(M.HELLO, ["0.2.0", 4, 0, 512], 41);
    expect((await r.next(M.NACK_DOWN)).body).toEqual([41, M.HELLO, M.E_REPLAY]);
  });

  it("sends heartbeats every heartbeatS to every router it serves, and renews leases before they end", async () => {
    const r = await router();
    await r.send(M.HELLO, ["0.2.0", 3, 0, 512]);
    await r.next(M.HEARTBEAT);
    await r.pair(2, M.KIND_ENERGY, 11000, 4, "EV");
    await r.send(M.REQUEST, [[301, 2, M.KIND_ENERGY, 0, 100, 3000, 183]]);
    await r.next(M.ACCEPT);
    const first = await r.next(M.SCHEDULE);
    now += 59;
    server.tick();
    now += 1;
    server.tick();
    const hb = await r.next(M.HEARTBEAT);
    expect(hb.body).toEqual([10, 10]);
    expect(hb.qos).toBe(0);
    // 12-slot leases are renewed 6 slots before they end.
    now += 5 * SLOT_S;
    server.tick();
    await r.sync();
    expect(r.inbox.filter((m) => m.type === M.SCHEDULE)).toEqual([]);
    now += SLOT_S;
    server.tick();
    const renewed = await r.next(M.SCHEDULE);
    expect(renewed.seq).toBeGreaterThan(first.seq);
    expect((renewed.body as number[])[3]).toBe(12);
    expect(M.validateBody(M.SCHEDULE, renewed.body, r.lim)).toBe(0);
    expect(state().clients.get(2)?.leaseEnd).toBe(slotOf(now, 10) + 12);
  });

  it("keeps an offline router's allocation and sends its schedules when it is online again", async () => {
    const r = await router();
    await r.send(M.HELLO, ["0.2.0", 3, 0, 512]);
    await r.pair(2, M.KIND_ENERGY, 11000, 4, "EV");
    await r.send(M.REQUEST, [[301, 2, M.KIND_ENERGY, 0, 100, 3000, 183]]);
    await r.next(M.ACCEPT);
    await r.next(M.SCHEDULE);
    await r.client.publishAsync(topicStatus(GRID, ROUTER), "offline", { qos: 1, retain: true });
    await r.sync();
    expect(state().online).toBe(false);
    now += 20 * SLOT_S;
    server.tick();
    await r.sync();
    expect(r.inbox.filter((m) => m.type === M.SCHEDULE)).toEqual([]);
    expect(state().requests.get(301)?.status).toBe("open");
    await r.client.publishAsync(topicStatus(GRID, ROUTER), "online", { qos: 1, retain: true });
    const s = await r.next(M.SCHEDULE);
    expect((s.body as number[])[0]).toBe(2);
    expect(M.validateBody(M.SCHEDULE, s.body, r.lim)).toBe(0);
  });

  it("puts an EMERGENCY request in the top class and admits a rejected one again", async () => {
    const r = await router();
    await r.pair(2, M.KIND_ENERGY, 11000, 4, "EV");
    await r.pair(3, M.KIND_ENERGY, 11000, 1, "EV2");
    await r.send(M.REQUEST, [[301, 2, M.KIND_ENERGY, 0, 2, 366, 183]]);
    await r.next(M.ACCEPT);
    await r.send(M.REQUEST, [[302, 3, M.KIND_ENERGY, 0, 2, 100, 50]]);
    expect(((await r.next(M.REJECT)).body as number[]).slice(0, 2)).toEqual([302, M.REJ_CAPACITY]);
    // The first EV is unpaired: its packets are free again, and 302 comes back as an emergency.
    await r.send(M.PAIRING, [2, 0]);
    await r.send(M.EMERGENCY, [302, 3, M.EMG_REJECTED]);
    expect((await r.next(M.ACCEPT)).body).toEqual([302]);
    expect(state().requests.get(302)).toMatchObject({ status: "open", cls: 0, emergency: true });
    expect(state().requests.get(301)?.status).toBe("cancelled");
    // An emergency for a request the server never had is refused for policy.
    await r.send(M.EMERGENCY, [999, 3, M.EMG_NOW]);
    expect(((await r.next(M.REJECT)).body as number[]).slice(0, 2)).toEqual([999, M.REJ_POLICY]);
    expect(server.stats().emergencies).toBe(2);
    const rows = server.slices(slotOf(now, 10), slotOf(now, 10) + 2);
    expect(rows.map((row) => row.packets[0])).toEqual([50, 50]);
    expect(rows.map((row) => row.capacity)).toEqual([200, 200]);
  });
});
