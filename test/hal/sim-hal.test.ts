import { SimBoard } from "../../hal/sim/board";
import type { Hal } from "../../hal/types";
import { flashContract } from "./flash.contract";
import { halContract } from "./hal.contract";

halContract("simulated board", () => {
  const board = new SimBoard();
  let hal: Hal | undefined;
  board.start((h) => (hal = h));
  return {
    hal: hal as Hal,
    advance: (ms) => board.run(ms),
    drive: (pin, level) => board.pins.drive(pin, level),
    levelOf: (pin) => board.pins.level(pin),
    printed: () => board.lines,
    global: (name) => board.globals[name],
    close: () => undefined,
  };
});

flashContract("simulated board", () => {
  const board = new SimBoard();
  board.start(() => undefined);
  return board.hal().flash;
});
