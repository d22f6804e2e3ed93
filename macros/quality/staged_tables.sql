{#- Every raw source table with its staging models: the one list the data-quality models loop over. A literal, so
    that dbt sees each ref() when it parses. Add a raw table here when its staging models are added. -#}
{% macro staged_tables() %}
    {{- return([
        {'source_table': 'crm.customers', 'base': 'base_crm__customers', 'stg': 'stg_crm__customers'},
        {'source_table': 'core_banking.accounts', 'base': 'base_core_banking__accounts',
         'stg': 'stg_core_banking__accounts'},
        {'source_table': 'cards.transactions', 'base': 'base_cards__transactions', 'stg': 'stg_cards__transactions'},
        {'source_table': 'digital.app_events', 'base': 'base_digital__app_events', 'stg': 'stg_digital__app_events'},
        {'source_table': 'ml.model_scores', 'base': 'base_ml__model_scores', 'stg': 'stg_ml__model_scores'},
        {'source_table': 'ml.model_outcomes', 'base': 'base_ml__model_outcomes', 'stg': 'stg_ml__model_outcomes'},
    ]) -}}
{% endmacro %}
