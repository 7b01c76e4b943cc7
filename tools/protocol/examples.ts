// Typical messages of every kind, with the content a real router and server
// would put in them. docs/protocol.md shows them (tools/protocol/docs.ts
// writes its examples from here) and the benchmark measures them, so the
// document, the figures and the code cannot drift apart.

import type { CborValue } from "../../protocol/cbor";
import { seal } from "../../protocol/envelope";
import * as M from "../../protocol/messages";
import type { Limits } from "../../protocol/messages";
import { topicDown, topicUp } from "../../protocol/topics";
import { createHash } from "node:crypto";

export const sha256 = (d: Uint8Array): Uint8Array => new Uint8Array(createHash("sha256").update(d).digest());

/** The key of the examples: bytes 0x00..0x1f. A real router has its own random key. */
export const EXAMPLE_KEY = new Uint8Array(32).map((_, i) => i);
export const EXAMPLE_GRID = "g1";
export const EXAMPLE_ROUTER = "r0042";
/** 2026-11-23 12:00:05 UTC: slot 2,992,392 of 10 minutes. */
export const EXAMPLE_TIME = 1795435205;

/** Three clients: 1 a washing machine (2.2 kW), 2 an EV charger (11 kW), 3 a water heater (3 kW); 10 Wh packets, 10-minute slots. */
export const EXAMPLE_LIMITS: Limits = { horizonSlots: 144, maxPerSlot: new Uint16Array([0, 36, 183, 50]) };

export interface Example {
  name: string;
  type: number;
  seq: number;
  body: CborValue;
  /** The same content as JSON with named fields, as a peer protocol would send it. */
  json: unknown;
}

function up(type: number): boolean {
  return M.isUp(type);
}

/** MQTT QoS per message type (design section 5): 1 for requests, decisions, schedules and acks; 0 for telemetry and heartbeats. */
export function qosOf(type: number): number {
  return type === M.TELEMETRY || type === M.HEARTBEAT ? 0 : 1;
}

export function topicOf(type: number): string {
  return up(type) ? topicUp(EXAMPLE_GRID, EXAMPLE_ROUTER) : topicDown(EXAMPLE_GRID, EXAMPLE_ROUTER);
}

/** A router that has run for a while: seq in the thousands, as on most days of its life. */
const SEQ = 4711;

