/**
 * Drift reports for notebooks: a verdict, a series of verdicts or an online monitor as a MIME
 * bundle of type application/vnd.scanflow.drift+json (the shape src/notebook/bundles.ts defines:
 * a timeline of scores with its threshold, per-feature p-values) plus a text/plain summary.
 * `show(new DriftReport(result))` displays it; `toBundle(result)` gives the bundle itself.
 */
import { MIME } from '../mime';
import type { DriftBundleData, MimeBundle } from '../notebook/bundles';
import type { AutoencoderDetails } from './autoencoder-detector';
import type { LevelChanges } from './chi2-detector';
import type { OnlineMonitor } from './online-monitor';
import type { DriftResult, FeatureResult } from './result';

/** Our additions to the shared drift bundle shape (renderers may ignore them). */
export interface DriftBundleExtras {
  /** What `score` measures, e.g. 'reconstruction error' or '-log10(p-value)'. */
  scoreLabel: string;
  /** The latest verdict. */
  verdict?: Pick<
    DriftResult,
    'isDrift' | 'pValue' | 'score' | 'threshold' | 'distance' | 'batchSize'
  >;
  /** Per-feature results of the latest batch, with corrected p-values. */
  perFeature?: FeatureResult[];
  levelChanges?: LevelChanges[];
  /** The monitor's alerts (time, distance, p-value). */
  alerts?: Array<{ t: number; distance: number; pValue: number }>;
}

export type DriftReportData = DriftBundleData & DriftBundleExtras;

export type Reportable = DriftResult<unknown> | ReadonlyArray<DriftResult<unknown>> | OnlineMonitor;

export interface ReportOptions {
  /** The checker's name shown in the report (default: the detector's). */
  checker?: string;
}

const minusLog10 = (p: number): number => -Math.log10(Math.max(p, 1e-300));

function isMonitor(source: Reportable): source is OnlineMonitor {
  return !Array.isArray(source) && 'timeline' in source && 'expectedRunTime' in source;
}

function hasSampleErrors(result: DriftResult<unknown>): result is DriftResult<AutoencoderDetails> {
  const details = result.details as Partial<AutoencoderDetails> | undefined;
  return Array.isArray(details?.errors) && Array.isArray(details?.outliers);
}

function levelChangesOf(result: DriftResult<unknown>): LevelChanges[] | undefined {
  const changes = (result.details as { levelChanges?: LevelChanges[] } | undefined)?.levelChanges;
  return changes && changes.length > 0 ? changes : undefined;
}

function verdictOf(r: DriftResult<unknown>): DriftBundleExtras['verdict'] {
  return {
    isDrift: r.isDrift,
    pValue: r.pValue,
    score: r.score,
    threshold: r.threshold,
    distance: r.distance,
    batchSize: r.batchSize
  };
}

/** The bundle's data for a source, without the version field. */
export function driftReportData(
  source: Reportable,
  options: ReportOptions = {}
): Omit<DriftReportData, 'version'> {
  if (isMonitor(source)) {
    return {
      checker: options.checker ?? 'online monitor',
      detector: 'windowed-ks',
      scoreLabel: `KS distance of the last ${source.windowSize} ${source.label}s`,
      points: source.timeline
        .filter(p => p.distance !== null)
        .map(p => ({ t: p.t, score: p.distance as number, drift: p.alert })),
      threshold: source.threshold,
      alerts: source.alerts.map(a => ({ t: a.t, distance: a.distance, pValue: a.pValue }))
    };
  }
  const results: ReadonlyArray<DriftResult<unknown>> = Array.isArray(source)
    ? source
    : [source as DriftResult<unknown>];
  const latest = results[results.length - 1];
  if (!latest) return { checker: options.checker ?? 'drift', scoreLabel: 'score', points: [] };
  const common = {
    checker: options.checker ?? latest.detector,
    detector: latest.detector,
    verdict: verdictOf(latest),
    perFeature: latest.perFeature,
    features: latest.perFeature?.map(f => ({ name: f.feature, pValue: f.pValue })),
    levelChanges: levelChangesOf(latest)
  };
  if (results.length === 1 && hasSampleErrors(latest)) {
    // One autoencoder verdict: the timeline is the batch's per-sample errors.
    return {
      ...common,
      scoreLabel: 'reconstruction error',
      points: latest.details.errors.map((e, i) => ({
        t: i,
        score: e,
        drift: latest.details.outliers[i]
      })),
      threshold: latest.details.sampleThreshold
    };
  }
  const usesPValues = latest.pValue !== null;
  return {
    ...common,
    scoreLabel: usesPValues ? '-log10(p-value)' : 'score',
    points: results.map((r, i) => ({
      t: i,
      score: r.pValue !== null ? minusLog10(r.pValue) : (r.score ?? r.distance),
      drift: r.isDrift
    })),
    threshold: usesPValues ? minusLog10(latest.threshold) : latest.threshold
  };
}

