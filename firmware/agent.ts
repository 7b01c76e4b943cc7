// The Router agent (design section 2): routes the household's requests to
// the energy server, executes its schedules through the relay safety layer,
// meters every slot and acknowledges what was delivered, and keeps all of
// it in a journal in flash so that a power cut loses nothing accepted.
//
// The order of every state change (design section 2, "Protecting itself"):
//   1. a down message passes the envelope checks (MAC, seq, schema);
//   2. its seq is persisted (firmware/seq.ts) and the change is journaled;
//   3. only then is it acted on (relays, answers to clients), and the
//      MQTT PUBACK goes out after the handler returns (firmware/link.ts).
// A request from the household is journaled before the router says yes.
//
// Time (design section 3): the board has no clock of its own. The router
// takes the server's time from the first heartbeat that echoes the HELLO it
// sent after booting, then from every heartbeat. Until then no slot runs:
// relays stay as the failsafe config leaves them at boot, except that a
// non-interruptible program that was running when power went continues.
//
// Flash (espruino.md, "Storage is NOT safe against power cuts"): the
// journal never lets Storage compact by itself. When space runs low the
// router sends the server a BACKUP of what a wipe would lose, and compacts
// only when STORED echoes it with nothing journaled since. A router whose
// store is empty asks the server to RESTORE it.

import type { Hal } from "../hal/types";
import type { Relays } from "../hal/relays";
import type { PulseMeter } from "./meter";
import { DEFAULT_TELEMETRY_S, METER_ROLES, type BrokerConfig, type RouterConfig } from "./config";
import type { SeqStore } from "./seq";
import { J_FOLD, J_FULL, J_OK, Journal } from "../hal/journal";
import { Link } from "./link";
import { Plan, MAX_PER_SLOT } from "./plan";
import {
  ESCALATE_AFTER,
  F_CLIENT,
  F_DONE,
  F_EARLIEST,
  F_EMERGENCY,
  F_END,
  F_ID,
  F_KIND,
  F_PACKETS,
  F_PER_SLOT,
  F_REJECTS,
  F_RETRY_AT,
  F_STATE,
  F_WINDOW,
  MAX_REQUESTS,
  RQ_ACCEPTED,
  RQ_DELIVERED,
  RQ_EXPIRED,
  RQ_FREE,
  RQ_PENDING,
  RQ_REJECTED,
  RQ_RUNNING,
  RQ_SCHEDULED,
  RequestTable,
  requestOfItem,
} from "./requests";
import type { NewRequest } from "./requests";
import { decodeCbor, encodeCbor } from "../protocol/cbor";
import type { CborValue } from "../protocol/cbor";
import { Peer, seal } from "../protocol/envelope";
import * as M from "../protocol/messages";
import { STATUS_OFFLINE, topicDown, topicLocal, topicLocalAnswer, topicStatus, topicUp } from "../protocol/topics";

/** The configuration's scalars the agent uses after boot. */
type AgentSettings = Pick<RouterConfig, "slotMin" | "packetWh" | "fuseLimitW" | "heartbeatS" | "telemetryS">;

// Meter roles, as their index in METER_ROLES.
const ROLE_IMPORT = 0;
const ROLE_EXPORT = 1;
const ROLE_PV = 2;

/** The Storage base name of the journal (two files, .0 and .1). */
export const JOURNAL_NAME = "sden.jnl";
export const JOURNAL_FILE_BYTES = 8192;
/** Slots in a plan (design section 1: H = 144, 24 h of 10-minute slots). */
export const HORIZON = 144;
/** Requests submitted within this window go to the server in one message. */
export const AGGREGATE_MS = 5000;
/** A request sent but not answered is sent again after this. */
const RESEND_S = 600;
/** The largest frame the router takes (HELLO's maxFrameBytes). */
export const MAX_FRAME_BYTES = 1024;
/** Up messages held while the broker is unreachable (acks and requests are also in the journal). */
const MAX_QUEUE = 24;
/** Pending acks kept (one per slot; a day of slots). */
const MAX_PENDING_ACKS = 144;
/**
 * Free flash kept for the rotations of the journal, the meter totals and
 * the seqs (two each, with Storage's headers): below it the router backs up
 * and compacts, once there is trash worth reclaiming (or it is urgent).
 */
const FLASH_RESERVE_BYTES = 2 * (JOURNAL_FILE_BYTES + 4096 + 1024) + 6 * 32;
/** Trash that makes a compaction worth its wear, unless free space is below one fold. */
const TRASH_WORTH_BYTES = 2 * JOURNAL_FILE_BYTES;
/** HELLO seq of a router whose store is empty: at least 2^40, random below 2^41. */
const WIPED_SEQ_BASE = 1099511627776;

// Journal entries: CBOR arrays, first item the operation.
/** [OP_SNAPSHOT, lastReqId, timeS, lastSlot, [baseline Wh], [request rows], [plans], [pending acks], [running]] */
const OP_SNAPSHOT = 0;
/** A request the router accepted: [OP_REQUEST, id, client, kind, earliest, end, packets, window, perSlot, profile|null]. */
const OP_REQUEST = 1;
/** A request's new state: [OP_STATE, id, state, retryAtS, rejects, done, emergency]. */
const OP_STATE = 2;
/** A schedule taken: [OP_SCHEDULE, client, first, leaseEnd, counts]. */
const OP_SCHEDULE = 3;
/** A slot closed, its ack pending: [OP_SLOT, slot, timeS, [totals Wh], [client, packets, wh, ...]]. */
const OP_SLOT = 4;
/** The ack of a slot reached the broker: [OP_ACKED, slot]. */
const OP_ACKED = 5;
/** A non-interruptible program started or ended: [OP_RUN, client, reqId (0: ended)]. */
const OP_RUN = 6;
/**
 * Storage compaction is starting: [OP_COMPACT, mark]. The snapshot folded
 * right after it follows; found last at boot, it means power went during
 * the compaction and the store cannot be trusted (a cut compaction can
 * leave it wiped, damaged, or at an older state): it is erased and
 * restored from the server, which holds the backup made just before.
 */
export const OP_COMPACT = 7;
/** A flag file written just before a Storage compaction and erased after it (firmware/router.ts looks for it at boot). */
export const COMPACT_FLAG = "sden.cmp";

/** Why the router refused a request from the household (R.request, local topic). */
export const REQ_ERRORS = ["", "unknown client", "kind does not match the client", "no time yet (waiting for the server's beacon)", "window outside the horizon or in the past", "above the client's rated power", "too many open requests", "flash full: cannot journal", "bad shape"];
const RE_CLIENT = 1;
const RE_KIND = 2;
const RE_TIME = 3;
const RE_WINDOW = 4;
const RE_POWER = 5;
const RE_FULL = 6;
const RE_FLASH = 7;
const RE_SHAPE = 8;

/** What R.request() takes, in the household's units. */
export interface RequestSpec {
  /** Client name or id. */
  client: string | number;
  /** Minutes from now: the earliest start (default 0) and the end (latest finish, deadline). */
  startMin?: number;
  endMin: number;
  /** energy: Wh in all, at up to maxW. */
  wh?: number;
  maxW?: number;
  /** profile: Wh in each slot of the program. */
  profileWh?: number[];
  /** thermal: Wh in every windowMin. */
  whPerWindow?: number;
  windowMin?: number;
}

/** What R.request() and the local topic answer: the request's id, or why it was refused (code: REQ_ERRORS index, or 0 with the error text). */
export interface RequestAnswer {
  ok: boolean;
  id: number;
  error: string;
  code: number;
}

/** A pending ack: the slot it is for, its envelope time and body. */
interface PendingAck {
  slot: number;
  timeS: number;
  body: number[];
  /** The link's packet id while in flight this boot, else 0. */
  id: number;
}

