// npm run test:device: boots the built bundle on a real Espruino 2v29
// interpreter (its Linux build, which the project does not ship: point
// ESPRUINO at one), the way a board boots it: stored as .bootcde in the
// interpreter's flash and started without a script. Prints what the router
// printed, R.status() and process.memory(), and fails when the boot did not
// reach a running router.
//
//   ESPRUINO=/path/to/espruino npm run test:device

import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "../build/build";

const bin = process.env.ESPRUINO;
if (!bin) {
  console.error("test:device needs ESPRUINO=/path/to/an Espruino 2v29 Linux build (see README, 'Running on the interpreter')");
  process.exit(2);
}

function run(dir: string, args: string[], timeoutS: number): string {
  const r = spawnSync("timeout", ["-k", "1", String(timeoutS), bin!, ...args], { cwd: dir, encoding: "latin1" });
  return (r.stdout + r.stderr).replace(/\r/g, "").replace(/\x1b\[J/g, "");
}

const result = await build();
const bundle = readFileSync(result.file, "latin1");
const dir = mkdtempSync(join(tmpdir(), "sden-device-"));

// The Linux build has pins D0-D32 only: the board's configuration in flash
// (sden.cfg, as the flasher writes it) maps the relays and meters onto them.
const config = JSON.parse(readFileSync(new URL("../../flash.config.json", import.meta.url), "utf8"));
config.relays.forEach((r: { pin: string }, i: number) => (r.pin = "D" + i));
config.meters.forEach((m: { pin: string }, i: number) => (m.pin = "D" + (10 + i)));

// 1. Store the bundle as .bootcde, the config, and a .boot3 that reports after boot.
const probe = [
  "setTimeout(function(){",
  "  print('--- R.status()');",
  "  var s = R.status();",
  "  print('--- json ' + JSON.stringify({state: s.state, fw: s.fw, boot: s.boot, relays: s.relays, meters: s.meters.length, errors: s.errors}));",
  "  print('--- memory ' + JSON.stringify(process.memory()));",
  "  quit();",
  "}, 1500);",
].join("\n");
writeFileSync(
  join(dir, "store.js"),
  `var S=require("Storage");S.write(".bootcde",${JSON.stringify(bundle)});S.write(".boot3",${JSON.stringify(probe)});S.write("sden.cfg",${JSON.stringify(JSON.stringify(config))});print("stored "+S.read(".bootcde").length+" bytes");`,
);
console.log(run(dir, ["store.js"], 20).split("\n").filter((l) => l.startsWith("stored")).join("\n"));

// 2. Boot from flash, as a board does at power-on; then again, so the
// second boot restores what the first saved (the boot counter goes up).
function boot(expectedBoot: number): void {
  const out = run(dir, ["-e", ""], 30);
  const lines = out.split("\n").filter((l) => l.trim() !== "" && !/^( ____|\||  *\|_\|| 2v29 \(c\)|Espruino is Open|only by sales|http:\/\/espruino.com\/Donate|>)/.test(l));
  console.log(lines.join("\n"));
  const json = lines.find((l) => l.startsWith("--- json "));
  const status = json ? JSON.parse(json.slice(9)) : undefined;
  if (!status || status.state !== "running" || status.fw !== result.version || status.boot !== expectedBoot) {
    console.error(`\ndevice boot FAILED: expected router ${result.version} running, boot ${expectedBoot}`);
    process.exit(1);
  }
  if (/Uncaught|Error|OUT OF MEMORY|ASSERT/.test(out)) {
    console.error("\ndevice boot FAILED: the interpreter reported an error");
    process.exit(1);
  }
}

boot(1);
console.log("--- power off, boot again");
boot(2);
console.log(`\ndevice boot ok: ${result.bytes} bytes booted twice from .bootcde on Espruino 2v29, router ${result.version} running, totals restored`);
