// Simulated days over Debian's mosquitto (test/support/mosquitto.ts), which
// the test starts on a free loopback port: a whole day, then mosquitto
// restarted for an hour in the middle of the day. Unlike the embedded aedes
// (tools/sim/broker.ts), mosquitto here runs with `persistence false`: a
// restart forgets every session, subscription and queued message, the
// router's and the server's alike. Who comes back first then decides what
// is lost, so each order has its own describe, made deterministic: the
// router only runs in virtual time (w.run), the server's mqtt client in
// real time.

import * as net from "node:net";
import mqtt, { type MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LINK_ATTEMPTS, LINK_BYTES_IN, LINK_BYTES_OUT, LINK_CONNECTS, LINK_DROPS } from "../../firmware/link";
import { topicStatus } from "../../protocol/topics";
import { World, projectConfig } from "../../tools/sim/world";
import { checkDay } from "../integration/day-checks";
import { startMosquitto, type Mosquitto } from "../support/mosquitto";

const HOUR = 3_600_000;
/** Virtual ms per step of a paced run (the world's own step). */
const STEP_MS = 5000;
/** Real ms a paced step waits at most for the router to take what the server sent. */
const CATCH_UP_MS = 200;
/** The client id of the world's server (tools/sim/world.ts). */
const SERVER_CLIENT_ID = "sden-reference-server";
/** Real ms allowed for anything awaited on the network: a guard, not a measure. */
const WAIT_MS = 10_000;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function until(what: string, done: () => boolean | Promise<boolean>): Promise<void> {
  const end = Date.now() + WAIT_MS;
  while (!(await done())) {
    if (Date.now() > end) throw new Error(`still waiting after ${WAIT_MS} ms: ${what}`);
    await sleep(20);
  }
}

/**
 * Waits until the world's server hears the broker again: publishes on the
 * status topic of a router it does not serve until it counts one more
 * unknown router, which takes its subscriptions to be in place again.
 */
async function serverHears(w: World, port: number): Promise<void> {
  const before = w.server.stats().unknownRouter;
  const probe = await mqtt.connectAsync({ host: "127.0.0.1", port, protocolVersion: 4, clientId: "sden-e2e-probe", reconnectPeriod: 0 });
  try {
    const topic = topicStatus("e2e-probe", "probe");
    await until("the server to subscribe again", () => {
      probe.publish(topic, "probe", { qos: 1 });
      return w.server.stats().unknownRouter > before;
    });
  } finally {
    await probe.endAsync();
  }
}

/**
 * Runs a world over mosquitto without virtual time running ahead of it.
 * The world's pump (tools/sim/pump.ts) lets virtual time go on once the
 * router holds no QoS 1 message and nothing has moved for 3 ms of real
 * time; it cannot see a broker in another process. Two things then arrive
 * minutes of virtual time late:
 * - a CONNACK or PINGRESP on a busy machine: the router's connect timeout
 *   (10 s) or 1.5 keep-alives pass, and it drops a connection that was fine;
 * - a frame mosquitto forwards to the router while its last one is not yet
 *   ACKed: mosquitto keeps Nagle's algorithm on (set_tcp_nodelay false, its
 *   default) and the router's kernel delays its ACK by up to 40 ms. A
 *   heartbeat that comes late sets the router's clock behind; a burst of
 *   them steps it back (firmware/agent.ts takes a step back of more than a
 *   slot as a correction), and relays switch late, spilling into the next
 *   slot.
 * So after each step in which anything moved, a paced run waits until
 * mosquitto has acknowledged a QoS 1 publish of a client of its own (by then
 * it has handled everything sent before), then until the router has taken
 * every frame the server sent it, at most CATCH_UP_MS (a frame lost to a
 * broker that went away is not waited for beyond that). That wait is most
 * of a paced day's real time, and would go with set_tcp_nodelay true in
 * mosquitto's configuration. While mosquitto is down (no client), steps are
 * not paced.
 */
class Pacer {
  private client: MqttClient | undefined;

