import { parse as parseLenient, printParseErrorCode, type ParseError } from 'jsonc-parser';
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
    const { line, column, reason } = jsonErrorPosition(text);
    const detail = reason
      ? `${reason.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase()}`
      : (error as Error).message;
    throw new DefinitionError(
      [
        {
          where: source,
          line,
          column,
          message: `the JSON does not parse: ${detail}`,
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
  const document = YAML.parseDocument(text, { prettyErrors: true, uniqueKeys: true });
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

/**
 * Where JSON.parse failed: its messages carry no position on every Node version, so a parser that
 * reports offsets locates the first error.
 */
function jsonErrorPosition(text: string): { line: number; column: number; reason?: string } {
  const errors: ParseError[] = [];
  parseLenient(text, errors, { disallowComments: true, allowTrailingComma: false });
  const offset = errors[0]?.offset ?? text.length;
  const before = text.slice(0, offset).split('\n');
  return {
    line: before.length,
    column: before[before.length - 1].length + 1,
    reason: errors[0] && printParseErrorCode(errors[0].error)
  };
}
