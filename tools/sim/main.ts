// npm start: the main job. An embedded MQTT broker (aedes on 127.0.0.1),
// the reference energy server, and one simulated home (the router firmware
// on the simulated board, with a washing machine, a dishwasher, an EV
// charger and a water heater behind its relays, PV and a battery) run a
// simulated day at accelerated time. It ends with a summary and writes two
// SVG charts: packets per slot stacked by priority slice and storage (the
// energy-network-slicing figure of the SDEN design), and a timeline per
// appliance. The scenarios islanded-outage and cloud-outage impose their
// outage (tools/sim/world.ts), and both charts mark the time the router
// spent in each connectivity state (boot, online, failsafe, local).
//
//   npm start -- --scenario winter --seed 3 --hours 24 --out out --cuts 10

import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { report } from "./report";
import { SCENARIO_NAMES, type ScenarioName } from "./scenario";
import { World } from "./world";

const { values: args } = parseArgs({
  options: {
    scenario: { type: "string", default: "sunny-summer" },
    seed: { type: "string", default: "1" },
    hours: { type: "string", default: "24" },
    out: { type: "string", default: "out" },
    cuts: { type: "string", default: "0" },
    help: { type: "boolean", default: false },
  },
});

function usage(problem?: string): never {
  if (problem) console.error(`npm start: ${problem}\n`);
  console.error(
    [
      "usage: npm start -- [--scenario NAME] [--seed N] [--hours H] [--out DIR] [--cuts N]",
      `  --scenario  ${SCENARIO_NAMES.join(" | ")} (default sunny-summer)`,
      "  --seed      the household's random choices (default 1)",
      "  --hours     simulated hours, 1-24 (default 24)",
      "  --out       folder for the charts (default out)",
      "  --cuts      power cuts at random instants, half of them during a flash write (default 0)",
    ].join("\n"),
  );
  process.exit(problem ? 2 : 0);
}

if (args.help) usage();
const scenario = args.scenario as ScenarioName;
if (!SCENARIO_NAMES.includes(scenario)) usage(`unknown scenario "${args.scenario}"`);
const seed = Number(args.seed);
const hours = Number(args.hours);
const cuts = Number(args.cuts);
if (!Number.isInteger(seed)) usage(`--seed must be a whole number, not "${args.seed}"`);
if (!(hours >= 1 && hours <= 24)) usage(`--hours must be from 1 to 24, not "${args.hours}"`);
if (!(Number.isInteger(cuts) && cuts >= 0 && cuts <= 1000)) usage(`--cuts must be a whole number from 0 to 1000, not "${args.cuts}"`);
const outDir = resolve(args.out as string);

const started = Date.now();
const world = await World.create({ scenario, seed });
const totalMs = hours * 3_600_000;

// Power cuts at random instants (seeded); every other one strikes during a flash write.
let x = seed * 7919 + 17;
const rnd = () => ((x = (x * 48271) % 2147483647) / 2147483647);
const cutTimes = Array.from({ length: cuts }, () => Math.floor(rnd() * totalMs)).sort((a, b) => a - b);
cutTimes.forEach((at, i) =>
  world.board.clock.worldClock().setTimeout(() => {
    if (i % 2 === 0) world.board.powerCut();
    else world.board.flash.cutAt(0, { tornBytes: Math.floor(rnd() * 16) });
  }, at),
);

const tty = process.stdout.isTTY;
let lastBar = -1;
await world.run(totalMs, (doneMs) => {
  const done = Math.floor((doneMs / totalMs) * 40);
  if (done === lastBar) return;
  lastBar = done;
  const h = ((doneMs / totalMs) * hours).toFixed(1);
  if (tty) process.stdout.write(`\r[${"#".repeat(done)}${" ".repeat(40 - done)}] ${h} of ${hours} h simulated`);
  else if (done % 10 === 0) console.log(`${h} of ${hours} h simulated`);
});
if (tty) process.stdout.write("\n");

const r = report(world, hours);
await world.close();
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, "slices.svg"), r.slicesSvg);
writeFileSync(join(outDir, "timeline.svg"), r.timelineSvg);
console.log("");
for (const line of r.lines) console.log(line);
console.log(`\n${cuts > 0 ? `power cuts: ${cuts}; boots: ${world.board.boots.length}; ` : ""}ran in ${((Date.now() - started) / 1000).toFixed(1)} s`);
console.log(`charts: ${join(outDir, "slices.svg")}, ${join(outDir, "timeline.svg")}`);
