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
//
// Connectivity (design section 3, firmware/connectivity.ts): boot, online,
// failsafe, local. The states change what runs only through the plan: in
// boot and failsafe the cached schedule runs until its lease ends (in boot
// only once the time is known), and nothing new is admitted. A request
// from the household is still taken in every state: journaled and pending,
// sent to the server whenever it can hear (then with the rest), and never
// dropped; in local the local server may admit it. An emergency is sent
// like any message, when the server can hear. A heartbeat that ends an
// outage on a connection that stayed up is answered with a HELLO, whose
// answer brings the fresh schedules that take the router back online.

import type { Hal } from "../hal/types";
import type { Relays } from "../hal/relays";
import type { PulseMeter } from "./meter";
import { CLIENT_KINDS, DEFAULT_FAILSAFE_MISSED, DEFAULT_LOCAL_AFTER_S, DEFAULT_TELEMETRY_S, METER_ROLES, type BrokerConfig, type RouterConfig } from "./config";
import { CS_LOCAL, CS_ONLINE, Connectivity, connName } from "./connectivity";
import type { SeqStore } from "./seq";
import { J_FOLD, J_FULL, J_OK, Journal } from "../hal/journal";
import { Link } from "./link";
import { LocalScheduler } from "./local";
import { HORIZON, MAX_PER_SLOT, Plan } from "./plan";
import {
  ESCALATE_AFTER,
  F_CLIENT,
  F_DONE,
  F_EMERGENCY,
  F_END,
  F_ID,
  F_KIND,
  F_REJECTS,
  F_RETRY_AT,
  F_SENT,
  F_STATE,
  MAX_REQUESTS,
  RQ_ACCEPTED,
  RQ_DELIVERED,
  RQ_EXPIRED,
  RQ_PENDING,
  RQ_REJECTED,
  RQ_RUNNING,
  RQ_SCHEDULED,
  RequestTable,
} from "./requests";
import { decodeCbor, encodeCbor } from "../protocol/cbor";
import type { CborValue } from "../protocol/cbor";
import { Peer, seal } from "../protocol/envelope";
import * as M from "../protocol/messages";
import { STATUS_OFFLINE, routerTopic } from "../protocol/topics";

/** The Storage base name of the journal (two files, .0 and .1). */
export const JOURNAL_NAME = "sden.jnl";
export const JOURNAL_FILE_BYTES = 8192;
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

// Request states as bits, for RequestTable.is().
const B_PENDING = 1 << RQ_PENDING;
const B_ACCEPTED = 1 << RQ_ACCEPTED;
const B_SCHEDULED = 1 << RQ_SCHEDULED;
const B_RUNNING = 1 << RQ_RUNNING;
/** Every state of an open request. */
const B_OPEN = 0xfe;

// Journal entries: CBOR arrays, first item the operation. Every entry is
// written first, then applied to the state in RAM by the code that replays
// it at boot (commit: write, then applyEntry). A snapshot is a list of
// entries that rebuild the state.
/** [OP_SNAPSHOT, lastReqId, [baseline Wh], [entries: OP_ROW, OP_SCHEDULE, OP_RUN, OP_SLOT (pending acks)]] */
const OP_SNAPSHOT = 0;
/**
 * A request: [OP_ROW, profile|null, id, client, kind, earliest, end, packets, window, perSlot, state, retryAtS, rejects, done, emergency]
 * (requests.ts, F_ID...F_EMERGENCY; a new request's ends at its state, the rest 0).
 */
const OP_ROW = 1;
/** A request's new state: [OP_STATE, id, state, retryAtS, rejects, done, emergency]. */
const OP_STATE = 2;
/** A schedule taken: [OP_SCHEDULE, client, first, leaseEnd, counts]. */
const OP_SCHEDULE = 3;
/** A slot closed, its ack pending when the body has deliveries: [OP_SLOT, slot, timeS, [totals Wh] | null (in a snapshot), [client, packets, wh, ...]]. */
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
/** A decision of the local server, kept for the report to the cloud (LOCAL_REPORT): [OP_LOCAL, id, client, outcome (M.LR_*), packets]. */
const OP_LOCAL = 8;
/** The local report reached the broker: [OP_REPORTED]. */
const OP_REPORTED = 9;
/** Slots a local plan is leased for (made again every slot while the router is local): after a reboot it runs at most this long. */
const LOCAL_LEASE = 6;
/** A flag file written just before a Storage compaction and erased after it (firmware/router.ts looks for it at boot). */
export const COMPACT_FLAG = "sden.cmp";

/** Why the router refused a request from the household (R.request, local topic). */
export const REQ_ERRORS = ["", "unknown client", "wrong kind for the client", "no time yet from the server", "window outside the horizon or in the past", "above the client's rated power", "too many open requests", "flash full: cannot journal", "bad shape"];
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

export function ascii(s: string): Uint8Array {
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);
  return b;
}

/** The answer for a request id, or for minus a refusal's code (REQ_ERRORS), with that text or a more precise one. */
function answer(id: number, error?: string): RequestAnswer {
  const code = id < 0 ? -id : 0;
  return { ok: !code, id: code ? 0 : id, error: error || REQ_ERRORS[code], code: code };
}

export interface AgentOptions {
  hal: Hal;
  /** Its broker is set: the router starts an agent only then (firmware/router.ts, startAgent). */
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
  /** Clients the server may know from before an unpairing (firmware/pairing.ts): the ids above the configuration's are reported unpaired after HELLO. */
  knownClients?: number;
}

/** Counters for the simulator and the tests. */
export interface AgentCounters {
  submitted: number;
  accepted: number;
  rejected: number;
  delivered: number;
  expired: number;
  emergencies: number;
  schedules: number;
  schedulesRefused: number;
  acks: number;
  framesRefused: number;
  compactions: number;
  restores: number;
}

