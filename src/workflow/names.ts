/**
 * Names of steps, groups and workflows become parts of Docker container, network and compose
 * service names, and the "." joins them into qualified ids, so they are kept to a safe alphabet.
 */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;

export const NAME_RULE = "use 1 to 63 letters, digits, '-' or '_', starting with a letter or digit";

export function isValidName(name: string): boolean {
  return NAME_PATTERN.test(name);
}

/** The closest valid name, for suggestions in error messages (and for exporters). */
export function suggestName(name: string): string {
  const cleaned = name
    .trim()
    .replace(/[^A-Za-z0-9_-]+/g, '-')
    .replace(/^[-_]+/, '')
    .replace(/-+$/, '')
    .slice(0, 63);
  return cleaned || 'step';
}

/** A qualified id: the names from the root workflow down, joined with dots. */
export function qualify(parent: string, name: string): string {
  return parent ? `${parent}.${name}` : name;
}
