"""The CLI explains itself: help for every flag, choices for every enum, --print-config, --version, TOML tables."""
import argparse
import dataclasses

import pytest

from gan.cli import _parser, main
from gan.config import TrainConfig, _choices, config_from_args, load_toml


def _actions(command):
    return [a for a in _parser().commands[command]._actions if a.option_strings and a.dest != "help"]


@pytest.mark.parametrize("command", ["train", "sample", "eval", "compare"])
def test_every_flag_has_help(command):
    missing = [a.option_strings[0] for a in _actions(command) if not (a.help or "").strip()]
    assert not missing, missing


def test_every_enum_field_has_choices_matching_validate():
    by_dest = {a.dest: a for a in _actions("train")}
    for name, options in _choices().items():
        assert list(by_dest[name].choices) == list(options), name
        TrainConfig(**{name: options[-1]})  # the last choice is a value the dataclass takes
    # and validate() accepts exactly these: a value outside is refused there too (API users get the same rule)
    for name in ("model", "conditional", "mine_code", "mine_critic", "unrolled_optimizer", "compile_backend"):
        with pytest.raises(ValueError, match=name):
            TrainConfig(**{name: "nope"}).validate()


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and "divkit" in capsys.readouterr().out


def test_print_config_round_trips_through_config(tmp_path, capsys):
    assert main(["train", "--divergence", "js", "--preset", "ttur", "--betas-g", "0.1", "0.8", "--print-config",
                 "--out", str(tmp_path / "never")]) == 0
    text = capsys.readouterr().out
    (tmp_path / "c.toml").write_text(text)
    again = config_from_args(_parser().parse_args(["train", "--config", str(tmp_path / "c.toml")])).validate()
    first = config_from_args(_parser().parse_args(["train", "--divergence", "js", "--preset", "ttur", "--betas-g",
                                                   "0.1", "0.8", "--out", str(tmp_path / "never")])).validate()
    assert dataclasses.asdict(again) == dataclasses.asdict(first)
    assert not (tmp_path / "never").exists()  # printing the config trains nothing and creates no folder


def test_toml_tables_group_keys_and_comments_after_strings(tmp_path):
    (tmp_path / "c.toml").write_text('divergence = "kl"  # a comment after a string\n[model]\nhidden = 8\n'
                                     '[optim]\nlr_d = 1e-3\nbetas_g = [0.0, 0.9]\n')
    d = load_toml(tmp_path / "c.toml")
    assert d == {"divergence": "kl", "hidden": 8, "lr_d": 1e-3, "betas_g": [0.0, 0.9]}


def test_argparse_choice_normalises_data_names():
    args = _parser().parse_args(["train", "--data", "Fashion-MNIST"])
    assert args.data == "fashion_mnist"
    with pytest.raises(argparse.ArgumentTypeError, match="did you mean 'grid25'"):
        [a for a in _actions("train") if a.dest == "data"][0].type("grid52")
