"""`taglake query --target redshift`: the target's settings from profiles.yml and the environment, one connection,
one read-only query.

profiles.yml is the one declaration of the Redshift outputs: their values (`{{ env_var('TAGLAKE_REDSHIFT_HOST') }}`,
`{{ env_var('TAGLAKE_REDSHIFT_PASSWORD', '') }}`, …) are rendered here as dbt renders them, so the query connects where
dbt builds. A required variable that is not set is one line naming every missing one (taglake.core.targets). Method
`database` logs in with the user and password; method `iam` asks the cluster for temporary credentials
(redshift:GetClusterCredentials, boto3), so no password is kept anywhere. The driver is psycopg2 (Redshift speaks
PostgreSQL's wire protocol; the tests run this code against a PostgreSQL server on 127.0.0.1). With sslmode
verify-full (the profile's), libpq checks the server's certificate against ~/.postgresql/root.crt: put Amazon's
Redshift CA bundle there.

The session's search path is `<TAGLAKE_REDSHIFT_SCHEMA>_marts`, so `select * from mart_x` reads the mart as on
Athena (whose queries run in `<schema>_marts`). Every query runs in a transaction that is rolled back, under a
statement timeout. A failure is reported by its class and SQLSTATE only: PostgreSQL's and Redshift's messages quote
values.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from taglake.core import targets
from taglake.core.errors import TaglakeError
from taglake.core.project import Project
from taglake.ops.sql_policy import QueryRefused

# The consumption schema a query's unqualified names resolve in, as on Athena: `<schema>_marts`.
DEFAULT_LAYER = "marts"
STATEMENT_TIMEOUT_MS = 30 * 60 * 1000
_TLS = ("verify-full", "verify-ca", "require")
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_FIELDS = ("method", "host", "port", "dbname", "schema", "user", "password", "cluster_id", "region", "sslmode")


class RedshiftQueryFailed(TaglakeError, RuntimeError):
    """The connection or the query failed on Redshift."""


@dataclass(frozen=True)
class RedshiftSettings:
    method: str  # database | iam
    host: str
    port: int
    dbname: str
    schema: str  # the target's schema: its marts are `<schema>_marts`
    user: str
    password: str = ""
    cluster_id: str = ""
    region: str = ""
    sslmode: str = "verify-full"

    @property
    def search_path(self) -> str:
        return f"{self.schema}_{DEFAULT_LAYER}"

    def __repr__(self) -> str:  # never the password
        return f"RedshiftSettings(host={self.host!r}, port={self.port}, dbname={self.dbname!r}, user={self.user!r})"


def _render(value: Any, env: Mapping[str, str]) -> str:
    """A profiles.yml value rendered as dbt renders it: env_var(name[, default]) and the as_number filter."""
    from jinja2.sandbox import SandboxedEnvironment

    def env_var(name: str, default: str | None = None) -> str:
        if name in env:
            return env[name]
        if default is None:
            raise QueryRefused(f"set {name}: the Redshift target's settings read it (docs/deployment.md)")
        return default

    jinja = SandboxedEnvironment()
    jinja.filters["as_number"] = lambda v: v
    return jinja.from_string(str(value)).render(env_var=env_var).strip()


def redshift_settings(project: Project, target: str, env: Mapping[str, str] | None = None) -> RedshiftSettings:
    """The target's settings: its profiles.yml output rendered with the environment. QueryRefused (one line naming
    every missing variable) when a required one is not set."""
    env = os.environ if env is None else env
    declared = targets.target_of(target, project.root)
    if declared.engine != "redshift":
        raise QueryRefused(f"target {declared.name} is not a Redshift target")
    missing = declared.missing_env(env)
    if missing:
        raise QueryRefused(
            f"set {', '.join(missing)}: the {declared.name} target's settings read them (docs/deployment.md)"
        )
    doc = yaml.safe_load((project.root / "profiles.yml").read_text(encoding="utf-8"))
    output = doc[targets.PROFILE]["outputs"][declared.name]
    values = {name: _render(output.get(name, ""), env) for name in _FIELDS}
    if values["method"] not in ("database", "iam"):
        raise QueryRefused("TAGLAKE_REDSHIFT_METHOD must be `database` or `iam`")
    try:
        port = int(values["port"])
    except ValueError:
        raise QueryRefused("TAGLAKE_REDSHIFT_PORT must be a port number") from None
    if values["sslmode"] not in _TLS and values["host"] not in _LOOPBACK:
        raise QueryRefused(
            "TAGLAKE_REDSHIFT_SSLMODE: TLS may be turned off only for a server on this machine (127.0.0.1): "
            f"use {' or '.join(_TLS)}"
        )
    if values["method"] == "iam" and not values["cluster_id"]:
        raise QueryRefused("set TAGLAKE_REDSHIFT_CLUSTER_ID: method iam asks the cluster for temporary credentials")
    return RedshiftSettings(
        method=values["method"],
        host=values["host"],
        port=port,
        dbname=values["dbname"],
        schema=values["schema"],
        user=values["user"],
        password=values["password"],
        cluster_id=values["cluster_id"],
        region=values["region"],
        sslmode=values["sslmode"] or "verify-full",
    )


def _credentials(settings: RedshiftSettings, session: Any = None) -> tuple[str, str]:
    """(user, password): the settings' own for method database; temporary ones from the cluster for iam."""
    if settings.method == "database":
        return settings.user, settings.password
    import boto3

    client = (session or boto3.Session()).client("redshift", region_name=settings.region or None)
    try:
        found = client.get_cluster_credentials(
            DbUser=settings.user, DbName=settings.dbname, ClusterIdentifier=settings.cluster_id, AutoCreate=False
        )
    except Exception as exc:  # botocore's text can name the account and role: its class only
        raise RedshiftQueryFailed(
            f"Redshift refused temporary credentials ({type(exc).__name__}): check TAGLAKE_REDSHIFT_CLUSTER_ID, "
            "TAGLAKE_REDSHIFT_USER and the role's redshift:GetClusterCredentials"
        ) from None
    return str(found["DbUser"]), str(found["DbPassword"])


