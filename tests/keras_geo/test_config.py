"""Search configurations: defaults, overrides, and one clear error per bad key."""

from __future__ import annotations

import codecs

import numpy as np
import pytest
import yaml

from keras_geo.config import (
    Config,
    ConfigError,
    TaskSpec,
    load_config,
    shipped_config,
    shipped_configs,
    validate_config,
)
from tests import ROOT

CONFIG_DIR = ROOT / "keras_geo" / "configs"
CONFIGS = sorted(CONFIG_DIR.glob("*.yaml"))
STRATEGY_FILES = [
    f"filler_{name}" for name in ("auto", "bayes", "ga", "ga_tpe", "grid", "nsga2", "nsga2_tpe", "random", "tpe")
]
MINIMAL = {"space": {"filters": {"type": "int", "low": 4, "high": 16}}}


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_every_shipped_config_is_valid(path):
    config = load_config(path)
    if path.stem in STRATEGY_FILES:  # one filler config per strategy, named after it
        assert config.search.strategy["name"] == path.stem.replace("filler_", "")
    assert config.search.budget["trials"] >= 1
    assert Config.from_dict(config.to_dict()) == config  # what a store keeps rebuilds the same config


def test_shipped_configs_cover_every_strategy():
    from hpo import strategies

    names = {load_config(p).search.strategy["name"] for p in CONFIGS if p.stem in STRATEGY_FILES}
    assert names == set(strategies.available())


def test_shipped_configs_are_the_package_folder_by_name(tmp_path):
    assert shipped_configs() == {path.stem: path for path in CONFIGS}
    assert shipped_config("filler_tpe") == shipped_config("filler_tpe.yaml") == CONFIG_DIR / "filler_tpe.yaml"
    with pytest.raises(ConfigError, match=r"no shipped configuration 'nope'; shipped: bathymetry_sr, .*filler_ga_tpe"):
        shipped_config("nope")
    mine = tmp_path / "mine.yaml"  # another project's file, based on a shipped one by name
    mine.write_text("base: filler_tpe.yaml\nname: mine\nbudget: {trials: 3}\n")
    config = load_config(mine)
    assert (config.search.name, config.search.strategy["name"], config.search.budget["trials"]) == ("mine", "tpe", 3)
    (tmp_path / "filler_tpe.yaml").write_text("base: filler_random.yaml\n")  # a file next to it wins
    assert load_config(mine).search.strategy["name"] == "random"


def test_the_strategy_files_are_the_base_plus_their_strategy():
    """Near-identical files (one per strategy) became one base plus small overrides; each still says the same search."""
    base = load_config(CONFIG_DIR / "filler_base.yaml").to_dict()
    for stem in STRATEGY_FILES:
        config = load_config(CONFIG_DIR / f"{stem}.yaml").to_dict()
        assert {k: v for k, v in config.items() if k not in ("name", "store", "strategy")} == {
            k: v for k, v in base.items() if k not in ("name", "store", "strategy")
        }
        assert config["name"] == stem.replace("_", "-")


def test_a_base_file_merges_section_by_section_and_space_and_strategy_replace(tmp_path):
    (tmp_path / "base.yaml").write_text(
        yaml.safe_dump(
            {
                **MINIMAL,
                "training": {"epochs": 3, "batch_size": 8},
                "strategy": {"name": "ga", "settings": {"population_size": 4}},
                "space": {"filters": [4, 8], "units": [8, 16]},
            }
        )
    )
    (tmp_path / "child.yaml").write_text(
        yaml.safe_dump(
            {
                "base": "base.yaml",
                "training": {"epochs": 5},
                "strategy": {"name": "random"},
                "space": {"units": [32, 64]},
            }
        )
    )
    config = load_config(tmp_path / "child.yaml")
    assert config.training["epochs"] == 5 and config.training["batch_size"] == 8
    assert config.search.strategy == {"name": "random", "settings": {}}  # not ga's population_size
    assert set(config.search.space) == {"units"}
    (tmp_path / "loop.yaml").write_text("base: loop.yaml\n")
    with pytest.raises(ConfigError, match="base: .* form a loop"):
        load_config(tmp_path / "loop.yaml")
    (tmp_path / "orphan.yaml").write_text("base: nowhere.yaml\n")
    with pytest.raises(ConfigError, match="config: no such file: .*nowhere.yaml"):
        load_config(tmp_path / "orphan.yaml")


