// What the flasher sends to a board, as a list of steps: each a small
// JavaScript file that the espruino CLI uploads in one connection, ending
// with a line that prints "SDEN:<step>:<json>" so the flasher knows the
// step ran and what the board found. Pure: tools/flash/main.ts runs the
// steps, the tests read them.
//
// Why steps, and not one `espruino --storage .bootcde:router.js` upload:
// measured on 2v29 (../shared/espruino.md), an 18 KB upload over TCP lost
// characters (FIFO_FULL) and broke without an error the CLI could see; and
// on the interpreter a line now and then lost characters even with the
// CLI's pause after each Storage write (more often on a busy machine). So
// the bundle goes in parts, each of lines that check their own bytes
// before writing them (a damaged line writes nothing, so it can be sent
// again: Storage cannot write twice over the same bytes), and each part is
// read back line by line before the next is sent.

import { crc32 } from "node:zlib";
import type { RouterConfig } from "../../firmware/config";
import { CONFIG_FILE, KEY_FILE, NET_FILE } from "../../firmware/router";

/** The Storage file Espruino boots from (the bundle). */
export const BOOT_FILE = ".bootcde";
/** What a step prints last, followed by its name, ':' and a JSON value. */
export const MARK = "SDEN:";

export interface Step {
  /** Short name, as it appears in the marker. */
  name: string;
  /** What it does, for the technician. */
  title: string;
  /** The JavaScript uploaded for it. */
  code: string;
  /** Reset the board before it (the CLI's RESET_BEFORE_SEND): only the first step, to stop a running router. */
  reset: boolean;
  /** For a part of the bundle: which file, at what offset, how many bytes, their CRC-32, and its lines. */
  chunk?: { file: string; offset: number; bytes: number; crc: number; lines: PartLine[] };
  /** For a step that writes whole files: each file's name and CRC-32, as the board must print them. */
  files?: { name: string; bytes: number; crc: number }[];
}

/** What the board gets besides the bundle. */
export interface BoardFiles {
  config: RouterConfig;
  /** Router key bytes; empty: not written (a router without a broker needs none). */
  routerKey: Uint8Array;
  /** The network file's fields: WiFi network and password, broker user and password. */
  net: { ssid?: string; wifiPassword?: string; brokerUser?: string; brokerPassword?: string };
  consolePassword: string;
}

/** CRC-32 as E.CRC32 computes it (zlib's), of bytes taken as latin1 when a string. */
export function crcOf(data: string | Uint8Array): number {
  return crc32(typeof data === "string" ? Buffer.from(data, "latin1") : data);
}

/**
 * A JavaScript expression for the bytes, pure ASCII whatever they hold, as
 * the espruino CLI's own file upload writes them: atob("base64"). masked:
 * a placeholder naming the secret instead (for --dry-run's files).
 */
function bytesExpr(data: string | Uint8Array, masked?: string): string {
  if (masked) return `atob(${JSON.stringify(`<${masked}>`)})`;
  return `atob(${JSON.stringify(Buffer.from(typeof data === "string" ? Buffer.from(data, "latin1") : data).toString("base64"))})`;
}

/**
 * The network file sden.net, as the firmware reads it: one-letter keys (a
 * JsVar each on the board), only the fields that are set.
 * s: WiFi network, p: its password ("" for an open network), u: broker user, b: broker password.
 */
export function netFileText(net: BoardFiles["net"]): string {
  const o: { [k: string]: string } = {};
  if (net.ssid) o.s = net.ssid;
  // "" stays: an open network, joined with an empty password (ESP32's Wifi and the Espruino WiFi's AT driver both take it).
  if (net.wifiPassword !== undefined && net.ssid) o.p = net.wifiPassword;
  if (net.brokerUser) o.u = net.brokerUser;
  if (net.brokerPassword) o.b = net.brokerPassword;
  return JSON.stringify(o);
}

export interface PlanOptions {
  /** The built bundle as the board stores it: pretokenised bytes (tools/build/pretokenise.ts), one char per byte. */
  bundle: string;
  files: BoardFiles;
  /** Raw bytes of bundle per chunk step. */
  chunkBytes: number;
  /** Replace every secret by a placeholder naming it (for --dry-run's files). */
  mask: boolean;
}

/**
 * Bytes per Storage.write line, as the espruino CLI's own file upload
 * (a multiple of 3, so the base64 of each line stands alone). The REPL
 * takes a long line far slower than short ones, and the input overflows.
 */
export const LINE_BYTES = 384;

