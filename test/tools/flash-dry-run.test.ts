// npm run flash -- --dry-run, --new-key and the secrets: what would be sent
// to a board, run against a stand-in for Espruino's Storage, and never a
// secret where it does not belong.

import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createContext, runInContext } from "node:vm";
import { beforeAll, describe, expect, it } from "vitest";
import { validateConfig } from "../../firmware/config";
import { CONFIG_FILE, KEY_FILE, NET_FILE } from "../../firmware/router";
import { cliArgs, main, newKey, prepare, type Prepared } from "../../tools/flash/main";
import { BOOT_FILE, crcOf, markedValue, partCode, secretsIn, unwrittenCrc, type Step } from "../../tools/flash/upload";

const root = new URL("../../", import.meta.url).pathname;
const shipped = JSON.parse(readFileSync(join(root, "flash.config.json"), "utf8"));

const SECRETS = {
  SDEN_ROUTER_KEY: "5ec2e7000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c",
  SDEN_WIFI_PASSWORD: "wifi-Secret-42",
  SDEN_BROKER_PASSWORD: "broker-Secret-43",
  SDEN_CONSOLE_PASSWORD: "console-Secret-44",
};

/** A config in a fresh folder outside the checkout (so git has nothing to say about its secrets file). */
function configIn(dir: string, change?: (c: { [k: string]: unknown }) => void): string {
  const c = JSON.parse(JSON.stringify(shipped));
  change?.(c);
  const file = join(dir, "flash.config.json");
  writeFileSync(file, JSON.stringify(c, null, 2));
  return file;
}

/**
 * Runs the steps' code as the board would, against a stand-in for
 * Storage that behaves as 2v29's does where it matters here: a write at
 * offset 0 with a size makes a file of that size (0xFF after the data), a
 * write at an offset programs bytes into it and throws on bytes already
 * programmed differently. Returns the files and what each step printed.
 */
function runOnStandin(steps: Step[], files = new Map<string, Buffer>()): { files: Map<string, Buffer>; printed: string[]; password?: string; locked: boolean } {
  const printed: string[] = [];
  const board = { password: undefined as string | undefined, locked: false };
  const bytes = (d: string) => Buffer.from(d, "latin1");
  const Storage = {
    write(name: string, data: string, offset?: number, size?: number) {
      if (name.length > 28) throw new Error("name too long");
      const b = bytes(data);
      if (!offset) {
        const f = Buffer.alloc(size ?? b.length, 0xff);
        b.copy(f);
        files.set(name, f);
      } else {
        const f = files.get(name);
        if (!f) throw new Error("Unable to find or create file");
        if (offset + b.length > f.length) throw new Error("past the end");
        for (let i = 0; i < b.length; i++) if (f[offset + i] !== 0xff && f[offset + i] !== b[i]) throw new Error("File already written with different data");
        b.copy(f, offset);
      }
      return true;
    },
    read(name: string, offset = 0, length?: number) {
      const f = files.get(name);
      return f && f.subarray(offset, length === undefined ? undefined : offset + length).toString("latin1");
    },
    erase: (name: string) => files.delete(name),
    getFree: () => 200000,
    compact: () => undefined,
    list: () => [...files.keys()],
  };
  const E = {
    CRC32: (s: string) => crcOf(s),
    enableWatchdog: () => undefined,
    setPassword: (p: string) => (board.password = p),
    lockConsole: () => (board.locked = true),
  };
  // The router's console API as far as the flasher uses it: R.password keeps the password and locks the console.
  const R = {
    status: () => ({ fw: "x", state: "running" }),
    password: (p: string) => {
      board.password = p;
      board.locked = true;
      return { ok: true };
    },
  };
  // Line by line in one context, as the REPL runs what the CLI sends: a
  // top-level var stays for the next line, an error stops its line only.
  const ctx = createContext({
    require: (m: string) => (m === "Storage" ? Storage : undefined),
    atob: (b64: string) => Buffer.from(b64, "base64").toString("latin1"),
    E,
    print: (...a: unknown[]) => printed.push(a.join(" ")),
    process: { env: { VERSION: "2v29", BOARD: "ESP32" } },
    R,
    setTimeout: () => 0,
    load: () => undefined,
    JSON,
  });
  for (const s of steps) {
    for (const line of s.code.split("\n")) {
      try {
        runInContext(line, ctx);
      } catch (e) {
        printed.push("Uncaught " + (e as Error).message);
      }
    }
  }
  return { files, printed, password: board.password, locked: board.locked };
}

