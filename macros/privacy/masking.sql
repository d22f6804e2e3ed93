{#- How staging applies the treatments. A column's class comes from `meta.pii` in the source YAML; what the class
    becomes outside the vault comes from the `pii_treatments` var in dbt_project.yml. Both are declared once. -#}

{#- The one-row key relation, joined at masking time so that no key ever appears in SQL text. -#}
{% macro masking_keys() -%}
    select
        key_version,
        k_inner,
        k_outer
    from {{ source('privacy', 'masking_keys') }}
{%- endmacro %}


{#- The personal-data class of a source column, or none. -#}
{% macro pii_class(source_name, table_name, column_name) %}
    {%- for column in raw_table_columns(source_name, table_name) if column.name == column_name -%}
        {{- return(column.meta.get('pii')) -}}
    {%- endfor -%}
    {{- return(none) -}}
{% endmacro %}


{#- Each distinct value of a column with its token, computed once: a table that repeats a key on many rows joins
    this instead of hashing every row. Columns: `value` (as landed) and `token`. -#}
{% macro token_lookup(relation, column_name, pii_class, keys='masking_keys') -%}
    select
        distinct_values.value,
        {{ tokenize('distinct_values.value', pii_class, keys) }} as token
    from (
        select distinct {{ column_name }} as value
        from {{ relation }}
        where {{ column_name }} is not null
    ) as distinct_values
    cross join {{ keys }}
{%- endmacro %}


{#- The select-list entries (`expr as name`, comma-separated) a classified column becomes, per its class's
    treatments: tokenize → <token_name or column>_token, mask → <column>_masked, generalize → class-specific
    columns (address → city, district; birth_date → birth_year, age_band as of `as_of`), drop → nothing.
    Fails the compile for a column that is not classified, or a class with no treatment. -#}
{% macro treat_pii(source_name, table_name, column_name, relation='source', keys='masking_keys', as_of=none) %}
    {%- if not execute -%}
        {{- return('null as ' ~ column_name ~ '_pending') -}}
    {%- endif -%}
    {%- set cls = pii_class(source_name, table_name, column_name) -%}
    {%- if cls is none -%}
        {{ exceptions.raise_compiler_error(
            source_name ~ '.' ~ table_name ~ '.' ~ column_name ~ ' has no meta.pii class in the source YAML') }}
    {%- endif -%}
    {%- set treatments = var('pii_treatments').get(cls) -%}
    {%- if not treatments -%}
        {{ exceptions.raise_compiler_error("personal-data class '" ~ cls ~ "' has no entry in var pii_treatments") }}
    {%- endif -%}
    {%- set ref = relation ~ '.' ~ column_name -%}
    {%- set meta = (raw_table_columns(source_name, table_name) | selectattr('name', 'equalto', column_name) | first).meta -%}
    {%- set out = [] -%}
    {%- for treatment in treatments -%}
        {%- if treatment == 'tokenize' -%}
            {%- do out.append(tokenize(ref, cls, keys) ~ ' as ' ~ meta.get('token_name', column_name ~ '_token')) -%}
        {%- elif treatment == 'mask' and cls == 'mobile' -%}
            {%- do out.append(mask_mobile(ref) ~ ' as ' ~ column_name ~ '_masked') -%}
        {%- elif treatment == 'mask' and cls == 'email' -%}
            {%- do out.append(mask_email(ref) ~ ' as ' ~ column_name ~ '_masked') -%}
        {%- elif treatment == 'generalize' and cls == 'address' -%}
            {%- do out.append(address_city(ref) ~ ' as city') -%}
            {%- do out.append(address_district(ref) ~ ' as district') -%}
        {%- elif treatment == 'generalize' and cls == 'birth_date' -%}
            {%- if as_of is none -%}
                {{ exceptions.raise_compiler_error('treat_pii: a birth date needs as_of for its age band') }}
            {%- endif -%}
            {%- do out.append(birth_year(ref) ~ ' as birth_year') -%}
            {%- do out.append(age_band(ref, as_of) ~ ' as age_band') -%}
        {%- elif treatment == 'drop' -%}
        {%- else -%}
            {{ exceptions.raise_compiler_error("no treatment '" ~ treatment ~ "' for class '" ~ cls ~ "'") }}
        {%- endif -%}
    {%- endfor -%}
    {{- return(out | join(',\n        ')) -}}
{% endmacro %}
