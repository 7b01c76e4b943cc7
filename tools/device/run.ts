// npm run test:device: boots the built bundle on a real Espruino 2v29
// interpreter (its Linux build, which the project does not ship: point
// ESPRUINO at one), the way a board boots it: stored as .bootcde in the
// interpreter's flash and started without a script, twice, so the second
// boot restores what the first saved. Prints what the router printed,
// R.status() and process.memory(), and fails when a boot did not reach a
// running router.
//
//   ESPRUINO=/path/to/espruino npm run test:device

import { spawn, spawnSync } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { asKeywords, pretokenise } from "../build/pretokenise";
import { build, type BuildResult } from "../build/build";

/** What one boot on the interpreter showed. */
export interface DeviceBoot {
  /** The interpreter's output, banner and prompts removed. */
  lines: string[];
  /** JsVars in use after boot (process.memory().usage). */
  usage: number;
}

const BANNER = /^( ____|\||  *\|_\|| 2v29 \(c\)|Espruino is Open|only by sales|http:\/\/espruino.com\/Donate|>)/;

// After boot: the router's status and the interpreter's memory, then quit.
const PROBE = [
  "setTimeout(function(){",
  "  print('--- R.status()');",
  "  var s = R.status();",
  "  print('--- json ' + JSON.stringify({state: s.state, fw: s.fw, boot: s.boot, relays: s.relays, meters: s.meters.length, errors: s.errors}));",
  "  print('--- memory ' + JSON.stringify(process.memory()));",
  "  quit();",
  "}, 1500);",
].join("\n");

