// The pairing page's forms, checked before anything is sent. A pairing is
// checked by the router's own validator (firmware/config.ts), run on a
// stand-in of the router's configuration built from what its console tells
// (the clients, how many relays and meters): the ranges, the "already used"
// rules and the messages are the router's, so the page refuses exactly what
// the router would, and says so before the technician waits for a radio
// round trip. Only a meter's role is not known here (the console does not
// list it): a meter that is not a sub-meter is refused by the router.

import { CLIENT_KINDS, validateConfig, type RouterConfig } from "../../firmware/config";

/** A paired client as R.clients() lists it (docs/console.md). */
export interface ClientInfo {
  id: number;
  name: string;
  kind: string;
  relay: number;
  meter: number;
  priority: number;
  ratedW: number;
  standingWh?: number;
}

/** What the page knows of the router's wiring. */
export interface Wiring {
  clients: ClientInfo[];
  /** How many relay channels and pulse inputs it has (R.status()). */
  relays: number;
  meters: number;
}

/** R.pair's argument (docs/console.md). */
export interface PairSpec {
  name: string;
  kind: string;
  relay: number;
  meter: number;
  priority: number;
  ratedW?: number;
  standingWh?: number;
}

/** The pairing form as typed: every field a string ("" when left empty). */
export interface PairForm {
  name: string;
  kind: string;
  relay: string;
  meter: string;
  priority: string;
  ratedW: string;
  standingWh: string;
}

/** Field name to what is wrong with it, in the technician's words. */
export type FieldErrors = { [field: string]: string };

export const FIELD_LABELS: { [field: string]: string } = {
  name: "Name",
  kind: "Kind",
  relay: "Relay channel",
  meter: "Sub-meter",
  priority: "Priority",
  ratedW: "Rated power",
  standingWh: "Standing energy",
  password: "Password",
  confirm: "Repeat password",
  form: "Form",
};

/** A whole number typed in a field, else the text itself (the validator names it in its message). */
function wholeNumber(text: string): number | string {
  const t = text.trim();
  return /^-?\d{1,9}$/.test(t) ? Number(t) : t;
}

/**
 * The router's configuration as far as the page knows it: the clients it
 * listed, on placeholder relays and meters (every meter a sub-meter, since
 * the role is not known here), with the clients' rated power on their relays.
 */
function standIn(w: Wiring): RouterConfig {
  const relays = [];
  for (let i = 0; i < w.relays; i++) {
    const user = w.clients.find((c) => c.relay === i);
    relays.push({ name: "r" + i, pin: "D" + i, ratedW: user ? user.ratedW : 1, bootOn: false, minOnS: 0, minOffS: 0 });
  }
  const meters = [];
  for (let i = 0; i < w.meters; i++) meters.push({ name: "m" + i, pin: "A" + i, pulsesPerKwh: 1000, role: "sub" as const, minWidthMs: 30, debounceMs: 5 });
  const clients = w.clients.map((c) => {
    const k: { [key: string]: unknown } = { name: c.name, kind: c.kind, relay: c.relay, meter: c.meter, priority: c.priority };
    if (c.standingWh !== undefined) k.standingWh = c.standingWh;
    return k;
  });
  return {
    board: "ESP32",
    gridId: "page",
    routerId: "page",
    fuseLimitW: 100000,
    relays,
    meters,
    meterSaveWh: 10,
    packetWh: 10,
    slotMin: 10,
    heartbeatS: 60,
    watchdogS: 30,
    clients: clients as unknown as RouterConfig["clients"],
  };
}

/** "clients[2]" in a message, as the client's name and id. */
function nameClients(message: string, w: Wiring): string {
  return message.replace(/clients\[(\d+)\]/g, (all, i: string) => {
    const c = w.clients[Number(i)];
    return c ? c.name + " (id " + c.id + ")" : all;
  });
}

/**
 * Checks the pairing form against what the router would accept: the spec to
 * send, or the errors by field (none sent). The messages are the router's
 * (firmware/config.ts), with clients named.
 */
