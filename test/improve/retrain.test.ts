import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Classifier, type TrainingSet } from '../../src/improve/classifier';
import { trackerRegistry, type ModelRegistry } from '../../src/improve/registry';
import { decidePromotion, labelsAsTrainingSet, retrainAndCompare } from '../../src/improve/retrain';
import { LabelingSession } from '../../src/improve/session';
import { startTracker, type RunningTracker } from '../../src/track/embedded';
import { RestStore } from '../../src/track/rest-store';
import { blobs as threeBlobs } from './fixtures/blobs';

/** The blobs of these tests: separation 1.2. */
function blobs(n: number, seed: number): TrainingSet {
  return threeBlobs(n, seed, 1.2);
}

const SMALL = { hidden: [16], epochs: 60, batchSize: 16, seed: 3 };

describe('promotion decision', () => {
  it('promotes only a strictly better candidate, and says why', () => {
    const better = decidePromotion(0.8, 0.85, 500);
    assert.equal(better.promote, true);
    assert.match(
      better.reason,
      /promoted: candidate accuracy 0.8500 vs current 0.8000 on the same 500 held-out samples \(\+0.0500\)/
    );
    const tie = decidePromotion(0.8, 0.8, 500);
    assert.equal(tie.promote, false);
    assert.match(tie.reason, /kept the current model: .*promotion needs an improvement/);
    assert.equal(decidePromotion(0.8, 0.7, 500).promote, false);
    const small = decidePromotion(0.8, 0.805, 500, 0.01);
    assert.equal(small.promote, false);
    assert.match(small.reason, /needs more than \+0.01/);
  });
});

describe('retrain and compare against the real tracker server', () => {
  let tracker: RunningTracker;
  let registry: ModelRegistry;
  let client: RestStore;
  const heldOut = blobs(300, 2);
  const reference = blobs(6, 1);
  let current: Classifier;

  before(async () => {
    tracker = await startTracker();
    client = new RestStore(tracker.url);
    registry = trackerRegistry(client, { experiment: 'improver-test' });
    current = await Classifier.train(reference, 3, SMALL);
  });
  after(async () => {
    current.dispose();
    await tracker.close();
  });

  it('promotes a candidate that learned from new labels, logging both evaluations', async () => {
    const saveTo = join(mkdtempSync(join(tmpdir(), 'scanflow-model-')), 'candidate');
    const { comparison, candidate } = await retrainAndCompare({
      current,
      reference,
      newLabels: blobs(240, 5),
      heldOut,
      classifier: SMALL,
      target: { registry, model: 'blobs', saveTo }
    });
    assert.ok(comparison.candidate.accuracy > comparison.current.accuracy);
    assert.equal(comparison.promote, true);
    assert.equal(comparison.candidate.trainedOn, 246);
    assert.equal(comparison.version, '1');
    assert.equal(await registry.aliasedVersion('blobs', 'champion'), '1');

    const version = await client.getModelVersion('blobs', '1');
    assert.equal(version.source, saveTo);
    assert.equal(version.run_id, comparison.candidate.runId);
    assert.match(version.description ?? '', /^promoted: /);
    const run = await client.getRun(comparison.candidate.runId as string);
    assert.equal(
      run.data.metrics.find(m => m.key === 'accuracy')?.value,
      comparison.candidate.accuracy
    );
    assert.equal(run.data.tags.find(t => t.key === 'scanflow.promotion')?.value, 'promoted');
    const old = await client.getRun(comparison.current.runId as string);
    assert.equal(
      old.data.metrics.find(m => m.key === 'accuracy')?.value,
      comparison.current.accuracy
    );

    // The saved candidate is the model that was evaluated.
    const loaded = await Classifier.load(saveTo);
    assert.equal(loaded.accuracy(heldOut), comparison.candidate.accuracy);
    loaded.dispose();
    candidate.dispose();
  });

  it('keeps the champion when the candidate is worse, with the reason on the candidate run', async () => {
    const strong = await Classifier.train(blobs(240, 5), 3, SMALL);
    // A careless labeler: the new labels are shifted by one class.
    const wrong = blobs(240, 7);
    const { comparison, candidate } = await retrainAndCompare({
      current: strong,
      reference,
      newLabels: { x: wrong.x, y: Array.from(wrong.y, c => (c + 1) % 3) },
      heldOut,
      classifier: SMALL,
      target: { registry, model: 'blobs', saveTo: join(tmpdir(), 'never-written') }
    });
    assert.ok(comparison.candidate.accuracy < comparison.current.accuracy);
    assert.equal(comparison.promote, false);
    assert.equal(comparison.version, undefined);
    assert.equal(await registry.aliasedVersion('blobs', 'champion'), '1');
    const versions = await client.searchModelVersions({ filter: "name = 'blobs'" });
    assert.equal(versions.items.length, 1);
    const run = await client.getRun(comparison.candidate.runId as string);
    const tags = Object.fromEntries(run.data.tags.map(t => [t.key, t.value]));
    assert.equal(tags['scanflow.promotion'], 'kept current');
    assert.match(tags['scanflow.promotion.reason'], /^kept the current model: candidate accuracy/);
    strong.dispose();
    candidate.dispose();
  });
});

describe('labels of a session as training data', () => {
  it('maps class names to indices and leaves skipped samples out', () => {
    const session = LabelingSession.create(join(mkdtempSync(join(tmpdir(), 'scanflow-ts-')), 's'), {
      classes: ['a', 'b'],
      samples: [{ id: 'p0' }, { id: 'p1' }, { id: 'p2' }]
    });
    session.label('p0', 'b');
    session.label('p1', null);
    session.label('p2', 'a');
    const features: Record<string, number[]> = { p0: [0], p1: [1], p2: [2] };
    const set = labelsAsTrainingSet(session.labels, session.classes, id => features[id]);
    assert.deepEqual(set, { x: [[0], [2]], y: [1, 0] });
  });
});
