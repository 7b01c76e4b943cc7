// The router's MQTT session (firmware/link.ts). Three kinds of peer:
// - the real aedes broker (tools/sim/broker.ts) on loopback, with the link on
//   a SimBoard's HAL and an mqtt.js client as the other party, driven by the
//   pump (tools/sim/pump.ts): virtual time for the link, real I/O between steps;
// - a raw TCP fake broker built on mqtt-packet, for what aedes will not do
//   (withhold a PUBACK, stay silent, refuse, send garbage);
// - an in-memory socket, for the properties checked over thousands of runs
//   (packet ids and the queue, frames split anywhere, random garbage).
// Nothing here reads the wall clock: every time asserted is virtual.

import * as net from "node:net";
import fc from "fast-check";
import mqtt, { type MqttClient } from "mqtt";
import * as mp from "mqtt-packet";
import type { Packet } from "mqtt-packet";
import { afterEach, describe, expect, it } from "vitest";
import {
  backoffMs,
  Link,
  LINK_ATTEMPTS,
  LINK_BAD_FRAMES,
  LINK_BYTES_IN,
  LINK_BYTES_OUT,
  LINK_CONNECTS,
  LINK_DROPS,
  LINK_HANDLER_ERRORS,
  LINK_PUB_REFUSED,
  LINK_REFUSED,
  LINK_RETRANSMITS,
  LINK_SUB_REFUSED,
  LINK_TIMEOUTS,
  type LinkOptions,
} from "../../firmware/link";
import type { Clock, Socket, SocketOptions } from "../../hal/types";
import { VirtualClock } from "../../hal/sim/clock";
import { SimBoard } from "../../hal/sim/board";
import { startBroker, type SimBroker } from "../../tools/sim/broker";
import { runFor, runUntil, settleNow, type PumpOptions } from "../../tools/sim/pump";
import { seededRandom } from "../../tools/sim/random";
import { ascii } from "../support/bytes";

const STATUS = "sden/r1/status";
const CMD = "sden/r1/cmd";
const DATA = "sden/r1/data";
const text = (b: Uint8Array | Buffer) => Buffer.from(b).toString("latin1");

/** Everything a test started, stopped after it whatever happened. */
let cleanups: (() => unknown)[] = [];
afterEach(async () => {
  const list = cleanups.reverse();
  cleanups = [];
  for (const f of list) await f();
});

function options(clock: Clock, connect: (o: SocketOptions) => Socket, port: number, over: Partial<LinkOptions> = {}): LinkOptions {
  return {
    clock,
    connect,
    host: "127.0.0.1",
    port,
    clientId: "sden-r1",
    keepAliveS: 30,
    will: { topic: STATUS, payload: ascii("offline") },
    online: { topic: STATUS, payload: ascii("online") },
    subscriptions: [CMD],
    maxFrameBytes: 1024,
    maxQueue: 8,
    backoffMinMs: 1000,
    backoffMaxMs: 16000,
    random: seededRandom(7),
    retryMs: 20000,
    onMessage: () => undefined,
    ...over,
  };
}

// --- the link on a simulated board ------------------------------------------

/** The link on a SimBoard, with every connect, connection and close it saw, in virtual ms. */
class Rig {
  readonly board = new SimBoard();
  readonly clock: Clock;
  readonly link: Link;
  readonly got: { topic: string; payload: string }[] = [];
  readonly states: { up: boolean; atMs: number }[] = [];
  readonly attemptsMs: number[] = [];
  readonly closesMs: number[] = [];
  readonly randoms: number[] = [];
  /** Connects that have neither connected nor closed yet. */
  pending = 0;
  /** Peers and brokers whose activity the pump watches. */
  readonly watched: (() => number)[] = [];

  constructor(port: number, over: Partial<LinkOptions> = {}) {
    this.board.start(() => undefined);
    const hal = this.board.hal();
    this.clock = hal.clock;
    const random = seededRandom(11);
    this.link = new Link(
      options(
        hal.clock,
        (o) => {
          this.attemptsMs.push(hal.clock.nowMs());
          this.pending++;
          let waiting = true;
          const done = () => {
            if (waiting) this.pending--;
            waiting = false;
          };
          return hal.connect({
            ...o,
            onConnect: () => {
              done();
              o.onConnect();
            },
            onClose: () => {
              done();
              this.closesMs.push(hal.clock.nowMs());
              o.onClose();
            },
          });
        },
        port,
        {
          random: () => {
            const r = random();
            this.randoms.push(r);
            return r;
          },
          onMessage: (topic, payload) => this.got.push({ topic, payload: text(payload) }),
          onState: (up) => this.states.push({ up, atMs: hal.clock.nowMs() }),
          ...over,
        },
      ),
    );
    cleanups.push(() => this.link.close());
  }

  /** Quiet: no connect under way, no QoS 1 publish unacknowledged while up, no byte moving. */
  pump(stepMs = 100, settle: () => boolean = () => true): PumpOptions {
    const l = this.link;
    return {
      stepMs,
      advance: (ms) => this.board.run(ms),
      settle: () => this.pending === 0 && (!l.isUp() || l.queued() === 0) && settle(),
      activity: () => this.watched.reduce((s, f) => s + f(), l.counts[LINK_BYTES_IN] + l.counts[LINK_BYTES_OUT]),
      maxWaitMs: 2000,
    };
  }

  runFor(ms: number, stepMs = 100, settle?: () => boolean): Promise<number> {
    return runFor(this.board.clock, ms, this.pump(stepMs, settle));
  }

  runUntil(done: () => boolean, limitMs: number, stepMs = 100): Promise<boolean> {
    return runUntil(this.board.clock, done, limitMs, this.pump(stepMs));
  }
}

