/// <reference lib="dom" />
// The technician's pairing page (issue 6; tools/pairing/README.md): connects to the
// router's console, unlocks it, shows the paired appliances and the meters
// live, and pairs, unpairs, identifies and tests them. Everything it sends
// is a console call of docs/console.md; every form is checked first
// (forms.ts). Bundled by serve.ts into one self-contained page.

import { ConsoleError, ConsoleLink, passwordFor, type Remembered } from "./console";
import { callExpr, checkMeter, checkNewPassword, checkPair, checkPassword, FIELD_LABELS, lastPulseText, powerText, type ClientInfo, type FieldErrors, type PairForm, type Wiring } from "./forms";
import type { RouterStatus } from "../../firmware/router";
import { openLink, type Link } from "./transport";

/** What R.status() answers, as far as the page reads it (a type only: nothing of the firmware is bundled). */
type Status = Pick<RouterStatus, "fw" | "uptimeS" | "state" | "errors" | "relays" | "loadW" | "fuseLimitW" | "meters">;

interface Answer {
  ok: boolean;
  error?: string;
  retryS?: number;
  id?: number;
  relay?: number;
  onS?: number;
  restart?: boolean;
  clients?: ClientInfo[];
}

interface Pulses {
  ok: boolean;
  error?: string;
  meter: number;
  name: string;
  pulses: number;
  wh: number;
  noise: number;
  powerW: number;
  lastS: number;
}

/** Real ms a console call waits for its answer (BLE is slow, the board slower). */
const CALL_TIMEOUT_MS = 8000;
/** Real ms between polls: a pulse test's every one, the router's state every STATUS_EVERY-th. */
const POLL_MS = 1000;
/**
 * R.status() prints its JSON line on the console as well as answering it,
 * about 1.2 KB each with 7 meters: twice that over a BLE link of a few KB/s.
 * Every third second leaves room for the technician's own calls.
 */
const STATUS_EVERY = 3;
/** Real ms an armed Unpair button waits for the confirming tap. */
const ARM_MS = 5000;

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const e = document.getElementById(id);
  if (!e) throw new Error("pairing page: no element #" + id);
  return e as T;
};

function esc(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => "&#" + c.charCodeAt(0) + ";");
}

let link: Link | undefined;
let con: ConsoleLink | undefined;
/** The password typed in this session and the device it unlocked, sent again to that device only after a restart; never stored. */
let remembered: Remembered | undefined;
let wiring: Wiring | undefined;
let status: Status | undefined;
let wiringKey = "";
let testing = -1;
let testStartPulses = -1;
let tick = 0;
let polling = false;
let pollTimer: ReturnType<typeof setInterval> | undefined;
const log: string[] = [];

function notice(text: string, kind: "ok" | "bad" | "" = ""): void {
  const n = $("notice");
  n.textContent = text;
  n.className = kind;
}

function setLinkState(text: string, cls: string): void {
  const s = $("linkState");
  s.textContent = text;
  s.className = cls;
}

function show(ids: string[], on: boolean): void {
  for (const id of ids) $(id).hidden = !on;
}

const DASHBOARD = ["routerCard", "metersCard", "clientsCard", "testCard", "pairCard", "pwCard", "logCard"];

/** A failed call, said for the technician. */
function failed(what: string, e: unknown): void {
  // The locked console has its own card, a lost link the Reconnect button.
  if (e instanceof ConsoleError && (e.kind === "locked" || e.kind === "closed")) return;
  notice(what + ": " + (e instanceof Error ? e.message : String(e)), "bad");
}

async function connect(): Promise<void> {
  const button = $<HTMLButtonElement>("connect");
  button.disabled = true;
  $("connectErr").textContent = "";
  setLinkState("Connecting…", "");
  try {
    const l = await openLink({
      onData: (d) => con?.feed(d),
      onClose: () => lost(),
    });
    link = l;
    con = new ConsoleLink({
      write: (s) => l.write(s),
      timeoutMs: CALL_TIMEOUT_MS,
      setTimeout: (fn, ms) => setTimeout(fn, ms),
      clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
      onLocked: () => void locked(),
      onText: (line) => addLog(line),
    });
    setLinkState("Connected", "open");
    show(["connectCard"], false);
    await refresh();
    startPolling();
  } catch (e) {
    setLinkState("Not connected", "");
    $("connectErr").textContent = e instanceof Error ? e.message : String(e);
  } finally {
    button.disabled = false;
  }
}

