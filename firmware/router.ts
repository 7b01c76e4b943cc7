// Boot and the console: reads the configuration, sets the relays to their
// boot states through the safety layer, starts metering and the watchdog,
// prints the configuration in effect and exposes `R` on the console.
// Later issues hang the protocol, the schedule and the local server here.

import type { Hal } from "../hal/types";
import { Relays } from "../hal/relays";
import { Records } from "../hal/records";
import { PulseMeter } from "./meter";
import { validateConfig } from "./config";
import type { RouterConfig } from "./config";
import { Agent, COMPACT_FLAG, JOURNAL_FILE_BYTES, JOURNAL_NAME, OP_COMPACT } from "./agent";
import type { RequestAnswer, RequestSpec } from "./agent";
export type { RequestAnswer, RequestSpec } from "./agent";
import { Journal } from "../hal/journal";
import { SeqStore } from "./seq";
import { RQ_STATE_NAMES, F_CLIENT, F_DONE, F_EARLIEST, F_END, F_ID, F_STATE, MAX_REQUESTS } from "./requests";

/** The Storage file holding the board's configuration (written by the flasher). */
export const CONFIG_FILE = "sden.cfg";
/** The crash-safe record log holding the meter totals. */
export const METER_RECORDS = "sden.mtr";
const METER_RECORD_BYTES = 4096;
/** The crash-safe record log holding the envelope's seq bounds. */
export const SEQ_RECORDS = "sden.seq";
const SEQ_RECORD_BYTES = 1024;
/** Seqs reserved per flash write (firmware/seq.ts). */
const SEQ_STEP = 64;
/** The Storage file holding the router's key (16-64 raw bytes), written by the flasher. */
export const KEY_FILE = "sden.key";
/** How often the watchdog is kicked, as a share of its timeout. */
const KICKS_PER_TIMEOUT = 3;
/** How often flash space is looked after. */
const MAINTAIN_MS = 60000;

export interface BootOptions {
  /** Firmware version and build, printed in the banner and by R.status(). */
  version: string;
  /** The configuration baked in at build time, used when flash holds none: JSON text (the device parses it only then), or the object. */
  defaults: unknown;
}

/** What R.status() returns (and prints). */
export interface RouterStatus {
  fw: string;
  uptimeS: number;
  /** "running", or "config-error" when the router holds its relays off. */
  state: string;
  errors: string[];
  /** 1 for each relay that is on, in config order. */
  relays: number[];
  /** Total load of relays that are on, and the fuse limit. */
  loadW: number;
  fuseLimitW: number;
  /** Per pulse input, in config order. */
  meters: { name: string; pulses: number; wh: number; noise: number; powerW: number }[];
  boot: number;
  mem: { free: number; used: number; total: number };
  /** The server link: "none", "offline", "waiting for time", "restoring", "online". */
  link: string;
  /** Server time (unix s, 0 before the first beacon) and the current slot. */
  time: number;
  slot: number;
  /** Open requests, acks not yet at the broker, and whether flash refused a journal write. */
  requests: number;
  pendingAcks: number;
  flashFull: boolean;
}


function bytesToString(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
  return s;
}

/** The configuration from flash, else the baked-in defaults; problems listed. */
function readConfig(hal: Hal, defaults: unknown): { config: unknown; source: string; errors: string[] } {
  let config: unknown = defaults;
  let source = "defaults";
  const stored = hal.flash.read(CONFIG_FILE);
  if (!stored && typeof defaults === "string") config = JSON.parse(defaults);
  if (stored) {
    source = CONFIG_FILE;
    try {
      config = JSON.parse(bytesToString(stored));
    } catch (e) {
      return { config: undefined, source: source, errors: [CONFIG_FILE + ": not valid JSON (" + e + ")"] };
    }
  }
  return { config: config, source: source, errors: validateConfig(config) };
}

/**
 * Power went during a Storage compaction (its flag file is there, or the
 * journal ends with the compaction's mark): the store may be wiped,
 * damaged (writes refused, files lost later) or back at an older state.
 * It is erased whole, keeping only the configuration and the key, and the
 * router then restores from the server, which holds the backup made just
 * before. True when that happened.
 */
