// The pump (tools/sim/pump.ts): virtual time in steps, real I/O settled
// between them. Real sockets on loopback; every time asserted is virtual.

import * as net from "node:net";
import mqtt from "mqtt";
import { afterEach, describe, expect, it } from "vitest";
import { SimBoard } from "../../hal/sim/board";
import { VirtualClock } from "../../hal/sim/clock";
import { startBroker } from "../../tools/sim/broker";
import { runFor, runUntil, settleNow } from "../../tools/sim/pump";

let cleanups: (() => unknown)[] = [];
afterEach(async () => {
  const list = cleanups.reverse();
  cleanups = [];
  for (const f of list) await f();
});

/** A loopback server that answers every chunk with the same bytes. */
async function echoServer(): Promise<number> {
  const socks = new Set<net.Socket>();
  const server = net.createServer((s) => {
    socks.add(s);
    s.on("error", () => undefined);
    s.on("data", (d) => s.write(d));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of socks) s.destroy();
        server.close(() => resolve());
      }),
  );
  return (server.address() as net.AddressInfo).port;
}

async function client(port: number): Promise<net.Socket> {
  const s = net.createConnection({ host: "127.0.0.1", port });
  cleanups.push(() => s.destroy());
  await new Promise<void>((resolve) => s.once("connect", () => resolve()));
  return s;
}

describe("runFor", () => {
  it("advances in steps of stepMs, the last one shorter, through the given advance", async () => {
    const clock = new VirtualClock();
    const steps: number[] = [];
    const fired: number[] = [];
    clock.worldClock().setInterval(() => fired.push(clock.worldMs()), 70);
    const unsettled = await runFor(clock, 250, {
      stepMs: 100,
      advance: (ms) => {
        steps.push(ms);
        clock.advance(ms);
      },
    });
    expect(unsettled).toBe(0);
    expect(steps).toEqual([100, 100, 50]);
    expect(clock.worldMs()).toBe(250);
    expect(fired).toEqual([70, 140, 210]);
  });

  it("lets the answer to a request sent from a timer arrive before virtual time moves on", async () => {
    const port = await echoServer();
    const s = await client(port);
    const clock = new VirtualClock();
    const world = clock.worldClock();
    let sent = 0;
    let answered = 0;
    const answersMs: number[] = [];
    const send = () => {
      sent++;
      s.write("ping");
    };
    s.on("data", () => {
      answered++;
      answersMs.push(clock.worldMs());
      // Each answer asks again 50 virtual ms later.
      if (answered < 4) world.setTimeout(send, 50);
    });
    world.setTimeout(send, 300);
    await runFor(clock, 1000, { stepMs: 100, settle: () => answered === sent, maxWaitMs: 5000 });
    // Sent at 300 (a step's end): answered at 300. Sent at 350, inside the
    // step to 400: answered at the end of that step, and so on.
    expect(answersMs).toEqual([300, 400, 500, 600]);
  });

  it("gives up waiting after maxWaitMs per step when the system never settles, and says how often", async () => {
    const clock = new VirtualClock();
    const unsettled = await runFor(clock, 300, { stepMs: 100, settle: () => false, maxWaitMs: 10 });
    expect(unsettled).toBe(3);
    expect(clock.worldMs()).toBe(300);
  });

  it("runs a board through board.run, so a power cut raised in a timer reboots it", async () => {
    const board = new SimBoard();
    board.start((hal) => {
      hal.clock.setTimeout(() => hal.flash.write("sden.t", new Uint8Array([1])), 100);
    });
    board.flash.cutAt(0);
    await runFor(board.clock, 500, { stepMs: 50, advance: (ms) => board.run(ms) });
    expect(board.boots.map((b) => b.reason)).toEqual(["power-on", "power-cut"]);
    expect(board.flash.read("sden.t")).toEqual(new Uint8Array([1]));
    expect(board.clock.worldMs()).toBe(500);
  });

  it("rejects a step that is not positive", async () => {
    await expect(runFor(new VirtualClock(), 100, { stepMs: 0 })).rejects.toThrow(RangeError);
  });
});

describe("settleNow", () => {
  it("waits until the activity count stops moving", async () => {
    const port = await echoServer();
    const s = await client(port);
    // 50 round trips, each started by the answer to the one before.
    let rounds = 0;
    s.on("data", () => {
      rounds++;
      if (rounds < 50) s.write("x");
    });
    s.write("x");
    expect(await settleNow({ activity: () => rounds, quietMs: 20, maxWaitMs: 10000 })).toBe(true);
    expect(rounds).toBe(50);
  });

  it("returns false after maxWaitMs when settle() never holds", async () => {
    expect(await settleNow({ settle: () => false, maxWaitMs: 5 })).toBe(false);
  });
});

describe("runUntil", () => {
  it("stops at the first step after which done() holds; false at the limit", async () => {
    const clock = new VirtualClock();
    let flag = false;
    clock.worldClock().setTimeout(() => (flag = true), 420);
    expect(await runUntil(clock, () => flag, 10000, { stepMs: 100 })).toBe(true);
    expect(clock.worldMs()).toBe(500);
    expect(await runUntil(clock, () => false, 1000, { stepMs: 300 })).toBe(false);
    expect(clock.worldMs()).toBe(1500);
  });
});

describe("the pump with the embedded broker", () => {
  it("a QoS 1 round trip through aedes completes within one step", async () => {
    const b = await startBroker();
    cleanups.push(() => b.stop());
    const a = await mqtt.connectAsync(`mqtt://127.0.0.1:${b.port}`, { reconnectPeriod: 0 });
    const z = await mqtt.connectAsync(`mqtt://127.0.0.1:${b.port}`, { reconnectPeriod: 0 });
    cleanups.push(() => a.endAsync(true), () => z.endAsync(true));
    await z.subscribeAsync("t", { qos: 1 });
    const clock = new VirtualClock();
    const gotMs: number[] = [];
    z.on("message", () => gotMs.push(clock.worldMs()));
    let acked = 0;
    clock.worldClock().setTimeout(() => a.publish("t", "m", { qos: 1 }, () => acked++), 250);
    await runFor(clock, 1000, { stepMs: 100, settle: () => clock.worldMs() < 250 || (acked === 1 && gotMs.length === 1), activity: b.activity, maxWaitMs: 5000 });
    expect(gotMs).toEqual([300]);
    expect(acked).toBe(1);
  });

  it("stop() frees the port: a broker starts again on it, and restart() keeps retained messages", async () => {
    const b = await startBroker();
    const port = b.port;
    const a = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0 });
    await a.publishAsync("keep", "me", { qos: 1, retain: true });
    await a.endAsync();
    await b.restart();
    expect(b.port).toBe(port);
    const z = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0 });
    const got: string[] = [];
    z.on("message", (_t, p) => got.push(p.toString()));
    await z.subscribeAsync("keep", { qos: 1 });
    expect(await settleNow({ settle: () => got.length > 0, maxWaitMs: 5000 })).toBe(true);
    expect(got).toEqual(["me"]);
    await b.stop();
    expect(b.running()).toBe(false);
    // The port is free again.
    const again = await startBroker({ port });
    cleanups.push(() => again.stop());
    expect(again.port).toBe(port);
    await z.endAsync(true);
  });
});
