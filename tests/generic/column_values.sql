{#- A model's column checks — not_null, accepted_values and expression_is_true — in one query (one scan of the
    model instead of one query per column and check: issue 16). Fails with one row per failing check, its kind,
    column and count of failing rows (never a value); dbt's failure count is the sum of those rows. The quality
    history records each check as its own row (macros/quality/quality_history.sql). -#}
{% test column_values(model, not_null=[], accepted_values={}, expression_is_true={}) %}
{{ config(fail_calc='coalesce(sum(failing_rows), 0)') }}
{{ column_values_sql(model, not_null, accepted_values, expression_is_true) }}
{% endtest %}