export class Agent {
  readonly hal: Hal;
  readonly relayBank: Relays;
  readonly pulseMeter: PulseMeter;
  readonly seq: SeqStore;
  readonly journal: Journal;
  readonly requests: RequestTable;
  /** The same table, by a name the build shortens. */
  private readonly rq: RequestTable;
  readonly plan: Plan;
  /** Set by wire(). */
  link!: Link;
  readonly peer: Peer;
  readonly lim: M.Limits;
  readonly counters: AgentCounters;
  private readonly macKey: Uint8Array;
  private readonly version: string;
  private readonly rand: () => number;
  private readonly scratch: Uint8Array;
  private readonly clientCount: number;
  /** Per client id - 1: relay channel, sub-meter input (-1: none), kind code, rated power, name, priority, standing Wh. */
  private readonly relayOf: Int8Array;
  private readonly meterOf: Int8Array;
  private readonly kindOf: Uint8Array;
  private readonly ratedWOf: Float64Array;
  private readonly names: string[];
  private readonly prioOf: Uint8Array;
  private readonly standWhOf: Uint32Array;
  /** Per meter: its role's index in METER_ROLES. */
  private readonly meterRole: Uint8Array;
  /** The configuration's scalars. */
  private readonly slotS: number;
  private readonly whPerPacket: number;
  private readonly fuseW: number;
  private readonly heartbeatPeriodS: number;
  private readonly telemetryPeriodS: number;
  /** "sden/v1/<grid>/<router>/": the router's topics are this and a leaf (validateConfig checked the ids). */
  private readonly topic: string;
  /** Server time minus board time, s; undefined (NaN in a sum, false in a comparison) until a heartbeat set it. */
  private declare offsetS: number;
  /**
   * The slot the router is in; 0 until the time is known (the heartbeat
   * that sets it runs tick() at once, which sets this).
   */
  private curSlot = 0;
  /** Meter totals at the start of the current slot. */
  private baseline: number[] = [];
  /** Per client: ms its relay was on in the current slot. */
  private readonly onMs: Float64Array;
  /** Per client: the request id of its running non-interruptible program, 0 when none. */
  private readonly runId: Float64Array;
  /** Pending acks, oldest first: [slot, envelope timeS, body, the link's id while in flight this boot, else 0]. */
  private readonly ackQueue: CborValue[][] = [];
  // Fields declared without a value start undefined (no code): falsy until set.
  private declare batchTimer: number;
  private declare tickTimer: number;
  /**
   * The seq of this session's HELLO; -1 before one went out, which no echo
   * (an unsigned seq) equals, and which a heartbeat without an echo (its
   * third item undefined) does not equal either.
   */
  private helloSeq = -1;
  private awaitingRestore: boolean;
  /**
   * The router cannot tell which seqs it used (no seq record, or the server
   * refused its HELLO as a replay): its HELLO asks for RESTORE, whose
   * last-seq it continues above; the rest of a RESTORE is taken only when
   * the store was wiped too.
   */
  private seqUnknown: boolean;
  private declare lastTelemetryS: number;
  private declare backupMark: number;
  /** this.appends when the backup was sent (undefined: none to compact for). */
  private declare backupAppends: number;
  /** Journal appends since boot (tells whether anything changed since a backup). */
  private appends = 0;
  /** The journal refused a write: what the router does now is kept in RAM only. */
  flashFull = false;
  /** What the console was last told about flash (tick). */
  private flashReported = false;
  /** Consumption per slot of the household without unmetered clients (Wh), for "main meter minus the known rest". */
  private baseloadWh = -1;
  private declare lastTickMs: number;
  /** When the last HELLO went out (board ms): without an answer it is sent again. */
  private declare helloAtMs: number;
  /** The server answered this session's HELLO (its heartbeat echoed it). */
  private declare answered: boolean;
  /** Clients whose pairing report the link has taken this boot: the server must know a client before its requests. */
  private paired = 0;
  /** The local server (firmware/local.ts): its forecasts learn from every slot the router meters. */
  /** The local server. Its hint (per request row it refused: the slot by which it could be done, were its end moved there) is what R.requests() shows as doneBy; decide() keeps it for a local refusal and clears it for any other verdict. */
  readonly ls: LocalScheduler;
  /** Its decisions to report when the cloud is back: [id, client, outcome (M.LR_*), packets, ...]. */
  private lr: number[] = [];
  /** The slot of the last local plan (undefined: none); whether one ran since the last reconciliation; the link's id of the report in flight. */
  private declare localAt: number;
  private declare localRan: boolean;
  private declare reportId: number;
  /** Board s of the last report to the cloud (undefined: none); see plansLocally(). */
  private declare reportedS: number;
  /** The configuration's localOnly, which R.island(false) goes back to. */
  private readonly cfgLocal: boolean;
  /** R.island(): the grid is down (no import). (R.local(), localOnly: connectivity.only.) */
  private declare islanded: boolean;
  /** R.battery(): the home battery's stored Wh, power W and reserve Wh (0: no battery). */
  private readonly batt = new Float64Array(3);
  /** Pairing reports after HELLO: a client's, or [id, 0] above clientCount. */
  private readonly reports: number;
  /** The connectivity state (firmware/connectivity.ts), and its transitions already noted (noteConn). */
  readonly connectivity: Connectivity;
  private connN = 0;
  /** Import the local server may plan for, W (config importW; a name of its own, which the build shortens). */
  private readonly importAllowW: number;

  constructor(o: AgentOptions) {
    const hal = (this.hal = o.hal);
    const c = o.config;
    const cl = c.clients || [];
    const n = (this.clientCount = cl.length);
    this.reports = Math.max(n, o.knownClients || 0);
    this.relayBank = o.relays;
    this.pulseMeter = o.meter;
    this.seq = o.seq;
    this.macKey = o.key;
    this.version = o.version.substring(0, 32);
    this.rand = o.random;
    this.awaitingRestore = o.wiped;
    // The router says wiped only when no seq record was found either.
    this.seqUnknown = o.seqUnknown;
    this.slotS = c.slotMin * 60;
    this.whPerPacket = c.packetWh;
    this.fuseW = c.fuseLimitW;
    this.heartbeatPeriodS = c.heartbeatS;
    this.telemetryPeriodS = c.telemetryS || DEFAULT_TELEMETRY_S;
    // validateConfig checked the ranges: 0 is not a valid value of either, so || only fills in absent ones.
    this.cfgLocal = !!c.localOnly;
    this.connectivity = new Connectivity(c.heartbeatS * (c.failsafeMissed || DEFAULT_FAILSAFE_MISSED), c.localAfterS || DEFAULT_LOCAL_AFTER_S, this.cfgLocal, this.upS());
    this.importAllowW = c.importW === undefined ? c.fuseLimitW : c.importW;
    this.relayOf = new Int8Array(n);
    this.meterOf = new Int8Array(n);
    this.kindOf = new Uint8Array(n);
    this.ratedWOf = new Float64Array(n);
    this.names = cl.map((k) => k.name);
    this.prioOf = new Uint8Array(n);
    this.standWhOf = new Uint32Array(n);
    this.onMs = new Float64Array(n);
    this.runId = new Float64Array(n);
    const maxPerSlot = new Uint16Array(n + 1);
    for (let i = 0; i < n; i++) {
      const k = cl[i];
      const w = (this.ratedWOf[i] = c.relays[k.relay].ratedW);
      this.prioOf[i] = k.priority;
      // Absent (undefined) is stored as 0.
      this.standWhOf[i] = k.standingWh as number;
      this.relayOf[i] = k.relay;
      this.meterOf[i] = k.meter;
      // M.KIND_PROFILE, KIND_ENERGY, KIND_THERMAL are 1, 2, 3 in CLIENT_KINDS' order.
      this.kindOf[i] = CLIENT_KINDS.indexOf(k.kind) + 1;
      maxPerSlot[i + 1] = Math.min(MAX_PER_SLOT, Math.max(1, Math.floor((w * c.slotMin) / 60 / c.packetWh)));
    }
    this.lim = { horizonSlots: HORIZON, maxPerSlot: maxPerSlot };
    // The arrow lives only for this call (no closure is kept).
    this.meterRole = new Uint8Array(c.meters.map((m) => METER_ROLES.indexOf(m.role)));
    this.counters = { submitted: 0, accepted: 0, rejected: 0, delivered: 0, expired: 0, emergencies: 0, schedules: 0, schedulesRefused: 0, acks: 0, framesRefused: 0, compactions: 0, restores: 0 };
    // Frames are at most MAX_FRAME_BYTES; journal entries are smaller.
    this.scratch = new Uint8Array(MAX_FRAME_BYTES);
    this.requests = this.rq = new RequestTable();
    this.plan = new Plan(n);
    this.ls = new LocalScheduler(n, this.ratedWOf, this.prioOf, maxPerSlot, c.slotMin, c.packetWh, c.fuseLimitW);
    this.peer = new Peer(o.key, hal.system.sha256, this.lim, o.seq.recvLast);
    // The state: the latest snapshot and the entries after it.
    const j = (this.journal = o.journal).load();
    if (j.snapshot) j.entries.unshift(j.snapshot);
    for (let k = 0; k < j.entries.length; k++) {
      const d = decodeCbor(j.entries[k], 5, 320);
      if (d.e === 0) this.applyEntry(d.v as CborValue[]);
    }
    // The slot that was current when power went is not closed: the first
    // slot boundary after boot starts metering afresh from the totals then.
    this.topic = routerTopic(c.gridId, c.routerId, "");
    this.lastTickMs = hal.clock.nowMs();
    this.wire(c.broker as BrokerConfig, c.gridId + "-" + c.routerId);
    // A program that was running when power went goes on at once.
    for (let i = 0; i < n; i++) if (this.runId[i]) this.relayBank.resume(this.relayOf[i]);
    this.applyRelays();
    this.link.start();
  }

  // Callbacks are made in a method of their own: an Espruino closure keeps its
  // whole scope chain, and one made in the constructor would keep the
  // options, and with them every parsed configuration record, alive.

