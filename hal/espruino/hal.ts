// The Espruino 2v29 backend of the HAL: the only code that touches Espruino
// globals and modules. Modules and globals are read when espruinoHalWith()
// runs, not at load time, so the bundle's order does not matter (and a test
// installs its stand-in first).

import type { Clock, DigitalOut, DigitalOutOptions, EdgeInput, EdgeInputOptions, Hal, Level } from "../types";

// Pins are classes, not objects of closures: methods live once on the
// prototype, so a relay or an input costs a few JsVars, not a scope each.

/** An output pin; digitalWrite sets the level and makes it an output in one call. */
class EspruinoDigitalOut implements DigitalOut {
  private readonly pinName: string;
  private level!: Level;
  constructor(options: DigitalOutOptions) {
    this.pinName = options.pin;
    this.write(options.value);
  }
  write(value: Level): void {
    digitalWrite(this.pinName, (this.level = value));
  }
  read(): Level {
    return this.level;
  }
  close(): void {
    pinMode(this.pinName, "input");
  }
}

/** An input pin watched on both edges, times counted from the HAL's start. */
class EspruinoEdgeInput implements EdgeInput {
  private readonly pinName: string;
  private readonly id: number;
  constructor(options: EdgeInputOptions, bootS: number) {
    const onEdge = options.onEdge;
    pinMode((this.pinName = options.pin), "input");
    this.id = setWatch((e) => onEdge(e.state ? 1 : 0, (e.time - bootS) * 1000), this.pinName, { repeat: true, edge: "both", debounce: options.debounceMs });
  }
  read(): Level {
    // 0 or 1 on Espruino.
    return digitalRead(this.pinName) as Level;
  }
  close(): void {
    clearWatch(this.id);
  }
}

/** The Espruino modules the HAL is built on. */
export interface EspruinoModules {
  storage: EspruinoStorage;
  net: EspruinoNet;
  crypto: EspruinoCrypto;
  /** The WiFi driver, on boards that have one: it joins the network the flasher stored. */
  wlan?: EspruinoWifi;
}

/**
 * Joins the network the flasher stored in sden.net (firmware/router.ts
 * NET_FILE: s the WiFi network, p its password), and again 30 s after a
 * failure (the ESP32's driver rejoins by itself after a drop). It calls
 * itself for that, so the build does not inline it (it inlines a function
 * used once): its callback keeps this small scope alive, not the HAL's.
 */
function joinWifi(storage: EspruinoStorage, wifi: EspruinoWifi): void {
  const net = storage.readArrayBuffer("sden.net");
  let n: { s?: string; p?: string } = {};
  try {
    if (net) n = JSON.parse(E.toString(net));
  } catch {
    // Not JSON: no network to join; the router reports the link down.
  }
  if (n.s)
    wifi.connect(n.s, { password: n.p }, (err) => {
      if (err) setTimeout(() => joinWifi(storage, wifi), 30000);
    });
}

/**
 * The HAL over the given modules (a test passes stand-ins). Espruino's
 * built-ins are handed over as they are where they fit (timers, print,
 * Storage's and E's static functions ignore `this`): a wrapper would cost a
 * closure, about 7 JsVars, each.
 */
export function espruinoHalWith(modules: EspruinoModules): Hal {
  const storage = modules.storage;
  if (modules.wlan) joinWifi(storage, modules.wlan);
  // getTime() counts seconds since boot on a board, but wall-clock seconds on
  // the Linux build and after setTime(): the clock counts from bootS.
  const bootS = getTime();
  return {
    clock: {
      nowMs: () => (getTime() - bootS) * 1000,
      setTimeout: setTimeout as unknown as Clock["setTimeout"],
      clearTimeout: clearTimeout as unknown as Clock["clearTimeout"],
      setInterval: setInterval as unknown as Clock["setInterval"],
      clearInterval: clearInterval as unknown as Clock["clearInterval"],
    },
    // Storage, with failures thrown rather than returned as false.
    flash: {
      read: (name) => {
        const buf = storage.readArrayBuffer(name);
        return buf && new Uint8Array(buf);
      },
      write: (name, data, offset, size) => {
        // Storage cuts a name longer than 28 characters short (two names could meet) and takes the typed array itself.
        if (name.length > 28 || !storage.write(name, data, offset, size)) throw new Error("Storage write failed: " + name);
      },
      erase: storage.erase,
      list: (prefix) => storage.list().filter((n) => n.indexOf(prefix || "") === 0),
      getFree: storage.getFree,
      getTrash: () => storage.getStats().trashBytes,
      compact: storage.compact,
      eraseAll: storage.eraseAll,
    },
    watchdog: {
      // false: kicked by the router, not automatically.
      enable: (timeoutS) => E.enableWatchdog(timeoutS, false),
      kick: E.kickWatchdog,
    },
    console: {
      print: print,
      expose: (name, api) => {
        (global as unknown as { [k: string]: unknown })[name] = api;
      },
      setPassword: (password) => {
        E.setPassword(password || undefined);
        if (password) E.lockConsole();
      },
    },
    system: {
      memory: () => {
        const m = process.memory();
        return { free: m.free, used: m.usage, total: m.total };
      },
      crc32: E.CRC32,
      sha256: (data) => new Uint8Array(modules.crypto.SHA256(data)),
      restart: E.reboot,
    },
    digitalOut: (options) => new EspruinoDigitalOut(options),
    edgeInput: (options) => new EspruinoEdgeInput(options, bootS),
    connect: (options) => {
      let open = true;
      // net.connect reads host and port and keeps the options (alive anyway: the callbacks below use them).
      const sock = modules.net.connect(options, () => {
        if (open) options.onConnect();
      });
      sock.on("data", (d) => {
        if (open) options.onData(E.toUint8Array(d));
      });
      sock.on("error", (err) => {
        // Espruino hands an error object or a string.
        if (open && options.onError) options.onError(String((err as { message?: string }).message || err));
      });
      sock.on("close", () => {
        if (open) {
          open = false;
          options.onClose();
        }
      });
      return {
        write: (data) => sock.write(E.toString(data)),
        close: () => {
          open = false;
          sock.end();
        },
      };
    },
  };
}

/** The HAL on a real Espruino board. */
export function espruinoHal(): Hal {
  // The WiFi driver: built in on the ESP32, the EspruinoWiFi module on the Espruino WiFi; none on BLE-only boards.
  const board = process.env.BOARD;
  const wifi = board === "ESP32" ? require("Wifi") : board === "ESPRUINOWIFI" ? require("EspruinoWiFi") : undefined;
  return espruinoHalWith({ storage: require("Storage"), net: require("net"), crypto: require("crypto"), wlan: wifi });
}
