import YAML from 'yaml';
import { DefinitionError } from './problems';
import type { WorkflowSpec } from './types';
import { parseWorkflow } from './validate';

/** The definition as pretty-printed JSON, which `fromJSON` reads back unchanged. */
export function toJSON(spec: WorkflowSpec): string {
  return `${JSON.stringify(spec, null, 2)}\n`;
}

/** The definition as YAML, which `fromYAML` reads back unchanged. */
export function toYAML(spec: WorkflowSpec): string {
  return YAML.stringify(spec, { lineWidth: 0 });
}

/** Parses and validates a JSON definition; syntax errors carry their line and column. */
export function fromJSON(text: string, source = 'workflow.json'): WorkflowSpec {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    const message = (error as Error).message;
    const { line, column } = jsonErrorPosition(text, message);
    throw new DefinitionError(
      [
        {
          where: source,
          line,
          column,
          message: `the JSON does not parse: ${message.replace(/\s*in JSON at position \d+.*$/, '')}`,
          fix: 'correct the syntax at that position (a missing comma, quote or bracket)'
        }
      ],
      source
    );
  }
  return parseWorkflow(data, source);
}

/** Parses and validates a YAML definition; syntax errors carry their line and column. */
export function fromYAML(text: string, source = 'workflow.yaml'): WorkflowSpec {
  const document = YAML.parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  if (document.errors.length > 0) {
    throw new DefinitionError(
      document.errors.map(error => ({
        where: source,
        line: error.linePos?.[0].line,
        column: error.linePos?.[0].col,
        message: `the YAML does not parse: ${error.message.split('\n')[0]}`,
        fix: 'correct the indentation or syntax at that position'
      })),
      source
    );
  }
  return parseWorkflow(document.toJS(), source);
}

function jsonErrorPosition(text: string, message: string): { line: number; column: number } {
  const explicit = /line (\d+) column (\d+)/.exec(message);
  if (explicit) {
    return { line: Number(explicit[1]), column: Number(explicit[2]) };
  }
  const position = /position (\d+)/.exec(message);
  const offset = position ? Number(position[1]) : text.length;
  const before = text.slice(0, offset).split('\n');
  return { line: before.length, column: before[before.length - 1].length + 1 };
}
