/**
 * MLflow's search syntax: filter strings (`metrics.acc > 0.9 and params.model = 'cnn'`), order_by
 * clauses (`metrics.acc DESC`) and page tokens, parsed once and compiled to SQL for the SQLite
 * store. Every value travels as a bound parameter, never inside the SQL text.
 */
import { InvalidParameterError } from './errors';
import { LIMITS } from './validation';

export type Entity = 'metric' | 'param' | 'tag' | 'attribute' | 'dataset';
export type Operator =
  | '='
  | '!='
  | '<'
  | '<='
  | '>'
  | '>='
  | 'LIKE'
  | 'ILIKE'
  | 'IN'
  | 'NOT IN'
  | 'IS NULL'
  | 'IS NOT NULL';

export interface Condition {
  entity: Entity;
  key: string;
  op: Operator;
  value: string | number | string[] | null;
}

export interface OrderClause {
  entity: Entity;
  key: string;
  ascending: boolean;
}

const PREFIXES: Record<string, Entity> = {
  metric: 'metric',
  metrics: 'metric',
  param: 'param',
  params: 'param',
  parameter: 'param',
  parameters: 'param',
  tag: 'tag',
  tags: 'tag',
  attribute: 'attribute',
  attributes: 'attribute',
  attr: 'attribute',
  run: 'attribute',
  dataset: 'dataset',
  datasets: 'dataset'
};

type Token =
  | { kind: 'word'; text: string }
  | { kind: 'string'; text: string }
  | { kind: 'op'; text: string }
  | { kind: 'punct'; text: '(' | ')' | ',' };

function fail(what: string, filter: string): never {
  throw new InvalidParameterError(`Invalid filter '${filter.slice(0, 200)}': ${what}.`);
}

function readQuoted(text: string, start: number, filter: string): [string, number] {
  const quote = text[start];
  let out = '';
  let i = start + 1;
  while (i < text.length) {
    const c = text[i];
    if (c === '\\' && i + 1 < text.length) {
      out += text[i + 1];
      i += 2;
      continue;
    }
    if (c === quote) return [out, i + 1];
    out += c;
    i++;
  }
  return fail(`unterminated quote ${quote} at position ${start}`, filter);
}

