"""Privacy: the shapes of personal data, keys and tokens, the guarded dbt runner, rotation, the leak scanner."""
