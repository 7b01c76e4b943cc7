// A stand-in for the Espruino 2v29 globals and modules that hal/espruino
// uses (digitalWrite, setWatch, getTime, E, Storage, net...), built on the
// simulated board, so the Espruino backend runs the same contract tests as
// the simulated one in Node. It mirrors the documented Espruino API; the
// real interpreter is checked by hand (README, "Running on the interpreter").

import { createHash } from "node:crypto";
import * as net from "node:net";
import type { DigitalOut, Level } from "../../hal/types";
import { SimBoard } from "../../hal/sim/board";
import { crc32 } from "../../hal/sim/crc32";
import type { EspruinoModules } from "../../hal/espruino/hal";

function toBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}

function toByteString(d: Uint8Array | ArrayBuffer): string {
  const u = d instanceof ArrayBuffer ? new Uint8Array(d) : d;
  let s = "";
  for (let i = 0; i < u.length; i++) s += String.fromCharCode(u[i]);
  return s;
}

export interface Standin {
  board: SimBoard;
  printed: string[];
  watchdog: { timeoutS: number; kicks: number };
  password: string | undefined;
  locked: boolean;
  reboots: number;
  /** Espruino's Storage and net modules, for espruinoHalWith(). */
  modules: EspruinoModules;
  /** Removes the globals again. */
  uninstall(): void;
}

const NAMES = ["digitalWrite", "digitalRead", "pinMode", "setWatch", "clearWatch", "getTime", "E", "print", "setTimeout", "clearTimeout", "setInterval", "clearInterval"];

/** Installs the Espruino globals on globalThis, backed by a new SimBoard. */
export function installEspruinoStandin(): Standin {
  const g = globalThis as unknown as { [k: string]: unknown };
  const saved: { [k: string]: unknown } = {};
  for (const n of NAMES) saved[n] = g[n];
  const savedMemory = (process as unknown as { memory?: unknown }).memory;
  const board = new SimBoard();
  const clock = board.clock.boardClock();
  const outs = new Map<string, DigitalOut>();
  const watches = new Map<number, { close(): void }>();
  let nextWatch = 1;
  const st: Standin = {
    board,
    printed: [],
    watchdog: { timeoutS: 0, kicks: 0 },
    password: undefined,
    locked: false,
    reboots: 0,
    modules: undefined as unknown as EspruinoModules,
    uninstall: () => {
      for (const n of NAMES) g[n] = saved[n];
      (process as unknown as { memory?: unknown }).memory = savedMemory;
    },
  };
  g.getTime = () => board.clock.sinceBootMs() / 1000;
  g.setTimeout = (cb: () => void, ms: number) => clock.setTimeout(cb, ms);
  g.clearTimeout = (id: number) => clock.clearTimeout(id);
  g.setInterval = (cb: () => void, ms: number) => clock.setInterval(cb, ms);
  g.clearInterval = (id: number) => clock.clearInterval(id);
  g.print = (line: string) => st.printed.push(line);
  g.pinMode = () => undefined;
  g.digitalWrite = (pin: string, v: number | boolean) => {
    const level: Level = v ? 1 : 0;
    const out = outs.get(pin);
    if (out) out.write(level);
    else outs.set(pin, board.pins.digitalOut({ pin, value: level }));
  };
  g.digitalRead = (pin: string) => board.pins.level(pin);
  let lastTime = 0;
  g.setWatch = (cb: (e: { state: boolean; time: number; lastTime: number }) => void, pin: string, o: { debounce?: number }) => {
    const id = nextWatch++;
    watches.set(
      id,
      board.pins.edgeInput({
        pin,
        debounceMs: o.debounce ?? 0,
        onEdge: (level, timeMs) => {
          cb({ state: level === 1, time: timeMs / 1000, lastTime });
          lastTime = timeMs / 1000;
        },
      }),
    );
    return id;
  };
  g.clearWatch = (id: number) => {
    watches.get(id)?.close();
    watches.delete(id);
  };
  g.E = {
    enableWatchdog: (s: number) => {
      st.watchdog.timeoutS = s;
    },
    kickWatchdog: () => {
      st.watchdog.kicks++;
    },
    CRC32: (d: Uint8Array | string) => crc32(typeof d === "string" ? toBytes(d) : d),
    setPassword: (pw: string | undefined) => {
      st.password = pw;
    },
    lockConsole: () => {
      st.locked = true;
    },
    reboot: () => {
      st.reboots++;
    },
    toUint8Array: (s: string) => toBytes(s),
    toString: (d: Uint8Array | ArrayBuffer) => toByteString(d),
    getSizeOf: () => 0,
  };
  (process as unknown as { memory: unknown }).memory = () => ({ free: 7000, usage: 1190, total: 8190 });
  const storage = {
    readArrayBuffer: (name: string) => {
      const d = board.flash.read(name);
      return d === undefined ? undefined : d.buffer.slice(d.byteOffset, d.byteOffset + d.byteLength);
    },
    write: (name: string, data: string | Uint8Array, offset?: number, size?: number) => {
      board.flash.write(name, typeof data === "string" ? toBytes(data) : new Uint8Array(data), offset, size);
      return true;
    },
    erase: (name: string) => board.flash.erase(name),
    list: () => board.flash.list(),
    getFree: () => board.flash.getFree(),
    getStats: () => ({ totalBytes: 0, freeBytes: board.flash.getFree(), fileBytes: 0, fileCount: board.flash.list().length, trashBytes: board.flash.getTrash(), trashCount: 0 }),
    compact: () => board.flash.compact(),
    eraseAll: () => board.flash.eraseAll(),
  };
  const espruinoNet = {
    connect: (o: { host: string; port: number }, onConnect: () => void) => {
      const sock = net.createConnection(o, onConnect);
      return {
        write: (s: string) => sock.write(Buffer.from(s, "latin1")),
        end: () => sock.end(),
        on: (ev: string, cb: (x?: unknown) => void) => {
          if (ev === "data") sock.on("data", (d: Buffer) => cb(d.toString("latin1")));
          else if (ev === "error") sock.on("error", (e) => cb({ message: e.message }));
          else sock.on(ev, () => cb());
        },
      };
    },
  };
  // Espruino's SHA256 takes a string or bytes and returns an ArrayBuffer.
  const crypto = {
    SHA256: (d: string | Uint8Array) => {
      const digest = createHash("sha256").update(typeof d === "string" ? toBytes(d) : d).digest();
      return digest.buffer.slice(digest.byteOffset, digest.byteOffset + 32);
    },
  };
  st.modules = { storage, net: espruinoNet, crypto } as unknown as EspruinoModules;
  return st;
}
