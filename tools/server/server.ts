// The reference energy server: the server side of docs/protocol.md for any
// number of routers, for tests and the simulator (docs/server.md). It is a
// counterpart to the firmware, not the product: state lives in memory.
//
// EnergyServer is the protocol and the bookkeeping; it talks to the world
// through a Transport (publish) and receive(), and does its periodic work
// (heartbeats, lease renewals, closing requests, re-planning at each new
// slot) only in tick(), which a driver calls: the simulator on virtual time,
// a test, or main.ts on a real-time interval. startServer() wires it to a
// broker with the mqtt package.
//
// One plan covers every router: the supply curve is shared. A decision
// re-plans whatever is not under a lease yet (alloc.ts); the packets of a
// client up to the end of the lease of the last schedule it was sent are
// fixed, so a router never executes a plan the server has since changed.

import { connectAsync, type MqttClient } from "mqtt";
import { performance } from "node:perf_hooks";
import type { CborValue } from "../../protocol/cbor";
import { replayFloor, seenBefore, windowAfter } from "../../protocol/envelope";
import * as M from "../../protocol/messages";
import type { Limits } from "../../protocol/messages";
import { STATUS_OFFLINE, TOPIC_ROOT, isTopicId, topicDown } from "../../protocol/topics";
import { qosOf } from "../protocol/examples";
import {
  DEFAULT_CLASS_RULES,
  allocate,
  byPriority,
  capacityPackets,
  classify,
  decide,
  retryAfterS,
  type ClassRules,
  type Demand,
  type Grid,
  type Placement,
  type SupplySlot,
} from "./alloc";
import { encodeItem, openFrame, sealFrame, slotOf } from "./wire";

/** A router the server serves, with its 32-byte key. */
export interface RouterSpec {
  gridId: string;
  routerId: string;
  key: Uint8Array;
}

export interface ServerOptions {
  routers: RouterSpec[];
  /** The supply forecast of an absolute slot, shared by every router served. */
  supply: (slot: number) => SupplySlot;
  /** Unix seconds; a simulation passes its virtual clock. */
  now: () => number;
  /** Slot length, minutes (design: L = 10). */
  slotMin?: number;
  /** Packet size, Wh (design: E = 10). */
  packetWh?: number;
  /** Slots a plan covers (design: H = 144). */
  horizonSlots?: number;
  /** Heartbeat period per router, s. */
  heartbeatS?: number;
  /** A schedule's lease, slots from the slot it is sent in. */
  leaseSlots?: number;
  /** A lease this close to its end (slots) is renewed by tick(); default half the lease. */
  renewSlots?: number;
  /** Slice shares per class, top (emergency) first. */
  shares?: number[];
  /** Classification rules; classes is taken from shares.length. */
  classRules?: Partial<ClassRules>;
  /** A request rejected for capacity is told to retry at the start of the slot this many slots ahead. */
  retrySlots?: number;
  /** Open requests per router; more are rejected for policy. A RESTORE holds at most 32. */
  maxOpenRequests?: number;
  /** The first down seq per router; default now() * 1024, so a restarted server starts above what it sent before. */
  seqStart?: number;
}

/** Where a message goes: MQTT in startServer(), anything in a unit test. */
export interface Transport {
  publish(topic: string, payload: Uint8Array, qos: 0 | 1): void;
}

/** A paired appliance, as its PAIRING report said. */
export interface ClientInfo {
  client: number;
  kind: number;
  channel: number;
  input: number | null;
  ratedW: number;
  priority: number;
  name: string;
  /** Packets per slot its rated power allows (maxPerSlotOf). */
  maxPerSlot: number;
  /** Absolute slot (exclusive) where the lease of the last schedule sent to it ends; 0: none. */
  leaseEnd: number;
  /** Its requests rejected in a row; an admission resets it. */
  rejections: number;
}

export type RequestStatus = "open" | "rejected" | "done" | "expired" | "cancelled";

/** A request item as the server keeps it: absolute slots, its class, status and plan. */
export interface RequestRecord {
  id: number;
  client: number;
  kind: number;
  /** The item as received (slots relative to its envelope's slot). */
  item: CborValue[];
  /** Absolute slots: first slot, and end (exclusive: deadline, latest end, band end). */
  earliest: number;
  end: number;
  /** Energy: packets in all; thermal: packets per window. */
  packets: number;
  windowSlots: number;
  maxPerSlot: number;
  profile: number[] | null;
  status: RequestStatus;
  /** REJECT reason and retry hint of the last rejection. */
  reason: number;
  retryAfterS: number;
  cls: number;
  emergency: boolean;
  /** Arrival order across all routers (first come, first served). */
  order: number;
  receivedS: number;
  /** Packets per absolute slot from earliest (index = slot - earliest). */
  plan: Uint16Array;
  /** Acknowledged packets credited per slot, -1 where no ack came (the plan counts then, where it was leased). */
  acked: Int32Array;
  /** 1 for the slots a schedule sent to the router covered with its lease: the router may have run them. */
  leased: Uint8Array;
  /** A profile's start slot, -1 while not started. */
  start: number;
  /** Acknowledged packets credited in all. */
  delivered: number;
  /** A program the router reported running when it came back from acting as local server: fixed where it runs, never moved. */
  pinned?: boolean;
}

/** One decision the router made as local server (LOCAL_REPORT), as the server recorded it. */
export interface LocalDecision {
  id: number;
  client: number;
  /** M.LR_*: admitted, refused, delivered, expired, running. */
  outcome: number;
  /** Packets delivered to it while the router was local. */
  packets: number;
  /** When the report came, unix s. */
  atS: number;
}

/** The last schedule sent to a client. */
export interface ScheduleSent {
  seq: number;
  /** Absolute slot of counts[0], and lease end (exclusive). */
  firstSlot: number;
  counts: number[];
  leaseEnd: number;
}

/** What the server holds for one router. */
export interface RouterState {
  spec: RouterSpec;
  down: string;
  /** Highest router seq accepted (replay protection). */
  lastSeq: number;
  /** Which of the REPLAY_WINDOW seqs below lastSeq were accepted (protocol/envelope.ts). */
  seen: number;
  /** The last down seq used. */
  sendSeq: number;
  online: boolean;
  hello: { seq: number; firmware: string; bootCount: number; capabilities: number; maxFrameBytes: number } | null;
  lastHeartbeatS: number;
  clients: Map<number, ClientInfo>;
  limits: Limits;
  requests: Map<number, RequestRecord>;
  /** Highest request id the router used. */
  lastReqId: number;
  /** Acks by client, then absolute slot: [packets, meteredWh]. */
  acks: Map<number, Map<number, [number, number]>>;
  /** conn: the router's connectivity state [state, why, seconds in it] (firmware/connectivity.ts), null when not sent. */
  telemetry: { bootCount: number; totals: number[]; atS: number; conn: number[] | null } | null;
  backup: { mark: number; bootCount: number; totals: number[]; atS: number } | null;
  schedules: Map<number, ScheduleSent>;
  /** Frames from this router refused, by reason code. */
  refused: Uint32Array;
  /** NACKs the router sent about down messages, by reason. */
  nacks: Uint32Array;
  /** What the router decided as local server, by request id (the latest report of each). */
  local: Map<number, LocalDecision>;
  /** Request ids the router reported as programs running: the resubmitted item is fixed where it runs. */
  running: Set<number>;
}

