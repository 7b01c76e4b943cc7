// Annotated MQTT 3.1.1 frames for protocol/mqtt.ts, in mqtt-packet's packet
// shape so that each vector is checked three ways: the device codec, mqtt-packet
// generating the same bytes, and mqtt-packet parsing them back.
//   CLIENT_VECTORS: what the router sends (device encoders).
//   BROKER_VECTORS: what the broker sends (device parser).
//   BAD_VECTORS: broker input the device parser refuses, with its reason.

import type { Packet } from "mqtt-packet";
import {
  MQTT_E_BAD_FLAGS,
  MQTT_E_BAD_LENGTH,
  MQTT_E_BAD_TYPE,
  MQTT_E_MALFORMED,
  MQTT_E_TOO_BIG,
  MQTT_E_UNSUPPORTED,
} from "../../protocol/mqtt";

/** The char codes of a string, as bytes (strings on the wire are ASCII). */
export function ascii(s: string): number[] {
  return [...s].map((c) => c.charCodeAt(0));
}

export interface Vector {
  name: string;
  packet: Packet;
  bytes: number[];
}

const STATUS = "sden/v1/g1/r1/status"; // 20 bytes
const UP = "sden/v1/g1/r1/up"; // 16 bytes
const DOWN = "sden/v1/g1/r1/down"; // 18 bytes

export const CLIENT_VECTORS: Vector[] = [
  {
    name: "CONNECT as the router sends it: persistent session, retained QoS 1 will on the status topic",
    packet: {
      cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clientId: "r1", clean: false, keepalive: 60,
      will: { topic: STATUS, payload: Buffer.from("offline"), qos: 1, retain: true },
    },
    bytes: [
      0x10, 0x2d, // CONNECT; remaining length 45
      0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, // protocol name "MQTT" [3.1.2.1]
      0x04, // protocol level 4: 3.1.1 [3.1.2.2]
      0x2c, // flags: will retain 0x20, will QoS 1 0x08, will 0x04; not clean [3.1.2.3]
      0x00, 0x3c, // keep-alive 60 s [3.1.2.10]
      0x00, 0x02, 0x72, 0x31, // client id "r1"
      0x00, 0x14, ...ascii(STATUS), // will topic, 20 bytes [3.1.3.2]
      0x00, 0x07, ...ascii("offline"), // will message, 7 bytes [3.1.3.3]
    ],
  },
  {
    name: "CONNECT, the least the router sends: one-byte client id and will topic, empty will message, no keep-alive",
    packet: {
      cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clientId: "a", clean: false, keepalive: 0,
      will: { topic: "s", payload: Buffer.alloc(0), qos: 1, retain: true },
    },
    bytes: [
      0x10, 0x12, // CONNECT; remaining length 18
      0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, // protocol name "MQTT"
      0x04, // protocol level 4
      0x2c, // flags: retained QoS 1 will; not clean
      0x00, 0x00, // keep-alive 0: off
      0x00, 0x01, 0x61, // client id "a"
      0x00, 0x01, 0x73, // will topic "s"
      0x00, 0x00, // will message: empty
    ],
  },
  {
    name: "PUBLISH QoS 0",
    packet: { cmd: "publish", topic: "a/b", payload: Buffer.from([1, 2]), qos: 0, dup: false, retain: false },
    bytes: [
      0x30, 0x07, // PUBLISH, QoS 0; remaining length 7
      0x00, 0x03, 0x61, 0x2f, 0x62, // topic "a/b"
      0x01, 0x02, // payload: the rest of the frame
    ],
  },
  {
    name: "PUBLISH QoS 1, DUP and RETAIN",
    packet: { cmd: "publish", topic: UP, payload: Buffer.from([0x83, 1, 2, 3]), qos: 1, messageId: 0x1234, dup: true, retain: true },
    bytes: [
      0x3b, // PUBLISH | DUP 0x08 | QoS 1 0x02 | RETAIN 0x01 [3.3.1]
      0x18, // remaining length 24
      0x00, 0x10, ...ascii(UP), // topic, 16 bytes
      0x12, 0x34, // packet id 0x1234
      0x83, 0x01, 0x02, 0x03, // payload
    ],
  },
  {
    name: "PUBLISH with a two-byte remaining length",
    packet: { cmd: "publish", topic: "t", payload: Buffer.alloc(200, 0x55), qos: 0, dup: false, retain: false },
    bytes: [
      0x30, // PUBLISH, QoS 0
      0xcb, 0x01, // remaining length 203 = 0x4b + 0x01 * 128 [2.2.3]
      0x00, 0x01, 0x74, // topic "t"
      ...new Array<number>(200).fill(0x55), // payload, 200 bytes
    ],
  },
  {
    name: "PUBACK",
    packet: { cmd: "puback", messageId: 0x1234 },
    bytes: [
      0x40, 0x02, // PUBACK; remaining length 2
      0x12, 0x34, // packet id
    ],
  },
  {
    name: "SUBSCRIBE to the down topic at QoS 1",
    packet: { cmd: "subscribe", messageId: 1, subscriptions: [{ topic: DOWN, qos: 1 }] },
    bytes: [
      0x82, // SUBSCRIBE, flags 0010 [MQTT-3.8.1-1]
      0x17, // remaining length 23
      0x00, 0x01, // packet id 1
      0x00, 0x12, ...ascii(DOWN), // topic filter, 18 bytes
      0x01, // requested QoS 1
    ],
  },
  {
    name: "SUBSCRIBE to two wildcard filters (one QoS for all, as the router asks)",
    packet: { cmd: "subscribe", messageId: 10, subscriptions: [{ topic: "a/+", qos: 1 }, { topic: "#", qos: 1 }] },
    bytes: [
      0x82, 0x0c, // SUBSCRIBE; remaining length 12
      0x00, 0x0a, // packet id 10
      0x00, 0x03, 0x61, 0x2f, 0x2b, // "a/+"
      0x01, // requested QoS 1
      0x00, 0x01, 0x23, // "#"
      0x01, // requested QoS 1
    ],
  },
  { name: "PINGREQ", packet: { cmd: "pingreq" }, bytes: [0xc0, 0x00] },
  { name: "DISCONNECT", packet: { cmd: "disconnect" }, bytes: [0xe0, 0x00] },
];

