// The router's configuration: what flash.config.json holds, what the
// flasher writes to the board (sden.cfg) and what the board reads from flash
// at boot. One validator serves the flasher (tools/flash), the boot and the
// console's pairing calls, so a wrong value is refused with the same message
// in each place, naming the field and the fix.

import { TOPIC_ID_MAX, isTopicId } from "../protocol/topics";

export interface RelayConfig {
  /** Appliance or circuit name, for the console and the server. */
  name: string;
  /** The pin that drives the relay coil, e.g. "D5". */
  pin: string;
  /** Rated power of what the relay switches; counts against the fuse limit. */
  ratedW: number;
  /** The relay's state at boot, before the router decides (off unless set). */
  bootOn: boolean;
  /** Minimum time on once switched on, and off once switched off. */
  minOnS: number;
  minOffS: number;
}

/** What a pulse input measures. */
export type MeterRole = "import" | "export" | "pv" | "sub";

export interface MeterConfig {
  name: string;
  /** The S0 input pin. */
  pin: string;
  /** Impulses per kWh, printed on the meter (e.g. 1000 or 800 imp/kWh). */
  pulsesPerKwh: number;
  role: MeterRole;
  /** Pulses shorter than this are noise (S0 pulses last at least 30 ms). */
  minWidthMs: number;
  /** Contact bounce filter. */
  debounceMs: number;
}

/** How a client's requests look (design section 1). */
export type ClientKind = "profile" | "energy" | "thermal";

/**
 * A paired appliance: a relay channel, optionally a sub-meter, what it is,
 * how important it is. Its client id on the wire is its position + 1.
 */
export interface ClientConfig {
  name: string;
  kind: ClientKind;
  /** Index into relays; the relay's ratedW is the client's rated power. */
  relay: number;
  /** Index into meters of its sub-meter (role "sub"), or -1 when it has none. */
  meter: number;
  /** 0 (most important) to 7. */
  priority: number;
  /**
   * Thermal clients that cannot ask for themselves (a plain water heater):
   * the router's client agent keeps a standing request for this many Wh in
   * every 4 hours. Optional; none when absent.
   */
  standingWh?: number;
}

/** Where the energy server is reached (MQTT 3.1.1 over TCP). */
export interface BrokerConfig {
  host: string;
  port: number;
  keepAliveS: number;
  /** The broker user and password: not in the configuration, but from the flasher's sden.net (firmware/router.ts). */
  user?: string;
  password?: string;
}

export interface RouterConfig {
  board: "ESP32" | "ESPRUINO_WIFI" | "NRF52";
  /** Ids in the MQTT topics: short ASCII. */
  gridId: string;
  routerId: string;
  /** Main fuse: the rated power of relays that are on never sums above it. */
  fuseLimitW: number;
  relays: RelayConfig[];
  meters: MeterConfig[];
  /** Meter totals are saved to flash after this much energy on any input. */
  meterSaveWh: number;
  /** Packet size and slot length of the microgrid (design section 1). */
  packetWh: number;
  slotMin: number;
  /** The server's heartbeat period. */
  heartbeatS: number;
  /** Hardware watchdog timeout. */
  watchdogS: number;
  /** The paired appliances (optional: none). */
  clients?: ClientConfig[];
  /** The broker (optional: without one the router runs offline). */
  broker?: BrokerConfig;
  /** Telemetry period (optional: 900 s). */
  telemetryS?: number;
  /** The flasher's section of flash.config.json (tools/flash/flash.schema.json); never on the board. */
  flash?: unknown;
  /** Heartbeat periods missed before failsafe (optional: 2; design section 3). */
  failsafeMissed?: number;
  /** Time in failsafe before the router acts as local server (optional: 900 s). */
  localAfterS?: number;
  /** Act as local server even when the server is there (optional: false). */
  localOnly?: boolean;
  /** Import the local server may plan for, 0 to fuseLimitW (optional: fuseLimitW). */
  importW?: number;
}

