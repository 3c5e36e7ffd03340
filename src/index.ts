/** Scanflow: build, run, track and debug containerized ML workflows. */
export * from './workflow';
export { loadWorkflow } from './cli/load';
export * from './notebook';
export * from './track';
export * from './run';
export * from './deploy';
export * from './check';
export * from './improve';
