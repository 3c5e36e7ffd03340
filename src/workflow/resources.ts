const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  ki: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mi: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gi: 1024 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1024 ** 4,
  ti: 1024 ** 4,
  tib: 1024 ** 4
};

/**
 * Bytes of a memory size: a number of bytes, or a string such as "512m", "2g", "1.5GiB"
 * (binary units, as Docker reads them). Returns undefined when it is not a size.
 */
export function parseMemory(size: number | string): number | undefined {
  if (typeof size === 'number') {
    return Number.isFinite(size) ? size : undefined;
  }
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(size);
  if (!match) {
    return undefined;
  }
  const unit = UNITS[match[2].toLowerCase()];
  return unit === undefined ? undefined : Math.round(Number(match[1]) * unit);
}
