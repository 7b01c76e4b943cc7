/// <reference lib="dom" />
// The byte link to the router, in the browser: @espruino-tools/core's UART
// (DeviceController.UART), which offers Web Bluetooth (the Nordic UART
// service that Espruino boards expose) and Web Serial (a USB cable) in its
// own chooser, sends in 20-byte chunks and honours XON/XOFF.
//
// Only its transport is used. DeviceController.connect() and eval() do not
// fit a router's console: connect() evaluates code at once (on a locked
// console that is a wrong password), blinks LED2 and reads the board's whole
// program back with E.dumpStr(); eval() takes the first line that comes
// back as the answer, and the router prints lines of its own. The page
// frames its calls itself (console.ts).
//
// The library's quirks, handled here: it logs what it sends (the password
// too) to the browser's console, its connect() never calls back when
// the chooser is dismissed or the connection fails (so the connection's
// state is watched), it drops every write on a page served over plain http
// from another host than "localhost" (serve.ts prints a localhost address),
// and reaching the same board again after it restarted needs the chooser
// again (Web Bluetooth wants a tap for requestDevice).

import { DeviceController } from "@espruino-tools/core/lib/device-controller";

/** The library's connection object (not typed by it). */
interface UartConnection {
  isOpen: boolean;
  isOpening: boolean;
  on(event: "data" | "close" | "open", cb: (data?: string) => void): void;
  close(): void;
}

interface Uart {
  connect(cb: (c: UartConnection | null) => void): UartConnection;
  write(data: string, cb?: () => void): void;
  close(): void;
}

export interface Link {
  write(data: string): void;
  close(): void;
  /**
   * Which device was picked: Web Bluetooth's device.id (the same for the
   * same board for this page), a serial port's own label; undefined when
   * the page could not see it.
   */
  device: string | undefined;
}

export interface LinkEvents {
  onData: (data: string) => void;
  onClose: () => void;
}

/**
 * The device the chooser gave last. The library keeps it to itself, so the
 * browser's requestDevice (Web Bluetooth) and requestPort (Web Serial) are
 * wrapped to see what they return.
 */
let picked: string | undefined;
const serialIds = new WeakMap<object, string>();

function watchChooser(): void {
  const nav = navigator as unknown as { bluetooth?: { requestDevice(o: unknown): Promise<{ id: string }> }; serial?: { requestPort(o?: unknown): Promise<object> } };
  const bt = nav.bluetooth;
  if (bt && !(bt.requestDevice as { sden?: boolean }).sden) {
    const request = bt.requestDevice.bind(bt);
    bt.requestDevice = Object.assign((o: unknown) => request(o).then((d) => ((picked = "ble:" + d.id), d)), { sden: true });
  }
  const serial = nav.serial;
  if (serial && !(serial.requestPort as { sden?: boolean }).sden) {
    const request = serial.requestPort.bind(serial);
    serial.requestPort = Object.assign(
      (o?: unknown) =>
        request(o).then((port) => {
          // A port has no id; the browser hands back the same object for the same port.
          if (!serialIds.has(port)) serialIds.set(port, "serial:" + Math.random().toString(36).slice(2));
          picked = serialIds.get(port);
          return port;
        }),
      { sden: true },
    );
  }
}

/** Real ms between looks at a connection the library is still opening. */
const WATCH_MS = 300;

let controller: DeviceController | undefined;

// The library logs what it sends (each chunk, and each queued write) to the
// browser's console at a debug level the page cannot change, the console
// password included: those lines are dropped.
const consoleLog = console.log.bind(console);
console.log = (...args: unknown[]) => {
  if (typeof args[0] === "string" && /^<UART> (Sending|Executing)/.test(args[0])) return;
  consoleLog(...args);
};

/**
 * Opens the library's chooser; resolves once the router's console is
 * connected, rejects with what to try when it is not (the chooser was
 * closed, no board was picked, the board could not be reached).
 */
export function openLink(events: LinkEvents): Promise<Link> {
  controller = controller ?? new DeviceController();
  const uart = controller.UART as unknown as Uart;
  watchChooser();
  picked = undefined;
  return new Promise<Link>((resolve, reject) => {
    let settled = false;
    // Started, then neither opening nor open: the chooser was cancelled or the board did not answer.
    let started = false;
    const watch = setInterval(() => {
      if (conn.isOpening) started = true;
      if (started && !conn.isOpening && !conn.isOpen) fail("The router could not be reached, or no device was picked in the Bluetooth list. Check that it is powered and within a few metres, then press Connect again.");
    }, WATCH_MS);
    const fail = (why: string) => {
      if (settled) return;
      settled = true;
      clearInterval(watch);
      reject(new Error(why));
    };
    const conn = uart.connect((c) => {
      if (!c) return fail("No connection was chosen. Press Connect and pick Web Bluetooth (or Web Serial for a USB cable).");
      if (settled) return;
      settled = true;
      clearInterval(watch);
      let open = true;
      c.on("data", (d) => {
        if (open && d) events.onData(d);
      });
      c.on("close", () => {
        if (!open) return;
        open = false;
        events.onClose();
      });
      resolve({
        device: picked,
        write: (data) => {
          if (open) uart.write(data);
        },
        close: () => {
          if (!open) return;
          open = false;
          uart.close();
        },
      });
    });
  });
}