/** Meter roles and client kinds; firmware/agent.ts uses their indexes. */
export const METER_ROLES = ["import", "export", "pv", "sub"];
export const CLIENT_KINDS = ["profile", "energy", "thermal"];
export const DEFAULT_TELEMETRY_S = 900;
/** Defaults of the connectivity fields (design section 3; EEBus LPC: failsafe after 120 s without a heartbeat). */
export const DEFAULT_FAILSAFE_MISSED = 2;
export const DEFAULT_LOCAL_AFTER_S = 900;

/** What a name or id may hold: the topic id rule of protocol/topics.ts. */
const ID = " letters, digits, '-' or '_'";

type Obj = { [k: string]: unknown };

/**
 * A field's rule, told apart by its first item:
 *   [min, max, unit, optional]  a whole number from min to max
 *   [test, what]                a value that test accepts
 *   [allowed, note]             one of the allowed values
 *   []                          a list or object, checked on its own
 */
type Rules = { [key: string]: unknown[] };

/**
 * Every problem with a configuration, as "field: message" lines; an empty
 * list means it is valid. Never throws, whatever it is given. Its checks
 * are made inside it, sharing the list of problems p and the values seen:
 * functions of the module would stay in the board's memory between the
 * times it runs (at boot and on a pairing change).
 */