def test_defaults_fill_a_minimal_config():
    config = validate_config(MINIMAL)
    assert config.search.strategy["name"] == "ga_tpe"
    assert config.search.executor == {**config.search.executor, "name": "local", "workers": 2}
    assert config.search.objective == {"metric": "val_accuracy", "direction": "maximize"}  # the task's
    assert config.search.store.endswith("store.db")
    assert config.training["epochs"] == 10
    assert config.task == TaskSpec("classification", {})  # the filler data set's task
    import inspect

    from keras_geo.datasets.filler import make_dataset

    shipped = inspect.signature(make_dataset).parameters  # the one place the filler defaults live
    assert config.dataset.settings["fov_nm"] == shipped["fov_nm"].default
    assert config.dataset.settings["image_size"] == shipped["image_size"].default


def test_overrides_use_dotted_keys(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({**MINIMAL, "strategy": {"name": "ga", "settings": {"population_size": 4}}}))
    config = load_config(path, {"strategy.name": "tpe", "strategy.settings": {}, "executor.workers": 3, "seed": None})
    assert config.search.strategy == {"name": "tpe", "settings": {}}
    assert config.search.executor["workers"] == 3 and config.search.seed == 0


BAD = [
    ({"colour": 1}, "colour: unknown key"),
    ({"seed": "x"}, "seed: must be an integer"),
    ({"mode": "turbo"}, "mode: must be one of async, sync"),
    ({"space": {}}, "space: must be a non-empty"),
    ({"space": {"filters": {"type": "int", "low": 9, "high": 2}}}, "space: .*filters"),
    ({"space": {"learning_rate": {"type": "float", "low": 0, "high": 1, "log": True}}}, "space: .*learning_rate"),
    ({"space": {"colour": [1, 2]}}, "space.colour: neither an argument"),
    ({"model": {"builder": "resnet9000"}}, "model.builder: unknown builder 'resnet9000'; allowed: .*filler_cnn"),
    ({"model": {"fixed": {"colour": 1}}}, "model.fixed.colour: not an argument of filler_cnn"),
    ({"model": {"depth": 3}}, "model.depth: unknown key; allowed: builder, fixed"),
    ({"strategy": {"name": "annealing"}}, "strategy.name: must be one of .*ga_tpe"),
    (
        {"strategy": {"name": "ga", "settings": {"populaton": 3}}},
        "strategy.settings.populaton: unknown setting of ga; allowed: .*population_size",
    ),
    ({"strategy": {"name": "ga", "settings": {"population_size": 1}}}, "strategy.settings: .*population_size"),
    ({"executor": {"name": "cloud"}}, "executor.name: must be one of horovod, local, mpi, mpi_async, serial"),
    ({"executor": {"workers": 0}}, "executor.workers: must be >= 1; received 0"),
    ({"executor": {"workers": 1.5}}, "executor.workers: must be an integer"),
    ({"budget": {"trials": -3}}, r"budget.trials: must be >= 1; received -3"),
    ({"budget": {"trials": None}}, "budget: needs at least one"),
    ({"budget": {"wall_time_s": 0}}, "budget.wall_time_s: must be > 0"),
    ({"objective": {"direction": "up"}}, "objective.direction: must be one of maximize, minimize"),
    ({"training": {"optimizer": "lbfgs"}}, "training.optimizer: must be one of"),
    ({"training": {"epochs": 0}}, "training.epochs: must be >= 1"),
    ({"training": {"epoch": 3}}, "training.epoch: unknown key"),
    (
        {"dataset": {"name": "mnist"}},
        "dataset.name: must be one of bathymetry, echo, filler, filler_fibsem, filler_fraction, folder, npz, scenes, sem, shapes, textures",
    ),
    ({"dataset": {"name": "folder"}}, "dataset.path: required; received nothing"),
    ({"dataset": {"name": "filler_fibsem", "curtain_std": -0.1}}, "dataset.curtain_std: must be >= 0"),
    ({"dataset": {"name": "filler_fibsem", "shot_dose": 0}}, "dataset.shot_dose: must be > 0"),
    ({"dataset": {"name": "folder", "path": "no/such/dir"}}, "dataset.path: no such folder"),
    ({"dataset": {"name": "shapes", "image_size": 8}}, "dataset.image_size: must be >= 16"),
    ({"dataset": {"name": "shapes", "n_val": 0}}, "dataset.n_val: must be >= 1"),
    ({"dataset": {"fov_nm": -1}}, "dataset.fov_nm: must be > 0"),
    ({"dataset": {"name": "npz"}}, "dataset.path: required; received nothing"),
    ({"dataset": {"fov": 500}}, "dataset.fov: unknown setting; allowed: n_train, .*fov_nm"),
    ({"dataset": {"box_nm": "big"}}, "dataset.box_nm: must be a number; received 'big'"),
    (
        {"dataset": {"name": "filler_fraction", "volume_fraction_range": [0.1, 0.9]}},
        r"dataset.volume_fraction_range\[1\]: must be <= 0.5",
    ),
    (
        {"task": {"name": "segmentation"}},
        "task.name: must be one of classification, detection, image_to_image, regression",
    ),
    ({"task": {"name": "regression", "loss": "l3"}}, "task.loss: must be one of mse, mae, huber, log_cosh"),
    ({"task": {"name": "regression", "colour": 1}}, "task.colour: unknown setting; allowed: loss, standardize"),
    ({"task": {"name": "image_to_image", "loss": "l3"}}, "task: `loss` must be one of huber, mae, mixed"),
    ({"task": {"name": "image_to_image", "max_val": 0}}, "task.max_val: must be > 0"),
    (
        {"task": {"name": "image_to_image"}},
        "model.builder: filler_cnn does not serve the task image_to_image; builders that do: edsr, pix2pix, srcnn, unet",
    ),
    ({"model": {"fixed": {"n_classes": 4}}}, "model.fixed.n_classes: set from the data by the task classification"),
    ({"space": {"loss": ["mse", "mae"]}}, "space.loss: neither an argument of filler_cnn, a training setting nor"),
    ({"objective": {"metric": "val_wobble"}}, "objective.direction: say whether val_wobble is to be maximized"),
    ({"dataset": {"name": "npz", "path": "missing.npz"}}, "dataset.path: no such file"),
    ({"dataset": {"n_train": 0}}, "dataset.n_train: must be >= 1"),
    ({"seed": -1}, "seed: must be >= 0"),
    ({"seed": 2**40}, "seed: must be <= 4294967295"),
    ({"space": {"filters": {"type": "int", "low": 4, "high": 10**30}}}, r"space: .*filters.*within \+-2\*\*53"),
    (
        {"strategy": {"name": "ga", "settings": {"population_size": "ten"}}},
        "strategy.settings.population_size: must be an integer; received 'ten'",
    ),
    (
        {"strategy": {"name": "ga", "settings": {"crossover_prob": "high"}}},
        "strategy.settings.crossover_prob: must be a number",
    ),
    (
        {"strategy": {"name": "tpe", "settings": {"constant_liar": "yes"}}},
        "strategy.settings.constant_liar: must be true or false",
    ),
    ({"space\n": {}}, r"'space\\n': unknown key"),
    ({"objective": [{"metric": "val_accuracy"}]}, r"objective: a list of objectives needs two or more; received 1"),
    (
        {"objective": [{"metric": "val_accuracy"}, {"metric": "n_params"}]},
        "strategy.name: ga_tpe optimises one objective; the 2 objectives need one of: .*nsga2",
    ),
    (
        {"strategy": {"name": "nsga2"}, "objective": [{"metric": "val_accuracy"}, {"metric": "val_accuracy"}]},
        r"objective\[1\].metric: 'val_accuracy' is already objective\[0\]",
    ),
    (
        {"strategy": {"name": "nsga2"}, "objective": [{"metric": "val_accuracy"}, {"metric": "wobble"}]},
        r"objective\[1\].direction: say whether wobble is to be maximized or minimized",
    ),
    (
        {"strategy": {"name": "nsga2"}, "objective": [{"metric": "val_accuracy"}, {"metric": "n_params", "dir": 1}]},
        r"objective\[1\].dir: unknown key",
    ),
    ({"strategy": {"name": "nsga2"}, "objective": ["val_accuracy", "n_params"]}, r"objective\[0\]: must be a mapping"),
    ({"pruner": "median"}, "pruner: must be a mapping; received str 'median'"),
    (
        {"pruner": {"name": "asha"}},
        "pruner.name: must be one of hyperband, median, successive_halving; received 'asha'",
    ),
    ({"pruner": {"name": "median", "patience": 3}}, "pruner.patience: unknown key; allowed: max_epochs, min_epochs"),
    (
        {"training": {"epochs": 6}, "pruner": {"name": "median", "min_epochs": 5, "max_epochs": 3}},
        r"pruner.min_epochs: must be <= pruner.max_epochs \(3\); received 5",
    ),
    (
        {"training": {"epochs": 4}, "pruner": {"name": "hyperband", "min_epochs": 5}},
        r"pruner.min_epochs: must be <= pruner.max_epochs \(4\); received 5",
    ),
    (
        {"training": {"epochs": 4}, "pruner": {"name": "median", "max_epochs": 9}},
        r"pruner.max_epochs: must be <= training.epochs \(4\)",
    ),
    ({"pruner": {"name": "median", "min_epochs": 0}}, "pruner.min_epochs: must be >= 1; received 0"),
    (
        {"pruner": {"name": "successive_halving", "settings": {"reduction_factor": 1}}},
        "pruner.settings.reduction_factor: must be an integer >= 2; received 1",
    ),
    (
        {"pruner": {"name": "median", "settings": {"eta": 3}}},
        "pruner.settings.eta: is not a setting of the median pruner",
    ),
    (
        {"pruner": {"name": "median", "settings": {"min_epochs": 3}}},
        "pruner.settings.min_epochs: goes in the pruner section",
    ),
    ({"model": {"builder": "resnet"}, "space": {"depth": [19, 20]}}, "space.depth: 19 is refused by resnet: `depth`"),
    (
        {"model": {"builder": "skip_resnet", "fixed": {"gate_reduction": 0}}, "space": {"depth": [20]}},
        "model.fixed: `gate_reduction` must be",
    ),
]