  constructor(
    private readonly w: World,
    private readonly port: number,
  ) {}

  /** Connects its client to mosquitto (again after a restart). */
  async connect(): Promise<void> {
    this.client = await mqtt.connectAsync({ host: "127.0.0.1", port: this.port, protocolVersion: 4, clientId: "sden-e2e-pacer", reconnectPeriod: 0 });
  }

  /** Before mosquitto stops: steps go unpaced until connect(). */
  async disconnect(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    await c?.endAsync(true);
  }

  async run(ms: number): Promise<void> {
    const w = this.w;
    const end = w.board.clock.worldMs() + ms;
    while (w.board.clock.worldMs() < end) {
      const before = this.activity();
      await w.run(Math.min(STEP_MS, end - w.board.clock.worldMs()));
      if (this.client && this.activity() !== before) await this.settle(this.client);
    }
  }

  private activity(): number {
    const c = this.w.router?.agent?.link?.counts;
    const st = this.w.server.stats();
    return (c ? c[LINK_BYTES_OUT] + c[LINK_BYTES_IN] + c[LINK_ATTEMPTS] : 0) + st.framesIn + st.framesOut;
  }

  private async settle(c: MqttClient): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`mosquitto did not answer within ${WAIT_MS} ms`)), WAIT_MS);
    });
    try {
      await Promise.race([c.publishAsync("sden-e2e/pace", "", { qos: 1 }), late]);
    } finally {
      clearTimeout(timer);
    }
    const end = performance.now() + CATCH_UP_MS;
    while (this.downBehind() && performance.now() < end) await sleep(1);
  }

  /** Whether the server sent the router a frame with a seq above the highest the router took. */
  private downBehind(): boolean {
    const r = this.w.server.router(this.w.config.gridId, this.w.config.routerId);
    const a = this.w.router?.agent;
    return !!r && !!a && a.peer.lastSeq < r.sendSeq;
  }
}

/** Whether a connection to the port on loopback is refused (nothing listens). */
function refuses(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect({ host: "127.0.0.1", port });
    c.once("connect", () => {
      c.destroy();
      resolve(false);
    });
    c.once("error", () => resolve(true));
  });
}

/**
 * A listener on the broker's port that accepts connections and never
 * answers: a client that connects waits for a CONNACK that does not come
 * (mqtt.js for its connectTimeout, 30 s of real time; the router for 10 s
 * of virtual time, then it tries again). stopListening() closes the
 * listener and keeps the connections it took, so mosquitto can come back on
 * the port while the server's client is still held; release() ends them.
 */
