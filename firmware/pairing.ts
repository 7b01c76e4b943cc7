// Pairing from the console (design section 2, "Pairing"; docs/console.md):
// list, pair, unpair and identify clients, test a pulse input, set the
// console password.
//
// The configuration the flasher wrote (sden.cfg) is never rewritten here:
// Storage replaces a file by erasing it first, so a power cut in between
// would leave none. A pairing change saves the whole new configuration as a
// crash-safe record instead, tagged with the CRC-32 of the configuration it
// was made from; at boot it wins only while that
// configuration is unchanged, so a newly flashed one replaces the console's
// pairings. The router then restarts: the agent's per-client tables are
// sized at boot, a restart keeps everything accepted (the journal) and the
// meter totals (saved by stop()), and after HELLO the new boot reports
// every client to the server, and as unpaired the ids it no longer uses.

import type { Hal } from "../hal/types";
import { Records } from "../hal/records";
import { RELAY_MIN_OFF, RELAY_MIN_ON } from "../hal/relays";
import type { Relays } from "../hal/relays";
import { ascii } from "./agent";
import { validateConfig } from "./config";
import type { ClientConfig, ClientKind, RouterConfig } from "./config";
import type { MeterReading, PulseMeter } from "./meter";
import type { Router } from "./router";

/** The Storage file holding the board's configuration (written by the flasher). */
export const CONFIG_FILE = "sden.cfg";
/** The crash-safe record log holding the configuration after a pairing change. */
export const PAIR_RECORDS = "sden.par";
/** Room for the largest configuration: 16 relays, 8 meters and 16 clients, every name 16 characters (4.4 KB of JSON). */
export const PAIR_RECORD_BYTES = 5120;
/** The crash-safe record log holding the console password (at most 20 characters). */
export const PASSWORD_RECORDS = "sden.pwd";
export const PASSWORD_RECORD_BYTES = 64;
/** The shortest click of R.identify (a longer minOnS holds the relay on longer). */
const CLICK_MS = 1000;
/** R.pair and R.unpair restart the router this long after answering, so the answer reaches the console first. */
const RESTART_MS = 1000;

/** What R.pair takes: a client's fields, and the rated power of its relay channel. */
export interface ClientSpec {
  name: string;
  kind: ClientKind;
  relay: number;
  meter: number;
  priority: number;
  ratedW?: number;
  standingWh?: number;
}

/** A paired client as R.clients() lists it. */
export interface ClientInfo extends ClientConfig {
  id: number;
  ratedW: number;
}

/** What every pairing call answers: ok, or why not (and when to try again); the other fields by call. */
export interface ConsoleAnswer {
  ok: boolean;
  error?: string;
  retryS?: number;
  id?: number;
  restart?: boolean;
  clients?: ClientInfo[];
  relay?: number;
  onS?: number;
}

/** R.pulses(): an input's figures, its index and the whole seconds since its last pulse (-1: none since boot). */
export interface PulseAnswer extends MeterReading {
  ok: boolean;
  meter: number;
  lastS: number;
}

/** The configuration in effect at boot, where it came from, and what pairing needs to change it. */
export interface LoadedConfig {
  config: RouterConfig;
  /** CONFIG_FILE or PAIR_RECORDS. */
  origin: string;
  /** Set when there is no configuration file, or its text is not JSON (validateConfig is the caller's). */
  refused?: string[];
  /** CRC-32 of the flashed configuration file. */
  baseCrc: number;
  /** From the pairing record: the most clients the server may know of (ids above the configuration's are reported unpaired); 0 without one. */
  top: number;
}

/** Printable ASCII only: what a console can type, and what the router takes as broker credentials. */
export function printable(v: unknown): v is string {
  return typeof v === "string" && /^[ -~]*$/.test(v);
}

export function bytesToString(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return s;
}