/** Figures for the simulator's summary and the tests. */
export interface ServerStats {
  framesIn: number;
  framesOut: number;
  bytesIn: number;
  bytesOut: number;
  /** Frames refused, by reason code (CBOR_E_* and E_*). */
  refused: Uint32Array;
  /** Frames on topics of routers the server does not serve. */
  unknownRouter: number;
  requestsReceived: number;
  requestsAccepted: number;
  /** Rejections by REJECT reason (index 1-4). */
  requestsRejected: Uint32Array;
  emergencies: number;
  acks: number;
  /** Acks for a (client, slot) already acknowledged: ignored. */
  ackRepeats: number;
  /** Down messages that would not validate (a bug if ever above 0): not sent. */
  sendErrors: number;
  /** Schedule counts and RESTORE items or pairings left out to fit a router's frame limit. */
  trimmed: number;
  /** LOCAL_REPORT messages taken, and the decisions in them. */
  localReports: number;
  localDecisions: number;
  /** Decision latency: REQUEST or EMERGENCY received to the last answer sent, ms. */
  decisions: number;
  decisionMsSum: number;
  decisionMsMax: number;
}

/** Packets allocated in one slot, by class (the slices of energy network slicing), and the slot's capacity. */
export interface SliceRow {
  slot: number;
  capacity: number;
  packets: number[];
}

const REASONS = 48;
const MAX_U16 = 0xffff;
/** A RESTORE holds up to 16 pairings; the server keeps that many clients per router. */
const MAX_CLIENTS = 16;
/** Closed requests kept per router for inspection. */
const KEEP_CLOSED = 64;
/** MQTT PUBLISH overhead (fixed header with a 2-byte remaining length, topic length, packet id) for maxFrameBytes. */
const MQTT_OVERHEAD = 1 + 2 + 2 + 2;
/** The envelope around a body at most: array head, version, type, seq (9), time (5), mac item (9). */
const ENVELOPE_BYTES = 1 + 1 + 1 + 9 + 5 + 9;

/**
 * Packets a client of ratedW may take in one slot (the Limits.maxPerSlot of
 * messages.ts, where 0 would mean an unknown client): floor(ratedW * slotMin
 * / 60 / packetWh), at least 1 and at most 65,535, as the router reckons it.
 */
export function maxPerSlotOf(ratedW: number, slotMin: number, packetWh: number): number {
  return Math.min(MAX_U16, Math.max(1, Math.floor((ratedW * slotMin) / (60 * packetWh))));
}

function keyOf(grid: string, router: string): string {
  return grid + "/" + router;
}

/** The thermal windows of a request: [start, end, need, ...], the last window shortened with its need in proportion. */
function thermalWindows(r: RequestRecord): number[] {
  const out: number[] = [];
  for (let ws = r.earliest; ws < r.end; ws += r.windowSlots) {
    const we = Math.min(r.end, ws + r.windowSlots);
    out.push(ws, we, Math.ceil((r.packets * (we - ws)) / r.windowSlots));
  }
  return out;
}

export class EnergyServer {
  readonly slotMin: number;
  readonly packetWh: number;
  readonly horizonSlots: number;
  readonly heartbeatS: number;
  readonly leaseSlots: number;
  readonly renewSlots: number;
  readonly shares: number[];
  readonly rules: ClassRules;
  readonly retrySlots: number;
  readonly maxOpenRequests: number;
  private readonly supply: (slot: number) => SupplySlot;
  private readonly now: () => number;
  private readonly transport: Transport;
  private readonly routers = new Map<string, RouterState>();
  private readonly statsNow: ServerStats;
  /** Packets per class of slots that have passed. */
  private readonly history = new Map<number, number[]>();
  /** The slot tick() last worked in. */
  private lastSlot: number;
  private order = 0;
  private closed = false;
  /** Called once by close(): ends what startServer() opened. */
  onClose: (() => Promise<void>) | null = null;

  constructor(opts: ServerOptions, transport: Transport) {
    this.slotMin = opts.slotMin ?? 10;
    this.packetWh = opts.packetWh ?? 10;
    this.horizonSlots = opts.horizonSlots ?? 144;
    this.heartbeatS = opts.heartbeatS ?? 60;
    this.leaseSlots = Math.min(opts.leaseSlots ?? 12, this.horizonSlots);
    this.renewSlots = opts.renewSlots ?? Math.max(1, Math.ceil(this.leaseSlots / 2));
    this.shares = opts.shares ?? [1, 4, 3, 2];
    this.rules = { ...DEFAULT_CLASS_RULES, ...opts.classRules, classes: this.shares.length };
    this.retrySlots = opts.retrySlots ?? 3;
    this.maxOpenRequests = Math.min(opts.maxOpenRequests ?? 32, M.MAX_ITEMS);
    this.supply = opts.supply;
    this.now = opts.now;
    this.transport = transport;
    const seqStart = opts.seqStart ?? Math.floor(this.now()) * 1024;
    for (const spec of opts.routers) this.addRouter(spec, seqStart);
    this.lastSlot = this.slotNow();
    this.statsNow = {
      framesIn: 0,
      framesOut: 0,
      bytesIn: 0,
      bytesOut: 0,
      refused: new Uint32Array(REASONS),
      unknownRouter: 0,
      requestsReceived: 0,
      requestsAccepted: 0,
      requestsRejected: new Uint32Array(5),
      emergencies: 0,
      acks: 0,
      ackRepeats: 0,
      sendErrors: 0,
      trimmed: 0,
      localReports: 0,
      localDecisions: 0,
      decisions: 0,
      decisionMsSum: 0,
      decisionMsMax: 0,
    };
  }

  /** Serves one more router from now on. */
  addRouter(spec: RouterSpec, seqStart = Math.floor(this.now()) * 1024): RouterState {
    if (!isTopicId(spec.gridId) || !isTopicId(spec.routerId)) throw new Error(`not a topic id: ${spec.gridId}/${spec.routerId}`);
    if (spec.key.length !== 32) throw new Error(`router ${spec.gridId}/${spec.routerId}: the key must be 32 bytes`);
    const r: RouterState = {
      spec,
      down: topicDown(spec.gridId, spec.routerId),
      lastSeq: 0,
      seen: -1,
      sendSeq: seqStart,
      online: false,
      hello: null,
      lastHeartbeatS: -Infinity,
      clients: new Map(),
      limits: { horizonSlots: this.horizonSlots, maxPerSlot: new Uint16Array(1) },
      requests: new Map(),
      lastReqId: 0,
      acks: new Map(),
      telemetry: null,
      backup: null,
      schedules: new Map(),
      refused: new Uint32Array(REASONS),
      nacks: new Uint32Array(256),
      local: new Map(),
      running: new Set(),
    };
    this.routers.set(keyOf(spec.gridId, spec.routerId), r);
    return r;
  }

  // ------------------------------------------------------------ inspection

  /** What the server holds for a router (live objects: read, do not change). */
  router(gridId: string, routerId: string): RouterState | undefined {
    return this.routers.get(keyOf(gridId, routerId));
  }

  stats(): ServerStats {
    return this.statsNow;
  }

  /** The current slot. */
  slotNow(): number {
    return slotOf(Math.floor(this.now()), this.slotMin);
  }

