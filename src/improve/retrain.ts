/**
 * Retrain and compare, the seed's planner step: train a candidate on the reference data plus the
 * new labels, evaluate it and the current model on the same held-out set, log both to the tracker,
 * and promote the candidate in the model registry only when it is better, with the reason recorded
 * either way.
 */
import { Classifier, type ClassifierOptions, type TrainingSet } from './classifier';
import { TrainingDataError } from './errors';
import type { ModelRegistry } from './registry';
import type { LabelRecord } from './session';

export interface PromotionDecision {
  promote: boolean;
  reason: string;
}

/**
 * Promote only when the candidate's held-out accuracy beats the current model's by more than
 * `minGain` (default 0: any improvement; a tie keeps the current model).
 */
export function decidePromotion(
  currentAccuracy: number,
  candidateAccuracy: number,
  heldOut: number,
  minGain = 0
): PromotionDecision {
  const gain = candidateAccuracy - currentAccuracy;
  const figures = `candidate accuracy ${candidateAccuracy.toFixed(4)} vs current ${currentAccuracy.toFixed(4)} on the same ${heldOut} held-out samples (${gain >= 0 ? '+' : ''}${gain.toFixed(4)})`;
  if (gain > minGain) {
    return { promote: true, reason: `promoted: ${figures}` };
  }
  const needed = minGain > 0 ? `more than +${minGain}` : 'an improvement';
  return {
    promote: false,
    reason: `kept the current model: ${figures}; promotion needs ${needed}`
  };
}

/** The accepted labels of a session as a training set: skipped samples are left out. */
export function labelsAsTrainingSet(
  labels: readonly LabelRecord[],
  classes: readonly string[],
  featuresOf: (sampleId: string) => ArrayLike<number>
): TrainingSet {
  const given = labels.filter(l => l.label !== null);
  return {
    x: given.map(l => featuresOf(l.sample)),
    y: given.map(l => {
      const index = classes.indexOf(l.label as string);
      if (index < 0) {
        throw new TrainingDataError(
          `Label '${l.label}' of sample ${l.sample} is not one of the classes.`
        );
      }
      return index;
    })
  };
}

export interface PromotionTarget {
  registry: ModelRegistry;
  /** The registered model's name. */
  model: string;
  /** The alias that marks the model in service (default 'champion'). */
  alias?: string;
  /** Where the candidate is saved, as the registered version's source. */
  saveTo: string;
}

export interface RetrainOptions {
  /** The model in service. */
  current: Classifier;
  /** The data the current model was trained on. */
  reference: TrainingSet;
  /** The samples labeled in this round. */
  newLabels: TrainingSet;
  /** Samples neither model trains on; both are evaluated on exactly these. */
  heldOut: TrainingSet;
  classifier?: ClassifierOptions;
  /** Train the candidate on from this model's weights (`continueTraining`: fewer steps) instead
   *  of from fresh ones; `classifier` is then not read. */
  startFrom?: Classifier;
  /** Accuracy the candidate must gain to be promoted (default 0). */
  minGain?: number;
  /** Log both evaluations and promote through this registry. */
  target?: PromotionTarget;
}

export interface Comparison extends PromotionDecision {
  heldOut: number;
  current: { accuracy: number; runId?: string };
  candidate: { accuracy: number; trainedOn: number; newLabels: number; runId?: string };
  /** The candidate's registered version, when it was promoted through a registry. */
  version?: string;
}

/** Trains the candidate, compares, logs and (when better) promotes. The caller owns both models. */
export async function retrainAndCompare(
  options: RetrainOptions
): Promise<{ comparison: Comparison; candidate: Classifier }> {
  const { current, reference, newLabels, heldOut } = options;
  const training: TrainingSet = {
    x: [...reference.x, ...newLabels.x],
    y: [...Array.from(reference.y), ...Array.from(newLabels.y)]
  };
  const candidate = options.startFrom
    ? await options.startFrom.continueTraining(training)
    : await Classifier.train(training, current.classes, options.classifier);
  const currentAccuracy = current.accuracy(heldOut);
  const candidateAccuracy = candidate.accuracy(heldOut);
  const decision = decidePromotion(
    currentAccuracy,
    candidateAccuracy,
    heldOut.x.length,
    options.minGain
  );
  const comparison: Comparison = {
    ...decision,
    heldOut: heldOut.x.length,
    current: { accuracy: currentAccuracy },
    candidate: {
      accuracy: candidateAccuracy,
      trainedOn: training.x.length,
      newLabels: newLabels.x.length
    }
  };
  const target = options.target;
  if (target) {
    const { registry, model } = target;
    const alias = target.alias ?? 'champion';
    comparison.current.runId = await registry.logMetrics(
      `${model} current`,
      { accuracy: currentAccuracy },
      {
        params: {
          role: 'current',
          trained_on: String(current.trainedOn),
          held_out: String(heldOut.x.length)
        }
      }
    );
    comparison.candidate.runId = await registry.logMetrics(
      `${model} candidate`,
      { accuracy: candidateAccuracy },
      {
        params: {
          role: 'candidate',
          trained_on: String(training.x.length),
          new_labels: String(newLabels.x.length),
          held_out: String(heldOut.x.length)
        },
        tags: {
          'scanflow.promotion': decision.promote ? 'promoted' : 'kept current',
          'scanflow.promotion.reason': decision.reason
        }
      }
    );
    if (decision.promote) {
      const source = await candidate.save(target.saveTo);
      comparison.version = await registry.registerModelVersion(model, source, {
        runId: comparison.candidate.runId,
        description: decision.reason,
        tags: { 'scanflow.promotion.reason': decision.reason }
      });
      await registry.setAlias(model, alias, comparison.version);
    }
  }
  return { comparison, candidate };
}
