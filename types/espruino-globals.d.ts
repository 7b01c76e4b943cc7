// Declarations for exactly the Espruino 2v29 globals the firmware uses
// (hal/espruino/ only; the lint config forbids them elsewhere). Written from
// the Espruino reference; shared/espruino.md lists what was measured.

/** A pin object or its name ("D5"); Espruino accepts both. */
type EspruinoPin = string | number;

/** What setWatch passes to its callback. */
interface EspruinoWatchEvent {
  /** The pin's level after the edge. */
  state: boolean;
  /** Seconds (float) since boot when the edge happened. */
  time: number;
  /** Seconds of the previous edge. */
  lastTime: number;
}

interface EspruinoWatchOptions {
  repeat?: boolean;
  edge?: "rising" | "falling" | "both";
  /** Milliseconds the level must hold before the callback fires. */
  debounce?: number;
}

declare function digitalWrite(pin: EspruinoPin, value: number | boolean): void;
declare function digitalRead(pin: EspruinoPin): number;
declare function pinMode(pin: EspruinoPin, mode: "input" | "input_pulldown" | "input_pullup" | "output" | "opendrain"): void;
declare function setWatch(cb: (e: EspruinoWatchEvent) => void, pin: EspruinoPin, options: EspruinoWatchOptions): number;
declare function clearWatch(id: number): void;
/** Seconds (float) since boot, or since the time was set. */
declare function getTime(): number;

interface EspruinoMemory {
  free: number;
  usage: number;
  total: number;
}

/** Node's process, for host type checks of hal/espruino: on Espruino it has memory(). */
declare namespace NodeJS {
  interface Process {
    memory(): EspruinoMemory;
  }
}

declare namespace E {
  function enableWatchdog(timeoutS: number, isAuto: boolean): void;
  function kickWatchdog(): void;
  /** CRC-32 (IEEE) of a string or array of bytes. */
  function CRC32(data: string | Uint8Array | ArrayBuffer): number;
  function setPassword(password: string | undefined): void;
  function lockConsole(): void;
  function reboot(): void;
  /** A Uint8Array holding the bytes of a byte string. */
  function toUint8Array(data: string): Uint8Array;
  /** A byte string of the bytes. */
  function toString(data: Uint8Array | ArrayBuffer): string;
  function getSizeOf(value: unknown): number;
}

/** Prints a line on the console. */
declare function print(text: string): void;
declare function setTimeout(cb: () => void, ms: number): number;
declare function clearTimeout(id: number): void;
declare function setInterval(cb: () => void, ms: number): number;
declare function clearInterval(id: number): void;

// The built-in modules, as the firmware uses them (require() is declared
// for device code only, in espruino-modules.d.ts).

interface EspruinoStorage {
  /** Memory-mapped contents, or undefined when there is no such file. */
  readArrayBuffer(name: string): ArrayBuffer | undefined;
  write(name: string, data: string | Uint8Array | ArrayBuffer, offset?: number, size?: number): boolean;
  erase(name: string): void;
  list(pattern?: RegExp | string): string[];
  /** Free bytes at the end of Storage (no compaction needed for them). */
  getFree(): number;
  getStats(): { totalBytes: number; freeBytes: number; fileBytes: number; fileCount: number; trashBytes: number; trashCount: number };
  compact(): void;
  /** Erases every file. */
  eraseAll(): void;
}

interface EspruinoSocket {
  write(data: string): void;
  end(): void;
  on(event: "data", cb: (data: string) => void): void;
  on(event: "close", cb: () => void): void;
  on(event: "error", cb: (err: { message?: string } | string) => void): void;
}

interface EspruinoNet {
  connect(options: { host: string; port: number }, onConnect: () => void): EspruinoSocket;
}

/** Joining a WiFi network (Wifi on the ESP32, EspruinoWiFi on the Espruino WiFi): cb gets an error, or nothing once joined. */
interface EspruinoWifi {
  connect(ssid: string, options: { password?: string }, cb: (err?: unknown) => void): void;
}

interface EspruinoCrypto {
  SHA256(data: string | Uint8Array | ArrayBuffer): ArrayBuffer;
}
