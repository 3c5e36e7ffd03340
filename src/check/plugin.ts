/**
 * Checkers as a workflow attaches them. A checker is anything with a `name` and a `check(batch)`
 * that returns the common result shape; write one as a small class, or wrap a function with
 * `defineChecker`. Register a factory under a name with `registerChecker` so that a workflow's
 * `checkers: [{ kind: 'custom', plugin: 'value-range', options }]` entry can be built by
 * `createChecker`; a plugin may also be a module path whose default export is such a factory.
 * `kind: 'drift'` entries build a detector (see driftChecker).
 */
import type { CheckerSpec } from '../workflow/types';
import { ChiSquareDrift, ClassBalanceDrift } from './chi2-detector';
import { CheckerError, DetectorOptionError } from './errors';
import { KSDrift } from './ks-detector';
import { MMDDrift } from './mmd-detector';
import { loadDetector } from './persist';
import type { DriftResult } from './result';

export interface Checker<Batch = unknown, Details = unknown> {
  readonly name: string;
  check(batch: Batch): DriftResult<Details> | Promise<DriftResult<Details>>;
}

/** Builds a checker from the `options` of a workflow's checker entry. */
export type CheckerFactory = (options: Record<string, unknown>) => Checker | Promise<Checker>;

/** A plain function as a checker: return a full result, or just a boolean verdict. */
export function defineChecker<Batch>(
  name: string,
  fn: (batch: Batch) => DriftResult | boolean | Promise<DriftResult | boolean>
): Checker<Batch> {
  return {
    name,
    async check(batch: Batch): Promise<DriftResult> {
      const outcome = await fn(batch);
      if (typeof outcome !== 'boolean') return outcome;
      const size = Array.isArray(batch) ? batch.length : 1;
      return {
        detector: name,
        isDrift: outcome,
        pValue: null,
        score: outcome ? 1 : 0,
        threshold: 0.5,
        distance: outcome ? 1 : 0,
        batchSize: size,
        details: {}
      };
    }
  };
}

const registry = new Map<string, CheckerFactory>();

/** Makes `plugin: name` available to workflow checker entries. Replaces an earlier registration. */
export function registerChecker(name: string, factory: CheckerFactory): void {
  registry.set(name, factory);
}

export function registeredCheckers(): string[] {
  return [...registry.keys()].sort();
}

/** Thrown when a workflow's checker entry names a plugin that cannot be found or built. */
export class CheckerPluginError extends CheckerError {}

/** A fitted detector as a checker (its `predict` is the check). */
export function checkerFromDetector<Batch, Details>(
  name: string,
  detector: { predict(batch: Batch): DriftResult<Details> }
): Checker<Batch, Details> {
  return { name, check: batch => detector.predict(batch) };
}

const DETECTOR_KINDS = ['ks', 'chi2', 'class-balance', 'mmd', 'autoencoder'];

/**
 * A workflow's `kind: 'drift'` entry: `options.path` names a detector saved with saveDetector (any
 * kind, the autoencoder included), or `options.reference` holds the reference data inline for the
 * statistical detectors (the other options go to the detector's constructor).
 */
async function driftChecker(spec: CheckerSpec): Promise<Checker> {
  const { path, reference, ...options } = spec.options ?? {};
  if (typeof path === 'string') {
    const detector = await loadDetector(path);
    if (spec.detector && spec.detector !== detector.kind) {
      throw new CheckerPluginError(
        `Checker '${spec.name}' expects a ${spec.detector} detector but ${path} holds a ${detector.kind} detector.`
      );
    }
    return checkerFromDetector(
      spec.name,
      detector as { predict(batch: unknown): DriftResult<unknown> }
    );
  }
  if (!Array.isArray(reference)) {
    throw new DetectorOptionError(
      `Drift checker '${spec.name}' needs options.path (a detector saved with saveDetector) or options.reference (the reference data).`
    );
  }
  switch (spec.detector ?? 'ks') {
    case 'ks':
      return checkerFromDetector(spec.name, new KSDrift(reference, options));
    case 'chi2':
      return checkerFromDetector(spec.name, new ChiSquareDrift(reference, options));
    case 'class-balance':
      return checkerFromDetector(spec.name, new ClassBalanceDrift(reference, options));
    case 'mmd':
      return checkerFromDetector(spec.name, new MMDDrift(reference, options));
    default:
      throw new DetectorOptionError(
        `Drift checker '${spec.name}': detector '${spec.detector}' cannot be built from inline reference data; use one of ${DETECTOR_KINDS.filter(k => k !== 'autoencoder').join(', ')}, or options.path to a saved detector (the autoencoder needs training: fit it in code and save it).`
      );
  }
}

/** Builds the checker a workflow's checker entry describes (`kind: 'custom'` or `'drift'`). */
export async function createChecker(spec: CheckerSpec): Promise<Checker> {
  if (spec.kind === 'drift') return driftChecker(spec);
  if (!spec.plugin) {
    throw new CheckerPluginError(
      `Checker '${spec.name}' has no plugin: name a registered checker (${registeredCheckers().join(', ') || 'none registered'}) or a module path.`
    );
  }
  let factory = registry.get(spec.plugin);
  if (!factory) {
    try {
      const module = (await import(spec.plugin)) as { default?: CheckerFactory };
      factory = module.default;
    } catch (error) {
      throw new CheckerPluginError(
        `Checker '${spec.name}': plugin '${spec.plugin}' is neither registered (${registeredCheckers().join(', ') || 'none'}) nor a loadable module (${(error as Error).message}).`
      );
    }
  }
  if (typeof factory !== 'function') {
    throw new CheckerPluginError(
      `Checker '${spec.name}': module '${spec.plugin}' has no default export that builds a checker from options.`
    );
  }
  const checker = await factory(spec.options ?? {});
  if (!checker || typeof checker.check !== 'function') {
    throw new CheckerPluginError(
      `Checker '${spec.name}': plugin '${spec.plugin}' returned something without a check(batch) method.`
    );
  }
  return checker;
}
