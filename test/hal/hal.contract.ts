// The behaviour both HAL backends share: clock and timers, output and input
// pins, console, CRC and sockets. Registered by the backend tests
// (sim-hal.test.ts, espruino-hal.test.ts) with their own way to drive time
// and pins.

import * as net from "node:net";
// Real timers: a backend under test may have replaced the global ones with the board's.
import { clearTimeout, setTimeout } from "node:timers";
import { afterEach, describe, expect, it } from "vitest";
import type { Hal, Level } from "../../hal/types";
import { hmacSha256 } from "../../protocol/hmac";
import { RFC4231 } from "../protocol/rfc4231";
import { ascii, fromHex, toHex } from "../support/bytes";

export interface HalUnderTest {
  hal: Hal;
  /** Moves the board's time forward, running due timers. */
  advance(ms: number): void;
  /** Drives an input pin from outside the board. */
  drive(pin: string, level: Level): void;
  /** An output pin's level as the outside world sees it. */
  levelOf(pin: string): Level;
  /** Lines the console printed. */
  printed(): string[];
  /** A name exposed on the console. */
  global(name: string): unknown;
  close(): void;
}

export function halContract(name: string, make: () => HalUnderTest): void {
  describe(`HAL contract: ${name}`, () => {
    let t: HalUnderTest | undefined;
    const open = () => (t = make());
    afterEach(() => t?.close());

    it("clock time moves forward with the board's time", () => {
      const { hal, advance } = open();
      const a = hal.clock.nowMs();
      advance(1500);
      expect(hal.clock.nowMs() - a).toBeCloseTo(1500, 0);
    });

    it("a timeout fires once, after its delay and not before", () => {
      const { hal, advance } = open();
      let fired = 0;
      hal.clock.setTimeout(() => fired++, 1000);
      advance(999);
      expect(fired).toBe(0);
      advance(2);
      expect(fired).toBe(1);
      advance(5000);
      expect(fired).toBe(1);
    });

    it("a cleared timeout never fires", () => {
      const { hal, advance } = open();
      let fired = 0;
      const id = hal.clock.setTimeout(() => fired++, 100);
      hal.clock.clearTimeout(id);
      advance(1000);
      expect(fired).toBe(0);
    });

    it("an interval fires every period until cleared", () => {
      const { hal, advance } = open();
      let fired = 0;
      const id = hal.clock.setInterval(() => fired++, 100);
      advance(1050);
      expect(fired).toBe(10);
      hal.clock.clearInterval(id);
      advance(1000);
      expect(fired).toBe(10);
    });

    it("an output starts at the level it was opened with and follows writes", () => {
      const { hal, levelOf } = open();
      const out = hal.digitalOut({ pin: "D5", value: 1 });
      expect(levelOf("D5")).toBe(1);
      out.write(0);
      expect(levelOf("D5")).toBe(0);
      expect(out.read()).toBe(0);
    });

    it("an input reports debounced edges with their time and ignores bounces", () => {
      const { hal, advance, drive } = open();
      const edges: [Level, number][] = [];
      const input = hal.edgeInput({ pin: "D6", debounceMs: 5, onEdge: (l, tMs) => edges.push([l, tMs]) });
      advance(100);
      drive("D6", 1);
      advance(2);
      drive("D6", 0); // a 2 ms bounce: not an edge
      advance(20);
      expect(edges).toEqual([]);
      const start = hal.clock.nowMs();
      drive("D6", 1);
      advance(50);
      drive("D6", 0);
      advance(20);
      expect(edges.map((e) => e[0])).toEqual([1, 0]);
      expect(edges[1][1] - edges[0][1]).toBeCloseTo(50, 0);
      expect(edges[0][1]).toBeGreaterThanOrEqual(start - 1);
      expect(input.read()).toBe(0);
    });

    it("a closed input reports nothing more", () => {
      const { hal, advance, drive } = open();
      let edges = 0;
      const input = hal.edgeInput({ pin: "D7", debounceMs: 0, onEdge: () => edges++ });
      input.close();
      drive("D7", 1);
      advance(100);
      expect(edges).toBe(0);
    });

    it("the console prints lines and exposes an API by name", () => {
      const { hal, printed, global } = open();
      hal.console.print("hello");
      const api = { ping: () => "pong" };
      hal.console.expose("T", api);
      expect(printed()).toContain("hello");
      expect(global("T")).toBe(api);
    });

    it("CRC-32 is the IEEE one that E.CRC32 computes", () => {
      const { hal } = open();
      expect(hal.system.crc32(ascii("123456789")) >>> 0).toBe(0xcbf43926);
      expect(hal.system.crc32(new Uint8Array(0)) >>> 0).toBe(0);
    });

    it("HMAC-SHA256 on the board's SHA-256 gives RFC 4231's test vectors", () => {
      const { hal } = open();
      for (const v of RFC4231) {
        const mac = hmacSha256(hal.system.sha256, fromHex(v.key), fromHex(v.data));
        expect(toHex(mac.subarray(0, v.mac.length / 2)), v.name).toBe(v.mac);
      }
    });

    it("SHA-256 is the FIPS 180-4 one", () => {
      const { hal } = open();
      expect(toHex(hal.system.sha256(ascii("abc")))).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
      expect(toHex(hal.system.sha256(new Uint8Array(0)))).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    });

    it("memory figures are positive and consistent", () => {
      const { hal } = open();
      const m = hal.system.memory();
      expect(m.total).toBeGreaterThan(0);
      expect(m.free).toBeGreaterThanOrEqual(0);
      expect(m.free).toBeLessThanOrEqual(m.total);
    });

    it("a socket connects to a loopback server, exchanges bytes and closes once", async () => {
      const { hal } = open();
      const server = net.createServer((c) => c.on("data", (d) => c.end(Buffer.concat([Buffer.from("echo:"), d]))));
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      const port = (server.address() as net.AddressInfo).port;
      try {
        const got: number[] = [];
        let closes = 0;
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error("socket timed out")), 5000);
          const sock = hal.connect({
            host: "127.0.0.1",
            port,
            onConnect: () => sock.write(new Uint8Array([0, 1, 0xff])),
            onData: (d) => got.push(...d),
            onClose: () => {
              closes++;
              clearTimeout(timer);
              setTimeout(resolve, 20);
            },
            onError: (m) => reject(new Error(m)),
          });
        });
        expect(got).toEqual([...ascii("echo:"), 0, 1, 0xff]);
        expect(closes).toBe(1);
      } finally {
        server.close();
      }
    });

    it("a socket to a closed port reports an error and closes", async () => {
      const { hal } = open();
      const server = net.createServer();
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      const port = (server.address() as net.AddressInfo).port;
      await new Promise<void>((r) => server.close(() => r()));
      const errors: string[] = [];
      await new Promise<void>((resolve) => {
        hal.connect({ host: "127.0.0.1", port, onConnect: () => undefined, onData: () => undefined, onClose: resolve, onError: (m) => errors.push(m) });
      });
      expect(errors.length).toBe(1);
    });
  });
}
