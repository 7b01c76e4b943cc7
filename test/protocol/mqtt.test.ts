// The MQTT 3.1.1 client codec (protocol/mqtt.ts), with mqtt-packet as the
// oracle: annotated vectors, everything the device encodes parsed by
// mqtt-packet, everything mqtt-packet generates for a client parsed by the
// device however the reads cut it, each kind of bad input refused with its
// reason, and a fuzz run over random and mutated frames.

import fc from "fast-check";
import * as mqtt from "mqtt-packet";
import type { Packet } from "mqtt-packet";
import { describe, expect, it } from "vitest";
import {
  encodeConnect,
  encodeDisconnect,
  encodePingreq,
  encodePuback,
  encodePublish,
  encodeSubscribe,
  MQTT_CONNACK,
  MQTT_E_BAD_FLAGS,
  MQTT_E_BAD_LENGTH,
  MQTT_E_BAD_TYPE,
  MQTT_E_MALFORMED,
  MQTT_E_TOO_BIG,
  MQTT_E_UNSUPPORTED,
  MQTT_MAX_REMAINING,
  MQTT_PINGRESP,
  MQTT_PUBACK,
  MQTT_PUBLISH,
  MQTT_SUBACK,
  MqttParser,
  type MqttPacket,
} from "../../protocol/mqtt";
import { ascii, BAD_VECTORS, BROKER_VECTORS, CLIENT_VECTORS } from "./mqtt-vectors";
import { seededRandom } from "../../tools/sim/random";

/** The parser's maximum remaining length in most tests. */
const MAX = 1024;
const REASONS = [MQTT_E_TOO_BIG, MQTT_E_BAD_LENGTH, MQTT_E_BAD_TYPE, MQTT_E_BAD_FLAGS, MQTT_E_MALFORMED, MQTT_E_UNSUPPORTED];

// ---------------------------------------------------------------- helpers

function bytesOf(x: Buffer | string | Uint8Array | undefined): number[] {
  if (x === undefined) return [];
  return [...(typeof x === "string" ? Buffer.from(x) : x)];
}