/**
 * How every write is spelt: the espruino CLI waits 250 ms after sending a
 * line that starts `require("Storage").write(` (its STORAGE_UPLOAD_METHOD
 * 0), so the board has written the flash before more characters arrive.
 * Measured on the 2v29 interpreter over TCP: with `s.write(` the input
 * overflowed while the flash was written, about one 2 KB part in ten.
 */
const STORAGE_WRITE = 'require("Storage").write';

/** One line of a part of the bundle: where its bytes go, how many, their CRC-32. */
export interface PartLine {
  offset: number;
  bytes: number;
  crc: number;
}

/**
 * A line that writes bytes of a Storage file once it has checked them and
 * where they go (CRC-32 plus offset, so a digit lost from either writes
 * nothing); the line at offset 0 makes the file at its full size,
 * replacing the old one. masked: a placeholder instead of the bytes and
 * their check (for --dry-run's files: a CRC of a short secret would give it away).
 */
function guardedLine(file: string, data: string | Uint8Array, offset: number, total: number, masked?: string): string {
  const sum = masked ? `<check of ${masked}>` : String(crcOf(data) + offset);
  return `var d=${bytesExpr(data, masked)};if(E.CRC32(d)+${offset}==${sum})${STORAGE_WRITE}(${JSON.stringify(file)},d,${offset}${offset === 0 ? "," + total : ""});`;
}

/** A whole file in guarded lines of LINE_BYTES. */
function fileLines(file: string, data: string | Uint8Array, masked?: string): string[] {
  const lines: string[] = [];
  for (let at = 0; at < data.length || at === 0; at += LINE_BYTES) lines.push(guardedLine(file, data.slice(at, at + LINE_BYTES), at, data.length, masked && `${masked} (bytes ${at}-${Math.min(data.length, at + LINE_BYTES) - 1})`));
  return lines;
}

/**
 * The code that writes some lines of the bundle and reads the part back:
 * the CRC-32 of every line of the part as flash holds it, and the file's
 * length. A line still all 0xFF was not written and is sent again.
 */
export function partCode(bundle: string, part: PartLine[], send: PartLine[]): string {
  const file = JSON.stringify(BOOT_FILE);
  const lines = send.map((l) => guardedLine(BOOT_FILE, bundle.slice(l.offset, l.offset + l.bytes), l.offset, bundle.length));
  const offsets = JSON.stringify(part.map((l) => [l.offset, l.bytes]));
  lines.push(`var s=require("Storage");print(${JSON.stringify(MARK + "bundle:")}+JSON.stringify([${part[0].offset},${offsets}.map(function(l){var f=s.read(${file},l[0],l[1]);return f?E.CRC32(f):-1}),(s.read(${file})||"").length]));`, "");
  return lines.join("\n");
}

/** The CRC-32 of n bytes of 0xFF: a line that flash holds as never written. */
export const unwrittenCrc = (n: number): number => crcOf(Buffer.alloc(n, 0xff));

/** The bundle's steps from offset 0, chunkBytes each, in lines of LINE_BYTES. */
export function bundleSteps(bundle: string, chunkBytes: number): Step[] {
  const steps: Step[] = [];
  const total = bundle.length;
  const n = Math.ceil(total / chunkBytes);
  for (let i = 0, offset = 0; offset < total; i++, offset += chunkBytes) {
    const end = Math.min(total, offset + chunkBytes);
    const part: PartLine[] = [];
    for (let at = offset; at < end; at += LINE_BYTES) {
      const bytes = Math.min(LINE_BYTES, end - at);
      part.push({ offset: at, bytes, crc: crcOf(bundle.slice(at, at + bytes)) });
    }
    steps.push({
      name: "bundle",
      title: `store the bundle as ${BOOT_FILE}, part ${i + 1} of ${n} (bytes ${offset}-${end - 1} of ${total})`,
      code: partCode(bundle, part, part),
      reset: false,
      chunk: { file: BOOT_FILE, offset, bytes: end - offset, crc: crcOf(bundle.slice(offset, end)), lines: part },
    });
  }
  return steps;
}

