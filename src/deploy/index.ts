export { deployWorkflow, undeploy, listDeployments } from './deploy';
export type { Deployment, DeployOptions, DeploymentInfo, UndeployReport } from './deploy';
export { exportWorkflow } from './export';
export type { ExportOptions, ExportResult } from './export';
export { planDeployment, refusals, TARGETS } from './plan';
export type { DeploymentPlan, PlannedStep, PlannedTracker, Target } from './plan';
export { ExportError, DeployError } from './errors';
