"""Every shell and SQL block of docs/**/*.md and README.md runs against the small lake, each as the kind declared
next to it (tests_py/doc_blocks.py: run, dry-run, server, aws, system, oracle), none skipped.

One scratch checkout for the module: the project's files, the session's built small lake, database, key and dbt
artifacts (`built_project`, no new dbt build), and `.venv` linked in, so blocks that write (an export, a query's
CSV) change nothing of the session's. A block fails on a non-zero exit, a traceback, or any clear personal value of
the raw zone (its canaries) in what it printed."""

from __future__ import annotations

import contextlib
import io
import json
import os
import py_compile
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pytest
from dbt_in_process import environment
from doc_blocks import SERVER_STARTS, Block, blocks_of, commands_of, doc_files, split_sql, substitute
from project_copy import run_taglake

from taglake.core.project import Project
from taglake.privacy.scan.canaries import collect_canaries

pytestmark = [pytest.mark.docs, pytest.mark.dbt]  # dbt: it reads the session build (built_project)

ROOT = Project.locate().root
BLOCKS = [block for path in doc_files(ROOT) for block in blocks_of(path, ROOT)]
VENV_BIN = Path(sys.executable).parent
REGION = "ap-northeast-1"
ACCOUNT = "123456789012"  # moto's account
_IGNORED = {".venv", ".git", "lake", "build", "target", "logs", ".secrets", "dbt_packages", "__pycache__"}
_AMBIENT = re.compile(r"^(TAGLAKE_|DBT_|AWS_)")


