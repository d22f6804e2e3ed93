"""Replication of the application's marts into the bank's RDS Oracle (`taglake replicate`, docs/replication.md)."""
