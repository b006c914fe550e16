"""The fitters (python -m rag.fit): the refusal fit's logistic regression recovers known
coefficients, each fitter skips without the real-news data, and a fit rewrites only its own block
of rag/tuning.py."""

import numpy as np

from rag import tuning
from rag.fit import TUNING, write_fitted
from rag.fit.__main__ import main as fit_command
from rag.fit.recency import literal as recency_literal
from rag.fit.recency import main as recency_main
from rag.fit.refusal import fit, literal, main


def test_fit_recovers_the_coefficients_of_a_known_logistic_model():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4000, 2)) * [1.0, 3.0] + [0.5, -1.0]
    y = (rng.random(4000) < 1 / (1 + np.exp(-(0.3 + 2.0 * x[:, 0] - 0.5 * x[:, 1])))).astype(float)
    intercept, coef = fit(x, y, np.ones(len(y)), l2=0.0)
    # classes are weighted to equal total weight, which moves only the intercept
    assert np.allclose(coef, [2.0, -0.5], atol=0.15)
    assert np.isfinite(intercept)


def test_without_the_real_news_data_it_says_so_and_skips(tmp_path, capsys):
    assert main(["--news", str(tmp_path / "absent"), "--cache", str(tmp_path / "cache")]) == 0
    assert capsys.readouterr().out.strip() == f"skipped: no real-news dev data at {tmp_path / 'absent'}"


def test_the_recency_fitter_skips_without_the_data(tmp_path, capsys):
    assert recency_main(["--data", str(tmp_path / "absent")]) == 0
    assert "skipped" in capsys.readouterr().out


def test_the_command_names_its_fitters(capsys):
    assert fit_command([]) == 2
    assert "refusal|recency" in capsys.readouterr().err


def test_a_fit_replaces_only_its_block_with_the_command_data_and_date(tmp_path):
    copy = tmp_path / "tuning.py"
    copy.write_text(TUNING.read_text(encoding="utf-8"), encoding="utf-8")
    model = tuning.Logistic(-1.25, tuple(float(i) for i in range(10)), 0.3)
    write_fitted("refusal", literal("REFUSAL_DATED", model) + literal("REFUSAL_UNDATED", tuning.REFUSAL_UNDATED),
                 "python -m rag.fit refusal", "somewhere", path=copy, when="2030-01-02")
    text = copy.read_text(encoding="utf-8")
    assert "# command: python -m rag.fit refusal\n# data: somewhere\n# date: 2030-01-02\n" in text
    space: dict[str, object] = {}
    exec(compile(text, str(copy), "exec"), space)  # the written module runs and holds the new values
    assert repr(space["REFUSAL_DATED"]) == repr(model)
    assert repr(space["REFUSAL_UNDATED"]) == repr(tuning.REFUSAL_UNDATED)
    assert repr(space["RECENCY_PRIORS"]) == repr(tuning.RECENCY_PRIORS)  # the other fitted block is untouched
    assert _outside("refusal", text) == _outside("refusal", TUNING.read_text(encoding="utf-8"))


def _outside(name: str, text: str) -> str:
    return text[:text.index(f"# >>> fitted {name}")] + text[text.index(f"# <<< fitted {name}"):]


def test_the_shipped_values_are_what_the_fitters_write():
    """rag/tuning.py's refusal block is in the fitter's own format, so a refit changes numbers only."""
    text = TUNING.read_text(encoding="utf-8")
    for name in ("REFUSAL_DATED", "REFUSAL_UNDATED"):
        assert "\n".join(literal(name, getattr(tuning, name))) in text
    assert "\n".join(recency_literal(tuning.RECENCY_PRIORS)) in text