  /** Makes the link and starts the tick (every second). */
  private wire(b: BrokerConfig, clientId: string): void {
    const hal = this.hal;
    const topic = this.topic;
    const status = topic + "status";
    const local = topic + "local";
    this.tickTimer = hal.clock.setInterval(() => this.tick(), 1000);
    this.link = new Link({
      clock: hal.clock,
      // Both HALs give connect as an arrow function (no `this`): passed as it is, without a wrapper closure.
      connect: hal.connect,
      host: b.host,
      port: b.port,
      clientId: clientId,
      user: b.user,
      password: b.password,
      keepAliveS: b.keepAliveS,
      will: { topic: status, payload: ascii(STATUS_OFFLINE) },
      online: { topic: status, payload: ascii("online") },
      subscriptions: [topic + "down", local],
      maxFrameBytes: MAX_FRAME_BYTES,
      maxQueue: MAX_QUEUE,
      backoffMinMs: 1000,
      backoffMaxMs: 60000,
      random: this.rand,
      retryMs: 20000,
      onMessage: (t, payload) => (t === local ? this.onLocal(payload) : this.onFrame(payload)),
      onState: (up) => this.onLink(up),
      // The broker took a message: when it is a pending ack, that ack is done.
      onAcked: (id) => {
        if (id === this.reportId) {
          // Once: link ids wrap, and a later message's id must not clear a later report.
          this.reportId = 0;
          this.commit([OP_REPORTED], true);
        }
        const q = this.ackQueue;
        for (let k = 0; k < q.length; k++) {
          if (q[k][3] === id) {
            this.commit([OP_ACKED, q[k][0]], true);
            this.counters.acks++;
            return;
          }
        }
      },
    });
  }

  /** Unix s of the server's time, or NaN before the first heartbeat. */
  nowS(): number {
    return this.upS() + this.offsetS;
  }

  /** Seconds of the board's clock (the connectivity periods run on it, not on the server's time). */
  upS(): number {
    return this.hal.clock.nowMs() / 1000;
  }

  /**
   * R.local(on): act as local server even when the server is there (on),
   * or again only when it is gone. Until the next boot; the config's
   * localOnly is the lasting switch. The state it leaves.
   */
  setLocal(on: boolean): string {
    if (on !== !!on) return "on: must be true or false";
    this.connectivity.setLocal(on, this.upS());
    this.noteConn();
    return connName(this.connectivity.st);
  }

  /**
   * After every event of the connectivity state: a transition is printed
   * and told to the server in telemetry as soon as it can hear. (The local
   * server starts and stops on this.connectivity.st.)
   */
  private noteConn(): void {
    const k = this.connectivity;
    if (k.n === this.connN) return;
    this.connN = k.n;
    this.lastTelemetryS = NaN;
    this.hal.console.print("conn " + connName(k.st) + ": " + connName(k.why, true));
  }

  /** The current absolute slot (0 before the time is known). */
  currentSlot(): number {
    return Math.floor(this.nowS() / this.slotS) || 0;
  }

  stop(): void {
    this.hal.clock.clearInterval(this.tickTimer);
    if (this.batchTimer) this.hal.clock.clearTimeout(this.batchTimer);
    this.link.close();
  }

  // ---- the household's requests

  /**
   * A request in the household's units (console, local topic): minutes from
   * now, Wh, W. Converted to slots and packets, checked against the client
   * (in this order: the spec, the time, the window, then the packets per
   * slot, a thermal band's window and power), then submitted.
   */
  request(spec: RequestSpec): RequestAnswer {
    let client = 0;
    for (let i = 0; i < this.clientCount; i++) if (this.names[i] === spec.client || i + 1 === spec.client) client = i + 1;
    if (!client) return answer(-RE_CLIENT, "unknown client " + JSON.stringify(spec.client));
    const kind = this.kindOf[client - 1];
    const slotMin = this.slotS / 60;
    const packetWh = this.whPerPacket;
    const max = this.lim.maxPerSlot[client];
    // A value that is not a number fails a comparison below (NaN), or is taken as the number it reads as.
    const startMin = spec.startMin || 0;
    if (!(spec.endMin > startMin && startMin >= 0)) return answer(-RE_WINDOW, "endMin must be after startMin (minutes from now)");
    const now = this.currentSlot();
    // At or after now, as startMin >= 0.
    const earliest = now + Math.ceil(startMin / slotMin);
    const slots = now + Math.floor(spec.endMin / slotMin) - earliest;
    let profile: Uint8Array | undefined;
    let packets = 0;
    // A profile: at most max in a slot, over its own length (which must fit the window).
    let perSlot = max;
    // Slots over which packets are counted: the window of a thermal band.
    let over = slots;
    if (kind === M.KIND_PROFILE) {
      const p = spec.profileWh;
      profile = new Uint8Array(p instanceof Array ? p.length : 0);
      for (let i = 0; i < profile.length; i++) {
        const n = Math.ceil(p![i] / packetWh);
        if (!(n >= 0 && n <= max)) return answer(-RE_POWER, "profileWh[" + i + "] must be 0-" + max * packetWh + " Wh");
        packets += profile[i] = n;
      }
      if (!packets) return answer(-RE_SHAPE, "profileWh must list Wh per slot, not all 0");
      over = profile.length;
    } else {
      const key = kind === M.KIND_ENERGY ? "wh" : "whPerWindow";
      const wh = spec[key];
      if (!((wh as number) > 0)) return answer(-RE_SHAPE, key + " must be a positive number of Wh");
      packets = Math.ceil((wh as number) / packetWh);
      perSlot = Math.floor(((typeof spec.maxW === "number" ? spec.maxW : this.ratedWOf[client - 1]) * slotMin) / 60 / packetWh);
      if (kind === M.KIND_THERMAL) over = Math.round((spec.windowMin as number) / slotMin);
    }
    // F_WINDOW and F_PER_SLOT are read only for the kinds that have them (RequestTable.item).
    return answer(
      -(!now ? RE_TIME : !(slots > 0 && earliest + slots <= now + HORIZON) ? RE_WINDOW : !(perSlot >= 1) ? RE_SHAPE : !(over >= 1 && over <= slots) ? RE_WINDOW : perSlot > max || packets > perSlot * over ? RE_POWER : 0) ||
        this.submit([0, client, kind, earliest, earliest + slots, packets, over, perSlot, RQ_PENDING], profile),
    );
  }

  /**
   * Takes a checked request (request(), the client agents): journals it and
   * queues it for the server. r holds the fields F_ID (set here) to
   * F_STATE. Its id, or minus the reason (REQ_ERRORS).
   */
  private submit(r: number[], profile?: Uint8Array): number {
    if (this.rq.count() >= MAX_REQUESTS) return -RE_FULL;
    r[F_ID] = this.rq.nextId();
    if (!this.commit(([OP_ROW, profile || null] as CborValue[]).concat(r), false)) return -RE_FLASH;
    this.counters.submitted++;
    this.scheduleBatch();
    return r[F_ID];
  }

  private scheduleBatch(): void {
    if (this.batchTimer) return;
    this.batchTimer = this.hal.clock.setTimeout(() => {
      this.batchTimer = 0;
      this.sendRequests();
    }, AGGREGATE_MS);
  }