export function checkPair(form: PairForm, w: Wiring): { spec?: PairSpec; errors: FieldErrors } {
  const spec: { [k: string]: unknown } = {
    name: form.name.trim(),
    kind: form.kind,
    relay: wholeNumber(form.relay),
    meter: form.meter.trim() === "" ? -1 : wholeNumber(form.meter),
    priority: wholeNumber(form.priority),
  };
  if (form.ratedW.trim() !== "") spec.ratedW = wholeNumber(form.ratedW);
  if (form.standingWh.trim() !== "") spec.standingWh = wholeNumber(form.standingWh);
  const c = standIn(w);
  const n = w.clients.length;
  const relay = c.relays[spec.relay as number];
  if (spec.ratedW !== undefined && relay) relay.ratedW = spec.ratedW as number;
  const client: { [k: string]: unknown } = Object.assign({}, spec);
  delete client.ratedW;
  (c.clients as unknown[]).push(client);
  const errors: FieldErrors = {};
  const mine = "clients[" + n + "].";
  const rated = "relays[" + String(spec.relay) + "].ratedW: ";
  for (const p of validateConfig(c)) {
    let field = "form";
    let text = p;
    if (p.startsWith(mine)) {
      const colon = p.indexOf(": ");
      field = p.slice(mine.length, colon);
      text = p.slice(colon + 2);
    } else if (p.startsWith(rated)) {
      field = "ratedW";
      text = p.slice(rated.length);
    } else if (p.startsWith("relays[")) {
      // A rated power given for a relay that does not exist is the relay's fault.
      continue;
    }
    if (field === "kind") text = "must be one of " + CLIENT_KINDS.join(", ") + "; got " + JSON.stringify(spec.kind);
    text = nameClients(text, w);
    errors[field] = errors[field] ? errors[field] + "; " + text : text;
  }
  if (Object.keys(errors).length) return { errors };
  return { spec: spec as unknown as PairSpec, errors };
}

/** The console password the router takes (R.password): 0-20 printable ASCII characters; to log in, at least one. */
export function checkPassword(pw: string, toLogIn: boolean): string | undefined {
  if (!/^[ -~]*$/.test(pw)) return "must be printable ASCII (letters, digits, punctuation, spaces); it has another character";
  if (pw.length > 20) return "must be at most 20 characters (Espruino's limit); got " + pw.length;
  if (toLogIn && pw.length === 0) return "is empty: type the console password";
  return undefined;
}

/** The new-password form: the password and its repetition. */
export function checkNewPassword(pw: string, again: string): FieldErrors {
  const errors: FieldErrors = {};
  const e = checkPassword(pw, false);
  if (e) errors.password = e;
  else if (pw !== again) errors.confirm = "does not match the password above; type the same password twice";
  return errors;
}

/** A meter index chosen for the pulse test. */
export function checkMeter(text: string, meters: number): string | undefined {
  const m = wholeNumber(text);
  if (typeof m !== "number" || m < 0 || m >= meters) return "must be a whole number from 0 to " + (meters - 1) + " (a meter's index); got " + JSON.stringify(text);
  return undefined;
}

/** The JavaScript for a console call with plain JSON arguments (R.pair(...)), one line. */
export function callExpr(fn: string, ...args: unknown[]): string {
  return "R." + fn + "(" + args.map((a) => JSON.stringify(a)).join(",") + ")";
}

/** A power in W for a technician: "0 W", "950 W", "3.6 kW". */
export function powerText(w: number): string {
  if (!Number.isFinite(w)) return "?";
  if (Math.abs(w) < 10000) return Math.round(w) + " W";
  return (w / 1000).toFixed(1) + " kW";
}

/** Seconds since the last pulse, for a technician. */
export function lastPulseText(lastS: number): string {
  if (lastS < 0) return "no pulse since the router booted";
  if (lastS < 2) return "just now";
  if (lastS < 120) return lastS + " s ago";
  return Math.round(lastS / 60) + " min ago";
}
