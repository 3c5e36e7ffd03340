/**
 * Logging verdicts to a tracker. The checker needs only two calls, so it asks for this small
 * interface rather than a particular tracker: `trackerRun(store, runId)` adapts any store with an
 * MLflow-style `logBatch(runId, { metrics, tags })` (scanflow's own tracker stores, or a REST
 * client of a real MLflow).
 */
import type { DriftResult } from './result';

export interface VerdictTracker {
  logMetrics(metrics: Record<string, number>, step?: number): void | Promise<void>;
  setTags(tags: Record<string, string>): void | Promise<void>;
}

/** What trackerRun needs of a tracking store. */
export interface BatchLoggingStore {
  logBatch(
    runId: string,
    batch: {
      metrics?: Array<{ key: string; value: number; timestamp: number; step: number }>;
      tags?: Array<{ key: string; value: string }>;
    }
  ): Promise<void>;
}

/** A VerdictTracker writing to one run of a store. */
export function trackerRun(store: BatchLoggingStore, runId: string): VerdictTracker {
  return {
    logMetrics: (metrics, step = 0) =>
      store.logBatch(runId, {
        metrics: Object.entries(metrics).map(([key, value]) => ({
          key,
          value,
          step,
          timestamp: Date.now()
        }))
      }),
    setTags: tags =>
      store.logBatch(runId, { tags: Object.entries(tags).map(([key, value]) => ({ key, value })) })
  };
}

export interface LogVerdictOptions {
  /** Metric key prefix (default 'drift.<detector>'). */
  prefix?: string;
  /** The step of the metrics, e.g. the batch number (default 0). */
  step?: number;
  /** Log at most this many per-feature p-values (default 100). */
  maxFeatures?: number;
}

/** MLflow keys allow letters, digits, _ - . / and spaces: anything else becomes '_'. */
function safeKey(key: string): string {
  return key.replace(/[^A-Za-z0-9_\-./ ]/g, '_');
}

/**
 * Logs a verdict: `<prefix>.is_drift` (0/1), `.p_value`, `.distance`, `.threshold`, `.batch_size`,
 * `.score`, per-feature `.p_value.<feature>` (adjusted), and the tag `<prefix>` = 'drift' | 'ok'.
 */
export async function logVerdict(
  tracker: VerdictTracker,
  result: DriftResult<unknown>,
  options: LogVerdictOptions = {}
): Promise<void> {
  const prefix = safeKey(options.prefix ?? `drift.${result.detector}`);
  const metrics: Record<string, number> = {
    [`${prefix}.is_drift`]: result.isDrift ? 1 : 0,
    [`${prefix}.distance`]: result.distance,
    [`${prefix}.threshold`]: result.threshold,
    [`${prefix}.batch_size`]: result.batchSize
  };
  if (result.pValue !== null) metrics[`${prefix}.p_value`] = result.pValue;
  if (result.score !== null) metrics[`${prefix}.score`] = result.score;
  for (const feature of (result.perFeature ?? []).slice(0, options.maxFeatures ?? 100)) {
    metrics[safeKey(`${prefix}.p_value.${feature.feature}`)] = feature.adjustedPValue;
  }
  await tracker.logMetrics(metrics, options.step);
  await tracker.setTags({ [prefix]: result.isDrift ? 'drift' : 'ok' });
}