  /** A client's planned packets per absolute slot from fromSlot, for n slots (its open requests summed). */
  planOf(gridId: string, routerId: string, client: number, fromSlot: number, n: number): number[] {
    const out = new Array<number>(n).fill(0);
    const r = this.router(gridId, routerId);
    if (!r) return out;
    for (const q of r.requests.values()) {
      if (q.status !== "open" && q.status !== "done" && q.status !== "expired") continue;
      if (q.client !== client) continue;
      for (let k = 0; k < n; k++) {
        const i = fromSlot + k - q.earliest;
        if (i >= 0 && i < q.plan.length) out[k] += q.plan[i];
      }
    }
    return out;
  }

  /** Packets per class in each slot of [fromSlot, toSlot): passed slots as they were, the others as planned now. */
  slices(fromSlot: number, toSlot: number): SliceRow[] {
    const rows: SliceRow[] = [];
    const classes = this.shares.length;
    const planned = new Map<number, number[]>();
    for (const r of this.routers.values()) {
      for (const q of r.requests.values()) {
        if (q.status !== "open") continue;
        for (let i = 0; i < q.plan.length; i++) {
          const s = q.earliest + i;
          if (q.plan[i] === 0 || s < fromSlot || s >= toSlot) continue;
          let row = planned.get(s);
          if (!row) planned.set(s, (row = new Array<number>(classes).fill(0)));
          row[Math.min(q.cls, classes - 1)] += q.plan[i];
        }
      }
    }
    for (let s = fromSlot; s < toSlot; s++) {
      const packets = this.history.get(s) ?? planned.get(s) ?? new Array<number>(classes).fill(0);
      rows.push({ slot: s, capacity: capacityPackets(this.supply(s), this.packetWh), packets: packets.slice() });
    }
    return rows;
  }

  // ------------------------------------------------------------ input

  /** An MQTT message on a topic the server subscribed to: `.../up` frames and `.../status`. */
  receive(topic: string, payload: Uint8Array): void {
    if (this.closed) return;
    const parts = topic.split("/");
    if (parts.length !== 5 || topic.slice(0, TOPIC_ROOT.length) !== TOPIC_ROOT) return;
    const r = this.routers.get(keyOf(parts[2], parts[3]));
    if (!r) {
      this.statsNow.unknownRouter++;
      return;
    }
    if (parts[4] === "status") this.onStatus(r, Buffer.from(payload).toString("latin1"));
    else if (parts[4] === "up") this.onFrame(r, payload);
  }

  private onStatus(r: RouterState, status: string): void {
    if (status === STATUS_OFFLINE) {
      r.online = false;
      return;
    }
    if (status !== "online") return;
    const was = r.online;
    r.online = true;
    if (!was) this.sendSchedules(r, this.clientsWithPlans(r));
  }

  private refuse(r: RouterState, e: number, refSeq: number, refType: number): void {
    if (e < REASONS) {
      r.refused[e]++;
      this.statsNow.refused[e]++;
    }
    this.send(r, M.NACK_DOWN, [refSeq, refType, e]);
  }

  private onFrame(r: RouterState, frame: Uint8Array): void {
    const t0 = performance.now();
    this.statsNow.framesIn++;
    this.statsNow.bytesIn += frame.length;
    let o = openFrame(frame, r.spec.key, true, replayFloor(r.lastSeq), r.limits);
    // A frame overtaken by a later one (QoS 0 telemetry passes QoS 1 acks) is taken once, inside the window.
    if (o.env && seenBefore(r.lastSeq, r.seen, o.env.seq)) o = { env: null, e: M.E_REPLAY, refSeq: o.refSeq, refType: o.refType };
    if (o.e === M.E_REPLAY && o.refType === M.HELLO) {
      // The one exception (docs/protocol.md, "Backup and restore"): a wiped
      // router's HELLO asking for RESTORE, whatever its seq; it changes nothing here.
      const again = openFrame(frame, r.spec.key, true, 0, r.limits);
      if (again.env && ((again.env.body as number[])[2] & M.CAP_RESTORE) !== 0) {
        this.onHello(r, again.env.seq, again.env.body as CborValue[], false);
        return;
      }
    }
    let unknownClients = false;
    if (o.e === M.E_CLIENT && o.refType === M.REQUEST) {
      // Items for clients the server does not know are rejected one by one (reason 3); the others go on.
      const lim: Limits = { horizonSlots: this.horizonSlots, maxPerSlot: new Uint16Array(MAX_U16 + 1).fill(MAX_U16) };
      lim.maxPerSlot.set(r.limits.maxPerSlot);
      for (let c = 1; c < r.limits.maxPerSlot.length; c++) if (r.limits.maxPerSlot[c] === 0) lim.maxPerSlot[c] = MAX_U16;
      const again = openFrame(frame, r.spec.key, true, replayFloor(r.lastSeq), lim);
      if (again.env) {
        o = again;
        unknownClients = true;
      }
    }
    if (o.env && o.env.type === M.PAIRING && (o.env.body as CborValue[])[1] !== 0) {
      // A RESTORE holds at most 16 pairings: a 17th client is refused as out of range, nothing kept.
      if (!r.clients.has((o.env.body as number[])[0]) && r.clients.size >= MAX_CLIENTS) o = { env: null, e: M.E_RANGE, refSeq: o.refSeq, refType: o.refType };
    }
    if (!o.env) {
      this.refuse(r, o.e, o.refSeq, o.refType);
      return;
    }
    const env = o.env;
    if (o.e === 0 && seenBefore(r.lastSeq, r.seen, env.seq)) {
      this.refuse(r, M.E_REPLAY, o.refSeq, o.refType);
      return;
    }
    r.seen = windowAfter(r.lastSeq, r.seen, env.seq);
    if (env.seq > r.lastSeq) r.lastSeq = env.seq;
    const body = env.body as CborValue[];
    switch (env.type) {
      case M.HELLO:
        this.onHello(r, env.seq, body, true);
        break;
      case M.REQUEST:
        this.onRequest(r, env.time, body as CborValue[][], unknownClients);
        this.timed(t0);
        break;
      case M.ACK:
        this.onAck(r, env.time, body as number[]);
        break;
      case M.EMERGENCY:
        this.onEmergency(r, body as number[]);
        this.timed(t0);
        break;
      case M.TELEMETRY: {
        // The router's connectivity state [state, why, seconds in it] comes last when sent (firmware/connectivity.ts).
        const conn = Array.isArray(body[body.length - 1]) ? (body[body.length - 1] as number[]) : null;
        r.telemetry = { bootCount: body[0] as number, totals: (body as number[]).slice(1, conn ? -1 : undefined), atS: this.now(), conn };
        break;
      }
      case M.PAIRING:
        this.onPairing(r, body);
        break;
      case M.NACK_UP:
        r.nacks[body[2] as number]++;
        break;
      case M.LOCAL_REPORT:
        this.onLocalReport(r, body as number[]);
        break;
      case M.BACKUP:
        r.backup = { mark: body[0] as number, bootCount: body[1] as number, totals: (body[2] as number[]).slice(), atS: this.now() };
        this.send(r, M.STORED, [body[0]]);
        break;
    }
  }

