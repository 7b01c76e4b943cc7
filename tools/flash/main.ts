// npm run flash: puts the router on a board from flash.config.json.
//
//   npm run flash                      check the config and secrets, build, upload, boot, confirm
//   npm run flash -- --dry-run         the same without a board: every step printed, what would be sent in out/flash/
//   npm run flash -- --new-key         a fresh router key in the secrets file, and what to register at the server
//   options: --config FILE  --port P (overrides flash.connection.port)  --board-file F.json
//            --out DIR (dry run)  --chunk-bytes N  --step-timeout S
//
// The upload is a list of steps (tools/flash/upload.ts), each sent by the
// espruino CLI in a connection of its own and confirmed by what the board
// prints back; docs/flashing.md walks through a real board.

import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { build } from "../build/build";
import { boardFileFor, gitIgnores, loadFlashConfig, readSecretsFile, resolveSecrets, SCHEMA, SECRET_SOURCES, secretsPath, type FlashConfig, type SecretName, type Secrets } from "./config";
import { bundleSteps, LINE_BYTES, markedValue, partCode, planUpload, unwrittenCrc, type Step } from "./upload";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const CLI = join(root, "node_modules/.bin/espruino");

/** A failure the technician can act on: which step, what went wrong, what to try. */
export class FlashError extends Error {
  constructor(
    readonly step: string,
    readonly problem: string,
    readonly advice: string,
  ) {
    super(`${step}: ${problem}\n  try: ${advice}`);
  }
}

/** Where and how the CLI reaches the board. */
export interface Target {
  port: string;
  baud?: number;
  /** The offline board description given to the CLI (--board). */
  boardFile: string;
}

export const isBle = (port: string): boolean => /^[0-9A-Fa-f][0-9A-Fa-f](:[0-9A-Fa-f][0-9A-Fa-f]){5}$/.test(port);
export const isTcp = (port: string): boolean => port.startsWith("tcp://");

export { boardFileFor };

/** What flash.connection.port and --port may be: the schema's one rule for both. */
const PORT = new RegExp(SCHEMA.properties.flash.properties.connection.properties.port.pattern);

/**
 * The espruino CLI's arguments for one step: no BLE stack unless the port
 * is a BLE address (it would look for dbus), the board description from
 * the project (no online lookup), no minifier (it breaks ES2015 classes;
 * the build has minified), a reset only before the first step.
 */
export function cliArgs(t: Target, stepFile: string, reset: boolean): string[] {
  const a: string[] = [];
  if (!isBle(t.port)) a.push("--no-ble");
  a.push("--board", t.boardFile, "-p", t.port);
  if (t.baud && !isBle(t.port) && !isTcp(t.port)) a.push("-b", String(t.baud));
  // No module is looked up online: the bundle is self-contained.
  // --sleep: the CLI leaves 500 ms after the last character it got; a busy board answers later.
  a.push("--config", `RESET_BEFORE_SEND=${reset}`, "--config", "MODULE_URL=", "--sleep", "1", "-q", stepFile);
  return a;
}

