export * from './types';
export * from './builders';
export * from './problems';
export { NAME_PATTERN, NAME_RULE, isValidName, suggestName } from './names';
export { parseMemory } from './resources';
export { WORKFLOW_SCHEMA } from './schema';
export { validate, parseWorkflow, assertValid, flatten, walk } from './validate';
export { buildGraph, findCycle, stages, criticalPath } from './graph';
export type { FlatGraph, FlatStep, FlatContainer } from './graph';
export { toJSON, toYAML, fromJSON, fromYAML } from './serialize';
export { toDot } from './dot';
export {
  HEALTHCHECK_DEFAULTS,
  isService,
  servicesOf,
  serviceUrlVariable,
  serviceProblems
} from './services';