/** The link went (the router restarted, walked out of range, or was closed). */
function lost(): void {
  con?.close("The link to the router was lost.");
  con = undefined;
  link = undefined;
  stopPolling();
  setLinkState("Not connected", "");
  show(DASHBOARD, false);
  show(["passwordCard"], false);
  show(["connectCard"], true);
  $("connect").textContent = "Reconnect";
  $("connectErr").textContent = "The link to the router closed: it restarts after a pairing change, or it went out of range. Press Reconnect and pick it again" + (remembered !== undefined ? "; the password you typed is sent again for you if you pick the same router." : ".");
}

async function locked(): Promise<void> {
  setLinkState("Locked", "locked");
  show(DASHBOARD, false);
  const pw = passwordFor(remembered, link?.device);
  // Another device than the one the password unlocked: it is not sent there, and is forgotten.
  if (!pw) remembered = undefined;
  if (pw && con) {
    // After a restart or a new password: the password of this session, once.
    try {
      if (await con.unlock(pw)) {
        unlocked();
        return;
      }
      remembered = undefined;
      $("err-login").textContent = "The router refused the password typed earlier (was it changed?). Type the current one.";
    } catch (e) {
      $("err-login").textContent = e instanceof Error ? e.message : String(e);
    }
  }
  show(["passwordCard"], true);
  $<HTMLInputElement>("password").focus();
}

function unlocked(): void {
  setLinkState("Connected", "open");
  show(["passwordCard"], false);
  $("err-login").textContent = "";
  void refresh();
  startPolling();
}

async function submitPassword(ev: Event): Promise<void> {
  ev.preventDefault();
  const input = $<HTMLInputElement>("password");
  const pw = input.value;
  const bad = checkPassword(pw, true);
  const err = $("err-login");
  input.setAttribute("aria-invalid", String(!!bad));
  if (bad) {
    err.textContent = "Password " + bad + ".";
    return;
  }
  if (!con) return;
  err.textContent = "Checking…";
  try {
    if (await con.unlock(pw)) {
      remembered = { password: pw, device: link?.device };
      input.value = "";
      input.setAttribute("aria-invalid", "false");
      notice("Unlocked: the router's console is open.", "ok");
      unlocked();
    } else {
      input.setAttribute("aria-invalid", "true");
      err.textContent = "The router refused this password. Check it (it is case-sensitive) and try again.";
      input.select();
    }
  } catch (e) {
    err.textContent = e instanceof Error ? e.message : String(e);
  }
}

async function refresh(): Promise<void> {
  if (!con || con.state === "locked") return;
  try {
    const a = await con.call<{ s: Status; c: Answer }>("{s:R.status(),c:R.clients()}");
    render(a.s, a.c);
  } catch (e) {
    failed("Reading the router", e);
  }
}

function startPolling(): void {
  if (pollTimer) return;
  pollTimer = setInterval(() => void poll(), POLL_MS);
}

function stopPolling(): void {
  if (pollTimer) clearInterval(pollTimer);
  pollTimer = undefined;
  testing = -1;
  show(["testStop", "testFigures"], false);
  show(["testStart"], true);
}

async function poll(): Promise<void> {
  if (polling || !con || con.state !== "open") return;
  polling = true;
  tick++;
  try {
    if (testing >= 0) await pollPulses();
    if (tick % STATUS_EVERY === 0) await refresh();
  } finally {
    polling = false;
  }
}