async function blackHole(port: number): Promise<{ holds(clientId: string): boolean; stopListening(): Promise<void>; release(): void }> {
  const conns = new Map<net.Socket, string>();
  const server = net.createServer((c) => {
    conns.set(c, "");
    // The CONNECT frame names the client; its bytes are enough to find the id.
    c.on("data", (d: Buffer) => conns.set(c, (conns.get(c) ?? "") + d.toString("latin1")));
    c.on("error", () => undefined);
    c.on("close", () => conns.delete(c));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  return {
    holds: (clientId) => [...conns.values()].some((s) => s.includes(clientId)),
    // server.close() calls back only once every connection has ended: the
    // router's, if it is waiting for a CONNACK, never does while virtual time
    // stands still. What counts is that the port refuses.
    stopListening: async () => {
      server.close();
      await until("the hole to stop listening", () => refuses(port));
    },
    release: () => {
      for (const c of conns.keys()) c.destroy();
    },
  };
}

/** The slots of the day (0: the first) of the hour from downAtMs of world time. */
function slotsOfHour(w: World, downAtMs: number): number[] {
  const first = Math.floor(downAtMs / 1000 / w.scenario.slotS);
  const n = HOUR / 1000 / w.scenario.slotS;
  return Array.from({ length: n }, (_, k) => first + k);
}

/** [client id, its name, slot of the day] for every slot of `slots` in which the client drew at least half a packet. */
function deliveredIn(w: World, slots: number[]): [number, string, number][] {
  const out: [number, string, number][] = [];
  (w.config.clients ?? []).forEach((c, i) => {
    for (const k of slots) if (w.household.slots[k].applianceWh[i] >= w.config.packetWh / 2) out.push([i + 1, c.name, k]);
  });
  return out;
}

/** The server's ack of a client's slot of the day, if it has one. */
function ackAtServer(w: World, client: number, slotOfDay: number): [number, number] | undefined {
  const day0 = Math.floor(w.scenario.startS / w.scenario.slotS);
  return w.server.router(w.config.gridId, w.config.routerId)?.acks.get(client)?.get(day0 + slotOfDay);
}

describe("a simulated day over mosquitto", () => {
  let m: Mosquitto;
  let w: World;
  let pacer: Pacer | undefined;
  beforeAll(async () => {
    m = await startMosquitto();
    w = await World.create({ scenario: "sunny-summer", seed: 1, brokerPort: m.port });
    pacer = new Pacer(w, m.port);
    await pacer.connect();
    await pacer.run(24 * HOUR);
  });
  afterAll(async () => {
    await pacer?.disconnect();
    await w?.close();
    await m?.close();
  });

  it("runs without the embedded broker, the link up the whole day", () => {
    expect(w.broker).toBeUndefined();
    expect(w.router?.agent?.link?.counts[LINK_CONNECTS]).toBe(1);
    expect(w.router?.agent?.link?.counts[LINK_DROPS]).toBe(0);
  });

  checkDay(() => w);
});

describe("mosquitto restarts after an hour away, and the server is back before the router", () => {
  let m: Mosquitto;
  let w: World;
  let pacer: Pacer | undefined;
  let downAtMs = 0;
  let heldAcks = 0;
  let schedulesBefore = 0;

  beforeAll(async () => {
    m = await startMosquitto();
    // Failsafe all the hour, on the schedule it holds (the local server would take over after localAfterS: test/integration/local-*.test.ts).
    w = await World.create({ scenario: "sunny-summer", seed: 1, brokerPort: m.port, config: { ...projectConfig(), localAfterS: 7200 } });
    pacer = new Pacer(w, m.port);
    await pacer.connect();
    await pacer.run(11 * HOUR);
    downAtMs = w.board.clock.worldMs();
    await pacer.disconnect();
    await m.stop();
    await pacer.run(HOUR);
    heldAcks = w.router?.agent?.summary().pendingAcks ?? 0;
    schedulesBefore = w.router?.agent?.counters.schedules ?? 0;
    await m.start();
    // No virtual time passes until the server has subscribed again: the router cannot reconnect before.
    await serverHears(w, m.port);
    await pacer.connect();
    await pacer.run(12 * HOUR);
  });
  afterAll(async () => {
    await pacer?.disconnect();
    await w?.close();
    await m?.close();
  });

  it("the router held the hour without a reboot, then came back and subscribed again: schedules reached it", () => {
    const a = w.router?.agent;
    expect(w.board.boots.map((b) => b.reason)).toEqual(["power-on"]);
    expect(a?.link?.counts[LINK_DROPS]).toBe(1);
    expect(a?.link?.counts[LINK_CONNECTS]).toBe(2);
    expect(w.R.status().link).toBe("online");
    // Its HELLO after the restart had the server send every schedule again, on a subscription made after the restart.
    expect((a?.counters.schedules ?? 0) - schedulesBefore).toBeGreaterThan(0);
  });

  it("the acks held through the hour reached the server once the router was back, each exactly once", () => {
    const delivered = deliveredIn(w, slotsOfHour(w, downAtMs));
    expect(delivered.length).toBeGreaterThan(0);
    expect(heldAcks).toBeGreaterThanOrEqual(5);
    for (const [client, name, k] of delivered) expect(ackAtServer(w, client, k), `${name} slot ${k}`).toBeDefined();
    expect(w.server.stats().ackRepeats).toBe(0);
    expect(w.router?.agent?.summary().pendingAcks).toBe(0);
  });

  checkDay(() => w);
});

describe("mosquitto restarts after an hour away, and the router is back before the server", () => {
  let m: Mosquitto;
  let w: World;
  let pacer: Pacer | undefined;
  let downAtMs = 0;
  let heldAcks = 0;
  /** When the router was back and the server not yet. */
  let routerBack = { pendingAcks: -1, serverAcks: -1, serverAcksBefore: -1 };
  let schedulesBefore = 0;

  beforeAll(async () => {
    m = await startMosquitto();
    // Long leases, so that the router's schedule covers the hour and the minutes without the server after it.
    w = await World.create({ scenario: "sunny-summer", seed: 1, brokerPort: m.port, server: { leaseSlots: 24 } });
    pacer = new Pacer(w, m.port);
    await pacer.connect();
    await pacer.run(11 * HOUR);
    const serverAcksBefore = w.server.stats().acks;
    downAtMs = w.board.clock.worldMs();
    await pacer.disconnect();
    await m.stop();
    // The server's client reconnects every 200 ms of real time, into the hole, and stays there waiting for its CONNACK.
    const hole = await blackHole(m.port);
    try {
      await pacer.run(HOUR);
      await until("the server's client to connect into the hole", () => hole.holds(SERVER_CLIENT_ID));
      heldAcks = w.router?.agent?.summary().pendingAcks ?? 0;
      await hole.stopListening();
      await m.start();
      await pacer.connect();
      // Within its back-off (at most a minute) the router is back on mosquitto, and hands it what it held.
      await pacer.run(5 * 60_000);
      routerBack = { pendingAcks: w.router?.agent?.summary().pendingAcks ?? -1, serverAcks: w.server.stats().acks, serverAcksBefore };
      schedulesBefore = w.router?.agent?.counters.schedules ?? 0;
    } finally {
      hole.release();
    }
    await serverHears(w, m.port);
    await pacer.run(2 * HOUR);
  });
  afterAll(async () => {
    await pacer?.disconnect();
    await w?.close();
    await m?.close();
  });

  it("the router, back before the server, holds its acks until the server answers its HELLO: none handed to a broker with nobody subscribed", () => {
    expect(w.router?.agent?.link?.counts[LINK_CONNECTS]).toBe(2);
    expect(heldAcks).toBeGreaterThanOrEqual(5);
    // While the server was away, the acks stayed pending at the router.
    expect(routerBack.pendingAcks).toBeGreaterThanOrEqual(heldAcks);
    expect(routerBack.serverAcks).toBe(routerBack.serverAcksBefore);
    expect(w.router?.agent?.summary().pendingAcks).toBe(0);
  });

  it("once the server is back, schedules reach the router on the subscription it made after the restart, and nothing is refused", () => {
    const a = w.router?.agent;
    expect(w.board.boots.map((b) => b.reason)).toEqual(["power-on"]);
    expect(w.R.status().link).toBe("online");
    expect((a?.counters.schedules ?? 0) - schedulesBefore).toBeGreaterThan(0);
    expect(a?.counters.framesRefused).toBe(0);
    expect(a?.counters.schedulesRefused).toBe(0);
    expect(w.server.stats().ackRepeats).toBe(0);
    expect(w.board.uncaught).toEqual([]);
    for (const x of w.household.appliances) expect(x.counters.deadlinesMissed, x.name).toBe(0);
  });

  // A broker that lost the server's session acknowledges what nobody hears:
  // the router sends its held acks only once the server has answered this
  // session's HELLO (firmware/agent.ts, ready()), so none is lost.
  it("every slot delivered during the hour is acked at the server", () => {
    const delivered = deliveredIn(w, slotsOfHour(w, downAtMs));
    expect(delivered.length).toBeGreaterThan(0);
    for (const [client, name, k] of delivered) expect(ackAtServer(w, client, k), `${name} slot ${k}`).toBeDefined();
  });
});
