{#- Fails with one row per duplicated combination of the given columns (a composite primary key): the columns and
    duplicate_rows (key_test_query, macros/engines/repeated_keys.sql). -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
{{ key_test_query(model, combination_of_columns) }}
{% endtest %}
