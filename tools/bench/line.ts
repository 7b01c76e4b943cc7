// One line of the benchmark's output: area, figure, value, the bar beside it, and whether it meets the bar.

export function line(area: string, figure: string, value: string, bar: string, ok?: boolean): void {
  const verdict = ok === undefined ? "" : ok ? "  ok" : "  BELOW BAR";
  console.log(`${area.padEnd(12)} ${figure.padEnd(58)} ${value.padStart(14)}   bar ${bar}${verdict}`);
}
