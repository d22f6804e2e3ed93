"""Privacy: the shapes of personal data, keys, tokens and the leak scanner (being gathered here by concern)."""