@pytest.fixture(scope="module")
def checkout(built_project: Project, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scratch copy of the checkout holding the built small lake at its default paths."""
    root = tmp_path_factory.mktemp("docs") / "taglake"
    shutil.copytree(ROOT, root, ignore=lambda _d, names: [n for n in names if n in _IGNORED], symlinks=True)
    (root / ".venv").symlink_to(VENV_BIN.parent)
    # make's `setup` compares the venv's stamp with these two files: the venv the test runs is the one to use, so
    # the copies are no newer than it (else `make dashboard` would try to remake the linked venv).
    stamp = VENV_BIN.parent / ".installed-stamp"
    if stamp.exists():
        for name in ("requirements.lock", "pyproject.toml"):
            when = min((root / name).stat().st_mtime, stamp.stat().st_mtime - 1)
            os.utime(root / name, (when, when))
    shutil.copytree(built_project.lake_dir, root / "lake")
    (root / "build").mkdir()
    shutil.copy2(built_project.duckdb_path, root / "build" / "taglake.duckdb")
    (root / ".secrets").mkdir(mode=0o700)
    shutil.copy2(built_project.key_file, root / ".secrets" / "masking_keys.csv")
    shutil.copytree(built_project.target_path, root / "target")
    return root


@pytest.fixture(scope="module")
def canaries(built_project: Project) -> list[str]:
    """The raw zone's clear values that must never be printed (names of three characters or more: a shorter one
    is found inside countless unrelated words)."""
    found = collect_canaries(built_project.lake_dir)
    values = {v for kind, vs in found.items() for v in vs if kind != "name" or len(v) >= 3}
    return sorted(v.casefold() for v in values if len(v) >= 3)


@pytest.fixture(scope="module")
def placeholders(checkout: Path) -> dict[str, str]:
    """Values for the placeholders the docs write (`<token>`: a customer token of the build)."""
    with duckdb.connect(str(checkout / "build" / "taglake.duckdb"), read_only=True) as con:
        schema = con.execute(
            "select table_schema from information_schema.tables where table_name = 'dim_customers'"
        ).fetchone()[0]
        token = con.execute(f'select min(customer_token) from "{schema}".dim_customers').fetchone()[0]
    return {
        "<token>": token,
        "<acct>": ACCOUNT,
        "<account id>": ACCOUNT,
        "<package>": "privacy",
        "<schema>": "taglake",
        "<analyst-results>": "taglake-prod-analyst-results",
    }


def _env(checkout: Path, **extra: str) -> dict[str, str]:
    """The shell a reader has in the checkout: .venv/bin first, no ambient taglake/dbt/AWS setting."""
    env = {k: v for k, v in os.environ.items() if not _AMBIENT.match(k)}
    env["PATH"] = f"{checkout / '.venv' / 'bin'}:{env.get('PATH', '')}"
    env.update(extra)
    return env


def _bash(script: str, cwd: Path, env: dict[str, str], timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", "set -eo pipefail\n" + script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _check(block: Block, result: subprocess.CompletedProcess[str], canaries: list[str], what: str = "") -> None:
    where = f"{block.id} ({block.kind}){' ' + what if what else ''}"
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{where}: exit {result.returncode}\n{output[-3000:]}"
    assert "Traceback" not in output, f"{where}: a traceback\n{output[-3000:]}"
    folded = output.casefold()
    leaked = [c for c in canaries if c in folded]
    assert not leaked, f"{where}: {len(leaked)} clear personal value(s) of the raw zone in the output (not shown)"


# ---- kinds --------------------------------------------------------------------------------------------------------


_SHELL = re.compile(r"[|&;<>$`(){}*?~]")


def _in_process(command: str) -> list[str] | None:
    """The arguments of a plain `taglake …` command (no pipe, redirection, substitution or glob), which runs as
    the same entry point (taglake.cli.main) in this process, dbt in-process too: no interpreter start-up and one dbt
    parse for all blocks. None for anything else, which runs in bash."""
    if _SHELL.search(command.replace("{{ ref(", "").replace(") }}", "")):
        return None
    words = shlex.split(command)
    return words[1:] if words and words[0] == "taglake" else None


def _run(block: Block, checkout: Path, env: dict[str, str], values: dict[str, str], canaries: list[str]) -> None:
    if block.language == "sql":
        for statement in split_sql(substitute(block.text, values)):
            result = run_taglake(["query", "--sql", statement, "--limit", "5"], env, cwd=checkout)
            _check(block, result, canaries, f"statement {statement[:60]!r}")
        return
    text = substitute(block.text, values)
    commands = commands_of(text)
    plain = [_in_process(c) for c in commands]
    if all(args is not None for args in plain):
        for command, args in zip(commands, plain, strict=True):
            _check(block, run_taglake(args or [], env, cwd=checkout), canaries, repr(command[:60]))
        return
    _check(block, _bash(text, checkout, env), canaries)


def _parse_and_check(args: list[str], checkout: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """What main() does before it runs a command (parse; the target, the system identity, the dbt passthrough
    policy), in this process, the command itself not run; an error reported as main() reports it."""
    from taglake import cli
    from taglake.core.errors import report

    out, err = io.StringIO(), io.StringIO()
    with environment(env, checkout), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            ns = cli.build_parser().parse_args(args)
            cli._check_target(ns, Project.locate(), cli._target_of(ns))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 2
        except Exception as exc:
            code = report(exc, args[0] if args else None, argv=args)
    return subprocess.CompletedProcess(["taglake", *args], code, out.getvalue(), err.getvalue())


def _dry_run(block: Block, checkout: Path, env: dict[str, str], values: dict[str, str], canaries: list[str]) -> None:
    """make → make -n; taglake → parsed and checked as main() checks before running; python FILE → FILE compiles.
    `as=system`: with the local system identity; `as=aws-system`: in the system role's session on a moto_server
    (the role's ARN as TAGLAKE_SYSTEM_IDENTITY, as on AWS)."""
    if block.options.get("as") == "system":
        env = {**env, "TAGLAKE_SYSTEM_IDENTITY": str(_identity(checkout, env))}
    if block.options.get("as") == "aws-system":
        with _moto() as endpoint:
            _dry_run_commands(block, checkout, {**env, **_system_role_session(endpoint)}, values, canaries)
        return
    _dry_run_commands(block, checkout, env, values, canaries)


def _system_role_session(endpoint: str) -> dict[str, str]:
    """The environment of a session of the system role `taglake-dev-system`, assumed on the moto_server."""
    base = {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"}],
    }
    role = _client("iam", base).create_role(RoleName="taglake-dev-system", AssumeRolePolicyDocument=json.dumps(trust))
    creds = _client("sts", base).assume_role(RoleArn=role["Role"]["Arn"], RoleSessionName="docs-test")["Credentials"]
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": creds["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
        "AWS_SESSION_TOKEN": creds["SessionToken"],
        "AWS_DEFAULT_REGION": REGION,
        "TAGLAKE_AWS_REGION": REGION,
        "TAGLAKE_SYSTEM_IDENTITY": role["Role"]["Arn"],
    }