function recoverCutCompaction(hal: Hal, journal: Journal): boolean {
  const flash = hal.flash;
  let cut = flash.read(COMPACT_FLAG) !== undefined;
  if (!cut) {
    const j = journal.load();
    const n = j.entries.length;
    cut = n > 0 && j.entries[n - 1][1] === OP_COMPACT;
  }
  if (!cut) return false;
  const names = [CONFIG_FILE, KEY_FILE];
  const kept: (Uint8Array | undefined)[] = [];
  for (let i = 0; i < names.length; i++) {
    const b = flash.read(names[i]);
    let copy: Uint8Array | undefined;
    if (b) {
      copy = new Uint8Array(b.length);
      copy.set(b);
    }
    kept.push(copy);
  }
  flash.eraseAll();
  for (let i = 0; i < names.length; i++) {
    const b = kept[i];
    if (b) flash.write(names[i], b);
  }
  hal.console.print("power went during a flash compaction: store erased; restoring from the server");
  return true;
}

/**
 * With a bad configuration nothing is guessed: every relay pin the
 * configuration names plainly is driven off, and the router only answers
 * the console until it is given a valid configuration.
 */
function holdRelaysOff(hal: Hal, config: unknown): void {
  const relays = config && (config as { relays?: unknown }).relays;
  if (!(relays instanceof Array)) return;
  for (let i = 0; i < relays.length; i++) {
    const pin = relays[i] && relays[i].pin;
    if (typeof pin !== "string" || !/^[A-Z]+[0-9]+$/.test(pin)) continue;
    try {
      hal.digitalOut({ pin: pin, value: 0 });
    } catch {
      // A pin this board does not have drives nothing.
    }
  }
}

/** The watchdog period: the configuration's, or 30 s when it has none fit to use (a refused configuration still runs the watchdog). */
function watchdogSeconds(config: unknown): number {
  const s = config && (config as { watchdogS?: unknown }).watchdogS;
  return typeof s === "number" && s >= 2 && s <= 300 ? s : 30;
}

/** hal.system.crc32 as a function made apart, so that it keeps only the HAL alive (see the timers of Router). */
function crc32Of(hal: Hal): (d: Uint8Array) => number {
  return (d) => hal.system.crc32(d);
}

export class Router {
  readonly hal: Hal;
  readonly version: string;
  readonly errors: string[];
  /**
   * What the status shows of the configuration, once it runs (undefined on
   * a configuration error). The records themselves are not kept: the relays,
   * the meter and the agent hold what they need in typed arrays, and parsed
   * JSON costs about 10 JsVars a record.
   */
  private readonly shown: { fuseLimitW: number; meterNames: string[] } | undefined;
  readonly relays: Relays | undefined;
  readonly meter: PulseMeter | undefined;
  private readonly meterRecords: Records | undefined;
  readonly agent: Agent | undefined;
  private journal: Journal | undefined;
  private timers: number[] = [];

  constructor(hal: Hal, options: BootOptions) {
    this.hal = hal;
    this.version = options.version;
    const read = readConfig(hal, options.defaults);
    this.errors = read.errors;
    this.startWatchdog(watchdogSeconds(read.config));
    if (read.errors.length > 0) {
      holdRelaysOff(hal, read.config);
      this.printErrors(read.source);
      return;
    }
    const config = read.config as RouterConfig;
    try {
      // The journal is opened once; after an erase it is opened again on the empty store.
      const crc32 = crc32Of(hal);
      const open = () => new Journal(hal.flash, crc32, { name: JOURNAL_NAME, fileBytes: JOURNAL_FILE_BYTES });
      const journal = open();
      this.journal = recoverCutCompaction(hal, journal) ? open() : journal;
      this.relays = new Relays({
        clock: hal.clock,
        open: (o) => hal.digitalOut(o),
        channels: config.relays,
        fuseLimitW: config.fuseLimitW,
      });
      this.meterRecords = new Records(hal.flash, crc32, { name: METER_RECORDS, fileBytes: METER_RECORD_BYTES });
      this.meter = new PulseMeter({
        clock: hal.clock,
        watch: (o) => hal.edgeInput(o),
        inputs: config.meters,
        records: this.meterRecords,
        saveThresholdWh: config.meterSaveWh,
      });
    } catch (e) {
      // A pin the board does not have, a flash that cannot be read: the
      // configuration does not fit this board.
      // On 2v29 a TypeError is not `instanceof Error`: read the message directly.
      const msg = e && typeof (e as { message?: unknown }).message === "string" ? (e as { message: string }).message : String(e);
      this.errors.push("board: " + msg + "; check the pins in the configuration against the board");
      this.relays = undefined;
      this.meter = undefined;
      holdRelaysOff(hal, config);
      this.printErrors(read.source);
      return;
    }
    const meterNames: string[] = [];
    for (let i = 0; i < config.meters.length; i++) meterNames.push(config.meters[i].name);
    this.shown = { fuseLimitW: config.fuseLimitW, meterNames: meterNames };
    this.startMaintenance();
    this.printBanner(config, read.source);
    this.agent = this.startAgent(config);
  }

