"""SQL text for seeded, hash-based pseudo-randomness in DuckDB.

Every value is a pure function of the seed and the expressions hashed with it (an entity's index, a day
number, a salt), so any row can be regenerated alone and the same arguments give the same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence

_TWO_53 = 9007199254740992.0
# multipliers of the index permutations: primes that share no factor with 2, 5 or 13
_PERM_MULTIPLIERS = (15485863, 32452843, 49979687, 67867967, 86028121, 104395301)


def lit(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def lit_list(values: Sequence[str]) -> str:
    return "[" + ", ".join(lit(v) for v in values) + "]"


def hash_of(seed: int, *parts: str) -> str:
    """64-bit hash (UBIGINT) of the seed and SQL expressions ``parts``.

    DuckDB combines the hashes of several arguments weakly: hash(k, 'a') and hash(k, 'b') are strongly
    correlated (so one draw would constrain another of the same row). Hashing the combined value again mixes
    it fully, making draws with different salts independent.
    """
    return f"hash(hash({seed}, {', '.join(parts)}))"


def uniform(seed: int, *parts: str) -> str:
    """A double in [0, 1) from the seed and SQL expressions ``parts`` (include a salt literal)."""
    return f"(({hash_of(seed, *parts)} >> 11)::double / {_TWO_53})"


def below(seed: int, n: str | int, *parts: str) -> str:
    """An integer in [0, n) (n an integer or SQL integer expression)."""
    return f"(({hash_of(seed, *parts)} % ({n})::ubigint)::bigint)"


def normal(u1: str, u2: str) -> str:
    """A standard normal from two uniforms (Box–Muller); u1 is kept away from zero."""
    return f"(sqrt(-2 * ln(greatest({u1}, 1e-12))) * cos(2 * pi() * {u2}))"


def pick(values: Sequence[str], u: str) -> str:
    """One of ``values`` (Python strings), uniformly by the uniform ``u``."""
    return f"{lit_list(values)}[1 + floor({u} * {len(values)})::int]"


def weighted(options: Sequence[tuple[str, float]], u: str, *, raw: bool = False) -> str:
    """One of the options' values by weight, using the uniform ``u``.

    Values are Python strings turned into literals, or SQL expressions when ``raw``.
    """
    if len(options) == 1:
        return options[0][0] if raw else lit(options[0][0])
    total = float(sum(w for _, w in options))
    parts, acc = [], 0.0
    for value, weight in options[:-1]:
        acc += weight
        parts.append(f"when {u} < {acc / total!r} then {value if raw else lit(value)}")
    last = options[-1][0]
    return f"(case {' '.join(parts)} else {last if raw else lit(last)} end)"


def permute(seed: int, x: str, modulus: int, salt: str) -> str:
    """A seeded bijection of [0, modulus): distinct x give distinct results (x must be below modulus)."""
    mult = next(m for m in _PERM_MULTIPLIERS if _coprime(m, modulus))
    offset = f"({hash_of(seed, lit(salt))} % {modulus}::ubigint)::hugeint"
    return f"((({x})::hugeint * {mult} + {offset}) % {modulus})::bigint"


def _coprime(a: int, b: int) -> bool:
    while b:
        a, b = b, a % b
    return a == 1