export function validateConfig(c: unknown): string[] {
  const p: string[] = [];
  // Infinity and NaN leave a remainder of NaN.
  const isInt = (v: unknown): v is number => typeof v === "number" && v % 1 === 0;
  const isObject = (v: unknown): v is Obj => typeof v === "object" && v !== null && !(v instanceof Array);
  // Every problem is "field: what is wrong", naming the fix; most are "field: must be what; got value".
  const must = (field: string, what: string, v: unknown): void => {
    p.push(field + ": must be " + what + "; got " + JSON.stringify(v));
  };

  // Checks the record o, the field f ("relays[0]"; "" for the whole config),
  // against its rules. A key without a rule is refused: a misspelt field
  // would otherwise be ignored and its default used silently.
  const checkRecord = (o: unknown, f: string, rules: Rules): void => {
    const keys = Object.keys(rules);
    const known = keys.join(", ");
    if (!isObject(o)) return must(f, "an object with " + known, o);
    const pre = f ? f + "." : "";
    for (const k of Object.keys(o)) if (keys.indexOf(k) < 0) p.push(pre + k + ": unknown field; expected one of " + known);
    for (const k of keys) {
      const r = rules[k];
      const a = r[0];
      const v = o[k];
      let what = "";
      if (typeof a === "number") {
        if (!(v === undefined && r[3]) && !(isInt(v) && v >= a && v <= (r[1] as number))) what = "a whole number from " + a + " to " + r[1] + " " + r[2];
      } else if (typeof a === "function") {
        if (!a(v)) what = r[1] as string;
      } else if (a && (a as unknown[]).indexOf(v) < 0) what = "one of " + (a as unknown[]).join(", ") + (r[1] || "");
      if (what) must(pre + k, what, v);
    }
  };

  if (!isObject(c)) return ["config: must be a JSON object"];
  // The keys in a list's unique may not repeat a value across the lists
  // (a pin used twice would switch two things at once); -1 (no meter) may.
  const seen: Obj = {};

  // The list c[key] of at most max records. each(record, i) gives a
  // record's rules (and notes what later checks need).
  const checkList = (key: string, max: number, each: (o: Obj, i: number) => Rules, unique: string[]): void => {
    const list = c[key];
    const isList = list instanceof Array;
    if (!isList || list.length > max) return must(key, "a list of at most " + max + " " + key, isList ? list.length : list);
    list.forEach((x, i) => {
      const o = isObject(x) ? x : {};
      const f = key + "[" + i + "]";
      checkRecord(x, f, each(o, i));
      for (const u of unique) {
        const v = o[u];
        // Only a well-typed value can clash (an object's own toString may throw).
        if ((typeof v !== "string" && typeof v !== "number") || v === -1) continue;
        const k = u + " " + v;
        if (seen[k]) p.push(f + "." + u + ": " + k + " is already used by " + seen[k]);
        seen[k] = f;
      }
    });
  };

  const id = [isTopicId, "1-" + TOPIC_ID_MAX + ID];
  // Espruino's regular expressions have no `?` or `{n,m}` (tools/build/subset.ts):
  // alternatives are written out. A pin name as Espruino boards use them: A0-H15, D0-D47, LED1-3, BTN, BTN1-3.
  const pin = [(v: unknown) => typeof v === "string" && /^([A-H][0-9]|[A-H]1[0-5]|D[1-3][0-9]|D4[0-7]|LED[1-3]|BTN|BTN[1-3])$/.test(v), "a pin name such as D5, A0 or B12"];
  const s3600 = [0, 3600, "s"];
  // Noted while the relays are checked: a client's relay is 0..lastRelay (none when there are no relays).
  let lastRelay = -1;
  let bootW = 0;
  // A client's meter is one with role "sub", or -1 for none.
  const subs = [-1];
  checkRecord(c, "", {
    board: [["ESP32", "ESPRUINO_WIFI", "NRF52"]],
    // The flasher's own section of flash.config.json (tools/flash checks it); the build and the flasher leave it out of the board's copy.
    flash: [() => 1, ""],
    gridId: id,
    routerId: id,
    fuseLimitW: [100, 100000, "W"],
    relays: [],
    meters: [],
    meterSaveWh: [1, 1000, "Wh"],
    packetWh: [1, 10000, "Wh"],
    // Slots tile the hour.
    slotMin: [[1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60]],
    heartbeatS: [5, 3600, "s"],
    watchdogS: [2, 300, "s"],
    clients: [],
    broker: [],
    telemetryS: [60, 86400, "s", 1],
    failsafeMissed: [1, 10, "heartbeats", 1],
    localAfterS: [60, 86400, "s", 1],
    localOnly: [(v: unknown) => v === undefined || typeof v === "boolean", "true or false"],
    importW: [0, isInt(c.fuseLimitW) ? c.fuseLimitW : 100000, "W", 1],
  });
  checkList("relays", 16, (r, i) => {
    lastRelay = i;
    if (r.bootOn === true && isInt(r.ratedW)) bootW += r.ratedW;
    return { name: id, pin: pin, ratedW: [1, 50000, "W"], bootOn: [[true, false]], minOnS: s3600, minOffS: s3600 };
  }, ["pin"]);
  checkList("meters", 8, (m, i) => {
    if (m.role === "sub") subs.push(i);
    return {
      name: id,
      pin: pin,
      pulsesPerKwh: [1, 100000, "imp/kWh"],
      role: [METER_ROLES],
      minWidthMs: [1, 1000, "ms"],
      // Below minWidthMs, or real pulses are filtered out.
      debounceMs: [0, isInt(m.minWidthMs) && m.minWidthMs < 101 ? m.minWidthMs - 1 : 100, "ms"],
    };
  }, ["pin"]);
  if (c.clients !== undefined) {
    checkList("clients", 16, (cl) => ({
      // A client's name travels in pairing reports.
      name: [(v: string) => isTopicId(v) && v.length <= 16, "1-16" + ID],
      kind: [CLIENT_KINDS],
      relay: [0, lastRelay, "(a relay's index)"],
      meter: [subs, " (a sub meter's index, or -1 for none)"],
      priority: [0, 7, "(0 most important)"],
      // Only a thermal client has a standing request.
      standingWh: cl.kind === "thermal" ? [1, 100000, "Wh per 4 h", 1] : [(v: unknown) => v === undefined, "absent unless kind is thermal"],
    }), ["relay", "meter", "name"]);
  }
  if (c.broker !== undefined) {
    checkRecord(c.broker, "broker", {
      host: [(v: unknown) => typeof v === "string" && v.length <= 64 && /^[A-Za-z0-9.-]+$/.test(v), "a host name or IPv4 address"],
      port: [1, 65535, "(a TCP port)"],
      keepAliveS: [10, 3600, "s"],
    });
  }
  // Relays that are on at boot must fit under the fuse before anything else runs.
  if (isInt(c.fuseLimitW) && bootW > c.fuseLimitW) {
    p.push("relays[].bootOn: relays on at boot draw " + bootW + " W, above fuseLimitW " + c.fuseLimitW + " W");
  }
  return p;
}
