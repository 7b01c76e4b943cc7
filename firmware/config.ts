// The router's configuration: what flash.config.json holds, what the build
// bakes in as defaults and what the board reads from flash at boot. One
// validator serves the build (tools/build) and the boot, so a wrong value is
// refused with the same message in both places, naming the field and the fix.

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
}

export const BOARDS = ["ESP32", "ESPRUINO_WIFI", "NRF52"];
export const METER_ROLES = ["import", "export", "pv", "sub"];
export const MAX_RELAYS = 16;
export const MAX_METERS = 8;
export const MAX_CLIENTS = 16;
export const CLIENT_KINDS = ["profile", "energy", "thermal"];
export const DEFAULT_TELEMETRY_S = 900;
/** A host name or IPv4 address: letters, digits, '.', '-'. */
const HOST_RE = /^[A-Za-z0-9.-]+$/;

// Espruino's regular expressions have no `?` or `{n,m}` (tools/build/subset.ts):
// alternatives are written out and lengths checked in code.
/** A pin name as Espruino boards use them: D0-D47, A0-H15, LED1-3, BTN, BTN1-3. */
const PIN_RE = /^(D[0-9]|D[1-3][0-9]|D4[0-7]|[A-H][0-9]|[A-H]1[0-5]|LED[1-3]|BTN|BTN[1-3])$/;
/** Ids in topics: letters, digits, '-', '_' (no MQTT wildcards or '/'), at most MAX_ID chars. */
const ID_RE = /^[A-Za-z0-9_-]+$/;
const MAX_ID = 24;

/** Collects problems as "field: what is wrong; the fix". */
class Problems {
  list: string[] = [];
  add(field: string, msg: string): void {
    this.list.push(field + ": " + msg);
  }
}

function isInt(v: unknown): boolean {
  return typeof v === "number" && Math.floor(v) === v && v - v === 0;
}

function checkInt(p: Problems, o: { [k: string]: unknown }, key: string, field: string, min: number, max: number, unit: string): void {
  const v = o[key];
  if (!isInt(v)) p.add(field, "must be a whole number of " + unit + " from " + min + " to " + max + "; got " + JSON.stringify(v));
  else if ((v as number) < min || (v as number) > max) p.add(field, "must be from " + min + " to " + max + " " + unit + "; got " + v);
}

function checkString(p: Problems, o: { [k: string]: unknown }, key: string, field: string, re: RegExp, hint: string): void {
  const v = o[key];
  if (typeof v !== "string" || v.length > MAX_ID || !re.test(v)) p.add(field, "must be " + hint + "; got " + JSON.stringify(v));
}

/** Grid and router ids go into MQTT topics: protocol/topics.ts says what they may hold. */
function checkTopicId(p: Problems, o: { [k: string]: unknown }, key: string): void {
  const v = o[key];
  if (typeof v !== "string" || !isTopicId(v)) p.add(key, "must be 1-" + TOPIC_ID_MAX + " letters, digits, '-' or '_'; got " + JSON.stringify(v));
}

function checkOneOf(p: Problems, o: { [k: string]: unknown }, key: string, field: string, allowed: string[]): void {
  const v = o[key];
  if (typeof v !== "string" || allowed.indexOf(v) < 0) p.add(field, "must be one of " + allowed.join(", ") + "; got " + JSON.stringify(v));
}

function isObject(v: unknown): v is { [k: string]: unknown } {
  return typeof v === "object" && v !== null && !(v instanceof Array);
}

const CONFIG_KEYS = ["board", "gridId", "routerId", "fuseLimitW", "relays", "meters", "meterSaveWh", "packetWh", "slotMin", "heartbeatS", "watchdogS", "clients", "broker", "telemetryS"];
const CLIENT_KEYS = ["name", "kind", "relay", "meter", "priority", "standingWh"];
const BROKER_KEYS = ["host", "port", "keepAliveS"];
const RELAY_KEYS = ["name", "pin", "ratedW", "bootOn", "minOnS", "minOffS"];
const METER_KEYS = ["name", "pin", "pulsesPerKwh", "role", "minWidthMs", "debounceMs"];

/** A misspelt field would otherwise be ignored and its default used silently. */
function checkKeys(p: Problems, o: { [k: string]: unknown }, prefix: string, known: string[]): void {
  const keys = Object.keys(o);
  for (let i = 0; i < keys.length; i++) {
    if (known.indexOf(keys[i]) < 0) p.add(prefix + keys[i], "unknown field; expected one of " + known.join(", "));
  }
}

