/**
 * Services of a workflow: what every step is told about them (one URL variable each), and the
 * rules that keep them reachable: a service is known on the run's network by its name, and on
 * this machine by its port, so neither may be shared.
 */
import type { FlatGraph, FlatStep } from './graph';
import type { Problem } from './problems';
import type { HealthcheckSpec, ServiceSpec } from './types';

/** Defaults of a healthcheck's timing, in seconds (and probes, for `retries`). */
export const HEALTHCHECK_DEFAULTS: Required<
  Pick<HealthcheckSpec, 'interval' | 'timeout' | 'retries' | 'startPeriod'>
> = { interval: 1, timeout: 2, retries: 30, startPeriod: 0 };

/** True for the services of a flattened graph. */
export function isService(step: FlatStep): step is FlatStep<ServiceSpec> {
  return step.spec.kind === 'service';
}

/** The services of a flattened graph, in definition order. */
export function servicesOf(graph: FlatGraph): Array<FlatStep<ServiceSpec>> {
  return graph.steps.filter(isService);
}

/** The variable that carries a service's URL to every step: `model-api` gives SCANFLOW_SERVICE_MODEL_API_URL. */
export function serviceUrlVariable(name: string): string {
  return `SCANFLOW_SERVICE_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_URL`;
}

/** Problems between a workflow's services, and between services and steps. */
export function serviceProblems(graph: FlatGraph): Problem[] {
  const problems: Problem[] = [];
  const byPort = new Map<number, string>();
  const byVariable = new Map<string, string>();
  for (const service of servicesOf(graph)) {
    const { name, port } = service.spec;
    const portOwner = byPort.get(port);
    if (portOwner !== undefined) {
      problems.push({
        where: service.id,
        field: 'port',
        message: `port ${port} is also the port of service ${portOwner}`,
        fix: 'give every service of the workflow its own port'
      });
    } else {
      byPort.set(port, service.id);
    }
    // Steps are known on the run's network by their names too: a namesake would answer for it.
    const namesake = graph.steps.find(other => other !== service && other.spec.name === name);
    if (namesake) {
      problems.push({
        where: service.id,
        message: `its name '${name}', by which steps reach it, is also the name of ${namesake.spec.kind} ${namesake.id}`,
        fix: 'give the service a name that no other step or service of the workflow has'
      });
    }
    const variable = serviceUrlVariable(name);
    const variableOwner = byVariable.get(variable);
    if (variableOwner !== undefined && !namesake) {
      problems.push({
        where: service.id,
        message: `its URL variable ${variable} is also that of service ${variableOwner}`,
        fix: "rename one of them so that their names differ in more than '-' and '_' or case"
      });
    } else {
      byVariable.set(variable, service.id);
    }
  }
  return problems;
}