export const BROKER_VECTORS: Vector[] = [
  {
    name: "CONNACK accepted, session present",
    packet: { cmd: "connack", sessionPresent: true, returnCode: 0 },
    bytes: [
      0x20, 0x02, // CONNACK; remaining length 2
      0x01, // acknowledge flags: session present [3.2.2.2]
      0x00, // return code 0: accepted
    ],
  },
  {
    name: "CONNACK refused: not authorized",
    packet: { cmd: "connack", sessionPresent: false, returnCode: 5 },
    bytes: [0x20, 0x02, 0x00, 0x05], // return code 5: not authorized [3.2.2.3]
  },
  {
    name: "PUBLISH QoS 0",
    packet: { cmd: "publish", topic: "a/b", payload: Buffer.from([1, 2]), qos: 0, dup: false, retain: false },
    bytes: [0x30, 0x07, 0x00, 0x03, 0x61, 0x2f, 0x62, 0x01, 0x02],
  },
  {
    name: "PUBLISH QoS 1, retained, on the down topic",
    packet: { cmd: "publish", topic: DOWN, payload: Buffer.from([1, 2, 3]), qos: 1, messageId: 7, dup: false, retain: true },
    bytes: [
      0x33, 0x19, // PUBLISH | QoS 1 | RETAIN; remaining length 25
      0x00, 0x12, ...ascii(DOWN), // topic, 18 bytes
      0x00, 0x07, // packet id 7
      0x01, 0x02, 0x03, // payload
    ],
  },
  {
    name: "PUBLISH with an empty payload and a two-byte remaining length",
    packet: { cmd: "publish", topic: "a".repeat(200), payload: Buffer.alloc(0), qos: 0, dup: false, retain: false },
    bytes: [
      0x30, 0xca, 0x01, // PUBLISH; remaining length 202
      0x00, 0xc8, ...ascii("a".repeat(200)), // topic, 200 bytes; no payload
    ],
  },
  {
    name: "PUBACK",
    packet: { cmd: "puback", messageId: 0x1234 },
    bytes: [0x40, 0x02, 0x12, 0x34],
  },
  {
    name: "SUBACK: granted QoS 1, then a failure",
    packet: { cmd: "suback", messageId: 1, granted: [1, 0x80] },
    bytes: [
      0x90, 0x04, // SUBACK; remaining length 4
      0x00, 0x01, // packet id 1
      0x01, // granted QoS 1
      0x80, // failure [3.9.3]
    ],
  },
  { name: "PINGRESP", packet: { cmd: "pingresp" }, bytes: [0xd0, 0x00] },
];