/** One of the router's crash-safe record logs (the pairing, the password, the seq bounds, the meter totals). */
export function records(hal: Hal, name: string, fileBytes: number, leave?: number): Records {
  return new Records(hal.flash, hal.system.crc32, { name: name, fileBytes: fileBytes, leave: leave });
}

/**
 * The configuration: the pairing record when it was made from the flashed
 * configuration, else the file in flash. With no file, or one that is not
 * JSON, there is none: `refused` says why (validateConfig is the caller's).
 */
export function loadConfig(hal: Hal): LoadedConfig {
  const stored = hal.flash.read(CONFIG_FILE);
  // config is set below, unless there is none.
  const l = { origin: CONFIG_FILE, baseCrc: 0, top: 0 } as LoadedConfig;
  if (!stored) {
    l.refused = [CONFIG_FILE + ": not in flash; npm run flash writes it"];
    return l;
  }
  const base = (l.baseCrc = hal.system.crc32(stored));
  const rec = records(hal, PAIR_RECORDS, PAIR_RECORD_BYTES).load();
  // The record is the JSON of [base CRC, top, configuration] (save()): one made from another base is not parsed.
  const t = rec ? bytesToString(rec) : "";
  try {
    if (!t.indexOf("[" + base + ",")) {
      const r = JSON.parse(t);
      l.origin = PAIR_RECORDS;
      l.top = r[1];
      l.config = r[2];
    } else l.config = JSON.parse(bytesToString(stored));
  } catch (e) {
    l.refused = [l.origin + ": not valid JSON (" + e + ")"];
  }
  return l;
}

function fail(error: string): ConsoleAnswer {
  return { ok: false, error: error };
}

/**
 * What a pairing call does with the configuration in effect (a copy to
 * change); i is the index of the client that arg names by its id or its
 * name, for the calls that take a client.
 */
export type PairingCall<T> = (r: Router, l: LoadedConfig, arg: T, i: number) => ConsoleAnswer;

/**
 * Runs a pairing call on the configuration in effect, read again: the
 * router keeps none, and a change since boot is already there. Refused
 * while the router runs without a configuration, and for a call that takes
 * a client (onClient) when arg names none.
 */
export function withConfig<T>(r: Router, call: PairingCall<T>, arg: T, onClient?: boolean): ConsoleAnswer {
  if (r.problems.length) return fail("config refused");
  const l = loadConfig(r.hal);
  const c = l.config;
  const i = (c.clients || (c.clients = [])).findIndex((k, j) => k.name === arg || j + 1 === arg);
  return onClient && i < 0 ? fail("client: no " + JSON.stringify(arg)) : call(r, l, arg, i);
}

/**
 * Checks the changed configuration as at boot, saves it and restarts: the
 * answer for client id. count: the clients the server may know of now.
 */
function save(r: Router, l: LoadedConfig, id: number, count: number): ConsoleAnswer {
  const c = l.config;
  const p = validateConfig(c);
  if (p.length) return fail(p.join("; "));
  if (records(r.hal, PAIR_RECORDS, PAIR_RECORD_BYTES).save(ascii(JSON.stringify([l.baseCrc, Math.max(l.top, count), c])))) return fail("flash full");
  // Bound, not a closure: an Espruino closure keeps its whole scope (here
  // the configuration), and the build inlines a helper made to avoid it.
  // Stopped now: nothing new is taken under ids the new boot may move.
  r.stop();
  r.hal.clock.setTimeout(r.restart.bind(r), RESTART_MS);
  return { ok: true, id: id, restart: true };
}

/** R.clients(): the paired clients with their ids and rated power. */
export const clients: PairingCall<void> = (_r, l) => {
  const c = l.config;
  return { ok: true, clients: (c.clients as ClientConfig[]).map((k, i) => Object.assign({ id: i + 1 }, k, { ratedW: c.relays[k.relay].ratedW })) };
};