  /**
   * Sends requests in one REQUEST: every pending one not yet sent (or sent
   * long ago). Reconciling (reconcileAt: the current slot), every open one
   * instead, asking for what fits what is left of its window; each is
   * pending again unless its program runs (which may go on past its end).
   */
  private sendRequests(reconcileAt?: number): void {
    // Reconciling: resendAll() checked these (and just after a report the router does not plan locally).
    if (!reconcileAt) {
      if (this.plansLocally()) return this.localPlan();
      if (!this.ready() || this.paired < this.clientCount) return;
    }
    // The slot is never 0 once the server answered (ready()).
    const all = !!reconcileAt;
    const now = reconcileAt || this.currentSlot();
    const nowS = Math.floor(this.nowS());
    const items: CborValue[][] = [];
    const rq = this.rq;
    for (let i = 0; i < MAX_REQUESTS && items.length < M.MAX_ITEMS; i++) {
      const st = rq.get(i, F_STATE);
      // A free row (state 0) reads no runId[-1] (firmware/plan.ts: on 2v29 a typed array read at -1 throws).
      const running = st && this.runId[rq.get(i, F_CLIENT) - 1] === rq.get(i, F_ID);
      const ended = rq.get(i, F_END) <= now;
      // A row in use is open (a final state frees it). F_SENT is 0 when not sent this boot: long ago.
      if (all ? !st || (ended && !running) : st !== RQ_PENDING || nowS - rq.get(i, F_SENT) < RESEND_S || ended) continue;
      const it = rq.item(i, now) as number[];
      if (all) {
        const span = it[4] - it[3];
        let ok: boolean;
        if (it[2] === M.KIND_PROFILE) {
          const rest = it[5] as unknown as number[];
          if (running) it[4] = Math.max(it[4], rest.length);
          let sum = 0;
          for (let k = 0; k < rest.length; k++) sum += rest[k];
          ok = sum > 0 && rest.length <= it[4] - it[3];
        } else {
          if (it[2] === M.KIND_THERMAL) it[6] = Math.min(it[6], span);
          ok = (it[5] = Math.min(it[5], it[it.length - 1] * (it[2] === M.KIND_THERMAL ? it[6] : span))) > 0;
        }
        if (!ok) continue;
        if (!running) this.setState(i, RQ_PENDING);
      }
      items.push(it);
    }
    // An item starts with its request's id. Reconciling, they count as sent whatever the link said.
    if (items.length && (this.send(M.REQUEST, items) || all)) for (let k = 0; k < items.length; k++) rq.set(rq.find(items[k][0] as number), F_SENT, nowS);
  }

  /**
   * A request from a smart appliance on the local topic: CBOR
   * [client, kind, startMin, endMin, ...] with, by kind, [profileWh...] /
   * wh, maxW / whPerWindow, windowMin, maxW (kind + 4 items in all). The
   * answer goes to the local answer topic: [client, id (0: refused), code (REQ_ERRORS)].
   */
  private onLocal(payload: Uint8Array): void {
    // null when the payload does not decode.
    const f = decodeCbor(payload, 3, 160).v as CborValue[];
    let shaped = Array.isArray(f) && f.length >= 5 && f.length <= 7;
    for (let i = 0; shaped && i < 4; i++) shaped = typeof f[i] === "number";
    let ans = answer(-RE_SHAPE);
    const c = shaped ? (f[0] as number) : 0;
    if (shaped) {
      const kind = f[1] as number;
      // Items of the wrong count: no payload, refused as "bad shape" after the client is checked.
      const v = f.length === kind + 4 ? f[4] : undefined;
      ans =
        c >= 1 && c <= this.clientCount && kind !== this.kindOf[c - 1]
          ? answer(-RE_KIND)
          : this.request({ client: c, startMin: f[2] as number, endMin: f[3] as number, profileWh: v as number[], wh: v as number, whPerWindow: v as number, windowMin: f[5] as number, maxW: f[kind + 3] as number });
    }
    const out = new Uint8Array(16);
    const n = encodeCbor([c >= 0 && c <= 0xffff ? c : 0, ans.id, ans.code], out, 0, 2);
    if (n > 0) this.link.publish(this.topic + "local/answer", out.subarray(0, n), 1);
  }

  // ---- the wire

  /**
   * True when messages can go to the server: connected, restored, with time,
   * and this session's HELLO answered. A broker that lost its sessions in a
   * restart drops what is published before the server has subscribed again,
   * yet acknowledges it: the answer to HELLO shows the server is listening.
   * That answer is a heartbeat, which sets the time if unknown, and comes
   * only while the link is up (onLink(false) clears answered).
   */
  private ready(): boolean {
    return this.answered && !this.seqUnknown;
  }

  /**
   * Seals and publishes an up message (QoS 1, telemetry QoS 0), made at
   * timeS (default: now; 0 before the time is known), with the next seq or
   * the one given: the link's id, or 0 when it was not sent.
   */
  private send(type: number, body: CborValue, timeS?: number, seq?: number): number {
    const s = seq || this.seq.nextSend();
    const frame = s ? seal(type, s, timeS || Math.floor(this.nowS()) || 0, body, this.macKey, this.hal.system.sha256, this.scratch) : 0;
    return typeof frame === "number" ? 0 : this.link.publish(this.topic + "up", frame, type === M.TELEMETRY ? 0 : 1);
  }

  private onLink(up: boolean): void {
    this.answered = false;
    if (!up) return this.connectivity.linkDown();
    // Every session starts with HELLO; its echo in a heartbeat is the proof
    // of freshness the clock waits for.
    this.helloAtMs = this.hal.clock.nowMs();
    // Not knowing its seqs: a seq of 2^40 or more, random, unique enough to be echoed.
    const seq = this.seqUnknown ? WIPED_SEQ_BASE + Math.floor(this.rand() * WIPED_SEQ_BASE) : this.seq.nextSend();
    // A save failed: no HELLO.
    if (!seq || (this.seqUnknown && !this.seq.skipTo(seq + 1))) return;
    this.helloSeq = seq;
    this.send(M.HELLO, [this.version, this.pulseMeter.bootCount, this.seqUnknown ? M.CAP_RESTORE : 0, MAX_FRAME_BYTES], 0, seq);
  }

  /** After a reconnect or a restore: pairing reports, pending requests and acks go out again. */
  private resendAll(): void {
    if (!this.ready()) return;
    // The server learns the clients from pairing reports (repeats are harmless).
    // A report the link refuses (its queue full) goes at a later tick, and requests wait for it.
    for (let i = this.paired; i < this.reports; i++) {
      if (!this.send(M.PAIRING, i < this.clientCount ? [i + 1, this.kindOf[i], this.relayOf[i], this.meterOf[i] >= 0 ? this.meterOf[i] : null, this.ratedWOf[i], this.prioOf[i], this.names[i]] : [i + 1, 0])) return;
      this.paired = i + 1;
    }
    if (!this.connectivity.only && (this.localRan || this.lr.length)) this.reconcile();
    else this.sendRequests();
    // Acks the link still holds are resent by it (DUP); the rest go now.
    this.sendDue();
  }

