// CONNECT with the broker user and password the flasher stores
// (protocol/mqtt.ts encodeConnect), held against mqtt-packet: annotated
// bytes, a parse of every generated case, and the refusals of
// [MQTT-3.1.2-22] (no password without a user name).

import fc from "fast-check";
import * as mqtt from "mqtt-packet";
import { describe, expect, it } from "vitest";
import { encodeConnect } from "../../protocol/mqtt";

const ascii = (s: string) => new Uint8Array(Buffer.from(s, "latin1"));

/** What mqtt-packet reads from the bytes (one packet, or it throws). */
function parse(bytes: Uint8Array): mqtt.IConnectPacket {
  const parser = mqtt.parser({ protocolVersion: 4 });
  const got: mqtt.Packet[] = [];
  parser.on("packet", (p) => got.push(p));
  parser.on("error", (e) => {
    throw e;
  });
  parser.parse(Buffer.from(bytes));
  expect(got.length).toBe(1);
  return got[0] as mqtt.IConnectPacket;
}

describe("CONNECT with a user name and password", () => {
  it("is these bytes", () => {
    // prettier-ignore
    const want = [
      0x10, 34,                       // CONNECT, remaining length
      0, 4, 0x4d, 0x51, 0x54, 0x54,   // "MQTT" [3.1.2.1]
      4,                              // level 4
      0xec,                           // user name, password, will retain, will QoS 1, will flag; clean session 0
      0, 60,                          // keep-alive 60 s
      0, 2, 0x72, 0x31,               // client id "r1"
      0, 3, 0x73, 0x2f, 0x73,         // will topic "s/s"
      0, 3, 0x6f, 0x66, 0x66,         // will message "off"
      0, 2, 0x75, 0x31,               // user name "u1"
      0, 4, 0x70, 0x77, 0x2d, 0x31,   // password "pw-1"
    ];
    expect([...encodeConnect("r1", 60, "s/s", ascii("off"), "u1", "pw-1")]).toEqual(want);
  });

  it("without credentials is the router's CONNECT as before (flags 0x2c)", () => {
    const b = encodeConnect("r1", 60, "s/s", ascii("off"));
    expect(b[9]).toBe(0x2c);
    const p = parse(b);
    expect([p.clientId, p.username, p.password]).toEqual(["r1", undefined, undefined]);
  });

  it("parses in mqtt-packet to the same client id, will, user name and password (fast-check)", () => {
    const text = (min: number, max: number) => fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), minLength: min, maxLength: max });
    fc.assert(
      fc.property(text(1, 23), fc.integer({ min: 0, max: 65535 }), text(0, 40), fc.option(text(0, 64), { nil: undefined }), text(0, 64), (id, ka, willMsg, user, password) => {
        const b = encodeConnect(id, ka, "sden/v1/g/r/status", ascii(willMsg), user, user === undefined ? undefined : password);
        const p = parse(b);
        expect(p.clientId).toBe(id);
        expect(p.keepalive).toBe(ka);
        expect(p.clean).toBe(false);
        expect(p.will).toMatchObject({ topic: "sden/v1/g/r/status", qos: 1, retain: true });
        expect(Buffer.from(p.will!.payload as Buffer).toString("latin1")).toBe(willMsg);
        expect(p.username).toBe(user);
        expect(p.password === undefined ? undefined : Buffer.from(p.password).toString("latin1")).toBe(user === undefined ? undefined : password);
      }),
      { numRuns: 500 },
    );
  });

  it("refuses a password without a user name [MQTT-3.1.2-22], and credentials it cannot put on the wire exactly", () => {
    const empty = new Uint8Array(0);
    expect(encodeConnect("r1", 60, "s/s", ascii("off"), undefined, "pw")).toEqual(empty);
    expect(encodeConnect("r1", 60, "s/s", ascii("off"), "us\u00e9r", "pw")).toEqual(empty);
    expect(encodeConnect("r1", 60, "s/s", ascii("off"), "user", "p\u0000w")).toEqual(empty);
    expect(encodeConnect("r1", 60, "s/s", ascii("off"), "u".repeat(65536))).toEqual(empty);
  });
});
