// The technician's pairing page (tools/pairing/) in a real browser: Debian's
// chromium, headless, started by the test through playwright-core. The page
// is served by tools/pairing/serve.ts on 127.0.0.1; a Web Bluetooth stand-in
// (test/support/web-bluetooth.ts) carries its UART to an Espruino-like REPL
// (test/support/espruino-repl.ts) over the router running on the simulated
// board in this process, with a console password set. Virtual time runs at
// 5 times real time while the page works.
//
// The steps depend on each other, in order: a wrong password is refused,
// the right one shows the appliances and meters, a bad form is refused
// before anything is sent, an appliance is paired (the router restarts and
// the page reconnects), identified (its relay clicks on the virtual pin),
// its meter tested with pulses the test drives, screenshots are saved (to
// out/screenshots/; to docs/img/ too with SDEN_SCREENSHOTS=docs), it is
// unpaired, another device picked in the chooser is not sent the password,
// and the page still loads once its server is gone.

import { existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { SimBoard } from "../../hal/sim/board";
import { startPairingServer, type PairingServer } from "../../tools/pairing/serve";
import { EspruinoRepl } from "../support/espruino-repl";
import { pairingBoard, PUMP_METER_PIN, SPARE_RELAY_PIN } from "../support/pairing-board";
import { BluetoothStandin, NORDIC_UART } from "../support/web-bluetooth";

const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const IMG = join(root, "docs/img");
/** Where the screenshots go: out/ (git-ignored) always, the README's images with SDEN_SCREENSHOTS=docs. */
const SHOTS = [join(root, "out/screenshots"), ...(process.env.SDEN_SCREENSHOTS === "docs" ? [IMG] : [])];
const PASSWORD = "s3cret-pw";
/** Real ms per step of the time driver, and virtual ms it runs the board. */
const STEP_REAL_MS = 20;
const STEP_VIRTUAL_MS = 100;
/** Virtual ms between the pulses the test drives on the pump's meter: 1 Wh each at 1000 imp/kWh, so 3600 W. */
const PULSE_EVERY_MS = 1000;
const PULSE_WIDTH_MS = 50;
/** Real ms any awaited page state may take: a guard, not a measure. */
const WAIT_MS = 15_000;

interface R {
  clients(): { ok: boolean; clients: { name: string; relay: number; meter: number }[] };
  password(pw: string): { ok: boolean };
}

let board: SimBoard;
let repl: EspruinoRepl;
let ble: BluetoothStandin;
let server: PairingServer;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let driver: ReturnType<typeof setInterval> | undefined;
let pulsing = false;
let nextPulseMs = 0;
const requested: string[] = [];
const pageErrors: string[] = [];
const pageConsole: string[] = [];

function R(): R {
  return board.globals.R as R;
}

/** Connects (or reconnects) through the UART library's chooser. */
async function connect(): Promise<void> {
  await page.getByRole("button", { name: /^(Connect|Reconnect)$/ }).click();
  await page.getByText("Web Bluetooth", { exact: true }).click();
}

/** Why the browser cannot run, reported by every test (a failed beforeAll would show them as skipped). */
let missing = "";

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    missing = `${CHROMIUM} not found: the pairing page's browser test needs Debian's chromium (apt-get install -y chromium; .ci/run installs it) or CHROMIUM=/path/to/chromium`;
    return;
  }
  board = pairingBoard();
  repl = new EspruinoRepl(board, {
    write: (s) => ble?.send(s),
    onReboot: () => ble?.linkLost(),
  });
  expect(R().password(PASSWORD)).toEqual({ ok: true });
  expect(repl.locked).toBe(true);
  server = await startPairingServer(0);
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
  context = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 1 });
  page = await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  page.on("request", (r) => requested.push(r.url()));
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  page.on("console", (m) => pageConsole.push(m.text()));
  ble = await BluetoothStandin.install(page, { onWrite: (s) => repl.input(s) });
  // The board runs in virtual time while the page works, and its printed lines go out on the console.
  driver = setInterval(() => {
    board.run(STEP_VIRTUAL_MS);
    if (pulsing) {
      while (board.clock.worldMs() >= nextPulseMs) {
        board.pins.pulse(PUMP_METER_PIN, PULSE_WIDTH_MS);
        nextPulseMs += PULSE_EVERY_MS;
      }
    }
    repl.poll();
  }, STEP_REAL_MS);
  await page.goto(server.url);
});

