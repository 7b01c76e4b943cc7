import type { Flash } from "../../hal/types";

/** A Storage that takes writes to `name` and never gives the file back, as after a cut compaction. */
export function losingFile(flash: Flash, name: string): Flash {
  return {
    read: (n) => (n === name ? undefined : flash.read(n)),
    write: (n, d, o, sz) => (n === name ? undefined : flash.write(n, d, o, sz)),
    erase: (n) => flash.erase(n),
    eraseAll: () => flash.eraseAll(),
    list: (p) => flash.list(p),
    getFree: () => flash.getFree(),
    getTrash: () => flash.getTrash(),
    compact: () => flash.compact(),
  };
}
