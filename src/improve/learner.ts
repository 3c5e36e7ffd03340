/**
 * The active learner, after modAL's: it only composes a model, a query strategy and the labeled
 * set. One round is `query` (pick k pool samples, open a labeling session on them) then, once they
 * are labeled, `teach` (retrain on everything labeled, compare with the champion on the held-out
 * set, promote when better).
 *
 *   const learner = await ActiveLearner.start({ classes, pool, labeled, heldOut, strategy: 'margin' });
 *   const session = await learner.query(10, 'sessions/round-1');
 *   show(session);
 *   await session.complete();
 *   const comparison = await learner.teach(session, { target });
 */
import { argmax, Classifier, type ClassifierOptions, type TrainingSet } from './classifier';
import { ImproverError, QueryError, SessionError } from './errors';
import type { GreyImage } from './images';
import {
  labelsAsTrainingSet,
  retrainAndCompare,
  type Comparison,
  type PromotionTarget
} from './retrain';
import { seededUniform } from '../check/random';
import { LabelingSession } from './session';
import {
  entropySampling,
  leastConfidence,
  marginSampling,
  randomSampling,
  rankedBatch,
  reconstructionErrorSampling,
  type AnomalyScorer,
  type Matrix,
  type Probabilities,
  type Query,
  type SelectOptions,
  type Uniform
} from './strategies';

export type StrategyName =
  'least-confidence' | 'margin' | 'entropy' | 'ranked-batch' | 'reconstruction-error' | 'random';

/** What a strategy may look at: the unlabeled pool, the model's probabilities for it, the
 *  labeled samples' features, the model's own features, an anomaly scorer, a random source. */
export interface QueryInputs {
  pool: Matrix;
  probabilities: Probabilities;
  labeled: Matrix;
  /** The model's features of samples (`Classifier.embed`: its last hidden layer), in which
   *  ranked batch measures diversity; without it, ranked batch measures it on the raw rows. */
  embed?: (rows: Matrix) => Matrix;
  scorer?: AnomalyScorer;
  uniform?: Uniform;
  /** How the uncertainty strategies make a batch of their scores (default DEFAULT_SELECT's). */
  select?: SelectOptions['select'];
}

/** The one interface every strategy is used through: (inputs, k) -> query. */
export type QueryStrategy = (inputs: QueryInputs, k: number) => Query | Promise<Query>;

/** How each uncertainty strategy makes a batch unless told otherwise, from the MNIST benchmark
 *  (src/improve/README.md, 10 seeds): power draws needed fewer labels than the k best for entropy
 *  and about as many for least confidence (fewer when each round trained little); for margin the
 *  k best needed fewer. */
export const DEFAULT_SELECT = {
  'least-confidence': 'power',
  margin: 'top',
  entropy: 'power'
} as const satisfies Record<string, NonNullable<SelectOptions['select']>>;

function selectOptions(inputs: QueryInputs, strategy: keyof typeof DEFAULT_SELECT): SelectOptions {
  return { select: inputs.select ?? DEFAULT_SELECT[strategy], uniform: inputs.uniform };
}

export const STRATEGIES: Record<StrategyName, QueryStrategy> = {
  'least-confidence': (inputs, k) =>
    leastConfidence(inputs.probabilities, k, selectOptions(inputs, 'least-confidence')),
  margin: (inputs, k) => marginSampling(inputs.probabilities, k, selectOptions(inputs, 'margin')),
  entropy: (inputs, k) =>
    entropySampling(inputs.probabilities, k, selectOptions(inputs, 'entropy')),
  'ranked-batch': (inputs, k) => {
    const features = inputs.embed ?? ((rows: Matrix) => rows);
    return rankedBatch(inputs.probabilities, features(inputs.pool), k, {
      labeled: inputs.labeled.length > 0 ? features(inputs.labeled) : []
    });
  },
  'reconstruction-error': (inputs, k) => {
    if (!inputs.scorer) {
      throw new QueryError(
        "The 'reconstruction-error' strategy needs a scorer: pass scorer: rows => detector.score(rows) (for example the checker's AutoencoderDrift)."
      );
    }
    return reconstructionErrorSampling(inputs.pool, inputs.scorer, k);
  },
  random: (inputs, k) => randomSampling(inputs.pool.length, k, inputs.uniform)
};

