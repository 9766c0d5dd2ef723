"""The compiled-database cache: keyed by content, mapped on the next start,
never trusted blindly."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from avgate import sigcompile
from avgate.database import AUTO_CACHE_BYTES, Database, DatabaseError
from avgate.tables import load_tables, save_tables

DATA = b"x wildcard-sig-?AAA yy BBB z  literal-signature-number-7 " + b"tail-bytes"


def write_db(where, extra: str = "") -> None:
    where.mkdir(parents=True, exist_ok=True)
    (where / "a.ndb").write_text(
        "W-1:0:*:" + b"wildcard-sig-".hex() + "??" + b"AAA".hex() + "{1-4}" + b"BBB".hex() + "*"
        + b"literal".hex() + "\n"
        + "L-7:0:*:" + b"literal-signature-number-7".hex() + "\n"
        + "E-1:0:EOF-10:" + b"tail-bytes".hex() + "\n" + extra)
    (where / "b.hdb").write_text("44d88612fea8a8f36de82e1278abb02f:68:Win.Test.EICAR_HDB-1\n")


def test_the_second_load_maps_the_cache_and_matches_the_same(tmp_path):
    write_db(tmp_path / "db")
    cache = tmp_path / "cache"
    first = Database.load(tmp_path / "db", cache=True, cache_dir=cache)
    assert first.cache_status == "compiled now (no cached copy); cached"
    assert first.cache_path is not None and first.cache_path.parent == cache and first.cache_path.exists()
    second = Database.load(tmp_path / "db", cache=True, cache_dir=cache)
    assert second.cache_status == "loaded from cache" and second.cache_path == first.cache_path
    literal_end = DATA.index(b"literal") + len(b"literal")
    literal_7_end = DATA.index(b"-7 ") + 2
    assert second.match(DATA) == first.match(DATA) == [("W-1", literal_end), ("L-7", literal_7_end), ("E-1", len(DATA))]
    assert second.counts == first.counts and second.info()["details"] == first.info()["details"]
    # the key is the files' content, not where they are
    shutil.copytree(tmp_path / "db", tmp_path / "moved")
    assert Database.load(tmp_path / "moved", cache=True, cache_dir=cache).cache_status == "loaded from cache"


def test_any_change_to_a_source_is_a_new_key(tmp_path):
    write_db(tmp_path / "db")
    cache = tmp_path / "cache"
    first = Database.load(tmp_path / "db", cache=True, cache_dir=cache)
    write_db(tmp_path / "db", extra="New-1:0:*:" + b"a-new-signature".hex() + "\n")
    changed = Database.load(tmp_path / "db", cache=True, cache_dir=cache)
    assert changed.cache_path != first.cache_path and changed.cache_status.startswith("compiled now")
    assert changed.match(b"a-new-signature") == [("New-1", 15)]


def test_a_damaged_cache_file_is_recompiled_and_replaced(tmp_path):
    write_db(tmp_path / "db")
    cache = tmp_path / "cache"
    path = Database.load(tmp_path / "db", cache=True, cache_dir=cache).cache_path
    assert path is not None
    path.write_bytes(path.read_bytes()[:200])
    again = Database.load(tmp_path / "db", cache=True, cache_dir=cache)
    assert again.cache_status.startswith("compiled now (cached copy unusable:")
    assert again.cache_status.endswith("cached")
    assert {n for n, _ in again.match(DATA)} == {"W-1", "L-7", "E-1"}
    assert Database.load(tmp_path / "db", cache=True, cache_dir=cache).cache_status == "loaded from cache"


@pytest.mark.parametrize("tamper", [
    lambda a: a["segs"].__setitem__("anchor_item", a["segs"]["anchor_item"] + 1000),
    lambda a: a["runs"].__setitem__("len", a["runs"]["len"] + 10_000),
    lambda a: a["stream.users"].__setitem__(0, 99),
    lambda a: a["sigs"].__setitem__("n_segs", 0),
    lambda a: a["items"].__setitem__("kind", 7),
], ids=["anchor-item", "run-length", "anchor-user", "segment-count", "item-kind"])
def test_a_cache_file_with_inconsistent_tables_is_not_followed(tmp_path, tamper):
    write_db(tmp_path / "db")
    cache = tmp_path / "cache"
    path = Database.load(tmp_path / "db", cache=True, cache_dir=cache).cache_path
    arrays, meta, mapped = load_tables(path)
    arrays = {k: np.array(v) for k, v in arrays.items()}
    del mapped
    tamper(arrays)
    save_tables(path, arrays, meta)
    with pytest.raises(ValueError, match="inconsistent"):
        sigcompile.check_tables(sigcompile.CompiledBody(arrays, meta["history"]))
    again = Database.load(tmp_path / "db", cache=True, cache_dir=cache)
    assert "cached copy unusable" in again.cache_status
    assert {n for n, _ in again.match(DATA)} == {"W-1", "L-7", "E-1"}


def test_an_unwritable_cache_is_reported_and_loading_still_works(tmp_path):
    write_db(tmp_path / "db")
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache directory should be")
    db = Database.load(tmp_path / "db", cache=True, cache_dir=blocker)
    assert "not cached" in db.cache_status
    assert {n for n, _ in db.match(DATA)} == {"W-1", "L-7", "E-1"}


def test_a_strict_load_does_not_hide_bad_lines_behind_a_lenient_cache(tmp_path):
    write_db(tmp_path / "db", extra="Broken:0:*:6\n")
    cache = tmp_path / "cache"
    lenient = Database.load(tmp_path / "db", cache=True, cache_dir=cache, strict=False)
    assert lenient.bad_lines == 1
    with pytest.raises(DatabaseError, match=r"a.ndb:4: odd number of hex digits"):
        Database.load(tmp_path / "db", cache=True, cache_dir=cache)
    again = Database.load(tmp_path / "db", cache=True, cache_dir=cache, strict=False)
    assert again.cache_status == "loaded from cache" and again.bad_lines == 1


def test_small_databases_are_not_cached_unless_asked_and_big_ones_are(tmp_path, monkeypatch):
    monkeypatch.setenv("AVGATE_CACHE_DIR", str(tmp_path / "envcache"))
    write_db(tmp_path / "small")
    small = Database.load(tmp_path / "small")
    assert small.cache_status == "not cached" and small.cache_path is None
    big = tmp_path / "big"
    big.mkdir()
    lines = [f"Big-{i}:0:*:{(b'big-signature-%08d' % i).hex()}" for i in range(AUTO_CACHE_BYTES // 40 + 1)]
    (big / "big.ndb").write_text("\n".join(lines) + "\n")
    first = Database.load(big)
    assert first.cache_path is not None and first.cache_path.parent == tmp_path / "envcache"
    assert Database.load(big).cache_status == "loaded from cache"
    compiled = Database.compile(tmp_path / "small", cache_dir=tmp_path / "explicit")
    assert compiled.cache_status == "compiled; cached"
    again = Database.load(tmp_path / "small", cache=True, cache_dir=tmp_path / "explicit")
    assert again.cache_status == "loaded from cache"
