/** One thing wrong with a definition: where, what, and how to fix it. */
export interface Problem {
  /** Where: the qualified id of the node, e.g. "hello.train.fit" (or the file, for parse errors). */
  where: string;
  /** The field of that node, e.g. "resources.cpus". */
  field?: string;
  message: string;
  fix?: string;
  /** 1-based position in the source text, when the problem comes from parsing it. */
  line?: number;
  column?: number;
}

export function formatProblem(problem: Problem): string {
  const position =
    problem.line !== undefined ? ` (line ${problem.line}, column ${problem.column ?? 1})` : '';
  const fix = problem.fix ? ` Fix: ${problem.fix}.` : '';
  const field = problem.field ? ` (${problem.field})` : '';
  return `${problem.where}${field}${position}: ${problem.message}.${fix}`;
}

/** A workflow definition is not valid; `problems` lists every problem found, not only the first. */
export class DefinitionError extends Error {
  readonly problems: Problem[];

  constructor(problems: Problem[], source?: string) {
    const head =
      problems.length === 1
        ? 'The workflow definition has a problem'
        : `The workflow definition has ${problems.length} problems`;
    const origin = source ? ` (${source})` : '';
    super(`${head}${origin}:\n${problems.map(p => `  - ${formatProblem(p)}`).join('\n')}`);
    this.name = 'DefinitionError';
    this.problems = problems;
  }
}
