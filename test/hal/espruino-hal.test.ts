// The Espruino backend, run in Node on a stand-in for the Espruino globals.
import { espruinoHalWith } from "../../hal/espruino/hal";
import { installEspruinoStandin } from "../support/espruino-standin";
import { flashContract } from "./flash.contract";
import { halContract } from "./hal.contract";

halContract("Espruino backend", () => {
  const st = installEspruinoStandin();
  const hal = espruinoHalWith(st.modules);
  return {
    hal,
    advance: (ms) => st.board.clock.advance(ms),
    drive: (pin, level) => st.board.pins.drive(pin, level),
    levelOf: (pin) => st.board.pins.level(pin),
    printed: () => st.printed,
    global: (name) => (globalThis as unknown as { [k: string]: unknown })[name],
    close: () => st.uninstall(),
  };
});

// The stand-in stays installed: the backend reads E and Storage at each call.
flashContract("Espruino backend", () => {
  return espruinoHalWith(installEspruinoStandin().modules).flash;
});
