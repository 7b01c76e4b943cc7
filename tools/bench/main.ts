// npm run bench: the figures of ../shared/quality.md that this code can
// show, one line each, with the bar beside it. Times are wall-clock on this
// machine and vary; the bars on size and counts are fixed.

import { readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build, type BuildResult } from "../build/build";
import { bootTwiceOnEspruino, loadedOnEspruino, median, reallocOnEspruino } from "../device/run";
import { bootRouter, type Router } from "../../firmware/router";
import { VirtualClock } from "../../hal/sim/clock";
import { SimBoard } from "../../hal/sim/board";
import { SimulatedHome } from "../sim/home";
import { seededRandom } from "../sim/random";
import { flashConfig } from "../sim/world";
import { line } from "./line";
import { protocolBench } from "./protocol";
import { dayBench } from "./day";
import { schedBench } from "./sched";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");


async function device(): Promise<BuildResult> {
  const r = await build();
  // What the board stores and runs: the minified bundle pretokenised (tools/build/pretokenise.ts).
  const bytes = statSync(r.bootFile).size;
  line("device", "bundle size, minified and pretokenised, as flashed (build/router.bootcde)", `${(bytes / 1024).toFixed(1)} KB (${bytes} B)`, "<= 40 KB (goal 24 KB)", bytes <= 40 * 1024);
  line("device", "the same bundle as minified ASCII text, before pretokenising (build/router.js)", `${(r.bytes / 1024).toFixed(1)} KB (${r.bytes} B)`, "-");
  return r;
}

/** JsVars in use on the real interpreter, when ESPRUINO names one (as npm run test:device): after boot, and in the bar's case. */
async function deviceMemory(bundle: BuildResult): Promise<void> {
  const bin = process.env.ESPRUINO;
  const boot = "JsVars in use after boot on Espruino 2v29 (4 clients, 6 meters, agent up, no plan yet)";
  const loaded = "JsVars in use on Espruino 2v29 with 16 clients, 32 requests scheduled by the server over a real broker";
  const bar = "<= 4,000 (goal 2,500)";
  const realloc = "one full local reallocation, 16 clients x 144 slots, 32 requests, on Espruino 2v29 (CPU time)";
  if (!bin) {
    line("device", boot, "not measured", "set ESPRUINO=/path/to/espruino");
    line("device", loaded, "not measured", `${bar}; set ESPRUINO=/path/to/espruino`);
    line("device", realloc, "not measured", "<= 300 ms (goal 100 ms); set ESPRUINO=/path/to/espruino");
    return;
  }
  try {
    const r = await reallocOnEspruino(bin);
    line("device", realloc + ` (wall clock ${median(r.times).toFixed(0)} ms; ${r.compared - r.mismatches.length} of ${r.compared} results as on Node)`, `${r.cpuMs.toFixed(0)} ms`, "<= 300 ms (goal 100 ms)", r.cpuMs <= 300 && r.mismatches.length === 0);
  } catch (e) {
    line("device", realloc, "run failed", "<= 300 ms (goal 100 ms)", false);
    console.error((e as Error).message);
  }
  try {
    line("device", boot, String(bootTwiceOnEspruino(bin, bundle)[1].usage), "-");
    const l = await loadedOnEspruino(bin, bundle);
    line("device", loaded + ` (packets planned in ${l.plannedSlots} of the next 144 slots)`, String(l.usage), bar, l.usage <= 4000);
    line("device", "the same, then as local server (R.local(true): the local scheduler's arrays and its own plan)", String(l.localUsage), bar, l.localUsage <= 4000);
  } catch (e) {
    line("device", loaded, "run failed", bar, false);
    console.error((e as Error).message);
  }
}

function clock(): void {
  const c = new VirtualClock();
  let ticks = 0;
  c.boardClock().setInterval(() => ticks++, 1000);
  const t0 = performance.now();
  c.advance(86_400_000);
  const ms = performance.now() - t0;
  line("sim", `virtual clock: one simulated day of 1 s timers (${ticks} ticks)`, `${ms.toFixed(0)} ms`, "well under 1 s", ms < 1000);
}