function tokenize(filter: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < filter.length) {
    const c = filter[i];
    if (/\s/.test(c)) {
      i++;
    } else if (c === "'" || c === '"') {
      const [text, next] = readQuoted(filter, i, filter);
      tokens.push({ kind: 'string', text });
      i = next;
    } else if (c === '(' || c === ')' || c === ',') {
      tokens.push({ kind: 'punct', text: c });
      i++;
    } else if ('=!<>'.includes(c)) {
      const two = filter.slice(i, i + 2);
      const op = ['!=', '<=', '>=', '<>', '=='].includes(two) ? two : c;
      if (op === '!') fail(`'!' must be followed by '=' at position ${i}`, filter);
      tokens.push({ kind: 'op', text: op === '<>' ? '!=' : op === '==' ? '=' : op });
      i += op.length;
    } else {
      // A word: a keyword, a number, or an identifier whose key may be `backquoted` or "quoted".
      let text = '';
      while (i < filter.length && !/[\s=!<>(),'"`]/.test(filter[i])) text += filter[i++];
      if (filter[i] === '`' || (text.endsWith('.') && filter[i] === '"')) {
        const [key, next] = readQuoted(filter, i, filter);
        text += key;
        i = next;
      }
      if (text === '') fail(`unexpected character '${filter[i]}' at position ${i}`, filter);
      tokens.push({ kind: 'word', text });
    }
  }
  return tokens;
}

function splitIdentifier(text: string, source: string): { entity: Entity; key: string } {
  const dot = text.indexOf('.');
  if (dot < 0) return { entity: 'attribute', key: text };
  const entity = PREFIXES[text.slice(0, dot).toLowerCase()];
  if (!entity) {
    fail(
      `'${text.slice(0, dot)}' is not a known entity; use metrics., params., tags., attributes. or datasets.`,
      source
    );
  }
  const key = text.slice(dot + 1);
  if (key === '') fail(`'${text}' names no key`, source);
  return { entity, key };
}

function literal(token: Token | undefined, source: string): string | number {
  if (!token) return fail('a comparison is missing its value', source);
  if (token.kind === 'string') return token.text;
  if (token.kind === 'word') {
    const n = Number(token.text);
    if (token.text !== '' && !Number.isNaN(n)) return n;
    return fail(
      `'${token.text}' is not a value: quote strings ('value') and write numbers plainly`,
      source
    );
  }
  return fail(`expected a value, found '${token.text}'`, source);
}

/** Parses an MLflow filter string into conditions joined by AND (MLflow supports no OR). */
export function parseFilter(filter: string | undefined): Condition[] {
  if (!filter || filter.trim() === '') return [];
  if (filter.length > LIMITS.filterLength)
    fail(`longer than ${LIMITS.filterLength} characters`, filter);
  const tokens = tokenize(filter);
  const conditions: Condition[] = [];
  let i = 0;
  const word = (t: Token | undefined): string | undefined =>
    t && t.kind === 'word' ? t.text.toUpperCase() : undefined;
  while (i < tokens.length) {
    const identifier = tokens[i++];
    if (identifier.kind !== 'word')
      fail(`expected an identifier such as metrics.acc, found '${identifier.text}'`, filter);
    const { entity, key } = splitIdentifier(identifier.text, filter);
    const next = tokens[i++];
    let op: Operator;
    let value: Condition['value'];
    if (next?.kind === 'op') {
      op = next.text as Operator;
      value = literal(tokens[i++], filter);
    } else if (word(next) === 'LIKE' || word(next) === 'ILIKE') {
      op = word(next) as Operator;
      value = literal(tokens[i++], filter);
      if (typeof value !== 'string') fail(`${op} needs a quoted pattern`, filter);
    } else if (word(next) === 'IS') {
      const negated = word(tokens[i]) === 'NOT';
      if (negated) i++;
      if (word(tokens[i++]) !== 'NULL') fail('IS must be followed by NULL or NOT NULL', filter);
      op = negated ? 'IS NOT NULL' : 'IS NULL';
      value = null;
    } else if (word(next) === 'IN' || (word(next) === 'NOT' && word(tokens[i]) === 'IN')) {
      if (word(next) === 'NOT') i++;
      op = word(next) === 'NOT' ? 'NOT IN' : 'IN';
      if (tokens[i++]?.text !== '(') fail(`${op} must be followed by a parenthesized list`, filter);
      const list: string[] = [];
      for (;;) {
        const item = tokens[i++];
        if (item?.kind !== 'string') fail(`${op} lists hold quoted strings`, filter);
        list.push(item.text);
        const sep = tokens[i++];
        if (sep?.text === ')') break;
        if (sep?.text !== ',')
          fail(`${op} list items are separated by commas and closed by ')'`, filter);
      }
      value = list;
    } else {
      return fail(
        `'${identifier.text}' must be followed by a comparison (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, IS NULL)`,
        filter
      );
    }
    conditions.push({ entity, key, op, value });
    if (i < tokens.length) {
      const joiner = word(tokens[i++]);
      if (joiner === 'OR')
        fail('OR is not supported (as in MLflow); combine conditions with AND', filter);
      if (joiner !== 'AND' || i >= tokens.length) fail('conditions must be joined by AND', filter);
    }
  }
  return conditions;
}

/** Parses order_by clauses such as `metrics.acc DESC` or `attributes.start_time`. */
export function parseOrderBy(clauses: string[] | undefined): OrderClause[] {
  return (clauses ?? []).map(clause => {
    const tokens = tokenize(clause);
    const direction =
      tokens.length === 2 && tokens[1].kind === 'word' ? tokens[1].text.toUpperCase() : 'ASC';
    if (
      tokens.length === 0 ||
      tokens.length > 2 ||
      tokens[0].kind !== 'word' ||
      !['ASC', 'DESC'].includes(direction)
    ) {
      throw new InvalidParameterError(
        `Invalid order_by clause '${clause}': write '<identifier> [ASC|DESC]', e.g. 'metrics.acc DESC'.`
      );
    }
    return { ...splitIdentifier(tokens[0].text, clause), ascending: direction === 'ASC' };
  });
}

/** Page tokens are base64 JSON `{"offset": n}`, as MLflow's SQL store writes them. */
export function decodePageToken(token: string | undefined): number {
  if (!token) return 0;
  let offset: unknown;
  try {
    offset = (JSON.parse(Buffer.from(token, 'base64').toString('utf8')) as { offset?: unknown })
      .offset;
  } catch {
    offset = undefined;
  }
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) {
    throw new InvalidParameterError(
      `Invalid page token '${token.slice(0, 80)}': pass back a next_page_token exactly as received.`
    );
  }
  return offset;
}

export function encodePageToken(offset: number): string {
  return Buffer.from(JSON.stringify({ offset })).toString('base64');
}

// ---- Compilation to SQL ----

export interface AttributeColumn {
  column: string;
  type: 'string' | 'number';
}

/** How one searchable entity maps onto tables: `row` is the SQL alias of the searched row. */
export interface SearchSchema {
  what: string;
  attributes: Record<string, AttributeColumn>;
  /** SQL of a correlated subquery source for each key-value entity, e.g. `tags t WHERE t.run_uuid = r.run_uuid`. */
  keyed: Partial<Record<'metric' | 'param' | 'tag', string>>;
  dataset?: string;
}

export interface CompiledSql {
  sql: string;
  args: (string | number)[];
}