  private timed(t0: number): void {
    const ms = performance.now() - t0;
    this.statsNow.decisions++;
    this.statsNow.decisionMsSum += ms;
    if (ms > this.statsNow.decisionMsMax) this.statsNow.decisionMsMax = ms;
  }

  /** HELLO: [firmware, bootCount, capabilities, maxFrameBytes]. accepted: false for a stale HELLO that only asks for RESTORE. */
  private onHello(r: RouterState, seq: number, body: CborValue[], accepted: boolean): void {
    const caps = body[2] as number;
    // RESTORE before the new HELLO is kept: the boot count of the one before it counts.
    const restore = (caps & M.CAP_RESTORE) !== 0;
    if (restore) this.send(r, M.RESTORE, this.restoreBody(r, seq, body[1] as number, body[3] as number));
    if (accepted) r.hello = { seq, firmware: body[0] as string, bootCount: body[1] as number, capabilities: caps, maxFrameBytes: body[3] as number };
    r.online = true;
    this.sendHeartbeat(r, seq);
    // The latest backup's mark (the router's journal seq then): a router
    // whose store went back below it finds out and asks to be restored
    // (RESTORE carries the mark itself).
    if (r.backup && r.backup.mark > 0 && !restore) this.send(r, M.STORED, [r.backup.mark]);
    // Every client known gets its schedule, an empty one too: a fresh
    // schedule after the HELLO is what takes the router out of boot,
    // failsafe or local (design section 3), idle households included.
    this.sendSchedules(r, [...r.clients.keys()].sort((a, b) => a - b));
  }

  /**
   * RESTORE: [helloSeq, lastSeq, lastReqId, bootCount, totals, [pairing...],
   * [open request items...]], within the router's frame limit: what does
   * not fit is left out (latest requests first, then clients) and counted.
   */
  private restoreBody(r: RouterState, helloSeq: number, helloBoot: number, maxFrameBytes: number): CborValue {
    const nowSlot = this.slotNow();
    let bootCount = Math.max(helloBoot, r.hello ? r.hello.bootCount : 0);
    let totals: number[] = [];
    // The newer of the backup and the last telemetry: meter totals only grow.
    const latest = r.telemetry && (!r.backup || r.telemetry.atS >= r.backup.atS) ? r.telemetry : r.backup;
    if (latest) {
      bootCount = Math.max(bootCount, latest.bootCount);
      totals = latest.totals.slice(0, 8);
    }
    const clients: CborValue[] = [];
    for (const c of [...r.clients.values()].sort((a, b) => a.client - b.client).slice(0, MAX_CLIENTS)) {
      clients.push([c.client, c.kind, c.channel, c.input, c.ratedW, c.priority, c.name]);
    }
    const items: CborValue[] = [];
    for (const q of this.openRequests(r)) {
      const item = this.stillNeeded(q, nowSlot);
      if (item && items.length < M.MAX_ITEMS && M.validateBody(M.REQUEST, [item], r.limits) === 0) items.push(item);
    }
    const body: CborValue[] = [helloSeq, r.lastSeq, r.lastReqId, bootCount, totals, clients, items, r.backup ? r.backup.mark : 0];
    while ((items.length > 0 || clients.length > 0) && encodeItem(body).length > this.roomIn(r, maxFrameBytes)) {
      (items.length > 0 ? items : clients).pop();
      this.statsNow.trimmed++;
    }
    return body;
  }

  /** Bytes a body may take in a frame to this router of at most maxFrameBytes (its MQTT PUBLISH, QoS 1). */
  private roomIn(r: RouterState, maxFrameBytes: number): number {
    return maxFrameBytes - MQTT_OVERHEAD - r.down.length - ENVELOPE_BYTES;
  }

  /** A request item for what an open request still needs, slots from nowSlot; null when nothing. */
  private stillNeeded(q: RequestRecord, nowSlot: number): CborValue[] | null {
    const earliest = Math.max(0, q.earliest - nowSlot);
    const end = q.end - nowSlot;
    if (end <= earliest) return null;
    if (q.kind === M.KIND_ENERGY) {
      let credited = 0;
      for (let s = q.earliest; s < nowSlot && s < q.end; s++) credited += this.creditOf(q, s);
      const left = Math.min(q.packets - credited, q.maxPerSlot * (end - earliest));
      return left > 0 ? [q.id, q.client, q.kind, earliest, end, left, q.maxPerSlot] : null;
    }
    if (q.kind === M.KIND_THERMAL) {
      const w = Math.min(q.windowSlots, end - earliest);
      return [q.id, q.client, q.kind, earliest, end, Math.ceil((q.packets * w) / q.windowSlots), w, q.maxPerSlot];
    }
    const profile = q.profile as number[];
    if (q.start >= 0 && q.start < nowSlot) {
      const rest = profile.slice(nowSlot - q.start);
      return rest.some((n) => n > 0) ? [q.id, q.client, q.kind, 0, rest.length, rest] : null;
    }
    return profile.length <= end - earliest ? [q.id, q.client, q.kind, earliest, end, profile.slice()] : null;
  }

  /** PAIRING: [client, kind, channel, input, ratedW, priority, name], or [client, 0] to unpair. */
  private onPairing(r: RouterState, body: CborValue[]): void {
    const id = body[0] as number;
    if (body[1] === 0) {
      r.clients.delete(id);
      for (const q of r.requests.values()) if (q.client === id && q.status === "open") q.status = "cancelled";
    } else {
      const known = r.clients.get(id);
      const ratedW = body[4] as number;
      r.clients.set(id, {
        client: id,
        kind: body[1] as number,
        channel: body[2] as number,
        input: body[3] as number | null,
        ratedW,
        priority: body[5] as number,
        name: body[6] as string,
        maxPerSlot: maxPerSlotOf(ratedW, this.slotMin, this.packetWh),
        leaseEnd: known ? known.leaseEnd : 0,
        rejections: known ? known.rejections : 0,
      });
    }
    let top = 0;
    for (const c of r.clients.keys()) top = Math.max(top, c);
    const lim = new Uint16Array(top + 1);
    for (const c of r.clients.values()) lim[c.client] = c.maxPerSlot;
    r.limits = { horizonSlots: this.horizonSlots, maxPerSlot: lim };
  }

  /**
   * LOCAL_REPORT: [reqId, client, outcome, packets, ...], what the router
   * decided while it acted as local server (docs/protocol.md, "Local server
   * and reconciliation"). Recorded; a request the server holds open that the
   * router delivered or let expire is closed; a program running is fixed
   * where it runs once its item comes (onRequest). Clients with nothing
   * resubmitted get a fresh schedule at once (zeros when nothing is planned),
   * so no slot of the local plan runs on; the others get theirs with the
   * answer to the REQUEST that follows.
   */
  private onLocalReport(r: RouterState, body: number[]): void {
    this.statsNow.localReports++;
    const resubmitted = new Set<number>();
    const nowSlot = this.slotNow();
    for (let i = 0; i < body.length; i += 4) {
      const [id, client, outcome, packets] = body.slice(i, i + 4);
      this.statsNow.localDecisions++;
      r.local.set(id, { id, client, outcome, packets, atS: this.now() });
      r.lastReqId = Math.max(r.lastReqId, id);
      if (outcome === M.LR_RUNNING) r.running.add(id);
      if (outcome === M.LR_ADMITTED || outcome === M.LR_REFUSED || outcome === M.LR_RUNNING) {
        resubmitted.add(client);
        continue;
      }
      const q = r.requests.get(id);
      if (!q || q.client !== client || q.status !== "open") continue;
      // Delivered or expired while local: nothing more is planned for it.
      q.status = outcome === M.LR_DELIVERED ? "done" : "expired";
      q.delivered = Math.max(q.delivered, packets);
      for (let k = Math.max(0, nowSlot - q.earliest); k < q.plan.length; k++) q.plan[k] = 0;
    }
    this.sendSchedules(
      r,
      [...r.clients.keys()].filter((c) => !resubmitted.has(c)).sort((a, b) => a - b),
    );
  }

