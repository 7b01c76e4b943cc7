// The contracts between the router and its board (design section 4).
//
// Modelled on ECMA-419 IO classes: an options object in, then plain methods
// (read, write, close) and callbacks; options are fixed once created and no
// callback fires after close(). The router sees only these interfaces; the
// backend (hal/espruino or hal/sim) is chosen once, in firmware/main.ts or a
// test, never by an `if (sim)` in the code.

/** A pin as the board names it: "D5", "A0", "B12", "LED1". */
export type PinName = string;

/** A logic level. */
export type Level = 0 | 1;

/**
 * Monotonic time since boot, and timers. The router takes time only from
 * here (never from Date), so a test can run a day in milliseconds.
 */
export interface Clock {
  /** Milliseconds since boot; never goes back. May be fractional on a device. */
  nowMs(): number;
  /** Calls cb once after ms; returns an id for clearTimeout. */
  setTimeout(cb: () => void, ms: number): number;
  clearTimeout(id: number): void;
  /** Calls cb every ms until cleared; returns an id for clearInterval. */
  setInterval(cb: () => void, ms: number): number;
  clearInterval(id: number): void;
}

export interface DigitalOutOptions {
  pin: PinName;
  /** Written before the pin is made an output, so it never glitches. */
  value: Level;
}

/** One output pin, e.g. the coil of a relay. */
export interface DigitalOut {
  write(value: Level): void;
  /** The level last written. */
  read(): Level;
  close(): void;
}

export interface EdgeInputOptions {
  pin: PinName;
  /** A level must hold this long before an edge is reported (contact bounce). */
  debounceMs: number;
  /** Every debounced edge: the new level and when it happened, in clock ms. */
  onEdge: (level: Level, timeMs: number) => void;
}

/** One input pin that reports its edges, e.g. an S0 pulse output. */
export interface EdgeInput {
  read(): Level;
  close(): void;
}

/**
 * Flash files with the semantics of Espruino's Storage module (measured on
 * 2v29; docs/espruino-notes.md):
 * - names of at most 28 characters;
 * - write(name, data) and write(name, data, 0) create or replace a whole file
 *   (writing the bytes a file already holds does nothing);
 * - write(name, data, 0, size) pre-allocates a file of `size` bytes, the rest
 *   reading 0xFF;
 * - write(name, data, offset > 0) programs bytes into an existing file; it
 *   throws when any of them was already programmed, or past the file's end;
 * - every file costs a 32-byte header and is aligned to 4 bytes; replaced and
 *   erased copies stay as trash until compact().
 * NOT atomic: see hal/records.ts for what is safe to build on it.
 */
export interface Flash {
  /** The file's bytes, or undefined when there is no such file. */
  read(name: string): Uint8Array | undefined;
  /**
   * Writes a file, as described above. Throws when the name is too long, the
   * file does not fit even after compaction, or an offset write falls outside
   * the file. Like Espruino, compacts by itself when a new file does not fit
   * in the free space at the end.
   */
  write(name: string, data: Uint8Array, offset?: number, size?: number): void;
  /** Removes a file (its bytes become trash); no-op when it does not exist. */
  erase(name: string): void;
  /** Names of the files, optionally only those that start with prefix. */
  list(prefix?: string): string[];
  /** Bytes that a new file can take at the end without any compaction. */
  getFree(): number;
  /** Bytes held by replaced or erased copies, which compact() would reclaim. */
  getTrash(): number;
  /** Reclaims trash. A power cut while it runs can wipe every file. */
  compact(): void;
  /** Erases every file and all trash (Storage.eraseAll): a clean store after a cut compaction left it damaged. */
  eraseAll(): void;
}

export interface SocketOptions {
  host: string;
  port: number;
  /** The connection is up; write() may be called. */
  onConnect: () => void;
  /** Bytes arrived, in order; frames may be split or merged. */
  onData: (data: Uint8Array) => void;
  /** The connection is gone (after an error too); fires at most once. */
  onClose: () => void;
  /** Why it failed, before onClose. */
  onError?: (message: string) => void;
}

/** A TCP connection. */
export interface Socket {
  write(data: Uint8Array): void;
  /** Closes the connection; no callback fires afterwards. */
  close(): void;
}

/** A hardware watchdog: reboots the board unless kicked in time. */
export interface Watchdog {
  enable(timeoutS: number): void;
  kick(): void;
}

/** The REPL a technician reaches over USB serial or BLE UART. */
export interface Console {
  /** Prints one line. */
  print(line: string): void;
  /** Makes an API reachable as a global name from the console. */
  expose(name: string, api: object): void;
  /** Sets the console password (empty string: none) and locks the console. */
  setPassword(password: string): void;
}

export interface MemoryStats {
  /** Free memory in the backend's unit (JsVars on Espruino, KiB in the simulator). */
  free: number;
  used: number;
  total: number;
}

/** What the router asks of the board beyond IO. */
export interface System {
  memory(): MemoryStats;
  /** CRC-32 (IEEE 802.3, as E.CRC32) of the bytes. */
  crc32(data: Uint8Array): number;
  /** SHA-256 of the bytes (32 bytes): native on the board, for protocol/hmac.ts. */
  sha256(data: Uint8Array): Uint8Array;
  /** A controlled restart: the router has already saved what it must. */
  restart(): void;
}

/** Everything the router touches, from one backend. */
export interface Hal {
  clock: Clock;
  flash: Flash;
  watchdog: Watchdog;
  console: Console;
  system: System;
  digitalOut(options: DigitalOutOptions): DigitalOut;
  edgeInput(options: EdgeInputOptions): EdgeInput;
  connect(options: SocketOptions): Socket;
}