/** Each secret as the bytes that go to the board (the router key as its raw bytes). */
const SECRET_BYTES = { ...SECRETS, SDEN_ROUTER_KEY: Buffer.from(SECRETS.SDEN_ROUTER_KEY, "hex").toString("latin1") };

let dir: string;
let prepared: Prepared;
let log: string[];
let exitCode: number;
let outDir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "sden-flash-"));
  outDir = join(dir, "out");
  const configFile = configIn(dir);
  log = [];
  exitCode = await main(["--dry-run", "--config", configFile, "--out", outDir], { ...SECRETS }, (l) => log.push(l));
  // The same plan with the secrets in (what a real flash sends), for the stand-in.
  prepared = await prepare({ configFile, chunkBytes: 8192, mask: false, env: { ...SECRETS }, log: () => undefined });
}, 120000);

describe("npm run flash -- --dry-run", () => {
  it("prints every step and writes what would be sent, without a board", () => {
    expect(exitCode, log.join("\n")).toBe(0);
    const steps = log.filter((l) => /^\[\d+\/\d+\] /.test(l));
    expect(steps.length).toBe(prepared.steps.length);
    expect(steps[0]).toMatch(/^\[1\/\d+\] reach the board, stop the running program/);
    expect(log.at(-1)).toMatch(/^dry run: nothing sent; the steps are in .*out\/ \(plan\.sh lists the commands; secrets are masked in the files\)$/);
    const written = readdirSync(outDir).sort();
    expect(written).toEqual(["plan.sh", "router.bootcde", "sden.cfg", ...prepared.steps.map((s, i) => `${String(i + 1).padStart(2, "0")}-${s.name}.js`)].sort());
  });

  it("uploads with the espruino CLI: no BLE, the project's board description, no minifier, a reset only first", () => {
    const plan = readFileSync(join(outDir, "plan.sh"), "utf8").split("\n").filter((l) => l.startsWith("node_modules/.bin/espruino "));
    expect(plan.length).toBe(prepared.steps.length);
    plan.forEach((l, i) => {
      expect(l).toContain(" --no-ble ");
      expect(l).toContain(" --board " + join(root, "tools/flash/boards/ESP32.json") + " ");
      expect(l).toContain(" -p /dev/ttyUSB0 -b 115200 ");
      expect(l).not.toMatch(/ (-m|--minify)( |$)/);
      expect(l).toContain(`RESET_BEFORE_SEND=${i === 0}`);
    });
    expect(existsSync(join(root, "tools/flash/boards/ESP32.json"))).toBe(true);
    // BLE only when the port is a BLE address; a baud rate only for a serial port.
    expect(cliArgs({ port: "aa:bb:cc:dd:ee:ff", baud: 115200, boardFile: "b.json" }, "s.js", false)).not.toContain("--no-ble");
    expect(cliArgs({ port: "aa:bb:cc:dd:ee:ff", baud: 115200, boardFile: "b.json" }, "s.js", false)).not.toContain("-b");
    expect(cliArgs({ port: "tcp://10.0.0.5:23", baud: 115200, boardFile: "b.json" }, "s.js", false)).toEqual(["--no-ble", "--board", "b.json", "-p", "tcp://10.0.0.5:23", "--config", "RESET_BEFORE_SEND=false", "--config", "MODULE_URL=", "--sleep", "1", "-q", "s.js"]);
  });

  it("stores exactly the bundle just built as .bootcde, the configuration and secrets in their own files", () => {
    const board = runOnStandin(prepared.steps);
    const bundle = readFileSync(join(outDir, "router.bootcde"), "latin1");
    expect(bundle).toBe(prepared.bundle);
    const stored = board.files.get(BOOT_FILE)!.toString("latin1");
    const firstDiff = [...bundle].findIndex((c, k) => stored[k] !== c);
    expect(firstDiff, `first difference at ${firstDiff}: ${JSON.stringify(stored.slice(firstDiff - 20, firstDiff + 20))} ${board.printed.filter((l) => l.startsWith("Uncaught")).slice(0, 3)}`).toBe(-1);
    expect(stored).toBe(bundle);
    // The board's configuration: flash.config.json without the flasher's section, valid for the router.
    const cfg = JSON.parse(board.files.get(CONFIG_FILE)!.toString("latin1"));
    const routerConfig = { ...shipped };
    delete routerConfig.flash;
    expect(cfg).toEqual(routerConfig);
    expect(validateConfig(cfg)).toEqual([]);
    expect(readFileSync(join(outDir, "sden.cfg"), "utf8")).toBe(JSON.stringify(routerConfig));
    expect(board.files.get(KEY_FILE)!.toString("hex")).toBe(SECRETS.SDEN_ROUTER_KEY);
    expect(JSON.parse(board.files.get(NET_FILE)!.toString("latin1"))).toEqual({ s: "home-net", p: SECRETS.SDEN_WIFI_PASSWORD, u: "home-1", b: SECRETS.SDEN_BROKER_PASSWORD });
    expect(board.password).toBe(SECRETS.SDEN_CONSOLE_PASSWORD);
    expect(board.locked).toBe(true);
    // Each step confirms itself with what the flasher checks: the CRCs of what it wrote.
    const files = prepared.steps.find((s) => s.name === "files")!;
    expect(markedValue(board.printed.join("\n"), "files")).toEqual(files.files!.map((f) => f.crc));
    const parts = prepared.steps.filter((s) => s.chunk);
    const printedParts = board.printed.filter((l) => l.startsWith("SDEN:bundle:")).map((l) => JSON.parse(l.slice(12)));
    expect(printedParts).toEqual(parts.map((s) => [s.chunk!.offset, s.chunk!.lines.map((l) => l.crc), bundle.length]));
  });

  it("sends only ASCII, in lines the CLI throttles (Storage.write each, at most 384 bytes of data)", () => {
    for (const s of prepared.steps) {
      expect(s.code).toMatch(/^[\x20-\x7e\n]*$/);
      for (const line of s.code.split("\n")) {
        const m = /atob\("([^"]*)"\)/.exec(line);
        if (m) {
          // The CLI pauses after a line its own pattern finds (core/serial.js, STORAGE_UPLOAD_METHOD 0).
          expect(line + "\n").toMatch(/require\("Storage"\).write\([^\n]*\);?\n/);
          expect(Buffer.from(m[1], "base64").length).toBeLessThanOrEqual(384);
        }
      }
    }
  });

  it("puts no secret in the bundle, the committed config or any file of the dry run", () => {
    const secretBytes = [SECRETS.SDEN_WIFI_PASSWORD, SECRETS.SDEN_BROKER_PASSWORD, SECRETS.SDEN_CONSOLE_PASSWORD, SECRETS.SDEN_ROUTER_KEY];
    const asWritten = (s: string) => [s, Buffer.from(s, "latin1").toString("base64").slice(0, 16)];
    const key = Buffer.from(SECRETS.SDEN_ROUTER_KEY, "hex");
    const haystacks: [string, Buffer][] = [
      ["bundle", Buffer.from(prepared.bundle, "latin1")],
      ["flash.config.json", readFileSync(join(root, "flash.config.json"))],
      ...readdirSync(outDir).map((f) => [f, readFileSync(join(outDir, f))] as [string, Buffer]),
    ];
    for (const [name, h] of haystacks) {
      for (const s of secretBytes) for (const needle of asWritten(s)) expect(h.includes(needle), `${needle} in ${name}`).toBe(false);
      expect(h.includes(key), `key bytes in ${name}`).toBe(false);
      expect(h.includes(key.toString("base64").slice(0, 16)), `key base64 in ${name}`).toBe(false);
    }
    // The masked places say what would go there.
    const files = readFileSync(join(outDir, "02-files.js"), "utf8");
    expect(files).toContain('atob("<router key, 32 bytes (bytes 0-31)>")');
    expect(files).toContain("<check of router key, 32 bytes (bytes 0-31)>");
    expect(files).toContain('atob("<network file with WiFi network, broker user and passwords, ');
    expect(readdirSync(outDir).some((f) => f.endsWith("-password.js") && readFileSync(join(outDir, f), "utf8").includes('R.password("<console password>")'))).toBe(true);
  });

  it("a real flash's steps carry the secrets only in the files step and the password step, never in .bootcde's parts", () => {
    for (const s of prepared.steps) {
      const found = secretsIn(s.code, SECRET_BYTES);
      expect(found, s.title).toEqual(s.name === "files" ? ["SDEN_ROUTER_KEY", "SDEN_WIFI_PASSWORD", "SDEN_BROKER_PASSWORD"] : s.name === "password" ? ["SDEN_CONSOLE_PASSWORD"] : []);
    }
  });

  it("finds a password inside the base64 of the whole network file, where its own base64 does not show", () => {
    const files = prepared.steps.find((s) => s.name === "files")!.code;
    // What the device check used to look for: each password's own base64, which the network file's base64 does not contain at this alignment.
    const ownBase64 = (x: string) => Buffer.from(x, "latin1").toString("base64").slice(0, 12);
    expect(files.includes(ownBase64(SECRETS.SDEN_BROKER_PASSWORD)) || files.includes(SECRETS.SDEN_BROKER_PASSWORD)).toBe(false);
    expect(secretsIn(files, { broker: SECRETS.SDEN_BROKER_PASSWORD, wifi: SECRETS.SDEN_WIFI_PASSWORD })).toEqual(["broker", "wifi"]);
    // The masked dry run's files step holds none.
    expect(secretsIn(readFileSync(join(outDir, "02-files.js"), "latin1"), SECRET_BYTES)).toEqual([]);
  });

  it("stores the bundle again from the start when a part comes back wrong", () => {
    // A part programmed wrong cannot be written over: the first part makes the file anew, at its full size.
    const parts = prepared.steps.filter((s) => s.chunk);
    const board = runOnStandin(parts.slice(0, 2));
    board.files.get(BOOT_FILE)![parts[1].chunk!.offset + 10] ^= 0x40;
    expect(runOnStandin([parts[1]], board.files).printed).toContain("Uncaught File already written with different data");
    const again = runOnStandin(parts, board.files);
    expect(again.files.get(BOOT_FILE)!.toString("latin1")).toBe(prepared.bundle);
  });
});

