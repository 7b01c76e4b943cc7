// A router on the simulated board for the pairing page's tests: the
// project's configuration (flash.config.json) without a broker, so the
// router runs offline and only its console matters, with one relay channel
// and one sub-meter left free for the technician to pair ("spare" on D23
// with a 2 s minimum on time, so an identify click is short, and
// "pump-meter" on D21).

import type { RouterConfig } from "../../firmware/config";
import { bootRouter } from "../../firmware/router";
import { SimBoard } from "../../hal/sim/board";
import { flashConfig, projectConfig } from "../../tools/sim/world";

export const SPARE_RELAY_PIN = "D23";
export const PUMP_METER_PIN = "D21";

export function pairingConfig(): RouterConfig {
  const c = projectConfig();
  delete c.broker;
  delete (c as { flash?: unknown }).flash;
  c.relays.push({ name: "spare", pin: SPARE_RELAY_PIN, ratedW: 1000, bootOn: false, minOnS: 2, minOffS: 2 });
  c.meters.push({ name: "pump-meter", pin: PUMP_METER_PIN, pulsesPerKwh: 1000, role: "sub", minWidthMs: 30, debounceMs: 5 });
  return c;
}

/** The router booted on a fresh simulated board; at every boot again (R.pair and R.unpair restart it). */
export function pairingBoard(config: RouterConfig = pairingConfig()): SimBoard {
  const board = new SimBoard();
  flashConfig(board.flash, config);
  board.start((hal) => {
    bootRouter(hal, { version: "0.6.0+pairing-test" });
  });
  return board;
}