function ascii(s: string): Uint8Array {
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);
  return b;
}

function refusal(error: string, code: number): RequestAnswer {
  return { ok: false, id: 0, error: error, code: code };
}

function copyBytes(v: CborValue): Uint8Array | undefined {
  if (!(v instanceof Uint8Array)) return undefined;
  const out = new Uint8Array(v.length);
  out.set(v);
  return out;
}

export interface AgentOptions {
  hal: Hal;
  config: RouterConfig;
  relays: Relays;
  meter: PulseMeter;
  seq: SeqStore;
  /** The router's key (HMAC-SHA256), shared with the server. */
  key: Uint8Array;
  /** Firmware version for HELLO. */
  version: string;
  /** [0, 1): back-off jitter, the seq of a wiped router. */
  random: () => number;
  /** True when the router's store held nothing at boot: ask the server to restore it. */
  wiped: boolean;
  /** True when no seq record was found: ask the server for the last seq it accepted (RESTORE). */
  seqUnknown: boolean;
  /** The journal in flash (opened by the router, which looked at it first for a cut compaction). */
  journal: Journal;
}

/** Counters for R.status() and the simulator. */
export interface AgentCounters {
  submitted: number;
  refused: number;
  accepted: number;
  rejected: number;
  delivered: number;
  expired: number;
  emergencies: number;
  schedules: number;
  schedulesRefused: number;
  acks: number;
  framesRefused: number;
  /** Authentic frames that came before the answer to this boot's HELLO (not taken). */
  early: number;
  /** Requests from smart appliances on the local topic (taken or refused). */
  local: number;
  flashFull: number;
  compactions: number;
  restores: number;
}

export class Agent {
  readonly hal: Hal;
  /** The configuration's scalars; its records live in the per-client and per-meter arrays below. */
  private readonly config: AgentSettings;
  readonly relays: Relays;
  readonly meter: PulseMeter;
  readonly seq: SeqStore;
  readonly journal: Journal;
  readonly requests: RequestTable;
  readonly plan: Plan;
  readonly link: Link | undefined;
  readonly peer: Peer;
  readonly lim: M.Limits;
  readonly counters: AgentCounters;
  private readonly key: Uint8Array;
  private readonly version: string;
  private readonly random: () => number;
  private readonly scratch: Uint8Array;
  private readonly clients: number;
  /** Per client id - 1: relay channel, sub-meter input (-1: none), kind code. */
  private readonly relayOf: Int8Array;
  private readonly meterOf: Int8Array;
  private readonly kindOf: Uint8Array;
  private readonly ratedW: Float64Array;
  private readonly names: string[];
  private readonly priority: Uint8Array;
  private readonly standingWh: Uint32Array;
  /** Per meter: its role's index in METER_ROLES. */
  private readonly meterRole: Uint8Array;
  private readonly slotS: number;
  private readonly topicUp: string;
  private readonly topicLocal: string;
  private readonly topicLocalAnswer: string;
  /** Server time minus board time, s; NaN until a heartbeat set it. */
  private offsetS = NaN;
  /** The slot the router is in (0: none yet). */
  private slot = 0;
  /** Meter totals at the start of the current slot. */
  private baseline: number[] = [];
  /** Per client: ms its relay was on in the current slot. */
  private readonly onMs: Float64Array;
  /** Per client: the request id of its running non-interruptible program, 0 when none. */
  private readonly running: Float64Array;
  /** Per request row: unix s it was last sent, 0 when not yet this boot. */
  private readonly sentAt: Float64Array;
  private readonly pendingAcks: PendingAck[] = [];
  private batchTimer = 0;
  private helloSeq = 0;
  private awaitingRestore: boolean;
  /**
   * The router cannot tell which seqs it used (no seq record, or the server
   * refused its HELLO as a replay): its HELLO asks for RESTORE, whose
   * last-seq it continues above; the rest of a RESTORE is taken only when
   * the store was wiped too.
   */
  private seqUnknown: boolean;
  private lastTelemetryS = 0;
  private backupMark = 0;
  private backupAppends = -1;
  /** Journal appends since boot (tells whether anything changed since a backup). */
  private appends = 0;
  /** The journal refused a write: what the router does now is kept in RAM only. */
  flashFull = false;
  /** What the console was last told about flash (reportFlash). */
  private flashReported = false;
  /** Consumption per slot of the household without unmetered clients (Wh), for "main meter minus the known rest". */
  private baseloadWh = -1;
  private timers: number[] = [];
  private lastTickMs = 0;
  /** When the last HELLO went out (board ms): without an answer it is sent again. */
  private helloAtMs = 0;
  /** The server answered this session's HELLO (its heartbeat echoed it). */
  private answered = false;
  /** Clients whose pairing report the link has taken this boot: the server must know a client before its requests. */
  private paired = 0;

  constructor(o: AgentOptions) {
    this.hal = o.hal;
    const c = o.config;
    this.config = { slotMin: c.slotMin, packetWh: c.packetWh, fuseLimitW: c.fuseLimitW, heartbeatS: c.heartbeatS, telemetryS: c.telemetryS };
    this.relays = o.relays;
    this.meter = o.meter;
    this.seq = o.seq;
    this.key = o.key;
    this.version = o.version;
    this.random = o.random;
    this.awaitingRestore = o.wiped;
    this.seqUnknown = o.seqUnknown || o.wiped;
    const cl = o.config.clients || [];
    this.clients = cl.length;
    this.slotS = o.config.slotMin * 60;
    this.relayOf = new Int8Array(this.clients);
    this.meterOf = new Int8Array(this.clients);
    this.kindOf = new Uint8Array(this.clients);
    this.ratedW = new Float64Array(this.clients);
    this.names = [];
    this.priority = new Uint8Array(this.clients);
    this.standingWh = new Uint32Array(this.clients);
    const maxPerSlot = new Uint16Array(this.clients + 1);
    for (let i = 0; i < cl.length; i++) {
      this.names.push(cl[i].name);
      this.priority[i] = cl[i].priority;
      this.standingWh[i] = cl[i].standingWh || 0;
      this.relayOf[i] = cl[i].relay;
      this.meterOf[i] = cl[i].meter;
      this.kindOf[i] = cl[i].kind === "profile" ? M.KIND_PROFILE : cl[i].kind === "energy" ? M.KIND_ENERGY : M.KIND_THERMAL;
      this.ratedW[i] = o.config.relays[cl[i].relay].ratedW;
      maxPerSlot[i + 1] = Math.min(MAX_PER_SLOT, Math.max(1, Math.floor((this.ratedW[i] * o.config.slotMin) / 60 / o.config.packetWh)));
    }
    this.lim = { horizonSlots: HORIZON, maxPerSlot: maxPerSlot };
    this.meterRole = new Uint8Array(c.meters.length);
    for (let i = 0; i < c.meters.length; i++) this.meterRole[i] = METER_ROLES.indexOf(c.meters[i].role);
    this.counters = { submitted: 0, refused: 0, accepted: 0, rejected: 0, delivered: 0, expired: 0, emergencies: 0, schedules: 0, schedulesRefused: 0, acks: 0, framesRefused: 0, early: 0, local: 0, flashFull: 0, compactions: 0, restores: 0 };
    // Frames are at most MAX_FRAME_BYTES; journal entries are smaller.
    this.scratch = new Uint8Array(MAX_FRAME_BYTES);
    this.onMs = new Float64Array(this.clients);
    this.running = new Float64Array(this.clients);
    this.sentAt = new Float64Array(MAX_REQUESTS);
    this.requests = new RequestTable();
    this.plan = new Plan(this.clients, HORIZON);
    this.peer = new Peer(o.key, o.hal.system.sha256, false, this.lim, o.seq.recvLast);
    this.journal = o.journal;
    this.restoreJournal();
    this.topicUp = topicUp(o.config.gridId, o.config.routerId);
    this.topicLocal = topicLocal(o.config.gridId, o.config.routerId);
    this.topicLocalAnswer = topicLocalAnswer(o.config.gridId, o.config.routerId);
    if (o.config.broker) this.link = this.makeLink(o.hal, o.config.broker, o.config.gridId, o.config.routerId, o.random);
    this.lastTickMs = o.hal.clock.nowMs();
    this.startTicking();
    // A program that was running when power went goes on at once.
    for (let i = 0; i < this.clients; i++) if (this.running[i] > 0) this.relays.resume(this.relayOf[i]);
    this.applyRelays();
    if (this.link) this.link.start();
  }

