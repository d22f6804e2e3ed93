{#- True where `expr` is a well-formed Taiwan national ID with a valid checksum (../shared/domain.md):
    letter code d1 d2, digits n1…n9, and d1×1 + d2×9 + n1×8 + n2×7 + … + n7×2 + n8×1 + n9×1 ≡ 0 (mod 10).
    The letter's part, d1 + 9·d2, is tabled per letter below. Portable SQL: it runs on every engine. -#}
{% macro national_id_is_valid(expr) -%}
    {%- set letter_weight = {
        'A': 10, 'B': 11, 'C': 12, 'D': 13, 'E': 14, 'F': 15, 'G': 16, 'H': 17, 'I': 34, 'J': 18, 'K': 19,
        'L': 20, 'M': 21, 'N': 22, 'O': 35, 'P': 23, 'Q': 24, 'R': 25, 'S': 26, 'T': 27, 'U': 28, 'V': 29,
        'W': 32, 'X': 30, 'Y': 31, 'Z': 33
    } -%}
    {%- set id = 'upper(trim(' ~ expr ~ '))' -%}
    coalesce(
        {{ regex_matches(id, '^[A-Z][0-9]{9}$') }}
        and (
            case substr({{ id }}, 1, 1)
            {%- for letter, code in letter_weight.items() %}
                when '{{ letter }}' then {{ (code // 10) + 9 * (code % 10) }}
            {%- endfor %}
            end
            {%- for weight in [8, 7, 6, 5, 4, 3, 2, 1, 1] %}
            + {{ weight }} * {{ cast_text('substr(' ~ id ~ ', ' ~ (loop.index + 1) ~ ', 1)', 'integer') }}
            {%- endfor %}
        ) % 10 = 0,
        false
    )
{%- endmacro %}
