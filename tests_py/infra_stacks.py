"""Helpers of the infra tests: the stacks under infra/ as data, and a small resolver of CloudFormation's intrinsic
functions (Ref, Fn::Sub, Fn::GetAtt, Fn::ImportValue, Fn::Join) for a given environment and account, so a template's
properties can be read as the concrete values AWS would see, or sent to moto's service APIs."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
INFRA = ROOT / "infra"
STACKS = INFRA / "stacks"
ENV = "dev"
ACCOUNT = "123456789012"
REGION = "ap-northeast-1"


def load(name: str, folder: Path = STACKS) -> dict[str, Any]:
    return yaml.safe_load((folder / f"{name}.yaml").read_text(encoding="utf-8"))


def all_stacks(folder: Path = STACKS) -> dict[str, dict[str, Any]]:
    return {p.stem: load(p.stem, folder) for p in sorted(folder.glob("*.yaml"))}


def params_file(env: str, stack: str) -> dict[str, str]:
    rows = json.loads((INFRA / "params" / env / f"{stack}.json").read_text(encoding="utf-8"))
    return {r["ParameterKey"]: r["ParameterValue"] for r in rows}


def parameters(template: Mapping[str, Any], given: Mapping[str, str]) -> dict[str, Any]:
    """The template's parameters: given values, else defaults."""
    out: dict[str, Any] = {}
    for name, spec in (template.get("Parameters") or {}).items():
        if name in given:
            out[name] = given[name]
        elif "Default" in spec:
            out[name] = spec["Default"]
    return out


_SUB = re.compile(r"\$\{([^}!][^}]*)\}")


class Resolver:
    """Resolve intrinsics. `physical` maps a logical id to what Ref gives; `attrs` maps (id, attribute) to GetAtt;
    `exports` maps an export name to its value (default: 'import:<name>')."""

    def __init__(
        self,
        params: Mapping[str, Any],
        *,
        physical: Mapping[str, str] | None = None,
        attrs: Mapping[tuple[str, str], str] | None = None,
        exports: Mapping[str, str] | Callable[[str], str] | None = None,
    ) -> None:
        self.params = {
            "AWS::AccountId": ACCOUNT,
            "AWS::Region": REGION,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            **params,
        }
        self.physical = dict(physical or {})
        self.attrs = dict(attrs or {})
        self.exports = exports if exports is not None else (lambda name: f"import:{name}")

    def _ref(self, name: str) -> Any:
        if name in self.params:
            return self.params[name]
        if name in self.physical:
            return self.physical[name]
        return f"ref:{name}"

    def _att(self, rid: str, attr: str) -> str:
        return self.attrs.get((rid, attr), f"att:{rid}.{attr}")

    def _export(self, name: str) -> str:
        if callable(self.exports):
            return self.exports(name)
        return self.exports[name]

    def _sub(self, text: str, extra: Mapping[str, Any]) -> str:
        def one(m: re.Match[str]) -> str:
            key = m.group(1)
            if key in extra:
                return str(extra[key])
            if "." in key and key.split(".", 1)[0] not in self.params:
                rid, attr = key.split(".", 1)
                return self._att(rid, attr)
            value = self._ref(key)
            return ",".join(value) if isinstance(value, list) else str(value)

        return _SUB.sub(one, text).replace("${!", "${")

    def __call__(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self._ref(arg)
            if key == "Fn::Sub":
                if isinstance(arg, list):
                    return self._sub(arg[0], {k: self(v) for k, v in arg[1].items()})
                return self._sub(arg, {})
            if key == "Fn::GetAtt":
                rid, attr = arg if isinstance(arg, list) else arg.split(".", 1)
                return self._att(rid, attr)
            if key == "Fn::ImportValue":
                return self._export(self(arg))
            if key == "Fn::Join":
                return arg[0].join(str(self(v)) for v in self(arg[1]))
        return {k: self(v) for k, v in value.items()}


def resolver_for(stack: str, env: str = ENV, **kwargs: Any) -> Resolver:
    template = load(stack)
    given = params_file(env, stack)
    return Resolver(parameters(template, given), **kwargs)


def resources(template: Mapping[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {rid: r for rid, r in (template.get("Resources") or {}).items() if r.get("Type") == kind}