function concat(parts: ArrayLike<number>[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let i = 0;
  for (const p of parts) {
    out.set(p, i);
    i += p.length;
  }
  return out;
}

/** The device encoder's answer for an mqtt-packet packet a client sends. */
function deviceEncode(p: Packet): Uint8Array {
  switch (p.cmd) {
    case "connect":
      // The router's CONNECT only: a persistent session, a retained QoS 1 will, no user name or password.
      expect(p).toMatchObject({ clean: false, will: { qos: 1, retain: true } });
      expect([p.username, p.password]).toEqual([undefined, undefined]);
      return encodeConnect(p.clientId, p.keepalive ?? 0, p.will!.topic, new Uint8Array(bytesOf(p.will!.payload)));
    case "publish":
      return encodePublish(p.topic, new Uint8Array(bytesOf(p.payload)), p.qos, p.messageId ?? 0, p.dup, p.retain);
    case "puback":
      return encodePuback(p.messageId ?? 0);
    case "subscribe":
      // One requested QoS for every filter (the router subscribes all at QoS 1).
      expect(new Set(p.subscriptions.map((s) => s.qos)).size).toBe(1);
      return encodeSubscribe(p.messageId ?? 0, p.subscriptions.map((s) => s.topic), p.subscriptions[0].qos);
    case "pingreq":
      return encodePingreq();
    case "disconnect":
      return encodeDisconnect();
    default:
      throw new Error("the device does not send " + p.cmd);
  }
}

/** A device packet as plain data (payload as a number array), for comparing. */
type Plain = Record<string, unknown>;
function plain(p: MqttPacket): Plain {
  const out: Plain = { ...p };
  if (p.t === MQTT_PUBLISH) out.payload = [...p.payload];
  if (p.t === MQTT_SUBACK) out.granted = [...p.granted];
  return out;
}

/** What the device parser must return for an mqtt-packet packet a broker sends. */
function expected(p: Packet): Plain {
  switch (p.cmd) {
    case "connack":
      return { t: MQTT_CONNACK, sp: !!p.sessionPresent, rc: p.returnCode };
    case "publish":
      return { t: MQTT_PUBLISH, id: p.qos ? p.messageId : 0, q: p.qos, d: !!p.dup, r: !!p.retain, topic: p.topic, payload: bytesOf(p.payload) };
    case "puback":
      return { t: MQTT_PUBACK, id: p.messageId };
    case "suback":
      return { t: MQTT_SUBACK, id: p.messageId, granted: p.granted };
    case "pingresp":
      return { t: MQTT_PINGRESP };
    default:
      throw new Error("a broker does not send " + p.cmd);
  }
}

/** The fields of an mqtt-packet packet that MQTT 3.1.1 puts on the wire. */
function wireFields(p: Packet): Plain {
  switch (p.cmd) {
    case "connect":
      return {
        cmd: p.cmd, protocolId: p.protocolId, protocolVersion: p.protocolVersion, clientId: p.clientId, clean: !!p.clean,
        keepalive: p.keepalive ?? 0, username: p.username, password: p.password && bytesOf(p.password),
        will: p.will && { topic: p.will.topic, payload: bytesOf(p.will.payload), qos: p.will.qos ?? 0, retain: !!p.will.retain },
      };
    case "publish":
      return { cmd: p.cmd, topic: p.topic, payload: bytesOf(p.payload), qos: p.qos, messageId: p.qos ? p.messageId : undefined, dup: !!p.dup, retain: !!p.retain };
    case "subscribe":
      return { cmd: p.cmd, messageId: p.messageId, subscriptions: p.subscriptions.map((s) => ({ topic: s.topic, qos: s.qos })) };
    case "puback":
      return { cmd: p.cmd, messageId: p.messageId };
    default:
      return { cmd: p.cmd };
  }
}

/** mqtt-packet's reading of bytes (protocol 3.1.1); throws on its errors. */
function oracleParse(bytes: Uint8Array): Packet[] {
  const parser = mqtt.parser({ protocolVersion: 4 });
  const out: Packet[] = [];
  let error: Error | undefined;
  parser.on("packet", (p: Packet) => out.push(p));
  parser.on("error", (e: Error) => (error = e));
  parser.parse(Buffer.from(bytes));
  if (error) throw error;
  return out;
}

function generate(p: Packet): Uint8Array {
  return new Uint8Array(mqtt.generate(p, { protocolVersion: 4 }));
}

/** An mqtt-packet packet for a device packet (for re-encoding). */
function toOracle(p: MqttPacket): Packet {
  switch (p.t) {
    case MQTT_CONNACK:
      return { cmd: "connack", sessionPresent: p.sp, returnCode: p.rc };
    case MQTT_PUBLISH:
      return { cmd: "publish", topic: p.topic, payload: Buffer.from(p.payload), qos: p.q as 0 | 1, messageId: p.q ? p.id : undefined, dup: p.d, retain: p.r };
    case MQTT_PUBACK:
      return { cmd: "puback", messageId: p.id };
    case MQTT_SUBACK:
      return { cmd: "suback", messageId: p.id, granted: [...p.granted] };
    default:
      return { cmd: "pingresp" };
  }
}

interface Parsed {
  packets: Plain[];
  error: number;
  held: number;
}

/** Pushes the chunks one by one, reading packets after each; checks the memory bound as it goes. */
function parseChunks(chunks: Uint8Array[], max = MAX, parser = new MqttParser(max)): Parsed {
  const packets: Plain[] = [];
  for (const chunk of chunks) {
    parser.push(chunk);
    for (let p = parser.next(); p; p = parser.next()) packets.push(plain(p));
    expect(parser.heldBytes()).toBeLessThanOrEqual(max + 5);
  }
  return { packets, error: parser.error, held: parser.heldBytes() };
}

/** bytes cut at the given offsets (any order, repeats and out-of-range ones ignored). */
function cut(bytes: Uint8Array, at: number[]): Uint8Array[] {
  const points = [...new Set(at.filter((k) => k > 0 && k < bytes.length))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let from = 0;
  for (const k of [...points, bytes.length]) {
    chunks.push(bytes.slice(from, k));
    from = k;
  }
  return chunks;
}

// ------------------------------------------------------------ arbitraries

const char = (lo: number, hi: number, not: number[] = []) =>
  fc.integer({ min: lo, max: hi }).filter((c) => !not.includes(c)).map((c) => String.fromCharCode(c));
/** ASCII without NUL: client ids, user names. */
const asciiString = (maxLength = 40) => fc.string({ unit: char(1, 127), maxLength });
/** A topic name: ASCII, no NUL, no wildcards, at least one character. */
const topicName = fc.string({ unit: char(1, 127, [0x23, 0x2b]), minLength: 1, maxLength: 60 });
/** A topic filter: levels that are text or '+', maybe a last '#'. */
const topicFilter = fc
  .tuple(fc.array(fc.oneof(fc.constant("+"), fc.string({ unit: char(1, 127, [0x23, 0x2b, 0x2f]), maxLength: 8 })), { minLength: 1, maxLength: 5 }), fc.boolean())
  .map(([levels, hash]) => (hash ? [...levels, "#"] : levels).join("/"))
  .filter((t) => t.length > 0);
const packetId = fc.integer({ min: 1, max: 65535 });
const qos01 = fc.constantFrom<0 | 1>(0, 1);
const payload = (maxLength = 300) => fc.uint8Array({ maxLength });

/** The CONNECT the router sends: persistent session, a retained QoS 1 will. */
const connectPacket: fc.Arbitrary<Packet> = fc
  .record({ clientId: asciiString().filter((s) => s.length > 0), keepalive: fc.integer({ min: 0, max: 65535 }), topic: topicName, payload: payload(100) })
  .map((r): Packet => ({
    cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clientId: r.clientId, clean: false, keepalive: r.keepalive,
    will: { topic: r.topic, payload: Buffer.from(r.payload), qos: 1, retain: true },
  }));

const publishPacket = (allowDupQos0: boolean): fc.Arbitrary<Packet> =>
  fc.record({ topic: topicName, payload: payload(), qos: qos01, messageId: packetId, dup: fc.boolean(), retain: fc.boolean() }).map((r): Packet => {
    const p: Packet = { cmd: "publish", topic: r.topic, payload: Buffer.from(r.payload), qos: r.qos, dup: r.dup && (r.qos === 1 || allowDupQos0), retain: r.retain };
    if (r.qos) p.messageId = r.messageId;
    return p;
  });

const clientPacket: fc.Arbitrary<Packet> = fc.oneof(
  connectPacket,
  publishPacket(false),
  packetId.map((messageId): Packet => ({ cmd: "puback", messageId })),
  fc
    .record({ messageId: packetId, qos: qos01, topics: fc.array(topicFilter, { minLength: 1, maxLength: 4 }) })
    .map((r): Packet => ({ cmd: "subscribe", messageId: r.messageId, subscriptions: r.topics.map((topic) => ({ topic, qos: r.qos })) })),
  fc.constant<Packet>({ cmd: "pingreq" }),
  fc.constant<Packet>({ cmd: "disconnect" }),
);

const brokerPacket: fc.Arbitrary<Packet> = fc.oneof(
  fc.record({ rc: fc.integer({ min: 0, max: 5 }), sp: fc.boolean() }).map((r): Packet => ({ cmd: "connack", returnCode: r.rc, sessionPresent: r.sp && r.rc === 0 })),
  publishPacket(true),
  packetId.map((messageId): Packet => ({ cmd: "puback", messageId })),
  fc
    .record({ messageId: packetId, granted: fc.array(fc.constantFrom(0, 1, 2, 0x80), { minLength: 1, maxLength: 8 }) })
    .map((r): Packet => ({ cmd: "suback", messageId: r.messageId, granted: r.granted })),
  fc.constant<Packet>({ cmd: "pingresp" }),
);

// ---------------------------------------------------------------- vectors

describe("annotated vectors", () => {
  for (const v of CLIENT_VECTORS) {
    it(`the router encodes ${v.name}`, () => {
      const bytes = deviceEncode(v.packet);
      expect([...bytes]).toEqual(v.bytes);
      expect([...generate(v.packet)]).toEqual(v.bytes);
      const parsed = oracleParse(bytes);
      expect(parsed).toHaveLength(1);
      expect(wireFields(parsed[0])).toEqual(wireFields(v.packet));
    });
  }

  for (const v of BROKER_VECTORS) {
    it(`the router parses ${v.name}`, () => {
      expect([...generate(v.packet)]).toEqual(v.bytes);
      const r = parseChunks([new Uint8Array(v.bytes)]);
      expect(r).toEqual({ packets: [expected(v.packet)], error: 0, held: 0 });
    });
  }

  it("PUBLISH and PUBACK, the packets both sides send, round-trip through the device codec", () => {
    for (const v of CLIENT_VECTORS.filter((x) => x.packet.cmd === "publish" || x.packet.cmd === "puback")) {
      const r = parseChunks([deviceEncode(v.packet)]);
      expect(r.error).toBe(0);
      expect(r.packets).toEqual([expected(v.packet)]);
    }
  });
});

// --------------------------------------------------------------- encoders

describe("the router's packets parse with mqtt-packet to the same fields", () => {
  it("for any CONNECT, PUBLISH, PUBACK, SUBSCRIBE, PINGREQ, DISCONNECT", () => {
    fc.assert(
      fc.property(clientPacket, (p) => {
        const bytes = deviceEncode(p);
        expect(bytes.length).toBeGreaterThan(0);
        expect([...bytes]).toEqual([...generate(p)]);
        const parsed = oracleParse(bytes);
        expect(parsed).toHaveLength(1);
        expect(wireFields(parsed[0])).toEqual(wireFields(p));
      }),
      { numRuns: 500 },
    );
  });

  it("a PUBLISH the router encodes parses on the device to the same fields", () => {
    fc.assert(
      fc.property(publishPacket(false), (p) => {
        expect(parseChunks([deviceEncode(p)])).toEqual({ packets: [expected(p)], error: 0, held: 0 });
      }),
    );
  });

  it("remaining lengths at the edges of 1, 2 and 3 length bytes", () => {
    // topic "t": 3 bytes before the payload
    for (const rl of [0x7f, 0x80, 0x3fff, 0x4000, 0x1fffff, 0x200000]) {
      const bytes = encodePublish("t", new Uint8Array(rl - 3), 0, 0, false, false);
      const head = rl < 0x80 ? 2 : rl < 0x4000 ? 3 : rl < 0x200000 ? 4 : 5;
      expect(bytes.length).toBe(head + rl);
      const parsed = oracleParse(bytes);
      expect(parsed[0].length).toBe(rl);
      const r = parseChunks([bytes], rl);
      expect(r.error).toBe(0);
      expect(r.packets).toHaveLength(1);
    }
  });
});

describe("the encoders refuse what they cannot encode exactly (empty result, no throw)", () => {
  const offline = new Uint8Array(ascii("offline"));
  const refusedConnects: [string, string, number, string, Uint8Array][] = [
    ["a non-ASCII client id", "r\u00e9", 60, "s", offline],
    ["a client id with NUL", "r\u0000", 60, "s", offline],
    ["a client id over 65535 bytes", "r".repeat(65536), 60, "s", offline],
    ["an empty client id (a persistent session needs one [MQTT-3.1.3-7])", "", 60, "s", offline],
    ["keep-alive -1", "r1", -1, "s", offline],
    ["keep-alive 65536", "r1", 65536, "s", offline],
    ["keep-alive 1.5", "r1", 1.5, "s", offline],
    ["keep-alive NaN", "r1", NaN, "s", offline],
    ["a will topic with '+'", "r1", 60, "a/+", offline],
    ["a will topic with '#'", "r1", 60, "#", offline],
    ["an empty will topic", "r1", 60, "", offline],
    ["a non-ASCII will topic", "r1", 60, "\u00e9", offline],
    ["a will message over 65535 bytes", "r1", 60, "s", new Uint8Array(65536)],
  ];
  for (const [name, id, ka, topic, message] of refusedConnects) {
    it(`CONNECT with ${name}`, () => {
      expect(encodeConnect(id, ka, topic, message)).toEqual(new Uint8Array(0));
    });
  }
  it("CONNECT takes the limits themselves", () => {
    const message = new Uint8Array(65535).fill(0xff);
    const max = encodeConnect("r".repeat(65535), 65535, "t".repeat(65535), message);
    expect(max.length).toBeGreaterThan(3 * 65535);
    const c = oracleParse(max)[0] as mqtt.IConnectPacket;
    expect(c).toMatchObject({ cmd: "connect", keepalive: 65535, clean: false, will: { qos: 1, retain: true } });
    expect([c.clientId.length, c.will!.topic.length, [...(c.will!.payload as Buffer)]]).toEqual([65535, 65535, [...message]]);
  });

  const p = new Uint8Array([1]);
  const refusedPublishes: [string, () => Uint8Array][] = [
    ["an empty topic", () => encodePublish("", p, 0, 0, false, false)],
    ["a topic with '+'", () => encodePublish("a/+", p, 0, 0, false, false)],
    ["a topic with '#'", () => encodePublish("a/#", p, 0, 0, false, false)],
    ["a topic with NUL", () => encodePublish("a\u0000", p, 0, 0, false, false)],
    ["a non-ASCII topic", () => encodePublish("caf\u00e9", p, 0, 0, false, false)],
    ["a topic over 65535 bytes", () => encodePublish("t".repeat(65536), p, 0, 0, false, false)],
    ["QoS 2", () => encodePublish("t", p, 2, 1, false, false)],
    ["QoS 3", () => encodePublish("t", p, 3, 1, false, false)],
    ["QoS 0.5", () => encodePublish("t", p, 0.5, 1, false, false)],
    ["QoS 1 and packet id 0", () => encodePublish("t", p, 1, 0, false, false)],
    ["QoS 1 and packet id 65536", () => encodePublish("t", p, 1, 65536, false, false)],
    ["QoS 1 and packet id -1", () => encodePublish("t", p, 1, -1, false, false)],
    ["QoS 1 and packet id 1.5", () => encodePublish("t", p, 1, 1.5, false, false)],
    ["QoS 0 and DUP [MQTT-3.3.1-2]", () => encodePublish("t", p, 0, 0, true, false)],
    ["a frame over 268,435,455 bytes", () => encodePublish("t", { length: MQTT_MAX_REMAINING - 2 } as unknown as Uint8Array, 0, 0, false, false)],
  ];
  for (const [name, f] of refusedPublishes) {
    it(`PUBLISH with ${name}`, () => {
      expect(f()).toEqual(new Uint8Array(0));
    });
  }
  it("PUBLISH ignores the packet id with QoS 0", () => {
    expect([...encodePublish("t", p, 0, 0, false, false)]).toEqual([...encodePublish("t", p, 0, 99999, false, false)]);
  });

  it("PUBACK with packet id 0, 65536, -1 or 1.5", () => {
    for (const id of [0, 65536, -1, 1.5, NaN]) expect(encodePuback(id)).toEqual(new Uint8Array(0));
  });

  const refusedSubscribes: [string, number, string[], number][] = [
    ["packet id 0", 0, ["a"], 0],
    ["packet id 65536", 65536, ["a"], 0],
    ["no topic filter [MQTT-3.8.3-3]", 1, [], 0],
    ["QoS 2", 1, ["a"], 2],
    ["QoS -1", 1, ["a"], -1],
    ["an empty filter", 1, [""], 0],
    ["'+' inside a level", 1, ["a+"], 0],
    ["'+' before text", 1, ["+a/b"], 0],
    ["'#' not last", 1, ["#/a"], 0],
    ["'#' inside a level", 1, ["a#"], 0],
    ["a non-ASCII filter", 1, ["\u00e9"], 0],
    ["a bad filter after a good one", 1, ["a", "b/#/c"], 0],
  ];
  for (const [name, id, topics, qos] of refusedSubscribes) {
    it(`SUBSCRIBE with ${name}`, () => {
      expect(encodeSubscribe(id, topics, qos)).toEqual(new Uint8Array(0));
    });
  }
  it("SUBSCRIBE takes wildcards in their places", () => {
    for (const f of ["+", "#", "+/+", "a/+/b", "a/#", "/", "+/#", "a//b"]) {
      const bytes = encodeSubscribe(1, [f], 0);
      expect(bytes.length, f).toBeGreaterThan(0);
      expect(oracleParse(bytes)[0]).toMatchObject({ subscriptions: [{ topic: f, qos: 0 }] });
    }
  });
});

// ------------------------------------------------------------------ parser

describe("the parser reads what mqtt-packet generates for a client, however the reads cut it", () => {
  it("one frame in one chunk", () => {
    fc.assert(
      fc.property(brokerPacket, (p) => {
        expect(parseChunks([generate(p)])).toEqual({ packets: [expected(p)], error: 0, held: 0 });
      }),
      { numRuns: 500 },
    );
  });

  it("one frame split at every byte boundary", () => {
    fc.assert(
      fc.property(brokerPacket, (p) => {
        const bytes = generate(p);
        for (let k = 1; k < bytes.length; k++) {
          expect(parseChunks(cut(bytes, [k]))).toEqual({ packets: [expected(p)], error: 0, held: 0 });
        }
      }),
      { numRuns: 200 },
    );
  });

  it("one frame a byte at a time", () => {
    fc.assert(
      fc.property(brokerPacket, (p) => {
        const bytes = generate(p);
        const r = parseChunks([...bytes].map((b) => new Uint8Array([b])));
        expect(r).toEqual({ packets: [expected(p)], error: 0, held: 0 });
      }),
      { numRuns: 100 },
    );
  });

  it("several frames merged, cut at random boundaries", () => {
    fc.assert(
      fc.property(fc.array(brokerPacket, { minLength: 1, maxLength: 8 }), fc.array(fc.nat(3000), { maxLength: 12 }), (ps, at) => {
        const bytes = concat(ps.map(generate));
        expect(parseChunks(cut(bytes, at))).toEqual({ packets: ps.map(expected), error: 0, held: 0 });
      }),
      { numRuns: 500 },
    );
  });

  it("frames of exactly the maximum size pass, one byte more is too big", () => {
    const max = 300;
    const fits = encodePublish("t", new Uint8Array(max - 3), 0, 0, false, false);
    expect(parseChunks(cut(fits, [1, 2, 3, 100]), max)).toMatchObject({ error: 0, held: 0, packets: [{ t: MQTT_PUBLISH }] });
    const over = encodePublish("t", new Uint8Array(max - 2), 0, 0, false, false);
    expect(parseChunks([over], max)).toEqual({ packets: [], error: MQTT_E_TOO_BIG, held: 0 });
  });
});

describe("incomplete input is not an error", () => {
  it("a partial frame waits, held, until the rest arrives", () => {
    const parser = new MqttParser(MAX);
    const bytes = generate({ cmd: "publish", topic: "a/b", payload: Buffer.alloc(100, 7), qos: 1, messageId: 3, dup: false, retain: false });
    parser.push(bytes.subarray(0, 1));
    expect(parser.next()).toBeNull();
    expect(parser.error).toBe(0);
    parser.push(bytes.subarray(1, 10));
    expect(parser.next()).toBeNull();
    expect(parser.error).toBe(0);
    // The header is in: the frame's buffer has its exact size.
    expect(parser.heldBytes()).toBe(bytes.length);
    parser.push(bytes.subarray(10));
    expect(plain(parser.next()!)).toMatchObject({ t: MQTT_PUBLISH, id: 3, topic: "a/b" });
    expect(parser.next()).toBeNull();
    expect(parser.heldBytes()).toBe(0);
  });

  it("bytes left unread when more are pushed are kept, in order", () => {
    const parser = new MqttParser(MAX);
    parser.push(new Uint8Array([0x40, 0x02, 0x00, 0x01, 0x40, 0x02, 0x00, 0x02, 0x40]));
    expect(parser.next()).toEqual({ t: MQTT_PUBACK, id: 1 });
    parser.push(new Uint8Array([0x02, 0x00, 0x03]));
    expect(parser.next()).toEqual({ t: MQTT_PUBACK, id: 2 });
    expect(parser.next()).toEqual({ t: MQTT_PUBACK, id: 3 });
    expect(parser.next()).toBeNull();
    expect(parser.error).toBe(0);
  });

  it("an empty chunk changes nothing", () => {
    const parser = new MqttParser(MAX);
    parser.push(new Uint8Array(0));
    expect(parser.next()).toBeNull();
    expect(parser.error).toBe(0);
    expect(parser.heldBytes()).toBe(0);
  });

  it("a parser with maximum 0 reads PINGRESP and refuses anything longer", () => {
    expect(parseChunks([new Uint8Array([0xd0, 0x00])], 0)).toEqual({ packets: [{ t: MQTT_PINGRESP }], error: 0, held: 0 });
    expect(parseChunks([new Uint8Array([0x40, 0x02, 0x00, 0x01])], 0).error).toBe(MQTT_E_TOO_BIG);
  });
});

describe("bad input is refused with its reason, and nothing is emitted", () => {
  const pingresp = new Uint8Array([0xd0, 0x00]);
  for (const v of BAD_VECTORS) {
    const max = v.max ?? MAX;
    it(v.name, () => {
      const bytes = new Uint8Array(v.bytes);
      // In one chunk, then a byte at a time: the same reason.
      expect(parseChunks([bytes], max)).toEqual({ packets: [], error: v.code, held: 0 });
      expect(parseChunks([...bytes].map((b) => new Uint8Array([b])), max)).toEqual({ packets: [], error: v.code, held: 0 });
      // Good packets before it come out; nothing after it does.
      expect(parseChunks([concat([pingresp, bytes, pingresp])], max)).toEqual({ packets: [{ t: MQTT_PINGRESP }], error: v.code, held: 0 });
      // The error stays until reset(); then the parser works again.
      const parser = new MqttParser(max);
      parser.push(bytes);
      expect(parser.next()).toBeNull();
      parser.push(pingresp);
      expect(parser.next()).toBeNull();
      expect(parser.error).toBe(v.code);
      parser.reset();
      expect(parser.error).toBe(0);
      parser.push(pingresp);
      expect(parser.next()).toEqual({ t: MQTT_PINGRESP });
    });
  }

  it("a length that can only end above the maximum is refused before any body byte, with nothing held", () => {
    const parser = new MqttParser(100);
    parser.push(new Uint8Array([0x30, 0xff]));
    expect(parser.next()).toBeNull();
    expect(parser.error).toBe(MQTT_E_TOO_BIG);
    expect(parser.heldBytes()).toBe(0);
  });

  it("the reason codes are distinct and non-zero", () => {
    expect(new Set(REASONS).size).toBe(REASONS.length);
    expect(REASONS).not.toContain(0);
  });
});

// -------------------------------------------------------------------- fuzz


/** A Variable Byte Integer [2.2.3], in n bytes (more than needed makes it not minimal). */
function varint(v: number, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    out.push((v & 127) | (i < n - 1 ? 128 : 0));
    v = Math.floor(v / 128);
  }
  return out;
}

describe("fuzz: random and mutated frames", () => {
  it("never throws, holds at most max + 5 bytes, and emits only packets that re-encode to the bytes read", () => {
    const FUZZ_MAX = 64;
    const CASES = 100_000;
    const seed = Number(process.env.MQTT_FUZZ_SEED) || (Date.now() >>> 0);
    const rnd = seededRandom(seed);
    const int = (n: number) => Math.floor(rnd() * n);
    // Valid broker frames to mutate (small payloads, so that most fit under FUZZ_MAX).
    const seeds = fc
      .sample(
        fc.oneof(
          brokerPacket,
          fc.record({ topic: fc.string({ unit: char(1, 127, [0x23, 0x2b]), minLength: 1, maxLength: 12 }), payload: payload(30), qos: qos01, id: packetId, dup: fc.boolean(), retain: fc.boolean() })
            .map((r): Packet => ({ cmd: "publish", topic: r.topic, payload: Buffer.from(r.payload), qos: r.qos, messageId: r.qos ? r.id : undefined, dup: r.dup, retain: r.retain })),
        ),
        { numRuns: 500, seed },
      )
      .map(generate)
      .filter((f) => f.length <= FUZZ_MAX + 5);
    const counts = { packets: 0, errors: 0, incomplete: 0 };
    const reasonsSeen = new Set<number>();

    function mutate(f: Uint8Array): Uint8Array {
      const b = [...f];
      switch (int(9)) {
        case 0: // flip bits in one byte
          b[int(b.length)] ^= 1 + int(255);
          break;
        case 1: // a random byte anywhere
          b[int(b.length)] = int(256);
          break;
        case 2: // truncate
          return f.slice(0, int(f.length));
        case 3: // extend
          for (let n = 1 + int(8); n > 0; n--) b.push(int(256));
          break;
        case 4: {
          // another remaining length, in 1 to 5 bytes
          let h = 1;
          while (b[h] & 128 && h < 4) h++;
          const v = [int(4), int(128), int(FUZZ_MAX + 8), int(20000), int(MQTT_MAX_REMAINING)][int(5)];
          return new Uint8Array([b[0], ...varint(v, 1 + int(5)), ...b.slice(h + 1)]);
        }
        case 5: // another type and flags
          b[0] = int(256);
          break;
        case 6: // insert or delete a byte
          if (rnd() < 0.5) b.splice(int(b.length + 1), 0, int(256));
          else b.splice(int(b.length), 1);
          break;
        case 7: // two frames merged, the second mutated again
          return concat([f, mutate(seeds[int(seeds.length)])]);
        default: // random bytes
          return new Uint8Array(Array.from({ length: int(80) }, () => int(256)));
      }
      return new Uint8Array(b);
    }

    const parser = new MqttParser(FUZZ_MAX);
    for (let n = 0; n < CASES; n++) {
      const input = rnd() < 0.1 ? seeds[int(seeds.length)] : mutate(seeds[int(seeds.length)]);
      parser.reset();
      const read: Uint8Array[] = [];
      for (const chunk of cut(input, [int(input.length + 1), int(input.length + 1)])) {
        parser.push(chunk);
        for (let p = parser.next(); p; p = parser.next()) {
          // The frame a packet came from is exactly what mqtt-packet makes of it.
          read.push(generate(toOracle(p)));
        }
        if (parser.heldBytes() > FUZZ_MAX + 5) throw new Error(`seed ${seed} case ${n}: holds ${parser.heldBytes()} bytes`);
      }
      const got = concat(read);
      const prefixOk = got.every((x, i) => x === input[i]);
      if (!prefixOk) throw new Error(`seed ${seed} case ${n}: packets do not re-encode to the input ${[...input]}`);
      if (parser.error) {
        if (!REASONS.includes(parser.error)) throw new Error(`seed ${seed} case ${n}: unknown reason ${parser.error}`);
        if (parser.next() !== null || parser.heldBytes() !== 0) throw new Error(`seed ${seed} case ${n}: emits or holds after an error`);
        reasonsSeen.add(parser.error);
        counts.errors++;
      } else {
        // Whatever was not emitted is the start of one frame, held (in a
        // buffer of the frame's size once its header is in).
        const rest = input.length - got.length;
        if (rest ? parser.heldBytes() < rest : parser.heldBytes() !== 0) throw new Error(`seed ${seed} case ${n}: lost bytes of ${[...input]}`);
        if (rest) counts.incomplete++;
      }
      counts.packets += read.length;
    }
    // The run reached every outcome (it is not testing nothing).
    expect(counts.packets).toBeGreaterThan(CASES / 10);
    expect(counts.errors).toBeGreaterThan(CASES / 10);
    expect(counts.incomplete).toBeGreaterThan(CASES / 100);
    expect([...reasonsSeen].sort()).toEqual([...REASONS].sort());
  });
});
