/**
 * Seeded pseudorandom numbers (Mersenne Twister, from @stdlib), so that splits, permutations and
 * simulations are reproducible.
 */
import type randn from '@stdlib/random-base-randn';
import type randu from '@stdlib/random-base-randu';

// The generators are loaded on first use (together a tenth of a second): importing the package
// should not cost that to those who never draw a number.
/* eslint-disable @typescript-eslint/no-require-imports */
const uniformGenerator = (): typeof randu => require('@stdlib/random-base-randu') as typeof randu;
const normalGenerator = (): typeof randn => require('@stdlib/random-base-randn') as typeof randn;
/* eslint-enable @typescript-eslint/no-require-imports */

export type Uniform = () => number;

/** Uniform numbers in [0, 1) from a seeded generator. */
export function seededUniform(seed: number): Uniform {
  return uniformGenerator().factory({ seed: seed >>> 0 || 1, name: 'mt19937' });
}

/** Standard normal numbers from a seeded generator. */
export function seededNormal(seed: number): () => number {
  return normalGenerator().factory({ seed: seed >>> 0 || 1, name: 'box-muller' });
}

/** The integers 0..n-1 in random order (Fisher-Yates). */
export function shuffledIndices(n: number, uniform: Uniform): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(uniform() * (i + 1));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}