export interface BadVector {
  name: string;
  bytes: number[];
  /** The reason the parser gives (an MQTT_E_ code). */
  code: number;
  /** The parser's maximum remaining length, when not the tests' default. */
  max?: number;
}

export const BAD_VECTORS: BadVector[] = [
  // Types a broker never sends a client [2.2.1].
  { name: "reserved type 0", bytes: [0x00, 0x00], code: MQTT_E_BAD_TYPE },
  { name: "reserved type 15", bytes: [0xf0, 0x00], code: MQTT_E_BAD_TYPE },
  { name: "CONNECT", bytes: [0x10, 0x00], code: MQTT_E_BAD_TYPE },
  { name: "SUBSCRIBE", bytes: [0x82, 0x04, 0x00, 0x01, 0x00, 0x00], code: MQTT_E_BAD_TYPE },
  { name: "UNSUBSCRIBE", bytes: [0xa2, 0x02, 0x00, 0x01], code: MQTT_E_BAD_TYPE },
  { name: "PINGREQ", bytes: [0xc0, 0x00], code: MQTT_E_BAD_TYPE },
  { name: "DISCONNECT", bytes: [0xe0, 0x00], code: MQTT_E_BAD_TYPE },
  // Valid MQTT the router never asks for.
  { name: "PUBLISH QoS 2", bytes: [0x34, 0x05, 0x00, 0x01, 0x61, 0x00, 0x01], code: MQTT_E_UNSUPPORTED },
  { name: "PUBREC", bytes: [0x50, 0x02, 0x00, 0x01], code: MQTT_E_UNSUPPORTED },
  { name: "PUBREL", bytes: [0x62, 0x02, 0x00, 0x01], code: MQTT_E_UNSUPPORTED },
  { name: "PUBCOMP", bytes: [0x70, 0x02, 0x00, 0x01], code: MQTT_E_UNSUPPORTED },
  { name: "UNSUBACK", bytes: [0xb0, 0x02, 0x00, 0x01], code: MQTT_E_UNSUPPORTED },
  // Reserved bits [MQTT-2.2.2-2, MQTT-3.3.1-4, 3.2.2.1].
  { name: "PUBLISH QoS 3", bytes: [0x36, 0x05, 0x00, 0x01, 0x61, 0x00, 0x01], code: MQTT_E_BAD_FLAGS },
  { name: "CONNACK with fixed header flags 0001", bytes: [0x21, 0x02, 0x00, 0x00], code: MQTT_E_BAD_FLAGS },
  { name: "PUBACK with fixed header flags 0010", bytes: [0x42, 0x02, 0x00, 0x01], code: MQTT_E_BAD_FLAGS },
  { name: "SUBACK with fixed header flags 1000", bytes: [0x98, 0x03, 0x00, 0x01, 0x00], code: MQTT_E_BAD_FLAGS },
  { name: "PINGRESP with fixed header flags 0100", bytes: [0xd4, 0x00], code: MQTT_E_BAD_FLAGS },
  { name: "CONNACK acknowledge flags 0x02", bytes: [0x20, 0x02, 0x02, 0x00], code: MQTT_E_BAD_FLAGS },
  // Remaining length [2.2.3].
  { name: "remaining length in 5 bytes", bytes: [0x30, 0x80, 0x80, 0x80, 0x80, 0x01], code: MQTT_E_BAD_LENGTH, max: 268435455 },
  { name: "remaining length not in the fewest bytes", bytes: [0xd0, 0x80, 0x00], code: MQTT_E_BAD_LENGTH },
  { name: "remaining length above the maximum", bytes: [0x30, 0x41, 0x00, 0x01, 0x61], code: MQTT_E_TOO_BIG, max: 64 },
  { name: "a length byte that can only end above the maximum", bytes: [0x30, 0x80], code: MQTT_E_TOO_BIG, max: 64 },
  { name: "CONNACK of remaining length 3", bytes: [0x20, 0x03, 0x00, 0x00, 0x00], code: MQTT_E_BAD_LENGTH },
  { name: "CONNACK of remaining length 1", bytes: [0x20, 0x01, 0x00], code: MQTT_E_BAD_LENGTH },
  { name: "PUBACK of remaining length 3", bytes: [0x40, 0x03, 0x00, 0x01, 0x00], code: MQTT_E_BAD_LENGTH },
  { name: "PUBACK of remaining length 0", bytes: [0x40, 0x00], code: MQTT_E_BAD_LENGTH },
  { name: "SUBACK without a return code", bytes: [0x90, 0x02, 0x00, 0x01], code: MQTT_E_BAD_LENGTH },
  { name: "PINGRESP of remaining length 1", bytes: [0xd0, 0x01, 0x00], code: MQTT_E_BAD_LENGTH },
  { name: "PUBLISH of remaining length 1", bytes: [0x30, 0x01, 0x00], code: MQTT_E_BAD_LENGTH },
  { name: "PUBLISH whose topic length runs past the frame", bytes: [0x30, 0x03, 0x00, 0x05, 0x61], code: MQTT_E_BAD_LENGTH },
  { name: "PUBLISH QoS 1 without room for the packet id", bytes: [0x32, 0x04, 0x00, 0x01, 0x61, 0x00], code: MQTT_E_BAD_LENGTH },
  // Contents.
  { name: "CONNACK return code 6", bytes: [0x20, 0x02, 0x00, 0x06], code: MQTT_E_MALFORMED },
  { name: "CONNACK session present with a refusal", bytes: [0x20, 0x02, 0x01, 0x05], code: MQTT_E_MALFORMED },
  { name: "PUBLISH QoS 1 with packet id 0", bytes: [0x32, 0x05, 0x00, 0x01, 0x61, 0x00, 0x00], code: MQTT_E_MALFORMED },
  { name: "PUBACK with packet id 0", bytes: [0x40, 0x02, 0x00, 0x00], code: MQTT_E_MALFORMED },
  { name: "SUBACK with packet id 0", bytes: [0x90, 0x03, 0x00, 0x00, 0x01], code: MQTT_E_MALFORMED },
  { name: "SUBACK return code 3", bytes: [0x90, 0x03, 0x00, 0x01, 0x03], code: MQTT_E_MALFORMED },
  { name: "SUBACK return code 0x81", bytes: [0x90, 0x03, 0x00, 0x01, 0x81], code: MQTT_E_MALFORMED },
  { name: "PUBLISH with an empty topic", bytes: [0x30, 0x03, 0x00, 0x00, 0x01], code: MQTT_E_MALFORMED },
  { name: "PUBLISH topic with '+'", bytes: [0x30, 0x05, 0x00, 0x03, 0x61, 0x2f, 0x2b], code: MQTT_E_MALFORMED },
  { name: "PUBLISH topic with '#'", bytes: [0x30, 0x03, 0x00, 0x01, 0x23], code: MQTT_E_MALFORMED },
  { name: "PUBLISH topic with NUL", bytes: [0x30, 0x04, 0x00, 0x02, 0x61, 0x00], code: MQTT_E_MALFORMED },
  { name: "PUBLISH topic with a non-ASCII (UTF-8) character", bytes: [0x30, 0x05, 0x00, 0x03, 0x61, 0xc3, 0xa9], code: MQTT_E_MALFORMED },
];
