// npm start: the router firmware on the simulated board in a simulated
// home, at accelerated time. Household load and PV drive the S0 meters; the
// run can cut power at random instants (some in the middle of a flash write)
// and ends with the router's own status beside the true energy, so the cost
// of every cut is visible.
//
//   npm start -- --hours 24 --day 172 --cuts 20 --seed 1

import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { bootRouter, type Router } from "../../firmware/router";
import type { RouterConfig } from "../../firmware/config";
import { SimBoard } from "../../hal/sim/board";
import { SimulatedHome } from "./home";
import { seededRandom } from "./random";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");

const { values: args } = parseArgs({
  options: {
    hours: { type: "string", default: "24" },
    day: { type: "string", default: "172" },
    seed: { type: "string", default: "1" },
    cuts: { type: "string", default: "12" },
    "annual-kwh": { type: "string", default: "4000" },
    kwp: { type: "string", default: "6" },
    config: { type: "string", default: join(root, "flash.config.json") },
  },
});

const hours = Number(args.hours);
const dayOfYear = Number(args.day);
const cuts = Number(args.cuts);
const random = seededRandom(Number(args.seed));
const config = JSON.parse(readFileSync(args.config, "utf8")) as RouterConfig;

const board = new SimBoard();
const home = new SimulatedHome(board, config.meters, { dayOfYear, annualKwh: Number(args["annual-kwh"]), kWp: Number(args.kwp), random });
let router: Router | undefined;
board.start((hal) => {
  router = bootRouter(hal, { version: "sim", defaults: config });
});

// Power cuts at random instants; every other one strikes during a flash write.
const totalMs = hours * 3_600_000;
const cutTimes = Array.from({ length: cuts }, () => Math.floor(random() * totalMs)).sort((a, b) => a - b);
let flashCuts = 0;
cutTimes.forEach((at, i) =>
  board.clock.worldClock().setTimeout(() => {
    if (i % 2 === 0) board.powerCut();
    else {
      flashCuts++;
      board.flash.cutAt(0, { tornBytes: Math.floor(random() * 16) });
    }
  }, at),
);

const started = Date.now();
const steps = 48;
for (let s = 1; s <= steps; s++) {
  board.run(totalMs / steps);
  if (process.stdout.isTTY) {
    const done = Math.round((s / steps) * 30);
    process.stdout.write(`\r[${"#".repeat(done)}${" ".repeat(30 - done)}] ${((s / steps) * hours).toFixed(1)} h simulated`);
  }
}
if (process.stdout.isTTY) process.stdout.write("\n");

console.log(`\nsden-router on the simulated board: ${hours} h of day ${dayOfYear} (${home.season}) in ${Date.now() - started} ms`);
console.log(`load: ${home.load.source}; PV ${args.kwp} kWp: ${home.solar.source}`);
console.log(`boots: ${board.boots.map((b) => b.reason).join(", ")}`);
console.log(`power cuts: ${cuts} (${flashCuts} armed at a flash write); noise spikes injected: ${home.spikes}\n`);
console.log("R.status():");
const before = board.lines.length;
const status = (board.globals.R as { status(): ReturnType<Router["status"]> }).status();
for (const line of board.lines.slice(before)) console.log(`  ${line}`);
console.log("\nmeter        true Wh   router Wh   lost Wh   (at most one save threshold of " + config.meterSaveWh + " Wh per cut)");
config.meters.forEach((m, i) => {
  const metered = status.meters[i].wh;
  const trueWh = home.trueWh;
  console.log(`${m.name.padEnd(12)} ${Math.floor(trueWh[i]).toString().padStart(7)} ${metered.toString().padStart(11)} ${(Math.floor(trueWh[i]) - metered).toString().padStart(9)}`);
});
void router;
