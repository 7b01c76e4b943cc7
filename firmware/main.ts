// The device entry point: the only place that picks the Espruino backend.
// The build (tools/build/build.ts) replaces SDEN_VERSION and
// SDEN_DEFAULT_CONFIG with the version and the validated flash.config.json
// (as JSON text, its lists of records as rows under their keys).

import { espruinoHal } from "../hal/espruino/hal";
import { bootRouter } from "./router";

declare const SDEN_VERSION: string;
declare const SDEN_DEFAULT_CONFIG: string;

bootRouter(espruinoHal(), { version: SDEN_VERSION, defaults: SDEN_DEFAULT_CONFIG });
