// The Espruino 2v29 backend of the HAL: the only code that touches Espruino
// globals and modules. Modules are loaded when espruinoHal() runs, not at
// load time, so the bundle's order does not matter.

import type { Clock, Console, DigitalOut, DigitalOutOptions, EdgeInput, EdgeInputOptions, Flash, Hal, Level, Socket, SocketOptions, System, Watchdog } from "../types";

/**
 * getTime() counts seconds since boot on a board, but wall-clock seconds on
 * the Linux build and after setTime(): the clock counts from bootS.
 */
function clockFrom(bootS: number): Clock {
  // Espruino's built-ins themselves where they fit: a wrapper would cost a
  // closure (about 7 JsVars) each, and they ignore `this`.
  return {
    nowMs: () => (getTime() - bootS) * 1000,
    setTimeout: setTimeout as unknown as Clock["setTimeout"],
    clearTimeout: clearTimeout as unknown as Clock["clearTimeout"],
    setInterval: setInterval as unknown as Clock["setInterval"],
    clearInterval: clearInterval as unknown as Clock["clearInterval"],
  };
}

/** Storage, with failures thrown rather than returned as false. */
function storageFlash(storage: EspruinoStorage): Flash {
  return {
    read: (name) => {
      const buf = storage.readArrayBuffer(name);
      return buf === undefined ? undefined : new Uint8Array(buf);
    },
    write: (name, data, offset, size) => {
      if (name.length > 28) throw new Error("Storage name too long: " + name);
      // Storage takes the typed array itself: no copy into a string.
      const ok = offset === undefined ? storage.write(name, data) : storage.write(name, data, offset, size);
      if (!ok) throw new Error("Storage write failed: " + name);
    },
    // Storage's functions are static: they ignore `this`.
    erase: storage.erase,
    list: (prefix) => {
      const all = storage.list();
      if (prefix === undefined) return all;
      const out: string[] = [];
      for (let i = 0; i < all.length; i++) if (all[i].indexOf(prefix) === 0) out.push(all[i]);
      return out;
    },
    getFree: storage.getFree,
    getTrash: () => storage.getStats().trashBytes,
    compact: storage.compact,
    eraseAll: storage.eraseAll,
  };
}

// Pins are classes, not objects of closures: methods live once on the
// prototype, so a relay or an input costs a few JsVars, not a scope each.

/** An output pin; digitalWrite sets the level and makes it an output in one call. */
class EspruinoDigitalOut implements DigitalOut {
  private readonly pin: string;
  private level: Level;
  constructor(options: DigitalOutOptions) {
    this.pin = options.pin;
    this.level = options.value;
    digitalWrite(this.pin, this.level);
  }
  write(value: Level): void {
    this.level = value;
    digitalWrite(this.pin, value);
  }
  read(): Level {
    return this.level;
  }
  close(): void {
    pinMode(this.pin, "input");
  }
}

/** An input pin watched on both edges, times counted from the HAL's start. */
class EspruinoEdgeInput implements EdgeInput {
  private readonly pin: string;
  private readonly id: number;
  constructor(options: EdgeInputOptions, bootS: number) {
    const onEdge = options.onEdge;
    this.pin = options.pin;
    pinMode(this.pin, "input");
    this.id = setWatch((e) => onEdge(e.state ? 1 : 0, (e.time - bootS) * 1000), this.pin, { repeat: true, edge: "both", debounce: options.debounceMs });
  }
  read(): Level {
    return digitalRead(this.pin) ? 1 : 0;
  }
  close(): void {
    clearWatch(this.id);
  }
}

function connect(net: EspruinoNet, options: SocketOptions): Socket {
  let open = true;
  const sock = net.connect({ host: options.host, port: options.port }, () => {
    if (open) options.onConnect();
  });
  sock.on("data", (d) => {
    if (open) options.onData(E.toUint8Array(d));
  });
  sock.on("error", (err) => {
    if (open && options.onError) options.onError(typeof err === "string" ? err : String(err.message));
  });
  sock.on("close", () => {
    if (!open) return;
    open = false;
    options.onClose();
  });
  return {
    write: (data) => sock.write(E.toString(data)),
    close: () => {
      open = false;
      sock.end();
    },
  };
}

const watchdog: Watchdog = {
  enable: (timeoutS) => E.enableWatchdog(timeoutS, false),
  kick: () => E.kickWatchdog(),
};

const consoleApi: Console = {
  print: (line) => print(line),
  expose: (name, api) => {
    (global as unknown as { [k: string]: unknown })[name] = api;
  },
  setPassword: (password) => {
    E.setPassword(password === "" ? undefined : password);
    if (password !== "") E.lockConsole();
  },
};

function systemWith(crypto: EspruinoCrypto): System {
  return {
    memory: () => {
      const m = process.memory();
      return { free: m.free, used: m.usage, total: m.total };
    },
    crc32: E.CRC32,
    sha256: (data) => new Uint8Array(crypto.SHA256(data)),
    restart: E.reboot,
  };
}

/** The Espruino modules the HAL is built on. */
export interface EspruinoModules {
  storage: EspruinoStorage;
  net: EspruinoNet;
  crypto: EspruinoCrypto;
}

/** The HAL over the given modules (a test passes stand-ins). */
export function espruinoHalWith(modules: EspruinoModules): Hal {
  const net = modules.net;
  const bootS = getTime();
  return {
    clock: clockFrom(bootS),
    flash: storageFlash(modules.storage),
    watchdog: watchdog,
    console: consoleApi,
    system: systemWith(modules.crypto),
    digitalOut: (options) => new EspruinoDigitalOut(options),
    edgeInput: (options) => new EspruinoEdgeInput(options, bootS),
    connect: (options) => connect(net, options),
  };
}

/** The HAL on a real Espruino board. */
export function espruinoHal(): Hal {
  return espruinoHalWith({ storage: require("Storage"), net: require("net"), crypto: require("crypto") });
}
