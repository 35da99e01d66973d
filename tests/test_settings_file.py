"""Settings from the user's repo: secateurs.toml or [tool.secateurs], discovery, precedence, errors."""

import json

import pytest

from secateurs.config import RunConfig

FAST = "[run]\nformats = 'onnx'\nexporter = 'torchscript'\n"


@pytest.fixture
def repo(tmp_path):
    """tmp_path as a repository root, so discovery never looks above it."""
    (tmp_path / ".git").mkdir()
    return tmp_path


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def config_of(out):
    return json.loads((out / "report.json").read_text())["config"]


def run_plain(cli, *args):
    result = cli("run", "tests.models:plain", "-q", "--out", "o", *args)
    assert result.exit_code == 0, result.output
    return result


def test_secateurs_toml_is_found_from_a_subdirectory(cli, repo, monkeypatch):
    write(repo / "secateurs.toml", "amount = 0.5\n" + FAST)
    monkeypatch.chdir(write(repo / "src/pkg/x", "").parent)
    result = run_plain(cli)
    cfg = config_of(repo / "src/pkg/o")
    assert cfg["amount"] == 0.5 and cfg["exporter"] == "torchscript"
    assert cfg["settings_file"] == "../../secateurs.toml"
    assert cfg["settings_from_file"] == ["amount", "exporter", "formats"]
    assert "using settings from ../../secateurs.toml" in result.stderr


def test_pyproject_tool_table_is_found(cli, repo, monkeypatch):
    write(
        repo / "pyproject.toml",
        "[project]\nname = 'x'\n[tool.secateurs]\namount = 0.6\n"
        "[tool.secateurs.run]\nformats = 'onnx'\nexporter = 'torchscript'\n",
    )
    monkeypatch.chdir(write(repo / "sub/x", "").parent)
    run_plain(cli)
    cfg = config_of(repo / "sub/o")
    assert cfg["amount"] == 0.6 and cfg["formats"] == ["onnx"]
    assert cfg["settings_file"] == "../pyproject.toml"


def test_pyproject_without_the_table_is_skipped(cli, repo, monkeypatch):
    write(repo / "secateurs.toml", "amount = 0.5\n" + FAST)
    write(repo / "sub/pyproject.toml", "[project]\nname = 'secateurs-user'\n[tool.other]\nx = 1\n")
    monkeypatch.chdir(repo / "sub")
    run_plain(cli)
    assert config_of(repo / "sub/o")["settings_file"] == "../secateurs.toml"


def test_walk_stops_at_the_repository_root(cli, tmp_path, monkeypatch):
    write(tmp_path / "secateurs.toml", "amount = 0.5\n")
    (tmp_path / "repo/.git").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "repo")
    result = run_plain(cli, "--formats", "onnx", "--exporter", "torchscript")
    cfg = config_of(tmp_path / "repo/o")
    assert cfg["amount"] == 0.3 and cfg["settings_file"] is None
    assert "using settings" not in result.stderr


def test_both_files_in_one_directory_is_ambiguous(cli, repo):
    write(repo / "secateurs.toml", "amount = 0.5\n")
    write(repo / "pyproject.toml", "[tool.secateurs]\namount = 0.6\n")
    result = cli("run", "tests.models:plain", "--out", "o")
    assert result.exit_code == 2 and not (repo / "o").exists()
    assert "both secateurs.toml and pyproject.toml" in result.stderr and "--config" in result.stderr


def test_explicit_config_and_no_config(cli, repo):
    write(repo / "secateurs.toml", "amount = 0.5\n" + FAST)
    write(repo / "ci/ci.toml", "amount = 0.7\n" + FAST)
    result = cli("--config", "ci/ci.toml", "run", "tests.models:plain", "-q", "--out", "a")
    assert result.exit_code == 0, result.output
    assert config_of(repo / "a")["amount"] == 0.7
    assert config_of(repo / "a")["settings_file"] == "ci/ci.toml"
    assert "using settings" not in result.stderr  # named on the command line: no notice

    result = cli("--no-config", "run", "tests.models:plain", "-q", "--out", "b", "--formats", "onnx")
    assert result.exit_code == 0, result.output
    cfg = config_of(repo / "b")
    assert cfg["amount"] == 0.3 and cfg["exporter"] == "auto" and cfg["settings_file"] is None

    result = cli("--config", "ci/ci.toml", "--no-config", "run", "tests.models:plain")
    assert result.exit_code == 2 and "not both" in result.stderr