  // Callbacks are made in methods of their own: an Espruino closure keeps its
  // whole scope chain, and one made in the constructor would keep the
  // options, and with them every parsed configuration record, alive.

  private makeLink(hal: Hal, b: BrokerConfig, gridId: string, routerId: string, random: () => number): Link {
    const status = topicStatus(gridId, routerId);
    return new Link({
      clock: hal.clock,
      connect: (so) => hal.connect(so),
      host: b.host,
      port: b.port,
      clientId: gridId + "-" + routerId,
      keepAliveS: b.keepAliveS,
      will: { topic: status, payload: ascii(STATUS_OFFLINE) },
      online: { topic: status, payload: ascii("online") },
      subscriptions: [topicDown(gridId, routerId), this.topicLocal],
      maxFrameBytes: MAX_FRAME_BYTES,
      maxQueue: MAX_QUEUE,
      backoffMinMs: 1000,
      backoffMaxMs: 60000,
      random: random,
      retryMs: 20000,
      onMessage: (topic, payload) => (topic === this.topicLocal ? this.onLocal(payload) : this.onFrame(payload)),
      onState: (up) => this.onLink(up),
      onAcked: (id) => this.onAcked(id),
    });
  }

  private startTicking(): void {
    this.timers.push(this.hal.clock.setInterval(() => this.tick(), 1000));
  }

  /** Unix s of the server's time, or NaN before the first heartbeat. */
  nowS(): number {
    return this.hal.clock.nowMs() / 1000 + this.offsetS;
  }

  /** True once the server's time is known. */
  timeKnown(): boolean {
    return this.offsetS === this.offsetS;
  }

  /** The current absolute slot (0 before the time is known). */
  currentSlot(): number {
    return this.timeKnown() ? Math.floor(this.nowS() / this.slotS) : 0;
  }

  stop(): void {
    for (let i = 0; i < this.timers.length; i++) this.hal.clock.clearInterval(this.timers[i]);
    this.timers = [];
    if (this.batchTimer) this.hal.clock.clearTimeout(this.batchTimer);
    if (this.link) this.link.close();
  }

  // ---- the household's requests

  /**
   * Takes a request from the household (console, local topic, client
   * agent): checks it against the client, journals it and queues it for the
   * server. Returns its id, or minus the reason (REQ_ERRORS).
   */
  submit(r: NewRequest): number {
    const e = this.checkRequest(r);
    if (e !== 0) {
      this.counters.refused++;
      return -e;
    }
    const id = this.requests.nextId();
    const entry: CborValue[] = [OP_REQUEST, id, r.client, r.kind, r.earliest, r.end, r.packets, r.window, r.perSlot, r.profile ? r.profile : null];
    if (!this.write(entry)) {
      this.counters.refused++;
      return -RE_FLASH;
    }
    const row = this.requests.add(id, r, RQ_PENDING);
    this.sentAt[row] = 0;
    this.counters.submitted++;
    this.scheduleBatch();
    return id;
  }

  private checkRequest(r: NewRequest): number {
    if (!(r.client >= 1 && r.client <= this.clients)) return RE_CLIENT;
    if (r.kind !== this.kindOf[r.client - 1]) return RE_KIND;
    if (!this.timeKnown()) return RE_TIME;
    if (this.requests.count() >= MAX_REQUESTS) return RE_FULL;
    const now = this.currentSlot();
    if (!(r.earliest >= now && r.end > r.earliest && r.end <= now + HORIZON)) return RE_WINDOW;
    const max = this.lim.maxPerSlot[r.client];
    const slots = r.end - r.earliest;
    if (r.kind === M.KIND_PROFILE) {
      const p = r.profile;
      if (!p || p.length < 1 || p.length > slots) return p && p.length > slots ? RE_WINDOW : RE_SHAPE;
      let sum = 0;
      for (let i = 0; i < p.length; i++) {
        if (p[i] > max) return RE_POWER;
        sum += p[i];
      }
      return sum > 0 ? 0 : RE_SHAPE;
    }
    if (!(r.perSlot >= 1) || !(r.packets >= 1)) return RE_SHAPE;
    if (r.perSlot > max) return RE_POWER;
    if (r.kind === M.KIND_THERMAL && !(r.window >= 1 && r.window <= slots)) return RE_WINDOW;
    return r.packets > r.perSlot * (r.kind === M.KIND_ENERGY ? slots : r.window) ? RE_POWER : 0;
  }

  private scheduleBatch(): void {
    if (this.batchTimer) return;
    this.batchTimer = this.hal.clock.setTimeout(() => {
      this.batchTimer = 0;
      this.sendRequests();
    }, AGGREGATE_MS);
  }

  /** Sends every pending request not yet sent (or sent long ago) in one REQUEST. */
  private sendRequests(): void {
    if (!this.ready() || this.paired < this.clients) return;
    const now = this.currentSlot();
    const nowS = this.nowS();
    const items: CborValue[] = [];
    const rows: number[] = [];
    const rq = this.requests;
    for (let i = 0; i < MAX_REQUESTS && items.length < M.MAX_ITEMS; i++) {
      if (rq.get(i, F_STATE) !== RQ_PENDING || (this.sentAt[i] > 0 && nowS - this.sentAt[i] < RESEND_S)) continue;
      if (rq.get(i, F_END) <= now) continue;
      items.push(rq.item(i, now));
      rows.push(i);
    }
    if (items.length === 0) return;
    if (this.send(M.REQUEST, items, 1, Math.floor(nowS)) > 0) for (let k = 0; k < rows.length; k++) this.sentAt[rows[k]] = nowS;
  }

