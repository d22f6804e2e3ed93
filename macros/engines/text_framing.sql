{#- Raw text as feeds really write it. Each macro compiles for DuckDB, Athena and Redshift (translate(), substr(),
    chr() exist on all three); docs/raw-zone.md "Feed variants" says what each variant becomes. -#}

{#- `expr` with the ASCII forms of full-width digits and number signs (０-９ ＋ － ． ， ：), as NFKC would give
    them, so that `１２３４５．６７` casts like `12345.67` and `２０２６－１０－０１` like `2026-10-01`. Only these
    characters change: a value that still does not parse (`N/A`, `１，２３４`) stays a wrong_type reject. -#}
{% macro ascii_numerals(expr) %}
    {{- return(adapter.dispatch('ascii_numerals', 'taglake')(expr)) -}}
{% endmacro %}

{% macro default__ascii_numerals(expr) -%}
    translate({{ expr }}, '０１２３４５６７８９＋－．，：', '0123456789+-.,:')
{%- endmacro %}

{% macro duckdb__ascii_numerals(expr) -%}
    {#- DuckDB's translate() costs about 2 µs a value (ten times the cast it feeds), and nearly every value is ASCII
        already: one whose byte length equals its character length has no full-width character to change. -#}
    case when strlen({{ expr }}) = length({{ expr }}) then {{ expr }} else {{ default__ascii_numerals(expr) }} end
{%- endmacro %}


{#- A raw line without its framing: a UTF-8 byte-order mark (U+FEFF) at its start and a carriage return at its end
    (a Windows CRLF line). Nothing inside the line changes. -#}
{% macro raw_line_text(expr) %}
    {{- return(adapter.dispatch('raw_line_text', 'taglake')(expr)) -}}
{% endmacro %}

{% macro default__raw_line_text(expr) -%}
    rtrim(ltrim({{ expr }}, chr(65279)), chr(13))
{%- endmacro %}

{% macro duckdb__raw_line_text(expr) -%}
    {#- DuckDB's ltrim/rtrim with a character set cost about 1 µs a line (three times reading it), and nearly every
        line has no framing: only a line that starts with the mark or ends with the return is trimmed. -#}
    case
        when starts_with({{ expr }}, chr(65279)) or ends_with({{ expr }}, chr(13))
            then {{ default__raw_line_text(expr) }}
        else {{ expr }}
    end
{%- endmacro %}

{% macro athena__raw_line_text(expr) -%}
    {#- Trino's ltrim/rtrim take no character set: cut the first and last character where they are framing. -#}
    substr(
        {{ expr }},
        case when substr({{ expr }}, 1, 1) = chr(65279) then 2 else 1 end,
        length({{ expr }})
        - case when substr({{ expr }}, 1, 1) = chr(65279) then 1 else 0 end
        - case when substr({{ expr }}, length({{ expr }}), 1) = chr(13) then 1 else 0 end
    )
{%- endmacro %}

{% macro redshift__raw_line_text(expr) -%}
    {#- Redshift's chr() is ASCII only: the byte-order mark is written as itself. -#}
    rtrim(ltrim({{ expr }}, '{{ "\ufeff" }}'), chr(13))
{%- endmacro %}