function run(bin: string, dir: string, args: string[], timeoutS: number): string {
  const r = spawnSync("timeout", ["-k", "1", String(timeoutS), bin, ...args], { cwd: dir, encoding: "latin1" });
  return (r.stdout + r.stderr).replace(/\r/g, "").replace(/\x1b\[J/g, "");
}

/** The lines after `prefix`, parsed as JSON, or undefined. */
function jsonAfter(lines: string[], prefix: string): { [k: string]: unknown } | undefined {
  const line = lines.find((l) => l.startsWith(prefix));
  return line ? JSON.parse(line.slice(prefix.length)) : undefined;
}

/** A router key for the device check (its broker, 127.0.0.1:1883, need not be there: the agent starts and retries). */
const DEVICE_KEY = "sden-device-check-key-0123456789";

/**
 * What the flasher writes, into a fresh interpreter flash in dir: the bundle
 * as .bootcde, a probe as .boot3 (run before it), the configuration and the key.
 */
function flashInterpreter(bin: string, dir: string, bundleFile: string, probe: string, config: unknown): void {
  // Base64, as the pretokenised bundle's bytes (128 and up) would not survive a string literal.
  const bundle = readFileSync(bundleFile).toString("base64");
  writeFileSync(
    join(dir, "store.js"),
    `var S=require("Storage");S.write(".bootcde",atob(${JSON.stringify(bundle)}));S.write(".boot3",${JSON.stringify(probe)});S.write("sden.cfg",${JSON.stringify(JSON.stringify(config))});S.write("sden.key",${JSON.stringify(DEVICE_KEY)});quit();`,
  );
  run(bin, dir, ["store.js"], 20);
}

/**
 * A built check as a script for the interpreter's command line, pretokenised
 * as the board stores code, and ending with quit(). The interpreter keeps a
 * script as one native string, as a board with memory-mapped flash (Espruino
 * WiFi, nRF52) keeps .bootcde; code in the Linux build's Storage is read from
 * a file a few bytes at a time (src/jsflash.c, a flash string), which made
 * the same reallocation 3.5 times slower. The script reads only up to its
 * first 0 byte, so a literal whose raw bytes hold one stays text
 * (pretokenise's withoutNul). Returns file.
 */
function script(r: BuildResult, file: string): string {
  writeFileSync(file, Buffer.concat([pretokenise(readFileSync(r.file, "latin1"), true), Buffer.from("\nquit();\n")]));
  return file;
}

/** The interpreter's output without its banner, prompts and blank lines. */
function printedLines(out: string): string[] {
  return out.split("\n").filter((l) => l.trim() !== "" && !BANNER.test(l));
}

/**
 * Stores the bundle as .bootcde (with a configuration whose pins the Linux
 * build has) and boots it twice; throws unless both boots reach a running
 * router of this version, the second with the boot counter restored.
 */
export function bootTwiceOnEspruino(bin: string, result: BuildResult): DeviceBoot[] {
  const dir = mkdtempSync(join(tmpdir(), "sden-device-"));
  // The Linux build has pins D0-D32 only: the board's configuration in flash
  // (sden.cfg, as the flasher writes it) maps the relays and meters onto them.
  const config = JSON.parse(readFileSync(new URL("../../flash.config.json", import.meta.url), "utf8"));
  config.relays.forEach((r: { pin: string }, i: number) => (r.pin = "D" + i));
  config.meters.forEach((m: { pin: string }, i: number) => (m.pin = "D" + (10 + i)));
  flashInterpreter(bin, dir, result.bootFile, PROBE, config);
  const boots: DeviceBoot[] = [];
  for (let expected = 1; expected <= 2; expected++) {
    const out = run(bin, dir, ["-e", ""], 30);
    const lines = printedLines(out);
    const status = jsonAfter(lines, "--- json ");
    const memory = jsonAfter(lines, "--- memory ");
    if (!status || status.state !== "running" || status.fw !== result.version || status.boot !== expected) {
      throw new Error(`boot ${expected}: expected router ${result.version} running, boot ${expected}\n${lines.join("\n")}`);
    }
    if (/Uncaught|Error|OUT OF MEMORY|ASSERT/.test(out)) throw new Error(`boot ${expected}: the interpreter reported an error\n${lines.join("\n")}`);
    boots.push({ lines, usage: Number(memory?.usage) });
  }
  return boots;
}

/** What the bar's case showed on the interpreter. */
export interface LoadedBoot {
  lines: string[];
  /** JsVars in use with 16 clients, the plan filled by the server and 32 open requests. */
  usage: number;
  /** JsVars in use after R.local(true): the same requests planned by the router's local scheduler. */
  localUsage: number;
  /** Open requests by state after the local plan. */
  localStates: { [state: string]: number };
  /** Open requests by state, as R.requests() listed them. */
  states: { [state: string]: number };
  /** Slots of the next 144 with a packet planned for some client, at the server. */
  plannedSlots: number;
  /** What the server counted. */
  acceptedAtServer: number;
}

const LOADED_CLIENTS = 16;
const LOADED_REQUESTS = 32;

// In the bar's case: once the server has given the time, two requests per
// client over the whole horizon, then the state once the server has
// answered them, and the memory.
const LOADED_PROBE = [
  "var sent = 0, waited = 0;",
  "function go() {",
  "  var s = R.status();",
  "  if (!(s.time > 0 && s.link === 'online')) { if (++waited > 60) { print('--- fail no time: ' + JSON.stringify(s)); quit(); } return setTimeout(go, 500); }",
  "  for (var c = 1; c <= " + LOADED_CLIENTS + "; c++) for (var k = 0; k < 2; k++) {",
  "    var a = c % 2 ? R.request({client: c, startMin: k * 720, endMin: 720 + k * 710, wh: 3400, maxW: 300}) : R.request({client: c, startMin: k * 700, endMin: 1430, profileWh: [300, 200, 100, 100, 300, 200]});",
  "    if (a.ok) sent++; else print('--- refused ' + c + ' ' + a.error);",
  "  }",
  "  setTimeout(done, 12000);",
  "}",
  "function done() {",
  "  var st = {}, l = R.requests();",
  "  for (var i = 0; i < l.length; i++) st[l[i].state] = (st[l[i].state] || 0) + 1;",
  "  var s = R.status();",
  "  print('--- loaded ' + JSON.stringify({sent: sent, states: st, requests: s.requests, link: s.link}));",
  "  print('--- memory ' + JSON.stringify(process.memory()));",
  // Then the same household with the router as its own server: the local scheduler's arrays are made and the plan is its own.
  "  R.local(true);",
  "  setTimeout(local, 4000);",
  "}",
  "function local() {",
  "  var s = R.status(), st = {}, l = R.requests();",
  "  for (var i = 0; i < l.length; i++) st[l[i].state] = (st[l[i].state] || 0) + 1;",
  "  print('--- local ' + JSON.stringify({conn: s.conn, states: st}));",
  "  print('--- localmem ' + JSON.stringify(process.memory()));",
  // Back to the cloud: the next heartbeat ends the local period, and the router reports what it decided (LOCAL_REPORT, when it decided anything) and resubmits.
  "  R.local(false);",
  "  waited = 0;",
  "  setTimeout(back, 1000);",
  "}",
  "function back() {",
  "  var s = R.status();",
  "  if (s.conn !== 'online' && ++waited < 90) return setTimeout(back, 1000);",
  "  print('--- back ' + JSON.stringify({conn: s.conn, after: waited}));",
  "  quit();",
  "}",
  "setTimeout(go, 500);",
].join("\n");

/**
 * The bar's case of ../shared/quality.md: the bundle booted from .bootcde
 * with 16 paired clients, connected to a real broker (aedes on loopback)
 * and the reference server, given 32 requests from the console that the
 * server schedules over its 144-slot horizon; then process.memory().
 */
export async function loadedOnEspruino(bin: string, result: BuildResult): Promise<LoadedBoot> {
  const { startBroker } = await import("../sim/broker");
  const { startServer } = await import("../server/server");
  const broker = await startBroker();
  const dir = mkdtempSync(join(tmpdir(), "sden-loaded-"));
  const key = new Uint8Array(Buffer.from(DEVICE_KEY, "latin1"));
  const config = JSON.parse(readFileSync(new URL("../../flash.config.json", import.meta.url), "utf8"));
  config.relays = [];
  config.clients = [];
  for (let i = 0; i < LOADED_CLIENTS; i++) {
    config.relays.push({ name: "load-" + i, pin: "D" + i, ratedW: 2000, bootOn: false, minOnS: 60, minOffS: 60 });
    config.clients.push({ name: "client-" + i, kind: i % 2 === 0 ? "energy" : "profile", relay: i, meter: -1, priority: i % 4 });
  }
  config.meters.forEach((m: { pin: string }, i: number) => (m.pin = "D" + (LOADED_CLIENTS + i)));
  config.meters = config.meters.filter((m: { role: string }) => m.role !== "sub");
  config.fuseLimitW = 40000;
  config.broker = { host: "127.0.0.1", port: broker.port, keepAliveS: 60 };
  // Heartbeats every 10 s, so that the return from the local period (on the next heartbeat) comes soon.
  config.heartbeatS = 10;
  let server: Awaited<ReturnType<typeof startServer>> | undefined;
  let ticks: ReturnType<typeof setInterval> | undefined;
  try {
    server = await startServer({
      brokerUrl: `mqtt://127.0.0.1:${broker.port}`,
      routers: [{ gridId: config.gridId, routerId: config.routerId, key }],
      now: () => Date.now() / 1000,
      slotMin: config.slotMin,
      packetWh: config.packetWh,
      heartbeatS: config.heartbeatS,
      supply: () => ({ pvWh: 3000, windWh: 0, importWh: 8000, baseloadWh: 300 }),
    });
    const srv = server;
    ticks = setInterval(() => srv.tick(), 500);
    flashInterpreter(bin, dir, result.bootFile, LOADED_PROBE, config);
    const out = await runAsync(bin, dir, ["-e", ""], 180);
    const lines = printedLines(out);
    const loaded = jsonAfter(lines, "--- loaded ");
    const memory = jsonAfter(lines, "--- memory ");
    const local = jsonAfter(lines, "--- local ");
    const localMemory = jsonAfter(lines, "--- localmem ");
    if (!loaded || !memory || !local || !localMemory) throw new Error(`the loaded run did not finish\n${lines.join("\n")}`);
    if (local.conn !== "local") throw new Error(`after R.local(true) the router was not local\n${lines.join("\n")}`);
    const back = jsonAfter(lines, "--- back ");
    if (back?.conn !== "online") throw new Error(`after R.local(false) the router did not come back online\n${lines.join("\n")}`);
    // Back from its local period the router sends every open request again (reconcile), asking for what it still needs.
    const received = server.stats().requestsReceived;
    if (received < 2 * Number(loaded.sent)) throw new Error(`back online, the router did not resubmit its open requests (the server received ${received} requests in all)\n${lines.join("\n")}`);
    if (/Uncaught|OUT OF MEMORY|ASSERT/.test(out)) throw new Error(`the loaded run reported an error\n${lines.join("\n")}`);
    // Every request is for a paired client inside the horizon, and the supply covers them all.
    const rejected = Array.from(server.stats().requestsRejected).reduce((a, b) => a + b, 0);
    if (rejected > 0) throw new Error(`the server rejected ${rejected} of the requests (by reason: ${Array.from(server.stats().requestsRejected).join(", ")})\n${lines.join("\n")}`);
    const now = server.slotNow();
    const planned = new Array<number>(144).fill(0);
    for (let c = 1; c <= LOADED_CLIENTS; c++) server.planOf(config.gridId, config.routerId, c, now, 144).forEach((n, k) => (planned[k] += n));
    return { lines, usage: Number(memory.usage), localUsage: Number(localMemory.usage), localStates: local.states as { [s: string]: number }, states: loaded.states as { [s: string]: number }, plannedSlots: planned.filter((n) => n > 0).length, acceptedAtServer: server.stats().requestsAccepted };
  } finally {
    clearInterval(ticks);
    await server?.close();
    await broker.stop();
  }
}

/** run(), without blocking Node's event loop (the broker and the server run in this process). */
function runAsync(bin: string, dir: string, args: string[], timeoutS: number): Promise<string> {
  return new Promise((resolve) => {
    const p = spawn("timeout", ["-k", "1", String(timeoutS), bin, ...args], { cwd: dir });
    let out = "";
    p.stdout.on("data", (d: Buffer) => (out += d.toString("latin1")));
    p.stderr.on("data", (d: Buffer) => (out += d.toString("latin1")));
    p.on("close", () => resolve(out.replace(/\r/g, "").replace(/\x1b\[J/g, "")));
  });
}

/** What the protocol check on the interpreter printed, and what it should have. */
export interface ProtocolCheck {
  /** Lines that differ: what the device printed against what Node computes. */
  mismatches: string[];
  /** Lines compared. */
  compared: number;
  /** JsVars in use at the end of the check. */
  usage: number;
}

/**
 * Builds tools/device/protocol-check.device.ts, runs it on the interpreter
 * and compares every line with Node: RFC 4231's HMAC vectors on the native
 * SHA-256, every example sealed byte for byte and opened, its MQTT PUBLISH
 * encoded and parsed back from chunks, and the RFC 8949 appendix A vectors
 * decoded and encoded again.
 */
export async function protocolOnEspruino(bin: string): Promise<ProtocolCheck> {
  const { RFC4231 } = await import("../../test/protocol/rfc4231");
  const { EXAMPLES, EXAMPLE_KEY, EXAMPLE_LIMITS, EXAMPLE_TIME, frameOf } = await import("../protocol/examples");
  const { decodeCbor, encodeCbor } = await import("../../protocol/cbor");
  const { encodePublish } = await import("../../protocol/mqtt");
  const { topicDown } = await import("../../protocol/topics");
  const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
  const vectors: string[] = JSON.parse(readFileSync(new URL("../../../shared/vectors/cbor/appendix_a.json", import.meta.url), "utf8")).map((v: { hex: string }) => v.hex);
  const input = {
    hmac: RFC4231.map((v) => [v.key, v.data]),
    key: hex(EXAMPLE_KEY),
    frames: EXAMPLES.map((e) => ({ type: e.type, seq: e.seq, time: EXAMPLE_TIME, body: e.body })),
    limits: [...EXAMPLE_LIMITS.maxPerSlot],
    cbor: vectors,
  };
  const want: string[] = [
    ...RFC4231.map((v) => "hmac " + createHmac("sha256", Buffer.from(v.key, "hex")).update(Buffer.from(v.data, "hex")).digest("hex")),
    ...EXAMPLES.flatMap((e, i) => {
      const f = frameOf(e);
      return [`frame ${hex(f)} 0`, `mqtt ${hex(encodePublish(topicDown("g1", "r0042"), f, 1, i + 1, false, false))} ${topicDown("g1", "r0042")} ${i + 1} ${hex(f)} 0`];
    }),
    ...vectors.map((h) => {
      const d = decodeCbor(new Uint8Array(Buffer.from(h, "hex")), 8, 300);
      const out = new Uint8Array(512);
      return `cbor ${d.e} ${d.e === 0 ? hex(out.subarray(0, encodeCbor(d.v, out, 0, 8))) : ""}`;
    }),
  ];
  const dir = mkdtempSync(join(tmpdir(), "sden-protocol-"));
  const file = join(dir, "check.js");
  const r = await build({ entryFile: fileURLToPath(new URL("./protocol-check.device.ts", import.meta.url)), outFile: file, define: { SDEN_CHECK: input } });
  const out = run(bin, dir, [script(r, file)], 60);
  if (/Uncaught|OUT OF MEMORY|ASSERT/.test(out)) throw new Error(`the protocol check failed on the interpreter:\n${out}`);
  const got = out.split("\n").map((l) => l.replace(/^>/, "").trimEnd()).filter((l) => /^(hmac|frame|mqtt|cbor) /.test(l));
  const mismatches: string[] = [];
  for (let i = 0; i < Math.max(got.length, want.length); i++) if (got[i] !== want[i]?.trimEnd()) mismatches.push(`device: ${got[i]}\n  node: ${want[i]}`);
  const memory = out.split("\n").find((l) => l.includes("memory "));
  return { mismatches, compared: want.length, usage: memory ? Number(JSON.parse(memory.slice(memory.indexOf("{"))).used) : NaN };
}

/**
 * The interpreter's own tokeniser over the bundle (a function marked "ram"
 * is stored pretokenised, src/jsparse.c), byte for byte against
 * tools/build/pretokenise.ts: the board gets exactly what 2v29 would make
 * of the text. Returns the first difference, or undefined.
 */
export function tokeniserOnEspruino(bin: string, result: BuildResult): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), "sden-tokens-"));
  // The same keywords for !0, !1 and void 0 as the build writes; the rest is the interpreter's doing.
  const text = '(function(){"ram";' + asKeywords(readFileSync(result.file, "latin1")) + "})";
  // Stored, then read from Storage: the tokenised copy is then the only one in memory.
  writeFileSync(join(dir, "store.js"), `require("Storage").write("src",${JSON.stringify(text)});quit();`);
  run(bin, dir, ["store.js"], 20);
  // Printed in parts of 600 bytes (a multiple of 3: each part is whole base64).
  const out = run(bin, dir, ["-e", 'var c=eval(require("Storage").read("src"))["\\xFFcod"];for(var i=0;i<c.length;i+=600)print("T:"+btoa(c.substr(i,600)));'], 60);
  const got = Buffer.concat(out.split("\n").filter((l) => l.startsWith("T:")).map((l) => Buffer.from(l.slice(2).trim(), "base64")));
  const want = readFileSync(result.bootFile);
  if (Buffer.compare(got, want) === 0) return undefined;
  let i = 0;
  while (i < got.length && got[i] === want[i]) i++;
  return `the interpreter's tokens (${got.length} bytes) and the build's (${want.length}) differ at byte ${i}: ${JSON.stringify(got.subarray(i - 20, i + 20).toString("latin1"))} against ${JSON.stringify(want.subarray(i - 20, i + 20).toString("latin1"))}`;
}

