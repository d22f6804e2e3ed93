"""The masking benchmark draws its places from the generator's reference lists (taglake.lake.reference), not a copy."""

import duckdb

from taglake.bench import masking_treatments
from taglake.bench.masking_treatments import synthetic_table_sql
from taglake.lake import reference


def test_the_benchmark_keeps_no_list_of_its_own_places() -> None:
    assert not {"CITIES", "DISTRICTS", "STREETS"} & set(vars(masking_treatments))


def test_every_benchmark_address_is_a_reference_city_district_and_street() -> None:
    cities = [city.name for city in reference.CITIES]
    districts = {d for city in reference.CITIES for d in city.districts}
    with duckdb.connect() as con:
        con.sql(synthetic_table_sql(500))
        addresses = [row[0] for row in con.sql("select address from src").fetchall()]
    cities_seen = set()
    for address in addresses:
        city = next(c for c in cities if address.startswith(c))
        rest = address.removeprefix(city)
        district = next(d for d in districts if rest.startswith(d))
        assert any(rest.removeprefix(district).startswith(s) for s in reference.STREETS), "street"
        cities_seen.add(city)
    assert len(cities_seen) == len(reference.CITIES)
