// A mistake in what the user gave us (a file, a flag, a model name). The CLI
// prints it as one line and exits 254; it never becomes a stack trace.

export interface Where {
  file?: string;
  /** 1-based line number. */
  line?: number;
}

export class InputError extends Error {
  readonly where: Where;
  readonly fix: string | undefined;

  constructor(message: string, where: Where = {}, fix?: string) {
    super(message);
    this.name = 'InputError';
    this.where = where;
    this.fix = fix;
  }

  /** `file:line: what is wrong (how to fix it)` on a single line. */
  toLine(): string {
    const place = this.where.file
      ? `${this.where.file}${this.where.line !== undefined ? `:${this.where.line}` : ''}: `
      : this.where.line !== undefined
        ? `line ${this.where.line}: `
        : '';
    const fix = this.fix ? ` (${this.fix})` : '';
    return oneLine(`${place}${this.message}${fix}`);
  }
}

// Any line break (also a lone \r or U+2028/9 quoted from a user's file) would
// split the message: terminals and log readers treat them all as new lines.
function oneLine(s: string): string {
  return s.replace(/\s*[\n\r\v\f\u0085\u2028\u2029]\s*/g, ' ');
}