const fmt = (x: number): string =>
  Math.abs(x) >= 1e-3 && Math.abs(x) < 1e4 ? x.toPrecision(3) : x.toExponential(2);

/** A few lines a person can read in a terminal or a plain-text notebook output. */
export function driftSummary(data: Omit<DriftReportData, 'version'>): string {
  const lines: string[] = [];
  const v = data.verdict;
  if (v) {
    const evidence =
      v.pValue !== null
        ? `p = ${fmt(v.pValue)} vs level ${fmt(v.threshold)}`
        : `score ${fmt(v.score ?? v.distance)} vs threshold ${fmt(v.threshold)}`;
    lines.push(
      `drift check '${data.checker}': ${v.isDrift ? 'DRIFT' : 'no drift'} (${evidence}, distance ${fmt(v.distance)}, batch of ${v.batchSize})`
    );
  } else {
    const alerts = data.points.filter(p => p.drift).length;
    lines.push(
      `drift check '${data.checker}': ${data.points.length} points, ${alerts} alerts, threshold ${data.threshold === undefined ? 'none' : fmt(data.threshold)} on ${data.scoreLabel}`
    );
  }
  if (v && data.scoreLabel === 'reconstruction error' && data.threshold !== undefined) {
    const flagged = data.points.filter(p => p.drift).length;
    lines.push(
      `  outliers: ${flagged} of ${data.points.length} samples above the error threshold ${fmt(data.threshold)}`
    );
  }
  const drifted = data.perFeature?.filter(f => f.isDrift) ?? [];
  if (data.perFeature) {
    const shown = drifted
      .slice(0, 10)
      .map(f => `${f.feature} (adjusted p = ${fmt(f.adjustedPValue)})`);
    lines.push(
      `  features drifted: ${drifted.length} of ${data.perFeature.length}${shown.length ? `: ${shown.join(', ')}` : ''}${drifted.length > 10 ? ', ...' : ''}`
    );
  }
  for (const change of data.levelChanges ?? []) {
    if (change.newLevels.length)
      lines.push(`  ${change.feature}: new levels ${change.newLevels.join(', ')}`);
    if (change.vanishedLevels.length)
      lines.push(`  ${change.feature}: vanished levels ${change.vanishedLevels.join(', ')}`);
  }
  for (const alert of (data.alerts ?? []).slice(0, 5)) {
    lines.push(
      `  alert at t = ${alert.t}: distance ${fmt(alert.distance)} > ${fmt(data.threshold ?? NaN)} (p = ${fmt(alert.pValue)})`
    );
  }
  return lines.join('\n');
}

/** The MIME bundle of a verdict, a series of verdicts, or a monitor. */
export function toBundle(source: Reportable, options: ReportOptions = {}): MimeBundle {
  const data = driftReportData(source, options);
  return {
    data: { [MIME.drift]: { version: 1, ...data }, 'text/plain': driftSummary(data) },
    metadata: {}
  };
}

/** A displayable drift report: `show(new DriftReport(result))` in a notebook. */
export class DriftReport {
  constructor(
    readonly source: Reportable,
    readonly options: ReportOptions = {}
  ) {}

  toMimeBundle(): MimeBundle {
    return toBundle(this.source, this.options);
  }

  toString(): string {
    return driftSummary(driftReportData(this.source, this.options));
  }
}