function stringComparison(
  column: string,
  c: Condition,
  source: string,
  args: (string | number)[]
): string {
  switch (c.op) {
    case '=':
    case '!=':
      if (typeof c.value !== 'string')
        fail(`${c.entity} '${c.key}' is compared to a string: quote the value`, source);
      args.push(c.value);
      return `${column} ${c.op} ?`;
    case 'LIKE':
    case 'ILIKE':
      args.push(c.value as string);
      return `mlflow_like(${column}, ?, ${c.op === 'ILIKE' ? 1 : 0})`;
    case 'IN':
    case 'NOT IN': {
      const list = c.value as string[];
      args.push(...list);
      return `${column} ${c.op} (${list.map(() => '?').join(', ')})`;
    }
    default:
      return fail(
        `${c.op} does not apply to ${c.entity} '${c.key}', which is a string (use =, !=, LIKE, ILIKE, IN)`,
        source
      );
  }
}

function numberComparison(
  column: string,
  c: Condition,
  source: string,
  args: (string | number)[]
): string {
  if (!['=', '!=', '<', '<=', '>', '>='].includes(c.op) || typeof c.value !== 'number') {
    return fail(
      `${c.entity} '${c.key}' is numeric: compare it to a number with =, !=, <, <=, > or >=`,
      source
    );
  }
  args.push(c.value);
  return `${column} ${c.op} ?`;
}

/** Compiles parsed conditions to a SQL boolean expression (or '1' when there are none). */
export function compileFilter(
  conditions: Condition[],
  schema: SearchSchema,
  source: string
): CompiledSql {
  const args: (string | number)[] = [];
  const parts = conditions.map(c => {
    if (c.entity === 'attribute') {
      const attribute = schema.attributes[c.key];
      if (!attribute) {
        fail(
          `'${c.key}' is not a searchable attribute of ${schema.what}; use one of ${Object.keys(schema.attributes).join(', ')}`,
          source
        );
      }
      if (c.op === 'IS NULL' || c.op === 'IS NOT NULL') return `${attribute.column} ${c.op}`;
      return attribute.type === 'number'
        ? numberComparison(attribute.column, c, source, args)
        : stringComparison(attribute.column, c, source, args);
    }
    if (c.entity === 'dataset') {
      if (!schema.dataset || !['name', 'digest', 'context'].includes(c.key)) {
        fail(
          `datasets.${c.key} is not searchable here; use datasets.name, datasets.digest or datasets.context`,
          source
        );
      }
      const inner = stringComparison(`d.${c.key}`, c, source, args);
      return `EXISTS (SELECT 1 FROM ${schema.dataset} AND ${inner})`;
    }
    const from = schema.keyed[c.entity];
    if (!from) fail(`${c.entity}s are not searchable in ${schema.what}`, source);
    const keyArgs: (string | number)[] = [c.key];
    if (c.op === 'IS NULL' || c.op === 'IS NOT NULL') {
      args.push(...keyArgs);
      return `${c.op === 'IS NULL' ? 'NOT ' : ''}EXISTS (SELECT 1 FROM ${from} AND k.key = ?)`;
    }
    const inner: (string | number)[] = [];
    const comparison =
      c.entity === 'metric'
        ? `k.is_nan = 0 AND ${numberComparison('k.value', c, source, inner)}`
        : stringComparison('k.value', c, source, inner);
    args.push(...keyArgs, ...inner);
    return `EXISTS (SELECT 1 FROM ${from} AND k.key = ? AND ${comparison})`;
  });
  return { sql: parts.length ? parts.join(' AND ') : '1', args };
}

/** Compiles order_by clauses; missing values sort last in both directions, as in MLflow. */
export function compileOrderBy(
  clauses: OrderClause[],
  schema: SearchSchema,
  source: string
): CompiledSql {
  const args: (string | number)[] = [];
  const parts = clauses.map(c => {
    let expression: string;
    if (c.entity === 'attribute') {
      const attribute = schema.attributes[c.key];
      if (!attribute) {
        throw new InvalidParameterError(
          `Invalid order_by clause '${source}': '${c.key}' is not an attribute of ${schema.what}; use one of ${Object.keys(schema.attributes).join(', ')}.`
        );
      }
      expression = attribute.column;
    } else {
      const from = c.entity === 'dataset' ? undefined : schema.keyed[c.entity];
      if (!from) {
        throw new InvalidParameterError(
          `Invalid order_by clause '${source}': ${schema.what} cannot be ordered by ${c.entity}s.`
        );
      }
      const value =
        c.entity === 'metric' ? 'CASE WHEN k.is_nan THEN NULL ELSE k.value END' : 'k.value';
      expression = `(SELECT ${value} FROM ${from} AND k.key = ?)`;
      args.push(c.key, c.key);
    }
    return `(${expression}) IS NULL, ${expression} ${c.ascending ? 'ASC' : 'DESC'}`;
  });
  return { sql: parts.join(', '), args };
}

/** MLflow's LIKE: `%` any run, `_` one character, case-sensitive unless ILIKE. */
export function likeToRegExp(pattern: string, caseInsensitive: boolean): RegExp {
  const body = pattern
    .split('')
    .map(c => (c === '%' ? '.*' : c === '_' ? '.' : c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${body}$`, caseInsensitive ? 'is' : 's');
}