describe("a line that lost characters on the way", () => {
  /** The part's code with one character dropped from line k at position at (from its end when negative). */
  const dropChar = (code: string, k: number, at: number) =>
    code
      .split("\n")
      .map((l, i) => (i === k ? l.slice(0, at < 0 ? l.length + at : at) + l.slice((at < 0 ? l.length + at : at) + 1) : l))
      .join("\n");

  it.each([
    ["in its data", 20],
    ["in its offset", -4],
    ["in its check", -60],
  ])("writes nothing when the loss is %s, and is sent again alone", (_what, at) => {
    const parts = prepared.steps.filter((s) => s.chunk);
    const second = parts[1];
    const lines = second.chunk!.lines;
    // Line 3 of the second part loses a character: the rest of the part is written, it is not.
    const board = runOnStandin([parts[0], { ...second, code: dropChar(second.code, 3, at as number) }]);
    const readBack = JSON.parse(board.printed.at(-1)!.slice("SDEN:bundle:".length));
    expect(readBack[1]).toEqual(lines.map((l, k) => (k === 3 ? unwrittenCrc(l.bytes) : l.crc)));
    const again = runOnStandin([{ ...second, code: partCode(prepared.bundle, lines, [lines[3]]) }], board.files);
    expect(JSON.parse(again.printed.at(-1)!.slice("SDEN:bundle:".length))[1]).toEqual(lines.map((l) => l.crc));
    expect(again.files.get(BOOT_FILE)!.subarray(0, second.chunk!.offset + second.chunk!.bytes).toString("latin1")).toBe(prepared.bundle.slice(0, second.chunk!.offset + second.chunk!.bytes));
  });
});

