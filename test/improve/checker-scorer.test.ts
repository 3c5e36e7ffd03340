import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AutoencoderDrift } from '../../src/check/autoencoder-detector';
import { reconstructionErrorSampling } from '../../src/improve/strategies';

interface MnistDigit {
  length: number;
  get(index: number): number[];
}
const mnist = createRequire(join(__dirname, '..', '..', 'package.json'))('mnist') as MnistDigit[];

/** `perClass` real digits of each class, starting at `offset` within the class. */
function digits(perClass: number, offset: number): number[][] {
  return Array.from({ length: 10 }, (_, d) =>
    Array.from({ length: perClass }, (_, i) => mnist[d].get(offset + i))
  ).flat();
}

describe("the checker's autoencoder as the reconstruction-error scorer", () => {
  it('queries the samples unlike the reference (inverted digits) before ordinary ones', async () => {
    const detector = await AutoencoderDrift.fit(digits(30, 0), {
      epochs: 15,
      latentDim: 16,
      sampleFalsePositiveRate: 0.25,
      seed: 4
    });
    // A pool of 40 ordinary digits and, at positions 40..47, 8 digits with black and white swapped.
    const ordinary = digits(4, 100);
    const inverted = digits(1, 200)
      .slice(0, 8)
      .map(image => image.map(v => 1 - v));
    const pool = [...ordinary, ...inverted];
    const query = await reconstructionErrorSampling(pool, rows => detector.score(rows), 8);
    assert.deepEqual(
      [...query.indices].sort((a, b) => a - b),
      [40, 41, 42, 43, 44, 45, 46, 47]
    );
    assert.ok(query.scores.every(s => s > detector.sampleThreshold));
    detector.dispose();
  });
});
