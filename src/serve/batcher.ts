/**
 * Micro-batching: concurrent requests are predicted together, because one model call on a hundred
 * rows costs little more than one on a single row. A request that finds the model idle does not
 * wait for company: it waits `windowMs` (0 by default, which only gathers what arrived in the same
 * turn of the event loop). While the model works on one batch, new requests queue up, and the
 * queue becomes the next batch: under load batches grow by themselves, at no cost at low load.
 */

export interface BatcherOptions {
  /** Off: every request is predicted alone, as soon as it arrives. */
  enabled: boolean;
  /** How long a batch waits for more requests after its first one (ms). */
  windowMs: number;
  /** Most rows in one batch (a larger request still runs, alone). */
  maxRows: number;
}

/** What one model call returns: a row of output per row of input, and what ran (the version). */
export interface BatchResult<Context> {
  outputs: Float32Array[];
  context: Context;
}

export interface Answer<Context> extends BatchResult<Context> {
  /** Rows in the batch this request ran in. */
  batchRows: number;
}

interface Pending<Context> {
  rows: Float32Array[];
  resolve: (answer: Answer<Context>) => void;
  reject: (error: unknown) => void;
}

export class MicroBatcher<Context> {
  private queue: Array<Pending<Context>> = [];
  private scheduled = false;

  constructor(
    private readonly run: (rows: Float32Array[]) => BatchResult<Context>,
    private readonly options: BatcherOptions,
    private readonly onBatch: (rows: number) => void = () => undefined
  ) {}

  /** Rows waiting for the next batch. */
  get waiting(): number {
    return this.queue.reduce((sum, p) => sum + p.rows.length, 0);
  }

  submit(rows: Float32Array[]): Promise<Answer<Context>> {
    return new Promise((resolve, reject) => {
      this.queue.push({ rows, resolve, reject });
      if (!this.options.enabled) this.flushOne();
      else this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    const flush = (): void => {
      this.scheduled = false;
      this.flush();
    };
    if (this.options.windowMs > 0) setTimeout(flush, this.options.windowMs);
    else setImmediate(flush);
  }

  /** Runs the queue's head as one batch; anything left becomes the next batch. */
  private flush(): void {
    const batch: Array<Pending<Context>> = [];
    let rows = 0;
    while (this.queue.length > 0) {
      const next = this.queue[0];
      if (batch.length > 0 && rows + next.rows.length > this.options.maxRows) break;
      batch.push(this.queue.shift()!);
      rows += next.rows.length;
    }
    this.execute(batch, rows);
    // What arrived while the model worked, and what did not fit, goes next without a new window.
    if (this.queue.length > 0 && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.flush();
      });
    }
  }

  private flushOne(): void {
    const request = this.queue.shift();
    if (request) this.execute([request], request.rows.length);
  }

  private execute(batch: Array<Pending<Context>>, rows: number): void {
    if (batch.length === 0) return;
    let result: BatchResult<Context>;
    try {
      result = this.run(batch.length === 1 ? batch[0].rows : batch.flatMap(p => p.rows));
    } catch (error) {
      for (const request of batch) request.reject(error);
      return;
    }
    this.onBatch(rows);
    let offset = 0;
    for (const request of batch) {
      const end = offset + request.rows.length;
      request.resolve({
        outputs: result.outputs.slice(offset, end),
        context: result.context,
        batchRows: rows
      });
      offset = end;
    }
  }
}
