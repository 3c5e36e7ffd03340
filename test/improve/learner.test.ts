import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Classifier, type TrainingSet } from '../../src/improve/classifier';
import { ActiveLearner } from '../../src/improve/learner';
import { SimulatedOracle } from '../../src/improve/oracle';
import type { LabelingSession } from '../../src/improve/session';
import { rankedBatch } from '../../src/improve/strategies';
import { blobs as threeBlobs } from './fixtures/blobs';

const CLASSES = ['red', 'green', 'blue'];

/** The blobs of these tests: separation 1.5. */
function blobs(n: number, seed: number): TrainingSet {
  return threeBlobs(n, seed, 1.5);
}

const SMALL = { hidden: [16], epochs: 40, batchSize: 16, seed: 3 };

/** The pool indices a session holds, in query order (from the default ids, `pool-<index>`). */
function poolIndices(session: LabelingSession): number[] {
  return session.samples.map(sample => Number(sample.id.replace('pool-', '')));
}

describe('active learner: query, label, teach', () => {
  it('runs a round end to end through a labeling session and the simulated oracle', async () => {
    const pool = blobs(120, 9);
    const ids = pool.x.map((_, i) => `p${i}`);
    const truth = new Map(ids.map((id, i) => [id, CLASSES[pool.y[i]]]));
    const learner = await ActiveLearner.start({
      classes: CLASSES,
      pool: pool.x,
      poolIds: ids,
      labeled: blobs(6, 1),
      heldOut: blobs(300, 2),
      strategy: 'margin',
      dropoutPasses: 4,
      classifier: SMALL
    });
    const root = mkdtempSync(join(tmpdir(), 'scanflow-learner-'));

    const session = await learner.query(30, join(root, 'round-1'));
    assert.equal(session.samples.length, 30);
    assert.equal(learner.poolSize, 90);
    for (const sample of session.samples) {
      assert.ok(CLASSES.includes(sample.guess ?? ''));
      assert.equal(sample.probabilities?.length, 3);
      assert.ok(typeof sample.score === 'number' && sample.score >= 0 && sample.score <= 1);
    }
    // Margin sampling hands over the most ambiguous samples first.
    const scores = session.samples.map(s => s.score as number);
    assert.deepEqual(
      scores,
      [...scores].sort((a, b) => b - a)
    );

    await assert.rejects(learner.teach(session), /has labels for 0 of its 30 samples/);
    const answering = setTimeout(() => SimulatedOracle.fromMap(truth).answer(session.folder), 20);
    await session.complete({ timeoutMs: 10_000 });
    clearTimeout(answering);

    const comparison = await learner.teach(session);
    assert.equal(learner.labeledCount, 36);
    assert.equal(comparison.candidate.trainedOn, 36);
    assert.equal(comparison.heldOut, 300);
    assert.equal(comparison.promote, comparison.candidate.accuracy > comparison.current.accuracy);
    if (comparison.promote) assert.equal(learner.champion, learner.model);
    await assert.rejects(learner.teach(session), /taught already/);

    // Bad requests change nothing.
    await assert.rejects(learner.query(91, join(root, 'too-many')), {
      name: 'QueryError',
      message: /k is 91 but the pool has only 90 samples/
    });
    assert.equal(learner.poolSize, 90);
    assert.equal(existsSync(join(root, 'too-many')), false);
    learner.dispose();
  });

  it("with select 'power' draws a batch instead of taking the k best, the same one each run (entropy's default)", async () => {
    const pool = blobs(200, 9);
    const root = mkdtempSync(join(tmpdir(), 'scanflow-learner-'));
    const picks = async (
      select: 'top' | 'power' | undefined,
      folder: string
    ): Promise<number[]> => {
      const learner = await ActiveLearner.start({
        classes: CLASSES,
        pool: pool.x,
        labeled: blobs(6, 1),
        heldOut: blobs(30, 2),
        strategy: 'entropy',
        select,
        classifier: SMALL
      });
      const session = await learner.query(10, join(root, folder));
      learner.dispose();
      return poolIndices(session);
    };
    const top = await picks('top', 'top');
    const first = await picks('power', 'power-1');
    const second = await picks('power', 'power-2');
    // Seeded by default (from the classifier's seed): the same draw on every run.
    assert.deepEqual(second, first);
    // Entropy draws its batches unless told otherwise (DEFAULT_SELECT).
    assert.deepEqual(await picks(undefined, 'default'), first);
    assert.notDeepEqual(
      [...first].sort((a, b) => a - b),
      [...top].sort((a, b) => a - b)
    );
    assert.equal(new Set(first).size, 10);
  });

  it("ranked batch measures diversity in the model's own features, not in the raw rows", async () => {
    const pool = blobs(200, 9);
    const labeled = blobs(6, 1);
    const learner = await ActiveLearner.start({
      classes: CLASSES,
      pool: pool.x,
      labeled,
      heldOut: blobs(30, 2),
      strategy: 'ranked-batch',
      classifier: SMALL
    });
    const session = await learner.query(10, join(mkdtempSync(join(tmpdir(), 'scanflow-')), 'r1'));
    const picked = poolIndices(session);
    const model = learner.model;
    const probabilities = model.predictProbabilities(pool.x);
    const inModelSpace = rankedBatch(probabilities, model.embed(pool.x), 10, {
      labeled: model.embed(labeled.x)
    });
    const inRawSpace = rankedBatch(probabilities, pool.x, 10, { labeled: labeled.x });
    assert.deepEqual(picked, inModelSpace.indices);
    assert.notDeepEqual(picked, inRawSpace.indices);
    learner.dispose();
  });

  it("trains each candidate from new weights, or with retrain 'continue' on from the latest model's", async () => {
    const pool = blobs(120, 9);
    const truth = new Map(pool.x.map((_, i) => [`pool-${i}`, CLASSES[pool.y[i]]]));
    const labeled = blobs(6, 1);
    const heldOut = blobs(60, 2);
    const probe = blobs(30, 4).x;
    const root = mkdtempSync(join(tmpdir(), 'scanflow-learner-'));
    const base = { classes: CLASSES, pool: pool.x, labeled, heldOut, strategy: 'margin' as const };
    /** One round; returns what the learner now predicts for the probe, and what the query
     *  model would predict trained on from its weights, or from fresh ones. */
    const round = async (retrain?: 'fresh' | 'continue') => {
      const learner = await ActiveLearner.start({ ...base, classifier: SMALL, retrain });
      const session = await learner.query(10, join(root, retrain ?? 'default'));
      await SimulatedOracle.fromMap(truth).answer(session.folder);
      // teach adds them in the order of the query, whatever the order of labeling.
      const picked = poolIndices(session);
      const everything = {
        x: [...labeled.x, ...picked.map(i => pool.x[i])],
        y: [...Array.from(labeled.y), ...picked.map(i => pool.y[i])]
      };
      const continued = await learner.model.continueTraining(everything);
      const fresh = await Classifier.train(everything, 3, SMALL);
      const comparison = await learner.teach(session);
      assert.equal(comparison.candidate.trainedOn, 16);
      const predicted = {
        learner: learner.model.predictProbabilities(probe),
        continued: continued.predictProbabilities(probe),
        fresh: fresh.predictProbabilities(probe)
      };
      for (const model of [learner, continued, fresh]) model.dispose();
      return predicted;
    };
    const byDefault = await round();
    assert.deepEqual(byDefault.learner, byDefault.fresh);
    assert.deepEqual(await round('fresh'), byDefault);
    const continued = await round('continue');
    assert.deepEqual(continued.learner, continued.continued);
    assert.notDeepEqual(continued.learner, continued.fresh);

    await assert.rejects(
      ActiveLearner.start({ ...base, retrain: 'warm' as 'continue' }),
      /Unknown retrain 'warm': use 'fresh'/
    );
  });

  it('starts from a model already in service instead of training one', async () => {
    const labeled = blobs(6, 1);
    const inService = await Classifier.train(labeled, 3, SMALL);
    const pool = blobs(12, 9);
    const learner = await ActiveLearner.start({
      classes: CLASSES,
      pool: pool.x,
      labeled,
      heldOut: blobs(6, 2),
      strategy: 'margin',
      classifier: SMALL,
      model: inService
    });
    assert.equal(learner.model, inService);
    assert.equal(learner.champion, inService);
    const session = await learner.query(
      3,
      join(mkdtempSync(join(tmpdir(), 'scanflow-learner-')), 'r1')
    );
    const guesses = inService.predictProbabilities(pool.x);
    for (const sample of session.samples) {
      const index = Number(sample.id.slice('pool-'.length));
      assert.deepEqual(
        sample.probabilities,
        Array.from(guesses[index], v => Number(v.toFixed(4)))
      );
    }
    learner.dispose();
  });

  it('refuses an unknown strategy, and reconstruction-error without a scorer', async () => {
    const base = {
      classes: CLASSES,
      pool: blobs(10, 3).x,
      labeled: blobs(6, 1),
      heldOut: blobs(6, 2),
      classifier: SMALL
    };
    await assert.rejects(
      ActiveLearner.start({ ...base, strategy: 'smallest-margin' as 'margin' }),
      /Unknown strategy 'smallest-margin': use one of least-confidence, margin, entropy/
    );
    const learner = await ActiveLearner.start({ ...base, strategy: 'reconstruction-error' });
    await assert.rejects(
      learner.query(2, join(mkdtempSync(join(tmpdir(), 'scanflow-')), 'x')),
      /needs a scorer/
    );
    assert.equal(learner.poolSize, 10);
    learner.dispose();
  });
});
