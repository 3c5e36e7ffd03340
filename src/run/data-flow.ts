// The check moved to the workflow model so that `scanflow validate` reports it too.
export { dataFlowProblems } from '../workflow/data-flow';