  /** A frame on the down topic. Never throws: a refusal is counted, NACKed when authentic, and changes nothing. */
  private onFrame(frame: Uint8Array): void {
    const peer = this.peer;
    const env = peer.check(frame);
    if (!env) {
      this.counters.framesRefused++;
      const r = peer.reason;
      // A body refused by its schema came in an authentic envelope (protocol/envelope.ts
      // checks the schema last): its seq and type are read again for the NACK.
      if (r >= M.E_SHAPE && r <= M.E_POWER && this.ready()) {
        const g = decodeCbor(frame, 5, 320).v as CborValue[];
        this.send(M.NACK_UP, [g[2], g[1], r]);
      }
      return;
    }
    const t = env.type;
    const f = env.body as CborValue[];
    const n = env.seq;
    const hello = this.helloSeq;
    // Until the clock is set from an echo of this boot's HELLO, only the
    // answers to that HELLO are taken (a replayed old message cannot be).
    if ((!this.curSlot || this.seqUnknown) && (t === M.HEARTBEAT ? f[2] : t === M.RESTORE || t === M.NACK_DOWN ? f[0] : -1) !== hello) return;
    const nackHello = t === M.NACK_DOWN && f[0] === hello && f[1] === M.HELLO;
    // Everything else but a heartbeat changes state: its seq is in flash before it is acted on
    // (a frame overtaken inside the replay window is below what is saved).
    if (!nackHello && t !== M.HEARTBEAT && !this.seq.persistRecv(n)) {
      this.counters.framesRefused++;
      return;
    }
    // An overtaken (older) heartbeat never moves the clock.
    const newest = n > peer.lastSeq;
    peer.accept(n);
    if (nackHello) {
      // The server refused this HELLO: its seq was used before (a seq record
      // lost with a power cut). Ask for the last seq it accepted.
      if (f[2] === M.E_REPLAY && !this.seqUnknown) {
        this.seqUnknown = true;
        this.onLink(true);
      }
      return;
    }
    if (t === M.HEARTBEAT) {
      this.seq.acceptRecv(n, false);
      const first = !this.curSlot;
      const echo = f[2] === hello && !this.answered;
      if (echo) this.answered = true;
      const offset = env.time - this.upS();
      // The server's whole seconds jitter against the board's clock: the
      // router's time never steps back by less than a slot (a larger step
      // is a real correction).
      if (first || (newest && (offset > this.offsetS || this.offsetS - offset > this.slotS))) this.offsetS = offset;
      if (first) this.tick();
      if (echo) this.resendAll();
      // A heartbeat that ends an outage, the connection having stayed up: a
      // HELLO, so that the server sends the fresh schedules the way back
      // needs (an echo is the answer to one; an overtaken heartbeat is old).
      if ((newest || echo) && this.connectivity.heartbeat(this.upS()) && !echo && this.answered) this.onLink(true);
      this.noteConn();
      return;
    }
    const envSlot = Math.floor(env.time / this.slotS);
    const reject = t === M.REJECT;
    if (reject || t === M.ACCEPT) {
      // ACCEPT: [id...] takes pending or rejected requests; REJECT: [id, reason, retryAfterS...] pending ones.
      const rq = this.rq;
      for (let k = 0; k < f.length; k += reject ? 3 : 1) {
        const row = rq.find(f[k] as number);
        if (row >= 0 && (((reject ? B_PENDING : B_PENDING | (1 << RQ_REJECTED)) >> rq.get(row, F_STATE)) & 1)) this.decide(row, reject, f[k + 2] as number, 0);
      }
    } else if (t === M.SCHEDULE) this.onSchedule(n, f, envSlot);
    else if (t === M.STORED) this.onStored(f[0] as number);
    else if (t === M.RESTORE) this.onRestore(f, envSlot);
    else if (t === M.NACK_DOWN && f[1] === M.REQUEST) this.counters.rejected++;
  }

  /**
   * The server's verdict on a request (or the local server's): rejected, to
   * retry after retryS, or accepted; doneBy, the local server's hint for a
   * refusal (ls.hint, what R.requests() shows), 0 for any other verdict.
   */
  private decide(row: number, reject: boolean, retryS: number, doneBy: number): void {
    const rq = this.rq;
    const h = this.ls.hint;
    if (h) h[row] = doneBy;
    if (reject) {
      this.counters.rejected++;
      rq.set(row, F_REJECTS, rq.get(row, F_REJECTS) + 1);
      rq.set(row, F_RETRY_AT, Math.floor(this.nowS()) + retryS);
    } else this.counters.accepted++;
    this.setState(row, reject ? RQ_REJECTED : RQ_ACCEPTED);
  }

  /** A request's state changes: journaled, then counted; a final state frees its row. */
  private setState(row: number, state: number): void {
    const rq = this.rq;
    if (state >= RQ_DELIVERED && (this.connectivity.st === CS_LOCAL || this.lrAt(rq.get(row, F_ID)) >= 0)) this.logLocal(row, state === RQ_DELIVERED ? M.LR_DELIVERED : M.LR_EXPIRED);
    this.commit(rq.fields(row, [OP_STATE, rq.get(row, F_ID), state], F_RETRY_AT), true);
    if (state === RQ_DELIVERED) this.counters.delivered++;
    if (state === RQ_EXPIRED) this.counters.expired++;
  }

  /**
   * A schedule: refused (NACK) for a lease already ended or a slot where
   * the relays it needs on would exceed the fuse; else journaled, then run.
   */
  private onSchedule(seq: number, f: CborValue[], envSlot: number): void {
    // Told to be the local server (R.local, R.island, localOnly): the local plan alone runs the relays.
    if (this.connectivity.only) return;
    const c = f[0] as number;
    const first = envSlot + (f[1] as number);
    const counts = f[2] as number[];
    const lease = envSlot + (f[3] as number);
    // A client the router does not know was refused by validateBody (E_CLIENT).
    let e = lease <= this.currentSlot() ? M.E_LEASE : 0;
    for (let k = 0; k < counts.length && !e; k++) {
      // Only the slots the schedule fills can go over the fuse: client c's, and the others planned then.
      let w = 0;
      for (let o = 1; counts[k] && o <= this.clientCount; o++) if (o === c || this.plan.at(o, first + k) > 0) w += this.ratedWOf[o - 1];
      if (w > this.fuseW) e = M.E_FUSE;
    }
    if (e) {
      this.counters.schedulesRefused++;
      this.send(M.NACK_UP, [seq, M.SCHEDULE, e]);
      return;
    }
    // In bytes, for the journal: counts are at most the client's packets per slot (validateBody).
    if (!this.commit([OP_SCHEDULE, c, first, lease, new Uint8Array(counts)], false)) return;
    this.counters.schedules++;
    this.connectivity.schedule(this.upS());
    this.noteConn();
    for (let i = 0; i < MAX_REQUESTS; i++) if (this.rq.is(i, c, B_ACCEPTED | B_PENDING)) this.setState(i, RQ_SCHEDULED);
    this.applyRelays();
  }

  // ---- the local server (design sections 1-3; docs/protocol.md, "Local server and reconciliation")

  /**
   * Admits, classifies and allocates every open request on the household's
   * own PV, battery and import allowance (firmware/local.ts), then runs the
   * result as it runs a schedule, through the relay safety layer. Each
   * verdict on a pending request is journaled before it is acted on, and
   * kept for the report to the cloud.
   */
  private localPlan(): void {
    const s = this.curSlot;
    if (!s) return;
    this.localAt = s;
    this.localRan = true;
    const L = this.ls;
    const rq = this.rq;
    const b = this.batt;
    const p = this.plan;
    L.reallocate(rq, s, HORIZON, b[0], b[2], b[1], this.islanded ? 0 : this.importAllowW, p);
    for (let i = 0; i < MAX_REQUESTS; i++) {
      if (rq.get(i, F_STATE) !== RQ_PENDING) continue;
      const no = L.reason[i] > 0;
      this.logLocal(i, no ? M.LR_REFUSED : M.LR_ADMITTED);
      this.decide(i, no, 3 * this.slotS, L.hint[i]);
    }
    // The plan itself is not journaled (it is made again from the requests,
    // which are): a long outage would fill flash that cannot be compacted
    // until the server holds a backup. A snapshot keeps it under its lease.
    for (let c = 1; c <= this.clientCount; c++) p.set(c, s, L.row(c), s + LOCAL_LEASE);
    for (let i = 0; i < MAX_REQUESTS; i++) if (rq.get(i, F_STATE) === RQ_ACCEPTED) this.setState(i, RQ_SCHEDULED);
    this.applyRelays();
  }

  /** Packets delivered so far to the request in row (a program's: the packets of the slots it ran). */
  private donePackets(row: number): number {
    const rq = this.rq;
    const p = rq.profiles[row];
    let n = rq.get(row, F_DONE);
    if (p) {
      const slots = n;
      n = 0;
      for (let k = 0; k < slots && k < p.length; k++) n += p[k];
    }
    return n;
  }

  /** Keeps a decision of the local server for the report, journaled: the request in row and its outcome. */
  private logLocal(row: number, outcome: number): void {
    const rq = this.rq;
    const id = rq.get(row, F_ID);
    const n = this.donePackets(row);
    const k = this.lrAt(id);
    // The same verdict again (a refused request back every few slots) costs no flash: a long outage cannot compact.
    if (k < 0 || this.lr[k + 2] !== outcome || this.lr[k + 3] !== n) this.commit([OP_LOCAL, id, rq.get(row, F_CLIENT), outcome, n], true);
  }