def test_explicit_pyproject_without_table_is_an_error(cli, repo):
    write(repo / "other/pyproject.toml", "[project]\nname = 'x'\n")
    result = cli("--config", "other/pyproject.toml", "run", "tests.models:plain", "--out", "o")
    assert result.exit_code == 2
    assert result.stderr.strip() == "secateurs: error: other/pyproject.toml: has no [tool.secateurs] table"


def test_flag_overrides_file_and_the_report_says_which_came_from_it(cli, repo):
    write(repo / "secateurs.toml", "amount = 0.5\nscope = 'global'\n" + FAST)
    run_plain(cli, "--amount", "0.2")
    cfg = config_of(repo / "o")
    assert cfg["amount"] == 0.2 and cfg["scope"] == "global"
    assert cfg["settings_from_file"] == ["exporter", "formats", "scope"]
    md = (repo / "o/report.md").read_text()
    assert "- settings: secateurs.toml gave exporter, formats, scope; flags override it" in md


def test_command_table_overrides_top_level(cli, repo):
    write(repo / "secateurs.toml", "amount = 0.5\n[prune]\namount = 0.1\n" + FAST + "amount = 0.7\n")
    run_plain(cli)
    assert config_of(repo / "o")["amount"] == 0.7
    result = cli("prune", "tests.models:plain", "-q", "--out", "p")
    assert result.exit_code == 0, result.output
    assert config_of(repo / "p")["amount"] == 0.1


def test_lists_for_comma_options_and_underscored_keys(cli, repo):
    write(
        repo / "secateurs.toml",
        "[run]\nformats = ['onnx', 'npz']\ninput_shape = [2, 3, 16, 16]\nexporter = 'torchscript'\n",
    )
    run_plain(cli)
    cfg = config_of(repo / "o")
    assert cfg["formats"] == ["onnx", "npz"] and cfg["input_shape"] == [2, 3, 16, 16]


def test_model_and_paths_come_from_the_file_relative_to_it(cli, repo, monkeypatch):
    write(repo / "secateurs.toml", "model = 'tests.models:plain'\nout = 'build/plain'\n" + FAST)
    monkeypatch.chdir(write(repo / "sub/x", "").parent)
    result = cli("run", "-q")
    assert result.exit_code == 0, result.output
    cfg = config_of(repo / "build/plain")  # relative to the file, not to the cwd
    assert cfg["model"] == "tests.models:plain" and "model" in cfg["settings_from_file"]


def test_prune_then_export_records_both_stages(cli, repo):
    write(repo / "secateurs.toml", "amount = 0.4\n[export]\nformats = 'onnx'\nexporter = 'torchscript'\n")
    assert cli("prune", "tests.models:plain", "-q", "--out", "w").exit_code == 0
    result = cli("export", "w", "-q")
    assert result.exit_code == 0, result.output
    cfg = config_of(repo / "w")
    assert cfg["formats"] == ["onnx"] and cfg["amount"] == 0.4
    assert cfg["settings_from_file"] == ["amount", "exporter", "formats"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("amont = 0.5\n", "secateurs.toml: amont: unknown setting, not an option of any command; valid: "),
        (
            "[run]\namounts = '0.1'\n",
            "secateurs.toml: run.amounts: unknown setting, not an option of `secateurs run`",
        ),
        ("[runn]\namount = 0.5\n", "secateurs.toml: runn: not a command; tables are named after one: "),
        ("[run]\ndirectory = 'w'\n", "secateurs.toml: run.directory: unknown setting"),
        ("[tool.secateurs]\namount = 0.5\n", "secateurs.toml: tool: not a command; in secateurs.toml"),
        ("trust_model_code = true\n", "trust-model-code can only be given on the command line"),
        ("amount = 0.5\nAmount = 0.4\n", "secateurs.toml: Amount: unknown setting"),
        (
            "max_accuracy_drop = 1\nmax-accuracy-drop = 1\n",
            "max-accuracy-drop: given twice (as max_accuracy_drop)",
        ),
        ("amount = 0.5\n[run]\namount = 0.4\nmax_accuracy_drop = 1\nmax-accuracy-drop = 1\n", "given twice"),
    ],
)
def test_unknown_keys_are_usage_errors(cli, repo, text, message):
    write(repo / "secateurs.toml", text)
    result = cli("run", "tests.models:plain", "--out", "o")
    assert result.exit_code == 2 and not (repo / "o").exists()
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("secateurs: error: ") and message in lines[-1]
    assert len([line for line in lines if "error" in line]) == 1


