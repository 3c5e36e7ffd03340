/**
 * Why a run or a step failed: one class per kind of failure. Each message is one line that names
 * the step (when there is one), the cause and the fix.
 */
export class RunError extends Error {
  /** Whether another attempt of the step could succeed (a missing image will not appear). */
  readonly retryable: boolean = false;

  constructor(
    /** The cause, without the step's name. */
    readonly reason: string,
    readonly step?: string,
    readonly fix?: string
  ) {
    super(`${step ? `step ${step}: ` : ''}${reason}${fix ? `. Fix: ${fix}` : ''}`);
    this.name = new.target.name;
  }
}

/** The Docker engine does not answer. */
export class DaemonUnreachableError extends RunError {
  constructor(where: string, detail: string) {
    super(
      `the Docker engine at ${where} does not answer (${detail})`,
      undefined,
      'start it (e.g. `dockerd &` or `systemctl start docker`), point DOCKER_HOST at it, ' +
        'or run with --executor local'
    );
  }
}

/** A step's image is neither on this machine nor pullable. */
export class ImageNotFoundError extends RunError {
  constructor(step: string, image: string, detail: string) {
    super(
      `image '${image}' is not on this machine and could not be pulled (${detail})`,
      step,
      image.startsWith('scanflow/')
        ? 'build the local base images with `bash scripts/build-base-images.sh`'
        : `build or pull it first (\`docker pull ${image}\`), or use another image`
    );
  }
}

/** A step's image did not build. */
export class ImageBuildError extends RunError {
  constructor(step: string, detail: string, fix = 'fix the Dockerfile or its build context') {
    super(`the image did not build: ${detail}`, step, fix);
  }
}

/** A step's pip requirements cannot be installed (not resolvable, or no Python in the base). */
export class RequirementsError extends RunError {
  constructor(step: string, detail: string, fix: string) {
    super(`its requirements cannot be installed: ${detail}`, step, fix);
  }
}

/** The step's command does not exist where it runs. */
export class CommandNotFoundError extends RunError {
  constructor(step: string, command: string, where: string) {
    super(
      `command '${command}' was not found in ${where}`,
      step,
      "check the step's 'command' (an argv array whose first item is an executable)"
    );
  }
}

/** The step cannot run as defined on this executor (e.g. no command for a local process). */
export class StepConfigError extends RunError {}

/** The step ran and exited with a non-zero code. */
export class StepFailedError extends RunError {
  override readonly retryable = true;

  constructor(
    step: string,
    readonly exitCode: number,
    lastLine?: string
  ) {
    super(
      `exited with code ${exitCode}${lastLine ? ` (last output: ${lastLine.slice(0, 200)})` : ''}`,
      step
    );
  }
}

/** The step ran longer than its `timeout` and was stopped. */
export class StepTimeoutError extends RunError {
  override readonly retryable = true;

  constructor(step: string, seconds: number) {
    super(
      `did not finish within its timeout of ${seconds} s and was stopped`,
      step,
      "raise the step's 'timeout' or make it faster"
    );
  }
}

/** A service's container (or process) exited on its own, while the run still needed it. */
export class ServiceExitedError extends RunError {
  constructor(
    service: string,
    readonly exitCode: number,
    lastLine?: string
  ) {
    super(
      `the service exited with code ${exitCode} while the run still ran it` +
        (lastLine ? ` (last output: ${lastLine.slice(0, 200)})` : ''),
      service,
      'a service must keep running until the run is stopped: check its command and its output'
    );
  }
}

/** A service did not pass its healthcheck within its retries. */
export class ServiceUnhealthyError extends RunError {
  constructor(service: string, detail: string, port: number) {
    super(
      `the service did not pass its healthcheck: ${detail}`,
      service,
      `check that it listens on port ${port} on every interface (0.0.0.0, not 127.0.0.1, in a ` +
        "container), or give it longer with the healthcheck's 'startPeriod' or 'retries'"
    );
  }
}

/** A step was not run because a step it depends on failed. */
export class DependencyFailedError extends RunError {}

/** The engine itself failed while running a step (e.g. the daemon went away). */
export class EngineError extends RunError {
  override readonly retryable = true;
}

/** Removing what the run created failed; some of it may be left. */
export class CleanupError extends RunError {
  constructor(runId: string, detail: string) {
    super(
      `cleaning up failed: ${detail}`,
      undefined,
      `\`scanflow clean --run ${runId}\` removes what is left`
    );
  }
}
