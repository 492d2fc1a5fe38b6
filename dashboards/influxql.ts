import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import type * as common from '@grafana/grafana-foundation-sdk/common';

/**
 * The InfluxDB data model of docs/design.md as types, so a dashboard query naming a measurement, tag or field
 * that the pipeline does not write fails `tsc`, not a supervisor's screen. `pipeline` also carries one
 * `invalid_<reason>` counter per refusal reason (see README.md); those are selected by regex.
 */
export const DATA_MODEL = {
  wearable: {
    tags: ['center', 'room', 'device', 'infant'],
    fields: ['posture', 'prone', 'worn', 'skin_temp', 'motion', 'battery', 'rssi', 'seq'],
  },
  room_env: { tags: ['center', 'room', 'device'], fields: ['temp', 'humidity', 'co2', 'seq'] },
  alarm: { tags: ['center', 'room', 'device'], fields: ['event', 'seq'] },
  device_status: { tags: ['center', 'room', 'device', 'kind'], fields: ['online', 'battery'] },
  alert: {
    tags: ['center', 'room', 'rule', 'severity'],
    fields: ['alert_id', 'state', 'transition', 'subject', 'value', 'by', 'message', 'ack_ms'],
  },
  nap_session: { tags: ['center', 'room'], fields: ['state', 'by'] },
  nap_check: {
    tags: ['center', 'room', 'infant'],
    fields: ['posture', 'motion', 'skin_temp', 'open_alerts', 'confirmed_by'],
  },
  pipeline: {
    tags: ['service', 'instance'],
    fields: ['received', 'written', 'invalid', 'spooled', 'spool_bytes', 'lag_ms'],
  },
} as const;

export type Measurement = keyof typeof DATA_MODEL;
export type TagOf<M extends Measurement> = (typeof DATA_MODEL)[M]['tags'][number];
export type FieldOf<M extends Measurement> = (typeof DATA_MODEL)[M]['fields'][number];
type ColumnOf<M extends Measurement> = TagOf<M> | FieldOf<M>;

/** A double-quoted InfluxQL identifier: `by`, `state` and hyphenated names are keywords or need quoting. */
export const ident = (name: string): string => `"${name.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
export const str = (value: string): string => `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

type Aggregate =
  | 'mean'
  | 'median'
  | 'last'
  | 'first'
  | 'count'
  | 'sum'
  | 'min'
  | 'max'
  | 'spread'
  | 'distinct';

/** One item of the select list; `raw` is for Grafana macros and nested calls the helpers below build. */
export class Expr {
  constructor(readonly text: string) {}
  as(alias: string): Expr {
    return new Expr(`${this.text} AS ${ident(alias)}`);
  }
  times(n: number): Expr {
    return new Expr(`${this.text} * ${n}`);
  }
  over(other: Expr): Expr {
    return new Expr(`${this.text} / ${other.text}`);
  }
  plus(n: number): Expr {
    return new Expr(`${this.text} + ${n}`);
  }
  div(n: number): Expr {
    return new Expr(`${this.text} / ${n}`);
  }
}

/** A column or a `/regex/` of field keys (InfluxQL selects matching fields, e.g. every `invalid_<reason>`). */
type Target<M extends Measurement> = ColumnOf<M> | RegExp | Expr;
const target = (t: Target<Measurement>): string =>
  t instanceof RegExp ? t.toString() : t instanceof Expr ? t.text : ident(t);

export const col = <M extends Measurement>(_m: M, name: ColumnOf<M>): Expr => new Expr(ident(name));
export const agg = <M extends Measurement>(_m: M, fn: Aggregate, of: Target<M>): Expr =>
  new Expr(`${fn}(${target(of as Target<Measurement>)})`);
export const percentile = <M extends Measurement>(_m: M, of: FieldOf<M>, p: number): Expr =>
  new Expr(`percentile(${ident(of)}, ${p})`);
/** Counters are cumulative since a process started: a rate per second, resets ignored. */
export const ratePerSecond = (inner: Expr): Expr => new Expr(`non_negative_derivative(${inner.text}, 1s)`);
/** In a query over a subquery the inner aliases are the columns. */
export const outer = (fn: Aggregate, alias: string): Expr => new Expr(`${fn}(${ident(alias)})`);

type Condition = string;
/** `"tag" =~ /^$var$/`: Grafana expands a multi-value or All variable to `(a|b)` in a regex. */
export const tagVar = <M extends Measurement>(_m: M, tag: TagOf<M>, variable: string): Condition =>
  `${ident(tag)} =~ /^$${variable}$/`;
export const tagEq = <M extends Measurement>(_m: M, tag: TagOf<M>, value: string): Condition =>
  `${ident(tag)} = ${str(value)}`;
