/**
 * Per-feature min-max scaling fitted on the reference, so that reference values fall in [0, 1]
 * (what a sigmoid-output autoencoder can reproduce). Values outside the reference's range map
 * outside [0, 1] on purpose: such samples should reconstruct badly.
 */
import type { Matrix } from './data';

export interface MinMaxScalerState {
  min: number[];
  range: number[];
}

export class MinMaxScaler {
  constructor(readonly state: MinMaxScalerState) {}

  static fit(rows: Matrix): MinMaxScaler {
    const width = rows[0].length;
    const min = new Array<number>(width).fill(Infinity);
    const max = new Array<number>(width).fill(-Infinity);
    for (const row of rows) {
      for (let j = 0; j < width; j++) {
        if (row[j] < min[j]) min[j] = row[j];
        if (row[j] > max[j]) max[j] = row[j];
      }
    }
    // A constant feature keeps its scale (range 1) so that any change in it shows.
    const range = min.map((lo, j) => (max[j] > lo ? max[j] - lo : 1));
    return new MinMaxScaler({ min, range });
  }

  /** The rows scaled, as one flat Float32Array (row-major), ready for a tensor. */
  transform(rows: Matrix): Float32Array {
    const { min, range } = this.state;
    const width = min.length;
    const out = new Float32Array(rows.length * width);
    rows.forEach((row, i) => {
      for (let j = 0; j < width; j++) out[i * width + j] = (row[j] - min[j]) / range[j];
    });
    return out;
  }
}
