"""The replica's connection: a SQLAlchemy URL from an environment variable, or an RDS secret in AWS Secrets Manager
(the JSON RDS keeps: username, password, host, port, dbname, engine). The password is never printed: what is shown
of a URL is `shown(url)`, with the password replaced."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from taglake.replicate.spec import ReplicationError

DEFAULT_URL_ENV = "TAGLAKE_REPLICA_URL"
# Secrets Manager's `engine` → SQLAlchemy's driver.
_DRIVERS = {"oracle": "oracle+oracledb", "postgres": "postgresql+psycopg2", "postgresql": "postgresql+psycopg2"}


def url_from_env(name: str, env: Mapping[str, str] | None = None) -> sa.URL:
    value = (os.environ if env is None else env).get(name, "")
    if not value:
        raise ReplicationError(f"{name}: not set; put the replica's SQLAlchemy URL there or pass --secret-id")
    try:
        return sa.make_url(value)
    except sa.exc.ArgumentError:
        raise ReplicationError(
            f"{name}: not a SQLAlchemy URL (e.g. oracle+oracledb://user:…@host:1521/?service_name=ORCL)"
        ) from None


def url_from_secret(secret: Mapping[str, Any], name: str) -> sa.URL:
    """An RDS secret's fields as a URL (Oracle: the database name is the service name)."""
    missing = [k for k in ("username", "password", "host") if not secret.get(k)]
    if missing:
        raise ReplicationError(f"secret {name}: missing {', '.join(missing)} (RDS secret JSON)")
    engine = str(secret.get("engine", "oracle")).lower()
    driver = next((d for e, d in _DRIVERS.items() if engine.startswith(e)), None)
    if driver is None:
        raise ReplicationError(f"secret {name}: engine is neither oracle nor postgres")
    dbname = secret.get("dbname") or secret.get("service_name")
    oracle = driver.startswith("oracle")
    return sa.URL.create(
        driver,
        username=str(secret["username"]),
        password=str(secret["password"]),
        host=str(secret["host"]),
        port=int(secret.get("port") or (1521 if oracle else 5432)),
        database=None if oracle else (str(dbname) if dbname else None),
        query={"service_name": str(dbname)} if oracle and dbname else {},
    )


def url_from_secrets_manager(secret_id: str, client: Any) -> sa.URL:
    try:
        raw = client.get_secret_value(SecretId=secret_id)["SecretString"]
        secret = json.loads(raw)
    except (KeyError, ValueError):
        raise ReplicationError(f"secret {secret_id}: not an RDS secret's JSON string") from None
    if not isinstance(secret, dict):
        raise ReplicationError(f"secret {secret_id}: not an RDS secret's JSON object")
    return url_from_secret(secret, secret_id)


def shown(url: sa.URL) -> str:
    """The URL as it may be printed: no password."""
    return url.render_as_string(hide_password=True)
