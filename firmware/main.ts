// The device entry point: the only place that picks the Espruino backend.
// The build (tools/build/build.ts) replaces SDEN_VERSION with the version.
// The board's configuration is no part of the bundle: the flasher writes it
// to flash (sden.cfg), so one build serves every board.

import { espruinoHal } from "../hal/espruino/hal";
import { bootRouter } from "./router";

declare const SDEN_VERSION: string;

bootRouter(espruinoHal(), { version: SDEN_VERSION });