def connect(settings: RedshiftSettings, *, session: Any = None) -> Any:
    """A psycopg2 connection to the target, its search path the marts schema, a statement timeout set."""
    import psycopg2

    user, password = _credentials(settings, session)
    try:
        connection = psycopg2.connect(
            host=settings.host,
            port=settings.port,
            dbname=settings.dbname,
            user=user,
            password=password,
            sslmode=settings.sslmode,
            connect_timeout=30,
            application_name="taglake query",
        )
    except psycopg2.Error as exc:  # libpq's text names the host, user and sometimes more: its class only
        raise RedshiftQueryFailed(
            f"cannot connect to the Redshift target ({type(exc).__name__}): check TAGLAKE_REDSHIFT_HOST, "
            "TAGLAKE_REDSHIFT_PORT, TAGLAKE_REDSHIFT_DATABASE, the credentials and TLS (sslmode)"
        ) from None
    with connection.cursor() as cursor:
        cursor.execute("set search_path to " + _quote(settings.search_path))
        cursor.execute(f"set statement_timeout to {STATEMENT_TIMEOUT_MS}")
    connection.commit()
    return connection


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def run_redshift(connection: Any, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run one query and read every row; the transaction is rolled back whatever happens."""
    import psycopg2

    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            columns = [d[0] for d in cursor.description or []]
            rows = [tuple(row) for row in cursor.fetchall()] if columns else []
    except psycopg2.Error as exc:  # the server's message quotes the SQL and values: class and SQLSTATE only
        code = f", SQLSTATE {exc.pgcode}" if getattr(exc, "pgcode", None) else ""
        raise RedshiftQueryFailed(
            f"the query failed on Redshift ({type(exc).__name__}{code}): check the SQL, the names "
            "(unqualified names are marts) and the permissions"
        ) from None
    finally:
        connection.rollback()
    return columns, rows