function checkRelay(p: Problems, r: unknown, i: number): void {
  const f = "relays[" + i + "]";
  if (!isObject(r)) {
    p.add(f, "must be an object with name, pin, ratedW, bootOn, minOnS, minOffS");
    return;
  }
  checkKeys(p, r, f + ".", RELAY_KEYS);
  checkString(p, r, "name", f + ".name", ID_RE, "1-24 letters, digits, '-' or '_'");
  checkString(p, r, "pin", f + ".pin", PIN_RE, "a pin name such as D5, A0 or B12");
  checkInt(p, r, "ratedW", f + ".ratedW", 1, 50000, "W");
  if (typeof r.bootOn !== "boolean") p.add(f + ".bootOn", "must be true or false; got " + JSON.stringify(r.bootOn));
  checkInt(p, r, "minOnS", f + ".minOnS", 0, 3600, "s");
  checkInt(p, r, "minOffS", f + ".minOffS", 0, 3600, "s");
}

function checkMeter(p: Problems, m: unknown, i: number): void {
  const f = "meters[" + i + "]";
  if (!isObject(m)) {
    p.add(f, "must be an object with name, pin, pulsesPerKwh, role, minWidthMs, debounceMs");
    return;
  }
  checkKeys(p, m, f + ".", METER_KEYS);
  checkString(p, m, "name", f + ".name", ID_RE, "1-24 letters, digits, '-' or '_'");
  checkString(p, m, "pin", f + ".pin", PIN_RE, "a pin name such as D5, A0 or B12");
  checkInt(p, m, "pulsesPerKwh", f + ".pulsesPerKwh", 1, 100000, "impulses per kWh (see the meter's label)");
  checkOneOf(p, m, "role", f + ".role", METER_ROLES);
  checkInt(p, m, "minWidthMs", f + ".minWidthMs", 1, 1000, "ms");
  checkInt(p, m, "debounceMs", f + ".debounceMs", 0, 100, "ms");
  if (isInt(m.debounceMs) && isInt(m.minWidthMs) && (m.debounceMs as number) >= (m.minWidthMs as number)) {
    p.add(f + ".debounceMs", "must be below minWidthMs (" + m.minWidthMs + " ms), or real pulses are filtered out");
  }
}

function checkClient(p: Problems, c: { [k: string]: unknown }, i: number, cl: unknown): void {
  const f = "clients[" + i + "]";
  if (!isObject(cl)) {
    p.add(f, "must be an object with name, kind, relay, meter, priority");
    return;
  }
  checkKeys(p, cl, f + ".", CLIENT_KEYS);
  checkString(p, cl, "name", f + ".name", ID_RE, "1-16 letters, digits, '-' or '_'");
  if (typeof cl.name === "string" && cl.name.length > 16) p.add(f + ".name", "must be at most 16 characters (it travels in pairing reports); got " + JSON.stringify(cl.name));
  checkOneOf(p, cl, "kind", f + ".kind", CLIENT_KINDS);
  const relays = c.relays instanceof Array ? c.relays.length : 0;
  const meters = c.meters instanceof Array ? c.meters : [];
  checkInt(p, cl, "relay", f + ".relay", 0, Math.max(0, relays - 1), "(an index into relays)");
  checkInt(p, cl, "meter", f + ".meter", -1, meters.length - 1, "(an index into meters, or -1 for none)");
  if (isInt(cl.meter) && (cl.meter as number) >= 0 && isObject(meters[cl.meter as number]) && meters[cl.meter as number].role !== "sub") {
    p.add(f + ".meter", "must name a meter with role \"sub\"; meters[" + cl.meter + "] is " + JSON.stringify(meters[cl.meter as number].role));
  }
  checkInt(p, cl, "priority", f + ".priority", 0, 7, "(0 most important)");
  if (cl.standingWh !== undefined) {
    checkInt(p, cl, "standingWh", f + ".standingWh", 1, 100000, "Wh in every 4 hours");
    if (cl.kind !== "thermal") p.add(f + ".standingWh", "only a thermal client has a standing request; remove it or set kind \"thermal\"");
  }
  const list = c.clients as unknown[];
  for (let j = 0; j < i; j++) {
    const o = list[j];
    if (isObject(o) && o.relay === cl.relay) p.add(f + ".relay", "relay " + cl.relay + " is already clients[" + j + "]'s");
    if (isObject(o) && o.name === cl.name) p.add(f + ".name", "name " + JSON.stringify(cl.name) + " is already clients[" + j + "]'s");
    if (isObject(o) && isInt(cl.meter) && (cl.meter as number) >= 0 && o.meter === cl.meter) p.add(f + ".meter", "meter " + cl.meter + " is already clients[" + j + "]'s");
  }
}