  /** The agent that talks to the server, when a broker and a key are configured. */
  private startAgent(config: RouterConfig): Agent | undefined {
    const hal = this.hal;
    const key = hal.flash.read(KEY_FILE);
    if (!config.broker) return undefined;
    if (!key || key.length < 16 || key.length > 64) {
      hal.console.print("no router key in " + KEY_FILE + " (16-64 bytes): the router runs offline; flash the key to connect");
      return undefined;
    }
    const seqRecords = new Records(hal.flash, crc32Of(hal), { name: SEQ_RECORDS, fileBytes: SEQ_RECORD_BYTES });
    const noSeq = seqRecords.load() === undefined;
    const wiped = noSeq && hal.flash.list(JOURNAL_NAME).length === 0;
    return new Agent({
      hal: hal,
      config: config,
      relays: this.relays as Relays,
      meter: this.meter as PulseMeter,
      seq: new SeqStore(seqRecords, SEQ_STEP),
      key: key,
      version: this.version,
      random: Math.random,
      wiped: wiped,
      seqUnknown: noSeq,
      journal: this.journal as Journal,
    });
  }

  /** R.request(): a request in the household's units (firmware/agent.ts converts it). */
  request(spec: RequestSpec): RequestAnswer {
    return this.agent ? this.agent.request(spec) : { ok: false, id: 0, error: "the router has no server link", code: 0 };
  }

  /** R.requests(): the open requests and their states. */
  listRequests(): { id: number; client: number; state: string; earliest: number; end: number; done: number }[] {
    const out: { id: number; client: number; state: string; earliest: number; end: number; done: number }[] = [];
    const a = this.agent;
    if (!a) return out;
    const rq = a.requests;
    for (let i = 0; i < MAX_REQUESTS; i++) {
      const st = rq.get(i, F_STATE);
      if (st === 0) continue;
      out.push({ id: rq.get(i, F_ID), client: rq.get(i, F_CLIENT), state: RQ_STATE_NAMES[st], earliest: rq.get(i, F_EARLIEST), end: rq.get(i, F_END), done: rq.get(i, F_DONE) });
    }
    return out;
  }

  /** Firmware, uptime, relays, meters and memory, printed and returned. */
  status(): RouterStatus {
    const s: RouterStatus = {
      fw: this.version,
      uptimeS: Math.floor(this.hal.clock.nowMs() / 1000),
      state: this.shown ? "running" : "config-error",
      errors: this.errors,
      relays: [],
      loadW: 0,
      fuseLimitW: this.shown ? this.shown.fuseLimitW : 0,
      meters: [],
      boot: this.meter ? this.meter.bootCount : 0,
      mem: this.hal.system.memory(),
      link: "none",
      time: 0,
      slot: 0,
      requests: 0,
      pendingAcks: 0,
      flashFull: false,
    };
    if (this.agent) {
      const a = this.agent.summary();
      s.link = a.link;
      s.time = a.time;
      s.slot = a.slot;
      s.requests = a.requests;
      s.pendingAcks = a.pendingAcks;
      s.flashFull = a.flashFull;
    }
    const shown = this.shown;
    if (shown && this.relays && this.meter) {
      for (let i = 0; i < this.relays.count(); i++) s.relays.push(this.relays.isOn(i) ? 1 : 0);
      s.loadW = this.relays.loadW();
      for (let i = 0; i < shown.meterNames.length; i++) {
        s.meters.push({ name: shown.meterNames[i], pulses: this.meter.pulses(i), wh: this.meter.wh(i), noise: this.meter.noise(i), powerW: this.meter.powerW(i) });
      }
    }
    this.printStatus(s);
    return s;
  }

  /** Saves what must survive, then restarts the board. */
  restart(): void {
    this.stop();
    this.hal.system.restart();
  }