  /**
   * A request in the household's units (console, local topic): minutes from
   * now, Wh, W. Converted to slots and packets, then submit().
   */
  request(spec: RequestSpec): RequestAnswer {
    const c = this.config;
    let client = 0;
    for (let i = 0; i < this.clients; i++) if (this.names[i] === spec.client || i + 1 === spec.client) client = i + 1;
    if (client === 0) return refusal("unknown client " + JSON.stringify(spec.client), RE_CLIENT);
    const kind = this.kindOf[client - 1];
    const slotMin = c.slotMin;
    const packetWh = c.packetWh;
    const startMin = typeof spec.startMin === "number" ? spec.startMin : 0;
    if (!(typeof spec.endMin === "number" && spec.endMin > startMin && startMin >= 0)) return refusal("endMin must be after startMin (minutes from now)", RE_WINDOW);
    const r: NewRequest = { client: client, kind: kind, earliest: 0, end: 0, packets: 0, window: 0, perSlot: 0, profile: undefined };
    if (kind === M.KIND_PROFILE) {
      const p = spec.profileWh;
      if (!(p instanceof Array) || p.length === 0) return refusal("profileWh must list the Wh of each slot of the program", RE_SHAPE);
      r.profile = new Uint8Array(p.length);
      for (let i = 0; i < p.length; i++) {
        const n = Math.ceil(p[i] / packetWh);
        if (!(n >= 0 && n <= MAX_PER_SLOT)) return refusal("profileWh[" + i + "] must be 0-" + MAX_PER_SLOT * packetWh + " Wh", RE_POWER);
        r.profile[i] = n;
      }
    } else {
      const wh = kind === M.KIND_ENERGY ? spec.wh : spec.whPerWindow;
      if (!(typeof wh === "number" && wh > 0)) return refusal((kind === M.KIND_ENERGY ? "wh" : "whPerWindow") + " must be a positive number of Wh", RE_SHAPE);
      const w = typeof spec.maxW === "number" ? spec.maxW : this.ratedW[client - 1];
      r.packets = Math.ceil(wh / packetWh);
      r.perSlot = w > 0 ? Math.floor((w * slotMin) / 60 / packetWh) : 0;
      if (kind === M.KIND_THERMAL) r.window = Math.round((spec.windowMin || 0) / slotMin);
    }
    const now = this.currentSlot();
    r.earliest = now + Math.ceil(startMin / slotMin);
    r.end = now + Math.floor(spec.endMin / slotMin);
    const id = this.submit(r);
    return id > 0 ? { ok: true, id: id, error: "", code: 0 } : refusal(REQ_ERRORS[-id], -id);
  }

  /**
   * A request from a smart appliance on the local topic: CBOR
   * [client, kind, startMin, endMin, ...] with, by kind, [profileWh...] /
   * wh, maxW / whPerWindow, windowMin, maxW. The answer goes to the local
   * answer topic: [client, id (0: refused), code (REQ_ERRORS)].
   */
  private onLocal(payload: Uint8Array): void {
    const d = decodeCbor(payload, 3, 160);
    const f = d.v as CborValue[];
    let shaped = d.e === 0 && Array.isArray(f) && f.length >= 5 && f.length <= 7;
    for (let i = 0; shaped && i < 4; i++) shaped = typeof f[i] === "number";
    let ans = refusal(REQ_ERRORS[RE_SHAPE], RE_SHAPE);
    if (shaped) {
      const c = f[0] as number;
      const kind = f[1];
      const spec: RequestSpec = { client: c, startMin: f[2] as number, endMin: f[3] as number };
      if (kind === M.KIND_PROFILE && f.length === 5 && Array.isArray(f[4])) spec.profileWh = f[4] as number[];
      else if (kind === M.KIND_ENERGY && f.length === 6) {
        spec.wh = f[4] as number;
        spec.maxW = f[5] as number;
      } else if (kind === M.KIND_THERMAL && f.length === 7) {
        spec.whPerWindow = f[4] as number;
        spec.windowMin = f[5] as number;
        spec.maxW = f[6] as number;
      }
      ans = c >= 1 && c <= this.clients && kind !== this.kindOf[c - 1] ? refusal(REQ_ERRORS[RE_KIND], RE_KIND) : this.request(spec);
    }
    this.counters.local++;
    if (!this.link) return;
    const client = shaped && (f[0] as number) >= 0 && (f[0] as number) <= 0xffff ? (f[0] as number) : 0;
    const out = new Uint8Array(16);
    const n = encodeCbor([client, ans.id, ans.code], out, 0, 2);
    if (n > 0) this.link.publish(this.topicLocalAnswer, out.subarray(0, n), 1);
  }

  // ---- the wire

  /**
   * True when messages can go to the server: connected, restored, with time,
   * and this session's HELLO answered. A broker that lost its sessions in a
   * restart drops what is published before the server has subscribed again,
   * yet acknowledges it: the answer to HELLO shows the server is listening.
   */
  private ready(): boolean {
    return !!this.link && this.link.isUp() && !this.seqUnknown && this.timeKnown() && this.answered;
  }

  /** Seals and publishes an up message: the link's id, or 0 when it was not sent. */
  private send(type: number, body: CborValue, qos: number, timeS: number): number {
    if (!this.link) return 0;
    const seq = this.seq.nextSend();
    if (seq === 0) return 0;
    const frame = seal(type, seq, timeS, body, this.key, this.hal.system.sha256, this.scratch);
    if (typeof frame === "number") return 0;
    return this.link.publish(this.topicUp, frame, qos === 1 ? 1 : 0);
  }

  private onLink(up: boolean): void {
    this.answered = false;
    if (!up) return;
    // Every session starts with HELLO; its echo in a heartbeat is the proof
    // of freshness the clock waits for.
    let seq: number;
    this.helloAtMs = this.hal.clock.nowMs();
    if (this.seqUnknown) {
      // A seq of 2^40 or more, random: unique enough to be echoed; a save failed: no HELLO.
      seq = WIPED_SEQ_BASE + Math.floor(this.random() * WIPED_SEQ_BASE);
      if (!this.seq.skipTo(seq + 1)) return;
    } else {
      seq = this.seq.nextSend();
    }
    if (seq === 0) return;
    this.helloSeq = seq;
    const body: CborValue[] = [this.version.length > 32 ? this.version.substring(0, 32) : this.version, this.meter.bootCount, this.seqUnknown ? M.CAP_RESTORE : 0, MAX_FRAME_BYTES];
    const frame = seal(M.HELLO, seq, this.timeKnown() ? Math.floor(this.nowS()) : 0, body, this.key, this.hal.system.sha256, this.scratch);
    if (typeof frame !== "number" && this.link) this.link.publish(this.topicUp, frame, 1);
  }

  /** After a reconnect or a restore: pairing reports, pending requests and acks go out again. */
  private resendAll(): void {
    if (!this.ready()) return;
    // The server learns the clients from pairing reports (repeats are harmless).
    // A report the link refuses (its queue full) goes at a later tick, and requests wait for it.
    const nowS = Math.floor(this.nowS());
    for (let i = this.paired; i < this.clients; i++) {
      if (!this.send(M.PAIRING, [i + 1, this.kindOf[i], this.relayOf[i], this.meterOf[i] >= 0 ? this.meterOf[i] : null, this.ratedW[i], this.priority[i], this.names[i]], 1, nowS)) return;
      this.paired = i + 1;
    }
    this.sendRequests();
    // Acks the link still holds are resent by it (DUP); the rest go now.
    this.flushAcks();
  }

  private onAcked(id: number): void {
    for (let k = 0; k < this.pendingAcks.length; k++) {
      const a = this.pendingAcks[k];
      if (a.id !== id) continue;
      this.write([OP_ACKED, a.slot]);
      this.pendingAcks.splice(k, 1);
      this.counters.acks++;
      return;
    }
  }