export interface ActiveLearnerOptions {
  /** Class names; class index i of the training sets is classes[i]. */
  classes: readonly string[];
  /** Unlabeled samples to query from. */
  pool: Matrix;
  /** Ids of the pool samples (default `pool-<index>`), used as sample ids in sessions. */
  poolIds?: readonly string[];
  /** The labeled reference data the first model trains on (every retraining starts from it). */
  labeled: TrainingSet;
  /** A model already trained on `labeled` (e.g. the one in service) to start from instead of
   *  training one; the learner owns it from then on and disposes it when it is replaced. */
  model?: Classifier;
  /** Samples never trained on, to compare models. */
  heldOut: TrainingSet;
  strategy: StrategyName | QueryStrategy;
  scorer?: AnomalyScorer;
  /** How least confidence, margin and entropy make a batch of their scores: 'top' takes the k
   *  highest, 'power' draws k favouring high scores (default: the strategy's DEFAULT_SELECT,
   *  measured on MNIST). */
  select?: SelectOptions['select'];
  /** Random source of the random strategy and of 'power' draws (default: seeded with the
   *  classifier's seed, so that a run of queries repeats). */
  uniform?: Uniform;
  /** Show samples as grey images of this size (for example 28x28 for MNIST). */
  image?: { width: number; height: number; max?: 1 | 255 };
  classifier?: ClassifierOptions;
  /** How `teach` trains each candidate on the reference data plus every label so far: 'fresh'
   *  (default) from new weights with `classifier`'s settings, so that champion and candidate
   *  differ only by the data they saw; 'continue' from the latest model's weights, with about a
   *  third of the steps. On MNIST from 20 labels (README.md) continuing needed fewer labels for
   *  random and for every strategy; in the demo, where 2,000 reference digits outweigh 120 new
   *  labels, training afresh gained more. */
  retrain?: 'fresh' | 'continue';
  /** Average this many passes with dropout on for the strategies' probabilities (Monte Carlo
   *  dropout; default 1, one plain pass). 10 made every uncertainty strategy need fewer labels
   *  on MNIST (see the benchmark below, in README.md). */
  dropoutPasses?: number;
}

export class ActiveLearner {
  private readonly labeledX: Array<ArrayLike<number>>;
  private readonly labeledY: number[];
  /** Pool indices not yet queried. */
  private unqueried: number[];
  private readonly ids: readonly string[];
  private readonly indexOfId = new Map<string, number>();
  private readonly sessions = new Map<string, number[]>();
  private readonly uniform: Uniform;

  private constructor(
    private readonly options: ActiveLearnerOptions,
    /** The latest model: it queries the next samples. */
    private latest: Classifier,
    /** The model in service: each candidate is compared with it. */
    private best: Classifier
  ) {
    this.uniform = options.uniform ?? seededUniform(options.classifier?.seed ?? 1);
    this.labeledX = [...options.labeled.x];
    this.labeledY = Array.from(options.labeled.y);
    this.unqueried = options.pool.map((_, i) => i);
    this.ids = options.poolIds ?? options.pool.map((_, i) => `pool-${i}`);
    if (this.ids.length !== options.pool.length) {
      throw new QueryError(
        `There are ${this.ids.length} pool ids for ${options.pool.length} pool samples: pass one id per sample.`
      );
    }
    this.ids.forEach((id, i) => this.indexOfId.set(id, i));
  }

  /** Trains the first model on the labeled reference (or starts from `options.model`). */
  static async start(options: ActiveLearnerOptions): Promise<ActiveLearner> {
    if (options.retrain !== undefined && !['fresh', 'continue'].includes(options.retrain)) {
      throw new ImproverError(
        `Unknown retrain '${String(options.retrain)}': use 'fresh' (new weights each round) or 'continue' (from the latest model's weights).`
      );
    }
    if (typeof options.strategy === 'string' && !(options.strategy in STRATEGIES)) {
      throw new QueryError(
        `Unknown strategy '${options.strategy}': use one of ${Object.keys(STRATEGIES).join(', ')}, or a function (inputs, k) => query.`
      );
    }
    const model =
      options.model ??
      (await Classifier.train(options.labeled, options.classes.length, options.classifier));
    return new ActiveLearner(options, model, model);
  }

