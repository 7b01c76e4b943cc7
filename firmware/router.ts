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

/** The Storage file holding the board's configuration (written by the flasher). */
export const CONFIG_FILE = "sden.cfg";
/** The crash-safe record log holding the meter totals. */
export const METER_RECORDS = "sden.mtr";
const METER_RECORD_BYTES = 4096;
/** How often the watchdog is kicked, as a share of its timeout. */
const KICKS_PER_TIMEOUT = 3;
/** How often flash space is looked after. */
const MAINTAIN_MS = 60000;

export interface BootOptions {
  /** Firmware version and build, printed in the banner and by R.status(). */
  version: string;
  /** The configuration baked in at build time, used when flash holds none. */
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

export class Router {
  readonly hal: Hal;
  readonly version: string;
  readonly config: RouterConfig | undefined;
  readonly errors: string[];
  readonly relays: Relays | undefined;
  readonly meter: PulseMeter | undefined;
  private readonly meterRecords: Records | undefined;
  private timers: number[] = [];

  constructor(hal: Hal, options: BootOptions) {
    this.hal = hal;
    this.version = options.version;
    const read = readConfig(hal, options.defaults);
    this.errors = read.errors;
    this.startWatchdog(read.config);
    if (read.errors.length > 0) {
      holdRelaysOff(hal, read.config);
      this.printErrors(read.source);
      return;
    }
    const config = read.config as RouterConfig;
    try {
      this.relays = new Relays({
        clock: hal.clock,
        open: (o) => hal.digitalOut(o),
        channels: config.relays,
        fuseLimitW: config.fuseLimitW,
      });
      this.meterRecords = new Records(hal.flash, (d) => hal.system.crc32(d), { name: METER_RECORDS, fileBytes: METER_RECORD_BYTES });
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
    this.config = config;
    this.timers.push(hal.clock.setInterval(() => this.maintainFlash(), MAINTAIN_MS));
    this.printBanner(read.source);
  }

  /** Firmware, uptime, relays, meters and memory, printed and returned. */
  status(): RouterStatus {
    const s: RouterStatus = {
      fw: this.version,
      uptimeS: Math.floor(this.hal.clock.nowMs() / 1000),
      state: this.config ? "running" : "config-error",
      errors: this.errors,
      relays: [],
      loadW: 0,
      fuseLimitW: this.config ? this.config.fuseLimitW : 0,
      meters: [],
      boot: this.meter ? this.meter.bootCount : 0,
      mem: this.hal.system.memory(),
    };
    const c = this.config;
    if (c && this.relays && this.meter) {
      for (let i = 0; i < c.relays.length; i++) s.relays.push(this.relays.isOn(i) ? 1 : 0);
      s.loadW = this.relays.loadW();
      for (let i = 0; i < c.meters.length; i++) {
        s.meters.push({ name: c.meters[i].name, pulses: this.meter.pulses(i), wh: this.meter.wh(i), noise: this.meter.noise(i), powerW: this.meter.powerW(i) });
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
    if (!this.meterRecords || !this.meter || !this.meterRecords.needsCompaction()) return;
    this.hal.flash.compact();
    this.meter.flush();
  }

  private startWatchdog(config: unknown): void {
    const s = config && (config as { watchdogS?: unknown }).watchdogS;
    const timeoutS = typeof s === "number" && s >= 2 && s <= 300 ? s : 30;
    const wd = this.hal.watchdog;
    wd.enable(timeoutS);
    this.timers.push(this.hal.clock.setInterval(() => wd.kick(), (timeoutS * 1000) / KICKS_PER_TIMEOUT));
  }

  private printBanner(source: string): void {
    const c = this.config as RouterConfig;
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
    out.print("memory free " + s.mem.free + " of " + s.mem.total);
  }
}

/** Boots the router on a HAL and puts its console API on the global `R`. */
export function bootRouter(hal: Hal, options: BootOptions): Router {
  const router = new Router(hal, options);
  hal.console.expose("R", {
    status: () => router.status(),
    restart: () => router.restart(),
  });
  return router;
}
