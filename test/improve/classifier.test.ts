import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import randn from '@stdlib/random-base-randn';
import { Classifier, type TrainingSet } from '../../src/improve/classifier';

const SIDE = 8;

/** Noisy 8x8 images of a horizontal bar (class 0), a vertical bar (1) or a diagonal (2). */
function bars(n: number, seed: number): TrainingSet {
  const normal = randn.factory({ seed });
  const x: number[][] = [];
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const c = i % 3;
    const at = 1 + (i % 6);
    const image = Array.from({ length: SIDE * SIDE }, () => 0.15 * normal());
    for (let k = 0; k < SIDE; k++) {
      const [r, col] = c === 0 ? [at, k] : c === 1 ? [k, at] : [k, k];
      image[r * SIDE + col] += 1;
    }
    x.push(image);
    y.push(c);
  }
  return { x, y };
}

const CNN = {
  image: { width: SIDE, height: SIDE },
  filters: [4],
  hidden: [8],
  epochs: 30,
  batchSize: 16,
  seed: 5
};

describe('classifier', () => {
  it('learns small images with a convolutional front end', async () => {
    const model = await Classifier.train(bars(60, 1), 3, CNN);
    const test = bars(90, 2);
    // Chance is 1/3.
    assert.ok(model.accuracy(test) > 0.7, `accuracy ${model.accuracy(test)}`);
    const probabilities = model.predictProbabilities(test.x.slice(0, 3));
    for (const row of probabilities) {
      assert.equal(row.length, 3);
      assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-4);
    }
    model.dispose();
  });

  it('trains the same model twice from the same seed, and a different one from another', async () => {
    const data = bars(30, 3);
    const probe = bars(6, 4).x;
    const first = await Classifier.train(data, 3, CNN);
    const again = await Classifier.train(data, 3, CNN);
    const other = await Classifier.train(data, 3, { ...CNN, seed: 6 });
    assert.deepEqual(again.predictProbabilities(probe), first.predictProbabilities(probe));
    assert.notDeepEqual(other.predictProbabilities(probe), first.predictProbabilities(probe));
    for (const model of [first, again, other]) model.dispose();
  });

  it('continues training from its weights into a new model, leaving itself unchanged', async () => {
    const few = bars(6, 5);
    const probe = bars(60, 6);
    const start = await Classifier.train(few, 3, CNN);
    const before = start.predictProbabilities(probe.x);
    const more = await start.continueTraining(bars(60, 7), { epochs: 10 });
    assert.deepEqual(start.predictProbabilities(probe.x), before);
    assert.equal(more.trainedOn, 60);
    assert.ok(more.accuracy(probe) > 0.7, `accuracy ${more.accuracy(probe)}`);
    // Continuing is reproducible too.
    const twice = await start.continueTraining(bars(60, 7), { epochs: 10 });
    assert.deepEqual(twice.predictProbabilities(probe.x), more.predictProbabilities(probe.x));
    for (const model of [start, more, twice]) model.dispose();
  });

  it('saves and loads a convolutional model that predicts the same and can train further', async () => {
    const model = await Classifier.train(bars(30, 8), 3, CNN);
    const dir = await model.save(join(mkdtempSync(join(tmpdir(), 'scanflow-cnn-')), 'model'));
    const loaded = await Classifier.load(dir);
    const probe = bars(9, 9).x;
    assert.deepEqual(loaded.predictProbabilities(probe), model.predictProbabilities(probe));
    assert.equal(loaded.trainedOn, 30);
    const further = await loaded.continueTraining(bars(30, 10), { epochs: 2 });
    assert.equal(further.trainedOn, 30);
    for (const m of [model, loaded, further]) m.dispose();
  });

  it('averages passes with dropout on when asked for several samples', async () => {
    const model = await Classifier.train(bars(30, 11), 3, { ...CNN, dropout: 0.5 });
    const probe = bars(6, 12).x;
    const plain = model.predictProbabilities(probe);
    const averaged = model.predictProbabilities(probe, { samples: 8 });
    assert.equal(averaged.length, 6);
    for (const row of averaged) {
      assert.equal(row.length, 3);
      assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-4);
    }
    assert.notDeepEqual(averaged, plain);
    // The plain prediction does not change: dropout is only on for the averaged passes.
    assert.deepEqual(model.predictProbabilities(probe), plain);
    // Nor does the averaged one: its masks depend on the pass, not on what the model did before
    // (the queries of an active learner repeat), and further training is not shifted by it.
    assert.deepEqual(model.predictProbabilities(probe, { samples: 8 }), averaged);
    const afterPredicting = await model.continueTraining(bars(30, 10), { epochs: 2 });
    const fresh = await Classifier.train(bars(30, 11), 3, { ...CNN, dropout: 0.5 });
    const withoutPredicting = await fresh.continueTraining(bars(30, 10), { epochs: 2 });
    assert.deepEqual(
      afterPredicting.predictProbabilities(probe),
      withoutPredicting.predictProbabilities(probe)
    );
    for (const m of [afterPredicting, fresh, withoutPredicting]) m.dispose();
    assert.throws(() => model.predictProbabilities(probe, { samples: 0 }), /at least 1/);
    model.dispose();
  });

  it("embeds samples in its last hidden layer, where a class's samples lie together", async () => {
    const model = await Classifier.train(bars(60, 13), 3, { ...CNN, dropout: 0.5 });
    const probe = bars(30, 14);
    const features = model.embed(probe.x);
    assert.equal(features.length, 30);
    for (const row of features) assert.equal(row.length, CNN.hidden[0]);
    // No dropout: the same features every time.
    assert.deepEqual(model.embed(probe.x), features);
    const distance = (a: ArrayLike<number>, b: ArrayLike<number>): number =>
      Math.hypot(...Array.from(a, (v, j) => v - b[j]));
    const within: number[] = [];
    const between: number[] = [];
    for (let i = 0; i < 30; i++) {
      for (let j = i + 1; j < 30; j++) {
        (probe.y[i] === probe.y[j] ? within : between).push(distance(features[i], features[j]));
      }
    }
    const mean = (values: number[]): number => values.reduce((a, b) => a + b, 0) / values.length;
    assert.ok(mean(within) < mean(between), `within ${mean(within)}, between ${mean(between)}`);
    assert.throws(() => model.embed([[1, 2, 3]]), /has 3 features but the model takes 64/);
    model.dispose();
    // Without hidden layers, the output layer reads the samples themselves.
    const linear = await Classifier.train(bars(9, 15), 3, { hidden: [], epochs: 1, seed: 2 });
    assert.deepEqual(
      linear.embed(probe.x.slice(0, 2)),
      probe.x.slice(0, 2).map(r => Float32Array.from(r))
    );
    linear.dispose();
  });

  it('refuses an image size that does not match the rows, naming the fix', async () => {
    await assert.rejects(
      Classifier.train(bars(6, 1), 3, { ...CNN, image: { width: 7, height: 8 } }),
      {
        name: 'TrainingDataError',
        message: /Rows have 64 features but the image is 7x8/
      }
    );
    await assert.rejects(
      Classifier.train(bars(6, 1), 3, { ...CNN, filters: [2, 2, 2, 2] }),
      /too small for 4 convolution blocks/
    );
  });
});
