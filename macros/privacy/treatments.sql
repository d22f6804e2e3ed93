{#- Partial masks and generalisations (docs/privacy.md). A national ID is never partially shown: its letter and
    first digit reveal region and sex, so it is only ever tokenized. -#}

{#- A mobile for display: its last three digits, the rest starred (*******678). -#}
{% macro mask_mobile(expr) -%}
    {%- set digits = normalize_pii(expr, 'mobile') -%}
    case when nullif({{ digits }}, '') is not null then '*******' || substr({{ digits }}, length({{ digits }}) - 2) end
{%- endmacro %}

{#- An e-mail for display: its domain only (***@example.com). -#}
{% macro mask_email(expr) -%}
    {%- set email = normalize_pii(expr, 'email') -%}
    case when {{ email }} like '%_@_%' then '***@' || split_part({{ email }}, '@', 2) end
{%- endmacro %}

{#- Address → its city/county (縣市): the first three characters when they end in 市 or 縣. -#}
{% macro address_city(expr) -%}
    {{ regex_extract('trim(' ~ expr ~ ')', '^(.{2}[市縣])', 1) }}
{%- endmacro %}

{#- Address → its district (鄉鎮市區): what follows the city, up to and including the first 區, 鄉, 鎮 or 市. -#}
{% macro address_district(expr) -%}
    {{ regex_extract('trim(' ~ expr ~ ')', '^.{2}[市縣](.{1,3}?[區鄉鎮市])', 1) }}
{%- endmacro %}

{#- Birth date → birth year. `typed`: the expression is already a date (typed_values), else text to cast. -#}
{% macro birth_year(expr, typed=false) -%}
    extract(year from {{ expr if typed else cast_text(expr, 'date') }})
{%- endmacro %}

{#- Birth date → age band on a date (exact age in whole years, banded by decade: <20, 20-29, …, 70+). `typed`: the
    birth expression is already a date (typed_values), else text to cast. -#}
{% macro age_band(birth_expr, as_of_expr, typed=false) -%}
    {%- set born = birth_expr if typed else cast_text(birth_expr, 'date') -%}
    {%- set age -%}
        (extract(year from {{ as_of_expr }}) - extract(year from {{ born }})
        - case
            when extract(month from {{ as_of_expr }}) * 100 + extract(day from {{ as_of_expr }})
                < extract(month from {{ born }}) * 100 + extract(day from {{ born }}) then 1
            else 0
        end)
    {%- endset -%}
    case
        when {{ born }} is null then null
        when {{ age }} < 20 then '<20'
        when {{ age }} >= 70 then '70+'
        else cast(cast(floor({{ age }} / 10) * 10 as integer) as varchar)
            || '-' || cast(cast(floor({{ age }} / 10) * 10 + 9 as integer) as varchar)
    end
{%- endmacro %}
