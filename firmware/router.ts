// Boot and the console: reads the configuration, sets the relays to their
// boot states through the safety layer, starts metering and the watchdog,
// prints the configuration in effect and exposes `R` on the console.
// Later issues hang the protocol, the schedule and the local server here.

import type { Hal } from "../hal/types";
import { Relays } from "../hal/relays";
import type { Records } from "../hal/records";
import { PulseMeter } from "./meter";
import type { MeterReading } from "./meter";
import { validateConfig } from "./config";
import type { RouterConfig } from "./config";
import { CONFIG_FILE, PAIR_RECORDS, PASSWORD_RECORDS, PASSWORD_RECORD_BYTES, bytesToString, clients, identify, loadConfig, pair, password, printable, pulses, records, unpair, withConfig } from "./pairing";
import type { ClientSpec } from "./pairing";
export { CONFIG_FILE } from "./pairing";
import { Agent, COMPACT_FLAG, JOURNAL_FILE_BYTES, JOURNAL_NAME, OP_COMPACT } from "./agent";
import type { RequestAnswer, RequestSpec } from "./agent";
export type { RequestAnswer, RequestSpec } from "./agent";
import { Journal } from "../hal/journal";
import { SeqStore } from "./seq";
import { RQ_REJECTED, RQ_STATE_NAMES, F_CLIENT, F_DONE, F_EARLIEST, F_END, F_ID, F_STATE, MAX_REQUESTS } from "./requests";

/** The crash-safe record log holding the meter totals. */
export const METER_RECORDS = "sden.mtr";
export const METER_RECORD_BYTES = 4096;
/** The crash-safe record log holding the envelope's seq bounds. */
export const SEQ_RECORDS = "sden.seq";
export const SEQ_RECORD_BYTES = 1024;
/**
 * Free flash the meter's totals leave to the seq bound and the journal (a
 * new file of each, with Storage's headers): when a long outage fills flash,
 * meter saves stop first, so that the router can still send the backup
 * that lets it compact once the server is back.
 */
const METER_LEAVES_BYTES = 2 * (SEQ_RECORD_BYTES + 64) + JOURNAL_FILE_BYTES + 64;
/** Seqs reserved per flash write (firmware/seq.ts). */
const SEQ_STEP = 64;
/** The Storage file holding the router's key (16-64 raw bytes), written by the flasher. */
export const KEY_FILE = "sden.key";
/**
 * The Storage file of network secrets, written by the flasher as JSON:
 * s WiFi network, p its password (hal/espruino joins it), u broker user, b broker password.
 */
export const NET_FILE = "sden.net";
/** How often the watchdog is kicked, as a share of its timeout. */
const KICKS_PER_TIMEOUT = 3;
/** How often flash space is looked after. */
const MAINTAIN_MS = 60000;

export interface BootOptions {
  /** Firmware version and build, printed in the banner and by R.status(). */
  version: string;
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
  meters: MeterReading[];
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
  /** The connectivity state (boot, online, failsafe or local; absent without a server link), why it was entered, and for how long (s). */
  conn?: string;
  connWhy?: string;
  connForS?: number;
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
  if (!flash.read(COMPACT_FLAG)) {
    const e = journal.load().entries;
    if (!e.length || e[e.length - 1][1] !== OP_COMPACT) return false;
  }
  // The configuration, its pairing record, the password and the network secrets stay too.
  const names = [CONFIG_FILE, KEY_FILE, NET_FILE, PAIR_RECORDS + ".0", PAIR_RECORDS + ".1", PASSWORD_RECORDS + ".0", PASSWORD_RECORDS + ".1"];
  // Copies: on the board a read is a view of the flash that is erased next.
  const kept = names.map((n) => {
    const b = flash.read(n);
    return b && new Uint8Array(b);
  });
  flash.eraseAll();
  kept.forEach((b, i) => {
    if (b) flash.write(names[i], b);
  });
  hal.console.print("flash compaction was cut: store erased, restoring from the server");
  return true;
}

