"""TF Serving's text-format config files: what they may say, and the errors for what they may not."""

from __future__ import annotations

from pathlib import Path

import pytest

from fusejit.serve.config import (
    BatchingParameters,
    ConfigError,
    VersionPolicy,
    load_batching_parameters,
    load_model_config,
)
from fusejit.serve.textproto import TextFormatError, parse


def test_text_format_values_comments_and_repetition() -> None:
    msg = parse("# comment\na: 1 b: -2.5e3 c: 'x\\'y' \"z\" d: true e { f: 0x10 f: 007 } g < h: ENUM >; i: {}\n")
    assert msg == {"a": [1], "b": [-2500.0], "c": ["x'yz"], "d": [True], "e": [{"f": [16, 7]}],
                   "g": [{"h": ["ENUM"]}], "i": [{}]}
    with pytest.raises(TextFormatError, match=r"<text>:2: missing '}'"):
        parse("a {\n b: 1")
    with pytest.raises(TextFormatError, match=r"<text>:1: unexpected character '\$'"):
        parse("a: $")


def test_batching_parameters_file(tmp_path: Path) -> None:
    f = tmp_path / "batching.txt"
    f.write_text("max_batch_size { value: 64 }\nbatch_timeout_micros { value: 2000 }\n"
                 "num_batch_threads { value: 3 }\nmax_enqueued_batches { value: 100 }\n"
                 "allowed_batch_sizes: 8\nallowed_batch_sizes: 64\npad_variable_length_inputs: true\n")
    p = load_batching_parameters(f)
    assert p == BatchingParameters(64, 2000, 3, 100, (8, 64), True)
    assert [p.padded(n) for n in (1, 8, 9, 64)] == [8, 8, 64, 64]
    for text, message in [("max_batch_sise { value: 3 }", "unknown field 'max_batch_sise'"),
                          ("max_batch_size { value: 8 } allowed_batch_sizes: 4", "must equal max_batch_size"),
                          ("max_batch_size { value: 8 } allowed_batch_sizes: 8 allowed_batch_sizes: 4",
                           "positive and increasing"),
                          ("num_batch_threads { value: 0 }", "num_batch_threads must be at least 1"),
                          ("max_batch_size { value: 'x' }", "must be a int"),
                          ("enable_large_batch_splitting: true", "not supported")]:
        f.write_text(text)
        with pytest.raises(ConfigError, match=message):
            load_batching_parameters(f)
    with pytest.raises(ConfigError, match="cannot read"):
        load_batching_parameters(tmp_path / "missing.txt")


def test_model_config_file(tmp_path: Path) -> None:
    f = tmp_path / "models.config"
    f.write_text("model_config_list {\n config { name: 'a' base_path: '/m/a' model_platform: 'tensorflow' }\n"
                 " config { name: 'b' base_path: 'rel/b'\n"
                 "   model_version_policy { specific { versions: 3 versions: 5 } } }\n"
                 " config { name: 'c' base_path: '/m/c' model_version_policy { latest { num_versions: 2 } } }\n}\n")
    a, b, c = load_model_config(f)
    assert (a.name, str(a.base_path), a.policy) == ("a", "/m/a", VersionPolicy())
    assert b.base_path == tmp_path / "rel" / "b"
    assert b.policy.choose([1, 3, 4, 5]) == [3, 5] and c.policy.choose([1, 3, 4]) == [3, 4]
    assert a.policy.choose([2, 10, 9]) == [10] and VersionPolicy("all").choose([2, 1]) == [1, 2]
    for text, message in [("model_config_list { config { name: 'a' } }", "needs both name and base_path"),
                          ("model_config_list { config { name: 'a' base_path: '/x' } "
                           "config { name: 'a' base_path: '/y' } }", "configured twice"),
                          ("model_config_list { config { name: 'a' base_path: '/x' model_platform: 'onnx' } }",
                           "model_platform 'onnx' is not served"),
                          ("model_config_list { config { name: 'a' base_path: '/x' "
                           "model_version_policy { latest {} all {} } } }", "exactly one of"),
                          ("model_config_list { }", "no models configured"),
                          ("model_config_list { config { nam: 'a' } }", "unknown field 'nam'")]:
        f.write_text(text)
        with pytest.raises(ConfigError, match=message):
            load_model_config(f)
