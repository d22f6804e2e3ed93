{#- The privacy guard: run as a post-hook on every model (dbt_project.yml), it fails the model, and drops what it
    built, when the model has a column whose name looks like personal data (pii_name_patterns(), plus every column
    the source YAML classifies), or text that looks like it (pii_content_patterns(), checked on the first
    var privacy_guard.sample_rows rows). Both pattern sets are generated from taglake/privacy/patterns.py
    (macros/privacy/pii_patterns.sql): every case, full-width form, separator and +886 prefix. In a daily run
    the content of an incremental model is checked on every row the run wrote instead (its landing window:
    run_window_start). Vault models, which exist only on the system targets, are the one exception. -#}
{% macro privacy_guard() %}
    {%- if not execute or model.fqn[1] == 'vault' -%}
        {{- return('') -}}
    {%- endif -%}
    {%- set screen = privacy_guard_screen() -%}
    {%- set columns, classified, shapes = screen.columns, screen.classified, screen.shapes -%}
    {%- set checked_rows, flagged = screen.checked_rows, screen.flagged -%}
    {%- set findings = [] -%}
    {#- Names: the classified source columns and JSON keys (privacy_guard_screen), and the name patterns. -#}
    {%- for column in columns -%}
        {%- set name = column.name | lower -%}
        {%- if name in classified -%}
            {%- do findings.append(name ~ ': a classified personal-data column, untreated') -%}
        {%- else -%}
            {%- for pattern in pii_name_patterns() if modules.re.search(pattern, name) -%}
                {%- do findings.append(name ~ ': its name looks like personal data') -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endfor -%}

    {#- Content: the columns the screen flagged, counted again shape by shape for the message. -#}
    {%- if flagged -%}
        {%- set checks = [] -%}
        {%- for name, quoted, spared, hits in flagged -%}
            {%- for kind, pattern in shapes.items() -%}
                {%- do checks.append((name, kind,
                    'sum(case when ' ~ regex_matches(quoted, pattern) ~ spared ~ ' then 1 else 0 end)')) -%}
            {%- endfor -%}
        {%- endfor -%}
        {%- set sql -%}
            select
            {%- for name, kind, expr in checks %}
                {{ expr }} as c{{ loop.index }}{{ ',' if not loop.last }}
            {%- endfor %}
            from {{ checked_rows }}
        {%- endset -%}
        {%- set row = run_query(sql).rows[0] -%}
        {%- for name, quoted, spared, hits in flagged -%}
            {%- set kinds = [] -%}
            {%- for check in checks -%}
                {%- set count = row[loop.index0] or 0 -%}
                {%- if check[0] == name and count > 0 -%}
                    {%- do kinds.append(check[1]) -%}
                    {%- do findings.append(name ~ ': ' ~ count ~ ' sampled values look like a ' ~ check[1]) -%}
                {%- endif -%}
            {%- endfor -%}
            {%- if not kinds -%}
                {%- do findings.append(name ~ ': ' ~ hits ~ ' sampled values look like personal data') -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}

    {%- if findings -%}
        {%- do adapter.drop_relation(this.incorporate(type='table' if model.config.materialized != 'view' else 'view')) -%}
        {{ exceptions.raise_compiler_error(
            'privacy guard: ' ~ this ~ ' may not hold clear personal data outside the vault, and was dropped:\n  - '
            ~ (findings | join('\n  - '))
            ~ '\nTreat the column in staging (masked_columns), or classify it in the source YAML.') }}
    {%- endif -%}
    {{- return('') -}}
{% endmacro %}

{#- The guard's screen (privacy_guard, above): the model's columns, the classified source columns, and the text
    columns whose checked rows hold a value of any personal-data shape, from one query. Returned as a mapping:
    columns, classified, shapes (pii_content_patterns()), checked_rows (the rows' relation, aliased) and flagged
    ((name, quoted, spared, hits) per flagged column). -#}
{% macro privacy_guard_screen() %}
    {%- set policy = var('privacy_guard') -%}
    {%- set columns = adapter.get_columns_in_relation(this) -%}
    {#- The classified source columns and JSON keys, and the declared identifiers. -#}
    {%- set classified = [] -%}
    {%- set identifiers = [] -%}
    {%- for node in graph.sources.values() -%}
        {%- for column in node.columns.values() -%}
            {%- if column.meta.get('pii') or column.meta.get('secret') -%}
                {%- do classified.append(column.name | lower) -%}
            {%- elif column.meta.get('content') == 'identifier' -%}
                {%- do identifiers.append(column.name | lower) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- for key in node.meta.get('json_keys', []) -%}
            {%- if key.get('pii') -%}
                {%- do classified.append(key.name | lower) -%}
            {%- elif key.get('content') == 'identifier' -%}
                {%- do identifiers.append(key.name | lower) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}

    {#- Content: text columns, on a sample. In a declared identifier column (not a classified one) a whole value
        that is an opaque identifier (a canonical UUID, opaque_identifier_pattern()) is spared: a random UUID can
        hold a run with a mobile's shape.
        Two steps, so that a clean model costs one pass of one regex per column: a screen counts, per column, the
        values matching any shape (the shapes joined into one alternation: one automaton, about three times
        faster than one regex per shape), and only the columns it flags are counted again shape by shape, for the
        message. A flagged column stays a finding whatever the second count says (fail closed). -#}
    {#- Which rows: in a daily run, every row an incremental model's run wrote (its landing window, from the
        newest landing the runner read before the build: run_window_start, by its window column: landing_date, or
        landed_through for an aggregate replaced per group, whose rows with new content are those at or after the
        window's start), however many; otherwise (a full build,
        a first build, a model that is not incremental, no window passed) the first sample_rows rows, as always. -#}
    {%- set window_column = run_window_column(columns | map(attribute='name')) -%}
    {%- set since = run_window_start(model.name)
        if model.config.materialized == 'incremental' and window_column is not none else none -%}
    {%- set shapes = pii_content_patterns() -%}
    {%- set any_shape = '(' ~ (shapes.values() | join(')|(')) ~ ')' -%}
    {%- set screened = [] -%}
    {%- for column in columns if column.is_string() -%}
        {%- set quoted = adapter.quote(column.name) -%}
        {%- set spared = (' and not ' ~ regex_matches(quoted, opaque_identifier_pattern()))
                         if (column.name | lower) in identifiers and (column.name | lower) not in classified else '' -%}
        {%- do screened.append((column.name, quoted, spared)) -%}
    {%- endfor -%}
    {%- set checked_rows -%}
        {%- if since is none -%}
            (select * from {{ this }} limit {{ policy.sample_rows }}) as sampled
        {%- else -%}
            (select * from {{ this }} where {{ in_run_window(since, window_column) }}) as sampled
        {%- endif -%}
    {%- endset -%}
    {%- set flagged = [] -%}
    {%- if screened -%}
        {%- set sql -%}
            select
            {%- for name, quoted, spared in screened %}
                sum(case when {{ regex_matches(quoted, any_shape) ~ spared }} then 1 else 0 end) as c{{ loop.index }}
                {{- ',' if not loop.last }}
            {%- endfor %}
            from {{ checked_rows }}
        {%- endset -%}
        {%- set row = run_query(sql).rows[0] -%}
        {%- for name, quoted, spared in screened -%}
            {%- if (row[loop.index0] or 0) > 0 -%}
                {%- do flagged.append((name, quoted, spared, row[loop.index0])) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {{- return({'columns': columns, 'classified': classified, 'shapes': shapes, 'checked_rows': checked_rows,
                'flagged': flagged}) -}}
{% endmacro %}