/**
 * With a bad configuration nothing is guessed: every relay pin the
 * configuration names is driven off, and the router only answers the
 * console until it is given a valid configuration.
 */
function holdRelaysOff(hal: Hal, config: unknown): void {
  const relays = config && (config as RouterConfig).relays;
  if (relays instanceof Array) {
    for (const r of relays) {
      try {
        hal.digitalOut({ pin: r.pin, value: 0 });
      } catch {
        // A pin this board does not have (or no pin at all) drives nothing.
      }
    }
  }
}

export class Router {
  readonly hal: Hal;
  readonly version: string;
  /** What is wrong with the configuration (none when it runs). */
  readonly problems: string[];
  // The configuration's records are not kept: the relays, the meter and
  // the agent hold what they need in typed arrays, and parsed JSON costs
  // about 10 JsVars a record.
  readonly relays: Relays | undefined;
  /** Set only when the configuration runs: the marker of a running router (relays may be set on a board that then refused a meter pin). */
  readonly meter: PulseMeter | undefined;
  private readonly meterRecords: Records | undefined;
  readonly agent: Agent | undefined;
  private journal: Journal | undefined;
  private timers: number[] = [];
  /** The most clients the server may know of after a pairing change (firmware/pairing.ts; 0: the configuration's). */
  private readonly top: number;

  constructor(hal: Hal, options: BootOptions) {
    this.hal = hal;
    this.version = options.version;
    const out = hal.console;
    const flash = hal.flash;
    const name = "sden-router " + this.version;
    // The console is locked first, whatever the configuration.
    const pw = records(hal, PASSWORD_RECORDS, PASSWORD_RECORD_BYTES).load();
    if (pw && pw.length) out.setPassword(bytesToString(pw));
    // The pairing record, else the configuration in flash.
    const loaded = loadConfig(hal);
    const source = loaded.origin;
    const config = loaded.config;
    this.top = loaded.top;
    const errors = (this.problems = loaded.refused || validateConfig(config));
    // A refused configuration still runs the watchdog, at 30 s. The HAL's
    // functions use no `this` (Espruino's built-ins on the board): they are
    // passed as they are, no closure made here to keep this scope alive.
    const watchdogS = errors.length ? 30 : config.watchdogS;
    hal.watchdog.enable(watchdogS);
    this.timers.push(hal.clock.setInterval(hal.watchdog.kick, (watchdogS * 1000) / KICKS_PER_TIMEOUT));
    if (!errors.length) {
      try {
        // The journal is opened once; after an erase it is opened again on the empty store.
        const crc32 = hal.system.crc32;
        const open = () => new Journal(flash, crc32, { name: JOURNAL_NAME, fileBytes: JOURNAL_FILE_BYTES });
        const journal = open();
        this.journal = recoverCutCompaction(hal, journal) ? open() : journal;
        this.relays = new Relays({
          clock: hal.clock,
          open: hal.digitalOut,
          channels: config.relays,
          fuseW: config.fuseLimitW,
        });
        this.meter = new PulseMeter({
          clock: hal.clock,
          watch: hal.edgeInput,
          inputs: config.meters,
          records: (this.meterRecords = records(hal, METER_RECORDS, METER_RECORD_BYTES, METER_LEAVES_BYTES)),
          saveThresholdWh: config.meterSaveWh,
        });
      } catch (e) {
        // A pin the board does not have, a flash that cannot be read: the
        // configuration does not fit this board.
        // On 2v29 a TypeError is not `instanceof Error`: read the message directly.
        errors.push("board: " + ((e && (e as Error).message) || e) + " (check the configuration's pins)");
      }
    }
    if (errors.length) {
      holdRelaysOff(hal, config);
      out.print(name + ": configuration refused (" + source + "), all relays held off:\n  " + errors.join("\n  "));
      return;
    }
    this.startMaintenance();
    // The configuration in effect, as its file holds it, so a technician
    // can hold one against the other: the values on the first line, then
    // a line per record of each list.
    const c = config as unknown as { [k: string]: unknown };
    const values: { [k: string]: unknown } = {};
    let k: string;
    for (k in c) if (!(c[k] instanceof Array)) values[k] = c[k];
    out.print(name + " (config from " + source + ") " + JSON.stringify(values));
    for (k in c) {
      const l = c[k];
      if (l instanceof Array) for (let i = 0; i < l.length; i++) out.print(k + " " + i + " " + JSON.stringify(l[i]));
    }
    out.print("boot " + (this.meter as PulseMeter).bootCount + "; type R.status() for the state");
    this.agent = this.startAgent(config);
  }