/** What the full local reallocation on the interpreter showed. */
export interface ReallocCheck {
  /** Lines that differ from Node's: the verdicts, the packets, each client's row. */
  mismatches: string[];
  compared: number;
  /** Wall-clock ms of each reallocation (getTime(); a loaded machine makes them longer). */
  times: number[];
  /** CPU ms of one reallocation: the interpreter's user + system time with 41 runs less that with 1, over 40 (what a core of its own would take), the median of 3 such pairs. */
  cpuMs: number;
  /** JsVars in use after them (the scheduler's arrays and the request table, not the router's). */
  usage: number;
}

/**
 * Builds tools/device/realloc.device.ts with the bar's case of a full local
 * reallocation (tools/sched/fullcase.ts: 16 clients x 144 slots, 32 open
 * requests), runs it on the interpreter, compares what it decided with
 * Node line by line and reads the time of each run.
 */
export async function reallocOnEspruino(bin: string): Promise<ReallocCheck> {
  const { fullCase, fullCaseInput } = await import("../sched/fullcase");
  const { reallocLines, runRealloc } = await import("./realloc-case.device");
  const input = fullCaseInput(1);
  const f = fullCase(1);
  const want = reallocLines(input, f.sched, runRealloc(input, f.sched, f.rq));
  const dir = mkdtempSync(join(tmpdir(), "sden-realloc-"));
  /** Runs the check with that many reallocations: what it printed, and the interpreter's CPU seconds (bash's `times` of its child). */
  const built = new Set<number>();
  const runWith = async (runs: number): Promise<[string, number]> => {
    const file = join(dir, `realloc-${runs}.js`);
    if (!built.has(runs)) {
      script(await build({ entryFile: fileURLToPath(new URL("./realloc.device.ts", import.meta.url)), outFile: file, define: { SDEN_CHECK: input, SDEN_RUNS: runs } }), file);
      built.add(runs);
    }
    const r = spawnSync("bash", ["-c", 'timeout -k 1 120 "$1" "$2"; echo "--- cpu"; times', "_", bin, file], { cwd: dir, encoding: "latin1" });
    const out = (r.stdout + r.stderr).replace(/\r/g, "").replace(/\x1b\[J/g, "");
    // `times` prints the shell's user and system time, then its children's: "0m1.234s 0m0.010s".
    const child = out.slice(out.lastIndexOf("--- cpu")).split("\n")[2] ?? "";
    const secs = [...child.matchAll(/(\d+)m([\d.]+)s/g)].reduce((a, m) => a + Number(m[1]) * 60 + Number(m[2]), 0);
    return [out, secs];
  };
  // Each pair's difference leaves out the interpreter's start and the case's building; the median of 3 leaves out a pair the machine disturbed.
  const [out, cpu41] = await runWith(41);
  const cpu: number[] = [];
  for (let pair = 0; pair < 3; pair++) {
    const many = pair ? (await runWith(41))[1] : cpu41;
    cpu.push(((many - (await runWith(1))[1]) * 1000) / 40);
  }
  if (/Uncaught|OUT OF MEMORY|ASSERT/.test(out)) throw new Error(`the reallocation failed on the interpreter:\n${out}`);
  const lines = out.split("\n").map((l) => l.replace(/^>/, "").trimEnd());
  const got = lines.filter((l) => l.startsWith("realloc "));
  const mismatches: string[] = [];
  for (let i = 0; i < Math.max(got.length, want.length); i++) if (got[i] !== want[i]) mismatches.push(`device: ${got[i]}\n  node: ${want[i]}`);
  const times = (lines.find((l) => l.startsWith("times ")) ?? "").split(" ").slice(1).map(Number);
  const memory = lines.find((l) => l.startsWith("memory "));
  return { mismatches, compared: want.length, times, cpuMs: median(cpu), usage: memory ? Number(JSON.parse(memory.slice(7)).used) : NaN };
}

/** The median of a list of numbers. */
export function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : NaN;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const bin = process.env.ESPRUINO;
  if (!bin) {
    console.error("test:device needs ESPRUINO=/path/to/an Espruino 2v29 Linux build (see docs/espruino-notes.md, 'Running on the interpreter')");
    process.exit(2);
  }
  const result = await build();
  try {
    const boots = bootTwiceOnEspruino(bin, result);
    boots.forEach((b, i) => console.log(`--- boot ${i + 1}\n${b.lines.join("\n")}`));
    console.log(`\ndevice boot ok: ${result.bootBytes} bytes (pretokenised; ${result.bytes} as text) booted twice from .bootcde on Espruino 2v29, router ${result.version} running, totals restored`);
    const tokens = tokeniserOnEspruino(bin, result);
    if (tokens) throw new Error(tokens);
    console.log(`tokens ok: the interpreter's own tokeniser makes the same ${result.bootBytes} bytes of the bundle as the build`);
    const p = await protocolOnEspruino(bin);
    if (p.mismatches.length > 0) throw new Error(`protocol check: ${p.mismatches.length} of ${p.compared} results differ from Node:\n${p.mismatches.join("\n")}`);
    const r = await reallocOnEspruino(bin);
    if (r.mismatches.length > 0) throw new Error(`local reallocation: ${r.mismatches.length} of ${r.compared} results differ from Node:\n${r.mismatches.join("\n")}`);
    console.log(`realloc ok: a full local reallocation (16 clients x 144 slots, 32 requests) on Espruino 2v29 decided as on Node (${r.compared} lines); ${r.cpuMs.toFixed(0)} ms of CPU each (wall clock ${median(r.times).toFixed(0)} ms, median of ${r.times.length}); ${r.usage} JsVars in use by the scheduler and its table`);
    const l = await loadedOnEspruino(bin, result);
    console.log(`--- loaded\n${l.lines.join("\n")}`);
    console.log(`loaded ok: ${l.usage} JsVars in use with ${LOADED_CLIENTS} clients and ${LOADED_REQUESTS} requests over a real broker (${JSON.stringify(l.states)}; server: ${l.acceptedAtServer} accepted, packets planned in ${l.plannedSlots} of the next 144 slots); ${l.localUsage} as local server after R.local(true) (${JSON.stringify(l.localStates)})`);
    console.log(`protocol ok: ${p.compared} results on Espruino 2v29 equal Node's (RFC 4231 HMAC on the native SHA-256, every example frame and its MQTT PUBLISH parsed back from 7-byte chunks, RFC 8949 appendix A)`);
    // npm run flash's own steps, over the interpreter's telnet console with the espruino CLI.
    const { flashOnEspruino } = await import("../flash/device-check");
    const f = await flashOnEspruino(bin);
    if (!f.locked) throw new Error("after npm run flash and a restart the console was not locked");
    console.log(`flash ok: npm run flash over tcp://127.0.0.1:2323 with the espruino CLI; after a restart the interpreter booted "${f.banner.slice(0, 60)}...", console locked`);
  } catch (e) {
    console.error(`\ndevice boot FAILED: ${(e as Error).message}`);
    process.exit(1);
  }
}