/** A command line as a technician would type it. */
function shellLine(args: string[]): string {
  return ["node_modules/.bin/espruino", ...args.map((a) => (/^[\w./:=+-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`))].join(" ");
}

/** Runs the CLI once with these arguments; resolves with what it printed (the board's output among it). */
export type Runner = (args: string[], timeoutS: number) => Promise<{ out: string; code: number | null; timedOut: boolean }>;

/** The espruino CLI, as npm run flash runs it. */
const runCli: Runner = (args, timeoutS) => {
  return new Promise((done) => {
    const p = spawn(CLI, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      p.kill("SIGKILL");
    }, timeoutS * 1000);
    p.stdout.on("data", (d: Buffer) => (out += d.toString("latin1")));
    p.stderr.on("data", (d: Buffer) => (out += d.toString("latin1")));
    p.on("close", (code) => {
      clearTimeout(timer);
      done({ out: out.replace(/\x1b\[J/g, ""), code, timedOut });
    });
  });
};

/** Steps that carry a secret: their code and what the board echoed of it are never left on disk. */
const SECRET_STEPS = ["files", "password"];

/**
 * The CLI's output with the data of every atob("...") and the argument of
 * R.password("...") blanked: an error line of Espruino quotes the code that
 * failed, secrets and all.
 */
export function blankSecrets(out: string): string {
  return out.replace(/atob\("[^"\n]*("|$)/gm, 'atob("…"').replace(/R\.password\("[^"\n]*("|$)/gm, 'R.password("…"');
}

/** What the board printed that says why a step did not finish, for the error message. */
function boardSaid(out: string): string {
  const lines = blankSecrets(out).split(/\r?\n/).map((l) => l.replace(/^>+/, "").trim()).filter((l) => l && !/^(Explicit board JSON|Manual board JSON|Connecting|Connected|Upload Complete|Disconnected)/.test(l));
  const errors = lines.filter((l) => /Uncaught|Error|FIFO_FULL|password|Unable to connect/i.test(l));
  return (errors.length ? errors : lines.slice(-4)).slice(0, 6).join(" | ") || "(nothing)";
}

/** Advice for a step whose marker never came back. */
function adviceFor(t: Target, out: string): string {
  if (/Unable to connect|ECONNREFUSED|No such file|cannot open/i.test(out)) {
    if (isTcp(t.port)) return `check that the board (or 'espruino --telnet') listens at ${t.port} and nothing else is connected to it`;
    if (isBle(t.port)) return `check that the board is powered and advertising, within reach, and not connected to a phone or the Web IDE`;
    return `check the cable and the port name (ls /dev/ttyUSB* /dev/ttyACM*), that you may open it (the dialout group), and that no other program (Web IDE, screen, minicom) holds it`;
  }
  if (/password/i.test(out)) return `the console is locked by a previous flash: open a terminal (node_modules/.bin/espruino --no-ble -p ${t.port}), type the console password, run R.password("") to remove it, then flash again`;
  if (/FIFO_FULL/.test(out)) return "characters were lost on the way: flash again with smaller chunks (--chunk-bytes 1024), or a lower baud rate";
  return "power-cycle the board and flash again; with a serial port, try a lower baud rate";
}

/** The product of a run: the bundle, the steps, the target. */
export interface Prepared {
  config: FlashConfig;
  bundle: string;
  version: string;
  steps: Step[];
  target: Target;
}

export interface FlashOptions {
  configFile: string;
  port?: string;
  boardFile?: string;
  chunkBytes: number;
  /** Mask secrets in the steps (for --dry-run's files); a secret not given then gets a placeholder. */
  mask: boolean;
  env: NodeJS.ProcessEnv;
  log: (line: string) => void;
}

/** Checks the config and the secrets, builds, and plans the upload: everything before the board. */
export async function prepare(o: FlashOptions): Promise<Prepared> {
  let config: FlashConfig;
  let secrets: ReturnType<typeof resolveSecrets>;
  try {
    config = loadFlashConfig(o.configFile, o.boardFile);
  } catch (e) {
    throw new FlashError("check the configuration", (e as Error).message, "fix the fields named above in " + relative(root, o.configFile) + " (tools/flash/flash.schema.json describes each)");
  }
  o.log(`  ${relative(root, o.configFile) || o.configFile}: valid (${config.board.board}, grid ${config.board.gridId}, router ${config.board.routerId}, ${config.board.relays.length} relays, ${config.board.meters.length} meters)`);
  try {
    secrets = resolveSecrets(o.configFile, config, o.env, o.mask);
  } catch (e) {
    throw new FlashError("read the secrets", (e as Error).message, "give each secret named above as an environment variable or in the secrets file; npm run flash -- --new-key makes a router key");
  }
  o.log(`  secrets: ${describeSecrets(config, secrets, o.env)}`);
  const placeheld = secrets.placeheld;
  if (placeheld.length) o.log(`  dry run: no ${placeheld.join(", ")} given; a placeholder stands in (a real flash needs ${placeheld.map((k) => SECRET_SOURCES[k]).join(", ")} or the secrets file)`);
  const boardFile = o.boardFile ?? boardFileFor(config.board.board);
  if (!existsSync(boardFile)) throw new FlashError("find the board description", `${boardFile} does not exist`, "give one with --board-file, or pick a board in tools/flash/boards/");
  // The same bundle for every board: the configuration goes to its own file (step "files").
  const outFile = join(root, "build/flash/router.js");
  let built;
  try {
    built = await build({ outFile });
  } catch (e) {
    throw new FlashError("build the bundle", (e as Error).message, "npm run build shows the same error with its file and line");
  }
  // Pretokenised, as Espruino's own uploaders store code (tools/build/pretokenise.ts).
  const bundle = readFileSync(built.bootFile, "latin1");
  o.log(`  bundle: ${built.bootBytes} bytes pretokenised (${built.bytes} as minified text), firmware ${built.version}`);
  const steps = planUpload({
    bundle,
    chunkBytes: o.chunkBytes,
    mask: o.mask,
    files: {
      config: config.board,
      routerKey: secrets.routerKey,
      net: { ssid: config.flash.wifi?.ssid, wifiPassword: secrets.wifiPassword, brokerUser: config.flash.brokerUser, brokerPassword: secrets.brokerPassword },
      consolePassword: secrets.consolePassword,
    },
  });
  const port = o.port ?? config.flash.connection.port;
  return { config, bundle, version: built.version, steps, target: { port, baud: config.flash.connection.baud ?? 115200, boardFile } };
}

/** Which secrets were found where, never their values. */
function describeSecrets(config: FlashConfig, s: Secrets & { placeheld: SecretName[] }, env: NodeJS.ProcessEnv): string {
  const from = (k: SecretName) => (s.placeheld.includes(k) ? "placeholder" : env[SECRET_SOURCES[k]] !== undefined ? SECRET_SOURCES[k] : "secrets file");
  const parts: string[] = [];
  if (s.routerKey.length) parts.push(`router key ${s.routerKey.length} bytes (${from("routerKey")})`);
  else parts.push("no router key (no broker: the router runs offline)");
  if (s.wifiPassword) parts.push(`WiFi password for "${config.flash.wifi?.ssid}" (${from("wifiPassword")})`);
  else if (s.wifiPassword === "") parts.push(`open WiFi network "${config.flash.wifi?.ssid}" (no password, ${from("wifiPassword")})`);
  if (s.brokerPassword) parts.push(`broker password for "${config.flash.brokerUser}" (${from("brokerPassword")})`);
  parts.push(`console password (${from("consolePassword")})`);
  return parts.join(", ");
}

/** --dry-run: every step printed, and what each would send written to outDir (secrets masked). */
export function writeDryRun(p: Prepared, outDir: string, log: (line: string) => void): void {
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, "router.bootcde"), p.bundle, "latin1");
  writeFileSync(join(outDir, "sden.cfg"), JSON.stringify(p.config.board));
  const plan: string[] = [`# npm run flash: firmware ${p.version}, ${p.steps.length} steps to ${p.target.port}`];
  p.steps.forEach((s, i) => {
    const file = join(outDir, `${String(i + 1).padStart(2, "0")}-${s.name}.js`);
    writeFileSync(file, s.code);
    const line = shellLine(cliArgs(p.target, relative(root, file), s.reset));
    plan.push(`# ${i + 1}. ${s.title}`, line);
    log(`[${i + 1}/${p.steps.length}] ${s.title}\n        ${line}`);
  });
  writeFileSync(join(outDir, "plan.sh"), plan.join("\n") + "\n");
  log(`dry run: nothing sent; the steps are in ${relative(root, outDir)}/ (plan.sh lists the commands; secrets are masked in the files)`);
}

/** Where the steps go and how they are run. */
interface StepRun {
  dir: string;
  timeoutS: number;
  run: Runner;
}

/** Step files holding a secret right now: removed however the flasher ends (an error, Ctrl-C, a crash). */
const secretFiles = new Set<string>();

function removeSecretFiles(): void {
  for (const f of secretFiles) rmSync(f, { force: true });
  secretFiles.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  removeSecretFiles();
  // As the shell reports a process ended by this signal.
  process.exit(128 + (signal === "SIGINT" ? 2 : 15));
}

/** Runs one step until its marker comes back, or throws what went wrong. */
async function runStep(p: Prepared, s: Step, index: number, total: number, o: StepRun, log: (line: string) => void): Promise<unknown> {
  const file = join(o.dir, `${String(index + 1).padStart(2, "0")}-${s.name}.js`);
  const secret = SECRET_STEPS.includes(s.name);
  let r;
  if (secret) secretFiles.add(file);
  try {
    writeFileSync(file, s.code, { mode: 0o600 });
    r = await o.run(cliArgs(p.target, file, s.reset), o.timeoutS);
  } finally {
    // A step that carries secrets leaves no copy on disk, whatever happened.
    if (secret) {
      rmSync(file, { force: true });
      secretFiles.delete(file);
    }
  }
  // What the CLI printed (the board's answers), beside the step, for a closer look when it fails;
  // not for a step with secrets: Espruino's error lines quote the code they failed on.
  if (!secret) writeFileSync(file.replace(/\.js$/, ".out"), r.out);
  const v = markedValue(r.out, s.name);
  if (v === undefined) {
    const what = r.timedOut ? `no answer within ${o.timeoutS} s` : `the board did not confirm the step`;
    throw new FlashError(`step ${index + 1}/${total}, ${s.title}`, `${what}; the board said: ${boardSaid(r.out)}`, adviceFor(p.target, blankSecrets(r.out)));
  }
  log(`[${index + 1}/${total}] ${s.title}: ok`);
  return v;
}

/** How often a part's missing lines are sent again before the file is started over. */
const RESENDS = 5;

/**
 * Stores one part of the bundle: sends it, then sends again the lines that
 * flash does not hold (still 0xFF: the line lost characters and wrote
 * nothing), up to RESENDS times. False when a line holds other bytes or
 * the file is gone (the file must be started over).
 */
async function storePart(p: Prepared, s: Step, i: number, total: number, o: StepRun & { log: (line: string) => void }): Promise<boolean> {
  const lines = s.chunk!.lines;
  let send = lines;
  for (let round = 0; round <= RESENDS; round++) {
    let v: [number, number[], number] | undefined;
    try {
      const step = round ? { ...s, code: partCode(p.bundle, lines, send) } : s;
      v = (await runStep(p, step, i, total, o, round ? () => undefined : o.log)) as [number, number[], number];
    } catch (e) {
      // The step did not run to its end: what flash holds is read back next round.
      o.log(`        ${(e as FlashError).problem}`);
      send = [];
      continue;
    }
    const got = v[1] ?? [];
    if (v[2] !== p.bundle.length) return false;
    send = lines.filter((l, k) => got[k] !== l.crc);
    if (!send.length) return true;
    if (send.some((l) => got[lines.indexOf(l)] !== unwrittenCrc(l.bytes))) return false;
    o.log(`        ${send.length} of ${lines.length} lines lost characters on the way and wrote nothing: sending them again`);
  }
  return false;
}

/**
 * Flashes the board, step by step, and confirms it booted this version.
 * stepsDir and run: where the step files go and what runs the CLI (a test's stand-in).
 */
export async function flash(p: Prepared, o: { chunkBytes: number; timeoutS: number; log: (line: string) => void; stepsDir?: string; run?: Runner }): Promise<{ status: { [k: string]: unknown } }> {
  const dir = o.stepsDir ?? join(root, "build/flash/steps");
  mkdirSync(dir, { recursive: true });
  // What an earlier flash killed outright (SIGKILL, a power cut) may have left.
  for (const f of readdirSync(dir)) if (SECRET_STEPS.some((n) => f.endsWith(`-${n}.js`) || f.endsWith(`-${n}.out`))) rmSync(join(dir, f), { force: true });
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  process.on("exit", removeSecretFiles);
  try {
    return await flashSteps(p, { ...o, dir, run: o.run ?? runCli });
  } finally {
    removeSecretFiles();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    process.off("exit", removeSecretFiles);
  }
}

async function flashSteps(p: Prepared, o: StepRun & { chunkBytes: number; log: (line: string) => void }): Promise<{ status: { [k: string]: unknown } }> {
  let steps = p.steps;
  let chunk = o.chunkBytes;
  let restarts = 0;
  let status: { [k: string]: unknown } = {};
  for (let i = 0; i < steps.length; i++) {
    const s = steps[i];
    const where = `step ${i + 1}/${steps.length}, ${s.title}`;
    if (s.chunk) {
      if (await storePart(p, s, i, steps.length, o)) continue;
      if (++restarts > 2) throw new FlashError(where, `the part does not read back as sent, even stored again from the start ${restarts - 1} times`, "use a shorter cable or a lower baud rate; with the interpreter, a less busy machine; then flash again");
      // A line holds other bytes than sent, or the file went: the whole file again, in smaller parts.
      chunk = Math.max(LINE_BYTES, chunk >> 1);
      o.log(`        ${s.chunk.file} does not read back as sent: storing it again from the start, in parts of ${chunk} bytes`);
      const first = steps.findIndex((x) => x.chunk);
      steps = [...steps.slice(0, first), ...bundleSteps(p.bundle, chunk), ...steps.filter((x, k) => k > i && !x.chunk)];
      i = first - 1;
      continue;
    }
    // Every other step may run twice (a marker lost with the connection): it is sent up to 3 times.
    let v: unknown;
    for (let n = 0; v === undefined; n++) {
      try {
        v = await runStep(p, s, i, steps.length, o, o.log);
      } catch (e) {
        if (n === 2) throw e;
        o.log(`        ${(e as FlashError).problem}; trying again`);
      }
    }
    // A board still booting has no R yet: asked again, up to 5 times, 2 s apart.
    for (let n = 0; s.name === "status" && (v as { fw?: string }).fw === undefined && n < 5; n++) {
      await new Promise((r) => setTimeout(r, 2000));
      v = await runStep(p, s, i, steps.length, o, () => undefined);
    }
    if (s.name === "check") {
      const env = v as { version?: string; board?: string; free?: number };
      const allowed: string[] = JSON.parse(readFileSync(p.target.boardFile, "utf8")).sden?.boards ?? [];
      o.log(`        board ${env.board}, Espruino ${env.version}, ${env.free} bytes of Storage free`);
      if (env.version !== "2v29") throw new FlashError(where, `the board runs Espruino ${env.version}; the firmware is built and tested for 2v29`, "update the board's Espruino firmware to 2v29 (espruino.com/Download), then flash again");
      if (allowed.length && !allowed.includes(String(env.board))) throw new FlashError(where, `the board says it is ${env.board}, but the config is for ${p.config.board.board} (${allowed.join(", ")})`, `connect the right board, or set "board" in the config (and its pins) for this one`);
    } else if (s.files) {
      const got = v as number[];
      s.files.forEach((f, k) => {
        if (got[k] !== f.crc) throw new FlashError(where, `${f.name} reads back with CRC ${got[k]}, not ${f.crc}`, "flash again; if it repeats, the board's flash may be full or worn: run require('Storage').compact() in a terminal");
      });
    } else if (s.name === "password") {
      const r = v as { ok?: boolean; error?: string };
      if (r.ok !== true) throw new FlashError(where, `the router refused the console password: ${r.error}`, "give a console password of 1-20 printable ASCII characters (SDEN_CONSOLE_PASSWORD), then flash again");
    } else if (s.name === "status") {
      const st = v as { [k: string]: unknown };
      if (st.fw !== p.version || st.state !== "running") {
        const why = st.fw !== p.version ? `the board runs ${JSON.stringify(st.fw)}, not ${p.version} just built` : `the router refused its configuration: ${(st.errors as string[] | undefined)?.join("; ")}`;
        throw new FlashError(where, `${why} (state ${JSON.stringify(st.state)})`, st.fw !== p.version ? "look at what the board printed at boot (node_modules/.bin/espruino -p PORT, then load()); flash again" : "fix the configuration (its pins must exist on this board), then flash again");
      }
      o.log(`        router ${st.fw} running, link ${st.link}, ${(st.relays as unknown[]).length} relays, ${(st.meters as unknown[]).length} meters`);
      status = st;
    }
  }
  return { status };
}

/** --new-key: 32 random bytes into the secrets file, and what the server needs. */
export function newKey(configFile: string, log: (line: string) => void, env: NodeJS.ProcessEnv, bytes: () => Buffer = () => randomBytes(32)): { file: string; keyHex: string } {
  const config = loadFlashConfig(configFile);
  const file = secretsPath(configFile, config.flash);
  if (!file) throw new FlashError("make a router key", "the config names no secrets file", `add "secretsFile": "secrets.json" to the config's flash section (and keep it git-ignored)`);
  if (env.SDEN_ROUTER_KEY) throw new FlashError("make a router key", "SDEN_ROUTER_KEY is set, and it would win over the key saved in the secrets file", "unset SDEN_ROUTER_KEY, or put the new key there yourself");
  const existed = existsSync(file);
  if (existed && !gitIgnores(file)) throw new FlashError("make a router key", `${file} is not ignored by git`, "add its name to .gitignore first, so the key is never committed");
  const secrets = existed ? readSecretsFile(file) : {};
  const keyHex = bytes().toString("hex");
  if (typeof secrets.routerKey === "string") log(`  replacing the router key in ${file}: the server must get the new one, or it will refuse this router`);
  secrets.routerKey = keyHex;
  writeFileSync(file, JSON.stringify(secrets, null, 2) + "\n", { mode: 0o600 });
  chmodSync(file, 0o600);
  if (!existed && !gitIgnores(file)) throw new FlashError("make a router key", `${file} was written but git does not ignore it`, "add its name to .gitignore now, and never commit it");
  const c = config.board;
  log(`a new router key is saved in ${relative(process.cwd(), file) || file} (routerKey).`);
  log(`register it at the energy server, then flash the board:`);
  log(`  grid id:   ${c.gridId}`);
  log(`  router id: ${c.routerId}`);
  log(`  key (hex): ${keyHex}`);
  log(`  as a line of the reference server's routers.json: ${JSON.stringify({ gridId: c.gridId, routerId: c.routerId, key: keyHex })}`);
  return { file, keyHex };
}

/** The command line's options. */
export async function main(argv: string[], env: NodeJS.ProcessEnv, log: (line: string) => void): Promise<number> {
  const { values: a } = parseArgs({
    args: argv,
    options: {
      config: { type: "string", default: join(root, "flash.config.json") },
      port: { type: "string" },
      "board-file": { type: "string" },
      "dry-run": { type: "boolean", default: false },
      "new-key": { type: "boolean", default: false },
      out: { type: "string", default: join(root, "out/flash") },
      "chunk-bytes": { type: "string", default: "8192" },
      "step-timeout": { type: "string", default: "60" },
    },
  });
  const configFile = resolve(a.config!);
  const chunkBytes = Number(a["chunk-bytes"]);
  const timeoutS = Number(a["step-timeout"]);
  try {
    if (!Number.isInteger(chunkBytes) || chunkBytes < 256 || chunkBytes > 16384) throw new FlashError("read the options", `--chunk-bytes must be a whole number from 256 to 16384; got ${a["chunk-bytes"]}`, "leave it out (8192) or halve it when characters are lost");
    if (a.port !== undefined && !PORT.test(a.port)) throw new FlashError("read the options", `--port must be a serial port (/dev/ttyUSB0, COM3), a BLE address (aa:bb:cc:dd:ee:ff) or tcp://host:port; got ${JSON.stringify(a.port)}`, "ls /dev/ttyUSB* /dev/ttyACM* lists the serial ports; or leave --port out to use flash.connection.port");
    if (!Number.isInteger(timeoutS) || timeoutS < 5 || timeoutS > 600) throw new FlashError("read the options", `--step-timeout must be a whole number of seconds from 5 to 600; got ${a["step-timeout"]}`, "leave it out (60)");
    if (a["new-key"]) {
      newKey(configFile, log, env);
      return 0;
    }
    log(`npm run flash${a["dry-run"] ? " --dry-run" : ""}: ${relative(root, configFile) || configFile}`);
    const p = await prepare({ configFile, port: a.port, boardFile: a["board-file"] && resolve(a["board-file"]), chunkBytes, mask: a["dry-run"]!, env, log });
    if (a["dry-run"]) {
      writeDryRun(p, resolve(a.out!), log);
      return 0;
    }
    log(`flashing ${p.target.port} (${p.steps.length} steps; the board is reset first)`);
    await flash(p, { chunkBytes, timeoutS, log });
    log(`done: router ${p.config.board.routerId} of grid ${p.config.board.gridId} runs ${p.version}; the console is locked with the console password`);
    return 0;
  } catch (e) {
    if (e instanceof FlashError) log(`FAILED at ${e.message}`);
    else log(`FAILED: ${(e as Error).stack ?? e}`);
    return 1;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2), process.env, (l) => console.log(l)).then((code) => process.exit(code));
}