  /** The agent that talks to the server, when a broker and a key are configured. */
  private startAgent(config: RouterConfig): Agent | undefined {
    const hal = this.hal;
    const flash = hal.flash;
    const key = flash.read(KEY_FILE);
    if (!config.broker) return undefined;
    if (!key || key.length < 16 || key.length > 64) {
      hal.console.print("no router key in " + KEY_FILE + " (16-64 bytes): offline until one is flashed");
      return undefined;
    }
    // The broker user and password, when the flasher stored them (u, b); read here, after the configuration was checked.
    const net = flash.read(NET_FILE);
    try {
      const n = net && JSON.parse(bytesToString(net));
      // Printable ASCII strings only, and a password only with a user (MQTT 3.1.1): a hand-edited file must not stop the boot.
      if (n && printable(n.u)) {
        config.broker.user = n.u;
        if (printable(n.b)) config.broker.password = n.b;
      }
    } catch {
      // Not JSON: the broker gets no credentials and says so in its CONNACK.
    }
    const seqRecords = records(hal, SEQ_RECORDS, SEQ_RECORD_BYTES);
    // seq is 0 exactly when the log holds no record (the constructor scanned it).
    const noSeq = seqRecords.seq === 0;
    return new Agent({
      hal: hal,
      config: config,
      relays: this.relays as Relays,
      meter: this.meter as PulseMeter,
      seq: new SeqStore(seqRecords, SEQ_STEP),
      key: key,
      version: this.version,
      random: Math.random,
      wiped: noSeq && flash.list(JOURNAL_NAME).length === 0,
      seqUnknown: noSeq,
      journal: this.journal as Journal,
      knownClients: this.top,
    });
  }

  /** R.request(): a request in the household's units (firmware/agent.ts converts it). */
  request(spec: RequestSpec): RequestAnswer {
    // No timers: stopped for a restart (R.pair, R.unpair).
    return this.agent && this.timers.length ? this.agent.request(spec) : { ok: false, id: 0, error: this.timers.length ? "no server link" : "restarting", code: 0 };
  }

  /** R.requests(): the open requests and their states. */
  /**
   * The open requests; doneBy: for one the local server refused, the slot
   * by which it could be done were its end moved there (0: not within the
   * horizon, or not refused at home).
   */
  listRequests(): { id: number; client: number; state: string; earliest: number; end: number; done: number; doneBy: number }[] {
    const out: { id: number; client: number; state: string; earliest: number; end: number; done: number; doneBy: number }[] = [];
    const a = this.agent;
    const rq = a && a.requests;
    // The local server's arrays are made when it first plans.
    const hint = a && a.ls.hint;
    for (let i = 0; rq && i < MAX_REQUESTS; i++) {
      const st = rq.get(i, F_STATE);
      // Only a refused request has a hint (a row used again keeps its last one until decided).
      if (st) out.push({ id: rq.get(i, F_ID), client: rq.get(i, F_CLIENT), state: RQ_STATE_NAMES[st], earliest: rq.get(i, F_EARLIEST), end: rq.get(i, F_END), done: rq.get(i, F_DONE), doneBy: hint && st === RQ_REJECTED ? hint[i] : 0 });
    }
    return out;
  }