async function broker(port?: number): Promise<SimBroker> {
  const b = await startBroker({ port });
  cleanups.push(() => b.stop());
  return b;
}

interface Received {
  topic: string;
  payload: string;
  qos: number;
  retain: boolean;
}

/** An mqtt.js client (the server's side), subscribed at QoS 1 before it returns. */
async function peer(b: SimBroker, topics: string[]): Promise<{ client: MqttClient; msgs: Received[] }> {
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${b.port}`, { protocolVersion: 4, reconnectPeriod: 0, clean: true });
  cleanups.push(() => client.endAsync(true));
  const msgs: Received[] = [];
  client.on("message", (topic, payload, packet) => msgs.push({ topic, payload: text(payload), qos: packet.qos, retain: packet.retain }));
  if (topics.length) await client.subscribeAsync(topics, { qos: 1 });
  return { client, msgs };
}

describe("Link with the aedes broker", () => {
  it("connects, publishes retained online, subscribes, and carries QoS 0 and 1 both ways", async () => {
    const b = await broker();
    const p = await peer(b, [STATUS, DATA]);
    const r = new Rig(b.port);
    r.watched.push(b.activity, () => p.msgs.length);
    r.link.start();
    expect(await r.runUntil(() => r.link.isUp(), 5000)).toBe(true);
    expect(r.states.map((s) => s.up)).toEqual([true]);
    expect(r.link.counts[LINK_CONNECTS]).toBe(1);

    expect(r.link.publish(DATA, ascii("q0"), 0)).toBe(1);
    const id = r.link.publish(DATA, ascii("q1"), 1);
    expect(id).toBeGreaterThan(0);
    await r.runFor(500);
    expect(r.link.queued()).toBe(0);
    expect(p.msgs).toEqual([
      { topic: STATUS, payload: "online", qos: 1, retain: false },
      { topic: DATA, payload: "q0", qos: 0, retain: false },
      { topic: DATA, payload: "q1", qos: 1, retain: false },
    ]);

    // The status is retained: a client that subscribes later reads it.
    const late = await peer(b, [STATUS]);
    await settleNow({ settle: () => late.msgs.length > 0 });
    expect(late.msgs).toEqual([{ topic: STATUS, payload: "online", qos: 1, retain: true }]);

    await p.client.publishAsync(CMD, "c0", { qos: 0 });
    await p.client.publishAsync(CMD, "c1", { qos: 1 });
    await r.runFor(500, 100, () => r.got.length >= 2);
    expect(r.got).toEqual([
      { topic: CMD, payload: "c0" },
      { topic: CMD, payload: "c1" },
    ]);
  });

  it("the broker publishes the retained will when the connection dies without DISCONNECT", async () => {
    const b = await broker();
    const r = new Rig(b.port);
    r.watched.push(b.activity);
    r.link.start();
    expect(await r.runUntil(() => r.link.isUp(), 5000)).toBe(true);
    await r.runFor(200);
    // The board loses power: its sockets die with it, no DISCONNECT.
    r.board.powerCut(false);
    await settleNow({ activity: b.activity, quietMs: 20 });
    const p = await peer(b, [STATUS]);
    await settleNow({ settle: () => p.msgs.length > 0 });
    expect(p.msgs).toEqual([{ topic: STATUS, payload: "offline", qos: 1, retain: true }]);
  });

  it("close() sends DISCONNECT: no will, the status stays online, no callback afterwards", async () => {
    const b = await broker();
    const r = new Rig(b.port);
    r.watched.push(b.activity);
    r.link.start();
    expect(await r.runUntil(() => r.link.isUp(), 5000)).toBe(true);
    await r.runFor(200);
    r.link.close();
    expect(r.link.isUp()).toBe(false);
    await settleNow({ activity: b.activity, quietMs: 20 });
    const p = await peer(b, [STATUS]);
    await settleNow({ settle: () => p.msgs.length > 0 });
    expect(p.msgs).toEqual([{ topic: STATUS, payload: "online", qos: 1, retain: true }]);

    // Whatever happens next, the link stays silent.
    await p.client.publishAsync(CMD, "after close", { qos: 1 });
    await b.stop();
    const attempts = r.link.counts[LINK_ATTEMPTS];
    await r.runFor(120000, 1000);
    expect(r.got).toEqual([]);
    expect(r.states.map((s) => s.up)).toEqual([true]);
    expect(r.link.counts[LINK_ATTEMPTS]).toBe(attempts);
  });

  it("a persistent session: QoS 1 messages sent while the router was away arrive when it is back, across a broker restart", async () => {
    const b = await broker();
    const r = new Rig(b.port);
    r.watched.push(b.activity);
    r.link.start();
    expect(await r.runUntil(() => r.link.isUp(), 5000)).toBe(true);
    r.link.close();
    await settleNow({ activity: b.activity, quietMs: 20 });

    const p = await peer(b, []);
    await p.client.publishAsync(CMD, "while away 1", { qos: 1 });
    await p.client.publishAsync(CMD, "while away 2", { qos: 1 });
    await p.client.endAsync(true);
    await b.restart();

    r.link.start();
    expect(await r.runUntil(() => r.got.length >= 2, 5000)).toBe(true);
    await r.runFor(500);
    expect(r.got.map((m) => m.payload)).toEqual(["while away 1", "while away 2"]);
  });

  it("a QoS 1 message whose handler threw is not acknowledged, and comes again after a reconnect", async () => {
    const b = await broker();
    let fail = true;
    const r = new Rig(b.port, {});
    const seen: string[] = [];
    const link = new Link(
      options(r.clock, (o) => r.board.hal().connect(o), b.port, {
        clientId: "sden-r2",
        onMessage: (_t, payload) => {
          seen.push(text(payload));
          if (fail) throw new Error("flash busy");
        },
      }),
    );
    cleanups.push(() => link.close());
    r.watched.push(b.activity, () => link.counts[LINK_BYTES_IN] + link.counts[LINK_BYTES_OUT]);
    link.start();
    expect(await r.runUntil(() => link.isUp(), 5000)).toBe(true);
    const p = await peer(b, []);
    await p.client.publishAsync(CMD, "m", { qos: 1 });
    expect(await r.runUntil(() => seen.length === 1, 2000)).toBe(true);
    expect(link.counts[LINK_HANDLER_ERRORS]).toBe(1);
    expect(link.isUp()).toBe(true);

    fail = false;
    await b.restart();
    expect(await r.runUntil(() => seen.length === 2, 60000)).toBe(true);
    await r.runFor(500);
    expect(seen).toEqual(["m", "m"]);
    expect(link.counts[LINK_HANDLER_ERRORS]).toBe(1);
  });

  it("a broker outage: back-off grows with jitter, QoS 1 made while down arrives once and in order, subscriptions are made again", async () => {
    const b = await broker();
    const port = b.port;
    const r = new Rig(port);
    r.watched.push(b.activity);
    r.link.start();
    expect(await r.runUntil(() => r.link.isUp(), 5000)).toBe(true);
    await r.runFor(200);

    await b.stop();
    await settleNow({ settle: () => !r.link.isUp() });
    expect(r.link.isUp()).toBe(false);
    const ids: number[] = [];
    for (let k = 0; k < 5; k++) ids.push(r.link.publish(DATA, ascii("m" + k), 1));
    expect(ids.every((id) => id > 0)).toBe(true);
    expect(new Set(ids).size).toBe(5);
    expect(r.link.queued()).toBe(5);

    // Two minutes without a broker: every attempt is refused.
    await r.runFor(120000, 100);
    const attempts = r.attemptsMs.length - 1;
    expect(attempts).toBeGreaterThanOrEqual(6);
    // Attempt k+1 follows the close of attempt k by the back-off: minMs
    // doubled k times up to maxMs, then between half and all of it.
    const gaps: number[] = [];
    for (let k = 0; k < attempts; k++) {
      const gap = r.attemptsMs[k + 1] - r.closesMs[k];
      const full = Math.min(16000, 1000 * 2 ** k);
      expect(gap).toBeGreaterThanOrEqual(full / 2);
      expect(gap).toBeLessThan(full);
      expect(gap).toBe(Math.floor(full / 2 + (r.randoms[k] * full) / 2));
      gaps.push(gap);
    }
    expect(gaps[3]).toBeGreaterThan(gaps[0]);
    expect(new Set(gaps.slice(4)).size).toBeGreaterThan(1);

    // A new broker (no memory of the router) on the same port.
    const b2 = await broker(port);
    r.watched.push(b2.activity);
    const p = await peer(b2, [DATA]);
    r.watched.push(() => p.msgs.length);
    expect(await r.runUntil(() => r.link.isUp() && r.link.queued() === 0, 60000)).toBe(true);
    await r.runFor(2000);
    expect(p.msgs.map((m) => m.payload)).toEqual(["m0", "m1", "m2", "m3", "m4"]);
    expect(r.link.counts[LINK_DROPS]).toBe(1);
    expect(r.states.map((s) => s.up)).toEqual([true, false, true]);

    // It subscribed again: a command reaches it.
    await p.client.publishAsync(CMD, "after the outage", { qos: 1 });
    expect(await r.runUntil(() => r.got.length > 0, 2000)).toBe(true);
    expect(r.got).toEqual([{ topic: CMD, payload: "after the outage" }]);
  });
});

// --- a raw fake broker over TCP ----------------------------------------------

interface FakeConn {
  sock: net.Socket;
  /** Packets from the link on this connection. */
  packets: Packet[];
  send(p: Packet): void;
  raw(b: Uint8Array): void;
}

/**
 * A broker that answers as `answer` says (it gets every packet the link
 * sends, with its connection); by default CONNACK 0, SUBACK, PUBACK, PINGRESP.
 */
async function fakeBroker(answer?: (c: FakeConn, p: Packet, conns: FakeConn[]) => boolean | void) {
  const conns: FakeConn[] = [];
  let events = 0;
  const server = net.createServer((sock) => {
    const parser = mp.parser({ protocolVersion: 4 });
    const c: FakeConn = {
      sock,
      packets: [],
      send: (p) => c.raw(mp.generate(p, { protocolVersion: 4 })),
      raw: (b) => {
        events++;
        if (!sock.destroyed) sock.write(b);
      },
    };
    conns.push(c);
    sock.on("error", () => undefined);
    sock.on("close", () => events++);
    parser.on("packet", (p: Packet) => {
      events++;
      c.packets.push(p);
      // The answer may handle the packet itself (true), or leave it to the defaults.
      if (answer && answer(c, p, conns)) return;
      defaultAnswer(c, p);
    });
    parser.on("error", () => sock.destroy());
    sock.on("data", (d) => parser.parse(d));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const close = () =>
    new Promise<void>((resolve) => {
      for (const c of conns) c.sock.destroy();
      server.close(() => resolve());
    });
  cleanups.push(close);
  return { port: (server.address() as net.AddressInfo).port, conns, activity: () => events, close };
}

function defaultAnswer(c: FakeConn, p: Packet): void {
  if (p.cmd === "connect") c.send({ cmd: "connack", returnCode: 0, sessionPresent: false });
  else if (p.cmd === "subscribe") c.send({ cmd: "suback", messageId: p.messageId, granted: p.subscriptions.map((s) => s.qos) });
  else if (p.cmd === "publish" && p.qos === 1) c.send({ cmd: "puback", messageId: p.messageId });
  else if (p.cmd === "pingreq") c.send({ cmd: "pingresp" });
}

const publishes = (c: FakeConn, topic = DATA) =>
  c.packets.filter((p): p is mp.IPublishPacket => p.cmd === "publish" && p.topic === topic).map((p) => ({ id: p.messageId, dup: p.dup, payload: text(p.payload as Buffer) }));

describe("Link with a fake broker", () => {
  it("sends CONNECT with cleanSession 0, the will (QoS 1, retained) and the keep-alive", async () => {
    const f = await fakeBroker();
    const r = new Rig(f.port);
    r.watched.push(f.activity);
    r.link.start();
    expect(await r.runUntil(() => r.link.isUp(), 5000)).toBe(true);
    await r.runFor(200);
    const c = f.conns[0].packets;
    expect(c[0]).toMatchObject({ cmd: "connect", clientId: "sden-r1", clean: false, keepalive: 30, protocolVersion: 4 });
    expect((c[0] as mp.IConnectPacket).username).toBeUndefined();
    expect(c[0]).toMatchObject({ will: { topic: STATUS, qos: 1, retain: true } });
    expect(text((c[0] as mp.IConnectPacket).will!.payload as Buffer)).toBe("offline");
    expect(c[1]).toMatchObject({ cmd: "publish", topic: STATUS, qos: 1, retain: true });
    expect(c[2]).toMatchObject({ cmd: "subscribe", subscriptions: [{ topic: CMD, qos: 1 }] });
  });

  it("after a reconnect, unacknowledged publishes go again with DUP and their ids, in order, before new ones", async () => {
    // The first connection acknowledges nothing on DATA and is cut after three.
    const f = await fakeBroker((c, p, conns) => {
      if (c !== conns[0] || p.cmd !== "publish" || p.topic !== DATA) return false;
      if (publishes(c).length === 3) c.sock.destroy();
      return true;
    });
    const r = new Rig(f.port);
    r.watched.push(f.activity);
    r.link.start();
    expect(await r.runUntil(() => r.link.isUp(), 5000)).toBe(true);
    const ids = [0, 1, 2].map((k) => r.link.publish(DATA, ascii("m" + k), 1));
    await r.runFor(100, 100, () => !r.link.isUp());
    expect(r.link.isUp()).toBe(false);
    expect(publishes(f.conns[0])).toEqual(ids.map((id, k) => ({ id, dup: false, payload: "m" + k })));
    const fresh = r.link.publish(DATA, ascii("m3"), 1);

    expect(await r.runUntil(() => r.link.isUp() && r.link.queued() === 0, 10000)).toBe(true);
    expect(f.conns.length).toBe(2);
    expect(publishes(f.conns[1])).toEqual([
      ...ids.map((id, k) => ({ id, dup: true, payload: "m" + k })),
      { id: fresh, dup: false, payload: "m3" },
    ]);
    expect(r.link.counts[LINK_RETRANSMITS]).toBe(3);
  });

  it("while connected, a publish unacknowledged for retryMs goes again with DUP", async () => {
    // The first PUBACK on DATA is lost.
    let dropped = false;
    const f = await fakeBroker((_c, p) => {
      if (p.cmd !== "publish" || p.topic !== DATA || dropped) return false;
      dropped = true;
      return true;
    });
    const r = new Rig(f.port, { retryMs: 5000 });
    r.watched.push(f.activity);
    r.link.start();
    expect(await r.runUntil(() => r.link.isUp(), 5000)).toBe(true);
    const id = r.link.publish(DATA, ascii("x"), 1);
    // Not settled on purpose: the PUBACK will not come.
    await runFor(r.board.clock, 4900, { ...r.pump(100), settle: () => true });
    expect(publishes(f.conns[0])).toEqual([{ id, dup: false, payload: "x" }]);
    expect(r.link.queued()).toBe(1);
    await r.runFor(200);
    expect(publishes(f.conns[0])).toEqual([
      { id, dup: false, payload: "x" },
      { id, dup: true, payload: "x" },
    ]);
    expect(r.link.queued()).toBe(0);
    expect(r.link.counts[LINK_RETRANSMITS]).toBe(1);
    expect(r.link.counts[LINK_DROPS]).toBe(0);
  });

  it("keep-alive: PINGREQ after keepAliveS without traffic; a broker silent for 1.5 keep-alives is dropped", async () => {
    let silent = false;
    const f = await fakeBroker((_c, p) => silent && p.cmd === "pingreq");
    const r = new Rig(f.port, { keepAliveS: 10 });
    r.watched.push(f.activity);
    r.link.start();
    expect(await r.runUntil(() => r.link.isUp(), 5000)).toBe(true);
    const upMs = r.clock.nowMs();
    await r.runFor(25000, 500);
    const pings = f.conns[0].packets.filter((p) => p.cmd === "pingreq").length;
    expect(pings).toBe(2);
    expect(r.link.isUp()).toBe(true);

    silent = true;
    const lastAnswerMs = upMs + 20000;
    expect(await r.runUntil(() => !r.link.isUp(), 30000, 500)).toBe(true);
    const downMs = r.states[1].atMs;
    expect(downMs).toBeGreaterThanOrEqual(lastAnswerMs + 15000);
    expect(downMs).toBeLessThanOrEqual(lastAnswerMs + 15000 + 500);
    expect(r.link.counts[LINK_TIMEOUTS]).toBe(1);
    // And it comes back on a new connection.
    silent = false;
    expect(await r.runUntil(() => r.link.isUp(), 10000)).toBe(true);
    expect(f.conns.length).toBe(2);
  });

  it("no CONNACK within connectTimeoutMs: drops and tries again", async () => {
    const f = await fakeBroker((_c, p) => p.cmd === "connect");
    const r = new Rig(f.port, { connectTimeoutMs: 5000 });
    r.watched.push(f.activity);
    r.link.start();
    await r.runFor(4900, 100);
    expect(r.link.counts[LINK_TIMEOUTS]).toBe(0);
    await r.runFor(200, 100);
    expect(r.link.counts[LINK_TIMEOUTS]).toBe(1);
    await r.runFor(1000, 100);
    expect(r.link.counts[LINK_ATTEMPTS]).toBe(2);
    expect(r.states).toEqual([]);
  });

  it("a CONNACK refusal is counted and backed off, never up", async () => {
    const f = await fakeBroker((c, p) => {
      if (p.cmd !== "connect") return false;
      c.send({ cmd: "connack", returnCode: 5, sessionPresent: false });
      return true;
    });
    const r = new Rig(f.port);
    r.watched.push(f.activity);
    r.link.start();
    await r.runFor(30000, 100);
    expect(r.link.isUp()).toBe(false);
    expect(r.states).toEqual([]);
    const n = r.link.counts[LINK_REFUSED];
    expect(n).toBeGreaterThanOrEqual(4);
    expect(n).toBeLessThanOrEqual(7);
    expect(r.link.counts[LINK_ATTEMPTS]).toBe(n);
    // The link closes a refused connection itself, when the CONNACK arrives:
    // at the end of the pump step (100 ms) in which it connected.
    for (let k = 0; k + 1 < r.attemptsMs.length; k++) {
      const full = Math.min(16000, 1000 * 2 ** k);
      const gap = r.attemptsMs[k + 1] - r.attemptsMs[k];
      expect(gap).toBeGreaterThanOrEqual(full / 2);
      expect(gap).toBeLessThan(full + 100);
    }
  });

  it("a refused subscription is counted; the session stays up", async () => {
    const f = await fakeBroker((c, p) => {
      if (p.cmd !== "subscribe") return false;
      c.send({ cmd: "suback", messageId: p.messageId, granted: [128] });
      return true;
    });
    const r = new Rig(f.port);
    r.watched.push(f.activity);
    r.link.start();
    expect(await r.runUntil(() => r.link.isUp(), 5000)).toBe(true);
    expect(await r.runUntil(() => r.link.counts[LINK_SUB_REFUSED] > 0, 5000)).toBe(true);
    await r.runFor(200);
    expect(r.link.counts[LINK_SUB_REFUSED]).toBe(1);
    expect(r.link.isUp()).toBe(true);
  });

  it("garbage and oversized frames from the broker drop the connection and it reconnects; nothing throws", async () => {
    const f = await fakeBroker((c, p, conns) => {
      if (p.cmd !== "subscribe") return false;
      const n = conns.indexOf(c);
      // 1st connection: a PUBLISH above maxFrameBytes; 2nd: bytes that are no MQTT; then a good one.
      if (n === 0) c.send({ cmd: "publish", topic: CMD, payload: Buffer.alloc(2000), qos: 0, retain: false, dup: false });
      else if (n === 1) c.raw(Uint8Array.from([0xf0, 0x03, 0xff, 0xff, 0xff]));
      else c.send({ cmd: "publish", topic: CMD, payload: Buffer.from("ok"), qos: 1, messageId: 9, retain: false, dup: false });
      return true;
    });
    const r = new Rig(f.port);
    r.watched.push(f.activity);
    r.link.start();
    expect(await r.runUntil(() => r.got.length > 0, 20000)).toBe(true);
    expect(r.got).toEqual([{ topic: CMD, payload: "ok" }]);
    expect(r.link.counts[LINK_BAD_FRAMES]).toBe(2);
    expect(r.link.counts[LINK_DROPS]).toBe(2);
    expect(f.conns.length).toBe(3);
  });
});

// --- an in-memory socket -----------------------------------------------------

/**
 * The link on a virtual clock with a socket in memory: what it writes is
 * parsed by mqtt-packet (each connection's frames tagged with its number),
 * and the test plays the broker by hand. Everything is synchronous.
 */
class Mem {
  readonly clock = new VirtualClock();
  readonly out: (Packet & { conn: number })[] = [];
  readonly got: { topic: string; payload: string }[] = [];
  readonly link: Link;
  /** The current connection's callbacks, while the link holds it open. */
  sock: SocketOptions | undefined;
  conn = 0;
  closedByLink = 0;
  onMessage: (topic: string, payload: Uint8Array) => void = (topic, payload) => this.got.push({ topic, payload: text(payload) });

  constructor(over: Partial<LinkOptions> = {}) {
    this.link = new Link(
      options(this.clock.boardClock(), (o) => this.connect(o), 1883, {
        onMessage: (t, p) => this.onMessage(t, p),
        ...over,
      }),
    );
  }

  private connect(o: SocketOptions): Socket {
    const conn = ++this.conn;
    const parser = mp.parser({ protocolVersion: 4 });
    parser.on("packet", (p: Packet) => this.out.push({ ...p, conn }));
    this.sock = o;
    return {
      write: (b) => {
        if (this.conn !== conn || !this.sock) throw new Error("write on a closed socket");
        parser.parse(Buffer.from(b));
      },
      close: () => {
        if (this.conn === conn && this.sock) {
          this.sock = undefined;
          this.closedByLink++;
        }
      },
    };
  }

  /** Completes the TCP connect and accepts the CONNECT. */
  accept(): void {
    this.sock!.onConnect();
    this.feed(mp.generate({ cmd: "connack", returnCode: 0, sessionPresent: true }));
  }

  feed(b: Uint8Array): void {
    this.sock!.onData(new Uint8Array(b));
  }

  /** The broker or the network cuts the connection. */
  cut(): void {
    const o = this.sock!;
    this.sock = undefined;
    o.onClose();
  }

  /** Advances to the next connect attempt and accepts it. */
  reconnect(): void {
    const before = this.conn;
    while (this.conn === before) this.clock.advance(100);
    this.accept();
  }

  published(conn: number, topic = DATA) {
    return this.out.filter((p): p is mp.IPublishPacket & { conn: number } => p.conn === conn && p.cmd === "publish" && p.topic === topic);
  }
}

describe("Link in memory", () => {
  it("refuses options whose frames cannot be encoded", () => {
    expect(() => new Mem()).not.toThrow();
    expect(() => new Mem({ keepAliveS: 65536 })).toThrow(/Link: bad options/);
    expect(() => new Mem({ clientId: "" })).toThrow(/Link: bad options/);
    expect(() => new Mem({ will: { topic: "a/+", payload: ascii("x") } })).toThrow(/Link: bad options/);
    expect(() => new Mem({ online: { topic: "", payload: ascii("x") } })).toThrow(/Link: bad options/);
    expect(() => new Mem({ subscriptions: ["a/#/b"] })).toThrow(/Link: bad options/);
    expect(() => new Mem({ subscriptions: [] })).toThrow(/Link: bad options/);
  });

  it("backoffMs doubles from min to max and jitters between half and all of it", () => {
    expect([0, 1, 2, 3, 4, 5, 9].map((n) => backoffMs(n, 1000, 16000, 0))).toEqual([500, 1000, 2000, 4000, 8000, 8000, 8000]);
    expect(backoffMs(2, 1000, 16000, 0.999999)).toBe(3999);
    expect([NaN, -1, 1, 7].map((r) => backoffMs(1, 1000, 16000, r))).toEqual([1000, 1000, 1000, 1000]);
    fc.assert(
      fc.property(fc.nat(40), fc.integer({ min: 1, max: 100000 }), fc.integer({ min: 0, max: 1000000 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (n, minMs, extra, r) => {
        const maxMs = minMs + extra;
        const d = backoffMs(n, minMs, maxMs, r);
        const full = Math.min(maxMs, minMs * 2 ** n);
        return d >= Math.floor(full / 2) && d < Math.max(full, 1);
      }),
    );
  });

  it("sends the PUBACK of a QoS 1 message after onMessage returns; none when it throws", () => {
    const m = new Mem();
    m.link.start();
    m.accept();
    let acksDuringHandler = -1;
    m.onMessage = () => {
      acksDuringHandler = m.out.filter((p) => p.cmd === "puback").length;
    };
    m.feed(mp.generate({ cmd: "publish", topic: CMD, payload: Buffer.from("a"), qos: 1, messageId: 77, retain: false, dup: false }));
    expect(acksDuringHandler).toBe(0);
    expect(m.out.filter((p) => p.cmd === "puback")).toMatchObject([{ messageId: 77 }]);

    // A duplicate is acknowledged too: deduplication is the envelope's job.
    m.feed(mp.generate({ cmd: "publish", topic: CMD, payload: Buffer.from("a"), qos: 1, messageId: 77, retain: false, dup: true }));
    expect(m.out.filter((p) => p.cmd === "puback").length).toBe(2);

    m.onMessage = () => {
      throw new Error("no room");
    };
    m.feed(mp.generate({ cmd: "publish", topic: CMD, payload: Buffer.from("b"), qos: 1, messageId: 78, retain: false, dup: false }));
    expect(m.out.filter((p) => p.cmd === "puback").length).toBe(2);
    expect(m.link.counts[LINK_HANDLER_ERRORS]).toBe(1);
    expect(m.link.isUp()).toBe(true);
  });

  it("QoS 0 goes out only while up; QoS 1 queues up to maxQueue, then refuses with 0", () => {
    const m = new Mem({ maxQueue: 3 });
    expect(m.link.publish(DATA, ascii("lost"), 0)).toBe(0);
    const ids = [0, 1, 2].map((k) => m.link.publish(DATA, ascii("q" + k), 1));
    expect(ids.every((id) => id > 0)).toBe(true);
    expect(m.link.publish(DATA, ascii("q3"), 1)).toBe(0);
    expect(m.link.publish("bad/+", ascii("x"), 1)).toBe(0);
    expect(m.link.queued()).toBe(3);
    expect(m.link.counts[LINK_PUB_REFUSED]).toBe(3);
    m.link.start();
    m.accept();
    expect(m.published(1).map((p) => text(p.payload as Buffer))).toEqual(["q0", "q1", "q2"]);
    m.feed(mp.generate({ cmd: "puback", messageId: ids[0] }));
    expect(m.link.queued()).toBe(2);
    expect(m.link.publish(DATA, ascii("q3"), 1)).toBeGreaterThan(0);
    expect(m.link.publish(DATA, ascii("now"), 0)).toBe(1);
  });

  it("onAcked tells which publish the broker acknowledged, not the online status", () => {
    const acked: number[] = [];
    const m = new Mem({ onAcked: (id) => acked.push(id) });
    m.link.start();
    m.accept();
    const online = m.out.find((p) => p.cmd === "publish" && p.topic === STATUS) as mp.IPublishPacket;
    const a = m.link.publish(DATA, ascii("a"), 1);
    const b = m.link.publish(DATA, ascii("b"), 1);
    m.feed(mp.generate({ cmd: "puback", messageId: online.messageId }));
    m.feed(mp.generate({ cmd: "puback", messageId: b }));
    m.feed(mp.generate({ cmd: "puback", messageId: a }));
    // An id acknowledged twice, or never used: nothing.
    m.feed(mp.generate({ cmd: "puback", messageId: a }));
    m.feed(mp.generate({ cmd: "puback", messageId: 999 }));
    expect(acked).toEqual([b, a]);
    expect(m.link.queued()).toBe(0);
  });

  it("keeps at most maxInFlight unacknowledged, the rest waits in order", () => {
    const m = new Mem({ maxQueue: 5, maxInFlight: 2 });
    m.link.start();
    m.accept();
    const ids = [0, 1, 2, 3, 4].map((k) => m.link.publish(DATA, ascii("q" + k), 1));
    expect(m.published(1).map((p) => p.messageId)).toEqual(ids.slice(0, 2));
    m.feed(mp.generate({ cmd: "puback", messageId: ids[1] }));
    expect(m.published(1).map((p) => p.messageId)).toEqual(ids.slice(0, 3));
    m.feed(mp.generate({ cmd: "puback", messageId: ids[0] }));
    m.feed(mp.generate({ cmd: "puback", messageId: ids[2] }));
    expect(m.published(1).map((p) => p.messageId)).toEqual(ids);
  });

  it("packet ids run 1..65535 and wrap, skipping ids still in use", () => {
    const m = new Mem({ maxQueue: 2 });
    m.link.start();
    m.accept();
    // The online PUBLISH and the SUBSCRIBE took 1 and 2; nothing acknowledges them here,
    // nor the message "held": ids 1 to 3 stay in use, and maxQueue 2 leaves room for one more.
    const held = m.link.publish(DATA, ascii("held"), 1);
    expect(held).toBe(3);
    let last = held;
    for (let k = 0; k < 65540; k++) {
      const id = m.link.publish(DATA, ascii("x"), 1);
      if (id !== last + 1 && !(last === 65535 && id === 4)) expect({ k, last, id }).toBe(null);
      m.feed(mp.generate({ cmd: "puback", messageId: id }));
      last = id;
    }
    expect(m.link.queued()).toBe(1);
  });

  it("property: ids unique and in range, the queue bounded, and every reconnect resends the unacknowledged in order with DUP", () => {
    type Op = { k: "pub" } | { k: "ack"; at: number } | { k: "cut" } | { k: "time"; ms: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      { arbitrary: fc.constant<Op>({ k: "pub" }), weight: 5 },
      { arbitrary: fc.nat(20).map<Op>((at) => ({ k: "ack", at })), weight: 4 },
      { arbitrary: fc.constant<Op>({ k: "cut" }), weight: 1 },
      { arbitrary: fc.integer({ min: 1, max: 30000 }).map<Op>((ms) => ({ k: "time", ms })), weight: 1 },
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 6 }), fc.array(op, { maxLength: 120 }), (maxQueue, win, ops) => {
        const maxInFlight = Math.min(win, maxQueue);
        // No retries within a connection and no keep-alive in reach: only the ops move frames.
        const m = new Mem({ maxQueue, maxInFlight, retryMs: 0, keepAliveS: 65535 });
        m.link.start();
        m.accept();
        // Every message published, in order; q: those not acknowledged yet.
        type Entry = { id: number; payload: string; sentBefore: boolean };
        const all: Entry[] = [];
        let q: Entry[] = [];
        const writtenIds = () => m.published(m.conn).map((p) => p.messageId);
        for (const o of ops) {
          if (o.k === "pub") {
            const payload = "p" + all.length;
            const id = m.link.publish(DATA, ascii(payload), 1);
            if (q.length >= maxQueue) expect(id).toBe(0);
            else {
              expect(id).toBeGreaterThan(0);
              expect(id).toBeLessThanOrEqual(65535);
              expect(q.some((e) => e.id === id)).toBe(false);
              const e = { id, payload, sentBefore: false };
              all.push(e);
              q.push(e);
            }
          } else if (o.k === "ack") {
            const written = writtenIds();
            const inFlight = q.filter((e) => written.includes(e.id));
            if (!inFlight.length) continue;
            const e = inFlight[o.at % inFlight.length];
            m.feed(mp.generate({ cmd: "puback", messageId: e.id }));
            q = q.filter((x) => x !== e);
          } else if (o.k === "cut") {
            const written = writtenIds();
            for (const e of q) if (written.includes(e.id)) e.sentBefore = true;
            m.cut();
            m.reconnect();
          } else m.clock.advance(o.ms);

          const live = q;
          expect(m.link.isUp()).toBe(true);
          expect(m.link.queued()).toBe(live.length);
          // On this connection: publish order, DUP exactly for those written on an earlier one.
          const written = m.published(m.conn);
          let last = -1;
          for (const p of written) {
            const i = all.findIndex((e) => e.id === p.messageId);
            expect(i).toBeGreaterThan(last);
            expect(text(p.payload as Buffer)).toBe(all[i].payload);
            expect(p.dup).toBe(all[i].sentBefore);
            last = i;
          }
          // In flight: the oldest unacknowledged, as many as the window allows.
          const k = Math.min(maxInFlight, live.length);
          const ids = written.map((p) => p.messageId);
          expect(live.map((e) => ids.includes(e.id))).toEqual(live.map((_e, i) => i < k));
        }
      }),
      { numRuns: 300 },
    );
  });

  it("property: broker frames split at any points give the same messages and PUBACKs", () => {
    const msg = fc.record({
      qos: fc.constantFrom(0, 1) as fc.Arbitrary<0 | 1>,
      payload: fc.uint8Array({ maxLength: 300 }),
      id: fc.integer({ min: 1, max: 65535 }),
    });
    fc.assert(
      fc.property(fc.array(msg, { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 20 }), (msgs, cuts) => {
        const m = new Mem();
        m.link.start();
        m.sock!.onConnect();
        const frames: Buffer[] = [mp.generate({ cmd: "connack", returnCode: 0, sessionPresent: false })];
        for (const x of msgs) {
          frames.push(mp.generate({ cmd: "publish", topic: CMD, payload: Buffer.from(x.payload), qos: x.qos, messageId: x.id, retain: false, dup: false }));
          frames.push(mp.generate({ cmd: "pingresp" }));
        }
        const all = Buffer.concat(frames);
        const at = [...new Set(cuts.map((c) => c % (all.length + 1)))].sort((a, b) => a - b);
        let from = 0;
        for (const c of [...at, all.length]) {
          if (c > from) m.feed(all.subarray(from, c));
          from = Math.max(from, c);
        }
        expect(m.link.isUp()).toBe(true);
        expect(m.got.map((g) => g.payload)).toEqual(msgs.map((x) => text(x.payload)));
        expect(m.out.filter((p) => p.cmd === "puback").map((p) => (p as mp.IPubackPacket).messageId)).toEqual(msgs.filter((x) => x.qos === 1).map((x) => x.id));
        expect(m.link.counts[LINK_BAD_FRAMES]).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it("property: random bytes from the broker never throw; a refused stream drops the connection and the next one works", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 1, maxLength: 64 }), { minLength: 1, maxLength: 8 }), (chunks) => {
        const m = new Mem({ maxFrameBytes: 256 });
        m.link.start();
        m.accept();
        for (const c of chunks) if (m.sock) m.feed(c);
        if (m.sock) {
          // Still in sync as far as it knows (a valid prefix): nothing refused.
          expect(m.link.counts[LINK_BAD_FRAMES]).toBe(0);
          m.cut();
        } else expect(m.link.counts[LINK_BAD_FRAMES]).toBe(1);
        m.reconnect();
        expect(m.link.isUp()).toBe(true);
        m.feed(mp.generate({ cmd: "publish", topic: CMD, payload: Buffer.from("after"), qos: 0, retain: false, dup: false }));
        expect(m.got.at(-1)).toEqual({ topic: CMD, payload: "after" });
      }),
      { numRuns: 1000 },
    );
  });

  it("close() is silent: no reconnect, no callback, no timer left", () => {
    const clock = new VirtualClock();
    let calls = 0;
    const sockets: SocketOptions[] = [];
    const link = new Link(
      options(clock.boardClock(), (o) => {
        sockets.push(o);
        return { write: () => undefined, close: () => undefined };
      }, 1883, { onMessage: () => calls++, onState: () => calls++ }),
    );
    link.start();
    sockets[0].onClose();
    expect(clock.pending()).toBe(1);
    // Closed during the back-off.
    link.close();
    expect(clock.pending()).toBe(0);
    clock.advance(600000);
    expect(sockets.length).toBe(1);
    // A late callback from a socket is ignored.
    sockets[0].onConnect();
    sockets[0].onData(new Uint8Array([0x20, 2, 0, 0]));
    sockets[0].onClose();
    expect(calls).toBe(0);
    expect(link.isUp()).toBe(false);
    expect(clock.pending()).toBe(0);
  });

  it("close() from inside onMessage stops at once: no PUBACK, nothing after", () => {
    const m = new Mem();
    m.link.start();
    m.accept();
    m.onMessage = (topic, payload) => {
      m.got.push({ topic, payload: text(payload) });
      m.link.close();
    };
    const two = Buffer.concat([
      mp.generate({ cmd: "publish", topic: CMD, payload: Buffer.from("1"), qos: 1, messageId: 5, retain: false, dup: false }),
      mp.generate({ cmd: "publish", topic: CMD, payload: Buffer.from("2"), qos: 1, messageId: 6, retain: false, dup: false }),
    ]);
    m.sock!.onData(new Uint8Array(two));
    expect(m.got.map((g) => g.payload)).toEqual(["1"]);
    expect(m.out.filter((p) => p.cmd === "puback")).toEqual([]);
    expect(m.out.at(-1)!.cmd).toBe("disconnect");
    expect(m.closedByLink).toBe(1);
    expect(m.clock.pending()).toBe(0);
  });

  it("a connect that throws is retried after the back-off", () => {
    const clock = new VirtualClock();
    let tries = 0;
    const link = new Link(
      options(clock.boardClock(), () => {
        tries++;
        throw new Error("no WiFi");
      }, 1883),
    );
    link.start();
    expect(tries).toBe(1);
    clock.advance(60000);
    expect(tries).toBeGreaterThan(3);
    expect(link.counts[LINK_ATTEMPTS]).toBe(tries);
    link.close();
  });

  it("the back-off resets only after a session that lasted backoffMaxMs", () => {
    const m = new Mem({ random: () => 0 });
    m.link.start();
    m.accept();
    // Short sessions: the waits keep growing.
    const waits: number[] = [];
    for (let k = 0; k < 3; k++) {
      m.cut();
      const t0 = m.clock.worldMs();
      m.reconnect();
      waits.push(Math.ceil((m.clock.worldMs() - t0) / 100) * 100);
    }
    expect(waits).toEqual([500, 1000, 2000]);
    // A long one: back to the shortest.
    m.clock.advance(16000);
    m.feed(mp.generate({ cmd: "pingresp" }));
    m.cut();
    const t0 = m.clock.worldMs();
    m.reconnect();
    expect(m.clock.worldMs() - t0).toBe(500);
  });
});