  /** The model that makes the queries (trained on every label so far). */
  get model(): Classifier {
    return this.latest;
  }
  /** The model in service (the last one promoted). */
  get champion(): Classifier {
    return this.best;
  }
  get labeledCount(): number {
    return this.labeledY.length;
  }
  get poolSize(): number {
    return this.unqueried.length;
  }

  /** Picks k pool samples with the strategy and opens a labeling session on them in `folder`. */
  async query(k: number, folder: string, options: { id?: string } = {}): Promise<LabelingSession> {
    const rows = this.unqueried.map(i => this.options.pool[i]);
    const probabilities = this.latest.predictProbabilities(rows, {
      samples: this.options.dropoutPasses
    });
    const strategy =
      typeof this.options.strategy === 'string'
        ? STRATEGIES[this.options.strategy]
        : this.options.strategy;
    const query = await strategy(
      {
        pool: rows,
        probabilities,
        labeled: this.labeledX,
        embed: features => this.latest.embed(features),
        scorer: this.options.scorer,
        uniform: this.uniform,
        select: this.options.select
      },
      k
    );
    const chosen = query.indices.map(position => this.unqueried[position]);
    const image = this.options.image;
    const session = LabelingSession.create(folder, {
      id: options.id,
      classes: this.options.classes,
      samples: query.indices.map((position, n) => {
        const index = this.unqueried[position];
        const p = probabilities[position];
        const values = this.options.pool[index];
        return {
          id: this.ids[index],
          guess: this.options.classes[argmax(p)],
          score: query.scores[n],
          probabilities: Array.from(p, v => Number(v.toFixed(4))),
          image: image ? ({ ...image, values } satisfies GreyImage) : undefined,
          row: image ? undefined : Object.fromEntries(Array.from(values, (v, j) => [`x${j}`, v]))
        };
      })
    });
    const taken = new Set(chosen);
    this.unqueried = this.unqueried.filter(i => !taken.has(i));
    this.sessions.set(session.folder, chosen);
    return session;
  }

  /**
   * Adds the session's labels to the labeled set, retrains, and compares the new model with the
   * champion on the held-out set; the new model becomes the champion only when it is better.
   * Skipped samples are left out. The new model queries the next round either way.
   */
  async teach(
    session: LabelingSession,
    options: { target?: PromotionTarget; minGain?: number } = {}
  ): Promise<Comparison> {
    if (!this.sessions.has(session.folder)) {
      throw new SessionError(
        `The session in ${session.folder} was not opened by this learner's query(), or was taught already.`
      );
    }
    session.refresh();
    if (!session.isComplete) {
      const { labeled, skipped, total } = session.progress;
      throw new SessionError(
        `The session ${session.id} has labels for ${labeled + skipped} of its ${total} samples: await session.complete() first.`
      );
    }
    // In the order of the query, not of labeling: the same labels train the same model.
    const position = new Map(session.samples.map((sample, n) => [sample.id, n]));
    const labels = [...session.labels].sort(
      (a, b) => (position.get(a.sample) ?? 0) - (position.get(b.sample) ?? 0)
    );
    const newLabels = labelsAsTrainingSet(labels, this.options.classes, id => {
      const index = this.indexOfId.get(id);
      if (index === undefined)
        throw new SessionError(`Sample '${id}' is not in the learner's pool.`);
      return this.options.pool[index];
    });
    const { comparison, candidate } = await retrainAndCompare({
      current: this.best,
      reference: { x: this.labeledX, y: this.labeledY },
      newLabels,
      heldOut: this.options.heldOut,
      classifier: this.options.classifier,
      startFrom: this.options.retrain === 'continue' ? this.latest : undefined,
      minGain: options.minGain,
      target: options.target
    });
    this.sessions.delete(session.folder);
    this.labeledX.push(...newLabels.x);
    this.labeledY.push(...Array.from(newLabels.y));
    if (this.latest !== this.best) this.latest.dispose();
    if (comparison.promote) {
      this.best.dispose();
      this.best = candidate;
    }
    this.latest = candidate;
    return comparison;
  }

  /** Frees the models. */
  dispose(): void {
    if (this.latest !== this.best) this.latest.dispose();
    this.best.dispose();
  }
}