@pytest.mark.parametrize("patch, message", BAD, ids=[m.split(":")[0] for _, m in BAD])
def test_bad_configs_name_the_key(patch, message):
    with pytest.raises(ConfigError, match=message):
        validate_config({**MINIMAL, **patch})


def test_a_pruner_section_is_completed_and_kept_with_the_search():
    config = validate_config({**MINIMAL, "training": {"epochs": 9}, "pruner": {"name": "hyperband"}})
    assert config.search.pruner == {"name": "hyperband", "min_epochs": 1, "max_epochs": 9, "settings": {}}
    assert Config.from_dict(config.to_dict()) == config
    assert validate_config(MINIMAL).search.pruner is None
    assert Config.from_dict({k: v for k, v in config.to_dict().items() if k != "pruner"}).search.pruner is None


def test_a_searched_builder_value_is_refused_only_when_no_combination_accepts_it():
    """ResNeXt's groups need a bottleneck depth: with depth searched over 20 and 50 the search can still
    build groups=32 (at 50), but depth 20 with groups fixed at 32 can never be built."""
    model = {"builder": "resnet", "fixed": {}}
    validate_config({"model": model, "space": {"depth": [20, 50], "groups": [1, 32]}})
    with pytest.raises(ConfigError, match="space.depth: 20 is refused by resnet: `groups`"):
        validate_config({"model": {**model, "fixed": {"groups": 32}}, "space": {"depth": [20, 50]}})
    validate_config({"model": {**model, "fixed": {"groups": 32}}, "space": {"depth": [50, 101]}})