  /**
   * The local server decides: local, and not just after a report to the
   * cloud (its fresh schedules are due; planning locally then would decide
   * again what was just handed back), unless they failed to come in two
   * heartbeat periods.
   */
  private plansLocally(): boolean {
    const k = this.connectivity;
    return k.st === CS_LOCAL && (k.only || !(this.upS() - this.reportedS < 2 * this.heartbeatPeriodS));
  }

  /** The index in lr of request id's entry, or -1. */
  private lrAt(id: number): number {
    for (let k = 0; k < this.lr.length; k += 4) if (this.lr[k] === id) return k;
    return -1;
  }

  /**
   * The cloud answered HELLO after a local period: what the local server
   * decided goes to it (LOCAL_REPORT), then every open request, asking for
   * what it still needs from now; the local plan ends with the current
   * slot, and the server's fresh schedules take over. A program that runs
   * goes on to its end (runId) whatever they say.
   */
  private reconcile(): void {
    const rq = this.rq;
    const lr = this.lr;
    const now = this.curSlot;
    const run = this.runId;
    const body: number[] = [];
    // Four numbers an entry, as in body: at most MAX_ITEMS of them.
    for (let k = 0; k < lr.length && k < 4 * M.MAX_ITEMS; k += 4) {
      // A request in a final state has no row (applyEntry frees it): found is open.
      const row = rq.find(lr[k]);
      const open = row >= 0;
      body.push(lr[k], lr[k + 1], open && run[lr[k + 1] - 1] === lr[k] ? M.LR_RUNNING : lr[k + 2], open ? this.donePackets(row) : lr[k + 3]);
    }
    if (body.length) this.reportId = this.send(M.LOCAL_REPORT, body);
    this.reportedS = this.upS();
    this.localRan = false;
    this.localAt = now;
    this.sendRequests(now);
    const lease = this.plan.lease;
    for (let i = 0; i < this.clientCount; i++) lease[i] = Math.min(lease[i], now + 1);
  }

  /**
   * R.island(on): the grid is down (on): the router acts as local server
   * with no import, whatever the cloud does; off: back to the cloud when it
   * is there. The state it leaves.
   */
  island(on: boolean): string {
    // Not a boolean: setLocal refuses it, changing nothing.
    if (on !== !!on) return this.setLocal(on);
    this.islanded = on;
    this.localAt = 0;
    // Off: back to what the configuration says (localOnly).
    return this.setLocal(on || this.cfgLocal);
  }

  /** R.battery(socWh, maxW, reserveWh): the home battery's state, for the local server (an inverter's integration tells it). */
  battery(socWh: number, maxW: number, reserveWh: number): void {
    const b = this.batt;
    b[0] = socWh > 0 ? socWh : 0;
    b[1] = maxW > 0 ? maxW : 0;
    b[2] = reserveWh > 0 ? reserveWh : 0;
  }

  // ---- time, slots, relays, metering

  private tick(): void {
    const nowMs = this.hal.clock.nowMs();
    const dt = Math.min(5000, Math.max(0, nowMs - this.lastTickMs));
    this.lastTickMs = nowMs;
    for (let i = 0; i < this.clientCount; i++) if (this.relayBank.isOn(this.relayOf[i])) this.onMs[i] += dt;
    // A HELLO whose answer was lost is sent again after two heartbeat periods.
    if (this.link.isUp() && !this.answered && nowMs - this.helloAtMs > 2000 * this.heartbeatPeriodS) this.onLink(true);
    if (this.paired < this.reports) this.resendAll();
    this.connectivity.tick(nowMs / 1000);
    this.noteConn();
    // The slot is 0 while the time is unknown.
    const s = this.currentSlot();
    if (s > this.curSlot) this.newSlot(s);
    if (this.plansLocally() && this.localAt !== this.curSlot) this.localPlan();
    this.sendDue();
    this.applyRelays();
    // Said once, on the console, when flash starts refusing saves, and when it takes them again.
    const full = this.flashIsFull();
    if (full !== this.flashReported) {
      this.flashReported = full;
      this.hal.console.print(full ? "flash full: running from memory until backed up to the server and compacted" : "flash: saving again");
    }
  }

  private totals(): number[] {
    const t: number[] = [];
    for (let i = 0; i < this.meterRole.length; i++) t.push(this.pulseMeter.wh(i));
    return t;
  }

  /** A slot boundary: the slot that ended is metered and acked; requests are retried or expired. */
  private newSlot(s: number): void {
    const rq = this.rq;
    const nowS = this.nowS();
    const end = this.curSlot;
    const now = this.totals();
    if (end) {
      // Meters the slot that ended per client: its sub-meter, or for a
      // client without one the household's consumption minus the
      // sub-metered clients and the baseload seen in slots without
      // unmetered clients on (never more than its on-time at rated power).
      // Journals the result and acks it.
      const d: number[] = [];
      // Per meter role (import, export, PV, sub), for the local server's forecasts too.
      const byRole = [0, 0, 0, 0];
      for (let i = 0; i < now.length; i++) byRole[this.meterRole[i]] += d[i] = now[i] - (this.baseline[i] || 0);
      // The household's use: import + PV - export; known only with an import meter.
      // What is left after the sub-metered clients, for the others and the baseload.
      let rest = byRole[0] - byRole[1] + byRole[2];
      const meteredUse = this.meterRole.indexOf(0) >= 0;
      // Per client: Wh at rated power for its on-time; of the unmetered clients in all.
      const onWh: number[] = [];
      let unmetered = 0;
      for (let i = 0; i < this.clientCount; i++) {
        const m = this.meterOf[i];
        onWh[i] = (this.onMs[i] * this.ratedWOf[i]) / 3600000;
        if (m >= 0) rest -= d[m];
        else unmetered += onWh[i];
      }
      let base = this.baseloadWh;
      if (!unmetered && meteredUse) this.baseloadWh = base = base < 0 ? rest : Math.round((3 * base + rest) / 4);
      const shareable = Math.max(0, rest - Math.max(0, base));
      const body: number[] = [];
      let took = 0;
      for (let i = 0; i < this.clientCount; i++) {
        const m = this.meterOf[i];
        const e = onWh[i];
        const c = i + 1;
        // Without a sub-meter: its on-time at rated power, and no more than its share of what the main meter saw.
        const w = Math.max(0, Math.min(0xffff, Math.round(m >= 0 ? d[m] : meteredUse && e ? Math.min(e, (shareable * e) / unmetered) : e)));
        if (!this.plan.at(c, end) && !w && !this.runId[i]) continue;
        const packets = Math.min(this.lim.maxPerSlot[c], Math.round(w / this.whPerPacket));
        body.push(c, packets, w);
        took += w;
        this.credit(c, packets);
      }
      this.ls.record(end, byRole[0], byRole[1], byRole[2], took);
      // Its ack (when the body has deliveries) goes at once: tick() calls sendDue() next.
      this.commit([OP_SLOT, end, (end + 1) * this.slotS, now, body], true);
    } else this.baseline = now;
    this.curSlot = s;
    this.onMs.fill(0);
    for (let i = 0; i < MAX_REQUESTS; i++) {
      const st = rq.get(i, F_STATE);
      if (!st) continue;
      // A program that is running goes on past its end.
      if (rq.get(i, F_END) <= s && this.runId[rq.get(i, F_CLIENT) - 1] !== rq.get(i, F_ID)) {
        this.setState(i, RQ_EXPIRED);
      } else if (st === RQ_REJECTED && nowS >= rq.get(i, F_RETRY_AT)) {
        if (rq.get(i, F_REJECTS) >= ESCALATE_AFTER && !rq.get(i, F_EMERGENCY) && this.ready()) {
          rq.set(i, F_EMERGENCY, 1);
          this.counters.emergencies++;
          this.send(M.EMERGENCY, [rq.get(i, F_ID), rq.get(i, F_CLIENT), M.EMG_REJECTED]);
        }
        rq.set(i, F_SENT, 0);
        this.setState(i, RQ_PENDING);
        this.scheduleBatch();
      }
    }
    // Client agents for dumb thermal appliances (a plain water heater cannot
    // ask): a client configured with standingWh (only a thermal one, by
    // validateConfig) always has an open request for that much in every 4
    // hours over the next day.
    for (let c = 1; c <= this.clientCount; c++) {
      const wh = this.standWhOf[c - 1];
      let open = !wh;
      for (let i = 0; i < MAX_REQUESTS && !open; i++) open = rq.is(i, c, B_OPEN);
      if (open) continue;
      const max = this.lim.maxPerSlot[c];
      const window = Math.min(HORIZON, Math.round(14400 / this.slotS));
      this.submit([0, c, M.KIND_THERMAL, s, s + HORIZON, Math.min(max * window, Math.ceil(wh / this.whPerPacket)), window, max, RQ_PENDING]);
    }
  }