function checkBroker(p: Problems, b: unknown): void {
  if (!isObject(b)) {
    p.add("broker", "must be an object with host, port, keepAliveS");
    return;
  }
  checkKeys(p, b, "broker.", BROKER_KEYS);
  if (typeof b.host !== "string" || b.host.length < 1 || b.host.length > 64 || !HOST_RE.test(b.host)) p.add("broker.host", "must be a host name or IPv4 address; got " + JSON.stringify(b.host));
  checkInt(p, b, "port", "broker.port", 1, 65535, "(a TCP port)");
  checkInt(p, b, "keepAliveS", "broker.keepAliveS", 10, 3600, "s");
}

/** Pins used twice would switch two things at once. */
function checkPinsUnique(p: Problems, c: { [k: string]: unknown }): void {
  const seen: string[] = [];
  const lists = ["relays", "meters"];
  for (let l = 0; l < lists.length; l++) {
    const arr = c[lists[l]];
    if (!(arr instanceof Array)) continue;
    for (let i = 0; i < arr.length; i++) {
      const pin = isObject(arr[i]) ? arr[i].pin : undefined;
      if (typeof pin !== "string") continue;
      if (seen.indexOf(pin) >= 0) p.add(lists[l] + "[" + i + "].pin", "pin " + pin + " is already used by another relay or meter");
      seen.push(pin);
    }
  }
}

/** Relays that are on at boot must fit under the fuse before anything else runs. */
function checkBootLoad(p: Problems, c: { [k: string]: unknown }): void {
  const relays = c.relays;
  if (!(relays instanceof Array) || !isInt(c.fuseLimitW)) return;
  let bootW = 0;
  for (let i = 0; i < relays.length; i++) {
    const r = relays[i];
    if (isObject(r) && r.bootOn === true && isInt(r.ratedW)) bootW += r.ratedW as number;
  }
  if (bootW > (c.fuseLimitW as number)) {
    p.add("relays[].bootOn", "relays on at boot draw " + bootW + " W, above fuseLimitW " + c.fuseLimitW + " W; set bootOn false on some");
  }
}

/**
 * Every problem with a configuration, as "field: message" lines; an empty
 * list means it is valid. Never throws, whatever it is given.
 */
export function validateConfig(c: unknown): string[] {
  const p = new Problems();
  if (!isObject(c)) {
    p.add("config", "must be a JSON object");
    return p.list;
  }
  checkKeys(p, c, "", CONFIG_KEYS);
  checkOneOf(p, c, "board", "board", BOARDS);
  checkTopicId(p, c, "gridId");
  checkTopicId(p, c, "routerId");
  checkInt(p, c, "fuseLimitW", "fuseLimitW", 100, 100000, "W");
  checkInt(p, c, "meterSaveWh", "meterSaveWh", 1, 1000, "Wh");
  checkInt(p, c, "packetWh", "packetWh", 1, 10000, "Wh");
  checkInt(p, c, "slotMin", "slotMin", 1, 60, "minutes");
  if (isInt(c.slotMin) && 60 % (c.slotMin as number) !== 0) p.add("slotMin", "must divide an hour (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30 or 60); got " + c.slotMin);
  checkInt(p, c, "heartbeatS", "heartbeatS", 5, 3600, "s");
  checkInt(p, c, "watchdogS", "watchdogS", 2, 300, "s");
  if (!(c.relays instanceof Array) || c.relays.length > MAX_RELAYS) {
    p.add("relays", "must be a list of at most " + MAX_RELAYS + " relays");
  } else {
    for (let i = 0; i < c.relays.length; i++) checkRelay(p, c.relays[i], i);
  }
  if (!(c.meters instanceof Array) || c.meters.length > MAX_METERS) {
    p.add("meters", "must be a list of at most " + MAX_METERS + " pulse inputs");
  } else {
    for (let i = 0; i < c.meters.length; i++) checkMeter(p, c.meters[i], i);
  }
  if (c.clients !== undefined) {
    if (!(c.clients instanceof Array) || c.clients.length > MAX_CLIENTS) p.add("clients", "must be a list of at most " + MAX_CLIENTS + " clients");
    else for (let i = 0; i < c.clients.length; i++) checkClient(p, c, i, c.clients[i]);
  }
  if (c.broker !== undefined) checkBroker(p, c.broker);
  if (c.telemetryS !== undefined) checkInt(p, c, "telemetryS", "telemetryS", 60, 86400, "s");
  checkPinsUnique(p, c);
  checkBootLoad(p, c);
  return p.list;
}
