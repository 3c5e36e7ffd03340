/**
 * Seeded pseudorandom numbers (Mersenne Twister, from @stdlib), so that splits, permutations and
 * simulations are reproducible.
 */
import randn from '@stdlib/random-base-randn';
import randu from '@stdlib/random-base-randu';

export type Uniform = () => number;

/** Uniform numbers in [0, 1) from a seeded generator. */
export function seededUniform(seed: number): Uniform {
  return randu.factory({ seed: seed >>> 0 || 1, name: 'mt19937' });
}

/** Standard normal numbers from a seeded generator. */
export function seededNormal(seed: number): () => number {
  return randn.factory({ seed: seed >>> 0 || 1, name: 'box-muller' });
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
