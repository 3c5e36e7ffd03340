/**
 * What a build on the engine's classic builder has created so far, read from its output: the
 * container of the instruction that is running and the images it committed. The engine labels
 * neither (build labels go on the final image only), so this is how a cancelled build's
 * leftovers are found. The output format is the classic builder's, as the build API sends it:
 *
 *   Step 2/3 : RUN make
 *    ---> Running in 84e70de19b60
 *   Removing intermediate container 84e70de19b60
 *    ---> 22b93eacd1e8
 */
export class BuildTrace {
  /** The intermediate container of the instruction that runs now, if any. */
  container?: string;
  /** Images this build committed (not the FROM images, not cache hits), oldest first. */
  readonly images: string[] = [];
  private fromStep = false;
  private cached = false;

  /** Reads one line of the build's output. */
  read(line: string): void {
    const step = /^Step \d+\/\d+ : (\S+)/.exec(line);
    if (step) {
      this.fromStep = step[1].toUpperCase() === 'FROM';
      this.cached = false;
      return;
    }
    if (/^ ---> Using cache$/.test(line)) {
      this.cached = true;
      return;
    }
    const running = /^ ---> Running in ([0-9a-f]{12,64})$/.exec(line);
    if (running) {
      this.container = running[1];
      return;
    }
    if (/^Removing intermediate container /.test(line)) {
      this.container = undefined;
      return;
    }
    const committed = /^ ---> ([0-9a-f]{12,64})$/.exec(line);
    if (committed && !this.fromStep && !this.cached) {
      this.images.push(committed[1]);
    }
  }
}
