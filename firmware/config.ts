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
}

export const BOARDS = ["ESP32", "ESPRUINO_WIFI", "NRF52"];
export const METER_ROLES = ["import", "export", "pv", "sub"];
export const MAX_RELAYS = 16;
export const MAX_METERS = 8;

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

const CONFIG_KEYS = ["board", "gridId", "routerId", "fuseLimitW", "relays", "meters", "meterSaveWh", "packetWh", "slotMin", "heartbeatS", "watchdogS"];
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
  checkPinsUnique(p, c);
  checkBootLoad(p, c);
  return p.list;
}