  /**
   * Sends what is due, when the server can hear it: acks not yet handed to
   * the link (its queue was full, or it was down) as room frees up, keeping
   * the link's id in each; telemetry every telemetryS.
   */
  private sendDue(): void {
    if (!this.ready()) return;
    const q = this.ackQueue;
    for (let k = 0; k < q.length && this.link.queued() < MAX_QUEUE / 2; k++) if (!q[k][3]) q[k][3] = this.send(M.ACK, q[k][2], q[k][1] as number);
    const nowS = this.nowS();
    if (!(nowS - this.lastTelemetryS < this.telemetryPeriodS)) {
      this.lastTelemetryS = nowS;
      // The connectivity state last: [state, why, seconds in it].
      this.send(M.TELEMETRY, [this.pulseMeter.bootCount as CborValue].concat(this.totals(), [this.connectivity.report(this.upS())]));
    }
  }

  /** Delivered packets count towards the client's requests, earliest end first; a running program advances a slot. */
  private credit(c: number, packets: number): void {
    const rq = this.rq;
    const runId = this.runId[c - 1];
    if (runId) {
      const row = rq.find(runId);
      if (row < 0) {
        this.runId[c - 1] = 0;
        return;
      }
      rq.set(row, F_DONE, rq.get(row, F_DONE) + 1);
      // One slot beyond the profile: a program switched on after its slot
      // began ends that much later, and the machine stops by itself.
      const end = rq.get(row, F_DONE) > (rq.profiles[row] as Uint8Array).length;
      if (end) this.commit([OP_RUN, c, 0], true);
      this.setState(row, end ? RQ_DELIVERED : RQ_RUNNING);
      return;
    }
    // What is left of packets.
    while (packets > 0) {
      let best = -1;
      for (let i = 0; i < MAX_REQUESTS; i++) {
        if (rq.is(i, c, B_SCHEDULED | B_RUNNING) && !rq.profiles[i] && (best < 0 || rq.get(i, F_END) < rq.get(best, F_END))) best = i;
      }
      if (best < 0) return;
      // A thermal band takes all that is left; an energy request what it still
      // needs, and is delivered when that is nothing (so the loop goes on).
      const thermal = rq.get(best, F_KIND) === M.KIND_THERMAL;
      const take = thermal ? packets : Math.min(packets, rq.remaining(best));
      rq.set(best, F_DONE, rq.get(best, F_DONE) + take);
      packets -= take;
      this.setState(best, !thermal && !rq.remaining(best) ? RQ_DELIVERED : RQ_RUNNING);
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
    const s = this.curSlot;
    // The slot is 0 until the time is known, and no plan holds slot 0.
    const n = this.plan.at(c, s);
    if (this.runId[i]) return true;
    if (!n) return false;
    const rq = this.rq;
    if (this.kindOf[i] === M.KIND_PROFILE) {
      // Starts the program of the client's scheduled request, journaled first
      // (applyEntry sets runId); stays off when there is none or flash refused it.
      for (let r = 0; r < MAX_REQUESTS; r++) {
        if (rq.is(r, c, B_SCHEDULED)) {
          if (this.commit([OP_RUN, c, rq.get(r, F_ID)], false)) this.setState(r, RQ_RUNNING);
          break;
        }
      }
      return this.runId[i] > 0;
    }
    const needWh = n * this.whPerPacket;
    const needMs = (needWh * 3600000) / this.ratedWOf[i];
    const m = this.meterOf[i];
    const on = this.relayBank.isOn(this.relayOf[i]);
    const leftMs = ((s + 1) * this.slotS - this.nowS()) * 1000;
    // Done: kept on only when less than a packet's time (needMs / n) is left and the next slot has packets.
    if (m >= 0 ? this.pulseMeter.wh(m) - (this.baseline[m] || 0) >= needWh : this.onMs[i] >= needMs) return on && this.plan.at(c, s + 1) > 0 && leftMs * n < needMs;
    // Even slot: start late enough to end at the boundary, with a margin of a tenth.
    return s % 2 === 1 || on || leftMs <= needMs * 1.1 + 2000;
  }

  /** Sets every client's relay as wanted, through the safety layer (which may refuse for min on/off or the fuse, retried next second). */
  private applyRelays(): void {
    const now = this.hal.clock.nowMs();
    for (let c = 1; c <= this.clientCount; c++) {
      const ch = this.relayOf[c - 1];
      const on = this.wantOn(c);
      // Held by its minimum on/off time: asked again once that has passed.
      if (this.relayBank.isOn(ch) !== on && this.relayBank.retryAtMs(ch, on) <= now) this.relayBank.set(ch, on);
    }
  }

  // ---- journal

  /**
   * Journals an entry (folding into a snapshot when the file is full), then
   * applies it to the state in RAM: always, or (always === false) only when
   * flash took it. False when flash refused it (then flashFull is set) or it
   * did not encode.
   */
  private commit(entry: CborValue[], always: boolean): boolean {
    const n = encodeCbor(entry, this.scratch, 0, 4);
    let ok = n >= 0;
    if (ok) {
      // A fold encodes the snapshot in a buffer of its own: the entry stays in scratch.
      const bytes = this.scratch.subarray(0, n);
      let e: number;
      try {
        e = this.journal.append(bytes);
        if (e === J_FOLD) {
          e = this.fold(0);
          if (e === J_OK) e = this.journal.append(bytes);
        }
      } catch {
        // Storage refused the write (a store damaged by a cut compaction).
        e = J_FULL;
      }
      ok = !(this.flashFull = e !== J_OK);
      if (ok) this.appends++;
    }
    if (ok || always) this.applyEntry(entry);
    return ok;
  }

  /**
   * Folds the state into a new snapshot, numbered above mark too (a
   * restore's backup mark; 0: none): J_OK, or why not (a Storage that did
   * not keep the file: J_FULL). The snapshot is mostly far under 2 KB, so a
   * buffer of that size first; at most 8 KB. 16 clients with most of a day
   * of acks pending can take more (about 18 KB): then it does not encode,
   * J_FULL, and the router runs from memory until the acks are delivered.
   */
  private fold(mark: number): number {
    const rq = this.rq;
    const e: CborValue[] = [];
    for (let i = 0; i < MAX_REQUESTS; i++) if (rq.get(i, F_STATE)) e.push(rq.fields(i, [OP_ROW, rq.profiles[i] || null], F_ID));
    const p = this.plan;
    const run = this.runId;
    for (let i = 0; i < this.clientCount; i++) {
      if (p.to[i]) e.push([OP_SCHEDULE, i + 1, p.from[i], p.lease[i], p.slice(i + 1)]);
      if (run[i]) e.push([OP_RUN, i + 1, run[i]]);
    }
    const q = this.ackQueue;
    for (let k = 0; k < q.length; k++) e.push([OP_SLOT, q[k][0], q[k][1], null, q[k][2]]);
    for (let k = 0; k < this.lr.length; k += 4) e.push([OP_LOCAL as CborValue].concat(this.lr.slice(k, k + 4)));
    const snap = [OP_SNAPSHOT, rq.lastId, this.baseline, e];
    let buf = new Uint8Array(2048);
    let n = encodeCbor(snap, buf, 0, 5);
    if (n < 0) n = encodeCbor(snap, (buf = new Uint8Array(JOURNAL_FILE_BYTES)), 0, 5);
    if (n < 0) return J_FULL;
    try {
      return this.journal.fold(buf.subarray(0, n), mark);
    } catch (err) {
      this.hal.console.print("journal: " + (err && (err as { message?: string }).message));
      return J_FULL;
    }
  }

  /** Applies a journal entry (or a snapshot's) to the state in RAM: at boot, and after writing it. */
  private applyEntry(f: CborValue[]): void {
    const rq = this.rq;
    const op = f[0];
    const c = f[1] as number;
    const q = this.ackQueue;
    if (op === OP_SNAPSHOT) {
      rq.lastId = c;
      this.baseline = f[2] as number[];
      const e = f[3] as CborValue[][];
      for (let k = 0; k < e.length; k++) this.applyEntry(e[k]);
    } else if (op === OP_ROW) {
      // A copy of the profile: at boot f is a view into the journal's file (a typed array given to a typed array's constructor is copied).
      if (rq.find(f[2] as number) < 0) rq.add(f, 2, f[1] ? new Uint8Array(f[1] as Uint8Array) : undefined);
    } else if (op === OP_STATE) {
      const row = rq.find(c);
      if (row < 0) return;
      rq.load(row, F_STATE, f, 2);
      // DELIVERED and EXPIRED, the final states, are the highest.
      if ((f[2] as number) >= RQ_DELIVERED) rq.free(row);
    } else if (op === OP_SCHEDULE) {
      // A client id c (>= 1) above this configuration's (a journal from another)
      // writes beyond the typed arrays, which ignore it; the next snapshot drops it.
      this.plan.set(c, f[2] as number, f[4] as Uint8Array, f[3] as number);
    } else if (op === OP_SLOT) {
      if (f[3]) this.baseline = f[3] as number[];
      if (!(f[4] as number[]).length) return;
      if (q.length >= MAX_PENDING_ACKS) this.hal.console.print("acks pending for a day: the ack of slot " + (q.shift() as CborValue[])[0] + " is dropped");
      q.push([c, f[2], f[4], 0]);
    } else if (op === OP_ACKED) {
      for (let k = 0; k < q.length; k++) if (q[k][0] === c) q.splice(k--, 1);
    } else if (op === OP_LOCAL) {
      // One entry per request, its latest outcome; the oldest goes when full.
      const lr = this.lr;
      let k = this.lrAt(c);
      if (k < 0) {
        if (lr.length >= 4 * MAX_REQUESTS) lr.splice(0, 4);
        k = lr.length;
      }
      for (let j = 0; j < 4; j++) lr[k + j] = f[1 + j] as number;
    } else if (op === OP_REPORTED) {
      this.lr = [];
    } else if (op === OP_RUN) {
      // As for OP_SCHEDULE.
      this.runId[c - 1] = f[2] as number;
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
    if (free >= FLASH_RESERVE_BYTES || !trash || (trash < TRASH_WORTH_BYTES && free >= JOURNAL_FILE_BYTES + 64) || !this.ready() || this.ackQueue.length || this.link.queued()) return;
    for (let i = 0; i < MAX_REQUESTS; i++) if (this.rq.get(i, F_STATE) === RQ_PENDING) return;
    // The mark is the journal's seq: a server that later echoes a higher one
    // (after a HELLO) tells a router whose store went back (onStored).
    const mark = (this.backupMark = this.journal.seq);
    this.backupAppends = this.appends;
    this.send(M.BACKUP, [mark, this.pulseMeter.bootCount, this.totals()]);
  }

  /**
   * The server holds everything a wipe would lose: compact now, between
   * pulses. First the state is folded into a fresh snapshot and the older
   * journal file erased, so that whatever a cut compaction leaves behind
   * (nothing, a damaged store, the current file cut short) is this backed-up
   * state or is detected at boot (OP_COMPACT last) and restored.
   */
  private onStored(mark: number): void {
    const flash = this.hal.flash;
    // The server holds a backup newer than this journal: the store went
    // back (a cut compaction can bring an older state back unnoticed).
    const older = mark > this.journal.seq;
    if (!older && (mark !== this.backupMark || this.appends !== this.backupAppends)) return;
    this.backupAppends = -1;
    this.pulseMeter.flush();
    // The flag (COMPACT_FLAG) is how the next boot knows. Without room for
    // it (a full flash), a cut compaction is found by the backup mark, and
    // an older store by the next HELLO.
    try {
      flash.erase(COMPACT_FLAG);
      flash.write(COMPACT_FLAG, new Uint8Array([older ? 1 : mark & 0xff]));
    } catch {
      // See above.
    }
    if (older) {
      this.hal.console.print("journal older than the server's backup: erasing flash to restore from the server");
      this.hal.system.restart();
      return;
    }
    // When there is room: a fresh snapshot first, the older file erased.
    if (this.fold(0) === J_OK) this.journal.dropOther();
    // Applying OP_COMPACT changes nothing.
    this.commit([OP_COMPACT, mark], false);
    try {
      flash.compact();
    } catch {
      return;
    }
    this.counters.compactions++;
    if (this.fold(0) === J_OK) this.flashFull = false;
    this.pulseMeter.flush();
    flash.erase(COMPACT_FLAG);
    // Schedules that came while flash was full were refused: after an outage
    // a HELLO brings fresh ones, which take the router back online.
    if (this.connectivity.st !== CS_ONLINE) this.onLink(true);
  }

  private onRestore(f: CborValue[], envSlot: number): void {
    if (!this.seqUnknown || !this.seq.skipTo((f[1] as number) + 1)) return;
    this.seqUnknown = false;
    const mark = f[7] as number;
    if (this.awaitingRestore) {
      this.awaitingRestore = false;
      this.counters.restores++;
      const rq = this.rq;
      rq.lastId = f[2] as number;
      this.pulseMeter.adopt(f[3] as number, f[4] as number[]);
      const items = f[6] as CborValue[][];
      for (let k = 0; k < items.length; k++) {
        const r = items[k];
        // validateBody checked each item; a client of another kind here, or an id already open, is skipped.
        if (r[2] === this.kindOf[(r[1] as number) - 1] && rq.find(r[0] as number) < 0) rq.addItem(r, envSlot, RQ_ACCEPTED);
      }
      // The new journal numbers on above the server's backup mark.
      if (this.fold(mark) !== J_OK) this.flashFull = true;
      this.hal.console.print("restored from the server: " + items.length + " open requests, boot " + this.pulseMeter.bootCount);
    } else if (mark > this.journal.seq) {
      // Only the seq was lost, and the journal is older than the backup: onStored restarts.
      return this.onStored(mark);
    }
    this.resendAll();
  }

  /** True when flash refused a save: the journal, the meter totals or the seq bound (REC_FULL). */
  flashIsFull(): boolean {
    return this.flashFull || !!(this.pulseMeter.lastSaveError || this.seq.lastSaveError);
  }

  /** Status for R.status(). */
  summary(): { link: string; time: number; slot: number; requests: number; pendingAcks: number; flashFull: boolean; conn: string; connWhy: string; connForS: number } {
    // [state, why, seconds in it], as telemetry tells them.
    const k = this.connectivity.report(this.upS());
    return {
      conn: connName(k[0]),
      connWhy: connName(k[1], true),
      connForS: k[2],
      link: this.link.isUp() ? (this.seqUnknown ? "restoring" : this.curSlot ? "online" : "waiting for time") : "offline",
      time: Math.floor(this.nowS()) || 0,
      slot: this.curSlot,
      requests: this.rq.count(),
      pendingAcks: this.ackQueue.length,
      flashFull: this.flashIsFull(),
    };
  }
}