export const EXAMPLES: Example[] = [
  {
    name: "hello",
    type: M.HELLO,
    seq: SEQ,
    body: ["0.1.0+4fe06cd", 17, 0b111, 512],
    json: { type: "hello", seq: SEQ, time: EXAMPLE_TIME, firmware: "0.1.0+4fe06cd", bootCount: 17, capabilities: { subMeters: true, battery: true, localServer: true }, maxFrameBytes: 512 },
  },
  {
    name: "request: EV, 20 kWh by 07:00 at up to 11 kW",
    type: M.REQUEST,
    seq: SEQ,
    body: [[301, 2, M.KIND_ENERGY, 0, 114, 2000, 183]],
    json: { type: "request", seq: SEQ, time: EXAMPLE_TIME, requests: [{ requestId: 301, client: 2, kind: "energyByDeadline", earliestSlot: 0, deadlineSlot: 114, packets: 2000, maxPacketsPerSlot: 183 }] },
  },
  {
    name: "request: washing machine, a 2-hour profile to finish by 18:00",
    type: M.REQUEST,
    seq: SEQ,
    body: [[302, 1, M.KIND_PROFILE, 0, 36, [20, 36, 8, 4, 4, 4, 6, 6, 2, 2, 2, 2]]],
    json: { type: "request", seq: SEQ, time: EXAMPLE_TIME, requests: [{ requestId: 302, client: 1, kind: "deferrableProfile", earliestSlot: 0, latestEndSlot: 36, profile: [20, 36, 8, 4, 4, 4, 6, 6, 2, 2, 2, 2] }] },
  },
  {
    name: "request: water heater, 30 packets in every 6 hours for a day",
    type: M.REQUEST,
    seq: SEQ,
    body: [[303, 3, M.KIND_THERMAL, 0, 144, 30, 36, 50]],
    json: { type: "request", seq: SEQ, time: EXAMPLE_TIME, requests: [{ requestId: 303, client: 3, kind: "thermalBand", earliestSlot: 0, endSlot: 144, packetsPerWindow: 30, windowSlots: 36, maxPacketsPerSlot: 50 }] },
  },
  {
    name: "accept",
    type: M.ACCEPT,
    seq: SEQ,
    body: [301],
    json: { type: "accept", seq: SEQ, time: EXAMPLE_TIME, requestIds: [301] },
  },
  {
    name: "reject: no capacity, retry in 30 minutes",
    type: M.REJECT,
    seq: SEQ,
    body: [302, M.REJ_CAPACITY, 1800],
    json: { type: "reject", seq: SEQ, time: EXAMPLE_TIME, rejections: [{ requestId: 302, reason: "capacity", retryAfterSeconds: 1800 }] },
  },
  {
    name: "schedule: the EV for the next 12 slots, lease 2 hours",
    type: M.SCHEDULE,
    seq: SEQ,
    body: [2, 1, [183, 183, 120, 0, 0, 183, 183, 183, 183, 183, 183, 183], 13],
    json: { type: "schedule", seq: SEQ, time: EXAMPLE_TIME, client: 2, firstSlot: 1, packetsPerSlot: [183, 183, 120, 0, 0, 183, 183, 183, 183, 183, 183, 183], leaseEndSlot: 13 },
  },
  {
    name: "ack: the washing machine's last slot",
    type: M.ACK,
    seq: SEQ,
    body: [1, 2, 19],
    json: { type: "ack", seq: SEQ, time: EXAMPLE_TIME, deliveries: [{ client: 1, packets: 2, meteredWh: 19 }] },
  },
  {
    name: "ack: the EV's last slot",
    type: M.ACK,
    seq: SEQ,
    body: [2, 183, 1829],
    json: { type: "ack", seq: SEQ, time: EXAMPLE_TIME, deliveries: [{ client: 2, packets: 183, meteredWh: 1829 }] },
  },
  {
    name: "emergency: the washing machine was rejected too often",
    type: M.EMERGENCY,
    seq: SEQ,
    body: [302, 1, M.EMG_REJECTED],
    json: { type: "emergency", seq: SEQ, time: EXAMPLE_TIME, requestId: 302, client: 1, reason: "rejectedTooOften" },
  },
  {
    name: "heartbeat",
    type: M.HEARTBEAT,
    seq: SEQ,
    body: [10, 10],
    json: { type: "heartbeat", seq: SEQ, time: EXAMPLE_TIME, slotMinutes: 10, packetWh: 10 },
  },
  {
    name: "heartbeat echoing the router's HELLO",
    type: M.HEARTBEAT,
    seq: SEQ,
    body: [10, 10, 4710],
    json: { type: "heartbeat", seq: SEQ, time: EXAMPLE_TIME, slotMinutes: 10, packetWh: 10, helloSeq: 4710 },
  },
  {
    name: "telemetry: import, export and PV totals",
    type: M.TELEMETRY,
    seq: SEQ,
    body: [17, 5123456, 1234567, 2345678],
    json: { type: "telemetry", seq: SEQ, time: EXAMPLE_TIME, bootCount: 17, meters: [{ input: 0, totalWh: 5123456 }, { input: 1, totalWh: 1234567 }, { input: 2, totalWh: 2345678 }] },
  },
  {
    name: "pairing: the EV charger on relay 1, sub-meter 3",
    type: M.PAIRING,
    seq: SEQ,
    body: [2, M.KIND_ENERGY, 1, 3, 11000, 2, "EV"],
    json: { type: "pairing", seq: SEQ, time: EXAMPLE_TIME, client: 2, kind: "energyByDeadline", relayChannel: 1, meterInput: 3, ratedW: 11000, priority: 2, name: "EV" },
  },
  {
    name: "config: heartbeat every 60 s, failsafe after 2 missed",
    type: M.CONFIG,
    seq: SEQ,
    body: { [M.CFG_HEARTBEAT_S]: 60, [M.CFG_FAILSAFE_MISSES]: 2 },
    json: { type: "config", seq: SEQ, time: EXAMPLE_TIME, heartbeatSeconds: 60, failsafeMisses: 2 },
  },
  {
    name: "nack: a request refused for a slot outside the horizon",
    type: M.NACK_DOWN,
    seq: SEQ,
    body: [4702, M.REQUEST, M.E_HORIZON],
    json: { type: "nack", seq: SEQ, time: EXAMPLE_TIME, refSeq: 4702, refType: "request", reason: "horizon" },
  },
  {
    name: "backup: before compacting flash",
    type: M.BACKUP,
    seq: SEQ,
    body: [812, 17, [5123456, 1234567, 2345678]],
    json: { type: "backup", seq: SEQ, time: EXAMPLE_TIME, mark: 812, bootCount: 17, meters: [{ input: 0, totalWh: 5123456 }, { input: 1, totalWh: 1234567 }, { input: 2, totalWh: 2345678 }] },
  },
  {
    name: "local report: decided while the cloud was gone",
    type: M.LOCAL_REPORT,
    seq: SEQ,
    body: [301, 2, M.LR_DELIVERED, 1200, 302, 1, M.LR_RUNNING, 36, 303, 3, M.LR_REFUSED, 0],
    json: {
      type: "localReport",
      seq: SEQ,
      time: EXAMPLE_TIME,
      decisions: [
        { requestId: 301, client: 2, outcome: "delivered", packets: 1200 },
        { requestId: 302, client: 1, outcome: "running", packets: 36 },
        { requestId: 303, client: 3, outcome: "refused", packets: 0 },
      ],
    },
  },
  {
    name: "stored: the server holds the backup",
    type: M.STORED,
    seq: SEQ,
    body: [812],
    json: { type: "stored", seq: SEQ, time: EXAMPLE_TIME, mark: 812 },
  },
  {
    name: "restore: a wiped router gets its clients, counters and open request back",
    type: M.RESTORE,
    seq: SEQ,
    body: [1099511628211, 4710, 302, 17, [5123456, 1234567, 2345678], [[2, M.KIND_ENERGY, 1, 3, 11000, 2, "EV"]], [[301, 2, M.KIND_ENERGY, 0, 42, 1200, 183]], 812],
    json: {
      type: "restore",
      seq: SEQ,
      time: EXAMPLE_TIME,
      helloSeq: 1099511628211,
      lastSeq: 4710,
      lastRequestId: 302,
      bootCount: 17,
      meters: [{ input: 0, totalWh: 5123456 }, { input: 1, totalWh: 1234567 }, { input: 2, totalWh: 2345678 }],
      clients: [{ client: 2, kind: "energyByDeadline", relayChannel: 1, meterInput: 3, ratedW: 11000, priority: 2, name: "EV" }],
      requests: [{ requestId: 301, client: 2, kind: "energyByDeadline", earliestSlot: 0, deadlineSlot: 42, packets: 1200, maxPerSlot: 183 }],
      backupMark: 812,
    },
  },
];

/** The example's frame: envelope, body and MAC, sealed with the example key. */
export function frameOf(e: Example): Uint8Array {
  const f = seal(e.type, e.seq, EXAMPLE_TIME, e.body, EXAMPLE_KEY, sha256, new Uint8Array(1024));
  if (typeof f === "number") throw new Error(`example "${e.name}" does not encode: ${f}`);
  return f;
}