/** Every step of a flash, in order. */
export function planUpload(o: PlanOptions): Step[] {
  const f = o.files;
  const q = JSON.stringify;
  const steps: Step[] = [];
  // 1. Stop what runs (the CLI resets the board first), keep a hardware
  // watchdog the old router enabled kicked while we work (the router sets
  // its own again at boot), and see what board this is.
  steps.push({
    name: "check",
    title: "reach the board, stop the running program, read its firmware version and board type",
    reset: true,
    code: [
      "try{E.enableWatchdog(20,true)}catch(e){}",
      `var s=require("Storage");print(${q(MARK + "check:")}+JSON.stringify({version:process.env.VERSION,board:process.env.BOARD,free:s.getFree(),files:s.list().length}));`,
      "",
    ].join("\n"),
  });
  // 2. The configuration and the secrets, each in its own file (never in the bundle).
  const cfg = JSON.stringify(f.config);
  const net = netFileText(f.net);
  const files: { name: string; data: string | Uint8Array; mask?: string }[] = [{ name: CONFIG_FILE, data: cfg }];
  if (f.routerKey.length) files.push({ name: KEY_FILE, data: f.routerKey, mask: "router key, " + f.routerKey.length + " bytes" });
  const secretNet = f.net.wifiPassword !== undefined || f.net.brokerPassword !== undefined;
  files.push({ name: NET_FILE, data: net, mask: secretNet ? "network file with WiFi network, broker user and passwords, " + net.length + " bytes" : undefined });
  steps.push({
    name: "files",
    title: `write the configuration (${CONFIG_FILE}) and the secrets (${files.slice(1).map((x) => x.name).join(", ")}) to their own Storage files`,
    reset: false,
    files: files.map((x) => ({ name: x.name, bytes: typeof x.data === "string" ? x.data.length : x.data.length, crc: crcOf(x.data) })),
    code: [
      'var s=require("Storage");',
      ...files.flatMap((x) => fileLines(x.name, x.data, o.mask ? x.mask : undefined)),
      // The old bundle goes, and when the new one would not fit in the free
      // space Storage is compacted now, while nothing runs, rather than by
      // itself in the middle of the bundle's parts (a precaution: a
      // compaction moves the half-written file, and a cut then wipes the store).
      `s.erase(${q(BOOT_FILE)});if(s.getFree()<${o.bundle.length + 4096})s.compact();`,
      `print(${q(MARK + "files:")}+JSON.stringify([${files.map((x) => `E.CRC32(s.read(${q(x.name)}))`).join(",")}]));`,
      "",
    ].join("\n"),
  });
  // 3. The bundle, in parts read back one by one.
  steps.push(...bundleSteps(o.bundle, o.chunkBytes));
  // 4. Boot it as a power-on would (load() runs the .boot files and .bootcde), then ask the router.
  steps.push({ name: "boot", title: `boot from ${BOOT_FILE} as at power-on (load())`, reset: false, code: `print(${q(MARK + "boot:")}+"1");setTimeout(load,200);\n` });
  steps.push({
    name: "status",
    title: "read back R.status(): the router runs the version just built",
    reset: false,
    code: `print(${q(MARK + "status:")}+JSON.stringify(typeof R==="object"?R.status():{state:"no router (R is not defined)"}));\n`,
  });
  // 5. Last, since it locks the console: the console password, through the
  // router's own R.password (it keeps it in flash and sets it at every boot).
  steps.push({
    name: "password",
    title: "set the console password (R.password: kept in flash, set at every boot) and lock the console",
    reset: false,
    code: `print(${q(MARK + "password:")}+JSON.stringify(typeof R==="object"&&R.password?R.password(${q(o.mask ? "<console password>" : f.consolePassword)}):{ok:false,error:"this firmware has no R.password"}));\n`,
  });
  return steps;
}

/** The value a step printed after its marker, or undefined when it printed none (the step did not run to its end). */
export function markedValue(output: string, step: string): unknown {
  const prefix = MARK + step + ":";
  for (const line of output.split(/\r?\n/)) {
    const i = line.indexOf(prefix);
    if (i >= 0) {
      try {
        return JSON.parse(line.slice(i + prefix.length).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/**
 * Which of the secrets (each as its bytes, latin1) a text holds: in the
 * clear, or inside the data of its atob("...") calls, decoded and joined
 * in order (a file's lines carry it in pieces, and base64 at another
 * alignment than the secret's own would not show it). Serves the dry
 * run's test and the device check's scan of what a flash leaves on disk.
 */
export function secretsIn(text: string, secrets: { [name: string]: string }): string[] {
  const decoded = [...text.matchAll(/atob\("([^"]*)"\)/g)].map((m) => Buffer.from(m[1], "base64").toString("latin1")).join("");
  return Object.keys(secrets).filter((k) => secrets[k] !== "" && (text.includes(secrets[k]) || decoded.includes(secrets[k])));
}