export const fieldEq = <M extends Measurement>(_m: M, field: FieldOf<M>, value: string): Condition =>
  `${ident(field)} = ${str(value)}`;
/** The dashboard's (or an alert rule's) time range, substituted by Grafana. */
export const TIME_FILTER: Condition = '$timeFilter';

type Source<M extends Measurement> = { measurement: M } | { subquery: Query<M> };

export class Query<M extends Measurement = Measurement> {
  #select: Expr[] = [];
  #where: Condition[] = [];
  #groupBy: string[] = [];
  #fill: string | undefined;
  #order: 'ASC' | 'DESC' | undefined;
  #limit: number | undefined;

  constructor(private readonly source: Source<M>) {}

  select(...items: (Expr | ColumnOf<M>)[]): this {
    this.#select.push(...items.map((i) => (i instanceof Expr ? i : new Expr(ident(i)))));
    return this;
  }
  where(...conditions: Condition[]): this {
    this.#where.push(...conditions);
    return this;
  }
  /** `GROUP BY time($__interval)`, or a fixed bucket such as `15m`. */
  byTime(interval = '$__interval'): this {
    this.#groupBy.push(`time(${interval})`);
    return this;
  }
  byTags(...tags: TagOf<M>[]): this {
    this.#groupBy.push(...tags.map(ident));
    return this;
  }
  fill(value: 'null' | 'none' | 'previous' | 'linear' | number): this {
    this.#fill = String(value);
    return this;
  }
  orderByTime(order: 'ASC' | 'DESC'): this {
    this.#order = order;
    return this;
  }
  limit(n: number): this {
    this.#limit = n;
    return this;
  }

  toString(): string {
    if (this.#select.length === 0) throw new Error('InfluxQL query selects nothing');
    const from =
      'measurement' in this.source ? ident(this.source.measurement) : `(${this.source.subquery.toString()})`;
    const parts = [`SELECT ${this.#select.map((e) => e.text).join(', ')} FROM ${from}`];
    if (this.#where.length > 0) parts.push(`WHERE ${this.#where.join(' AND ')}`);
    if (this.#groupBy.length > 0) parts.push(`GROUP BY ${this.#groupBy.join(', ')}`);
    if (this.#fill !== undefined) parts.push(`fill(${this.#fill})`);
    if (this.#order) parts.push(`ORDER BY time ${this.#order}`);
    if (this.#limit !== undefined) parts.push(`LIMIT ${this.#limit}`);
    return parts.join(' ');
  }
}

export const from = <M extends Measurement>(measurement: M): Query<M> => new Query({ measurement });
/** InfluxQL 1.x cannot aggregate an aggregate in one statement; a subquery can (1.2+, so 1.6 too). */
export const fromSubquery = <M extends Measurement>(subquery: Query<M>): Query<M> => new Query({ subquery });

export const showTagValues = <M extends Measurement>(
  measurement: M,
  tag: TagOf<M>,
  ...conditions: Condition[]
): string =>
  `SHOW TAG VALUES FROM ${ident(measurement)} WITH KEY = ${ident(tag)}${
    conditions.length > 0 ? ` WHERE ${conditions.join(' AND ')}` : ''
  }`;

/** Grafana's InfluxDB query model in raw InfluxQL mode (what the query editor stores). */
export interface InfluxQlQuery extends cog.Dataquery {
  refId: string;
  datasource: common.DataSourceRef;
  query: string;
  rawQuery: true;
  resultFormat: 'time_series' | 'table';
  alias?: string;
  hide?: boolean;
  /** Annotation queries: which columns become the text and the tags of each event. */
  fromAnnotations?: true;
  textEditor?: true;
  textColumn?: string;
  tagsColumn?: string;
}

export class InfluxQlTargetBuilder implements cog.Builder<cog.Dataquery> {
  readonly #internal: InfluxQlQuery;
  constructor(datasource: common.DataSourceRef, query: Query | string, refId = 'A') {
    this.#internal = {
      refId,
      datasource,
      query: query.toString(),
      rawQuery: true,
      resultFormat: 'time_series',
      _implementsDataqueryVariant() {},
    };
  }
  table(): this {
    this.#internal.resultFormat = 'table';
    return this;
  }
  /** Series name pattern: `$tag_room`, `$col`. */
  alias(alias: string): this {
    this.#internal.alias = alias;
    return this;
  }
  /** As an annotation query: Grafana's InfluxDB datasource reads these columns in its annotation editor. */
  annotation(textColumn: string, tagsColumn: string[]): this {
    this.#internal.resultFormat = 'table';
    this.#internal.fromAnnotations = true;
    this.#internal.textEditor = true;
    this.#internal.textColumn = textColumn;
    this.#internal.tagsColumn = tagsColumn.join(',');
    return this;
  }
  build(): InfluxQlQuery {
    return this.#internal;
  }
}
