/**
 * The simulated oracle: a labeler that knows the ground truth. It writes label files into a
 * session's folder exactly as the labeling widget does (label-files.ts), so tests and benchmarks
 * drive the same path a person does: the kernel side just awaits `session.complete()`.
 */
import { SessionError } from './errors';
import {
  listLabelFiles,
  labelFileName,
  readManifestFile,
  writeLabelDocument,
  MANIFEST_FORMAT,
  type SessionManifest,
  type SessionSample
} from './label-files';

/** The true class of a sample (a class name of the session), or null to skip it. */
export type GroundTruth = (sample: SessionSample) => string | null;

export interface OracleOptions {
  /** Recorded as the labeler (default 'oracle'). */
  by?: string;
}

export class SimulatedOracle {
  readonly by: string;

  constructor(
    private readonly truth: GroundTruth,
    options: OracleOptions = {}
  ) {
    this.by = options.by ?? 'oracle';
  }

  /** An oracle that reads the truth from a map: sample id -> class. */
  static fromMap(
    labels: ReadonlyMap<string, string>,
    options: OracleOptions = {}
  ): SimulatedOracle {
    return new SimulatedOracle(sample => {
      const label = labels.get(sample.id);
      if (label === undefined) {
        throw new SessionError(`The oracle has no ground truth for sample '${sample.id}'.`);
      }
      return label;
    }, options);
  }

  /** Labels up to `count` samples of the session in `folder` that have no label file yet, in
   *  manifest order. Returns the ids it labeled. */
  answer(folder: string, count = Infinity): string[] {
    const manifest = readManifestFile(folder) as SessionManifest | undefined;
    if (manifest?.format !== MANIFEST_FORMAT) {
      throw new SessionError(`${folder} holds no labeling session for the oracle to answer.`);
    }
    const answered = new Set(
      listLabelFiles(folder, new Set()).flatMap(entry =>
        'content' in entry && typeof entry.content === 'object' && entry.content !== null
          ? [String((entry.content as { sample?: unknown }).sample)]
          : []
      )
    );
    const labeled: string[] = [];
    for (const sample of manifest.samples) {
      if (labeled.length >= count) break;
      if (answered.has(sample.id)) continue;
      const at = new Date();
      writeLabelDocument(folder, labelFileName(sample.id, at), {
        sample: sample.id,
        label: this.truth(sample),
        by: this.by,
        at: at.toISOString()
      });
      labeled.push(sample.id);
    }
    return labeled;
  }
}
