// A router whose MQTT queue is full when the server first answers it: a
// broker that takes its frames but sends no PUBACK for a while, and a
// server that heard nothing until then (so unanswered HELLOs pile up). The
// pairing reports the link refuses then must go out once the queue drains,
// or the server never learns those clients and rejects their requests as
// unknown. Found on the 2v29 interpreter with 16 clients (the device
// check's loaded case, tools/device/run.ts).

import * as net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBroker, type SimBroker } from "../../tools/sim/broker";
import { projectConfig, World } from "../../tools/sim/world";

const SEC = 1000;
const MIN = 60 * SEC;
/** The project's clients (flash.config.json). */
const CLIENTS = 4;

/**
 * A TCP relay in front of the broker that can hold back the broker's PUBACKs
 * to the router (every other packet passes, in order).
 */
async function pubackDropper(brokerPort: number): Promise<{ port: number; drop: boolean; close(): Promise<void> }> {
  const socks = new Set<net.Socket>();
  const state = { port: 0, drop: true, close: () => Promise.resolve() };
  const server = net.createServer((client) => {
    const broker = net.connect(brokerPort, "127.0.0.1");
    socks.add(client).add(broker);
    client.setNoDelay(true);
    broker.setNoDelay(true);
    client.pipe(broker);
    let held = Buffer.alloc(0);
    broker.on("data", (chunk: Buffer) => {
      held = Buffer.concat([held, chunk]);
      // Whole MQTT packets: fixed header, remaining length in 1-4 bytes [2.2.3].
      for (;;) {
        let len = 0;
        let mul = 1;
        let i = 1;
        for (; i < held.length && i <= 4; i++) {
          len += (held[i] & 0x7f) * mul;
          mul *= 128;
          if (held[i] < 128) break;
        }
        if (i >= held.length || held.length < i + 1 + len) return;
        const packet = held.subarray(0, i + 1 + len);
        held = held.subarray(i + 1 + len);
        if (!(state.drop && packet[0] >> 4 === 4)) client.write(packet);
      }
    });
    const end = () => {
      client.destroy();
      broker.destroy();
    };
    client.on("error", end).on("close", end);
    broker.on("error", end).on("close", end);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  state.port = (server.address() as net.AddressInfo).port;
  state.close = () =>
    new Promise<void>((r) => {
      for (const s of socks) s.destroy();
      server.close(() => r());
    });
  return state;
}

describe("pairing while the link's queue is full", () => {
  let w: World;
  let relay: Awaited<ReturnType<typeof pubackDropper>>;
  let broker: SimBroker;
  let serverDeaf = true;
  const clientsKnown: number[] = [];
  let queuedBefore = 0;

  const known = () => w.server.router(w.config.gridId, w.config.routerId)?.clients.size ?? 0;

  beforeAll(async () => {
    broker = await startBroker();
    relay = await pubackDropper(broker.port);
    w = await World.create({
      scenario: "sunny-summer",
      seed: 1,
      // The server talks to the broker directly; only the router goes through the relay.
      brokerPort: broker.port,
      // A heartbeat every 5 s: an unanswered HELLO is said again every 10 s.
      config: { ...projectConfig(), heartbeatS: 5 },
      beforeStart: (world) => {
        (world.config.broker as { port: number }).port = relay.port;
        const receive = world.server.receive.bind(world.server);
        world.server.receive = (topic, payload) => (serverDeaf ? undefined : receive(topic, payload));
      },
    });
    // Unheard and unacknowledged, the router says HELLO again every 10 s:
    // run until 21 of them wait in the link's queue of 24 (about 4 minutes),
    // which leaves room for 3 of the 4 pairing reports at most.
    const link = w.router?.agent?.link;
    if (!link) throw new Error("no link");
    for (let k = 0; k < 100 && link.queued() < 21; k++) await w.run(5 * SEC);
    queuedBefore = link.queued();
    clientsKnown.push(known());
    serverDeaf = false;
    // The server hears the router's retries and answers the latest HELLO; PUBACKs are still held back.
    await w.run(30 * SEC);
    clientsKnown.push(known());
    relay.drop = false;
    await w.run(60 * SEC);
    clientsKnown.push(known());
  }, 240_000);

  afterAll(async () => {
    await w?.close();
    await relay?.close();
    await broker?.stop();
  });

  it("the queue was full when the server answered: a pairing report could not go at once", () => {
    expect(queuedBefore).toBe(21);
    expect(clientsKnown[0]).toBe(0);
    expect(clientsKnown[1]).toBeGreaterThan(0);
    expect(clientsKnown[1]).toBeLessThan(CLIENTS);
  });

  it("once the queue drains, the rest go out: the server knows every client", () => {
    expect(clientsKnown[2]).toBe(CLIENTS);
  });

  it("no request was rejected for an unknown client: requests wait until every client is paired", async () => {
    const r = w.R.request({ client: "water-heater", endMin: 240, whPerWindow: 100, windowMin: 60 });
    expect(r.ok).toBe(true);
    await w.run(10 * MIN);
    expect(w.R.requests().filter((q) => q.state === "rejected")).toEqual([]);
    expect(w.R.requests().find((q) => q.id === r.id)?.state).toMatch(/accepted|scheduled|running|delivered/);
  });
});