@contextlib.contextmanager
def _moto() -> Iterator[str]:
    """A moto_server on a free port of 127.0.0.1, stopped on leaving."""
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    # moto's backends are the process's: what an earlier block made would still be there.
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10).close()
    try:
        yield endpoint
    finally:
        server.stop()


def _dry_run_commands(
    block: Block, checkout: Path, env: dict[str, str], values: dict[str, str], canaries: list[str]
) -> None:
    syntax = subprocess.run(["bash", "-n", "-c", block.text], capture_output=True, text=True, check=False)
    assert syntax.returncode == 0, f"{block.id}: not valid shell: {syntax.stderr}"
    for command in commands_of(substitute(block.text, values)):
        assignment = re.fullmatch(r"(?:export\s+)?[A-Za-z_]\w*=(.*)", command)
        if assignment:
            inner = re.fullmatch(r"\$\((make .*)\)", assignment.group(1))
            if not inner:
                continue  # a plain variable assignment
            command = inner.group(1)
        words = shlex.split(command)
        if words[0] == "make":
            result = _bash(shlex.join(["make", "-n", *words[1:]]), checkout, env)
        elif words[0] == "taglake":
            result = _parse_and_check(words[1:], checkout, env)
        elif words[0].endswith("python") and len(words) > 1 and words[1].endswith(".py"):
            py_compile.compile(str(checkout / words[1]), doraise=True)
            continue
        else:
            raise AssertionError(f"{block.id}: a dry-run block holds {words[0]!r}, which this test cannot dry-run")
        _check(block, result, canaries, f"dry run of {shlex.join(words[:3])!r}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # any HTTP answer: the server is up
    except OSError:
        return False


@contextlib.contextmanager
def _server(
    command: str, checkout: Path, env: dict[str, str], port: int, block: Block, canaries: list[str]
) -> Iterator[None]:
    words = shlex.split(command)
    if words[0] == "make":
        command += f" DOCS_PORT={port} DASHBOARD_PORT={port}"
    else:
        command += f" --port {port}"
    log = checkout / f"server-{port}.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            ["bash", "-c", command], cwd=checkout, env=env, stdout=out, stderr=out, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 120
        while not _answers(port):
            assert proc.poll() is None, f"{block.id}: {command!r} exited {proc.returncode}\n{log.read_text()[-2000:]}"
            assert time.monotonic() < deadline, f"{block.id}: {command!r} did not answer on 127.0.0.1:{port}"
            time.sleep(0.5)
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    text = log.read_text(encoding="utf-8", errors="replace")
    assert "Traceback" not in text, f"{block.id}: the server printed a traceback\n{text[-2000:]}"
    assert not [c for c in canaries if c in text.casefold()], f"{block.id}: a raw-zone value in the server's output"


def _serve(block: Block, checkout: Path, env: dict[str, str], values: dict[str, str], canaries: list[str]) -> None:
    declared = block.options["port"]
    port = _free_port()
    text = substitute(block.text, values).replace(f":{declared}", f":{port}")
    commands = commands_of(text)
    servers = [i for i, c in enumerate(commands) if c.startswith(SERVER_STARTS)]
    assert servers, f"{block.id}: a server block with no line that starts a server"
    for before in commands[: servers[0]]:
        _check(block, _bash(before, checkout, env), canaries, repr(before[:60]))
    for n, start in enumerate(servers):
        end = servers[n + 1] if n + 1 < len(servers) else len(commands)
        with _server(commands[start], checkout, env, port, block, canaries):
            for line in commands[start + 1 : end]:
                _check(block, _bash(line, checkout, env), canaries, repr(line[:60]))


def _client(service: str, env: dict[str, str]):
    import boto3

    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=env["AWS_ENDPOINT_URL"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _aws_setup_sns(env: dict[str, str]) -> dict[str, str]:
    sns, sqs = _client("sns", env), _client("sqs", env)
    topic = sns.create_topic(Name="taglake-dev-alerts")["TopicArn"]
    queue = sqs.create_queue(QueueName="taglake-dev-alerts")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    env["TAGLAKE_ALERT_TOPIC_ARN"] = topic
    return {"<queue arn>": arn, "<on-call mobile>": "+886900000000"}


def _aws_setup_masking_key(env: dict[str, str]) -> dict[str, str]:
    env.update({"ENV": "dev", "ACCT": ACCOUNT})
    _client("secretsmanager", env).create_secret(Name="taglake/dev/masking-key")
    _client("s3", env).create_bucket(
        Bucket=f"taglake-dev-{ACCOUNT}-restricted", CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    kms = _client("kms", env)
    kms.create_alias(AliasName="alias/taglake-dev-restricted", TargetKeyId=kms.create_key()["KeyMetadata"]["KeyId"])
    return {}


def _aws_setup_cloudformation(env: dict[str, str]) -> dict[str, str]:
    env.update({"ENV": "dev", "ACCT": ACCOUNT})
    return {}


def _aws_check_masking_key(env: dict[str, str], output: str) -> None:
    """The key reached the restricted bucket as the secret holds it, and was never printed."""
    secret = _client("secretsmanager", env).get_secret_value(SecretId="taglake/dev/masking-key")["SecretString"]
    body = (
        _client("s3", env)
        .get_object(Bucket=f"taglake-dev-{ACCOUNT}-restricted", Key="restricted_keys/masking_keys/masking_keys.csv")[
            "Body"
        ]
        .read()
    )
    assert body.decode().strip() == secret.strip() and secret.startswith("key_version,k_inner,k_outer\n1,")
    assert not any(part in output for part in secret.splitlines()[1].split(",")[1:]), "the key was printed"


AWS_CHECKS: dict[str, Callable[[dict[str, str], str], None]] = {"masking-key": _aws_check_masking_key}

AWS_SETUPS: dict[str, Callable[[dict[str, str]], dict[str, str]]] = {
    "sns": _aws_setup_sns,
    "masking-key": _aws_setup_masking_key,
    "cloudformation": _aws_setup_cloudformation,
}


@pytest.fixture(scope="module")
def awscli_bin(checkout: Path) -> Path:
    """The AWS CLI, in its own venv (`make venv-awscli`: its botocore pin conflicts with requirements.lock)."""
    made = subprocess.run(["make", "-s", "venv-awscli"], cwd=checkout, capture_output=True, text=True, check=True)
    return Path(made.stdout.strip().splitlines()[-1]) / "bin"


def _aws(
    block: Block, checkout: Path, env: dict[str, str], values: dict[str, str], canaries: list[str], awscli: Path
) -> None:
    with _moto() as endpoint:
        env = {
            **env,
            "PATH": f"{awscli}:{env['PATH']}",
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
        }
        values = {**values, **AWS_SETUPS[block.options["setup"]](env)}
        script = substitute(block.text, values)
        if "call" in block.options:  # the block defines a function the text then calls
            script += "\n" + block.options["call"].replace(":", " ")
        result = _bash(script, checkout, env, timeout=120)
        _check(block, result, canaries)
        AWS_CHECKS.get(block.options["setup"], lambda _env, _out: None)(env, result.stdout + result.stderr)


def _identity(checkout: Path, env: dict[str, str]) -> Path:
    """The system identity, made the documented way (`taglake system-identity init`) once per checkout."""
    identity = checkout / ".secrets" / "system_identity.json"
    if not identity.exists():
        made = subprocess.run(
            ["taglake", "system-identity", "init", "--file", str(identity)], cwd=checkout, env=env, check=False
        )
        assert made.returncode == 0
    return identity


def _system(block: Block, checkout: Path, env: dict[str, str], values: dict[str, str], canaries: list[str]) -> None:
    env = {**env, "TAGLAKE_SYSTEM_IDENTITY": str(_identity(checkout, env))}
    _check(block, _bash(substitute(block.text, values), checkout, env), canaries)


def _oracle(block: Block) -> None:
    import sqlglot

    for statement in split_sql(block.text):
        sqlglot.parse_one(statement, read="oracle", error_level=sqlglot.ErrorLevel.RAISE)


@pytest.mark.parametrize("block", BLOCKS, ids=[b.id for b in BLOCKS])
def test_doc_block_runs_as_declared(
    block: Block,
    checkout: Path,
    placeholders: dict[str, str],
    canaries: list[str],
    request: pytest.FixtureRequest,
) -> None:
    env = _env(checkout)
    if block.kind == "run":
        _run(block, checkout, env, placeholders, canaries)
    elif block.kind == "dry-run":
        _dry_run(block, checkout, env, placeholders, canaries)
    elif block.kind == "server":
        _serve(block, checkout, env, placeholders, canaries)
    elif block.kind == "aws":
        _aws(block, checkout, env, placeholders, canaries, request.getfixturevalue("awscli_bin"))
    elif block.kind == "system":
        _system(block, checkout, env, placeholders, canaries)
    else:
        assert block.kind == "oracle" and block.language == "sql", f"{block.id}: kind {block.kind}"
        _oracle(block)


def test_every_doc_block_is_collected_with_a_known_kind() -> None:
    """The parser sees the blocks (a fence it missed would never run) and knows every declared kind."""
    assert len(BLOCKS) >= 20
    shells = sum(
        1
        for path in doc_files(ROOT)
        for line in path.read_text(encoding="utf-8").splitlines()
        if re.match(r"^\s*```(bash|sh|shell|sql)\s*$", line)
    )
    assert shells == len(BLOCKS)
    assert {b.kind for b in BLOCKS} <= {"run", "dry-run", "server", "aws", "system", "oracle"}


def test_a_failing_block_fails(checkout: Path, canaries: list[str], placeholders: dict[str, str]) -> None:
    """The checks can fail: a non-zero exit, a traceback and a printed canary each fail a block."""
    block = Block("x.md", 1, "shell", "run")
    env = _env(checkout)
    for script in ("taglake query --sql 'select * from no_such_mart'", "echo 'Traceback (most recent call last):'"):
        with pytest.raises(AssertionError):
            _check(block, _bash(script, checkout, env), canaries)
    with pytest.raises(AssertionError):
        _check(block, _bash(f"echo {shlex.quote(canaries[0].upper())}", checkout, env), canaries)
    with pytest.raises(AssertionError):
        _dry_run(Block("x.md", 1, "shell", "dry-run", text="make no-such-target"), checkout, env, placeholders, [])
    with pytest.raises(AssertionError):
        _dry_run(Block("x.md", 1, "shell", "dry-run", text="taglake build --no-such-flag"), checkout, env, {}, [])
    with pytest.raises(AssertionError):  # a server that exits instead of answering
        _serve(
            Block("x.md", 1, "shell", "server", {"port": "8788"}, "taglake serve api --no-such-flag"),
            checkout,
            env,
            placeholders,
            [],
        )
    assert json.dumps(placeholders)  # the build gave a token