  /** Firmware, uptime, relays, meters and memory, printed (as one JSON line) and returned. */
  status(): RouterStatus {
    const hal = this.hal;
    const relays = this.relays as Relays;
    const meter = this.meter;
    // The link's figures, when there is an agent, over their values without one.
    // The meter is there only when the configuration runs (relays and names too).
    const s: RouterStatus = Object.assign(
      {
        fw: this.version,
        uptimeS: Math.floor(hal.clock.nowMs() / 1000),
        state: meter ? "running" : "config-error",
        errors: this.problems,
        // A plain array of the levels (a typed array's own slice() gives one on 2v29, not in Node).
        relays: meter ? ([] as number[]).slice.call(relays.lvl) : [],
        loadW: meter ? relays.onW : 0,
        fuseLimitW: meter ? relays.fuse : 0,
        meters: meter ? meter.readings() : [],
        boot: meter ? meter.bootCount : 0,
        mem: hal.system.memory(),
        link: "none",
        time: 0,
        slot: 0,
        requests: 0,
        pendingAcks: 0,
        flashFull: false,
      },
      this.agent && this.agent.summary(),
    );
    hal.console.print("sden-router " + JSON.stringify(s));
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
    for (const t of this.timers) this.hal.clock.clearInterval(t);
    this.timers = [];
  }

  /**
   * Every MAINTAIN_MS, flash space is looked after: by the agent when there
   * is one, else here. Storage never compacts on its own (hal/records.ts
   * refuses a write that would make it); when trash blocks the next record
   * file, compaction runs now, between pulses, at a moment we choose, and the
   * totals are saved. Runs only once the configuration runs: the meter and
   * its records are there.
   *
   * The timer is made in a method of its own: an Espruino closure keeps its
   * whole scope chain, and one made in the constructor (or in a method given
   * the configuration) would keep every parsed record alive, several
   * hundred JsVars with 16 clients.
   */
  private startMaintenance(): void {
    this.timers.push(
      this.hal.clock.setInterval(() => {
        if (this.agent) this.agent.maintain();
        else if ((this.meterRecords as Records).needsCompaction()) {
          this.hal.flash.compact();
          (this.meter as PulseMeter).flush();
        }
      }, MAINTAIN_MS),
    );
  }
}

// Apart from bootRouter: Espruino's closures keep their whole scope, and
// there the boot options would stay alive.
function exposeRouter(hal: Hal, router: Router): Router {
  hal.console.expose("R", {
    status: () => router.status(),
    restart: () => router.restart(),
    request: (spec: RequestSpec) => router.request(spec),
    requests: () => router.listRequests(),
    clients: () => withConfig(router, clients, undefined),
    pair: (spec: ClientSpec) => withConfig(router, pair, spec),
    unpair: (client: string | number) => withConfig(router, unpair, client, true),
    identify: (client: string | number) => withConfig(router, identify, client, true),
    pulses: (meter: number) => pulses(router, meter),
    password: (pw: string) => password(router, pw),
    // Local server even when online (on), or only when the server is gone (off): the state it leaves.
    local: (on: boolean) => (router.agent ? router.agent.setLocal(on) : "none"),
    // The grid is down (on): local server with no import; the state it leaves.
    island: (on: boolean) => (router.agent ? router.agent.island(on) : "none"),
    // The home battery's state from its inverter: stored Wh, power W, reserve Wh.
    battery: (socWh: number, maxW: number, reserveWh: number) => router.agent && router.agent.battery(socWh, maxW, reserveWh),
  });
  return router;
}

/** Boots the router on a HAL and puts its console API on the global `R`. */
export function bootRouter(hal: Hal, options: BootOptions): Router {
  return exposeRouter(hal, new Router(hal, options));
}
