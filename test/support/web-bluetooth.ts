// A Web Bluetooth stand-in for the pairing page's browser test: the page
// gets a navigator.bluetooth (injected before any of its scripts) offering
// one board with the Nordic UART service, as Espruino boards expose it, and
// that board's UART is the test's: what the page writes on the TX
// characteristic reaches onWrite() in Node, and send() delivers bytes as RX
// notifications of at most 20 bytes (the default BLE MTU's payload).
// linkLost() drops the connection as a board does when it reboots;
// nextDevice names the device the chooser gives next (another board in range).

import type { Page } from "playwright-core";

export const NORDIC_UART = {
  service: "6e400001-b5a3-f393-e0a9-e50e24dcca9e",
  tx: "6e400002-b5a3-f393-e0a9-e50e24dcca9e",
  rx: "6e400003-b5a3-f393-e0a9-e50e24dcca9e",
};

/** Bytes per notification and the most a write may carry. */
export const BLE_CHUNK = 20;

/**
 * Runs in the page, before its own scripts: only what @espruino-tools/uart
 * uses, with the errors Chrome throws. Plain JavaScript in a string: a
 * function passed to addInitScript would carry the test transform's helpers
 * (esbuild's __name), which the page does not have.
 */
const STANDIN_SCRIPT = `(() => {
  const uuids = ${JSON.stringify(NORDIC_UART)};
  const call = (op, data) => window.__sdenBle(op, data);
  let current;
  const makeDevice = (picked) => {
    const device = new EventTarget();
    device.id = picked.id;
    device.name = picked.name;
    const rx = new EventTarget();
    rx.uuid = uuids.rx;
    rx.value = null;
    rx.notifying = false;
    rx.startNotifications = async () => { rx.notifying = true; return rx; };
    const gatt = {
      device,
      connected: false,
      async connect() {
        await call("connect");
        gatt.connected = true;
        current = { device, gatt, rx };
        return gatt;
      },
      disconnect() {
        if (!gatt.connected) return;
        gatt.connected = false;
        call("disconnect");
        device.dispatchEvent(new Event("gattserverdisconnected"));
      },
      async getPrimaryService(uuid) {
        if (!gatt.connected) throw new DOMException("GATT Server is disconnected. Cannot retrieve services.", "NetworkError");
        if (uuid !== uuids.service) throw new DOMException("No Services matching UUID " + uuid + " found in Device.", "NotFoundError");
        return service;
      },
    };
    const tx = new EventTarget();
    tx.uuid = uuids.tx;
    tx.writeValue = async (v) => {
      if (!gatt.connected) throw new DOMException("GATT Server is disconnected. Cannot perform GATT operations.", "NetworkError");
      const bytes = v instanceof ArrayBuffer ? new Uint8Array(v) : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
      if (bytes.length > 512) throw new DOMException("Value can't exceed 512 bytes.", "InvalidModificationError");
      let s = "";
      for (const b of bytes) s += String.fromCharCode(b);
      await call("write", s);
    };
    const service = {
      uuid: uuids.service,
      device,
      isPrimary: true,
      async getCharacteristic(uuid) {
        if (uuid === uuids.rx) return rx;
        if (uuid === uuids.tx) return tx;
        throw new DOMException("No Characteristics matching UUID " + uuid + " found in Service.", "NotFoundError");
      },
    };
    // Not enumerable, as on Chrome's objects (whose fields are getters): the library logs JSON.stringify(characteristic).
    Object.defineProperty(rx, "service", { value: service });
    Object.defineProperty(tx, "service", { value: service });
    device.gatt = gatt;
    return device;
  };
  const standin = {
    notify(s) {
      const c = current;
      if (!c || !c.gatt.connected || !c.rx.notifying) return false;
      const b = new Uint8Array(s.length);
      for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i) & 0xff;
      c.rx.value = new DataView(b.buffer);
      c.rx.dispatchEvent(new Event("characteristicvaluechanged"));
      return true;
    },
    lost() {
      const c = current;
      if (!c || !c.gatt.connected) return;
      c.gatt.connected = false;
      c.device.dispatchEvent(new Event("gattserverdisconnected"));
    },
  };
  const bluetooth = {
    async getAvailability() { return true; },
    async requestDevice(options) {
      return makeDevice(JSON.parse(await call("request", JSON.stringify(options))));
    },
  };
  Object.defineProperty(window, "__sdenBleStandin", { value: standin });
  Object.defineProperty(Navigator.prototype, "bluetooth", { configurable: true, get: () => bluetooth });
})();`;

export interface BluetoothStandinOptions {
  /** Bytes the page wrote to the board's UART (in writes of at most BLE_CHUNK on the lib's side). */
  onWrite: (data: string) => void;
}

/** The Node side of the stand-in, for one page. */
export class BluetoothStandin {
  /** The options of every requestDevice() (the page's filters). */
  readonly requests: { filters?: { services?: string[]; namePrefix?: string }[]; optionalServices?: string[] }[] = [];
  connected = false;
  connects = 0;
  /** The device the chooser gives at the next requestDevice(): Chrome's id for it and its advertised name. */
  nextDevice = { id: "sim-router", name: "Espruino sden-router" };
  private chain: Promise<unknown> = Promise.resolve();
  private readonly page: Page;
  private readonly o: BluetoothStandinOptions;

  private constructor(page: Page, o: BluetoothStandinOptions) {
    this.page = page;
    this.o = o;
  }

  /** Injects the stand-in into the page (before it loads). */
  static async install(page: Page, o: BluetoothStandinOptions): Promise<BluetoothStandin> {
    const s = new BluetoothStandin(page, o);
    await page.exposeFunction("__sdenBle", (op: string, data?: string) => s.fromPage(op, data));
    await page.addInitScript({ content: STANDIN_SCRIPT });
    return s;
  }

  /** Bytes from the board to the page, in notifications of BLE_CHUNK bytes, in order. */
  send(data: string): void {
    if (!this.connected) return;
    for (let i = 0; i < data.length; i += BLE_CHUNK) {
      const chunk = data.slice(i, i + BLE_CHUNK);
      // Queued while connected, delivered even if the link drops meanwhile: bytes on air before a reboot arrive.
      this.chain = this.chain.then(() => this.page.evaluate((c) => (window as unknown as { __sdenBleStandin: { notify(s: string): boolean } }).__sdenBleStandin.notify(c), chunk).catch(() => false));
    }
  }

  /** The board dropped the link (it rebooted). */
  linkLost(): void {
    if (!this.connected) return;
    this.connected = false;
    this.chain = this.chain.then(() => this.page.evaluate(() => (window as unknown as { __sdenBleStandin: { lost(): void } }).__sdenBleStandin.lost()).catch(() => undefined));
  }

  /** Resolves when every notification sent so far has been delivered. */
  settled(): Promise<unknown> {
    return this.chain;
  }

  private fromPage(op: string, data?: string): string | undefined {
    if (op === "request") {
      this.requests.push(JSON.parse(data ?? "{}"));
      return JSON.stringify(this.nextDevice);
    }
    if (op === "connect") {
      this.connected = true;
      this.connects++;
    } else if (op === "disconnect") this.connected = false;
    else if (op === "write" && this.connected) this.o.onWrite(data ?? "");
    return undefined;
  }
}
