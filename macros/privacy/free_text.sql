{#- Free text out of staging (a field the source YAML declares `content: free_text`): its value, or '[redacted]'
    where it looks like personal data. The shapes are the shared ones (pii_text_matches, macros/privacy/
    pii_patterns.sql); they are tried on the value as landed and on three folded forms, so that a spelling the
    shapes might not list still meets them: full-width letters, digits and punctuation turned to ASCII (as NFKC
    does, plus the dash and full-stop variants) and upper-cased; then dashes, dots and brackets removed (A123-456-789
    → A123456789, in place in longer text); then spaces, slashes and underscores removed as well (a whole value
    like 0912 345 678). Free text must also be printable ASCII: a name or an address has no shape a pattern can
    recognise (a few Han characters), so any character outside printable ASCII masks the value too (the app's page
    paths and device models are ASCII; a deep link with a typed search is withheld whole). Masked rather than
    quarantined: the event itself is valid and feeds tags; only the text is
    withheld (docs/privacy.md, "Every column out of staging"). Portable SQL over the dispatched regex macros. -#}
{% macro guarded_text(expr) -%}
    {%- set full_width = '０１２３４５６７８９ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺａｂｃｄｅｆｇｈｉｊｋｌｍｎｏｐｑｒｓｔｕｖｗｘｙｚ＠．－＋（）　‐‑‒–—−。＿／' -%}
    {%- set ascii = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz@.-+() ------._/' -%}
    {%- set folded = "upper(translate(" ~ expr ~ ", '" ~ full_width ~ "', '" ~ ascii ~ "'))" -%}
    {%- set joined = regex_replace_all(folded, '[-.()]', '') -%}
    {%- set compact = regex_replace_all(folded, '[-. ()/_]', '') -%}
    case
        when {{ regex_matches(expr, '[^ -~]') }}
            or {{ pii_text_matches(expr) }}
            or {{ pii_text_matches(folded) }}
            or {{ pii_text_matches(joined) }}
            or {{ pii_text_matches(compact) }}
            then '[redacted]'
        else {{ expr }}
    end
{%- endmacro %}


{#- Each free-text field's guarded value, computed once per distinct value rather than once per row: a CTE per
    field (`free_text_guarded_<staged_as> as (…),`, comma included) with the trimmed value and guarded_text of it.
    Free text repeats (page paths, device models: a few dozen values over millions of events), and the guard's
    folded forms (translate, regexp_replace, sixteen shape regexes) cost far more per row than a join on one
    value. The base model joins them with free_text_guard_joins and reads them with content_columns(guarded=true);
    the result is the same as guarded_text on every row (a null value finds no row and stays null). The distinct
    values are those of `relation`, or with `values` the columns free_text_values named in that relation (one
    read of a model's lines for all of its lookups: distinct_values_by_column). -#}
{% macro free_text_guard_ctes(source_name, table_name, relation, json_column='json_fields', values=none) %}
    {%- for field in raw_content_fields(source_name, table_name, relation, json_column)
            if field.content == 'free_text' %}
    {%- set value = values ~ '.' ~ field.staged_as if values else 'trim(' ~ field.ref ~ ')' %}
{{ free_text_guard_relation(field) }} as (
    select
        distinct_values.value,
        {{ guarded_text('distinct_values.value') }} as guarded
    from (
        select distinct {{ value }} as value
        from {{ values or relation }}
        where {{ value }} is not null
    ) as distinct_values
),
    {%- endfor %}
{%- endmacro %}


{#- Each free-text field's trimmed value read through `relation`, by the name free_text_guard_ctes' `values` reads it
    under (name → expression, for distinct_values_by_column). -#}
{% macro free_text_values(source_name, table_name, relation, json_column='json_fields') %}
    {%- set columns = {} -%}
    {%- for field in raw_content_fields(source_name, table_name, relation, json_column)
            if field.content == 'free_text' -%}
        {%- do columns.update({field.staged_as: 'trim(' ~ field.ref ~ ')'}) -%}
    {%- endfor -%}
    {{- return(columns) -}}
{% endmacro %}


{#- The left joins of free_text_guard_ctes' relations to `relation`, on each field's trimmed value. -#}
{% macro free_text_guard_joins(source_name, table_name, relation, json_column='json_fields') %}
    {%- for field in raw_content_fields(source_name, table_name, relation, json_column)
            if field.content == 'free_text' %}
    left join {{ free_text_guard_relation(field) }}
        on trim({{ field.ref }}) = {{ free_text_guard_relation(field) }}.value
    {%- endfor %}
{%- endmacro %}


{#- The name of a free-text field's relation in free_text_guard_ctes (`free_text_guarded_<staged_as>`). -#}
{% macro free_text_guard_relation(field) -%}
    free_text_guarded_{{ field.staged_as }}
{%- endmacro %}