  /**
   * A program the router reported running, resubmitted as the rest of its
   * profile from the item's earliest slot: admitted there whatever the
   * capacity (it cannot be stopped), and never moved (replan keeps it).
   */
  private pinRunning(r: RouterState, item: CborValue[], baseSlot: number, client: ClientInfo): RequestRecord {
    const q = this.recordOf(item, baseSlot, client);
    q.cls = 0;
    q.status = "open";
    q.pinned = true;
    q.start = q.earliest;
    const p = q.profile as number[];
    for (let k = 0; k < p.length && k < q.plan.length; k++) q.plan[k] = p[k];
    q.leased[0] = 1;
    r.running.delete(q.id);
    r.requests.set(q.id, q);
    return q;
  }

  /** ACK: [client, packets, meteredWh, ...] for the slot before the envelope's. */
  private onAck(r: RouterState, time: number, body: number[]): void {
    const slot = slotOf(time, this.slotMin) - 1;
    for (let i = 0; i < body.length; i += 3) {
      const client = body[i];
      let bySlot = r.acks.get(client);
      if (!bySlot) r.acks.set(client, (bySlot = new Map()));
      if (bySlot.has(slot)) {
        this.statsNow.ackRepeats++;
        continue;
      }
      bySlot.set(slot, [body[i + 1], body[i + 2]]);
      this.statsNow.acks++;
      // Delivered packets go to the client's requests planned in that slot, first come first.
      let rest = body[i + 1];
      for (const q of [...r.requests.values()].sort((a, b) => a.order - b.order)) {
        const k = slot - q.earliest;
        if (q.client !== client || k < 0 || k >= q.plan.length || q.acked[k] >= 0 || q.status === "rejected" || q.status === "cancelled") continue;
        const share = Math.min(rest, q.plan[k]);
        q.acked[k] = share;
        q.delivered += share;
        rest -= share;
      }
    }
  }

  // ------------------------------------------------------------ requests

  private openRequests(r: RouterState): RequestRecord[] {
    return [...r.requests.values()].filter((q) => q.status === "open").sort((a, b) => a.order - b.order);
  }

  /** A record for a request item whose slots are offsets from baseSlot. */
  private recordOf(item: CborValue[], baseSlot: number, client: ClientInfo): RequestRecord {
    const kind = item[2] as number;
    const earliest = baseSlot + (item[3] as number);
    const end = baseSlot + (item[4] as number);
    const profile = kind === M.KIND_PROFILE ? (item[5] as number[]).slice() : null;
    return {
      id: item[0] as number,
      client: client.client,
      kind,
      item,
      earliest,
      end,
      packets: profile ? 0 : (item[5] as number),
      windowSlots: kind === M.KIND_THERMAL ? (item[6] as number) : 0,
      maxPerSlot: profile ? client.maxPerSlot : (item[item.length - 1] as number),
      profile,
      status: "rejected",
      reason: 0,
      retryAfterS: 0,
      cls: 0,
      emergency: false,
      order: ++this.order,
      receivedS: this.now(),
      plan: new Uint16Array(end - earliest),
      acked: new Int32Array(end - earliest).fill(-1),
      leased: new Uint8Array(end - earliest),
      start: -1,
      delivered: 0,
    };
  }

  /**
   * Packets credited to a request in a slot: what was acknowledged, else
   * the plan where a lease covered it (the ack may still come), else none:
   * nothing runs without a lease.
   */
  private creditOf(q: RequestRecord, slot: number): number {
    const k = slot - q.earliest;
    if (k < 0 || k >= q.plan.length) return 0;
    return q.acked[k] >= 0 ? q.acked[k] : q.leased[k] ? q.plan[k] : 0;
  }

  /** REQUEST: items [reqId, client, kind, earliest, end, ...], slots from the envelope's slot. */
  private onRequest(r: RouterState, time: number, items: CborValue[][], unknownClients: boolean): void {
    const baseSlot = slotOf(time, this.slotMin);
    const nowSlot = this.slotNow();
    const accepted: number[] = [];
    const rejected: number[] = [];
    const candidates: RequestRecord[] = [];
    let open = this.openRequests(r).length;
    const reject = (q: RequestRecord | null, id: number, reason: number): void => {
      const retry = retryAfterS(reason, this.now(), this.slotMin, this.retrySlots);
      rejected.push(id, reason, retry);
      this.statsNow.requestsRejected[reason]++;
      if (q) {
        q.status = "rejected";
        q.reason = reason;
        q.retryAfterS = retry;
      }
    };
    const inFrame = new Set<number>();
    const affected = new Set<number>();
    for (const item of items) {
      const id = item[0] as number;
      this.statsNow.requestsReceived++;
      // The same id twice in one frame: the first item is the request; the answer covers both.
      if (inFrame.has(id)) continue;
      inFrame.add(id);
      r.lastReqId = Math.max(r.lastReqId, id);
      const client = r.clients.get(item[1] as number);
      if (unknownClients && !client) {
        reject(null, id, M.REJ_CLIENT);
        continue;
      }
      if (r.running.has(id) && item[2] === M.KIND_PROFILE && client) {
        this.pinRunning(r, item, baseSlot, client);
        accepted.push(id);
        this.statsNow.requestsAccepted++;
        affected.add(client.client);
        continue;
      }
      const known = r.requests.get(id);
      if (known && known.status === "open") {
        // Known and open: not admitted twice; the answer is the one it had.
        accepted.push(id);
        continue;
      }
      const q = this.recordOf(item, baseSlot, client as ClientInfo);
      q.cls = classify((client as ClientInfo).priority, false, (client as ClientInfo).rejections, q.end - nowSlot, this.rules);
      if (known) {
        q.emergency = known.emergency;
        if (q.emergency) q.cls = 0;
      }
      r.requests.set(id, q);
      if (open >= this.maxOpenRequests) {
        reject(q, id, M.REJ_POLICY);
        (client as ClientInfo).rejections++;
        continue;
      }
      open++;
      candidates.push(q);
    }
    const admitted = this.replan(candidates.map((q) => ({ r, q })));
    for (let i = 0; i < candidates.length; i++) {
      const q = candidates[i];
      const client = r.clients.get(q.client) as ClientInfo;
      if (admitted[i] === 0) {
        accepted.push(q.id);
        this.statsNow.requestsAccepted++;
        client.rejections = 0;
        affected.add(q.client);
      } else {
        reject(q, q.id, admitted[i]);
        client.rejections++;
      }
    }
    this.pruneClosed(r);
    for (let i = 0; i < accepted.length; i += M.MAX_ITEMS) this.send(r, M.ACCEPT, accepted.slice(i, i + M.MAX_ITEMS));
    for (let i = 0; i < rejected.length; i += 3 * M.MAX_ITEMS) this.send(r, M.REJECT, rejected.slice(i, i + 3 * M.MAX_ITEMS));
    this.sendSchedules(r, [...affected]);
  }

