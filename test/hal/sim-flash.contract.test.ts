// The Flash contract, run against the simulated flash on its own.
import { SimFlash } from "../../hal/sim/flash";
import { flashContract } from "./flash.contract";

flashContract("SimFlash, 256 KiB in 4 KiB pages", () => new SimFlash());
flashContract("SimFlash, 16 KiB in 1 KiB pages", () => new SimFlash({ sizeBytes: 16 * 1024, pageBytes: 1024 }));