  /** A frame on the down topic. Never throws: a refusal is counted, NACKed when authentic, and changes nothing. */
  private onFrame(frame: Uint8Array): void {
    const env = this.peer.check(frame);
    if (!env) {
      this.counters.framesRefused++;
      const r = this.peer.reason;
      if (r >= M.E_SHAPE && r <= M.E_POWER) this.nackRefused(frame, r);
      return;
    }
    const t = env.type;
    const f = env.body as CborValue[];
    // Until the clock is set from an echo of this boot's HELLO, only the
    // answers to that HELLO are taken (a replayed old message cannot be).
    if (!this.timeKnown() || this.seqUnknown) {
      const echo = t === M.HEARTBEAT ? f[2] : t === M.RESTORE || t === M.NACK_DOWN ? f[0] : -1;
      if (echo !== this.helloSeq) {
        this.counters.early++;
        return;
      }
    }
    if (t === M.NACK_DOWN && f[0] === this.helloSeq && f[1] === M.HELLO) {
      // The server refused this HELLO: its seq was used before (a seq record
      // lost with a power cut). Ask for the last seq it accepted.
      this.peer.accept(env.seq);
      if (f[2] === M.E_REPLAY && !this.seqUnknown) {
        this.seqUnknown = true;
        this.onLink(true);
      }
      return;
    }
    if (t === M.HEARTBEAT) {
      // An overtaken (older) heartbeat never moves the clock.
      const newest = env.seq > this.peer.lastSeq;
      this.peer.accept(env.seq);
      this.seq.acceptRecv(env.seq, false);
      const first = !this.timeKnown();
      const echo = f.length === 3 && f[2] === this.helloSeq && !this.answered;
      if (echo) this.answered = true;
      const offset = env.time - this.hal.clock.nowMs() / 1000;
      // The server's whole seconds jitter against the board's clock: the
      // router's time never steps back by less than a slot (a larger step
      // is a real correction).
      if (first || (newest && (offset > this.offsetS || this.offsetS - offset > this.slotS))) this.offsetS = offset;
      if (first) this.tick();
      if (echo) this.resendAll();
      return;
    }
    // Everything else changes state: its seq is in flash before it is acted on
    // (a frame overtaken inside the replay window is below what is saved).
    if (!this.seq.persistRecv(env.seq)) {
      this.counters.framesRefused++;
      return;
    }
    this.peer.accept(env.seq);
    const envSlot = Math.floor(env.time / this.slotS);
    if (t === M.ACCEPT) this.onAccept(f);
    else if (t === M.REJECT) this.onReject(f);
    else if (t === M.SCHEDULE) this.onSchedule(env.seq, f, envSlot);
    else if (t === M.STORED) this.onStored(f[0] as number);
    else if (t === M.RESTORE) this.onRestore(f, envSlot);
    else if (t === M.NACK_DOWN && f[1] === M.REQUEST) this.counters.rejected++;
  }

  /** NACKs an authentic frame whose body was refused (its seq and type read again). */
  private nackRefused(frame: Uint8Array, reason: number): void {
    const d = decodeCbor(frame, 5, 320);
    const f = d.v as CborValue[];
    if (d.e === 0 && Array.isArray(f) && this.ready()) this.send(M.NACK_UP, [f[2], f[1], reason], 1, Math.floor(this.nowS()));
  }

  private setState(row: number, state: number): void {
    const rq = this.requests;
    rq.set(row, F_STATE, state);
    this.write([OP_STATE, rq.get(row, F_ID), state, rq.get(row, F_RETRY_AT), rq.get(row, F_REJECTS), rq.get(row, F_DONE), rq.get(row, F_EMERGENCY)]);
    if (state === RQ_DELIVERED || state === RQ_EXPIRED) {
      if (state === RQ_DELIVERED) this.counters.delivered++;
      else this.counters.expired++;
      rq.free(row);
    }
  }

  private onAccept(f: CborValue[]): void {
    for (let k = 0; k < f.length; k++) {
      const row = this.requests.find(f[k] as number);
      if (row < 0 || (this.requests.get(row, F_STATE) !== RQ_PENDING && this.requests.get(row, F_STATE) !== RQ_REJECTED)) continue;
      this.counters.accepted++;
      this.setState(row, RQ_ACCEPTED);
    }
  }

  private onReject(f: CborValue[]): void {
    const rq = this.requests;
    for (let k = 0; k < f.length; k += 3) {
      const row = rq.find(f[k] as number);
      if (row < 0 || rq.get(row, F_STATE) !== RQ_PENDING) continue;
      this.counters.rejected++;
      rq.set(row, F_REJECTS, rq.get(row, F_REJECTS) + 1);
      rq.set(row, F_RETRY_AT, Math.floor(this.nowS()) + (f[k + 2] as number));
      this.setState(row, RQ_REJECTED);
    }
  }

  /**
   * A schedule: refused (NACK) for a lease already ended or a slot where
   * the relays it needs on would exceed the fuse; else journaled, then run.
   */
  private onSchedule(seq: number, f: CborValue[], envSlot: number): void {
    const c = f[0] as number;
    const first = envSlot + (f[1] as number);
    const counts = f[2] as number[];
    const lease = envSlot + (f[3] as number);
    let e = 0;
    if (c > this.clients) e = M.E_CLIENT;
    else if (lease <= this.currentSlot()) e = M.E_LEASE;
    else {
      for (let k = 0; k < counts.length && e === 0; k++) {
        if (counts[k] === 0) continue;
        let w = this.ratedW[c - 1];
        for (let o = 1; o <= this.clients; o++) if (o !== c && this.plan.at(o, first + k) > 0) w += this.ratedW[o - 1];
        if (w > this.config.fuseLimitW) e = M.E_FUSE;
      }
    }
    if (e !== 0) {
      this.counters.schedulesRefused++;
      this.send(M.NACK_UP, [seq, M.SCHEDULE, e], 1, Math.floor(this.nowS()));
      return;
    }
    const bytes = new Uint8Array(counts.length);
    for (let k = 0; k < counts.length; k++) bytes[k] = counts[k];
    if (!this.write([OP_SCHEDULE, c, first, lease, bytes])) return;
    this.plan.set(c, first, bytes, lease);
    this.counters.schedules++;
    const rq = this.requests;
    for (let i = 0; i < MAX_REQUESTS; i++) {
      if (rq.get(i, F_CLIENT) === c && (rq.get(i, F_STATE) === RQ_ACCEPTED || rq.get(i, F_STATE) === RQ_PENDING)) this.setState(i, RQ_SCHEDULED);
    }
    this.applyRelays();
  }

  // ---- time, slots, relays, metering

  private tick(): void {
    const nowMs = this.hal.clock.nowMs();
    const dt = Math.min(5000, Math.max(0, nowMs - this.lastTickMs));
    this.lastTickMs = nowMs;
    for (let i = 0; i < this.clients; i++) if (this.relays.isOn(this.relayOf[i])) this.onMs[i] += dt;
    // A HELLO whose answer was lost is sent again after two heartbeat periods.
    if (this.link && this.link.isUp() && !this.answered && nowMs - this.helloAtMs > 2000 * this.config.heartbeatS) this.onLink(true);
    if (this.paired < this.clients) this.resendAll();
    if (this.timeKnown()) {
      const s = this.currentSlot();
      if (s > this.slot) this.newSlot(s);
      const nowS = this.nowS();
      this.flushAcks();
      if (this.ready() && nowS - this.lastTelemetryS >= (this.config.telemetryS || DEFAULT_TELEMETRY_S)) {
        this.lastTelemetryS = nowS;
        this.send(M.TELEMETRY, this.telemetryBody(), 0, Math.floor(nowS));
      }
    }
    this.applyRelays();
    this.reportFlash();
  }

  /** Says once, on the console, when flash starts refusing saves, and when it takes them again. */
  private reportFlash(): void {
    const full = this.flashIsFull();
    if (full === this.flashReported) return;
    this.flashReported = full;
    this.hal.console.print(full ? "flash full: saves refused; running from memory until the server holds a backup and flash is compacted" : "flash: saving again");
  }

  private totals(): number[] {
    const t: number[] = [];
    for (let i = 0; i < this.meterRole.length; i++) t.push(this.meter.wh(i));
    return t;
  }

  private telemetryBody(): number[] {
    const b = this.totals();
    b.unshift(this.meter.bootCount);
    return b;
  }