function render(s: Status, c: Answer): void {
  status = s;
  show(DASHBOARD, true);
  $("fw").textContent = s.fw;
  $("state").textContent = s.state === "running" ? "running" : s.state + " (see below)";
  const on = s.relays.filter((r) => r).length;
  $("load").textContent = on + " of " + s.relays.length + " · " + powerText(s.loadW) + " of " + powerText(s.fuseLimitW);
  const h = Math.floor(s.uptimeS / 3600);
  $("uptime").textContent = (h ? h + " h " : "") + Math.floor((s.uptimeS % 3600) / 60) + " min " + (s.uptimeS % 60) + " s";
  $("routerErrors").textContent = s.errors.length ? "Configuration refused, all relays held off: " + s.errors.join("; ") : "";
  if (!c.ok) {
    notice("The router cannot list its appliances: " + c.error, "bad");
    return;
  }
  const clients = c.clients ?? [];
  wiring = { clients, relays: s.relays.length, meters: s.meters.length };
  setHtml("meters", s.meters
    .map(
      (m, i) =>
        `<tr><td data-label="Input" class="num">${i}</td><td class="title" data-label="">${esc(m.name)}</td><td data-label="Pulses" class="num">${m.pulses}</td>` +
        `<td data-label="Energy" class="num">${m.wh} Wh</td><td data-label="Power" class="num">${powerText(m.powerW)}</td>` +
        `<td class="act"><button type="button" class="secondary" data-test="${i}">Test</button></td></tr>`,
    )
    .join(""));
  setHtml("clients", clients
    .map((k) => {
      const relayOn = s.relays[k.relay] ? ' <span class="on">on</span>' : "";
      const meter = k.meter < 0 ? "none" : k.meter + " " + esc(s.meters[k.meter]?.name ?? "");
      return (
        `<tr data-client="${k.id}"><td data-label="Id" class="num">${k.id}</td><td class="title" data-label="">${esc(k.name)}</td><td data-label="Kind">${esc(k.kind)}</td>` +
        `<td data-label="Relay">${k.relay}${relayOn}</td><td data-label="Sub-meter">${meter}</td><td data-label="Priority" class="num">${k.priority}</td>` +
        `<td data-label="Rated" class="num">${powerText(k.ratedW)}</td>` +
        `<td class="act"><button type="button" class="secondary" data-identify="${k.id}">Identify</button>` +
        (armedNow(k.id) ? `<button type="button" class="danger armed" data-unpair="${k.id}">Tap again to unpair</button>` : `<button type="button" class="danger" data-unpair="${k.id}">Unpair</button>`) +
        `</td></tr>`
      );
    })
    .join(""));
  $("noClients").hidden = clients.length > 0;
  // The form's choices change only with the wiring: left alone while the technician types.
  const key = JSON.stringify([clients, s.relays.length, s.meters.map((m) => m.name)]);
  if (key !== wiringKey) {
    wiringKey = key;
    fillChoices(s, clients);
  }
}

/** Replaced only when it changed: a button being tapped is not swapped under the finger. */
const shown = new Map<string, string>();
function setHtml(id: string, html: string): void {
  if (shown.get(id) === html) return;
  shown.set(id, html);
  $(id).innerHTML = html;
}

function fillChoices(s: Status, clients: ClientInfo[]): void {
  const used = (f: (k: ClientInfo) => boolean) => clients.find(f);
  const relay = $<HTMLSelectElement>("relay");
  const meter = $<HTMLSelectElement>("meter");
  const test = $<HTMLSelectElement>("testMeter");
  const keep = [relay.value, meter.value, test.value];
  relay.innerHTML = s.relays
    .map((_, i) => {
      const u = used((k) => k.relay === i);
      return `<option value="${i}"${u ? " disabled" : ""}>relay ${i}${u ? " (used by " + esc(u.name) + ")" : ""}</option>`;
    })
    .join("");
  meter.innerHTML =
    `<option value="-1">none (no sub-meter)</option>` +
    s.meters
      .map((m, i) => {
        const u = used((k) => k.meter === i);
        return `<option value="${i}"${u ? " disabled" : ""}>${i} ${esc(m.name)}${u ? " (used by " + esc(u.name) + ")" : ""}</option>`;
      })
      .join("");
  test.innerHTML = s.meters.map((m, i) => `<option value="${i}">${i} ${esc(m.name)}</option>`).join("");
  const free = Array.from(relay.options).find((o) => !o.disabled);
  if (!free) relay.insertAdjacentHTML("afterbegin", `<option value="" selected>no free relay: unpair an appliance first</option>`);
  relay.value = keep[0] && !relay.querySelector(`option[value="${keep[0]}"]:disabled`) ? keep[0] : (free?.value ?? "");
  meter.value = keep[1] && !meter.querySelector(`option[value="${keep[1]}"]:disabled`) ? keep[1] : "-1";
  if (keep[2]) test.value = keep[2];
}