beforeEach(() => {
  if (missing) throw new Error(missing);
});

afterAll(async () => {
  if (driver) clearInterval(driver);
  await browser?.close();
  await server?.close();
});

describe("the pairing page over Web Bluetooth", () => {
  it("loads with nothing from outside and asks the Nordic UART service for the board", async () => {
    await expect(page.getByRole("heading", { name: "Connect to the router" }).isVisible()).resolves.toBe(true);
    await connect();
    await page.getByLabel("Password", { exact: true }).waitFor();
    expect(ble.requests.length).toBe(1);
    expect(JSON.stringify(ble.requests[0])).toContain(NORDIC_UART.service);
    expect(requested.every((u) => u.startsWith(server.url))).toBe(true);
  });

  it("refuses a wrong password and shows nothing of the router", async () => {
    await page.getByLabel("Password", { exact: true }).fill("not-the-password");
    await page.getByRole("button", { name: "Unlock" }).click();
    await page.getByText("The router refused this password").waitFor();
    expect(repl.locked).toBe(true);
    expect(repl.logins.at(-1)).toEqual({ ok: false });
    expect(await page.locator("#clientsCard").isVisible()).toBe(false);
  });

  it("with the right password shows the paired appliances and the meters", async () => {
    await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
    await page.getByRole("button", { name: "Unlock" }).click();
    await page.locator("#clients tr").nth(3).waitFor();
    expect(repl.locked).toBe(false);
    const names = await page.locator("#clients td.title").allTextContents();
    expect(names).toEqual(R().clients().clients.map((c) => c.name));
    expect(await page.locator("#meters tr").count()).toBe(7);
    await expect(page.locator("#linkState").textContent()).resolves.toBe("Connected");
  });

  it("checks the pairing form before sending: a bad priority and a used name never reach the router", async () => {
    const sent = repl.linesIn.length;
    await page.getByLabel(/^Name/).fill("washer");
    await page.getByLabel(/^Priority/).fill("9");
    await page.getByRole("button", { name: "Pair", exact: true }).click();
    await expect(page.locator("#err-priority").textContent()).resolves.toBe("Priority must be a whole number from 0 to 7 (0 most important); got 9.");
    await expect(page.locator("#err-name").textContent()).resolves.toBe("Name name washer is already used by washer (id 1).");
    await expect(page.locator("#notice").textContent()).resolves.toMatch(/^Not sent/);
    expect(repl.linesIn.slice(sent).some((l) => l.includes("R.pair"))).toBe(false);
  });

  it("pairs an appliance; the router restarts and the page reconnects with the password typed before", async () => {
    await page.getByLabel(/^Name/).fill("pool-pump");
    await page.getByLabel("Kind").selectOption("energy");
    await page.getByLabel("Relay channel").selectOption("4");
    await page.getByLabel("Sub-meter").selectOption("6");
    await page.getByLabel(/^Priority/).fill("4");
    await page.getByLabel(/^Rated power/).fill("1100");
    await page.getByRole("button", { name: "Pair", exact: true }).click();
    await page.getByText("pool-pump is paired as appliance 5").waitFor();
    // The router restarts about 1 s later (virtual): the link drops.
    await page.getByRole("button", { name: "Reconnect" }).waitFor();
    expect(board.boots.map((b) => b.reason)).toEqual(["power-on", "restart"]);
    await connect();
    await page.locator('#clients tr[data-client="5"]').waitFor();
    expect(repl.logins.at(-1)).toEqual({ ok: true });
    const paired = R().clients().clients.find((c) => c.name === "pool-pump");
    expect(paired).toMatchObject({ relay: 4, meter: 6, kind: "energy", priority: 4, ratedW: 1100 });
    await expect(page.locator('#clients tr[data-client="5"]').textContent()).resolves.toContain("1100 W");
  });

  it("identifies the appliance: its relay clicks on and off on the virtual pin", async () => {
    const before = board.pins.transitions(SPARE_RELAY_PIN).length;
    await page.locator('button[data-identify="5"]').click();
    await page.getByText("Relay 4 of pool-pump is switched on for 2 s").waitFor();
    const until = Date.now() + WAIT_MS;
    while (board.pins.transitions(SPARE_RELAY_PIN).length < before + 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    const clicks = board.pins.transitions(SPARE_RELAY_PIN).slice(before);
    expect(clicks.map((w) => w.level)).toEqual([1, 0]);
    // On for the channel's minOnS (2 s): a click the technician hears twice.
    expect(clicks[1].atMs - clicks[0].atMs).toBeGreaterThanOrEqual(2000);
    expect(clicks[1].atMs - clicks[0].atMs).toBeLessThan(2000 + STEP_VIRTUAL_MS * 2);
  });

  it("shows live pulses and power of the appliance's meter", async () => {
    // The first pulse at the driver's next step, the others every PULSE_EVERY_MS after it.
    nextPulseMs = board.clock.worldMs() + STEP_VIRTUAL_MS;
    pulsing = true;
    await page.locator('button[data-test="6"]').click();
    await page.locator("#testPower", { hasText: "3600 W" }).waitFor();
    await page.waitForFunction(() => Number(document.getElementById("testPulses")?.textContent) >= 3);
    const p = await page.locator("#testPulses").textContent();
    expect(Number(p)).toBeGreaterThanOrEqual(3);
    await expect(page.locator("#testLast").textContent()).resolves.toMatch(/just now|s ago/);
  });

  it("saves screenshots at phone and desktop width", async () => {
    const dirs = SHOTS;
    for (const d of dirs) mkdirSync(d, { recursive: true });
    const before = dirs.map((d) => [join(d, "pairing-phone.png"), join(d, "pairing-desktop.png")].map((f) => (existsSync(f) ? statSync(f).mtimeMs : 0)));
    // A phone's screen as the technician sees it on top; the desktop page whole.
    await page.evaluate(() => window.scrollTo(0, 0));
    const phone = await page.screenshot();
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.locator("#testPower", { hasText: "3600 W" }).waitFor();
    const desktop = await page.screenshot({ fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    pulsing = false;
    await page.getByRole("button", { name: "Stop" }).click();
    for (const d of dirs) {
      writeFileSync(join(d, "pairing-phone.png"), phone);
      writeFileSync(join(d, "pairing-desktop.png"), desktop);
    }
    dirs.forEach((d, i) => [join(d, "pairing-phone.png"), join(d, "pairing-desktop.png")].forEach((f, k) => expect(statSync(f).mtimeMs, f).toBeGreaterThan(before[i][k])));
    // The committed images change only when asked for (SDEN_SCREENSHOTS=docs): a test run leaves the tree clean.
    expect(SHOTS.includes(IMG)).toBe(process.env.SDEN_SCREENSHOTS === "docs");
  });

  it("unpairs the appliance after a confirming tap", async () => {
    const unpairButton = page.locator('button[data-unpair="5"]');
    await unpairButton.click();
    await expect(unpairButton.textContent()).resolves.toBe("Tap again to unpair");
    expect(R().clients().clients).toHaveLength(5);
    await unpairButton.click();
    await page.getByText("pool-pump is unpaired").waitFor();
    await page.getByRole("button", { name: "Reconnect" }).waitFor();
    expect(R().clients().clients.map((c) => c.name)).not.toContain("pool-pump");
  });

  it("does not send the password typed before to another device picked in the chooser", async () => {
    // Another board in range (Chrome gives each its own id): the page must ask, not send the password it knows.
    const logins = repl.logins.length;
    const sent = repl.linesIn.length;
    ble.nextDevice = { id: "neighbours-router", name: "Espruino sden-router" };
    await connect();
    await page.getByLabel("Password", { exact: true }).waitFor();
    expect(repl.linesIn.slice(sent)).not.toContain(PASSWORD);
    expect(repl.logins.slice(logins)).not.toContainEqual({ ok: true });
    expect(repl.locked).toBe(true);
    expect(await page.locator("#clientsCard").isVisible()).toBe(false);
    // Typed for this device, it unlocks it.
    await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
    await page.getByRole("button", { name: "Unlock" }).click();
    await page.locator("#clients tr").nth(3).waitFor();
    await expect(page.locator("#clients tr").count()).resolves.toBe(4);
    expect(repl.logins.at(-1)).toEqual({ ok: true });
  });

  it("loads again once its server is gone: the browser kept it", async () => {
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null);
    await server.close();
    await page.reload();
    await page.getByRole("button", { name: "Connect" }).waitFor();
    expect(requested.every((u) => u.startsWith(server.url))).toBe(true);
    expect(pageErrors).toEqual([]);
    // The UART library logs what it sends; the page keeps the password out of the browser's console.
    expect(pageConsole.length).toBeGreaterThan(0);
    expect(pageConsole.filter((l) => l.includes(PASSWORD))).toEqual([]);
  });
});
