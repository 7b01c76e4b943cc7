// A stand-in for the Espruino 2v29 globals and modules that hal/espruino
// uses (digitalWrite, setWatch, getTime, E, Storage, net...), built on the
// simulated board, in two forms:
// - installEspruinoStandin(): installed on globalThis over a new SimBoard, so
//   the Espruino backend runs the same contract tests as the simulated one;
// - bundleFirmware(code): the device bundle (build/router.js) as a SimBoard
//   firmware, run at every boot with the globals over that boot's HAL, so
//   the shipped file (minified, property names shortened) boots, meters,
//   switches and talks to the server in Node.
// It mirrors the documented Espruino API; the real interpreter is checked by
// npm run test:device.

import { createHash } from "node:crypto";
import * as net from "node:net";
import type { DigitalOut, EdgeInput, Flash, Hal, Level } from "../../hal/types";
import { SimBoard, type Firmware } from "../../hal/sim/board";
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
  const storage = storageOver(board.flash);
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

/** A copy of the bytes as a fresh ArrayBuffer (Storage.readArrayBuffer, SHA256). */
function arrayBufferOf(d: Uint8Array): ArrayBuffer {
  return d.buffer.slice(d.byteOffset, d.byteOffset + d.byteLength) as ArrayBuffer;
}

/** Espruino's Storage module over a flash (the simulated one fails as Storage does). */
function storageOver(flash: Flash) {
  return {
    readArrayBuffer: (name: string) => {
      const d = flash.read(name);
      return d === undefined ? undefined : arrayBufferOf(d);
    },
    write: (name: string, data: string | Uint8Array, offset?: number, size?: number) => {
      flash.write(name, typeof data === "string" ? toBytes(data) : new Uint8Array(data), offset, size);
      return true;
    },
    erase: (name: string) => flash.erase(name),
    list: () => flash.list(),
    getFree: () => flash.getFree(),
    getStats: () => ({ totalBytes: 0, freeBytes: flash.getFree(), fileBytes: 0, fileCount: flash.list().length, trashBytes: flash.getTrash(), trashCount: 0 }),
    compact: () => flash.compact(),
    eraseAll: () => flash.eraseAll(),
  };
}

/** Socket handlers as Espruino's net module takes them with on(). */
interface NetHandlers {
  data?: (d: string) => void;
  close?: () => void;
  error?: (e: { message: string }) => void;
}

/**
 * The Espruino globals and modules over one boot's HAL, by name, as the
 * interpreter gives them to a program: pins, watches and timers of that
 * boot, Storage on the board's flash, net over the board's sockets, the
 * watchdog, the console (`global.R = ...` exposes R) and SHA256.
 */
export function espruinoGlobalsOver(hal: Hal): { [name: string]: unknown } {
  const outs = new Map<string, DigitalOut>();
  const inputs = new Map<string, EdgeInput>();
  const watches = new Map<number, { pin: string; input: EdgeInput }>();
  let nextWatch = 1;
  const modules: { [name: string]: unknown } = {
    Storage: storageOver(hal.flash),
    net: {
      connect: (o: { host: string; port: number }, onConnect: () => void) => {
        const on: NetHandlers = {};
        const sock = hal.connect({
          host: o.host,
          port: o.port,
          onConnect: () => onConnect(),
          onData: (d) => on.data?.(toByteString(d)),
          onError: (message) => on.error?.({ message }),
          onClose: () => on.close?.(),
        });
        return {
          write: (s: string) => sock.write(toBytes(s)),
          end: () => sock.close(),
          on: <K extends keyof NetHandlers>(ev: K, cb: NetHandlers[K]) => {
            on[ev] = cb;
          },
        };
      },
    },
    crypto: { SHA256: (d: string | Uint8Array) => arrayBufferOf(hal.system.sha256(typeof d === "string" ? toBytes(d) : new Uint8Array(d))) },
  };
  // What the program sets on `global` is on the console (R).
  const global = new Proxy({} as { [name: string]: unknown }, {
    set: (target, name, value) => {
      if (typeof name !== "string") return false;
      target[name] = value;
      hal.console.expose(name, value);
      return true;
    },
  });
  return {
    global,
    require: (name: string) => {
      if (!(name in modules)) throw new Error("Module " + name + " not found");
      return modules[name];
    },
    process: {
      memory: () => {
        const m = hal.system.memory();
        return { free: m.free, usage: m.used, total: m.total };
      },
      env: { VERSION: "2v29", BOARD: "SIMBOARD" },
    },
    getTime: () => hal.clock.nowMs() / 1000,
    setTimeout: (cb: () => void, ms: number) => hal.clock.setTimeout(cb, ms),
    clearTimeout: (id: number) => hal.clock.clearTimeout(id),
    setInterval: (cb: () => void, ms: number) => hal.clock.setInterval(cb, ms),
    clearInterval: (id: number) => hal.clock.clearInterval(id),
    print: (line: string) => hal.console.print(String(line)),
    pinMode: (pin: string, mode: string) => {
      // An output made an input again (DigitalOut.close) lets go of the pin.
      const out = outs.get(pin);
      if (mode === "input" && out) {
        out.close();
        outs.delete(pin);
      }
    },
    digitalWrite: (pin: string, v: number | boolean) => {
      const level: Level = v ? 1 : 0;
      const out = outs.get(pin);
      if (out) out.write(level);
      else outs.set(pin, hal.digitalOut({ pin, value: level }));
    },
    digitalRead: (pin: string) => inputs.get(pin)?.read() ?? outs.get(pin)?.read() ?? 0,
    setWatch: (cb: (e: { state: boolean; time: number; lastTime: number }) => void, pin: string, o: { debounce?: number }) => {
      const id = nextWatch++;
      let lastTime = 0;
      const input = hal.edgeInput({
        pin,
        debounceMs: o.debounce ?? 0,
        onEdge: (level, timeMs) => {
          cb({ state: level === 1, time: timeMs / 1000, lastTime });
          lastTime = timeMs / 1000;
        },
      });
      inputs.set(pin, input);
      watches.set(id, { pin, input });
      return id;
    },
    clearWatch: (id: number) => {
      const w = watches.get(id);
      if (!w) return;
      w.input.close();
      watches.delete(id);
      if (inputs.get(w.pin) === w.input) inputs.delete(w.pin);
    },
    E: {
      enableWatchdog: (timeoutS: number) => hal.watchdog.enable(timeoutS),
      kickWatchdog: () => hal.watchdog.kick(),
      CRC32: (d: Uint8Array | string) => hal.system.crc32(typeof d === "string" ? toBytes(d) : d),
      setPassword: (pw: string | undefined) => hal.console.setPassword(pw ?? ""),
      lockConsole: () => undefined,
      reboot: () => hal.system.restart(),
      toUint8Array: (s: string) => toBytes(s),
      toString: (d: Uint8Array | ArrayBuffer) => toByteString(d),
      getSizeOf: () => 0,
    },
  };
}

/**
 * The device bundle as a SimBoard firmware: at every boot its code runs as
 * the interpreter runs .bootcde, its free names bound to
 * espruinoGlobalsOver(that boot's HAL) (nothing is put on globalThis; Node's
 * own globals are shadowed by the Espruino ones of the same name).
 */
export function bundleFirmware(code: string): Firmware {
  return (hal) => {
    const globals = espruinoGlobalsOver(hal);
    const names = Object.keys(globals);
    new Function(...names, code)(...names.map((n) => globals[n]));
  };
}