  /** A slot boundary: the slot that ended is metered and acked; requests are retried or expired. */
  private newSlot(s: number): void {
    if (this.slot > 0 && this.slot < s) this.closeSlot(this.slot);
    else this.baseline = this.totals();
    this.slot = s;
    for (let i = 0; i < this.clients; i++) this.onMs[i] = 0;
    const rq = this.requests;
    const nowS = this.nowS();
    for (let i = 0; i < MAX_REQUESTS; i++) {
      const st = rq.get(i, F_STATE);
      if (st === RQ_FREE) continue;
      if (rq.get(i, F_END) <= s && !(st === RQ_RUNNING && this.running[rq.get(i, F_CLIENT) - 1] === rq.get(i, F_ID))) {
        this.setState(i, RQ_EXPIRED);
      } else if (st === RQ_REJECTED && nowS >= rq.get(i, F_RETRY_AT)) {
        if (rq.get(i, F_REJECTS) >= ESCALATE_AFTER && rq.get(i, F_EMERGENCY) === 0 && this.ready()) {
          rq.set(i, F_EMERGENCY, 1);
          this.counters.emergencies++;
          this.send(M.EMERGENCY, [rq.get(i, F_ID), rq.get(i, F_CLIENT), M.EMG_REJECTED], 1, Math.floor(nowS));
        }
        this.sentAt[i] = 0;
        this.setState(i, RQ_PENDING);
        this.scheduleBatch();
      }
    }
    this.thermalAgents(s);
  }

  /**
   * Client agents for dumb thermal appliances (a plain water heater cannot
   * ask): a client configured with standingWh always has an open request
   * for that much in every 4 hours over the next day.
   */
  private thermalAgents(s: number): void {
    for (let c = 1; c <= this.clients; c++) {
      const wh = this.standingWh[c - 1];
      if (!wh || this.kindOf[c - 1] !== M.KIND_THERMAL) continue;
      let open = false;
      for (let i = 0; i < MAX_REQUESTS && !open; i++) open = this.requests.get(i, F_STATE) !== RQ_FREE && this.requests.get(i, F_CLIENT) === c;
      if (open) continue;
      const max = this.lim.maxPerSlot[c];
      const window = Math.min(HORIZON, Math.round(240 / this.config.slotMin));
      const packets = Math.min(max * window, Math.ceil(wh / this.config.packetWh));
      this.submit({ client: c, kind: M.KIND_THERMAL, earliest: s, end: s + HORIZON, packets: packets, window: window, perSlot: max, profile: undefined });
    }
  }

  /**
   * Meters slot s per client: its sub-meter, or for a client without one
   * the household's consumption minus the sub-metered clients and the
   * baseload seen in slots without unmetered clients on (never more than its
   * on-time at rated power). Journals the result and acks it.
   */
  private closeSlot(s: number): void {
    const now = this.totals();
    const d: number[] = [];
    for (let i = 0; i < now.length; i++) d.push(now[i] - (this.baseline[i] || 0));
    // The household's use: import + PV - export; known only with an import meter.
    let use = 0;
    let meteredUse = false;
    for (let i = 0; i < this.meterRole.length; i++) {
      const role = this.meterRole[i];
      if (role === ROLE_IMPORT || role === ROLE_PV) use += d[i];
      else if (role === ROLE_EXPORT) use -= d[i];
      if (role === ROLE_IMPORT) meteredUse = true;
    }
    const wh = new Float64Array(this.clients);
    let rest = use;
    let unmeteredOnMs = 0;
    for (let i = 0; i < this.clients; i++) {
      if (this.meterOf[i] >= 0) {
        wh[i] = d[this.meterOf[i]];
        rest -= wh[i];
      } else if (this.onMs[i] > 0) unmeteredOnMs += this.onMs[i] * this.ratedW[i];
    }
    if (unmeteredOnMs === 0 && meteredUse) this.baseloadWh = this.baseloadWh < 0 ? rest : Math.round((3 * this.baseloadWh + rest) / 4);
    const shareable = Math.max(0, rest - Math.max(0, this.baseloadWh));
    for (let i = 0; i < this.clients; i++) {
      if (this.meterOf[i] >= 0 || this.onMs[i] === 0) continue;
      // Its on-time at rated power, and no more than its share of what the main meter saw.
      const nominal = (this.onMs[i] * this.ratedW[i]) / 3600000;
      wh[i] = Math.round(meteredUse ? Math.min(nominal, (shareable * this.onMs[i] * this.ratedW[i]) / unmeteredOnMs) : nominal);
    }
    const body: number[] = [];
    for (let c = 1; c <= this.clients; c++) {
      const w = Math.max(0, Math.min(0xffff, Math.round(wh[c - 1])));
      const planned = this.plan.at(c, s);
      if (planned === 0 && w === 0 && this.running[c - 1] === 0) continue;
      const packets = Math.min(this.lim.maxPerSlot[c], Math.round(w / this.config.packetWh));
      body.push(c, packets, w);
      this.credit(c, packets);
    }
    const timeS = (s + 1) * this.slotS;
    this.write([OP_SLOT, s, timeS, now, body]);
    this.baseline = now;
    if (body.length > 0) {
      const a: PendingAck = { slot: s, timeS: timeS, body: body, id: 0 };
      if (this.pendingAcks.length >= MAX_PENDING_ACKS) {
        const lost = this.pendingAcks.shift() as PendingAck;
        this.hal.console.print("acks pending for a day: the ack of slot " + lost.slot + " is dropped");
      }
      this.pendingAcks.push(a);
      this.sendAck(a);
    }
  }

  /** Acks not yet handed to the link (its queue was full, or it was down) go out as room frees up. */
  private flushAcks(): void {
    for (let k = 0; k < this.pendingAcks.length && this.ready() && (this.link as Link).queued() < MAX_QUEUE / 2; k++) {
      if (this.pendingAcks[k].id === 0) this.sendAck(this.pendingAcks[k]);
    }
  }

  private sendAck(a: PendingAck): void {
    if (!this.ready()) return;
    a.id = this.send(M.ACK, a.body, 1, a.timeS);
  }

  /** Delivered packets count towards the client's requests, earliest end first; a running program advances a slot. */
  private credit(c: number, packets: number): void {
    const rq = this.requests;
    const runId = this.running[c - 1];
    if (runId > 0) {
      const row = rq.find(runId);
      if (row < 0) {
        this.running[c - 1] = 0;
        return;
      }
      rq.set(row, F_DONE, rq.get(row, F_DONE) + 1);
      const p = rq.profiles[row] as Uint8Array;
      // One slot beyond the profile: a program switched on after its slot
      // began ends that much later, and the machine stops by itself.
      if (rq.get(row, F_DONE) > p.length) {
        this.running[c - 1] = 0;
        this.write([OP_RUN, c, 0]);
        this.setState(row, RQ_DELIVERED);
      } else this.setState(row, RQ_RUNNING);
      return;
    }
    let left = packets;
    while (left > 0) {
      let best = -1;
      for (let i = 0; i < MAX_REQUESTS; i++) {
        const st = rq.get(i, F_STATE);
        if (rq.get(i, F_CLIENT) !== c || rq.get(i, F_KIND) === M.KIND_PROFILE || (st !== RQ_SCHEDULED && st !== RQ_RUNNING)) continue;
        if (best < 0 || rq.get(i, F_END) < rq.get(best, F_END)) best = i;
      }
      if (best < 0) return;
      const take = rq.get(best, F_KIND) === M.KIND_THERMAL ? left : Math.min(left, rq.remaining(best));
      if (take <= 0) {
        this.setState(best, RQ_DELIVERED);
        continue;
      }
      rq.set(best, F_DONE, rq.get(best, F_DONE) + take);
      left -= take;
      this.setState(best, rq.get(best, F_KIND) === M.KIND_ENERGY && rq.remaining(best) === 0 ? RQ_DELIVERED : RQ_RUNNING);
      if (rq.get(best, F_KIND) === M.KIND_THERMAL) return;
    }
  }

