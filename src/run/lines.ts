import { StringDecoder } from 'node:string_decoder';

/** Splits a byte stream into lines (without the newline), remembering the last non-empty one. */
export class LineSplitter {
  private rest = '';
  // A character split across two chunks is decoded whole, not as two replacement characters.
  private readonly decoder = new StringDecoder('utf8');
  last?: string;

  constructor(private readonly onLine: (line: string) => void) {}

  push(chunk: Buffer | string): void {
    const text = this.rest + (typeof chunk === 'string' ? chunk : this.decoder.write(chunk));
    const lines = text.split(/\r?\n/);
    this.rest = lines.pop() ?? '';
    lines.forEach(line => this.emit(line));
  }

  /** Emits what is left after the last newline. */
  end(): void {
    this.rest += this.decoder.end();
    if (this.rest) {
      this.emit(this.rest);
      this.rest = '';
    }
  }

  private emit(line: string): void {
    if (line.trim()) {
      this.last = line;
    }
    this.onLine(line);
  }
}
