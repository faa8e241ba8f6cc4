"""Offline geocoding: towns, ambiguity (resolved or refused), counties, addresses, countries,
non-US places, hostile text; the records the pipeline makes, and the export/report columns."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from scripted_records import scripted_records

from summarizer import geocode as geo
from summarizer.export import ExportFormat, acled_row, export, plover_record
from summarizer.report import render
from summarizer.schema import ArticleAnalysis, Extraction, Place


def _geo(text: str, country: str | None = "USA", admin1: str | None = None, **kw: str) -> Place:
    return geo.geocode(Place(text=text, country=country, admin1=admin1), **kw)


def _km(place: Place, lat: float, lon: float) -> float:
    assert place.latitude is not None and place.longitude is not None, place.geo_note
    return geo.haversine_km(place.latitude, place.longitude, lat, lon)


@pytest.fixture(scope="module")
def records(request: pytest.FixtureRequest, scripted_url: str) -> list[ArticleAnalysis]:
    return scripted_records(request.config, scripted_url)


def test_a_town_resolves_to_itself_with_its_county_and_state() -> None:
    got = _geo("Rock Falls", admin1="Illinois")
    assert got.geo_precision == 1 and got.geo_note == "town"
    assert _km(got, 41.7797, -89.689) < 2
    assert (got.geo_name, got.admin1_name, got.admin2) == (
        "Rock Falls",
        "Illinois",
        "Whiteside County",
    )
    assert isinstance(got.geonames_id, int)
    assert (got.text, got.country, got.admin1) == ("Rock Falls", "USA", "Illinois")  # kept


def test_admin1_resolves_a_shared_name_as_name_or_code() -> None:
    illinois = _geo("Springfield", admin1="Illinois")
    assert _km(illinois, 39.80, -89.64) < 5
    assert _geo("Springfield", admin1="IL").geonames_id == illinois.geonames_id
    assert _geo("Springfield, Illinois", admin1=None).geonames_id == illinois.geonames_id
    missouri = _geo("Springfield", admin1="Missouri")
    assert _km(missouri, 37.21, -93.30) < 5 and missouri.admin1_name == "Missouri"


def test_a_shared_name_without_admin1_is_refused_with_a_reason() -> None:
    got = _geo("Springfield")
    assert got.latitude is None and got.longitude is None and got.geo_precision is None
    assert got.geo_note is not None and got.geo_note.startswith("ambiguous: ")
    assert "places named Springfield in USA, no admin1" in got.geo_note


def test_the_article_context_resolves_what_the_place_alone_cannot() -> None:
    dateline = "SPRINGFIELD, Mo. — Police said a man was shot on Tuesday."
    assert _geo("Springfield", context=dateline).admin1_name == "Missouri"
    named = "A trooper of the Illinois State Police said the boy died in Springfield."
    got = _geo("Springfield", context=named)
    assert got.admin1_name == "Illinois" and "states named in the text" in (got.geo_note or "")
    near = _geo("Springfield", context="CHICOPEE – A man was shot on Main Street.")
    assert near.admin1_name == "Massachusetts" and "by dateline place" in (near.geo_note or "")
    # A state named in the text does not help when no candidate is in it: still refused.
    assert _geo("Springfield", context="Officials in Alaska said nothing.").latitude is None


def test_population_decides_only_when_one_candidate_clearly_dominates() -> None:
    paris = _geo("Paris", country=None)
    assert paris.admin1_name == "Île-de-France" and "by population" in (paris.geo_note or "")
    assert _geo("Springfield", country=None).latitude is None  # 22+ of similar size


@pytest.mark.parametrize(
    ("text", "admin1", "state", "lat", "lon"),
    [
        ("Madison County", "Georgia", "Georgia", 34.13, -83.21),
        ("Marion (county)", "Texas", "Texas", 32.80, -94.36),
        ("Cook County", None, "Illinois", 41.84, -87.82),  # by population: IL over GA, MN
    ],
)
def test_a_county_gets_its_point_and_precision_2(
    text: str, admin1: str | None, state: str, lat: float, lon: float
) -> None:
    got = _geo(text, admin1=admin1)
    assert got.geo_precision == 2 and got.admin1_name == state
    assert got.admin2 is not None and got.admin2.endswith("County") and got.geonames_id is None
    assert _km(got, lat, lon) < 40  # a county is ~30-50 km across


def test_a_county_name_shared_by_many_states_is_refused() -> None:
    got = _geo("Madison County")
    assert got.latitude is None and (got.geo_note or "").startswith("ambiguous: ")
    assert "counties named Madison County" in (got.geo_note or "")


@pytest.mark.parametrize(
    ("text", "admin1", "lat", "lon"),
    [
        ("the 2800 block of West Main Street in Springfield", "IL", 39.80, -89.64),
        ("south side of Chicago", None, 41.85, -87.65),
        ("Chicago’s South Side", None, 41.85, -87.65),
        ("Chicago (Englewood)", "Illinois", 41.85, -87.65),
        ("near Rock Falls", "Illinois", 41.78, -89.69),
    ],
)
def test_a_neighbourhood_or_address_resolves_to_its_city_at_precision_2(
    text: str, admin1: str | None, lat: float, lon: float
) -> None:
    got = _geo(text, admin1=admin1)
    assert got.geo_precision == 2, got.geo_note
    assert _km(got, lat, lon) < 5
    assert (got.geo_note or "").startswith(f"within or near {got.geo_name}")


def test_a_country_alone_gets_a_point_inside_it_at_precision_3() -> None:
    got = _geo("Iraq", country="IRQ")
    assert got.geo_precision == 3 and got.geonames_id == 99237 and got.geo_name == "Iraq"
    assert 29 < (got.latitude or 0) < 37.5 and 38.8 < (got.longitude or 0) < 48.6
    assert got.admin1_name is None and (got.geo_note or "").startswith("country-level")
    assert _geo("Illinois").geo_precision == 3 and _geo("Illinois").geo_name == "Illinois"


def test_non_us_places_of_the_seed_article() -> None:
    baghdad = _geo("Baghdad", country="IRQ", admin1="Baghdad")
    assert baghdad.geo_precision == 1 and _km(baghdad, 33.34, 44.40) < 5
    assert baghdad.admin1_name == "Baghdad"
    # Taji is not a cities500 place: the admin1 the model gave is what is known.
    taji = _geo("Taji military base", country="IRQ", admin1="Baghdad")
    assert taji.geo_precision == 3 and _km(taji, 33.52, 44.27) < 50
    assert "Taji" in (taji.geo_note or "")
    assert _geo("medellin", country="COL").admin1_name == "Antioquia"  # lower case, no accent


def test_an_admin1_the_gazetteer_does_not_know_is_not_used_to_refuse() -> None:
    erbil = _geo("Erbil", country="IRQ", admin1="Kurdistan Region")  # the seed's dateline
    assert erbil.geo_precision == 1 and _km(erbil, 36.19, 44.01) < 5
    assert (erbil.geo_note or "").endswith("admin1 'Kurdistan Region' not recognised, not used")
    washington = _geo("Washington, D.C.", admin1=None)
    assert washington.admin1_name == "District of Columbia" and _km(washington, 38.9, -77.04) < 5


def test_saint_and_st_and_accents_meet() -> None:
    st = _geo("St. Louis", admin1="Missouri")
    assert st.geo_precision == 1 and _geo("Saint Louis", admin1="MO").geonames_id == st.geonames_id
    assert (
        _geo("St. Cloud", admin1="Florida").geonames_id
        == _geo("Saint Cloud", admin1="Florida").geonames_id
    )
    assert _geo("Bogotá", country="COL").geonames_id == _geo("bogota", country="COL").geonames_id


@pytest.mark.parametrize(
    "text",
    ["", "   ", "<script>alert(1)</script>", "x" * 5000, "\x00\x1b[31m", "'); DROP TABLE --"],
)
def test_hostile_or_empty_text_is_unresolved_not_an_error(text: str) -> None:
    got = _geo(text, country="XXX", admin1="<b>")
    assert got.latitude is None and got.geo_precision is None
    assert (got.geo_note or "").startswith("unresolved: ")


def test_an_unknown_place_is_unresolved_or_falls_back_to_its_state_with_a_note() -> None:
    got = _geo("Xyzzyville")
    assert got.latitude is None and got.geo_note == "unresolved: 'Xyzzyville' not in the gazetteer"
    in_ohio = _geo("Xyzzyville", admin1="Ohio")
    assert in_ohio.geo_precision == 3 and in_ohio.admin1_name == "Ohio"
    assert in_ohio.geo_note is not None and "point of Ohio" in in_ohio.geo_note
    assert _km(in_ohio, 40.4, -82.7) < 100
    wrong_state = _geo("Rock Falls", admin1="Alaska")
    assert wrong_state.geo_precision == 3 and wrong_state.admin1_name == "Alaska"
    assert "no place named Rock Falls in Alaska" in (wrong_state.geo_note or "")


def test_geo_fields_are_output_only() -> None:
    """The model-facing schema (and so every request body and cassette) is unchanged."""
    schema = json.dumps(Extraction.model_json_schema())
    assert "latitude" not in schema and "geo_precision" not in schema


def test_pipeline_records_carry_points(records: list[ArticleAnalysis]) -> None:
    seed = next(r for r in records if r.article.id == "centcom-strikes-iraq")
    places = [e.location for e in seed.events if e.location]
    assert places and all(p.geo_note for p in places)
    baghdad = [p for p in places if p.text == "Baghdad"]
    assert baghdad and all(p.geo_precision == 1 and _km(p, 33.34, 44.40) < 5 for p in baghdad)
    assert {p.geo_precision for p in places if p.text == "Iraq"} == {3}
    again = geo.geocode_record(seed)
    assert [e.location for e in again.events] == [e.location for e in seed.events]


def _with_place(records: list[ArticleAnalysis], place: Place) -> ArticleAnalysis:
    record = records[0].model_copy(deep=True)
    record.events[0].location = place
    return record


def test_exports_carry_the_geocode(records: list[ArticleAnalysis], tmp_path: Path) -> None:
    place = _geo("the 2800 block of West Main Street in Springfield", admin1="IL")
    record = _with_place(records, place)
    event = record.events[0]
    row = acled_row(record, event)
    assert (row["latitude"], row["longitude"]) == (
        f"{place.latitude:.4f}",
        f"{place.longitude:.4f}",
    )
    assert (row["geo_precision"], row["admin1"], row["admin2"]) == (
        2,
        "Illinois",
        "Sangamon County",
    )
    assert row["location"] == "Springfield"
    loc = plover_record(record, event)["event_loc"]
    assert (loc["lat"], loc["lon"], loc["geonameid"]) == (
        place.latitude,
        place.longitude,
        place.geonames_id,
    )
    assert (loc["city"], loc["district"], loc["resolution"]) == (
        "Springfield",
        "Sangamon County",
        4,
    )
    export([record], ExportFormat.csv, tmp_path / "flat.csv")
    with (tmp_path / "flat.csv").open(encoding="utf-8", newline="") as f:
        flat = next(csv.DictReader(f))
    assert float(flat["location_latitude"]) == place.latitude
    assert flat["location_geo_precision"] == "2" and flat["location_admin2"] == "Sangamon County"
    unresolved = _with_place(records, _geo("Springfield"))
    assert acled_row(unresolved, unresolved.events[0])["latitude"] == ""
    assert plover_record(unresolved, unresolved.events[0])["event_loc"]["resolution"] is None


def test_the_report_shows_point_precision_and_an_escaped_note(
    records: list[ArticleAnalysis],
) -> None:
    town = _with_place(records, _geo("Rock Falls", admin1="Illinois"))
    page = render([town], {})
    assert "41.7797, -89.6890 · precision 1 · town" in page
    hostile = _with_place(records, _geo("<img src=x onerror=alert(1)>"))
    page = render([hostile], {})
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


def test_the_indexes_cache_round_trips_and_a_damaged_file_is_rebuilt(tmp_path: Path) -> None:
    g = geo.gazetteer()
    path = tmp_path / "gazetteer-new.marshal"
    (tmp_path / "gazetteer-old.marshal").write_bytes(b"an older version")
    geo.write_cache(path, g)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # older versions dropped
    again = geo.read_cache(path)
    assert again is not None and again.places == g.places and again.by_name == g.by_name
    assert again.areas == g.areas and again.counties == g.counties
    path.write_bytes(path.read_bytes()[:1000])  # torn write
    assert geo.read_cache(path) is None
    assert geo.read_cache(tmp_path / "missing.marshal") is None


def test_the_cache_can_be_switched_off_or_moved(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(geo.CACHE_ENV, "off")
    assert geo.cache_path() is None
    monkeypatch.setenv(geo.CACHE_ENV, "/somewhere")
    path = geo.cache_path()
    assert path is not None and path.parent == Path("/somewhere")
    assert path.name.startswith("gazetteer-") and path.suffix == ".marshal"


PITTSBURGH = (40.44, -80.00)
ALLENTOWN = (40.61, -75.49)


@pytest.mark.parametrize(
    ("text", "context"),
    [
        ("Allentown", "He was shot at a home in Pittsburgh's Allentown neighborhood."),
        ("Pittsburgh's Allentown neighborhood", None),
        ("Allentown", "Police said the Allentown section of Pittsburgh was quiet."),
    ],
)
def test_a_place_the_article_calls_part_of_a_city_gets_that_city(
    text: str, context: str | None
) -> None:
    got = _geo(text, admin1="Pennsylvania", context=context)  # type: ignore[arg-type]
    assert got.geo_precision == 2 and got.geo_name == "Pittsburgh", got.geo_note
    assert _km(got, *PITTSBURGH) < 5
    assert (got.geo_note or "").startswith("within Pittsburgh: the article writes '")


def test_a_city_police_force_far_from_the_only_candidate_places_it_in_that_city() -> None:
    text = "A man was shot Monday in Allentown. Pittsburgh police charged his friend."
    got = _geo("Allentown", admin1="Pennsylvania", context=text)
    assert got.geo_precision == 2 and _km(got, *PITTSBURGH) < 5
    assert "the article names Pittsburgh police, 381 km from Allentown" in (got.geo_note or "")
    # No conflict, no change: a police force near the town, a smaller city's, a state's,
    # a county's, or two cities' forces.
    for other in (
        "Bethlehem police",  # ~10 km away
        "Erie police",  # far, but a smaller city than Allentown
        "Pennsylvania State Police",
        "Allegheny County police",
        "Pittsburgh police and Philadelphia police",
        "Pittsburgh police and Lehigh County deputies",  # the town's own county
        "ALLENTOWN, Pa. - Pittsburgh police",  # the dateline
    ):
        town = _geo("Allentown", admin1="Pennsylvania", context=f"{other} said a man was shot.")
        assert town.geo_precision == 1 and _km(town, *ALLENTOWN) < 5, (other, town.geo_note)


def test_police_names_are_city_forces_within_one_sentence() -> None:
    text = (
        "It happened in Westfield. Police said the man fled. On Sunday.Long Beach police said "
        "more. Michigan State Police, Nassau County police, University police and The police "
        "agreed; New York police did too."
    )
    assert geo.police_names(text) == (("Long Beach", "long beach"),)


def test_a_township_is_not_taken_for_the_town_of_its_name() -> None:
    got = _geo("Franklin Township", admin1="Michigan")  # the village of Franklin is 80 km off
    assert got.geo_precision == 3 and got.geo_name == "Michigan"
    assert "'Franklin Township': townships are not in the gazetteer" in (got.geo_note or "")
    named = _geo("Franklin Township", admin1="MI", context="A Lenawee County deputy said so.")
    assert named.geo_precision == 2 and named.admin2 == "Lenawee County"
    assert _km(named, 41.90, -84.04) < 30


def test_a_place_the_gazetteer_lacks_takes_the_one_county_of_its_state_the_article_names() -> None:
    text = "The party was on rural property in northern Rice County, south of the Twin Cities."
    got = _geo("Webster", admin1="Minnesota", context=text)  # Webster MN: not in cities500
    assert got.geo_precision == 2 and got.admin2 == "Rice County" and got.geo_name == "Rice County"
    note = got.geo_note or ""
    assert note.startswith("no place named Webster in Minnesota; the article names Rice County")
    mesa = _geo("Grand Mesa", admin1="Colorado", context="The Mesa County Sheriff's office said")
    assert mesa.admin2 == "Mesa County" and mesa.geo_precision == 2
    lucie = _geo("Xyzzy Gardens", admin1="FL", context="A St. Lucie County deputy said")
    assert lucie.admin2 == "St. Lucie County", lucie.geo_note
    baton = _geo("Xyzzy Gardens", admin1="LA", context="West Baton Rouge Parish deputies")
    assert baton.admin2 == "West Baton Rouge Parish", baton.geo_note
    # Counties of another state, or two counties of this one: the state's point, with a note.
    other = _geo("Webster", admin1="Minnesota", context="Butler County, Ohio, prosecutors said.")
    assert other.geo_precision == 3 and "Rice" not in (other.geo_note or "")
    two = _geo("Webster", admin1="Minnesota", context="Rice County and Dakota County deputies")
    assert two.geo_precision == 3
    assert "the article names 2 counties of Minnesota" in (two.geo_note or "")


def test_a_place_the_gazetteer_lacks_takes_the_city_whose_police_the_article_names() -> None:
    text = "Riviera Beach Police said the girl picked up a gun from a bed."
    got = _geo("Xyzzy Gardens", admin1="Florida", context=text)
    assert got.geo_precision == 2 and got.geo_name == "Riviera Beach"
    assert "the article names Riviera Beach police" in (got.geo_note or "")
    counties = _geo("Xyzzy Gardens", admin1="Florida", context=f"{text} Palm Beach County said")
    assert counties.admin2 == "Palm Beach County"  # a county named comes first


def test_police_forces_count_only_in_the_us() -> None:
    """Outside the US "X police" often names a regional or national force's local command."""
    context = "Manchester is quiet. London police said they arrested a man."
    got = _geo("Manchester", country="GBR", admin1="England", context=context)
    assert got.geo_name == "Manchester" and got.geo_precision == 1, got.geo_note