def test_unreadable_files_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "none.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("space: {filters: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML at line"):
        load_config(broken)
    listing = tmp_path / "list.yaml"
    listing.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        load_config(listing)


def _written(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


NOT_TEXT = [
    pytest.param(bytes(range(128, 256)) * 3, "is not a YAML text file \\(invalid UTF-8 at byte 0\\)", id="binary"),
    pytest.param(b"name: caf\xe9\n", "is not a YAML text file \\(invalid UTF-8 at byte 9\\)", id="latin-1"),
    pytest.param(codecs.BOM_UTF16_LE + b"\x00\xd8", "invalid UTF-16", id="broken-utf-16"),
    pytest.param(b"name: a\x00b\n", "is not valid YAML.*special characters are not allowed", id="nul"),
    pytest.param(b"[" * 5000, "config: .*(nested too deeply|not valid YAML)", id="deep"),
]


@pytest.mark.parametrize("data, message", NOT_TEXT)
def test_files_that_are_not_yaml_text_give_one_line_naming_the_file(tmp_path, data, message):
    path = _written(tmp_path, "bad.yaml", data)
    with pytest.raises(ConfigError, match=message) as caught:
        load_config(path)
    assert "\n" not in str(caught.value) and str(path) in str(caught.value)


def test_utf8_and_utf16_with_a_byte_order_mark_are_yaml_and_load_alike(tmp_path):
    text = yaml.safe_dump({**MINIMAL, "name": "café"})
    plain = load_config(_written(tmp_path, "plain.yaml", text.encode("utf-8")))
    for encoding, bom in (
        ("utf-8", codecs.BOM_UTF8),
        ("utf-16-le", codecs.BOM_UTF16_LE),
        ("utf-16-be", codecs.BOM_UTF16_BE),
    ):
        assert load_config(_written(tmp_path, f"{encoding}.yaml", bom + text.encode(encoding))) == plain


def test_a_folder_or_an_unreadable_file_as_the_config(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match=f"config: {tmp_path} is a folder; give a YAML file"):
        load_config(tmp_path)
    path = _written(tmp_path, "locked.yaml", yaml.safe_dump(MINIMAL).encode())

    def denied(self):  # as chmod 000 does for a user (tests may run as root, which reads anything)
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(type(path), "read_bytes", denied)
    with pytest.raises(ConfigError, match=f"config: cannot read {path}: Permission denied"):
        load_config(path)


def test_npz_dataset_path_is_resolved_next_to_the_config(tmp_path):
    np.savez(
        tmp_path / "mine.npz",
        x_train=np.zeros((2, 8, 8, 1)),
        y_train=[0, 1],
        x_val=np.zeros((2, 8, 8, 1)),
        y_val=[0, 1],
    )
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({**MINIMAL, "dataset": {"name": "npz", "path": "mine.npz"}}))
    assert load_config(path).dataset.settings["path"] == str((tmp_path / "mine.npz").resolve())


def test_folder_dataset_checks_its_settings(tmp_path):
    (tmp_path / "images" / "a").mkdir(parents=True)
    base = {**MINIMAL, "dataset": {"name": "folder", "path": str(tmp_path / "images")}}
    config = validate_config(base)
    assert config.to_dict()["dataset"] == {
        "name": "folder",
        "path": str((tmp_path / "images").resolve()),
        "image_size": 96,
        "color_mode": "rgb",
        "validation_split": 0.2,
        "seed": 0,
    }
    for patch, message in (
        ({"validation_split": 1.5}, "dataset.validation_split: must be < 1"),
        ({"color_mode": "cmyk"}, "dataset.color_mode: must be one of rgb, grayscale"),
        ({"image_size": 4}, "dataset.image_size: must be >= 16"),
    ):
        with pytest.raises(ConfigError, match=message):
            validate_config({**base, "dataset": {**base["dataset"], **patch}})


# --------------------------------------------------------------------------- #
# property: no mutation of a valid configuration ends in a traceback
# --------------------------------------------------------------------------- #
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**9), 10**9),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["", "ga", "tpe", "local", "mpi", "folder", "npz", "log", "int", "-1"]),
    st.lists(st.one_of(st.integers(-5, 5), st.text(max_size=4)), max_size=4),
    st.dictionaries(
        st.sampled_from(["type", "low", "high", "log", "step", "values", "x", "name"]),
        st.one_of(st.integers(-5, 5), st.floats(-1, 1), st.text(max_size=4), st.booleans()),
        max_size=4,
    ),
)


