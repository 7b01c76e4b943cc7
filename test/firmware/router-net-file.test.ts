// The router gives the broker the user and password the flasher stored in
// sden.net (tools/flash): its MQTT CONNECT, as a plain TCP peer reads it.

import * as net from "node:net";
import { readFileSync } from "node:fs";
import * as mqtt from "mqtt-packet";
import { afterEach, describe, expect, it } from "vitest";
import { KEY_FILE, NET_FILE, bootRouter } from "../../firmware/router";
import type { RouterConfig } from "../../firmware/config";
import { SimBoard } from "../../hal/sim/board";
import { flashConfig } from "../../tools/sim/world";

const config = JSON.parse(readFileSync(new URL("../../flash.config.json", import.meta.url), "utf8")) as RouterConfig;
const bytes = (s: string) => new Uint8Array(Buffer.from(s, "latin1"));

let server: net.Server | undefined;
afterEach(() => server?.close());

/** Boots a router whose broker is a TCP listener here, and returns the first packet it sends. */
async function firstPacket(netFile?: string): Promise<mqtt.IConnectPacket> {
  let got: (p: mqtt.Packet) => void = () => undefined;
  const packet = new Promise<mqtt.Packet>((r) => (got = r));
  server = net.createServer((sock) => {
    const parser = mqtt.parser({ protocolVersion: 4 });
    parser.on("packet", (p) => got(p));
    sock.on("data", (d) => parser.parse(d));
    sock.on("error", () => undefined);
  });
  await new Promise<void>((r) => server!.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  const board = new SimBoard();
  board.flash.write(KEY_FILE, bytes("k".repeat(32)));
  if (netFile !== undefined) board.flash.write(NET_FILE, bytes(netFile));
  flashConfig(board.flash, { ...config, flash: undefined, broker: { host: "127.0.0.1", port, keepAliveS: 60 } });
  board.start((hal) => bootRouter(hal, { version: "1.2.3+test" }));
  // Real sockets under a virtual clock: time and Node's event loop take turns.
  let p: mqtt.Packet | undefined;
  void packet.then((x) => (p = x));
  for (let i = 0; i < 200 && !p; i++) {
    board.run(50);
    await new Promise((r) => setTimeout(r, 10));
  }
  expect(p?.cmd).toBe("connect");
  return p as mqtt.IConnectPacket;
}

describe("the router's CONNECT and sden.net", () => {
  it("carries the broker user and password from sden.net", async () => {
    const p = await firstPacket(JSON.stringify({ s: "home-net", p: "wifi-pw", u: "home-1", b: "broker-pw" }));
    expect(p.username).toBe("home-1");
    expect(Buffer.from(p.password!).toString("latin1")).toBe("broker-pw");
    expect(p.clientId).toBe("demo-grid-home-1");
  });

  it("boots and connects whatever a hand-edited sden.net holds: no user, a user that is not a string, non-ASCII credentials", async () => {
    const cases: [string, string | undefined, string | undefined][] = [
      [JSON.stringify({ b: "broker-pw" }), undefined, undefined],
      [JSON.stringify({ u: null, b: "broker-pw" }), undefined, undefined],
      [JSON.stringify({ u: 42, b: "broker-pw" }), undefined, undefined],
      [JSON.stringify({ u: "h\u00e9me", b: "pw" }), undefined, undefined],
      [JSON.stringify({ u: "home-1", b: "p\u00e4ss" }), "home-1", undefined],
    ];
    for (const [f, user, pw] of cases) {
      const p = await firstPacket(f);
      expect([p.username, p.password && Buffer.from(p.password).toString("latin1")], f).toEqual([user, pw]);
      server?.close();
    }
  });

  it("carries none without sden.net, or when it is not JSON", async () => {
    for (const f of [undefined, "{not json"]) {
      const p = await firstPacket(f);
      expect([p.username, p.password], String(f)).toEqual([undefined, undefined]);
      server?.close();
    }
  });
});
