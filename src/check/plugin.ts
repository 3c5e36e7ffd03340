/**
 * Custom checkers. A checker is anything with a `name` and a `check(batch)` that returns the common
 * result shape; write one as a small class, or wrap a function with `defineChecker`. Register a
 * factory under a name with `registerChecker` so that a workflow's `checkers: [{ kind: 'custom',
 * plugin: 'value-range', options }]` entry can be built by `createChecker`; a plugin may also be
 * a module path whose default export is such a factory.
 */
import type { CheckerSpec } from '../workflow/types';
import { CheckerError, DetectorOptionError } from './errors';
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

/** Builds the checker a workflow's `kind: 'custom'` entry describes. */
export async function createChecker(spec: CheckerSpec): Promise<Checker> {
  if (spec.kind !== 'custom') {
    throw new DetectorOptionError(
      `Checker '${spec.name}' is of kind '${spec.kind}': drift detectors need reference data, so build them in code (e.g. new KSDrift(reference)); createChecker builds 'custom' checkers.`
    );
  }
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