def test_unknown_key_fails_every_command(cli, repo):
    write(repo / "pyproject.toml", "[tool.secateurs.sweep]\namountz = [0.1]\n")
    result = cli("report", "nowhere")
    assert result.exit_code == 2
    assert "pyproject.toml: tool.secateurs.sweep.amountz: unknown setting" in result.stderr
    assert "amounts" in result.stderr  # lists the valid keys


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("amount = 1.5\n", "secateurs.toml: amount: 1.5 is not a number in [0, 1]"),
        ("[run]\nscope = 'all'\n", "secateurs.toml: run.scope: 'all' is not one of 'layer', 'global'"),
        ("input-shape = '1,x'\n", "secateurs.toml: input-shape: --input-shape must be positive integers"),
        ("amount = [0.1, 0.2]\n", "secateurs.toml: amount: a list is only allowed for formats"),
        ("atol = 1979-05-27\n", "secateurs.toml: atol: datetime.date(1979, 5, 27) is not a string"),
    ],
)
def test_bad_values_name_the_file(cli, repo, text, message):
    write(repo / "secateurs.toml", text)
    result = cli("run", "tests.models:plain", "--out", "o")
    assert result.exit_code == 2 and not (repo / "o").exists()
    assert message in result.stderr


def test_top_level_value_is_checked_against_the_invoked_command(cli, repo):
    """amounts means nothing to prune but is sweep's list: only the command that runs judges it."""
    write(repo / "secateurs.toml", "amounts = '0.5,nope'\n")
    result = cli("sweep", "tests.models:plain", "--eval", "random:4", "--out", "s")
    assert result.exit_code == 2 and "secateurs.toml: amounts: " in result.stderr, result.stderr
    assert cli("prune", "tests.models:plain", "--out", "p", "-q").exit_code == 0


def test_invalid_toml_names_file_and_line(cli, repo):
    write(repo / "secateurs.toml", "amount = 0.5\nformats = [onnx]\n")
    result = cli("run", "tests.models:plain", "--out", "o")
    assert result.exit_code == 2
    assert "secateurs.toml: invalid TOML" in result.stderr and "line 2" in result.stderr


def test_auto_refuses_an_amount_from_the_file(cli, repo):
    write(repo / "secateurs.toml", "amount = 0.5\n")
    result = cli("run", "tests.models:plain", "--auto", "--eval", "random:4", "--min-agreement", "0.9")
    assert result.exit_code == 2 and "remove amount from secateurs.toml" in result.stderr


def test_run_config_round_trips_the_settings_record(tmp_path):
    cfg = RunConfig(
        model="builtin:lenet", out=tmp_path, settings_file="secateurs.toml", settings_from_file=("amount",)
    )
    data = json.loads(json.dumps(cfg.to_json()))
    assert data["settings_from_file"] == ["amount"]
    assert RunConfig.from_json(data) == cfg
    del data["settings_file"], data["settings_from_file"]  # reports written before this feature
    assert RunConfig.from_json(data).settings_from_file == ()


def test_bad_expect_digest_names_the_file(cli, repo):
    write(repo / "secateurs.toml", "[verify]\nexpect-digest = 'abc'\n")
    result = cli("verify", "nowhere")
    assert result.exit_code == 2
    assert "secateurs.toml: verify.expect-digest: 'abc' is not a sha256 digest" in result.stderr


def test_option_values_are_checked_by_type_not_callback():
    """settings_file._check casts file values by type only: an option that validated in a
    callback would give click's error without the file name (quiet's callback sets state)."""
    from secateurs.cli import main

    validating = [
        f"{name} --{p.name}"
        for name, cmd in main.commands.items()
        for p in cmd.params
        if p.callback is not None and p.name != "quiet"
    ]
    assert validating == []