function showErrors(errors: FieldErrors, fields: string[]): void {
  for (const f of fields) {
    const e = document.getElementById("err-" + f);
    if (e) e.textContent = errors[f] ? FIELD_LABELS[f] + " " + errors[f] + "." : "";
    const input = document.getElementById(f);
    if (input) input.setAttribute("aria-invalid", String(!!errors[f]));
  }
}

const PAIR_FIELDS = ["name", "kind", "relay", "meter", "priority", "ratedW", "standingWh", "form"];

async function submitPair(ev: Event): Promise<void> {
  ev.preventDefault();
  if (!con || !wiring) return;
  const v = (id: string) => ($(id) as HTMLInputElement).value;
  const form: PairForm = { name: v("name"), kind: v("kind"), relay: v("relay"), meter: v("meter"), priority: v("priority"), ratedW: v("ratedW"), standingWh: v("kind") === "thermal" ? v("standingWh") : "" };
  const checked = checkPair(form, wiring);
  showErrors(checked.errors, PAIR_FIELDS);
  if (!checked.spec) {
    notice("Not sent: correct the fields marked in the pairing form.", "bad");
    return;
  }
  try {
    const a = await con.call<Answer>(callExpr("pair", checked.spec));
    if (!a.ok) {
      $("err-form").textContent = "The router refused the pairing: " + a.error;
      notice("Not paired: see the pairing form.", "bad");
      return;
    }
    ($("name") as HTMLInputElement).value = "";
    notice(`${checked.spec.name} is paired as appliance ${a.id}. The router restarts now to apply it; press Reconnect when the page asks.`, "ok");
  } catch (e) {
    failed("Pairing", e);
  }
}

/** When to try again, unless the router's message already says. */
function retryText(a: Answer): string {
  return a.retryS && !/retry/.test(a.error ?? "") ? ` (try again in ${a.retryS} s)` : "";
}

function clientName(id: number): string {
  return wiring?.clients.find((k) => k.id === id)?.name ?? "appliance " + id;
}

async function identify(id: number): Promise<void> {
  if (!con) return;
  try {
    const a = await con.call<Answer>(callExpr("identify", id));
    if (a.ok) notice(`Relay ${a.relay} of ${clientName(id)} is switched on for ${a.onS} s: listen for the click.`, "ok");
    else notice(`${clientName(id)} was not clicked: ${a.error}` + retryText(a), "bad");
  } catch (e) {
    failed("Identify", e);
  }
}

/** The client whose Unpair button waits for its confirming tap, and until when (real ms). */
let armedId = 0;
let armedUntil = 0;

function armedNow(id: number): boolean {
  return armedId === id && Date.now() < armedUntil;
}

async function unpair(button: HTMLButtonElement, id: number): Promise<void> {
  if (!con) return;
  // The first tap arms, the second one unpairs.
  if (!armedNow(id)) {
    armedId = id;
    armedUntil = Date.now() + ARM_MS;
    button.classList.add("armed");
    button.textContent = "Tap again to unpair";
    setTimeout(() => {
      if (armedNow(id)) return;
      const b = document.querySelector(`button[data-unpair="${id}"]`);
      if (!b) return;
      b.classList.remove("armed");
      b.textContent = "Unpair";
    }, ARM_MS + 50);
    return;
  }
  armedId = 0;
  const name = clientName(id);
  try {
    const a = await con.call<Answer>(callExpr("unpair", id));
    if (a.ok) notice(`${name} is unpaired. The router restarts now to apply it; press Reconnect when the page asks.`, "ok");
    else notice(`${name} was not unpaired: ${a.error}` + retryText(a), "bad");
  } catch (e) {
    failed("Unpair", e);
  }
}

function startTest(meterText: string): void {
  if (!status) return;
  const bad = checkMeter(meterText, status.meters.length);
  $("err-testMeter").textContent = bad ? "Meter " + bad + "." : "";
  if (bad) return;
  testing = Number(meterText);
  testStartPulses = -1;
  ($("testMeter") as HTMLSelectElement).value = meterText;
  for (const id of ["testPower", "testPulses", "testWh", "testLast", "testNoise"]) $(id).textContent = "…";
  show(["testFigures", "testStop"], true);
  show(["testStart"], false);
  $("testCard").scrollIntoView({ block: "nearest" });
}

