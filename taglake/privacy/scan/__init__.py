"""The leak scanner (`taglake scan-pii`): canaries from the raw lake and the key, matched in a build and its files."""
