"""The reject reasons live in one place, dbt_project.yml's `vars.reject_reasons`: every base model's case arm emits a
declared reason, every declared reason is emitted by some base model, each base model's accepted_values lists exactly
its arms, and every defect the generator injects to quarantine a row is one its table's base model catches."""

import ast
import re
from pathlib import Path

import yaml
from column_checks import accepted_values_of

from taglake.core.checkout import find_project_dir
from taglake.core.sources import project_var
from taglake.lake.raw_tables import ACCEPTED_KINDS, COLLAPSED_KINDS, TABLES, quarantine_kinds

ROOT = find_project_dir()
# The arms of the `case … end as reject_reason` expression: `then 'reason'`.
_CASE = re.compile(r"\bcase\b(?P<arms>(?:(?!\bcase\b).)*?)\bend\s+as\s+reject_reason\b", re.S | re.I)
_ARM = re.compile(r"\bthen\s+'(?P<reason>[a-z_]+)'", re.I)


def case_arms(sql: str) -> set[str]:
    """The reasons a base model's reject_reason case can give (its SQL, Jinja left in place)."""
    blocks = _CASE.findall(sql)
    assert len(blocks) == 1, "one `case … end as reject_reason` per base model"
    return set(_ARM.findall(blocks[0]))


def base_models() -> dict[str, set[str]]:
    """source.table → the reasons its base model emits."""
    found = {}
    for path in sorted((ROOT / "models" / "staging").glob("*/base/base_*__*.sql")):
        source, table = path.stem.removeprefix("base_").split("__", 1)
        found[f"{source}.{table}"] = case_arms(path.read_text(encoding="utf-8"))
    return found


def declared_accepted_values(source: str, table: str) -> set[str]:
    model = f"base_{source}__{table}"
    for yml in (ROOT / "models" / "staging").glob("*/_*__models.yml"):
        for node in yaml.safe_load(yml.read_text(encoding="utf-8")).get("models", []):
            if node["name"] != model:
                continue
            return set(accepted_values_of(node, "reject_reason"))
    raise AssertionError(f"{model}: not in any staging YAML")


def test_the_case_parser_reads_the_reasons_of_one_case() -> None:
    sql = "case when a then 'x_one' when {{ m('a', 'b') }} then 'y' end as reject_reason, case when z then 'no' end"
    assert case_arms(sql) == {"x_one", "y"}


def test_every_reason_a_base_model_emits_is_declared_and_every_declared_one_is_emitted() -> None:
    declared = set(project_var("reject_reasons"))
    emitted = base_models()
    assert set(emitted) == {t.name for t in TABLES}, sorted(emitted)
    for table, reasons in emitted.items():
        assert reasons <= declared, (table, sorted(reasons - declared))
    assert set().union(*emitted.values()) == declared


def test_each_reason_has_a_meaning() -> None:
    for reason, meaning in project_var("reject_reasons").items():
        assert isinstance(meaning, str) and meaning.strip(), reason


def test_each_base_model_tests_exactly_the_reasons_of_its_case_arms() -> None:
    for table, reasons in base_models().items():
        assert declared_accepted_values(*table.split(".")) == reasons, table


def test_the_mart_accepts_the_declared_list_not_a_copy() -> None:
    text = (ROOT / "models" / "marts" / "quality" / "_quality__models.yml").read_text(encoding="utf-8")
    assert "var('reject_reasons')" in text
    assert "values: [malformed_json" not in text


def test_python_reads_the_declared_reasons() -> None:
    assert quarantine_kinds() == tuple(project_var("reject_reasons"))


def test_every_defect_the_generator_injects_is_classified_and_quarantines_where_a_model_catches_it() -> None:
    emitted = base_models()
    for spec in TABLES:
        for kind in spec.defect_kinds:
            assert kind in set(quarantine_kinds()) | set(COLLAPSED_KINDS) | set(ACCEPTED_KINDS), (spec.name, kind)
            if kind in quarantine_kinds():
                assert kind in emitted[spec.name], (spec.name, kind)


def test_no_python_module_keeps_its_own_list_of_reasons() -> None:
    """A literal tuple, list or set naming most of the declared reasons would be a second copy of the list (a table's
    own few defects are not)."""
    declared = set(quarantine_kinds())
    for path in Path(ROOT / "taglake").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
                named = {e.value for e in node.elts if isinstance(e, ast.Constant)} & declared
                assert len(named) < len(declared) - 2, (path, node.lineno)


def test_every_quarantining_kind_a_feed_injects_is_declared_and_caught_by_its_base_model() -> None:
    import importlib
    import pkgutil

    import taglake.lake.feeds as feeds
    from taglake.lake.feeds.table_gen import TableGen

    for info in pkgutil.iter_modules(feeds.__path__):
        importlib.import_module(f"taglake.lake.feeds.{info.name}")
    generators = TableGen.__subclasses__()
    assert {g.table_name for g in generators} == {t.name for t in TABLES}, generators
    emitted, declared = base_models(), set(quarantine_kinds())
    for gen in generators:
        for kind in set(gen.injected) & declared:
            assert kind in emitted[gen.table_name], (gen.table_name, kind)
        assert set(gen.injected) - declared <= {"exact_duplicate", "same_day_version", "late_arrival"}, gen
