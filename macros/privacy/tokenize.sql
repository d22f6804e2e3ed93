{#- Personal-data treatments. The class of a column (`meta.pii` in the source YAML) decides which applies; see
    docs/privacy.md. Python's taglake.privacy.tokens mirrors normalize_pii and tokenize exactly (golden vectors test both). -#}

{#- The form a value is tokenized in, per class: national ID upper-case, mobile digits only in the domestic form
    (+886 9xx → 09xx), e-mail lower-case; every class trimmed of spaces. Null stays null. -#}
{% macro normalize_pii(expr, pii_class) -%}
    {%- if pii_class == 'national_id' -%}
        upper(trim({{ expr }}))
    {%- elif pii_class == 'mobile' -%}
        {%- set digits = digits_only(expr) -%}
        (case
            when {{ digits }} like '886%' and length({{ digits }}) = 12 then '0' || substr({{ digits }}, 4)
            else {{ digits }}
        end)
    {%- elif pii_class == 'email' -%}
        lower(trim({{ expr }}))
    {%- elif pii_class in ('name', 'address', 'birth_date', 'free_text') -%}
        trim({{ expr }})
    {%- else -%}
        {{ exceptions.raise_compiler_error("normalize_pii: unknown personal-data class '" ~ pii_class ~ "'") }}
    {%- endif -%}
{%- endmacro %}


{#- A deterministic keyed pseudonym: lowercase hex of SHA-256(k_outer ‖ hex SHA-256(k_inner ‖ normalised value)).
    `keys` names a relation in scope with the columns k_inner and k_outer (see masking_keys()); the key never
    appears in SQL text. Blank input gives null, never a token of the empty string. There is no switch that turns
    it off: the masking benchmark measures hashing's cost in a throwaway copy of the project (taglake.core.scratch),
    never here. -#}
{% macro tokenize(expr, pii_class, keys='masking_keys') -%}
    {%- set value = normalize_pii(expr, pii_class) -%}
    case when nullif({{ value }}, '') is not null then {{ keyed_hash(value, keys) }} end
{%- endmacro %}


{#- The keyed two-layer hash of an already normalised, non-blank text expression, identical on every engine. -#}
{% macro keyed_hash(value, keys='masking_keys') %}
    {{- return(adapter.dispatch('keyed_hash', 'taglake')(value, keys)) -}}
{% endmacro %}

{% macro default__keyed_hash(value, keys) -%}
    {{ sha256_hex(keys ~ '.k_outer || ' ~ sha256_hex(keys ~ '.k_inner || ' ~ value)) }}
{%- endmacro %}