  /** EMERGENCY: [reqId, client, reason]: the request goes to the top class and is admitted again if it is not open. */
  private onEmergency(r: RouterState, body: number[]): void {
    const [id, clientId] = body;
    this.statsNow.emergencies++;
    const q = r.requests.get(id);
    const client = r.clients.get(clientId) as ClientInfo;
    const answer = (reason: number): void => {
      if (reason === 0) this.send(r, M.ACCEPT, [id]);
      else {
        this.statsNow.requestsRejected[reason]++;
        this.send(r, M.REJECT, [id, reason, retryAfterS(reason, this.now(), this.slotMin, this.retrySlots)]);
      }
    };
    if (!q || q.client !== clientId || q.status === "cancelled") return answer(M.REJ_POLICY);
    if (q.status === "done") return answer(0);
    if (q.status === "expired" || q.end <= this.slotNow()) return answer(M.REJ_DEADLINE);
    q.emergency = true;
    q.cls = 0;
    if (q.status === "open") {
      this.replan([]);
      answer(0);
      this.sendSchedules(r, [clientId]);
      return;
    }
    // Rejected before: admitted again in the top class, as it was asked.
    q.plan.fill(0);
    q.order = ++this.order;
    const [reason] = this.replan([{ r, q }]);
    if (reason === 0) {
      this.statsNow.requestsAccepted++;
      client.rejections = 0;
      answer(0);
      this.sendSchedules(r, [clientId]);
    } else {
      q.status = "rejected";
      q.reason = reason;
      answer(reason);
    }
  }

  /** The slot (absolute, exclusive) up to which a request's plan is fixed: the past and its client's lease. */
  private frozenEnd(r: RouterState, q: RequestRecord, nowSlot: number): number {
    const c = r.clients.get(q.client);
    return Math.max(nowSlot, c ? c.leaseEnd : 0);
  }

  /**
   * Re-plans everything not under a lease, with the candidates decided in
   * priority order (alloc.ts decide()). Returns 0 (admitted) or the REJECT
   * reason per candidate; admitted ones become open with their plan.
   */
  private replan(candidates: { r: RouterState; q: RequestRecord }[]): number[] {
    if (candidates.length > 0) {
      const fast = this.admitInFree(candidates);
      if (fast) return fast;
    }
    const nowSlot = this.slotNow();
    const committed: { r: RouterState; q: RequestRecord; from: number }[] = [];
    let to = nowSlot + 1;
    for (const r of this.routers.values()) {
      for (const q of r.requests.values()) {
        if (q.status !== "open") continue;
        committed.push({ r, q, from: this.frozenEnd(r, q, nowSlot) });
        to = Math.max(to, q.end);
      }
    }
    for (const c of candidates) to = Math.max(to, c.q.end);
    to = Math.min(to, nowSlot + 2 * this.horizonSlots);
    const len = to - nowSlot;
    const supply = new Int32Array(len);
    for (let s = 0; s < len; s++) supply[s] = capacityPackets(this.supply(nowSlot + s), this.packetWh);
    const capacity = Int32Array.from(supply);
    // Loads that are not re-planned: planned packets under a lease, and profiles that have started or are leased.
    const groupLoad = new Map<number, Int32Array>();
    const groups = new Map<string, number>();
    const groupOf = (r: RouterState, client: number): number => {
      const k = keyOf(r.spec.gridId, r.spec.routerId) + "#" + client;
      let g = groups.get(k);
      if (g === undefined) groups.set(k, (g = groups.size));
      return g;
    };
    const demands: Demand[] = [];
    const incumbent: Placement[] = [];
    const replanned: { q: RequestRecord; from: number }[] = [];
    for (const { r, q, from } of committed) {
      const g = groupOf(r, q.client);
      let load = groupLoad.get(g);
      if (!load) groupLoad.set(g, (load = new Int32Array(len)));
      const fixedProfile = q.profile !== null && q.start >= 0 && (q.start < from || q.pinned === true);
      for (let s = Math.max(nowSlot, q.earliest); s < Math.min(to, q.end, fixedProfile ? q.end : from); s++) {
        const k = s - q.earliest;
        if (q.plan[k] === 0) continue;
        capacity[s - nowSlot] -= q.plan[k];
        load[s - nowSlot] += q.plan[k];
      }
      if (fixedProfile) continue;
      const d = this.demandOf(r, q, from, g);
      if (!d) continue;
      demands.push(d);
      incumbent.push(this.incumbentOf(q, d));
      replanned.push({ q, from });
    }
    for (let s = 0; s < len; s++) capacity[s] = Math.max(0, capacity[s]);
    const cands: Demand[] = [];
    const candIndex: number[] = [];
    const reasons = candidates.map(() => M.REJ_DEADLINE);
    candidates.forEach((c, i) => {
      const d = this.demandOf(c.r, c.q, nowSlot, groupOf(c.r, c.q.client));
      if (!d) return;
      cands.push(d);
      candIndex.push(i);
    });
    const grid: Grid = { from: nowSlot, capacity, supply, shares: this.shares, groupLoad };
    const decision = decide(grid, demands, cands, incumbent);
    const places = decision.allocation.placements;
    replanned.forEach(({ q, from }, k) => this.writePlan(q, places[k], from));
    cands.forEach((_, k) => {
      const i = candIndex[k];
      reasons[i] = decision.reasons[k];
      if (reasons[i] !== 0) return;
      const q = candidates[i].q;
      q.status = "open";
      q.plan.fill(0);
      this.writePlan(q, places[demands.length + k], nowSlot);
    });
    return reasons;
  }

  /**
   * The quick way in: when every candidate, in priority order, fits whole
   * in what the current plan leaves free, it is admitted there and nothing
   * else moves (most decisions, at a cost that does not grow with the
   * number of open requests' re-planning). Null when one does not fit: then
   * replan() decides them all with priorities, moving what it may.
   */
  private admitInFree(candidates: { r: RouterState; q: RequestRecord }[]): number[] | null {
    const nowSlot = this.slotNow();
    let to = nowSlot + 1;
    for (const c of candidates) to = Math.max(to, c.q.end);
    to = Math.min(to, nowSlot + 2 * this.horizonSlots);
    const len = to - nowSlot;
    const free = new Int32Array(len);
    for (let s = 0; s < len; s++) free[s] = capacityPackets(this.supply(nowSlot + s), this.packetWh);
    // One group per candidate's client, with what that client's open requests already take.
    const groups = new Map<string, number>();
    const groupLoad = new Map<number, Int32Array>();
    const demands: Demand[] = [];
    for (const { r, q } of candidates) {
      const k = keyOf(r.spec.gridId, r.spec.routerId) + "#" + q.client;
      let g = groups.get(k);
      if (g === undefined) {
        groups.set(k, (g = groups.size));
        groupLoad.set(g, new Int32Array(len));
      }
      const d = this.demandOf(r, q, nowSlot, g);
      if (!d) return null;
      demands.push(d);
    }
    for (const r of this.routers.values()) {
      const prefix = keyOf(r.spec.gridId, r.spec.routerId) + "#";
      for (const q of r.requests.values()) {
        if (q.status !== "open") continue;
        const g = groups.get(prefix + q.client);
        const load = g === undefined ? null : (groupLoad.get(g) as Int32Array);
        for (let s = Math.max(nowSlot, q.earliest); s < Math.min(to, q.end); s++) {
          const n = q.plan[s - q.earliest];
          free[s - nowSlot] -= n;
          if (load) load[s - nowSlot] += n;
        }
      }
    }
    for (let s = 0; s < len; s++) free[s] = Math.max(0, free[s]);
    const order = demands.map((_, i) => i).sort((a, b) => byPriority(demands[a], demands[b]));
    const placed: Placement[] = [];
    for (const i of order) {
      const d = demands[i];
      const p = allocate({ from: nowSlot, capacity: free, shares: [1], groupLoad }, [d]).placements[0];
      if (!p.complete) return null;
      placed[i] = p;
      const load = groupLoad.get(d.group) as Int32Array;
      for (let k = 0; k < p.counts.length; k++) {
        const s = p.lo + k - nowSlot;
        free[s] -= p.counts[k];
        load[s] += p.counts[k];
      }
    }
    candidates.forEach(({ q }, i) => {
      q.status = "open";
      q.plan.fill(0);
      this.writePlan(q, placed[i], nowSlot);
    });
    return candidates.map(() => 0);
  }