  /**
   * Whether client c's relay should be closed now. An interruptible client
   * gets its packets at the start of odd slots and at the end of even ones,
   * so that two slots in a row make one run instead of two (fewer
   * switchings). A slot's packets done less than a packet's time before its
   * end, with packets in the next slot too, keep the relay on to the
   * boundary: a full slot (maxPerSlot packets, rounded down) takes a few
   * seconds less than the slot, and switching off there would hold the
   * relay off for its minOffS into the next slot.
   */
  private wantOn(c: number): boolean {
    const i = c - 1;
    if (this.running[i] > 0) return true;
    if (!this.timeKnown()) return false;
    const n = this.plan.at(c, this.slot);
    if (n === 0) return false;
    if (this.kindOf[i] === M.KIND_PROFILE) return this.startProgram(c);
    const needWh = n * this.config.packetWh;
    const needMs = (needWh * 3600000) / this.ratedW[i];
    const m = this.meterOf[i];
    const done = m >= 0 ? this.meter.wh(m) - (this.baseline[m] || 0) >= needWh : this.onMs[i] >= needMs;
    const on = this.relays.isOn(this.relayOf[i]);
    const leftMs = ((this.slot + 1) * this.slotS - this.nowS()) * 1000;
    if (done) return on && this.plan.at(c, this.slot + 1) > 0 && leftMs * this.ratedW[i] < this.config.packetWh * 3600000;
    if (this.slot % 2 === 1 || on) return true;
    // Even slot: start late enough to end at the boundary, with a margin of a tenth.
    return leftMs <= needMs * 1.1 + 2000;
  }

  /** Starts the non-interruptible program of client c's scheduled request, journaled first; false when there is none. */
  private startProgram(c: number): boolean {
    const rq = this.requests;
    for (let i = 0; i < MAX_REQUESTS; i++) {
      if (rq.get(i, F_CLIENT) !== c || rq.get(i, F_STATE) !== RQ_SCHEDULED) continue;
      if (!this.write([OP_RUN, c, rq.get(i, F_ID)])) return false;
      this.running[c - 1] = rq.get(i, F_ID);
      this.setState(i, RQ_RUNNING);
      return true;
    }
    return false;
  }

  /** Sets every client's relay as wanted, through the safety layer (which may refuse for min on/off or the fuse, retried next second). */
  private applyRelays(): void {
    const now = this.hal.clock.nowMs();
    for (let c = 1; c <= this.clients; c++) {
      const ch = this.relayOf[c - 1];
      const on = this.wantOn(c);
      // Held by its minimum on/off time: asked again once that has passed.
      if (this.relays.isOn(ch) !== on && this.relays.retryAtMs(ch, on) <= now) this.relays.set(ch, on);
    }
  }

  // ---- journal

  /** Appends an entry (folding into a snapshot when the file is full): false when flash is full. */
  private write(entry: CborValue[]): boolean {
    const n = encodeCbor(entry, this.scratch, 0, 4);
    if (n < 0) return false;
    let e: number;
    try {
      e = this.journal.append(this.scratch.subarray(0, n));
    } catch {
      // Storage refused the write (a store damaged by a cut compaction).
      e = J_FULL;
    }
    if (e === J_FOLD) {
      const copy = new Uint8Array(n);
      copy.set(this.scratch.subarray(0, n));
      e = this.fold();
      if (e === J_OK) e = this.journal.append(copy);
    }
    if (e !== J_OK) {
      this.flashFull = true;
      this.counters.flashFull++;
      return false;
    }
    this.flashFull = false;
    this.appends++;
    return true;
  }

  private snapshot(): CborValue[] {
    const rq = this.requests;
    const rows: CborValue[] = [];
    for (let i = 0; i < MAX_REQUESTS; i++) {
      if (rq.get(i, F_STATE) === RQ_FREE) continue;
      rows.push([rq.get(i, F_ID), rq.get(i, F_CLIENT), rq.get(i, F_KIND), rq.get(i, F_EARLIEST), rq.get(i, F_END), rq.get(i, F_PACKETS), rq.get(i, F_WINDOW), rq.get(i, F_PER_SLOT), rq.profiles[i] ? (rq.profiles[i] as Uint8Array) : null, rq.get(i, F_STATE), rq.get(i, F_RETRY_AT), rq.get(i, F_REJECTS), rq.get(i, F_DONE), rq.get(i, F_EMERGENCY)]);
    }
    const plans: CborValue[] = [];
    for (let c = 1; c <= this.clients; c++) if (this.plan.to[c - 1] > 0) plans.push([c, this.plan.from[c - 1], this.plan.lease[c - 1], this.plan.slice(c)]);
    const acks: CborValue[] = [];
    for (let k = 0; k < this.pendingAcks.length; k++) acks.push([this.pendingAcks[k].slot, this.pendingAcks[k].timeS, this.pendingAcks[k].body]);
    const run: CborValue[] = [];
    for (let c = 1; c <= this.clients; c++) if (this.running[c - 1] > 0) run.push(c, this.running[c - 1]);
    return [OP_SNAPSHOT, rq.lastId, this.timeKnown() ? Math.floor(this.nowS()) : 0, this.slot, this.baseline, rows, plans, acks, run];
  }

  /** Folds the state into a new snapshot: J_OK, or why not (a Storage that did not keep the file: J_FULL). */
  /**
   * The state as one CBOR snapshot, or undefined when it does not encode. At
   * most 32 requests + 16 plans of 144 slots: well under 8 KB, and mostly far
   * less, so a buffer of the usual size first.
   */
  private encodeSnapshot(): Uint8Array | undefined {
    const snap = this.snapshot();
    let buf = new Uint8Array(2048);
    let n = encodeCbor(snap, buf, 0, 5);
    if (n < 0) {
      buf = new Uint8Array(JOURNAL_FILE_BYTES);
      n = encodeCbor(snap, buf, 0, 5);
    }
    return n < 0 ? undefined : buf.subarray(0, n);
  }

  private fold(): number {
    const snap = this.encodeSnapshot();
    if (!snap) return 1;
    try {
      return this.journal.fold(snap);
    } catch (e) {
      this.hal.console.print("journal: " + (e && (e as { message?: string }).message));
      return J_FULL;
    }
  }

  /** Rebuilds the state from the latest snapshot and the entries after it. */
  private restoreJournal(): void {
    const j = this.journal.load();
    const n = j.entries.length;
    if (j.snapshot) this.applyEntry(j.snapshot);
    for (let k = 0; k < n; k++) this.applyEntry(j.entries[k]);
    // A slot that was current when power went is closed at the next boundary, from the journaled baseline.
    this.slot = 0;
  }

