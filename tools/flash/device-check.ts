// The flasher against a real Espruino 2v29 interpreter (its Linux build,
// which the project does not ship), over its telnet console, as a board on
// the network: npm run flash's steps with the espruino CLI, then a restart
// of the interpreter (a power cycle) to show that what was flashed boots
// by itself, runs the version just built and keeps the console locked.
// Slow and needs the interpreter: part of the device check, not of npm test.
//
//   ESPRUINO=/path/to/espruino npx tsx tools/flash/device-check.ts

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { cliArgs, flash, prepare } from "./main";
import { secretsIn } from "./upload";

const root = join(fileURLToPath(new URL(".", import.meta.url)), "../..");
/** The interpreter's telnet console listens here (fixed in its Linux build). */
const TELNET = 2323;
const BOARD_FILE = join(root, "tools/flash/boards/LINUX.json");

/** Starts the interpreter with its telnet console in dir (its flash is espruino.flash there); resolves once the port answers. */
async function startInterpreter(bin: string, dir: string, out: string[] = []): Promise<ChildProcess> {
  // What it prints while no telnet client is there (the router's boot lines) goes to its stdout.
  const p = spawn(bin, ["--telnet"], { cwd: dir, stdio: ["pipe", "pipe", "ignore"] });
  p.stdout!.on("data", (d: Buffer) => out.push(d.toString("latin1")));
  for (let i = 0; i < 50; i++) {
    await new Promise((r) => setTimeout(r, 200));
    const up = await new Promise<boolean>((r) => {
      const s = connect(TELNET, "127.0.0.1", () => {
        s.destroy();
        r(true);
      });
      s.on("error", () => r(false));
    });
    if (up) return p;
  }
  p.kill("SIGKILL");
  throw new Error(`the interpreter did not listen on ${TELNET}`);
}

/** The interpreter ignores SIGTERM: it is killed, as a power cut would stop a board. */
function stop(p: ChildProcess): Promise<void> {
  return new Promise((r) => {
    p.on("exit", () => r());
    p.kill("SIGKILL");
  });
}

/** What the board prints for a line of code, over a CLI connection of its own. */
function ask(code: string, dir: string): string {
  const file = join(dir, "ask.js");
  writeFileSync(file, code + "\n");
  const r = spawnSync(join(root, "node_modules/.bin/espruino"), cliArgs({ port: `tcp://127.0.0.1:${TELNET}`, boardFile: BOARD_FILE }, file, false), { cwd: root, encoding: "latin1", timeout: 30000 });
  return r.stdout + r.stderr;
}

export interface FlashCheck {
  lines: string[];
  /** The router's first boot line after the interpreter was started again. */
  banner: string;
  /** The console asked for the password after the restart. */
  locked: boolean;
}

/** Flashes the interpreter over TCP, restarts it, and reports what it runs. */
export async function flashOnEspruino(bin: string): Promise<FlashCheck> {
  const dir = mkdtempSync(join(tmpdir(), "sden-flash-device-"));
  // The project's configuration with pins the Linux build has (D0-D32).
  const config = JSON.parse(readFileSync(join(root, "flash.config.json"), "utf8"));
  config.relays.forEach((r: { pin: string }, i: number) => (r.pin = "D" + i));
  config.meters.forEach((m: { pin: string }, i: number) => (m.pin = "D" + (10 + i)));
  config.flash = { connection: { port: `tcp://127.0.0.1:${TELNET}` }, wifi: { ssid: "bench-net" }, brokerUser: "bench" };
  const configFile = join(dir, "flash.config.json");
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  const env = { SDEN_ROUTER_KEY: "d0".repeat(32), SDEN_WIFI_PASSWORD: "bench-wifi", SDEN_BROKER_PASSWORD: "bench-broker", SDEN_CONSOLE_PASSWORD: "bench-1234" };
  const lines: string[] = [];
  const log = (l: string) => lines.push(l);
  let p = await startInterpreter(bin, dir);
  try {
    const prepared = await prepare({ configFile, boardFile: BOARD_FILE, chunkBytes: 8192, mask: false, env, log });
    await flash(prepared, { chunkBytes: 8192, timeoutS: 60, log });
    // No secret is left on disk by the steps (build/flash/steps keeps the others, for a closer look).
    const stepsDir = join(root, "build/flash/steps");
    const secrets = { ...env, SDEN_ROUTER_KEY: Buffer.from(env.SDEN_ROUTER_KEY, "hex").toString("latin1"), SDEN_ROUTER_KEY_HEX: env.SDEN_ROUTER_KEY };
    for (const f of readdirSync(stepsDir)) {
      const found = secretsIn(readFileSync(join(stepsDir, f), "latin1"), secrets);
      if (found.length) throw new Error(`${f} holds ${found.join(", ")} after the flash`);
    }
    // A power cycle: the interpreter boots what is in its flash, by itself.
    await stop(p);
    const out: string[] = [];
    p = await startInterpreter(bin, dir, out);
    await new Promise((r) => setTimeout(r, 1500));
    // Without its terminal escapes (the prompt clears the line: ESC [ J).
    const printed = out.join("").replace(/\r/g, "").replace(/\x1b\[[0-9;]*[A-Za-z]/g, "");
    const banner = printed.split("\n").find((l) => l.startsWith("sden-router ")) ?? "";
    if (!banner.startsWith(`sden-router ${prepared.version} (config from `)) throw new Error(`after a restart the interpreter did not boot router ${prepared.version}:\n${printed}\n${lines.join("\n")}`);
    const locked = /password>/.test(ask("print(1)", dir));
    return { lines, banner, locked };
  } finally {
    await stop(p);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const bin = process.env.ESPRUINO;
  if (!bin) {
    console.error("needs ESPRUINO=/path/to/an Espruino 2v29 Linux build (docs/espruino-notes.md)");
    process.exit(2);
  }
  flashOnEspruino(bin).then(
    (r) => {
      console.log(r.lines.join("\n"));
      console.log(`flash ok: flashed over tcp://127.0.0.1:${TELNET} with the espruino CLI; after a restart the interpreter booted "${r.banner.slice(0, 80)}...", console ${r.locked ? "locked" : "NOT locked"}`);
      process.exit(r.locked ? 0 : 1);
    },
    (e: Error) => {
      console.error(`flash check FAILED: ${e.message}`);
      process.exit(1);
    },
  );
}
