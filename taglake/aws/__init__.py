"""The AWS side of taglake: who reads what (the access declaration), Lake Formation tags and grants."""
