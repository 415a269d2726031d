"""Importers (Amazon 2018, MovieLens), RecBole export and dataset statistics, on small files
written here in the real formats: JSON lines (plain and .gz), `::` files in Latin-1, CSV."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pytest

from bench.cli import main
from bench.data import load_atomic
from bench.data.datasets import load_dataset
from bench.data.amazon import import_amazon
from bench.data.movielens import import_movielens, split_title_year

# --------------------------------------------------------------------------- fixture files

A, B, C, D, E, F, G, H = (f"B00{x}" for x in "ABCDEFGH")

META = [
    {"asin": A, "title": "Pipette &amp; Tips", "brand": "Eppendorf", "category": ["Industrial &amp; Scientific", "Lab &amp; Scientific Products", "Pipettes"]},
    {"asin": A, "title": "a repeated metadata row (ignored)", "brand": "", "category": []},
    {"asin": B, "title": "Beaker\tSet  500ml", "brand": "", "category": []},
    {"asin": C, "title": "Gloves", "brand": "   ", "category": ["Industrial & Scientific"]},
    {"asin": D, "title": "Safety Goggles", "brand": "3M", "category": ["Industrial & Scientific", "</span></span>", "Safety"]},
    {"asin": E, "brand": "NoTitle Inc."},  # no title: dropped
    {"asin": F, "title": " \n ", "brand": "Blank"},  # blank title: dropped
    {"asin": H, "title": "Rare Thing", "brand": "X", "price": "$3.99"},  # removed by the 3-core
    # G has reviews but no metadata row: dropped
]

REVIEWS = [  # (reviewer, asin, time) in file order; extra fields as in the dumps
    ("U1", A, 10), ("U1", B, 20), ("U1", C, 20), ("U1", D, 30), ("U1", E, 5),
    ("U2", A, 1), ("U2", B, 2), ("U2", C, 3), ("U2", H, 4),
    ("U3", B, 100), ("U3", A, 50), ("U3", D, 70), ("U3", G, 60),
    ("U4", C, 7), ("U4", D, 8), ("U4", A, 9), ("U4", C, 7),  # the last is an exact duplicate
    ("U5", H, 1), ("U5", E, 2),
]


def _jsonl(path: Path, rows: list[dict]) -> Path:
    text = "".join(json.dumps(r) + "\n" for r in rows)
    if path.suffix == ".gz":
        with gzip.open(path, "wt", encoding="utf-8") as fh:
            fh.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def amazon_files(tmp: Path, gz_reviews: bool = False, gz_meta: bool = False) -> tuple[Path, Path]:
    tmp.mkdir(parents=True, exist_ok=True)
    reviews = [
        {"overall": 5.0, "verified": True, "reviewerID": u, "asin": a, "unixReviewTime": t, "reviewText": "ok"}
        for u, a, t in REVIEWS
    ]
    r = _jsonl(tmp / ("reviews.json.gz" if gz_reviews else "reviews.json"), reviews)
    m = _jsonl(tmp / ("meta.json.gz" if gz_meta else "meta.json"), META)
    return r, m


ML1M_MOVIES = (
    "1::Toy Story (1995)::Animation|Children's|Comedy\n"
    "2::City of Lost Children, The (Cité des enfants perdus, La) (1995)::Adventure|Sci-Fi\n"
    "3::Heat (1995)::Action|Crime|Thriller\n"
    "4::Untitled Movie::Drama\n"
)
ML1M_RATINGS = (
    "1::1::5::978300760\n"
    "1::2::3::978300761\n"
    "1::3::4::978300759\n"
    "2::3::4::100\n"
    "2::1::2::100\n"  # same time as the row above: file order decides
    "2::5::3::50\n"  # movie 5 is not in movies.dat: dropped
    "3::4::1::10\n"
    "3::4::1::10\n"  # exact duplicate
)


def ml1m_dir(tmp: Path) -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "movies.dat").write_bytes(ML1M_MOVIES.encode("latin-1"))
    (tmp / "ratings.dat").write_bytes(ML1M_RATINGS.encode("latin-1"))
    return tmp


def mlcsv_dir(tmp: Path) -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    with open(tmp / "movies.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerows([
            ["movieId", "title", "genres"],
            ["1", "Toy Story (1995)", "Adventure|Animation|Children|Comedy|Fantasy"],
            ["11", "American President, The (1995)", "Comedy|Drama|Romance"],
            ["12", "Dracula: Dead and Loving It (1995)", "Comedy|Horror"],
            ["13", "Some Show", "(no genres listed)"],
        ])
    (tmp / "ratings.csv").write_text(
        "userId,movieId,rating,timestamp\n1,11,4.0,300\n1,1,3.5,200\n1,12,5.0,400\n2,13,3.0,5\n2,1,3.0,6\n", encoding="utf-8"
    )
    assert '"American President, The (1995)"' in (tmp / "movies.csv").read_text()
    return tmp


def cli(argv: list[str], results: Path, capsys) -> tuple[int, str, str]:
    rc = main(["--results", str(results), *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def seqs(d) -> dict[str, list[str]]:
    return {u: [d.item_ids[i - 1] for i in s] for u, s in zip(d.user_ids, d.sequences)}


def texts(d) -> dict[str, str]:
    return dict(zip(d.item_ids, d.item_text[1:]))


# --------------------------------------------------------------------------- Amazon


def test_amazon_import_cleans_orders_and_filters(tmp_path):
    reviews, meta = amazon_files(tmp_path / "raw", gz_reviews=True)
    res = import_amazon(reviews, meta, "sci", tmp_path / "results", k_core=3)
    d = res.dataset
    assert res.path == tmp_path / "results" / "datasets" / "sci"
    assert (d.n_users, d.n_items, d.n_interactions) == (4, 4, 13)
    assert res.dropped == {"duplicate": 1, "untitled item": 3, "k-core": 2}
    assert res.notes == {"repeated metadata rows ignored": 1}
    # by time; U1's B and C share a time and keep file order; U3's rows were out of order in the file
    assert seqs(d) == {"U1": [A, B, C, D], "U2": [A, B, C], "U3": [A, D, B], "U4": [C, D, A]}
    assert texts(d) == {
        A: "Pipette & Tips (brand: Eppendorf, category: Industrial & Scientific > Lab & Scientific Products > Pipettes)",
        B: "Beaker Set 500ml",  # tab and double space collapsed; empty brand and category left out
        C: "Gloves (category: Industrial & Scientific)",  # whitespace-only brand left out
        D: "Safety Goggles (brand: 3M, category: Industrial & Scientific > Safety)",  # markup level dropped
    }
    for line in (res.path / "sci.item").read_text(encoding="utf-8").splitlines():
        assert line.count("\t") == 3
    # the registered dataset reads back the same, and lists among the known names
    again = load_dataset("sci", results=tmp_path / "results")
    assert again == d and again.content_hash == d.content_hash
    assert not [p for p in (tmp_path / "results" / "datasets").iterdir() if p.name.startswith(".")]
    assert json.loads((res.path / "import.json").read_text())["dropped"] == res.dropped


def test_amazon_plain_and_gz_agree_and_k_core_matters(tmp_path):
    plain = import_amazon(*amazon_files(tmp_path / "p"), "a", tmp_path / "r", k_core=3).dataset
    gz = import_amazon(*amazon_files(tmp_path / "g", gz_reviews=True, gz_meta=True), "a", tmp_path / "r2", k_core=3).dataset
    assert plain.content_hash == gz.content_hash
    no_core = import_amazon(*amazon_files(tmp_path / "p"), "a0", tmp_path / "r", k_core=0)
    assert (no_core.dataset.n_users, no_core.dataset.n_items, no_core.dataset.n_interactions) == (5, 5, 15)
    assert no_core.dropped == {"duplicate": 1, "untitled item": 3}
    assert seqs(no_core.dataset)["U5"] == [H]


def test_imported_dataset_runs_by_name(tmp_path, monkeypatch):
    """`bench run` resolves suite datasets through prepare_split -> load_dataset (default results/)."""
    from bench.runner import prepare_split

    monkeypatch.chdir(tmp_path)
    import_amazon(*amazon_files(tmp_path / "raw"), "sci", Path("results"), k_core=3)
    split = prepare_split("sci", Path("results"))
    assert split.n_users == 4 and split.n_items == 4
    assert split.test_target == (4, 3, 2, 1)  # D, C, B, A: each user's last item


def test_amazon_cli_summary_force_and_stats(tmp_path, capsys):
    reviews, meta = amazon_files(tmp_path / "raw")
    results, out = tmp_path / "results", tmp_path / "tables"
    argv = ["data", "import", "amazon", "--reviews", str(reviews), "--meta", str(meta), "--name", "sci", "--k-core", "3"]
    rc, stdout, err = cli(argv, results, capsys)
    assert rc == 0, err
    assert stdout.splitlines() == [
        f"imported amazon 'sci': 4 users, 4 items, 13 interactions -> {results / 'datasets' / 'sci'} "
        "(dropped rows: 1 duplicate, 3 untitled item, 2 k-core; 1 repeated metadata rows ignored)"
    ]
    rc, _, err = cli(argv, results, capsys)
    assert rc == 2 and "dataset 'sci' already exists; pass --force" in err
    rc, _, err = cli([*argv, "--force"], results, capsys)
    assert rc == 0, err

    rc, stdout, err = cli(["data", "stats", "sci", "--out", str(out)], results, capsys)
    assert rc == 0, err
    lines = stdout.splitlines()
    assert lines[1].split() == ["sci", "4", "4", "13", "3.25", "8.1e-1"]  # 13 / 4; 13 / (4 * 4)
    with open(out / "dataset_stats.csv", newline="") as fh:
        assert list(csv.DictReader(fh)) == [
            {"dataset": "sci", "users": "4", "items": "4", "interactions": "13", "avg_len": "3.2500", "density": "8.125000e-01"}
        ]
    tex = (out / "dataset_stats.tex").read_text()
    assert r"\toprule" in tex and r"\bottomrule" in tex
    assert r"sci & 4 & 4 & 13 & 3.25 & $8.1 \times 10^{-1}$ \\" in tex


def test_export_round_trip_and_split_files(tmp_path, capsys):
    results = tmp_path / "results"
    d = import_amazon(*amazon_files(tmp_path / "raw"), "sci", results, k_core=3).dataset
    rc, stdout, err = cli(["data", "export", "sci", "--out", str(tmp_path / "out"), "--split"], results, capsys)
    assert rc == 0, err
    assert sorted(Path(p).name for p in stdout.split()) == sorted(f"sci.{x}" for x in ("inter", "item", "train.inter", "valid.inter", "test.inter"))
    back = load_atomic(tmp_path / "out", "sci")
    assert seqs(back) == seqs(d) and back.content_hash == d.content_hash

    def rows(part: str) -> list[list[str]]:
        return [line.split("\t") for line in (tmp_path / "out" / f"sci.{part}.inter").read_text().splitlines()]

    header = ["user_id:token", "item_id:token", "timestamp:float"]
    assert rows("train")[:3] == [header, ["U1", A, "0"], ["U1", B, "1"]]
    assert len(rows("train")) == 1 + 13 - 2 * 4
    assert rows("valid") == [header, ["U1", C, "2"], ["U2", B, "1"], ["U3", D, "1"], ["U4", D, "1"]]
    assert rows("test") == [header, ["U1", D, "3"], ["U2", C, "2"], ["U3", B, "2"], ["U4", A, "2"]]

    rc, _, err = cli(["data", "export", "sci", "--out", str(tmp_path / "seq"), "--split", "--split-format", "sequential"], results, capsys)
    assert rc == 0, err
    seq_test = (tmp_path / "seq" / "sci.test.inter").read_text().splitlines()
    assert seq_test[:2] == ["user_id:token\titem_id_list:token_seq\titem_id:token", f"U1\t{A} {B} {C}\t{D}"]


# --------------------------------------------------------------------------- MovieLens


def test_split_title_year():
    assert split_title_year("Toy Story (1995)") == ("Toy Story", "1995")
    assert split_title_year("City of Lost Children, The (Cité des enfants perdus, La) (1995)") == (
        "City of Lost Children, The (Cité des enfants perdus, La)",
        "1995",
    )
    assert split_title_year("Babylon 5") == ("Babylon 5", "")
    assert split_title_year("Fawlty Towers (1975-1979)") == ("Fawlty Towers (1975-1979)", "")


def test_movielens_dat_latin1(tmp_path):
    res = import_movielens(ml1m_dir(tmp_path / "ml-1m"), "ml1", tmp_path / "results")
    d = res.dataset
    assert (d.n_users, d.n_items, d.n_interactions) == (3, 4, 6)
    assert res.dropped == {"duplicate": 1, "untitled item": 1}
    assert seqs(d) == {"1": ["3", "1", "2"], "2": ["3", "1"], "3": ["4"]}
    assert texts(d) == {
        "1": "Toy Story (year: 1995, genres: Animation, Children's, Comedy)",
        "2": "City of Lost Children, The (Cité des enfants perdus, La) (year: 1995, genres: Adventure, Sci-Fi)",
        "3": "Heat (year: 1995, genres: Action, Crime, Thriller)",
        "4": "Untitled Movie (genres: Drama)",
    }
    assert "Cité" in (res.path / "ml1.item").read_text(encoding="utf-8")  # written back as UTF-8
    assert load_dataset("ml1", results=tmp_path / "results") == d


def test_movielens_csv_quoted_titles(tmp_path, capsys):
    rc, out, err = cli(["data", "import", "movielens", "--path", str(mlcsv_dir(tmp_path / "ml-25m")), "--name", "ml25"], tmp_path / "r", capsys)
    assert rc == 0, err
    assert "2 users, 4 items, 5 interactions" in out and "(dropped rows: 0 duplicate, 0 untitled item)" in out
    d = load_dataset("ml25", results=tmp_path / "r")
    assert seqs(d) == {"1": ["1", "11", "12"], "2": ["13", "1"]}
    assert texts(d)["11"] == "American President, The (year: 1995, genres: Comedy, Drama, Romance)"
    assert texts(d)["12"] == "Dracula: Dead and Loving It (year: 1995, genres: Comedy, Horror)"
    assert texts(d)["13"] == "Some Show"


# --------------------------------------------------------------------------- bad input


def _amazon_argv(tmp: Path, reviews_lines: list[str] | None = None, meta_lines: list[str] | None = None, name: str = "x", extra=()):
    r, m = amazon_files(tmp / "raw")
    if reviews_lines is not None:
        r.write_text("\n".join(reviews_lines) + "\n")
    if meta_lines is not None:
        m.write_text("\n".join(meta_lines) + "\n")
    return ["data", "import", "amazon", "--reviews", str(r), "--meta", str(m), "--name", name, *extra]


def _review(**kw) -> str:
    return json.dumps({"reviewerID": "U1", "asin": A, "unixReviewTime": 1, **kw})


BAD = {
    "malformed review line": (
        lambda t: _amazon_argv(t, [_review(), _review(), '{"reviewerID": "U1", "asin"'], extra=["--k-core", "1"]),
        ["reviews.json:3: not valid JSON"],
    ),
    "2014 python-literal meta": (
        lambda t: _amazon_argv(t, meta_lines=["{'asin': 'B00A', 'title': 'x'}"]),
        ["meta.json:1: not valid JSON", "2014 dumps are Python literals"],
    ),
    "review without asin": (
        lambda t: _amazon_argv(t, [_review(), json.dumps({"reviewerID": "U2", "unixReviewTime": 3})]),
        ["reviews.json:2: review has no 'asin' field"],
    ),
    "bad review time": (lambda t: _amazon_argv(t, [_review(unixReviewTime="soon")]), ["reviews.json:1: unixReviewTime 'soon' must be a non-negative integer"]),
    "invalid UTF-8 in reviews": (
        lambda t: _with(_amazon_argv(t), "--reviews", _write(t / "r.json", (_review() + "\n").encode() * 2 + b'{"asin": "\xff"}\n')),
        ["r.json:3: not valid utf-8 (byte 0xff)"],
    ),
    "review line not an object": (lambda t: _amazon_argv(t, ["[1, 2]"]), ["reviews.json:1: expected a JSON object, got list"]),
    "missing reviews file": (
        lambda t: ["data", "import", "amazon", "--reviews", str(t / "nope.json"), "--meta", str(amazon_files(t / "raw")[1]), "--name", "x"],
        ["nope.json: file not found"],
    ),
    "nothing left after 5-core": (lambda t: _amazon_argv(t), ["no interactions are left (dropped rows: 1 duplicate, 3 untitled item, 15 k-core); try a smaller --k-core than 5"]),
    "built-in name": (lambda t: _amazon_argv(t, name="ml-100k", extra=["--k-core", "3"]), ["--name 'ml-100k' is a built-in dataset"]),
    "path as name": (lambda t: _amazon_argv(t, name="../x", extra=["--k-core", "3"]), ["--name '../x': use letters, digits"]),
    "negative k-core": (lambda t: _amazon_argv(t, extra=["--k-core", "-1"]), ["argument --k-core: must be >= 0, got -1"]),
    "not gzip": (
        lambda t: _with(_amazon_argv(t), "--reviews", _write(t / "r.json.gz", b"plain")),
        ["r.json.gz: not a readable gzip file"],
    ),
    "movielens dir without ratings": (
        lambda t: ["data", "import", "movielens", "--path", str(_mkdir(t / "empty")), "--name", "m"],
        ["no ratings.dat (ml-1m, ml-10m) or ratings.csv (ml-20m, ml-25m) found"],
    ),
    "movielens short ratings line": (
        lambda t: ["data", "import", "movielens", "--path", str(_append(ml1m_dir(t / "ml"), "ratings.dat", "4::1::5\n")), "--name", "m"],
        ["ratings.dat:9: expected 4 fields (UserID, MovieID, Rating, Timestamp), found 3"],
    ),
    "movielens csv wrong header": (
        lambda t: ["data", "import", "movielens", "--path", str(_rewrite(mlcsv_dir(t / "ml"), "ratings.csv", "user,movie,rating,time\n1,1,4,5\n")), "--name", "m"],
        ["ratings.csv:1: expected the header userId,movieId,rating,timestamp"],
    ),
    "export unknown dataset": (lambda t: ["data", "export", "scj", "--out", str(t / "o")], ["unknown dataset 'scj'"]),
    "stats unknown dataset": (lambda t: ["data", "stats", "ml-100", "--out", str(t / "o")], ["unknown dataset 'ml-100' (did you mean: ml-100k?)"]),
}


def _with(argv: list[str], flag: str, value) -> list[str]:
    argv = list(argv)
    argv[argv.index(flag) + 1] = str(value)
    return argv


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _append(d: Path, name: str, text: str) -> Path:
    with open(d / name, "a", encoding="latin-1") as fh:
        fh.write(text)
    return d


def _rewrite(d: Path, name: str, text: str) -> Path:
    (d / name).write_text(text, encoding="utf-8")
    return d


@pytest.mark.parametrize("build, expected", list(BAD.values()), ids=list(BAD))
def test_bad_input_one_line_exit_2(build, expected, tmp_path, capsys):
    results = tmp_path / "results"
    rc, out, err = cli(build(tmp_path), results, capsys)
    assert rc == 2, (rc, out, err)
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("bench: error: "), err
    assert "Traceback" not in out + err
    for part in expected:
        assert part in lines[0], (part, lines[0])
    datasets = results / "datasets"
    assert not datasets.exists() or not any(datasets.iterdir())  # nothing half-written