  /** What a request still needs from slot `from` on, as a Demand; null when it needs nothing there. */
  private demandOf(r: RouterState, q: RequestRecord, from: number, group: number): Demand | null {
    const client = r.clients.get(q.client);
    const groupMax = client ? client.maxPerSlot : q.maxPerSlot;
    const base = { cls: q.cls, order: q.order, maxPerSlot: q.maxPerSlot, group, groupMax, fixedStart: -1 };
    if (q.profile) {
      // A profile runs whole slots: it starts at a slot boundary still to come, not in a slot already begun.
      const nowS = Math.floor(this.now());
      const begun = nowS > slotOf(nowS, this.slotMin) * this.slotMin * 60 ? 1 : 0;
      const earliest = Math.max(q.earliest, from, slotOf(nowS, this.slotMin) + begun);
      if (earliest + q.profile.length > q.end) return null;
      return { ...base, windows: [], profile: q.profile, earliest, latestEnd: q.end };
    }
    const all = q.kind === M.KIND_THERMAL ? thermalWindows(q) : [q.earliest, q.end, q.packets];
    const windows: number[] = [];
    for (let k = 0; k < all.length; k += 3) {
      const start = Math.max(all[k], from);
      const end = all[k + 1];
      if (start >= end) continue;
      let need = all[k + 2];
      for (let s = all[k]; s < start; s++) need -= this.creditOf(q, s);
      need = Math.min(need, q.maxPerSlot * (end - start));
      if (need > 0) windows.push(start, end, need);
    }
    return windows.length ? { ...base, windows, profile: null, earliest: windows[0], latestEnd: windows[windows.length - 2] } : null;
  }

  /** A committed request's plan so far, as a placement for its demand (alloc.ts keeps it when a fresh one would serve less). */
  private incumbentOf(q: RequestRecord, d: Demand): Placement {
    if (d.profile) {
      const lo = d.earliest;
      const counts = new Uint16Array(d.latestEnd - lo);
      let placed = 0;
      for (let k = 0; k < counts.length; k++) {
        counts[k] = q.plan[lo - q.earliest + k];
        placed += counts[k];
      }
      const start = q.start >= lo ? q.start : -1;
      return { lo, counts, start, complete: start >= 0, placed };
    }
    const lo = d.windows[0];
    const counts = new Uint16Array(d.windows[d.windows.length - 2] - lo);
    let placed = 0;
    let complete = true;
    for (let w = 0; w < d.windows.length; w += 3) {
      let got = 0;
      for (let s = d.windows[w]; s < d.windows[w + 1]; s++) {
        const n = q.plan[s - q.earliest];
        counts[s - lo] = n;
        got += n;
      }
      placed += got;
      if (got < d.windows[w + 2]) complete = false;
    }
    return { lo, counts, start: -1, complete, placed };
  }

  /** Writes a placement into a request's plan for the slots from `from` on. */
  private writePlan(q: RequestRecord, p: Placement, from: number): void {
    for (let k = Math.max(0, from - q.earliest); k < q.plan.length; k++) {
      const i = q.earliest + k - p.lo;
      q.plan[k] = i >= 0 && i < p.counts.length ? p.counts[i] : 0;
    }
    if (q.profile) q.start = p.start;
  }

  private pruneClosed(r: RouterState): void {
    const closed = [...r.requests.values()].filter((q) => q.status !== "open").sort((a, b) => a.order - b.order);
    for (let i = 0; i < closed.length - KEEP_CLOSED; i++) r.requests.delete(closed[i].id);
  }

  // ------------------------------------------------------------ periodic work

  /**
   * The periodic work, for the driver to call as often as it likes (once a
   * second on real time; on every step of virtual time): at a new slot, the
   * slots that passed go into the slice history, finished requests close
   * and the plan is redone; then leases near their end are renewed and
   * heartbeats go out.
   */
  tick(): void {
    if (this.closed) return;
    const nowSlot = this.slotNow();
    if (nowSlot > this.lastSlot) {
      this.closeSlots(this.lastSlot, nowSlot);
      this.lastSlot = nowSlot;
      this.replan([]);
    }
    for (const r of this.routers.values()) {
      if (r.online) {
        const due: number[] = [];
        for (const c of this.clientsWithPlans(r)) {
          const client = r.clients.get(c) as ClientInfo;
          if (client.leaseEnd - nowSlot <= this.renewSlots) due.push(c);
        }
        this.sendSchedules(r, due);
      }
      if (this.now() - r.lastHeartbeatS >= this.heartbeatS) this.sendHeartbeat(r, 0);
    }
  }

  /** Slots [from, to) have passed: their packets per class go into the history; requests that ended close. */
  private closeSlots(from: number, to: number): void {
    const classes = this.shares.length;
    const first = Math.max(from, to - 2 * this.horizonSlots);
    for (let s = first; s < to; s++) this.history.set(s, new Array<number>(classes).fill(0));
    for (const r of this.routers.values()) {
      for (const q of r.requests.values()) {
        if (q.status !== "open") continue;
        // A slot no lease covered never ran: its plan is void, and a profile that should have started there did not.
        if (q.profile && q.start >= 0 && q.start < to && !q.leased[q.start - q.earliest] && q.acked[q.start - q.earliest] < 0) {
          q.plan.fill(0);
          q.start = -1;
        }
        for (let s = Math.max(from, q.earliest); s < Math.min(to, q.end); s++) {
          const k = s - q.earliest;
          if (!q.profile && !q.leased[k] && q.acked[k] < 0) q.plan[k] = 0;
          if (s >= first && q.plan[k] > 0) (this.history.get(s) as number[])[Math.min(q.cls, classes - 1)] += q.plan[k];
        }
        let credited = 0;
        for (let s = q.earliest; s < Math.min(q.end, to); s++) credited += this.creditOf(q, s);
        let planned = 0;
        for (let s = Math.max(q.earliest, to); s < q.end; s++) planned += q.plan[s - q.earliest];
        if (q.profile) {
          if (q.start >= 0 && q.start + q.profile.length <= to) q.status = "done";
          else if (q.start < 0 && to + q.profile.length > q.end) q.status = "expired";
        } else if (q.kind === M.KIND_ENERGY && credited >= q.packets && planned === 0) q.status = "done";
        else if (q.end <= to) q.status = credited >= this.totalNeed(q) ? "done" : "expired";
      }
      this.pruneClosed(r);
      // Acks older than two horizons are of no use any more.
      for (const bySlot of r.acks.values()) for (const s of bySlot.keys()) if (s < to - 2 * this.horizonSlots) bySlot.delete(s);
    }
    for (const s of this.history.keys()) if (s < to - 4 * this.horizonSlots) this.history.delete(s);
  }