/** R.pair(spec): a new client with the next id; ratedW, when given, is its relay channel's. */
export const pair: PairingCall<ClientSpec> = (r, l, spec) => {
  const c = l.config;
  const list = c.clients as ClientConfig[];
  let k: unknown = spec;
  if (spec && typeof spec === "object") {
    const s = (k = Object.assign({}, spec)) as ClientSpec;
    const ch = c.relays[s.relay];
    // An unknown relay is refused by the validator (this ratedW is then not checked).
    if (s.ratedW !== undefined && ch) ch.ratedW = s.ratedW;
    delete s.ratedW;
  }
  const n = list.push(k as ClientConfig);
  return save(r, l, n, n);
};

/**
 * R.unpair(client). The clients after it move down one id, and their
 * requests, schedules and acks are held by id: refused while any of them
 * has one open, or an ack is pending.
 */
export const unpair: PairingCall<string | number> = (r, l, _who, i) => {
  const list = l.config.clients as ClientConfig[];
  const a = r.agent;
  if (a) {
    const p = a.plan;
    const s = a.currentSlot();
    let busy = a.summary().pendingAcks > 0 || r.listRequests().some((q) => q.client > i);
    for (let k = i; k < list.length; k++) if (p.to[k] > s && p.lease[k] > s) busy = true;
    if (busy) return fail("client " + (i + 1) + ": busy");
  }
  // The last id stays known to the server until reported unpaired.
  const known = list.length;
  list.splice(i, 1);
  return save(r, l, i + 1, known);
};

/**
 * R.identify(client): the relay on for CLICK_MS or its minOnS, then off,
 * through the safety layer; refused while it is on, within its minOffS or
 * above the fuse.
 */
export const identify: PairingCall<string | number> = (r, l, _who, i) => {
  const ch = (l.config.clients as ClientConfig[])[i].relay;
  const relays = r.relays as Relays;
  const now = r.hal.clock.nowMs();
  // A relay that is on runs its appliance: told as RELAY_MIN_ON, never switched.
  const code = relays.isOn(ch) ? RELAY_MIN_ON : relays.set(ch, true);
  if (code) {
    const a = fail("relay " + ch + ": " + ["is on", "minOffS", "fuse"][code - RELAY_MIN_ON]);
    // Within minOffS the relay may switch on again at retryAtMs, after now.
    if (code === RELAY_MIN_OFF) a.retryS = Math.ceil((relays.retryAtMs(ch, true) - now) / 1000);
    return a;
  }
  // The agent would switch it off as soon as its minOnS allows: kept on for the click first.
  relays.keep(ch, Math.max(0, CLICK_MS - l.config.relays[ch].minOnS * 1000));
  const ms = relays.retryAtMs(ch, false) - now;
  // Bound, as the restart in save().
  r.hal.clock.setTimeout(relays.set.bind(relays, ch, false), ms);
  return { ok: true, id: i + 1, relay: ch, onS: Math.round(ms / 1000) };
};

/** R.pulses(meter): the input's figures and the seconds since its last pulse. */
export function pulses(r: Router, m: number): PulseAnswer | ConsoleAnswer {
  const meter = r.meter;
  const all = meter ? meter.readings() : [];
  if (!(m >>> 0 === m && m < all.length)) return fail("meter: must be 0-" + (all.length - 1) + "; got " + JSON.stringify(m));
  const last = (meter as PulseMeter).lastPulseMs(m);
  return Object.assign({ ok: true, meter: m, lastS: last < 0 ? -1 : Math.floor((r.hal.clock.nowMs() - last) / 1000) }, all[m]);
}

/** R.password(password): saved (crash-safe), applied at every boot; "" removes it. */
export function password(r: Router, pw: string): ConsoleAnswer {
  // Not echoed back.
  if (!(printable(pw) && pw.length < 21)) return fail("password: 0-20 printable ASCII");
  if (records(r.hal, PASSWORD_RECORDS, PASSWORD_RECORD_BYTES).save(ascii(pw))) return fail("flash full");
  r.hal.console.setPassword(pw);
  return { ok: true };
}
