{#- The checks of one `column_values` test (tests/generic/column_values.sql), in order: a list of {kind, column,
    failing}, `failing` the SQL predicate true of a row that fails the check. `not_null` is a list of columns;
    `accepted_values` maps a column to its list of values; `expression_is_true` maps a column to a boolean SQL
    expression over the model's columns that must hold on every row (a null result fails, as in the
    expression_is_true test). Any entry may instead be a mapping with `where`, a predicate naming the rows the check
    applies to (e.g. `reject_reason is null`: accepted rows only): `{column: amount_twd, where: …}` in not_null,
    `{values: […], where: …}` in accepted_values, `{expression: …, where: …}` in expression_is_true. A null passes
    accepted_values (as dbt's own test); a text value is quoted, a number or boolean is not. -#}
{% macro column_value_checks(not_null, accepted_values, expression_is_true) %}
    {%- set checks = [] -%}
    {%- for check in column_value_targets(not_null, accepted_values, expression_is_true) -%}
        {%- if check.kind == 'not_null' -%}
            {%- do checks.append({'kind': check.kind, 'column': check.column,
                                  'failing': column_value_scope(check.where) ~ check.column ~ ' is null'}) -%}
        {%- elif check.kind == 'expression_is_true' -%}
            {%- if check.expression is not string or not check.expression.strip() -%}
                {{ exceptions.raise_compiler_error('column_values: expression_is_true of ' ~ check.column
                    ~ ' needs an expression (SQL text)') }}
            {%- endif -%}
            {%- do checks.append({'kind': check.kind, 'column': check.column,
                                  'failing': column_value_scope(check.where) ~ 'not coalesce(' ~ check.expression
                                             ~ ', false)'}) -%}
        {%- else -%}
            {%- if check['values'] is none or check['values'] is string or check['values'] | length == 0 -%}
                {{ exceptions.raise_compiler_error('column_values: accepted_values of ' ~ check.column
                    ~ ' needs a non-empty list of values') }}
            {%- endif -%}
            {%- set literals = [] -%}
            {%- for value in check['values'] -%}
                {%- do literals.append(column_value_literal(value)) -%}
            {%- endfor -%}
            {%- do checks.append({'kind': check.kind, 'column': check.column,
                                  'failing': column_value_scope(check.where) ~ check.column ~ ' is not null and '
                                             ~ check.column ~ ' not in (' ~ literals | join(', ') ~ ')'}) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(checks) }}
{% endmacro %}


{#- The checks of a `column_values` test as declared, in order: {kind, column, where, values, expression} (values
    as given, for accepted_values; the expression, for expression_is_true). Also what the quality history reads to
    record each check (macros/quality/quality_history.sql). -#}
{% macro column_value_targets(not_null, accepted_values, expression_is_true) %}
    {%- set targets = [] -%}
    {%- for entry in not_null or [] -%}
        {%- do targets.append({'kind': 'not_null', 'column': entry if entry is string else entry.get('column'),
                               'where': none if entry is string else entry.get('where'), 'values': none,
                               'expression': none}) -%}
    {%- endfor -%}
    {%- for column, entry in (accepted_values or {}).items() -%}
        {%- set declared = entry is mapping -%}
        {%- do targets.append({'kind': 'accepted_values', 'column': column,
                               'where': entry.get('where') if declared else none,
                               'values': entry.get('values') if declared else entry, 'expression': none}) -%}
    {%- endfor -%}
    {%- for column, entry in (expression_is_true or {}).items() -%}
        {%- set declared = entry is mapping -%}
        {%- do targets.append({'kind': 'expression_is_true', 'column': column,
                               'where': entry.get('where') if declared else none, 'values': none,
                               'expression': entry.get('expression') if declared else entry}) -%}
    {%- endfor -%}
    {%- for target in targets -%}
        {%- if target.column is not string or not modules.re.fullmatch('[a-z_][a-z0-9_]*', target.column) -%}
            {{ exceptions.raise_compiler_error('column_values: a ' ~ target.kind ~ ' entry names no column (a'
                ~ ' lower-case column name)') }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(targets) }}
{% endmacro %}


{% macro column_value_scope(where) -%}
    {{- '' if where is none else '(' ~ where ~ ') and ' -}}
{%- endmacro %}


{% macro column_value_literal(value) -%}
    {%- if value is boolean -%}
        {{- 'true' if value else 'false' -}}
    {%- elif value is number -%}
        {{- value -}}
    {%- else -%}
        {{- "'" ~ (value | string | replace("'", "''")) ~ "'" -}}
    {%- endif -%}
{%- endmacro %}


{#- One scan of `relation` counting each check's failing rows; one row (check_kind, column_name, failing_rows) per
    check that has any, and no row when all pass. Counts only: never a value of the model. -#}
{% macro column_values_sql(relation, not_null, accepted_values, expression_is_true) %}
    {%- set checks = column_value_checks(not_null, accepted_values, expression_is_true) -%}
    {%- if not checks -%}
        {{ exceptions.raise_compiler_error('column_values: no check: give not_null, accepted_values or'
            ~ ' expression_is_true') }}
    {%- endif -%}
with counted as (
    select
    {%- for check in checks %}
        sum(case when {{ check.failing }} then 1 else 0 end) as failing_{{ loop.index }}{{ ',' if not loop.last }}
    {%- endfor %}
    from {{ relation }}
)
{%- for check in checks %}
select
    '{{ check.kind }}' as check_kind,
    '{{ check.column }}' as column_name,
    failing_{{ loop.index }} as failing_rows
from counted
where failing_{{ loop.index }} > 0
{%- if not loop.last %}
union all
{%- endif %}
{%- endfor %}
{% endmacro %}