  private totalNeed(q: RequestRecord): number {
    if (q.kind === M.KIND_ENERGY) return q.packets;
    const w = thermalWindows(q);
    let n = 0;
    for (let k = 2; k < w.length; k += 3) n += w[k];
    return n;
  }

  // ------------------------------------------------------------ output

  private clientsWithPlans(r: RouterState): number[] {
    const out = new Set<number>();
    for (const q of r.requests.values()) if (q.status === "open" && r.clients.has(q.client)) out.add(q.client);
    return [...out].sort((a, b) => a - b);
  }

  /**
   * A heartbeat; the one answering a HELLO echoes it and goes at QoS 1, in
   * order with the RESTORE and schedules around it (a QoS 0 one can be lost
   * to a router that is just connecting, or overtake them).
   */
  private sendHeartbeat(r: RouterState, helloSeq: number): void {
    r.lastHeartbeatS = this.now();
    if (helloSeq > 0) this.send(r, M.HEARTBEAT, [this.slotMin, this.packetWh, helloSeq], 1);
    else this.send(r, M.HEARTBEAT, [this.slotMin, this.packetWh]);
  }

  /** A SCHEDULE with a fresh lease for each client: its open requests' packets from the current slot. */
  private sendSchedules(r: RouterState, clients: number[]): void {
    const nowSlot = this.slotNow();
    const maxFrame = r.hello ? r.hello.maxFrameBytes : 512;
    for (const c of clients) {
      const client = r.clients.get(c);
      if (!client) continue;
      const plan = this.planOf(r.spec.gridId, r.spec.routerId, c, nowSlot, this.horizonSlots);
      let first = plan.findIndex((n) => n > 0);
      let last = plan.length - 1;
      while (last > 0 && plan[last] === 0) last--;
      if (first < 0) first = last = 0;
      // Never above what the client's rated power allows now (a pairing may have lowered it).
      let counts = plan.slice(first, last + 1).map((n) => Math.min(n, client.maxPerSlot));
      let lease = this.leaseSlots;
      // Within the router's frame limit: the last counts go first, and the lease shrinks to what is sent.
      const room = this.roomIn(r, maxFrame);
      while (counts.length > 1 && encodeItem([c, first, counts, lease]).length > room) {
        counts = counts.slice(0, counts.length - 1);
        this.statsNow.trimmed++;
      }
      if (first + counts.length < lease && last >= first + counts.length) lease = Math.max(1, first + counts.length);
      const seq = this.send(r, M.SCHEDULE, [c, first, counts, lease]);
      if (seq > 0) {
        client.leaseEnd = nowSlot + lease;
        for (const q of r.requests.values()) {
          if (q.client !== c || q.status !== "open") continue;
          for (let k = Math.max(0, nowSlot - q.earliest); k < Math.min(q.plan.length, nowSlot + lease - q.earliest); k++) q.leased[k] = 1;
        }
        r.schedules.set(c, { seq, firstSlot: nowSlot + first, counts, leaseEnd: nowSlot + lease });
      }
    }
  }

  /** Seals and publishes a down message; its seq, or 0 when it would not validate (counted, not sent). */
  private send(r: RouterState, type: number, body: CborValue, qos?: 0 | 1): number {
    if (this.closed) return 0;
    if (M.validateBody(type, body, r.limits) !== 0) {
      this.statsNow.sendErrors++;
      return 0;
    }
    const seq = ++r.sendSeq;
    const frame = sealFrame(type, seq, Math.floor(this.now()), body, r.spec.key);
    this.statsNow.framesOut++;
    this.statsNow.bytesOut += frame.length;
    this.transport.publish(r.down, frame, qos ?? (qosOf(type) as 0 | 1));
    return seq;
  }

  /** Stops: nothing is received or sent any more; ends the MQTT client of startServer(). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.onClose) await this.onClose();
  }
}

/**
 * A Transport on an mqtt client that keeps each topic's messages in the
 * order they were sealed. MQTT orders messages only within one QoS level
 * (3.1.1 section 4.6), and a broker may deliver a QoS 0 heartbeat before
 * a QoS 1 schedule published just ahead of it (aedes does: QoS 1 goes
 * through its persistence first). The router keeps only the highest seq it
 * accepted, so it would then refuse the schedule as a replay. Here a QoS 0
 * message waits until the broker has acknowledged every QoS 1 message
 * before it on the same topic; QoS 1 messages follow each other at once.
 */
export function orderedTransport(client: MqttClient): Transport {
  const topics = new Map<string, { queue: [Buffer, 0 | 1][]; inflight: number }>();
  const flush = (topic: string): void => {
    const t = topics.get(topic);
    while (t && t.queue.length > 0) {
      const [payload, qos] = t.queue[0];
      if (qos === 0 && t.inflight > 0) return;
      t.queue.shift();
      if (qos === 0) {
        client.publish(topic, payload, { qos });
        continue;
      }
      t.inflight++;
      client.publish(topic, payload, { qos }, () => {
        t.inflight--;
        if (!client.disconnecting) flush(topic);
      });
    }
  };
  return {
    publish: (topic, payload, qos) => {
      if (client.disconnecting) return;
      let t = topics.get(topic);
      if (!t) topics.set(topic, (t = { queue: [], inflight: 0 }));
      t.queue.push([Buffer.from(payload), qos]);
      flush(topic);
    },
  };
}

/**
 * The server on a broker (MQTT 3.1.1, clean session): subscribes to every
 * router's up topic (QoS 1) and status topic, publishes on each router's
 * down topic with the QoS of docs/protocol.md, in order (orderedTransport).
 * close() ends the client.
 */
export async function startServer(opts: ServerOptions & { brokerUrl: string; clientId?: string }): Promise<EnergyServer> {
  const client = await connectAsync(opts.brokerUrl, {
    protocolVersion: 4,
    clean: true,
    clientId: opts.clientId ?? "sden-server-" + Math.floor(Math.random() * 1e9).toString(36),
    reconnectPeriod: 1000,
  });
  const server = new EnergyServer(opts, orderedTransport(client));
  // The mqtt client reports connection errors here and reconnects by itself.
  client.on("error", () => undefined);
  client.on("message", (topic, payload) => server.receive(topic, new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength)));
  server.onClose = () => client.endAsync();
  await client.subscribeAsync({ [TOPIC_ROOT + "+/+/up"]: { qos: 1 }, [TOPIC_ROOT + "+/+/status"]: { qos: 1 } });
  return server;
}