function stopTest(): void {
  testing = -1;
  show(["testStop"], false);
  show(["testStart"], true);
}

async function pollPulses(): Promise<void> {
  if (!con || testing < 0) return;
  const m = testing;
  try {
    const p = await con.call<Pulses>(callExpr("pulses", m));
    if (testing !== m) return;
    if (!p.ok) {
      $("err-testMeter").textContent = "The router refused the test: " + p.error;
      stopTest();
      return;
    }
    if (testStartPulses < 0) testStartPulses = p.pulses;
    $("testPower").textContent = powerText(p.powerW);
    $("testPulses").textContent = String(p.pulses - testStartPulses);
    $("testWh").textContent = p.wh + " Wh in total (" + p.pulses + " pulses)";
    $("testLast").textContent = lastPulseText(p.lastS);
    $("testNoise").textContent = String(p.noise);
  } catch (e) {
    failed("Pulse test", e);
  }
}

async function submitNewPassword(ev: Event): Promise<void> {
  ev.preventDefault();
  if (!con) return;
  const pw = ($("newPassword") as HTMLInputElement).value;
  const errors = checkNewPassword(pw, ($("newPassword2") as HTMLInputElement).value);
  showErrors(errors, ["password", "confirm"]);
  if (Object.keys(errors).length) return;
  // The console locks as soon as the router takes it: the page must already know it to unlock again.
  const before = remembered;
  remembered = pw ? { password: pw, device: link?.device } : undefined;
  try {
    const a = await con.call<Answer>(callExpr("password", pw));
    if (!a.ok) {
      remembered = before;
      $("err-password").textContent = "The router refused it: " + a.error;
      return;
    }
    ($("newPassword") as HTMLInputElement).value = "";
    ($("newPassword2") as HTMLInputElement).value = "";
    notice(pw ? "The console password is changed; give it to whoever needs the console next." : "The console password is removed: anyone in Bluetooth range can use the console.", "ok");
  } catch (e) {
    remembered = before;
    failed("Setting the password", e);
  }
}

function addLog(line: string): void {
  // R.status() prints its JSON at every poll: not worth a line here.
  if (line.startsWith("sden-router {")) return;
  log.push(line);
  if (log.length > 200) log.shift();
  $("log").textContent = log.join("\n");
}

/** The technician is done: the link is closed, so the router's console is free for the next one. */
function disconnect(): void {
  const l = link;
  lost();
  l?.close();
  $("connect").textContent = "Connect";
  $("connectErr").textContent = "";
  notice("Disconnected from the router.");
}

function wire(): void {
  $("connect").addEventListener("click", () => void connect());
  $("disconnect").addEventListener("click", disconnect);
  $("passwordForm").addEventListener("submit", (e) => void submitPassword(e));
  $("pairForm").addEventListener("submit", (e) => void submitPair(e));
  $("newPasswordForm").addEventListener("submit", (e) => void submitNewPassword(e));
  $("kind").addEventListener("change", () => {
    $("standingRow").hidden = ($("kind") as HTMLSelectElement).value !== "thermal";
  });
  $("testStart").addEventListener("click", () => startTest(($("testMeter") as HTMLSelectElement).value));
  $("testStop").addEventListener("click", stopTest);
  $("meters").addEventListener("click", (e) => {
    const b = (e.target as HTMLElement).closest("button[data-test]");
    if (b) startTest(b.getAttribute("data-test") ?? "");
  });
  $("clients").addEventListener("click", (e) => {
    const b = (e.target as HTMLElement).closest("button") as HTMLButtonElement | null;
    if (!b) return;
    if (b.dataset.identify) void identify(Number(b.dataset.identify));
    if (b.dataset.unpair) void unpair(b, Number(b.dataset.unpair));
  });
  if (!("bluetooth" in navigator) && !("serial" in navigator)) {
    $("connectErr").textContent = "This browser has neither Web Bluetooth nor Web Serial. Open the page in Chrome or Edge (on Android: Chrome).";
  }
  // Offline once loaded: the service worker keeps the page for the next visit (served pages only).
  if ("serviceWorker" in navigator && location.protocol.startsWith("http")) {
    navigator.serviceWorker.register("sw.js").catch(() => undefined);
  }
}

wire();
