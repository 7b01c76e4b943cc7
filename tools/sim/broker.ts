// The embedded MQTT broker for `npm start` and the tests: aedes on a
// loopback TCP port. It can disappear (stop: the listener closed, every
// client connection cut) and come back on the same port (restart), with its
// sessions, subscriptions, queued QoS 1 messages and retained messages kept,
// as a broker with durable storage would. When stopped, nothing of it keeps
// Node alive.

import * as net from "node:net";
import { Aedes } from "aedes";

export interface BrokerOptions {
  /** TCP port; 0 (default) takes a free one. */
  port?: number;
  /** Interface to listen on; loopback only by default. */
  host?: string;
}

export interface SimBroker {
  readonly host: string;
  /** The port it listens on (the same across restarts). */
  readonly port: number;
  /** The aedes instance (a new one after each restart; after stop(), the stopped one). */
  readonly broker: Aedes;
  running(): boolean;
  /**
   * A count that goes up with everything the broker does (clients coming and
   * going, publishes, acknowledgements, subscriptions, pings), so a test can
   * tell when the network has gone quiet (tools/sim/pump.ts).
   */
  activity(): number;
  /** The broker disappears: listener closed, every connection destroyed. */
  stop(): Promise<void>;
  /** Starts again on the same port (stops first when running). */
  restart(): Promise<void>;
}

const BROKER_EVENTS = ["client", "clientReady", "clientDisconnect", "clientError", "connectionError", "keepaliveTimeout", "publish", "ack", "ping", "subscribe", "unsubscribe"] as const;

function listen(server: net.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const fail = (e: Error) => reject(e);
    server.once("error", fail);
    server.listen(port, host, () => {
      server.off("error", fail);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

/** Starts an aedes broker on host:port (127.0.0.1, a free port by default). */
export async function startBroker(options: BrokerOptions = {}): Promise<SimBroker> {
  const host = options.host ?? "127.0.0.1";
  // The first incarnation's store (aedes' in-memory one) serves every later
  // one: that is what a restart keeps.
  let persistence: unknown;
  let port = options.port ?? 0;
  let broker: Aedes | undefined;
  let server: net.Server | undefined;
  let brokerId: string | undefined;
  let events = 0;
  const conns = new Set<net.Socket>();

  async function up(): Promise<void> {
    const b = await Aedes.createBroker(persistence ? { persistence, id: brokerId } : {});
    brokerId = b.id;
    persistence = (b as unknown as { persistence: unknown }).persistence;
    for (const e of BROKER_EVENTS) b.on(e as "client", () => events++);
    const s = net.createServer((conn) => {
      conns.add(conn);
      // No Nagle: on loopback a small frame would otherwise wait up to 40 ms
      // for the peer's delayed ACK, and a pump step would see it late.
      conn.setNoDelay(true);
      conn.on("close", () => conns.delete(conn));
      // A client cut off when the broker stops is not an error of the broker.
      conn.on("error", () => undefined);
      events++;
      b.handle(conn);
    });
    try {
      port = await listen(s, port, host);
    } catch (e) {
      await new Promise<void>((resolve) => b.close(() => resolve()));
      throw e;
    }
    broker = b;
    server = s;
  }

  async function down(): Promise<void> {
    const s = server;
    const b = broker;
    server = undefined;
    if (!s || !b) return;
    const closed = new Promise<void>((resolve) => s.close(() => resolve()));
    for (const c of conns) c.destroy();
    conns.clear();
    await closed;
    await new Promise<void>((resolve) => b.close(() => resolve()));
  }

  await up();
  return {
    host,
    get port() {
      return port;
    },
    get broker() {
      if (!broker) throw new Error("broker not started");
      return broker;
    },
    running: () => server !== undefined,
    activity: () => events,
    stop: down,
    restart: async () => {
      await down();
      await up();
    },
  };
}
