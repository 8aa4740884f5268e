"""Every floating-point flag of every command refuses NaN and infinities, with a message
that names the flag (minplt/flags.py). The parsers are built as the command line builds
them (cli.build_parser), so a flag added later is checked too."""
import argparse

import pytest

from minplt import cli, flags

FLOAT_TYPES = (float, flags.finite_float, flags.positive_float, flags.nonnegative_float,
               flags.probability)

# Commands whose modules another part of the project owns: a plain `type=float` there is
# reported, not failed on, until that module moves to minplt/flags.py.
OWNERS = {"train": "minplt/train.py", "hops": "minplt/hops.py", "bench": "minplt/bench.py"}


def subparsers() -> dict:
    parser = cli.build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def float_options() -> list:
    """(command, option string, its type) of every float-like option."""
    found = []
    for command, parser in subparsers().items():
        for action in parser._actions:
            if action.option_strings and action.type in FLOAT_TYPES:
                found.append((command, action.option_strings[0], action.type))
    return found


def cases():
    for command, option, kind in float_options():
        marks = []
        if kind is float:
            marks = [pytest.mark.xfail(
                reason=f"{OWNERS.get(command, 'minplt/' + command + '.py')} declares {option} "
                       "with type=float, which takes 'nan' and 'inf': it should use "
                       "minplt/flags.py", strict=False)]
        yield pytest.param(command, option, id=f"{command} {option}", marks=marks)


def test_the_walk_finds_the_float_flags():
    options = {(command, option) for command, option, _ in float_options()}
    assert ("sample", "--temperature") in options
    assert ("train", "--lr") in options


@pytest.mark.parametrize("command, option", list(cases()))
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "NaN"])
def test_float_flags_refuse_nan_and_infinities(command, option, value, capsys):
    parser = subparsers()[command]
    positionals = ["x" for a in parser._actions if not a.option_strings and a.required]
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args([*positionals, f"{option}={value}"])   # "-inf" is no flag
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}" in err and value in err


def test_sample_temperature_keeps_its_range(capsys):
    parser = subparsers()["sample"]
    assert parser.parse_args(["ckpt.npz", "--temperature", "0.7"]).temperature == 0.7
    with pytest.raises(SystemExit):
        parser.parse_args(["ckpt.npz", "--temperature", "-1"])
    assert "--temperature: must be a number >= 0" in capsys.readouterr().err