# YAML keys need not be strings: `1: x`, `null: x`, `true: x` parse too.
KEYS = st.one_of(st.text(min_size=1, max_size=8), st.integers(-3, 3), st.none(), st.booleans())


def _mappings(tree, path=()):
    """Every (path, mapping) inside a configuration, the root included."""
    if isinstance(tree, dict):
        yield path, tree
        for key, value in tree.items():
            yield from _mappings(value, (*path, key))


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    st.one_of(
        st.binary(max_size=200),
        st.text(max_size=200).map(lambda t: t.encode("utf-8")),
        st.binary(max_size=60).map(lambda b: codecs.BOM_UTF16_LE + b),
    )
)
def test_random_bytes_as_a_config_file_give_a_config_error_or_a_config(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("bytes") / "fuzz.yaml"
    path.write_bytes(data)
    try:
        load_config(path)
    except ConfigError as error:
        message = str(error)
        assert message and "\n" not in message and ": " in message, message


@settings(max_examples=300, deadline=None, derandomize=True)  # derandomized: CI sees the same cases every run
@given(st.data())
def test_random_config_mutations_give_a_config_error_never_a_traceback(data):
    import copy

    config = copy.deepcopy(
        validate_config(
            {
                **MINIMAL,
                "space": {
                    "filters": {"type": "int", "low": 4, "high": 16},
                    "learning_rate": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},
                    "pooling": ["max", "avg"],
                },
            }
        ).to_dict()
    )
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        targets = list(_mappings(config))
        path, mapping = data.draw(st.sampled_from(targets), label="where")
        action = data.draw(st.sampled_from(["replace", "delete", "add"]), label="action")
        if action == "add" or not mapping:
            mapping[data.draw(KEYS, label="new key")] = data.draw(VALUES, label="value")
        else:
            key = data.draw(st.sampled_from(sorted(mapping, key=str)), label="key")
            if action == "delete":
                del mapping[key]
            else:
                mapping[key] = data.draw(VALUES, label="value")
    try:
        valid = validate_config(config).to_dict()
    except ConfigError as error:
        message = str(error)
        assert message and "\n" not in message and ": " in message, message  # "key.path: what is allowed"
        return
    # What validates also starts: the space samples, the strategy proposes, the budget holds.
    from hpo import strategies
    from hpo.loop import Budget
    from hpo.space import Space

    space = Space.from_dict(valid["space"])
    strategy = strategies.get(valid["strategy"]["name"], space, seed=valid["seed"], **valid["strategy"]["settings"])
    assert len(strategy.ask(2)) >= 1
    Budget(**valid["budget"])


def test_a_data_set_of_signed_fields_sets_its_task_settings_and_objective():
    raw = {
        "dataset": {"name": "bathymetry", "n_train": 4, "n_val": 2, "n_test": 2, "tile": 16},
        "model": {"builder": "edsr"},
        "space": {"blocks": {"type": "int", "low": 1, "high": 4}},
    }
    config = validate_config(raw)
    assert config.task == TaskSpec(
        "image_to_image",
        {"loss": "mse", "alpha": 0.84, "max_val": None, "output_activation": None, "particles": False},
    )
    assert config.search.objective == {"metric": "val_rmse", "direction": "minimize"}
    # What the configuration says wins over the data set's settings.
    config = validate_config({**raw, "task": {"loss": "mae"}})
    assert config.task.settings["loss"] == "mae" and config.task.settings["max_val"] is None
    with pytest.raises(ConfigError, match="task: loss='ssim' needs a data range"):
        validate_config({**raw, "task": {"loss": "ssim"}})