describe("secrets", () => {
  it("a missing secret is named with where to give it, before anything is built or sent", async () => {
    const d = mkdtempSync(join(tmpdir(), "sden-flash-"));
    const lines: string[] = [];
    const env = { ...SECRETS } as { [k: string]: string | undefined };
    delete env.SDEN_CONSOLE_PASSWORD;
    delete env.SDEN_WIFI_PASSWORD;
    // A real flash (no --dry-run): it stops before the build, so no board is needed.
    const code = await main(["--config", configIn(d), "--out", join(d, "out")], env, (l) => lines.push(l));
    expect(code).toBe(1);
    const text = lines.join("\n");
    expect(text).toContain("FAILED at read the secrets: secrets are missing or malformed (nothing was sent to the board):");
    expect(text).toContain(`wifiPassword: missing; set SDEN_WIFI_PASSWORD or "wifiPassword" in ${join(d, "secrets.json")} (for an open network, set it to "")`);
    expect(text).toContain(`consolePassword: missing; set SDEN_CONSOLE_PASSWORD or "consolePassword" in ${join(d, "secrets.json")}`);
    expect(text).toContain("try: give each secret named above as an environment variable or in the secrets file");
    expect(existsSync(join(d, "out"))).toBe(false);
  });

  it("a dry run without the secrets uses placeholders, says so, and still masks every secret", async () => {
    const d = mkdtempSync(join(tmpdir(), "sden-flash-"));
    const lines: string[] = [];
    const out = join(d, "out");
    expect(await main(["--dry-run", "--config", configIn(d), "--out", out], {}, (l) => lines.push(l))).toBe(0);
    expect(lines).toContain("  dry run: no routerKey, wifiPassword, brokerPassword, consolePassword given; a placeholder stands in (a real flash needs SDEN_ROUTER_KEY, SDEN_WIFI_PASSWORD, SDEN_BROKER_PASSWORD, SDEN_CONSOLE_PASSWORD or the secrets file)");
    expect(lines).toContain('  secrets: router key 32 bytes (placeholder), WiFi password for "home-net" (placeholder), broker password for "home-1" (placeholder), console password (placeholder)');
    const files = readFileSync(join(out, "02-files.js"), "utf8");
    expect(files).toContain('atob("<router key, 32 bytes (bytes 0-31)>")');
    expect(files).toContain('atob("<network file with WiFi network, broker user and passwords, ');
    expect(lines.at(-1)).toMatch(/^dry run: nothing sent/);
  }, 120000);

  it("takes an explicitly empty WiFi password for an open network: the board gets an empty one", async () => {
    const d = mkdtempSync(join(tmpdir(), "sden-flash-"));
    const lines: string[] = [];
    const p = await prepare({ configFile: configIn(d), chunkBytes: 8192, mask: false, env: { ...SECRETS, SDEN_WIFI_PASSWORD: "" }, log: (l) => lines.push(l) });
    const board = runOnStandin(p.steps.filter((s) => s.name === "files"));
    expect(JSON.parse(board.files.get(NET_FILE)!.toString("latin1"))).toEqual({ s: "home-net", p: "", u: "home-1", b: SECRETS.SDEN_BROKER_PASSWORD });
    expect(lines.find((l) => l.startsWith("  secrets: "))).toContain('open WiFi network "home-net" (no password, SDEN_WIFI_PASSWORD)');
  }, 120000);

  it("takes router keys of 16 to 64 bytes, and limits passwords (not the key) to 64 characters", async () => {
    const d = mkdtempSync(join(tmpdir(), "sden-flash-"));
    const file = configIn(d);
    const lines: string[] = [];
    const p = await prepare({ configFile: file, chunkBytes: 8192, mask: false, env: { ...SECRETS, SDEN_ROUTER_KEY: "ab".repeat(64) }, log: (l) => lines.push(l) });
    expect(runOnStandin(p.steps.filter((s) => s.name === "files")).files.get(KEY_FILE)!.toString("hex")).toBe("ab".repeat(64));
    const refused = async (env: { [k: string]: string }) => {
      const out: string[] = [];
      expect(await main(["--config", file], { ...SECRETS, ...env }, (l) => out.push(l))).toBe(1);
      return out.join("\n");
    };
    expect(await refused({ SDEN_ROUTER_KEY: "ab".repeat(65) })).toContain(`routerKey: must be 32-128 hex digits (16-64 bytes; npm run flash -- --new-key makes one); got 130 characters; set SDEN_ROUTER_KEY`);
    expect(await refused({ SDEN_ROUTER_KEY: "ab".repeat(15) })).toContain("routerKey: must be 32-128 hex digits");
    expect(await refused({ SDEN_BROKER_PASSWORD: "x".repeat(65) })).toContain("brokerPassword: must be 1-64 printable ASCII characters; got 65 characters; set SDEN_BROKER_PASSWORD");
    expect(await refused({ SDEN_WIFI_PASSWORD: "wifi\u00e9" })).toContain("wifiPassword: must be 0-64 printable ASCII characters; got 5 characters with some outside printable ASCII");
  }, 120000);

  it("checks --port as it checks flash.connection.port, before anything is built", async () => {
    const d = mkdtempSync(join(tmpdir(), "sden-flash-"));
    for (const port of ["usb0", "tcp://host", "/dev/tty USB0", "COM3;rm"]) {
      const lines: string[] = [];
      expect(await main(["--dry-run", "--config", configIn(d), "--port", port, "--out", join(d, "out")], { ...SECRETS }, (l) => lines.push(l)), port).toBe(1);
      expect(lines.join("\n")).toContain(`FAILED at read the options: --port must be a serial port (/dev/ttyUSB0, COM3), a BLE address (aa:bb:cc:dd:ee:ff) or tcp://host:port; got ${JSON.stringify(port)}`);
    }
    expect(existsSync(join(d, "out"))).toBe(false);
  });

  it("refuses a relay on a pin the board cannot drive, before the build", async () => {
    const d = mkdtempSync(join(tmpdir(), "sden-flash-"));
    const lines: string[] = [];
    const file = configIn(d, (c) => ((c.relays as { pin: string }[])[0].pin = "D36"));
    expect(await main(["--dry-run", "--config", file, "--out", join(d, "out")], { ...SECRETS }, (l) => lines.push(l))).toBe(1);
    const text = lines.join("\n");
    expect(text).toContain("relays[0].pin: D36 is input-only on ESP32 and cannot drive a relay; use an output pin: D0, D2, D4-D5, D12-D19, D21-D23, D25-D27, D32-D33");
    expect(text).not.toContain("bundle:");
    expect(existsSync(join(d, "out"))).toBe(false);
  });

  it("a bad config is refused field by field before the build", async () => {
    const d = mkdtempSync(join(tmpdir(), "sden-flash-"));
    const lines: string[] = [];
    const file = configIn(d, (c) => {
      c.fuseLimitW = 50;
      (c.flash as { connection: { port: string } }).connection.port = "usb0";
    });
    expect(await main(["--dry-run", "--config", file], { ...SECRETS }, (l) => lines.push(l))).toBe(1);
    const text = lines.join("\n");
    expect(text).toContain("FAILED at check the configuration: " + file + " is not valid (nothing was sent to the board):");
    expect(text).toContain("fuseLimitW: must be at least 100; got 50 (Main fuse in W (100-100000)");
    expect(text).toContain('flash.connection.port: must match pattern');
    expect(text).not.toContain("bundle:");
  });

  it("reads secrets from the file the config names, the environment winning over it", async () => {
    const d = mkdtempSync(join(tmpdir(), "sden-flash-"));
    const file = configIn(d);
    writeFileSync(join(d, "secrets.json"), JSON.stringify({ routerKey: "ab".repeat(32), wifiPassword: "from-file", brokerPassword: "b-file", consolePassword: "c-file" }));
    const lines: string[] = [];
    const p = await prepare({ configFile: file, chunkBytes: 8192, mask: false, env: { SDEN_WIFI_PASSWORD: "from-env" }, log: (l) => lines.push(l) });
    const board = runOnStandin(p.steps.filter((s) => s.name === "files" || s.name === "password"));
    expect(JSON.parse(board.files.get(NET_FILE)!.toString("latin1"))).toEqual({ s: "home-net", p: "from-env", u: "home-1", b: "b-file" });
    expect(board.files.get(KEY_FILE)!.toString("hex")).toBe("ab".repeat(32));
    expect(board.password).toBe("c-file");
    expect(lines.find((l) => l.startsWith("  secrets: "))).toBe('  secrets: router key 32 bytes (secrets file), WiFi password for "home-net" (SDEN_WIFI_PASSWORD), broker password for "home-1" (secrets file), console password (secrets file)');
  }, 120000);

  it("refuses a secrets file that git does not ignore", () => {
    const d = mkdtempSync(join(tmpdir(), "sden-flash-git-"));
    execFileSync("git", ["init", "-q", d]);
    const file = configIn(d);
    writeFileSync(join(d, "secrets.json"), "{}");
    const lines: string[] = [];
    expect(() => newKey(file, (l) => lines.push(l), {})).toThrow(/is not ignored by git/);
    writeFileSync(join(d, ".gitignore"), "secrets.json\n");
    expect(newKey(file, (l) => lines.push(l), {}).keyHex).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe("npm run flash -- --new-key", () => {
  it("saves a fresh key in the secrets file and prints what to register at the server", async () => {
    const d = mkdtempSync(join(tmpdir(), "sden-flash-"));
    const file = configIn(d);
    const lines: string[] = [];
    expect(await main(["--new-key", "--config", file], {}, (l) => lines.push(l))).toBe(0);
    const saved = JSON.parse(readFileSync(join(d, "secrets.json"), "utf8"));
    expect(saved.routerKey).toMatch(/^[0-9a-f]{64}$/);
    expect(statSync(join(d, "secrets.json")).mode & 0o777).toBe(0o600);
    expect(lines.slice(1)).toEqual([
      "register it at the energy server, then flash the board:",
      "  grid id:   demo-grid",
      "  router id: home-1",
      `  key (hex): ${saved.routerKey}`,
      `  as a line of the reference server's routers.json: {"gridId":"demo-grid","routerId":"home-1","key":"${saved.routerKey}"}`,
    ]);
    expect(lines[0]).toMatch(/^a new router key is saved in .*secrets\.json \(routerKey\)\.$/);
    // A second key replaces the first, keeps the other secrets, and says the server must learn it.
    saved.consolePassword = "kept";
    writeFileSync(join(d, "secrets.json"), JSON.stringify(saved));
    const again: string[] = [];
    expect(await main(["--new-key", "--config", file], {}, (l) => again.push(l))).toBe(0);
    const after = JSON.parse(readFileSync(join(d, "secrets.json"), "utf8"));
    expect(after.routerKey).not.toBe(saved.routerKey);
    expect(after.consolePassword).toBe("kept");
    expect(again[0]).toMatch(/replacing the router key in .*: the server must get the new one, or it will refuse this router/);
  });

  it("refuses when SDEN_ROUTER_KEY would win over the saved key, or no secrets file is named", async () => {
    const d = mkdtempSync(join(tmpdir(), "sden-flash-"));
    const lines: string[] = [];
    expect(await main(["--new-key", "--config", configIn(d)], { SDEN_ROUTER_KEY: "00".repeat(32) }, (l) => lines.push(l))).toBe(1);
    expect(lines.join("\n")).toContain("FAILED at make a router key: SDEN_ROUTER_KEY is set, and it would win over the key saved in the secrets file");
    const d2 = mkdtempSync(join(tmpdir(), "sden-flash-"));
    const lines2: string[] = [];
    const file = configIn(d2, (c) => delete (c.flash as { secretsFile?: string }).secretsFile);
    expect(await main(["--new-key", "--config", file], {}, (l) => lines2.push(l))).toBe(1);
    expect(lines2.join("\n")).toContain('FAILED at make a router key: the config names no secrets file\n  try: add "secretsFile": "secrets.json"');
  });
});

describe(".gitignore", () => {
  it("ignores the secrets file the shipped config names, and build and out folders where steps and dry runs go", () => {
    for (const f of [shipped.flash.secretsFile, "out/flash/02-files.js", "build/flash/steps/02-files.js"]) {
      expect(() => execFileSync("git", ["check-ignore", "-q", f], { cwd: root }), f).not.toThrow();
    }
  });
});