function metering(): void {
  const config = JSON.parse(readFileSync(join(root, "flash.config.json"), "utf8"));
  const board = new SimBoard();
  flashConfig(board.flash, config);
  let router: Router | undefined;
  board.start((hal) => {
    router = bootRouter(hal, { version: "bench" });
  });
  const pulses = 20_000;
  const opsBefore = board.flash.ops;
  const t0 = performance.now();
  for (let i = 0; i < pulses; i++) {
    board.pins.pulse("D34", 40);
    board.run(100);
  }
  const ms = performance.now() - t0;
  const s = router!.status();
  line("sim", `S0 metering on Node: ${pulses} pulses counted (${s.meters[0].wh} Wh)`, `${((pulses / ms) * 1000).toFixed(0)} pulses/s`, "-");
  const ops = board.flash.ops - opsBefore;
  line("reliability", `flash operations per Wh metered (save every ${config.meterSaveWh} Wh)`, (ops / s.meters[0].wh).toFixed(3), "-");
}

/**
 * A simulated week of household metering with power cuts at random
 * instants, every other one in the middle of a flash operation (torn writes
 * and cuts during compaction included): what each cut cost in metered Wh.
 */
function powerCuts(days: number, cuts: number): void {
  const config = JSON.parse(readFileSync(join(root, "flash.config.json"), "utf8"));
  const random = seededRandom(7);
  const board = new SimBoard();
  flashConfig(board.flash, config);
  const home = new SimulatedHome(board, config.meters, { dayOfYear: 172, annualKwh: 4000, kWp: 6, random });
  let router: Router | undefined;
  let worstLossWh = 0;
  let totalLossWh = 0;
  let boots = 0;
  board.start((hal) => {
    const before = router;
    router = bootRouter(hal, { version: "bench" });
    boots++;
    if (!before?.meter || !router.meter) return;
    // What the cut took: counted before it, minus what came back from flash.
    for (let i = 0; i < config.meters.length; i++) {
      const lost = before.meter.wh(i) - router.meter.wh(i);
      worstLossWh = Math.max(worstLossWh, lost);
      totalLossWh += Math.max(0, lost);
    }
  });
  const totalMs = days * 86_400_000;
  for (let c = 0; c < cuts; c++) {
    board.clock.worldClock().setTimeout(() => {
      if (c % 2 === 0) board.powerCut();
      else board.flash.cutAt(Math.floor(random() * 3), { tornBytes: Math.floor(random() * 24) });
    }, Math.floor(random() * totalMs));
  }
  const t0 = performance.now();
  board.run(totalMs);
  const ms = performance.now() - t0;
  const wipes = board.flash.wipes;
  line("reliability", `${days} simulated days, ${cuts} power cuts (${boots - 1} reboots, ${wipes} store wipes)`, `${(ms / 1000).toFixed(1)} s`, "-");
  // quality.md's bar for cuts is 0 accepted requests lost (test/integration/power-cuts.test.ts shows it);
  // at most one save threshold of metered energy per cut is its goal, shown here without a verdict.
  line("reliability", `metered energy lost by the worst cut (save every ${config.meterSaveWh} Wh)`, `${worstLossWh} Wh`, `- (goal <= ${config.meterSaveWh} Wh per cut)`);
  const trueWh = home.trueWh.reduce((a, b) => a + b, 0);
  line("reliability", "metered energy lost over all cuts, of all metered", `${totalLossWh} Wh`, `of ${Math.round(trueWh)} Wh`);
}

// --only sched: the scheduling section alone.
const only = process.argv.includes("--only") ? process.argv[process.argv.indexOf("--only") + 1] : undefined;
if (!only) {
  await deviceMemory(await device());
  clock();
  metering();
  powerCuts(7, 10_000);
  protocolBench();
  await dayBench("sunny-summer", 1);
  await dayBench("winter", 2);
}
if (!only || only === "sched") await schedBench();