  private applyEntry(bytes: Uint8Array): void {
    const d = decodeCbor(bytes, 5, 320);
    if (d.e !== 0 || !Array.isArray(d.v)) return;
    const f = d.v as CborValue[];
    const rq = this.requests;
    const op = f[0];
    if (op === OP_SNAPSHOT) {
      rq.lastId = f[1] as number;
      this.baseline = (f[4] as number[]).slice();
      const rows = f[5] as CborValue[][];
      for (let k = 0; k < rows.length; k++) {
        const r = rows[k];
        const row = rq.add(r[0] as number, { client: r[1] as number, kind: r[2] as number, earliest: r[3] as number, end: r[4] as number, packets: r[5] as number, window: r[6] as number, perSlot: r[7] as number, profile: copyBytes(r[8]) }, r[9] as number);
        if (row >= 0) {
          rq.set(row, F_RETRY_AT, r[10] as number);
          rq.set(row, F_REJECTS, r[11] as number);
          rq.set(row, F_DONE, r[12] as number);
          rq.set(row, F_EMERGENCY, r[13] as number);
        }
      }
      const plans = f[6] as CborValue[][];
      for (let k = 0; k < plans.length; k++) this.plan.set(plans[k][0] as number, plans[k][1] as number, plans[k][3] as Uint8Array, plans[k][2] as number);
      const acks = f[7] as CborValue[][];
      this.pendingAcks.length = 0;
      for (let k = 0; k < acks.length; k++) this.pendingAcks.push({ slot: acks[k][0] as number, timeS: acks[k][1] as number, body: (acks[k][2] as number[]).slice(), id: 0 });
      const run = f[8] as number[];
      for (let k = 0; k + 1 < run.length; k += 2) if (run[k] >= 1 && run[k] <= this.clients) this.running[run[k] - 1] = run[k + 1];
    } else if (op === OP_REQUEST) {
      if (rq.find(f[1] as number) < 0) rq.add(f[1] as number, { client: f[2] as number, kind: f[3] as number, earliest: f[4] as number, end: f[5] as number, packets: f[6] as number, window: f[7] as number, perSlot: f[8] as number, profile: copyBytes(f[9]) }, RQ_PENDING);
    } else if (op === OP_STATE) {
      const row = rq.find(f[1] as number);
      if (row < 0) return;
      rq.set(row, F_RETRY_AT, f[3] as number);
      rq.set(row, F_REJECTS, f[4] as number);
      rq.set(row, F_DONE, f[5] as number);
      rq.set(row, F_EMERGENCY, f[6] as number);
      if (f[2] === RQ_DELIVERED || f[2] === RQ_EXPIRED) rq.free(row);
      else rq.set(row, F_STATE, f[2] as number);
    } else if (op === OP_SCHEDULE) {
      if ((f[1] as number) <= this.clients) this.plan.set(f[1] as number, f[2] as number, f[4] as Uint8Array, f[3] as number);
    } else if (op === OP_SLOT) {
      this.baseline = (f[3] as number[]).slice();
      const body = f[4] as number[];
      if (body.length > 0) {
        if (this.pendingAcks.length >= MAX_PENDING_ACKS) this.pendingAcks.shift();
        this.pendingAcks.push({ slot: f[1] as number, timeS: f[2] as number, body: body.slice(), id: 0 });
      }
    } else if (op === OP_ACKED) {
      for (let k = 0; k < this.pendingAcks.length; k++) {
        if (this.pendingAcks[k].slot === f[1]) {
          this.pendingAcks.splice(k, 1);
          break;
        }
      }
    } else if (op === OP_RUN) {
      if ((f[1] as number) >= 1 && (f[1] as number) <= this.clients) this.running[(f[1] as number) - 1] = f[2] as number;
    }
  }

  // ---- backup, compaction, restore

  /**
   * Called every minute: when free flash runs low, back up to the server
   * at a quiet moment (nothing pending), and compact once it holds it.
   */
  maintain(): void {
    const flash = this.hal.flash;
    const free = flash.getFree();
    const trash = flash.getTrash();
    if (free >= FLASH_RESERVE_BYTES || trash === 0 || (trash < TRASH_WORTH_BYTES && free >= JOURNAL_FILE_BYTES + 64) || !this.ready()) return;
    if (this.pendingAcks.length > 0 || (this.link as Link).queued() > 0) return;
    for (let i = 0; i < MAX_REQUESTS; i++) if (this.requests.get(i, F_STATE) === RQ_PENDING) return;
    // The mark is the journal's seq: a server that later echoes a higher one
    // (after a HELLO) tells a router whose store went back (onStored).
    this.backupMark = this.journal.seq;
    this.backupAppends = this.appends;
    const t = this.totals();
    this.send(M.BACKUP, [this.backupMark, this.meter.bootCount, t], 1, Math.floor(this.nowS()));
  }

  /**
   * The server holds everything a wipe would lose: compact now, between
   * pulses. First the state is folded into a fresh snapshot and the older
   * journal file erased, so that whatever a cut compaction leaves behind
   * (nothing, a damaged store, the current file cut short) is this backed-up
   * state or is detected at boot (OP_COMPACT last) and restored.
   */
  private onStored(mark: number): void {
    if (mark > this.journal.seq) {
      // The server holds a backup newer than this journal: the store went
      // back (a cut compaction can bring an older state back unnoticed).
      this.hal.console.print("the journal is older than the server's backup: erasing the store and restoring from the server");
      try {
        this.hal.flash.erase(COMPACT_FLAG);
        this.hal.flash.write(COMPACT_FLAG, new Uint8Array([1]));
      } catch {
        // The flag is how the next boot knows; without room for it, the next HELLO tells again.
      }
      this.hal.system.restart();
      return;
    }
    if (mark !== this.backupMark || this.appends !== this.backupAppends) return;
    this.backupAppends = -1;
    this.meter.flush();
    try {
      this.hal.flash.write(COMPACT_FLAG, new Uint8Array([mark & 0xff]));
    } catch {
      // No room even for the flag (a full flash): a cut is then found by the backup mark.
    }
    // When there is room: a fresh snapshot first, the older file erased.
    if (this.fold() === J_OK) this.journal.dropOther();
    this.write([OP_COMPACT, mark]);
    try {
      this.hal.flash.compact();
    } catch {
      return;
    }
    this.counters.compactions++;
    if (this.fold() === J_OK) this.flashFull = false;
    this.meter.flush();
    this.hal.flash.erase(COMPACT_FLAG);
  }

  private onRestore(f: CborValue[], envSlot: number): void {
    if (!this.seqUnknown) return;
    if (!this.seq.skipTo((f[1] as number) + 1)) return;
    this.seqUnknown = false;
    const mark = f[7] as number;
    if (!this.awaitingRestore) {
      // Only the seq was lost; the journal must not be older than the backup.
      if (mark > this.journal.seq) this.onStored(mark);
      else this.resendAll();
      return;
    }
    this.awaitingRestore = false;
    this.counters.restores++;
    this.requests.lastId = f[2] as number;
    this.meter.adopt(f[3] as number, f[4] as number[]);
    const items = f[6] as CborValue[][];
    for (let k = 0; k < items.length; k++) {
      const r = requestOfItem(items[k], envSlot);
      if (r.client > this.clients || r.kind !== this.kindOf[r.client - 1] || this.requests.find(items[k][0] as number) >= 0) continue;
      this.requests.add(items[k][0] as number, r, RQ_ACCEPTED);
    }
    // The new journal numbers on above the server's backup mark.
    const snap = this.encodeSnapshot();
    if (snap) {
      try {
        this.journal.restore(snap, mark);
      } catch {
        this.flashFull = true;
      }
    }
    this.hal.console.print("restored from the server: " + items.length + " open requests, boot " + this.meter.bootCount);
    this.resendAll();
  }

  /** True when flash refused a save: the journal, the meter totals or the seq bound (REC_FULL). */
  flashIsFull(): boolean {
    return this.flashFull || this.meter.lastSaveError !== 0 || this.seq.lastSaveError !== 0;
  }

  /** Status for R.status(). */
  summary(): { link: string; time: number; slot: number; requests: number; pendingAcks: number; flashFull: boolean } {
    return {
      link: !this.link ? "none" : this.link.isUp() ? (this.seqUnknown ? "restoring" : this.timeKnown() ? "online" : "waiting for time") : "offline",
      time: this.timeKnown() ? Math.floor(this.nowS()) : 0,
      slot: this.slot,
      requests: this.requests.count(),
      pendingAcks: this.pendingAcks.length,
      flashFull: this.flashIsFull(),
    };
  }
}