  /** Saves the meter totals and stops timers; relays stay as they are. */
  stop(): void {
    if (this.agent) this.agent.stop();
    if (this.meter) this.meter.flush();
    for (let i = 0; i < this.timers.length; i++) this.hal.clock.clearInterval(this.timers[i]);
    this.timers = [];
  }

  /**
   * Storage never compacts on its own here (hal/records.ts refuses a write
   * that would make it); when trash blocks the next record file, the totals
   * are saved and compaction runs now, between pulses, at a moment we choose.
   */
  private maintainFlash(): void {
    if (this.agent) {
      this.agent.maintain();
      return;
    }
    if (!this.meterRecords || !this.meter || !this.meterRecords.needsCompaction()) return;
    this.hal.flash.compact();
    this.meter.flush();
  }

  // Timers are made in methods of their own: an Espruino closure keeps its
  // whole scope chain, and one made in the constructor (or in a method given
  // the configuration) would keep every parsed record alive, several
  // hundred JsVars with 16 clients.

  private startWatchdog(timeoutS: number): void {
    const wd = this.hal.watchdog;
    wd.enable(timeoutS);
    this.timers.push(this.hal.clock.setInterval(() => wd.kick(), (timeoutS * 1000) / KICKS_PER_TIMEOUT));
  }

  private startMaintenance(): void {
    this.timers.push(this.hal.clock.setInterval(() => this.maintainFlash(), MAINTAIN_MS));
  }

  private printBanner(c: RouterConfig, source: string): void {
    const out = this.hal.console;
    out.print("sden-router " + this.version + " on " + c.board + ", router " + c.gridId + "/" + c.routerId + " (config from " + source + ")");
    out.print("fuse " + c.fuseLimitW + " W, packet " + c.packetWh + " Wh, slot " + c.slotMin + " min, heartbeat " + c.heartbeatS + " s, watchdog " + c.watchdogS + " s");
    for (let i = 0; i < c.relays.length; i++) {
      const r = c.relays[i];
      out.print("relay " + i + " " + r.name + ": pin " + r.pin + ", " + r.ratedW + " W, boot " + (r.bootOn ? "on" : "off") + ", min on " + r.minOnS + " s, min off " + r.minOffS + " s");
    }
    for (let i = 0; i < c.meters.length; i++) {
      const m = c.meters[i];
      out.print("meter " + i + " " + m.name + ": pin " + m.pin + ", " + m.role + ", " + m.pulsesPerKwh + " imp/kWh, min width " + m.minWidthMs + " ms");
    }
    out.print("boot " + (this.meter ? this.meter.bootCount : 0) + "; type R.status() for the state");
  }

  private printErrors(source: string): void {
    const out = this.hal.console;
    out.print("sden-router " + this.version + ": configuration refused (" + source + "), all relays held off:");
    for (let i = 0; i < this.errors.length; i++) out.print("  " + this.errors[i]);
  }

  private printStatus(s: RouterStatus): void {
    const out = this.hal.console;
    out.print("sden-router " + s.fw + ", up " + s.uptimeS + " s, " + s.state + ", boot " + s.boot);
    out.print("relays " + s.relays.join("") + ", load " + s.loadW + "/" + s.fuseLimitW + " W");
    for (let i = 0; i < s.meters.length; i++) {
      const m = s.meters[i];
      out.print("meter " + m.name + ": " + m.wh + " Wh (" + m.pulses + " pulses; " + m.noise + " noise since boot), " + m.powerW + " W");
    }
    out.print("server " + s.link + ", slot " + s.slot + ", " + s.requests + " open requests, " + s.pendingAcks + " acks pending" + (s.flashFull ? ", FLASH FULL" : ""));
    out.print("memory free " + s.mem.free + " of " + s.mem.total);
  }
}

// Apart from bootRouter: Espruino's closures keep their whole scope, and
// there the boot options (the baked-in configuration's text) would stay alive.
function exposeRouter(hal: Hal, router: Router): Router {
  hal.console.expose("R", {
    status: () => router.status(),
    restart: () => router.restart(),
    request: (spec: RequestSpec) => router.request(spec),
    requests: () => router.listRequests(),
  });
  return router;
}

/** Boots the router on a HAL and puts its console API on the global `R`. */
export function bootRouter(hal: Hal, options: BootOptions): Router {
  return exposeRouter(hal, new Router(hal, options));
}
